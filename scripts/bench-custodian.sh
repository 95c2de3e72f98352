#!/usr/bin/env bash
# Side by side on the same scaled account in the emulator: Cloud Custodian (PyPI c7n) with its closest
# policies (scripts/custodian-policy.yml), then hikkonuki plan + apply, each on a freshly seeded emulator.
# Arguments go to the seeder, e.g. --regions 4 --vpcs 3 --groups 20.
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
bin="$CARGO_TARGET_DIR/debug"
work="$(mktemp -d)"
trap 'stop_emulator; rm -rf "$work"' EXIT
use_test_credentials "$work"

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# Rules still open to the world (0.0.0.0/0 or ::/0) in the seeded regions, read straight from the emulator.
count_open_rules() {
    "$HIKKONUKI_VENV/bin/python" - "$AWS_ENDPOINT_URL" "$regions" <<'PY'
import sys, boto3
endpoint, regions = sys.argv[1], sys.argv[2].split(",")
open_rules = 0
for region in regions:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region)
    for rule in ec2.describe_security_group_rules()["SecurityGroupRules"]:
        if rule.get("CidrIpv4") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
            open_rules += 1
print(open_rules)
PY
}

start_emulator
regions="$("$bin/examples/benchmark" --seed-only "$@")"
region_flags=()
for r in ${regions//,/ }; do region_flags+=(--region "$r"); done
t0=$(now)
"$C7N_VENV/bin/custodian" run --cache-period 0 -s "$work/c7n-out" "${region_flags[@]}" scripts/custodian-policy.yml >"$work/c7n.log" 2>&1 || { cat "$work/c7n.log" >&2; exit 1; }
t1=$(now)
custodian_time=$(elapsed "$t0" "$t1")
custodian_left=$(count_open_rules)
stop_emulator

start_emulator
"$bin/examples/benchmark" --seed-only "$@" >/dev/null
# The emulator builds each service's backend per region on first use (seconds; AWS has no such cost), and
# hikkonuki reads a dozen services where Custodian's policy reads only EC2: warm it up, unmeasured.
(cd "$work" && "$bin/hikkonuki" plan --regions "$regions" --out warm-up.yaml --no-pacing >/dev/null 2>&1)
t0=$(now)
(cd "$work" && "$bin/hikkonuki" plan --regions "$regions" --out plan.yaml --no-pacing >/dev/null 2>&1)
t1=$(now)
(cd "$work" && "$bin/hikkonuki" apply plan.yaml --yes --no-pacing >"$work/apply.log" 2>&1)
t2=$(now)
hikkonuki_left=$(count_open_rules)
stop_emulator

echo "| tool | wall time | open rules left | restorable |"
echo "|---|---|---|---|"
echo "| Cloud Custodian $("$C7N_VENV/bin/pip" show c7n 2>/dev/null | awk '/^Version/ {print $2}') (security groups only) | ${custodian_time} s | ${custodian_left} | no |"
echo "| hikkonuki plan + apply (every kind) | $(elapsed "$t0" "$t2") s (plan $(elapsed "$t0" "$t1") s, apply $(elapsed "$t1" "$t2") s) | ${hikkonuki_left} | yes |"
