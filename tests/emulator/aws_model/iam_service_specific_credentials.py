"""IAM service-specific credentials (CodeCommit HTTPS Git, Keyspaces and Bedrock passwords), which
`iam_service_credential_deactivate` lists and turns Inactive.

OUR MODEL OF AWS, NOT AWS (see ../launch.py). moto 5.2.5 answers these actions with HTTP 500 ("has not
been implemented"). Added operations, each following its IAM API reference page
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_<Operation>.html):
- CreateServiceSpecificCredential (UserName, ServiceName): a new Active credential with its
  ServicePassword, which only this answer shows.
- ListServiceSpecificCredentials (UserName, ServiceName): the user's credentials without their
  passwords, ServiceSpecificCredentials with UserName, Status, ServiceUserName, CreateDate,
  ServiceSpecificCredentialId and ServiceName; IsTruncated false.
- UpdateServiceSpecificCredential (UserName, ServiceSpecificCredentialId, Status Active, Inactive or
  Expired).
- DeleteServiceSpecificCredential (UserName, ServiceSpecificCredentialId).

What it models:
- Credentials belong to their IAM user, in moto's IAM backend of the account (IAM is global per
  account), so they go with the user and `POST /moto-api/reset` clears them.
- NoSuchEntity for an unknown user or credential ID (all four operations document it). Create requires a
  UserName; List, Update and Delete without one act on the caller's own IAM user, as their reference pages
  say (a caller that is not an IAM user is refused with ValidationError: our choice, AWS does not say).
- NotSupportedService for a service other than CodeCommit (`codecommit.amazonaws.com`), Keyspaces
  (`cassandra.amazonaws.com`), Bedrock (`bedrock.amazonaws.com`) and CloudWatch Logs
  (`logs.amazonaws.com`), the services the Create page names (it has grown: the list is AWS's to extend,
  and hikkonuki lists every service's credentials, so a service missing here only narrows the seed).
- LimitExceeded beyond two credentials per user and service ("a maximum of two sets of service-specific
  credentials for each supported service per user").
- IDs as IAM shapes them: `ACCA` and 17 upper-case letters and digits (at least 20 characters, the
  reference's length); ServiceUserName `<user>-at-<account>`, as CodeCommit's Git credentials read.

What it leaves out: paging (every credential in one page; MaxItems and Marker are ignored, and
hikkonuki's marker loop is tested with mocks in src/services/identity/tests.rs), AllUsers,
CredentialAgeDays and ExpirationDate (Bedrock API keys that expire; refused with ValidationError so a
caller relying on them notices), ServiceCredentialAlias and ServiceCredentialSecret,
ResetServiceSpecificCredential, DeleteConflict on DeleteUser while credentials remain, and any effect on
signing in (the emulator authenticates nothing).
"""

import random
import string

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.iam.exceptions import IAMException, LimitExceededException, NotFoundException
from moto.iam.responses import IamResponse

SERVICES = (
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
    "logs.amazonaws.com",
)
PER_USER_AND_SERVICE = 2
STATUSES = ("Active", "Inactive", "Expired")


class ServiceNotSupported(IAMException):
    code = "NotSupportedService"


class ValidationError(IAMException):
    code = "ValidationError"


def _credentials(user):
    """A user's credentials, oldest first."""
    if not hasattr(user, "hikkonuki_service_credentials"):
        user.hikkonuki_service_credentials = []
    return user.hikkonuki_service_credentials


def _user(self):
    name = self._get_param("UserName")
    if name:
        return self.backend.get_user(name)
    user = self.backend.get_user_from_access_key_id(self.get_access_key())
    if user is None:
        raise ValidationError(
            "UserName is required: the caller is not an IAM user (hikkonuki's model)"
        )
    return user


def _credential(self, user):
    credential_id = self._get_param("ServiceSpecificCredentialId")
    for credential in _credentials(user):
        if credential["ServiceSpecificCredentialId"] == credential_id:
            return credential
    raise NotFoundException(
        f"The Service Specific Credential with id {credential_id} cannot be found."
    )


def _supported(service):
    if service not in SERVICES:
        raise ServiceNotSupported(
            f"The specified service {service} does not support service-specific credentials."
        )


def _metadata(credential):
    return {k: v for k, v in credential.items() if k != "ServicePassword"}


def create_service_specific_credential(self):
    user = _user(self)
    service = self._get_param("ServiceName")
    _supported(service)
    if self._get_param("CredentialAgeDays") is not None:
        raise ValidationError(
            "CredentialAgeDays is not part of hikkonuki's model of this operation (tests/emulator/aws_model)"
        )
    held = [c for c in _credentials(user) if c["ServiceName"] == service]
    if len(held) >= PER_USER_AND_SERVICE:
        raise LimitExceededException(
            f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {PER_USER_AND_SERVICE}"
        )
    alphabet = string.ascii_uppercase + string.digits
    credential = {
        "CreateDate": utcnow(),
        "ServiceName": service,
        "ServiceUserName": f"{user.name}-at-{self.current_account}",
        "ServicePassword": "".join(random.choices(string.ascii_letters + string.digits + "+/=", k=44)),
        "ServiceSpecificCredentialId": "ACCA" + "".join(random.choices(alphabet, k=17)),
        "UserName": user.name,
        "Status": "Active",
    }
    _credentials(user).append(credential)
    return ActionResult({"ServiceSpecificCredential": dict(credential)})


def list_service_specific_credentials(self):
    if self._get_param("AllUsers"):
        raise ValidationError(
            "AllUsers is not part of hikkonuki's model of this operation (tests/emulator/aws_model)"
        )
    user = _user(self)
    service = self._get_param("ServiceName")
    if service:
        _supported(service)
    listed = [
        _metadata(c) for c in _credentials(user) if not service or c["ServiceName"] == service
    ]
    return ActionResult({"ServiceSpecificCredentials": listed, "IsTruncated": False})


def update_service_specific_credential(self):
    status = self._get_param("Status")
    if status not in STATUSES:
        raise ValidationError(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(STATUSES)}]"
        )
    _credential(self, _user(self))["Status"] = status
    return EmptyResult()


def delete_service_specific_credential(self):
    user = _user(self)
    _credentials(user).remove(_credential(self, user))
    return EmptyResult()


OPERATIONS = [
    create_service_specific_credential,
    list_service_specific_credentials,
    update_service_specific_credential,
    delete_service_specific_credential,
]


def install():
    """Adds the operations to moto's IAM responses (moto dispatches by the action's snake_case name)."""
    for operation in OPERATIONS:
        if hasattr(IamResponse, operation.__name__):
            raise RuntimeError(
                f"moto now implements {operation.__name__}: drop it from hikkonuki's model"
            )
        setattr(IamResponse, operation.__name__, operation)
