"""STS AssumeRole into a member account of an organization: the role must exist there.

OUR MODEL OF AWS, NOT AWS. moto 5.2.5 lets AssumeRole into any ARN, whether the role exists or not ("the
role does not need to exist", moto's own docstring). AWS refuses a role that does not exist (or does not
trust the caller) with AccessDenied: "User: ... is not authorized to perform: sts:AssumeRole on resource:
..." (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, Errors; and
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html). `plan --accounts` enters each
member account through a role, and must report an account it cannot enter, so this module checks the role
exists for accounts moto knows as members of an organization (created by CreateAccount, which creates
OrganizationAccountAccessRole there, as AWS does).

Scope: only organization member accounts. Other tests reach a bare second account with moto's unchecked
AssumeRole (AWS would refuse there too; those tests are about the account guard, not about roles).
Left out: the trust policy is not evaluated (who may assume the role), nor external IDs or session policies.
"""

from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend


def install():
    original = STSBackend.assume_role

    def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):
        parts = role_arn.split(":")
        if len(parts) >= 6 and parts[5].startswith("role/"):
            account = parts[4]
            role_name = parts[5].split("/")[-1]
            if account in organizations_backends.master_accounts:
                backend = iam_backends[account]["global"]
                if not any(role.name == role_name for role in backend.get_roles()):
                    raise STSClientError(
                        "AccessDenied",
                        f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    )
        return original(
            self, region_name, role_session_name, role_arn, policy, duration, external_id
        )

    STSBackend.assume_role = assume_role
