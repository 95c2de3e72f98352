"""EC2's account switches that moto 5.2.5 lacks: VPC Block Public Access, and the EBS snapshot and AMI
block-public-access switches.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). Added operations, each following its EC2 API reference page
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_<Operation>.html):
- DescribeVpcBlockPublicAccessOptions, ModifyVpcBlockPublicAccessOptions
- CreateVpcBlockPublicAccessExclusion, DescribeVpcBlockPublicAccessExclusions,
  DeleteVpcBlockPublicAccessExclusion
- GetSnapshotBlockPublicAccessState, EnableSnapshotBlockPublicAccess, DisableSnapshotBlockPublicAccess
- GetImageBlockPublicAccessState, EnableImageBlockPublicAccess, DisableImageBlockPublicAccess

What it models:
- State per account and region, kept on moto's EC2 backend, so `POST /moto-api/reset` clears it.
- Every switch starts as a new account's does: VPC BPA mode `off` in state `default-state`, exclusions
  `allowed`, snapshots and images `unblocked`; `ManagedBy` is always `account` (no declarative policies).
- VPC BPA changes take effect asynchronously on AWS ("update-in-progress", then "update-complete"). Here
  the first describe after a change reports it in progress and completes it, so a caller must poll. The
  mode itself reads back as set at once. Exclusions go the same way: `create-in-progress` then
  `create-complete`, `delete-in-progress` then `delete-complete`; deleted exclusions stay listed.
- The quota of 50 exclusions per account and Region (Amazon VPC quotas,
  https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), answered with
  `ResourceLimitExceeded`, EC2's general quota error (the API reference names no code of its own).
- DryRun on every operation (DryRunOperation).
- Unknown VPCs and subnets (moto's own NotFound errors); unknown exclusion ids
  (InvalidVpcBlockPublicAccessExclusionId.NotFound, a code of our own making).

What it leaves out: filters on DescribeVpcBlockPublicAccessExclusions (refused, so a caller relying on them
notices), paging (everything in one page), ModifyVpcBlockPublicAccessExclusion, declarative policies and
`ExclusionsAllowed: not-allowed`, and any effect on traffic (moto has none to affect). The snapshot and
image switches have no effect either: moto's ModifySnapshotAttribute and ModifyImageAttribute still make a
snapshot or AMI public while they block (AWS refuses), so that refusal is tested with mocks.
"""

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response
from moto.ec2.utils import random_id

EXCLUSIONS_PER_REGION = 50
BLOCK_MODES = ("off", "block-bidirectional", "block-ingress")
EXCLUSION_MODES = ("allow-bidirectional", "allow-egress")
SNAPSHOT_STATES = ("block-all-sharing", "block-new-sharing")
GONE = ("delete-in-progress", "delete-complete")


class _Switches:
    """One account's switches in one region."""

    def __init__(self, account_id, region):
        self.account_id = account_id
        self.region = region
        self.mode = "off"
        self.state = "default-state"
        self.updated = None
        self.exclusions = {}
        self.snapshot_state = "unblocked"
        self.image_state = "unblocked"

    def options(self):
        options = {
            "AwsAccountId": self.account_id,
            "AwsRegion": self.region,
            "State": self.state,
            "InternetGatewayBlockMode": self.mode,
            "ManagedBy": "account",
            "ExclusionsAllowed": "allowed",
        }
        if self.updated is not None:
            options["LastUpdateTimestamp"] = self.updated
        return options


def _switches(response):
    backend = response.ec2_backend
    switches = getattr(backend, "_hikkonuki_block_public_access", None)
    if switches is None:
        switches = _Switches(response.current_account, response.region)
        backend._hikkonuki_block_public_access = switches
    return switches


def _invalid(name, value, allowed):
    return EC2ClientError(
        "InvalidParameterValue",
        f"Value ({value}) for parameter {name} is invalid. Valid values: {', '.join(allowed)}",
    )


def _settle(exclusion):
    """An exclusion's asynchronous step, taken when it is next described."""
    step = {"create-in-progress": "create-complete", "delete-in-progress": "delete-complete"}
    if exclusion["State"] in step:
        exclusion["State"] = step[exclusion["State"]]
        exclusion["LastUpdateTimestamp"] = utcnow()


def describe_vpc_block_public_access_options(self):
    self.error_on_dryrun()
    switches = _switches(self)
    options = switches.options()
    if switches.state == "update-in-progress":
        switches.state = "update-complete"
    return ActionResult({"VpcBlockPublicAccessOptions": options})


def modify_vpc_block_public_access_options(self):
    self.error_on_dryrun()
    mode = self._get_param("InternetGatewayBlockMode")
    if mode not in BLOCK_MODES:
        raise _invalid("InternetGatewayBlockMode", mode, BLOCK_MODES)
    switches = _switches(self)
    switches.mode = mode
    switches.state = "update-in-progress"
    switches.updated = utcnow()
    return ActionResult({"VpcBlockPublicAccessOptions": switches.options()})


def create_vpc_block_public_access_exclusion(self):
    self.error_on_dryrun()
    mode = self._get_param("InternetGatewayExclusionMode")
    if mode not in EXCLUSION_MODES:
        raise _invalid("InternetGatewayExclusionMode", mode, EXCLUSION_MODES)
    vpc_id = self._get_param("VpcId")
    subnet_id = self._get_param("SubnetId")
    if bool(vpc_id) == bool(subnet_id):
        raise EC2ClientError(
            "InvalidParameterCombination", "Specify exactly one of VpcId and SubnetId."
        )
    if vpc_id:
        self.ec2_backend.get_vpc(vpc_id)
        resource = f"vpc/{vpc_id}"
    else:
        self.ec2_backend.get_subnet(subnet_id)
        resource = f"subnet/{subnet_id}"
    switches = _switches(self)
    live = [e for e in switches.exclusions.values() if e["State"] not in GONE]
    if len(live) >= EXCLUSIONS_PER_REGION:
        raise EC2ClientError(
            "ResourceLimitExceeded",
            f"You have reached the limit of {EXCLUSIONS_PER_REGION} VPC Block Public Access exclusions.",
        )
    tags = self._parse_tag_specification().get("vpc-block-public-access-exclusion", {})
    now = utcnow()
    exclusion = {
        "ExclusionId": random_id(prefix="vpcbpa-exclude", size=17),
        "InternetGatewayExclusionMode": mode,
        "ResourceArn": f"arn:aws:ec2:{self.region}:{self.current_account}:{resource}",
        "State": "create-in-progress",
        "CreationTimestamp": now,
        "LastUpdateTimestamp": now,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    switches.exclusions[exclusion["ExclusionId"]] = exclusion
    return ActionResult({"VpcBlockPublicAccessExclusion": dict(exclusion)})


def describe_vpc_block_public_access_exclusions(self):
    self.error_on_dryrun()
    if self._get_param("Filters") or self._get_param("Filter"):
        raise EC2ClientError(
            "InvalidParameterValue",
            "Filters are not part of hikkonuki's model of this operation (tests/emulator/aws_model).",
        )
    ids = self._get_param("ExclusionIds") or self._get_param("ExclusionId") or []
    switches = _switches(self)
    unknown = [i for i in ids if i not in switches.exclusions]
    if unknown:
        raise EC2ClientError(
            "InvalidVpcBlockPublicAccessExclusionId.NotFound",
            f"The exclusion ID '{unknown[0]}' does not exist",
        )
    chosen = [switches.exclusions[i] for i in ids] if ids else list(switches.exclusions.values())
    described = [dict(e) for e in chosen]
    for exclusion in chosen:
        _settle(exclusion)
    return ActionResult({"VpcBlockPublicAccessExclusions": described})


def delete_vpc_block_public_access_exclusion(self):
    self.error_on_dryrun()
    exclusion_id = self._get_param("ExclusionId")
    exclusion = _switches(self).exclusions.get(exclusion_id)
    if exclusion is None or exclusion["State"] in GONE:
        raise EC2ClientError(
            "InvalidVpcBlockPublicAccessExclusionId.NotFound",
            f"The exclusion ID '{exclusion_id}' does not exist",
        )
    now = utcnow()
    exclusion.update(
        {"State": "delete-in-progress", "LastUpdateTimestamp": now, "DeletionTimestamp": now}
    )
    return ActionResult({"VpcBlockPublicAccessExclusion": dict(exclusion)})


def get_snapshot_block_public_access_state(self):
    self.error_on_dryrun()
    return ActionResult({"State": _switches(self).snapshot_state, "ManagedBy": "account"})


def enable_snapshot_block_public_access(self):
    self.error_on_dryrun()
    state = self._get_param("State")
    if state not in SNAPSHOT_STATES:
        raise _invalid("State", state, SNAPSHOT_STATES)
    _switches(self).snapshot_state = state
    return ActionResult({"State": state})


def disable_snapshot_block_public_access(self):
    self.error_on_dryrun()
    _switches(self).snapshot_state = "unblocked"
    return ActionResult({"State": "unblocked"})


def get_image_block_public_access_state(self):
    self.error_on_dryrun()
    return ActionResult(
        {"ImageBlockPublicAccessState": _switches(self).image_state, "ManagedBy": "account"}
    )


def enable_image_block_public_access(self):
    self.error_on_dryrun()
    state = self._get_param("ImageBlockPublicAccessState")
    if state != "block-new-sharing":
        raise _invalid("ImageBlockPublicAccessState", state, ("block-new-sharing",))
    _switches(self).image_state = state
    return ActionResult({"ImageBlockPublicAccessState": state})


def disable_image_block_public_access(self):
    self.error_on_dryrun()
    _switches(self).image_state = "unblocked"
    return ActionResult({"ImageBlockPublicAccessState": "unblocked"})


OPERATIONS = [
    describe_vpc_block_public_access_options,
    modify_vpc_block_public_access_options,
    create_vpc_block_public_access_exclusion,
    describe_vpc_block_public_access_exclusions,
    delete_vpc_block_public_access_exclusion,
    get_snapshot_block_public_access_state,
    enable_snapshot_block_public_access,
    disable_snapshot_block_public_access,
    get_image_block_public_access_state,
    enable_image_block_public_access,
    disable_image_block_public_access,
]


def install():
    """Adds the operations to moto's EC2 responses (moto dispatches by the action's snake_case name)."""
    for operation in OPERATIONS:
        if hasattr(EC2Response, operation.__name__):
            raise RuntimeError(
                f"moto now implements {operation.__name__}: drop it from hikkonuki's model"
            )
        setattr(EC2Response, operation.__name__, operation)
