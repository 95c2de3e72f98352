//! What a permission set is besides its inline policy: everything ProvisionPermissionSet carries into the
//! roles of the accounts it is provisioned to. Provisioning takes the permission set whole, never a part
//! (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html>), so
//! the cut's provisioning puts in force whatever the definition holds when it runs. The plan records it
//! (`before.definition`) and apply reads it again right before writing: an edit since the plan is one no
//! one reviewed, and the cut refuses to provision it. Where the permission set is out of date in every
//! account, this is the only sign of such an edit: the list of accounts out of date stays as it was.

use aws_sdk_ssoadmin::types::{CustomerManagedPolicyReference, PermissionsBoundary};
use serde::{Deserialize, Serialize};

use crate::services::ServiceError;

/// A permission set's definition, the inline policy aside (`PermissionSetState::inline_policy`). Lists
/// are sorted, so the order AWS lists them in is not read as a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO 8601, as DescribePermissionSet answers it (`PT1H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<String>,
    /// AWS managed policies attached, by ARN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Customer managed policy references, each as its path and name (`/team/ReadLogs`): the IAM policy
    /// of that name each account must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_managed_policies: Vec<String>,
    /// The permissions boundary: an AWS managed policy's ARN, or a customer managed policy's path and
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
}

impl Definition {
    pub fn is_empty(&self) -> bool {
        self == &Definition::default()
    }

    /// What differs from `other`, as the refusal names it.
    pub fn changed_from(&self, other: &Definition) -> Vec<&'static str> {
        [
            (self.description != other.description, "description"),
            (
                self.session_duration != other.session_duration,
                "session duration",
            ),
            (self.relay_state != other.relay_state, "relay state"),
            (
                self.managed_policies != other.managed_policies,
                "managed policies",
            ),
            (
                self.customer_managed_policies != other.customer_managed_policies,
                "customer managed policy references",
            ),
            (
                self.permissions_boundary != other.permissions_boundary,
                "permissions boundary",
            ),
        ]
        .into_iter()
        .filter_map(|(changed, what)| changed.then_some(what))
        .collect()
    }
}

/// A customer managed policy reference as the definition records it: its path (`/` when AWS answers
/// none, IAM's default) and name.
fn reference(policy: &CustomerManagedPolicyReference) -> String {
    let path = policy.path().filter(|path| !path.is_empty()).unwrap_or("/");
    format!("{path}{}", policy.name())
}

fn boundary(boundary: &PermissionsBoundary) -> Option<String> {
    boundary
        .managed_policy_arn()
        .map(str::to_string)
        .or_else(|| boundary.customer_managed_policy_reference().map(reference))
}

/// The permission set's definition, read live: DescribePermissionSet, its permissions boundary, and its
/// two lists of policies. ResourceNotFoundException when the permission set is gone.
pub async fn definition_of(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<(String, Definition), ServiceError> {
    let described = client
        .describe_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("sso:DescribePermissionSet", err))?;
    let set = described.permission_set();
    let name = set
        .and_then(|set| set.name())
        .unwrap_or_default()
        .to_string();
    let text = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_string);
    let (permissions_boundary, managed_policies, customer_managed_policies) = tokio::try_join!(
        permissions_boundary(client, instance_arn, permission_set_arn),
        managed_policies(client, instance_arn, permission_set_arn),
        customer_managed_policies(client, instance_arn, permission_set_arn),
    )?;
    Ok((
        name,
        Definition {
            description: text(set.and_then(|set| set.description())),
            session_duration: text(set.and_then(|set| set.session_duration())),
            relay_state: text(set.and_then(|set| set.relay_state())),
            managed_policies,
            customer_managed_policies,
            permissions_boundary,
        },
    ))
}

/// What of the permission set was edited since the plan recorded it as `planned`, read live; `None` when
/// nothing was. Apply asks it right before writing, and the undo before provisioning: either would put
/// the edit in force, which no one reviewed.
pub async fn edited_since(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
    planned: &Definition,
) -> Result<Option<String>, ServiceError> {
    let (_, now) = definition_of(client, instance_arn, permission_set_arn).await?;
    Ok((&now != planned).then(|| now.changed_from(planned).join(", ")))
}

/// The permissions boundary, if any
/// (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_GetPermissionsBoundaryForPermissionSet.html>).
/// The reference does not say how AWS answers a permission set without one: both an empty
/// `PermissionsBoundary` and ResourceNotFoundException are taken for none, as tools reading it do
/// (DescribePermissionSet, called first, already found the permission set itself).
async fn permissions_boundary(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<Option<String>, ServiceError> {
    match client
        .get_permissions_boundary_for_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn)
        .send()
        .await
    {
        Ok(answer) => Ok(answer.permissions_boundary().and_then(boundary)),
        Err(err) => {
            let err = ServiceError::from_sdk("sso:GetPermissionsBoundaryForPermissionSet", err);
            if err.code.as_deref() == Some("ResourceNotFoundException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

async fn managed_policies(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<Vec<String>, ServiceError> {
    let pages: Vec<_> = client
        .list_managed_policies_in_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sso:ListManagedPoliciesInPermissionSet", err))?;
    let mut arns: Vec<String> = pages
        .iter()
        .flat_map(|page| page.attached_managed_policies())
        .filter_map(|policy| policy.arn().map(str::to_string))
        .collect();
    arns.sort();
    arns.dedup();
    Ok(arns)
}

async fn customer_managed_policies(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<Vec<String>, ServiceError> {
    let pages: Vec<_> = client
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| {
            ServiceError::from_sdk(
                "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
                err,
            )
        })?;
    let mut references: Vec<String> = pages
        .iter()
        .flat_map(|page| page.customer_managed_policy_references())
        .map(reference)
        .collect();
    references.sort();
    references.dedup();
    Ok(references)
}
