"""IAM Identity Center (SSO Admin): permission set provisioning as asynchronous requests.

OUR MODEL OF AWS, NOT AWS. moto 5.2.5 answers ProvisionPermissionSet with SUCCEEDED at once, has no
DescribePermissionSetProvisioningStatus, ignores TargetType, and lists a permission set once more in
ListPermissionSetsProvisionedToAccount every time it is provisioned again. This module, for
`identity_center_session_revoke`:

- ProvisionPermissionSet: checks TargetType (AWS_ACCOUNT needs TargetId), provisions as moto does (once
  per permission set), and answers IN_PROGRESS with a RequestId, as an asynchronous request does
  (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html).
- CreateAccountAssignment: also provisions the permission set to the account, as AWS does ("the specified
  permission set will automatically be provisioned to the account",
  https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html).
- DescribePermissionSetProvisioningStatus: the status of that request, SUCCEEDED from the first time it is
  asked; an unknown RequestId is ResourceNotFoundException
  (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_DescribePermissionSetProvisioningStatus.html,
  https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_PermissionSetProvisioningStatus.html).

- One instance per account: moto starts every region with an Identity Center instance, so an account
  would show one in each of its 30-odd regions. AWS allows one instance per account, in the region it
  was enabled in (an organization instance, or one account instance:
  https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-instances.html). Here the
  seeded account has enabled it in us-east-1, the emulator's default region; the other regions have none.

Left out: FAILED requests, ConflictException while another provisioning runs, throttling and the inline
policy's size limits. Those paths are tested with aws-smithy-mocks from the documented answers, in
src/services/trust/identity_center_session_revoke.rs.
"""

import json
from uuid import uuid4

from moto.core.utils import unix_time
from moto.ssoadmin.exceptions import ResourceNotFoundException
from moto.ssoadmin.models import SSOAdminBackend
from moto.ssoadmin.responses import SSOAdminResponse
from moto.core.exceptions import JsonRESTError


class ValidationException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__(error_type="ValidationException", message=message)


def _requests(backend):
    """Provisioning requests of one account and region, by RequestId (reset with the backend)."""
    if not hasattr(backend, "hikkonuki_provisioning_requests"):
        backend.hikkonuki_provisioning_requests = {}
    return backend.hikkonuki_provisioning_requests


def _provision_once(self, instance_arn, permission_set_arn):
    """moto's provisioning, without listing the permission set twice: AWS lists it once per account."""
    permission_set = self._find_permission_set(instance_arn, permission_set_arn)
    for instance in self.instances:
        if instance.instance_arn == instance_arn:
            if permission_set not in instance.provisioned_permission_sets:
                instance.provisioned_permission_sets.append(permission_set)
            return
    raise ResourceNotFoundException(message=f"Could not find Instance {instance_arn}")


_moto_create_account_assignment = SSOAdminBackend.create_account_assignment


def _create_account_assignment(self, instance_arn, target_id, target_type, permission_set_arn, **rest):
    summary = _moto_create_account_assignment(
        self,
        instance_arn=instance_arn,
        target_id=target_id,
        target_type=target_type,
        permission_set_arn=permission_set_arn,
        **rest,
    )
    # moto keeps one account's state per backend: provisioning lists it for the backend's own account.
    if target_type == "AWS_ACCOUNT" and target_id == self.account_id:
        _provision_once(self, instance_arn, permission_set_arn)
    return summary


def provision_permission_set(self):
    instance_arn = self._get_param("InstanceArn")
    permission_set_arn = self._get_param("PermissionSetArn")
    target_type = self._get_param("TargetType")
    target_id = self._get_param("TargetId")
    if target_type not in ("AWS_ACCOUNT", "ALL_PROVISIONED_ACCOUNTS"):
        raise ValidationException(
            "TargetType must be one of AWS_ACCOUNT, ALL_PROVISIONED_ACCOUNTS"
        )
    if target_type == "AWS_ACCOUNT" and not target_id:
        raise ValidationException("TargetId is required for TargetType AWS_ACCOUNT")
    self.ssoadmin_backend.provision_permission_set(
        instance_arn=instance_arn, permission_set_arn=permission_set_arn
    )
    status = {
        "AccountId": target_id if target_type == "AWS_ACCOUNT" else None,
        "CreatedDate": unix_time(),
        "PermissionSetArn": permission_set_arn,
        "RequestId": str(uuid4()),
        "Status": "IN_PROGRESS",
    }
    status = {key: value for key, value in status.items() if value is not None}
    _requests(self.ssoadmin_backend)[status["RequestId"]] = dict(
        status, Status="SUCCEEDED"
    )
    return json.dumps({"PermissionSetProvisioningStatus": status})


def describe_permission_set_provisioning_status(self):
    request_id = self._get_param("ProvisionPermissionSetRequestId")
    status = _requests(self.ssoadmin_backend).get(request_id)
    if status is None:
        raise ResourceNotFoundException(
            message=f"Could not find ProvisionPermissionSetRequest with id {request_id}"
        )
    return json.dumps({"PermissionSetProvisioningStatus": status})


# The region where the emulated account has enabled IAM Identity Center.
INSTANCE_REGION = "us-east-1"

_moto_backend_init = SSOAdminBackend.__init__


def _backend_init(self, region_name, account_id):
    _moto_backend_init(self, region_name, account_id)
    if region_name != INSTANCE_REGION:
        self.instances = []


def install():
    SSOAdminBackend.__init__ = _backend_init
    SSOAdminBackend.provision_permission_set = _provision_once
    SSOAdminBackend.create_account_assignment = _create_account_assignment
    SSOAdminResponse.provision_permission_set = provision_permission_set
    SSOAdminResponse.describe_permission_set_provisioning_status = (
        describe_permission_set_provisioning_status
    )
