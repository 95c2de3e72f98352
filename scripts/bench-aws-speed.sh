#!/usr/bin/env bash
# The benchmark under AWS's limits (issue 16): hikkonuki (pacing on, its defaults) and Cloud Custodian
# (PyPI c7n, scripts/custodian-policy.yml) in one run, each on a freshly seeded emulator behind
# scripts/aws_speed_proxy.py, our model of AWS's request budgets and latency. Prints a table with the
# lower bound for hikkonuki's apply beside its time. Arguments go to scripts/bench_aws_speed.py, e.g.
#   scripts/bench-aws-speed.sh --sizes 4x3x20,8x4x40 [--latency-ms 60] [--skip-custodian]
# HIKKONUKI_BIN overrides the binary measured (e.g. an older build, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/emulator.sh
ensure_moto
C7N_VENV="${C7N_VENV:-$HIKKONUKI_CACHE/c7n-venv}"
if [ ! -x "$C7N_VENV/bin/custodian" ]; then
    python3 -m venv "$C7N_VENV"
    "$C7N_VENV/bin/pip" install --quiet --disable-pip-version-check c7n
fi
cargo build --quiet --bins --examples
exec "$HIKKONUKI_VENV/bin/python" scripts/bench_aws_speed.py \
    --bin "${HIKKONUKI_BIN:-$CARGO_TARGET_DIR/debug/hikkonuki}" \
    --benchmark "$CARGO_TARGET_DIR/debug/examples/benchmark" \
    --python "$HIKKONUKI_VENV/bin/python" --c7n-venv "$C7N_VENV" "$@"
