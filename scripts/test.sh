#!/usr/bin/env bash
# Runs every test of every crate with all features: the one test command (README, CI).
# It first installs what the tests need on a fresh machine (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The MQTT tests talk to a broker on 127.0.0.1:1883. When none is running (a fresh machine
# without the service), start our own for this run, on loopback only, and stop it afterwards.
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    conf=$(mktemp)
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > "$conf"
    "$mosq" -c "$conf" > /dev/null 2>&1 &
    mosq_pid=$!
    trap 'kill "$mosq_pid" 2>/dev/null; rm -f "$conf"' EXIT
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break
        sleep 0.1
    done
    echo "started mosquitto on 127.0.0.1:1883 for the tests (pid $mosq_pid)"
fi
cargo test --workspace --all-features --locked
