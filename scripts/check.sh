#!/usr/bin/env bash
# Runs exactly what CI runs (.ci/run): formatting, lints, then all tests.
set -euo pipefail
exec bash "$(dirname "$0")/../.ci/run"
