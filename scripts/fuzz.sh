#!/usr/bin/env bash
# Fuzzes the plan and rollback-file parsers with cargo-fuzz (libFuzzer). Not part of CI: it runs until
# stopped, or for FUZZ_SECONDS per target. Seeds the corpus with the example plan (and the demo's rollback
# file, after ./demo.sh).
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
seconds="${FUZZ_SECONDS:-60}"
mkdir -p fuzz/corpus/plan_parser fuzz/corpus/rollback_parser
cp plans/example.yaml fuzz/corpus/plan_parser/
# A rollback file from the demo, when there is one, gives the rollback parser real entries to mutate.
if [ -f .demo/plan.rollback.yaml ]; then cp .demo/plan.rollback.yaml fuzz/corpus/rollback_parser/; fi
for target in plan_parser rollback_parser; do
    RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" -- -max_total_time="$seconds"
done
