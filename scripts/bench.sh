#!/usr/bin/env bash
# Runs the benchmark (examples/benchmark.rs) against a fresh emulator: seeds a scaled leaky account, then
# plan → apply → restore, and prints a table. Arguments go to the benchmark, e.g.
#   scripts/bench.sh --regions 4 --vpcs 3 --groups 20
# Set PROFILE=release for an optimised build (slow to build the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/emulator.sh
ensure_moto
profile="${PROFILE:-debug}"
if [ "$profile" = release ]; then
    cargo build --quiet --release --bins --examples
else
    cargo build --quiet --bins --examples
fi
trap stop_emulator EXIT
start_emulator
work="$(mktemp -d)"
trap 'stop_emulator; rm -rf "$work"' EXIT
: >"$work/aws-config"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-config" AWS_EC2_METADATA_DISABLED=true
HIKKONUKI_BIN="$CARGO_TARGET_DIR/$profile/hikkonuki" "$CARGO_TARGET_DIR/$profile/examples/benchmark" "$@"
