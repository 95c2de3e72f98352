#!/usr/bin/env bash
# Runs the benchmark (examples/benchmark.rs) against a fresh emulator: seeds a scaled leaky account, then
# plan → apply → restore, and prints a table. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --regions 4 --vpcs 3 --groups 20
# Set PROFILE=release for an optimised build (slow to build the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/emulator.sh
ensure_moto
build_profile
trap stop_emulator EXIT
start_emulator
work="$(mktemp -d)"
trap 'stop_emulator; rm -rf "$work"' EXIT
use_test_credentials "$work"
HIKKONUKI_BIN="$CARGO_TARGET_DIR/$profile/hikkonuki" "$CARGO_TARGET_DIR/$profile/examples/benchmark" "$@"
