#!/usr/bin/env bash
# The whole flow on the emulator: install moto, start it on loopback, seed a small leaky account, then
# plan → apply → restore with hikkonuki, show what happened, and stop the emulator.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/emulator.sh

ensure_moto
echo "== building hikkonuki and the seeder"
cargo build --quiet --bins --examples
bin="$CARGO_TARGET_DIR/debug"

trap stop_emulator EXIT
start_emulator
echo "== emulator (moto) listening at $AWS_ENDPOINT_URL"

work=.demo
rm -rf "$work" && mkdir -p "$work"
use_test_credentials "$work"

echo "== seeding a leaky account"
"$bin/examples/seed_leaky_account" us-east-1 eu-west-1

echo; echo "== hikkonuki plan"
"$bin/hikkonuki" plan --regions us-east-1,eu-west-1 --keep-cidr 203.0.113.0/24 --out "$work/plan.yaml"

echo; echo "== hikkonuki apply --yes"
# Progress lines (one per cut, with its time) go to stderr; keep them in the log too.
"$bin/hikkonuki" apply "$work/plan.yaml" --yes 2>&1 | tee "$work/apply.log"

echo; echo "== each region sealed first by VPC Block Public Access: the time it took, per region"
grep -E '(^| )cut +vpc_block_public_access/' "$work/apply.log" || echo "(no region was sealed by VPC Block Public Access)"

echo; echo "== after apply, a fresh plan finds only cuts proposed disabled: irreversible, refused by AWS, or already in place (hikkonuki's own deny policies)"
"$bin/hikkonuki" plan --regions us-east-1,eu-west-1 --keep-cidr 203.0.113.0/24 --out "$work/after-apply.yaml" | tail -n 3

echo; echo "== someone undoes two cuts behind the tool's back: ci-deploy's key made active again, SSH re-opened on the bastion"
"$HIKKONUKI_VENV/bin/python" - <<'PY'
import boto3
iam = boto3.client("iam", region_name="us-east-1")
keys = iam.list_access_keys(UserName="ci-deploy")["AccessKeyMetadata"]
key = next(k for k in keys if k["Status"] == "Inactive")
iam.update_access_key(UserName="ci-deploy", AccessKeyId=key["AccessKeyId"], Status="Active")
ec2 = boto3.client("ec2", region_name="us-east-1")
group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["bastion"]}])["SecurityGroups"][0]
ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{
    "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary: vendor access"}]}])
PY

echo; echo "== hikkonuki watch --once: what no longer holds (exit 2 when something reopened)"
"$bin/hikkonuki" watch "$work/plan.rollback.yaml" --once 2>&1 | grep -v '^ *$' || true

echo; echo "== hikkonuki watch --once --recut: the key (back exactly as before the cut) and the SSH rule (re-authorized as it was, under a new rule ID) are cut again, journaled in the rollback file; exit 0: nothing left open"
"$bin/hikkonuki" watch "$work/plan.rollback.yaml" --once --recut 2>&1 | grep -E 'REOPENED|cut again|in force|changed ' || true

echo; echo "== hikkonuki restore --yes"
"$bin/hikkonuki" restore "$work/plan.rollback.yaml" --yes

echo; echo "== after restore, a fresh plan proposes the same cuts again; the session revocations restore kept (see above) stay in place, so they are proposed disabled"
"$bin/hikkonuki" plan --regions us-east-1,eu-west-1 --keep-cidr 203.0.113.0/24 --out "$work/after-restore.yaml" | tail -n 3

echo; echo "== the rollback file, as an incident timeline (hikkonuki show)"
"$bin/hikkonuki" show "$work/plan.rollback.yaml"

echo; echo "== an organization in one run: this account becomes the management account of an organization with two member accounts, each seeded leaky through the role Organizations creates"
members="$("$bin/examples/seed_leaky_account" --organization 2 us-east-1 | sed -n 's/^members: //p')"
first="${members%%,*}"
echo "members: $members"

echo; echo "== hikkonuki plan --accounts (both members), quarantining and fencing the first from the management account"
"$bin/hikkonuki" plan --regions us-east-1 --accounts "$members" --quarantine "$first" --resource-perimeter "$first" \
    --keep-cidr 203.0.113.0/24 --out "$work/org.yaml" | sed -n '/^Cuts per account and kind/,$p'

echo; echo "== hikkonuki apply: one review, one confirmation, one rollback file per account"
"$bin/hikkonuki" apply "$work/org.yaml" --yes 2>/dev/null | sed -n '/^Account /p;/^Apply finished/,$p'
ls "$work/org.rollback"

echo; echo "== hikkonuki restore of the directory: every account, each in the account its file names"
"$bin/hikkonuki" restore "$work/org.rollback" --yes 2>/dev/null | sed -n '/^Account /p;/^Restore finished/p'
echo; echo "Done. The plan and rollback file are in $work/; the emulator is stopped."
