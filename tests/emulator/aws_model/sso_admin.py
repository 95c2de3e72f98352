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

- Whether each account carries the permission set's latest version: moto ignores ProvisioningStatus and
  lists every account the permission set is provisioned to whatever is asked. AWS does not provision an
  edit by itself ("If the permission set is subsequently updated, the corresponding IAM policies attached
  to roles in your accounts will not be updated automatically. In this case, you must call
  ProvisionPermissionSet", API_CreateAccountAssignment.html), and
  ListAccountsForProvisionedPermissionSet filters on ProvisioningStatus
  `LATEST_PERMISSION_SET_PROVISIONED` | `LATEST_PERMISSION_SET_NOT_PROVISIONED`
  (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListAccountsForProvisionedPermissionSet.html).
  Here every write to a permission set's definition (inline policy, managed policies, customer managed
  policy references, session duration and the rest of UpdatePermissionSet) leaves it out of date in every
  account it is provisioned to, whatever the write changed (our assumption: AWS does not document how it
  compares versions), and provisioning it (or an assignment, which provisions) brings it up to date.
  moto keeps one account per backend, so "every account" is the backend's own.
- One instance per account: moto starts every region with an Identity Center instance, so an account
  would show one in each of its 30-odd regions. AWS allows one instance per account, in the region it
  was enabled in (an organization instance, or one account instance:
  https://docs.aws.amazon.com/singlesignon/latest/userguide/identity-center-instances.html). Here the
  seeded account has enabled it in us-east-1, the emulator's default region; the other regions have none.

- Permissions boundaries, which moto does not have: PutPermissionsBoundaryToPermissionSet,
  GetPermissionsBoundaryForPermissionSet and DeletePermissionsBoundaryFromPermissionSet, shaped as the API
  reference shows them (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_PutPermissionsBoundaryToPermissionSet.html,
  API_GetPermissionsBoundaryForPermissionSet.html, API_DeletePermissionsBoundaryFromPermissionSet.html).
  The reference does not say how a permission set without one answers Get: here
  ResourceNotFoundException (our assumption; hikkonuki takes that and an empty answer alike for none,
  and its mock tests cover both). Put and Delete are writes to the definition (out of date, as above).

Left out: the ProvisioningStatus filter of ListPermissionSetsProvisionedToAccount (hikkonuki does not use
it), FAILED requests, ConflictException while another provisioning runs, throttling and the inline
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
    permission_set.hikkonuki_unprovisioned_edits = False
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


# The backend's writes to a permission set's definition: each leaves it out of date where it is provisioned.
_DEFINITION_WRITES = (
    "update_permission_set",
    "put_inline_policy_to_permission_set",
    "delete_inline_policy_from_permission_set",
    "attach_managed_policy_to_permission_set",
    "detach_managed_policy_from_permission_set",
    "attach_customer_managed_policy_reference_to_permission_set",
    "detach_customer_managed_policy_reference_from_permission_set",
)


def _marking_out_of_date(write):
    def marked(self, instance_arn, permission_set_arn, *args, **kwargs):
        result = write(self, instance_arn, permission_set_arn, *args, **kwargs)
        permission_set = self._find_permission_set(instance_arn, permission_set_arn)
        permission_set.hikkonuki_unprovisioned_edits = True
        return result

    return marked


PROVISIONING_STATUSES = (
    "LATEST_PERMISSION_SET_PROVISIONED",
    "LATEST_PERMISSION_SET_NOT_PROVISIONED",
)


def list_accounts_for_provisioned_permission_set(self):
    instance_arn = self._get_param("InstanceArn")
    permission_set_arn = self._get_param("PermissionSetArn")
    wanted = self._get_param("ProvisioningStatus")
    if wanted is not None and wanted not in PROVISIONING_STATUSES:
        raise ValidationException(
            "ProvisioningStatus must be one of " + ", ".join(PROVISIONING_STATUSES)
        )
    backend = self.ssoadmin_backend
    accounts = backend.list_accounts_for_provisioned_permission_set(
        instance_arn=instance_arn, permission_set_arn=permission_set_arn
    )
    if wanted is not None and accounts:
        permission_set = backend._find_permission_set(instance_arn, permission_set_arn)
        out_of_date = getattr(permission_set, "hikkonuki_unprovisioned_edits", False)
        status = PROVISIONING_STATUSES[1] if out_of_date else PROVISIONING_STATUSES[0]
        if status != wanted:
            accounts = []
    return json.dumps({"AccountIds": accounts})


# The region where the emulated account has enabled IAM Identity Center.
INSTANCE_REGION = "us-east-1"

_moto_backend_init = SSOAdminBackend.__init__


def _backend_init(self, region_name, account_id):
    _moto_backend_init(self, region_name, account_id)
    if region_name != INSTANCE_REGION:
        self.instances = []


def _permission_set_of(response):
    return response.ssoadmin_backend._find_permission_set(
        response._get_param("InstanceArn"), response._get_param("PermissionSetArn")
    )


def _no_boundary(permission_set):
    return ResourceNotFoundException(
        message=f"Could not find PermissionsBoundary for {permission_set.permission_set_arn}"
    )


def put_permissions_boundary_to_permission_set(self):
    permission_set = _permission_set_of(self)
    boundary = self._get_param("PermissionsBoundary") or {}
    managed = boundary.get("ManagedPolicyArn")
    reference = boundary.get("CustomerManagedPolicyReference")
    if bool(managed) == bool(reference):
        raise ValidationException(
            "PermissionsBoundary takes one of ManagedPolicyArn and CustomerManagedPolicyReference"
        )
    if reference is not None and not reference.get("Name"):
        raise ValidationException("CustomerManagedPolicyReference needs a Name")
    permission_set.hikkonuki_permissions_boundary = (
        {"ManagedPolicyArn": managed}
        if managed
        else {"CustomerManagedPolicyReference": {"Name": reference["Name"], "Path": reference.get("Path", "/")}}
    )
    permission_set.hikkonuki_unprovisioned_edits = True
    return "{}"


def get_permissions_boundary_for_permission_set(self):
    permission_set = _permission_set_of(self)
    boundary = getattr(permission_set, "hikkonuki_permissions_boundary", None)
    if boundary is None:
        raise _no_boundary(permission_set)
    return json.dumps({"PermissionsBoundary": boundary})


def delete_permissions_boundary_from_permission_set(self):
    permission_set = _permission_set_of(self)
    if getattr(permission_set, "hikkonuki_permissions_boundary", None) is None:
        raise _no_boundary(permission_set)
    permission_set.hikkonuki_permissions_boundary = None
    permission_set.hikkonuki_unprovisioned_edits = True
    return "{}"


def install():
    SSOAdminBackend.__init__ = _backend_init
    SSOAdminBackend.provision_permission_set = _provision_once
    SSOAdminBackend.create_account_assignment = _create_account_assignment
    for name in _DEFINITION_WRITES:
        setattr(SSOAdminBackend, name, _marking_out_of_date(getattr(SSOAdminBackend, name)))
    SSOAdminResponse.list_accounts_for_provisioned_permission_set = (
        list_accounts_for_provisioned_permission_set
    )
    SSOAdminResponse.provision_permission_set = provision_permission_set
    SSOAdminResponse.describe_permission_set_provisioning_status = (
        describe_permission_set_provisioning_status
    )
    SSOAdminResponse.put_permissions_boundary_to_permission_set = (
        put_permissions_boundary_to_permission_set
    )
    SSOAdminResponse.get_permissions_boundary_for_permission_set = (
        get_permissions_boundary_for_permission_set
    )
    SSOAdminResponse.delete_permissions_boundary_from_permission_set = (
        delete_permissions_boundary_from_permission_set
    )
