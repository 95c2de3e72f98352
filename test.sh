#!/usr/bin/env bash
# Passes the tests: installs moto into a virtualenv if needed; each emulator test starts and stops its own
# emulator on a free loopback port. Ends with one line totalling every test binary.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/emulator.sh

ensure_moto
# The emulator is on loopback, and tests that load a session in-process send their calls through the
# proxy the environment names, as hikkonuki does: a developer's own proxy would not reach it.
unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
