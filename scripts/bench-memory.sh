#!/usr/bin/env bash
# Peak heap of apply and restore at several account sizes, measured with heaptrack: the figures of the
# README's "Memory is not flat" table and of the split into what grows per cut and per region. Each size
# (REGIONSxVPCSxGROUPS) gets a freshly seeded emulator; plan, apply and restore run with --no-pacing
# straight at it, so the run's length does not change what is held. Sizes that share a region count give
# the growth per cut; sizes that differ in regions, the rest. The peak falls while calls are in flight, so
# it moves with their timing (by half a megabyte from one run to the next at 8 regions): each size is
# measured RUNS times (default 3; restore gives the seeded account back each time) and the median shown,
# with the range. Example:
#   scripts/bench-memory.sh 4x3x20,4x6x40,8x2x10,8x4x40
# PROFILE=release measures the optimised build (heaptrack then names no functions: it has no symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/emulator.sh
if ! command -v heaptrack >/dev/null || ! command -v heaptrack_print >/dev/null; then
    echo "bench-memory: needs heaptrack and heaptrack_print (e.g. apt-get install heaptrack)" >&2
    exit 1
fi
sizes="${1:-4x3x20,8x4x40}"
runs="${RUNS:-3}"
ensure_moto
build_profile
bin="$CARGO_TARGET_DIR/$profile/hikkonuki"
seeder="$CARGO_TARGET_DIR/$profile/examples/benchmark"
work="$(mktemp -d)"
trap 'stop_emulator; rm -rf "$work"' EXIT
use_test_credentials "$work"

# The peak heap heaptrack recorded, in bytes.
peak_bytes() {
    heaptrack_print -f "$1" 2>/dev/null | "$HIKKONUKI_VENV/bin/python" -c '
import re, sys
units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
for line in sys.stdin:
    m = re.match(r"peak heap memory consumption: ([\d.]+)([KMG]?)", line)
    if m:
        print(int(float(m.group(1)) * units[m.group(2)]))
        break
else:
    sys.exit("heaptrack_print said no peak")
'
}

rows=()
for size in ${sizes//,/ }; do
    IFS=x read -r regions vpcs groups <<<"$size"
    dir="$work/$size"
    mkdir -p "$dir"
    start_emulator "$dir/emulator.log"
    region_list="$("$seeder" --seed-only --regions "$regions" --vpcs "$vpcs" --groups "$groups")"
    applied=()
    restored=()
    for run in $(seq "$runs"); do
        (
            cd "$dir"
            "$bin" plan --regions "$region_list" --out "plan-$run.yaml" --no-pacing >"plan-$run.log" 2>&1
            heaptrack -o "$dir/apply-$run" "$bin" apply "plan-$run.yaml" --yes --no-pacing >"apply-$run.log" 2>&1
            heaptrack -o "$dir/restore-$run" "$bin" restore "plan-$run.rollback.yaml" --yes --no-pacing \
                >"restore-$run.log" 2>&1
        ) || { echo "bench-memory: $size failed; logs in $dir" >&2; trap - EXIT; stop_emulator; exit 1; }
        applied+=("$(peak_bytes "$dir"/apply-"$run".*zst)")
        restored+=("$(peak_bytes "$dir"/restore-"$run".*zst)")
    done
    stop_emulator
    cuts="$(grep -c '^- id:' "$dir/plan-1.yaml" || true)"
    rows+=("$regions $size $cuts $(IFS=,; echo "${applied[*]} ${restored[*]}")")
    echo "measured $size ($cuts cuts, $runs runs)" >&2
done

printf '%s\n' "${rows[@]}" | "$HIKKONUKI_VENV/bin/python" -c '
import statistics, sys
rows = []
for line in sys.stdin:
    if line.strip():
        regions, size, cuts, applied, restored = line.split()
        rows.append((int(regions), size, int(cuts), [int(b) for b in applied.split(",")],
                     [int(b) for b in restored.split(",")]))
def mb(peaks):
    text = f"{statistics.median(peaks) / 1e6:.2f} MB"
    return text + (f" ({min(peaks) / 1e6:.2f} to {max(peaks) / 1e6:.2f})" if len(peaks) > 1 else "")
print(f"Peak heap ({sys.argv[1]} build, heaptrack, --no-pacing straight at the emulator; median of "
      f"{len(rows[0][3])} run(s), range in brackets)\n")
print("| account | regions | cuts | apply | restore |")
print("|---|---|---|---|---|")
for regions, size, cuts, applied, restored in rows:
    print(f"| {size} | {regions} | {cuts:,} | {mb(applied)} | {mb(restored)} |")
by_regions = {}
for row in rows:
    by_regions.setdefault(row[0], []).append(row)
for regions, same in sorted(by_regions.items()):
    same.sort(key=lambda row: row[2])
    small, large = same[0], same[-1]
    if large[2] > small[2]:
        added = large[2] - small[2]
        grows = lambda i: (statistics.median(large[i]) - statistics.median(small[i])) / added / 1e3
        print(f"\n{regions} regions, {small[1]} to {large[1]}: apply grows {grows(3):.1f} KB a cut, "
              f"restore {grows(4):.1f} KB a cut (medians)")
' "$profile"
