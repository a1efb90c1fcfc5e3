#!/usr/bin/env bash
# Installs the system packages the build and tests need, each only when missing, so that a
# fresh machine passes scripts/check.sh and scripts/test.sh. Run by both before cargo.
set -euo pipefail

# The `highs` feature (exact scheduling model on HiGHS) builds HiGHS from source: it needs
# cmake, a C++ compiler and libclang (for bindgen).
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
# libclang itself, not libclang-cpp (which other packages bring along).
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need+=(libclang-dev)
if ((${#need[@]})); then
    echo "installing ${need[*]} (apt)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Adapter tests talk to real protocol peers: python asyncua (OPC UA server), pymodbus (Modbus
# server; pinned: 3.9+ changed the datastore API the peer script uses) and Mosquitto (broker;
# the machine runs one on 127.0.0.1:1883, and the outage test starts its own).
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || {
    echo "installing mosquitto (apt)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends mosquitto
}
if ! python3 -c 'import asyncua, pymodbus, sys; sys.exit(pymodbus.__version__ != "3.8.6")' >/dev/null 2>&1; then
    echo "installing asyncua and pymodbus (pip)"
    python3 -m pip install -q "asyncua==2.1.0" "pymodbus==3.8.6"
fi

# ---------------------------------------------------------------- viewer (twinworks-viewer)
# The viewer's tests render with wgpu on Mesa's CPU Vulkan driver (lavapipe) and open the real
# window on a virtual X server, grabbed with xwd. The viewer itself needs no system packages to
# build: winit and wgpu load X11/Wayland and Vulkan at run time.
viewer_need=()
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || viewer_need+=(mesa-vulkan-drivers)
dpkg -s libvulkan1 >/dev/null 2>&1 || viewer_need+=(libvulkan1)
command -v Xvfb >/dev/null 2>&1 || viewer_need+=(xvfb)
command -v xwd >/dev/null 2>&1 || viewer_need+=(x11-apps)
# What winit's X11 backend loads at run time.
for lib in libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6; do
    dpkg -s "$lib" >/dev/null 2>&1 || viewer_need+=("$lib")
done
if ((${#viewer_need[@]})); then
    echo "installing ${viewer_need[*]} (apt, for the viewer's tests)"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${viewer_need[@]}"
fi
