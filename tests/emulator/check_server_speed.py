"""Checks that server_speed.py changes no answer: its DescribeSecurityGroupRules by group gives the same
rules, in the same order, as moto's own, for one group, two, a group that does not exist, a group-id
filter combined with another filter, and a malformed id (refused as moto refuses it). Run by the
integration tests (security_groups::) with the emulator's Python; exits non-zero on any difference."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.backends import get_backend  # noqa: E402
from moto.ec2.models.security_groups import SecurityGroupBackend  # noqa: E402

moto_own = SecurityGroupBackend.describe_security_group_rules

import server_speed  # noqa: E402

server_speed.install()
faster = SecurityGroupBackend.describe_security_group_rules
assert faster is not moto_own, "server_speed did not replace describe_security_group_rules"


def summary(rules):
    return [(r.id, r.group_id, r.ip_protocol, r.from_port, r.to_port, r.is_egress) for r in rules]


with mock_aws():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    groups = []
    for n in range(4):
        group = ec2.create_security_group(GroupName=f"g{n}", Description="d", VpcId=vpc)["GroupId"]
        groups.append(group)
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22 + n, "ToPort": 22 + n, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            ],
        )
    backend = get_backend("ec2")["123456789012"]["us-east-1"]
    some_rule = summary(moto_own(backend, [], {"group-id": [groups[2]]}))[0][0]
    cases = [
        {"group-id": [groups[1]]},
        {"group-id": [groups[0], groups[3]]},
        {"group-id": [groups[2]], "security-group-rule-id": [some_rule]},
        {"group-id": ["sg-00000000"]},
    ]
    for filters in cases:
        expected = summary(moto_own(backend, [], {k: list(v) for k, v in filters.items()}))
        got = summary(faster(backend, [], {k: list(v) for k, v in filters.items()}))
        if expected != got:
            sys.exit(f"different answer for {filters}:\n  moto: {expected}\n  ours: {got}")
    if not summary(faster(backend, [], {"group-id": [groups[1]]})):
        sys.exit("no rule found for a group that has three")
    try:
        ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": ["not-a-group"]}])
        sys.exit("a malformed group id was not refused")
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidGroupId.Malformed":
            sys.exit(f"a malformed group id: {error.response['Error']['Code']}, not InvalidGroupId.Malformed")
print(f"{len(cases)} filters answered as moto answers them")
