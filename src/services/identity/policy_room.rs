//! Where a deny fits on an IAM user or role. IAM limits the total size of a principal's inline policies
//! (users 2,048 characters, roles 10,240, groups 5,120; whitespace not counted) and how many managed
//! policies may be attached to it (10 by default, raisable to 20):
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html. A principal that already
//! holds much policy (often the most privileged) may have no room for one more inline policy: IAM then
//! answers `LimitExceeded` ("Maximum policy size of 2048 bytes exceeded for user …"). The kinds that put
//! a deny on principals measure the room at plan time; when the inline room lacks, the deny goes in a
//! customer-managed policy attached to the principal ([`super::managed_policy`]), and when neither fits
//! the cut is proposed disabled, saying why.
//!
//! The account's own quotas come from GetAccountSummary (`UserPolicySizeQuota`, `RolePolicySizeQuota`,
//! `AttachedPoliciesPerUserQuota`, `AttachedPoliciesPerRoleQuota`, "in non-whitespace characters":
//! https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html), so a raised quota
//! counts; the documented defaults stand in for a key the summary lacks.
//!
//! hikkonuki's own policies (the session revocation and the SES send deny, inline or managed) are left
//! out of the measurement: each kind accounts for them itself, the session revocation first, so a
//! measurement does not change when the other kind's cut lands between plan and apply (which would refuse
//! a resumed apply as drift).

use std::collections::HashMap;

use aws_sdk_iam::types::SummaryKeyType;
use serde::{Deserialize, Serialize};

use super::inline_policy::{self, Holder};
use super::managed_policy;
use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// IAM's default total size of one user's inline policies, in characters without whitespace.
pub const DEFAULT_USER_INLINE_QUOTA: usize = 2_048;
/// IAM's default total size of one role's inline policies, in characters without whitespace.
pub const DEFAULT_ROLE_INLINE_QUOTA: usize = 10_240;
/// IAM's default number of managed policies attached to one user or role (raisable to 20).
pub const DEFAULT_ATTACHED_QUOTA: usize = 10;

/// The inline policies hikkonuki writes on principals (`iam_session_revoke`, `ses_send_deny`).
pub const OWN_INLINE_POLICIES: [&str; 2] =
    ["hikkonuki-session-revocation", "hikkonuki-ses-send-deny"];

/// The account's quotas that decide where a deny fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub user_inline: usize,
    pub role_inline: usize,
    pub user_attached: usize,
    pub role_attached: usize,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            user_inline: DEFAULT_USER_INLINE_QUOTA,
            role_inline: DEFAULT_ROLE_INLINE_QUOTA,
            user_attached: DEFAULT_ATTACHED_QUOTA,
            role_attached: DEFAULT_ATTACHED_QUOTA,
        }
    }
}

impl Quotas {
    /// Reads an account summary's map; a key it lacks (or an odd value) keeps the documented default.
    pub fn from_summary(summary: Option<&HashMap<SummaryKeyType, i32>>) -> Quotas {
        let defaults = Quotas::default();
        let read = |key: SummaryKeyType, default: usize| {
            summary
                .and_then(|map| map.get(&key))
                .and_then(|&value| usize::try_from(value).ok())
                .filter(|&value| value > 0)
                .unwrap_or(default)
        };
        Quotas {
            user_inline: read(SummaryKeyType::UserPolicySizeQuota, defaults.user_inline),
            role_inline: read(SummaryKeyType::RolePolicySizeQuota, defaults.role_inline),
            user_attached: read(
                SummaryKeyType::AttachedPoliciesPerUserQuota,
                defaults.user_attached,
            ),
            role_attached: read(
                SummaryKeyType::AttachedPoliciesPerRoleQuota,
                defaults.role_attached,
            ),
        }
    }

    /// The inline size and attachment quotas for this kind of principal.
    fn of(&self, holder: Holder<'_>) -> (usize, usize) {
        match holder {
            Holder::User(_) => (self.user_inline, self.user_attached),
            Holder::Role(_) => (self.role_inline, self.role_attached),
        }
    }
}

/// The account's quotas, from IAM GetAccountSummary.
pub async fn quotas(ctx: &RegionCtx) -> Result<Quotas, ServiceError> {
    let out = ctx
        .iam()
        .get_account_summary()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("iam:GetAccountSummary", err))?;
    Ok(Quotas::from_summary(out.summary_map()))
}

/// How many principals' policies are read at once: IAM's read calls share the account's request rate.
pub const READ_CONCURRENCY: usize = 4;

/// Observes each cut of a policy-writing kind, [`READ_CONCURRENCY`] at a time, with the account's quotas
/// read once, and only when some cut measured its room at plan time (`measured`): apply then places the
/// deny where the room is now, and a plan made without measurements costs no extra call. A quota read that
/// fails fails every observation, each with that error.
pub async fn observe_with_quotas<'c, C, T, Fut>(
    ctx: &RegionCtx,
    cuts: &'c [C],
    measured: impl Fn(&C) -> bool,
    observe: impl Fn(&'c C, Option<Quotas>) -> Fut,
) -> Vec<Result<T, ServiceError>>
where
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    use futures_util::stream::{self, StreamExt};
    let quotas = if cuts.iter().any(&measured) {
        match quotas(ctx).await {
            Ok(quotas) => Some(quotas),
            Err(err) => return cuts.iter().map(|_| Err(err.clone())).collect(),
        }
    } else {
        None
    };
    // The futures are made first: a closure over borrowed cuts inside the stream is not general enough
    // for the async trait's lifetimes.
    let observations: Vec<Fut> = cuts.iter().map(|cut| observe(cut, quotas)).collect();
    stream::iter(observations)
        .buffered(READ_CONCURRENCY)
        .collect()
        .await
}

/// A policy document's size as IAM counts it against the quotas: its characters, whitespace not counted.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// A managed policy attached to a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub name: String,
    pub arn: String,
}

/// Every identity policy on a principal: its inline policies with their documents (as JSON text), and
/// the managed policies attached to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    pub inline: Vec<(String, String)>,
    pub attached: Vec<Attached>,
}

impl Policies {
    /// The document of the inline policy `name`, if the principal has one.
    pub fn inline_document(&self, name: &str) -> Option<&str> {
        self.inline
            .iter()
            .find(|(policy, _)| policy == name)
            .map(|(_, document)| document.as_str())
    }

    pub fn is_attached(&self, arn: &str) -> bool {
        self.attached.iter().any(|policy| policy.arn == arn)
    }
}

/// Reads every identity policy on a principal: List…Policies, Get…Policy for each, ListAttached…Policies.
/// NoSuchEntity (the principal is gone) is returned as the error it is.
pub async fn read(ctx: &RegionCtx, holder: Holder<'_>) -> Result<Policies, ServiceError> {
    let iam = ctx.iam();
    let (names, attached): (Vec<String>, Vec<_>) = match holder {
        Holder::User(user) => (
            iam.list_user_policies()
                .user_name(user)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListUserPolicies", err))?,
            iam.list_attached_user_policies()
                .user_name(user)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListAttachedUserPolicies", err))?,
        ),
        Holder::Role(role) => (
            iam.list_role_policies()
                .role_name(role)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListRolePolicies", err))?,
            iam.list_attached_role_policies()
                .role_name(role)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListAttachedRolePolicies", err))?,
        ),
    };
    let mut inline = Vec::with_capacity(names.len());
    for name in names {
        // Deleted between the listing and the read: it takes no room.
        if let Some(document) = inline_policy::get(ctx, holder, &name).await? {
            inline.push((name, document));
        }
    }
    let attached = attached
        .iter()
        .filter_map(|policy| {
            Some(Attached {
                name: policy.policy_name()?.to_string(),
                arn: policy.policy_arn()?.to_string(),
            })
        })
        .collect();
    Ok(Policies { inline, attached })
}

/// Where a deny goes on a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// An inline policy on the principal.
    Inline,
    /// A customer-managed policy hikkonuki creates and attaches to the principal.
    Managed,
}

/// What a principal's own policies (hikkonuki's left out) hold against IAM's quotas, as the plan records
/// it so the reviewer sees why a deny goes where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRoom {
    /// The size of its inline policies other than hikkonuki's, in characters, whitespace not counted.
    pub inline_characters: usize,
    /// The most IAM allows in total for this kind of principal in this account.
    pub inline_quota: usize,
    /// Managed policies attached to it, other than hikkonuki's.
    pub attached_policies: usize,
    /// The most IAM allows attached to this kind of principal in this account.
    pub attached_quota: usize,
}

impl PolicyRoom {
    /// Measures what a principal's policies hold, hikkonuki's own left out.
    pub fn of(holder: Holder<'_>, quotas: Quotas, policies: &Policies) -> PolicyRoom {
        let (inline_quota, attached_quota) = quotas.of(holder);
        PolicyRoom {
            inline_characters: policies
                .inline
                .iter()
                .filter(|(name, _)| !OWN_INLINE_POLICIES.contains(&name.as_str()))
                .map(|(_, document)| policy_size(document))
                .sum(),
            inline_quota,
            attached_policies: policies
                .attached
                .iter()
                .filter(|policy| !managed_policy::is_own(&policy.arn))
                .count(),
            attached_quota,
        }
    }

    /// Where a deny of `characters` fits, after hikkonuki's policies placed before it (`earlier`: where
    /// each went, and its size): inline while the total stays within the quota, else a managed policy
    /// while a slot is free. The error says why neither fits and what to do, for the disabled cut.
    pub fn place(
        &self,
        earlier: &[(Placement, usize)],
        characters: usize,
    ) -> Result<Placement, String> {
        let inline_used = self.inline_characters
            + earlier
                .iter()
                .filter(|(placement, _)| *placement == Placement::Inline)
                .map(|(_, size)| size)
                .sum::<usize>();
        let attached_used = self.attached_policies
            + earlier
                .iter()
                .filter(|(placement, _)| *placement == Placement::Managed)
                .count();
        if inline_used + characters <= self.inline_quota {
            return Ok(Placement::Inline);
        }
        if attached_used < self.attached_quota {
            return Ok(Placement::Managed);
        }
        let counting = if earlier.is_empty() {
            ""
        } else {
            " (counting hikkonuki's session revocation, which is placed first)"
        };
        Err(format!(
            "no deny fits: its inline policies hold {inline_used} of the {} characters IAM allows in total (whitespace not counted), leaving no room for this {characters}-character policy, and {attached_used} of its {} managed-policy slots are taken{counting}. Make room (shorten or remove an inline policy, or detach a managed one) and plan again, or end its access another way (IAM quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).",
            self.inline_quota, self.attached_quota
        ))
    }

    /// Why the deny went to a managed policy, for the cut's reason.
    pub fn why_managed(&self, earlier_characters: usize, characters: usize) -> String {
        let earlier = if earlier_characters > 0 {
            format!(" plus hikkonuki's session revocation ({earlier_characters})")
        } else {
            String::new()
        };
        format!(
            "its inline policies hold {} of the {} characters IAM allows in total (whitespace not counted){earlier}, leaving no room for this {characters}-character deny, so it goes in a customer-managed policy attached to it ({} of {} managed-policy slots taken before it); restore detaches and deletes that policy",
            self.inline_characters, self.inline_quota, self.attached_policies, self.attached_quota
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(inline: usize, attached: usize) -> PolicyRoom {
        PolicyRoom {
            inline_characters: inline,
            inline_quota: 2_048,
            attached_policies: attached,
            attached_quota: 10,
        }
    }

    #[test]
    fn whitespace_is_not_counted() {
        assert_eq!(policy_size("{ \"a\" :\n\t\"b c\" }"), 10);
        assert_eq!(policy_size(""), 0);
    }

    #[test]
    fn a_deny_goes_inline_while_it_fits_then_managed_then_nowhere() {
        assert_eq!(room(1_848, 0).place(&[], 200), Ok(Placement::Inline));
        assert_eq!(room(1_849, 0).place(&[], 200), Ok(Placement::Managed));
        // The session revocation placed first takes its room (inline) or a slot (managed).
        assert_eq!(
            room(1_600, 0).place(&[(Placement::Inline, 200)], 250),
            Ok(Placement::Managed)
        );
        assert_eq!(
            room(1_500, 0).place(&[(Placement::Inline, 200)], 250),
            Ok(Placement::Inline)
        );
        assert_eq!(room(1_900, 9).place(&[], 200), Ok(Placement::Managed));
        let full = room(1_900, 9)
            .place(&[(Placement::Managed, 200)], 250)
            .unwrap_err();
        assert!(full.contains("1900 of the 2048 characters"), "{full}");
        assert!(full.contains("10 of its 10 managed-policy slots"), "{full}");
        assert!(full.contains("session revocation"), "{full}");
        let alone = room(2_000, 10).place(&[], 200).unwrap_err();
        assert!(!alone.contains("session revocation"), "{alone}");
    }

    #[test]
    fn quotas_come_from_the_account_summary_with_documented_defaults() {
        assert_eq!(Quotas::from_summary(None), Quotas::default());
        let raised = HashMap::from([
            (SummaryKeyType::AttachedPoliciesPerRoleQuota, 20),
            (SummaryKeyType::UserPolicySizeQuota, 2_048),
            (SummaryKeyType::RolePolicySizeQuota, -1),
        ]);
        let quotas = Quotas::from_summary(Some(&raised));
        assert_eq!(quotas.role_attached, 20);
        assert_eq!(quotas.user_attached, DEFAULT_ATTACHED_QUOTA);
        assert_eq!(quotas.role_inline, DEFAULT_ROLE_INLINE_QUOTA);
    }

    #[test]
    fn hikkonukis_own_policies_are_left_out_of_the_measure() {
        let policies = Policies {
            inline: vec![
                ("app".into(), "{ \"x\": 1 }".into()),
                (
                    "hikkonuki-session-revocation".into(),
                    "{\"long\":\"xxxxxxxx\"}".into(),
                ),
                ("hikkonuki-ses-send-deny".into(), "{\"y\":2}".into()),
            ],
            attached: vec![
                Attached {
                    name: "ReadOnlyAccess".into(),
                    arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                },
                Attached {
                    name: "hikkonuki-session-revocation-role-app".into(),
                    arn: "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-session-revocation-role-app"
                        .into(),
                },
            ],
        };
        let measured = PolicyRoom::of(Holder::Role("app"), Quotas::default(), &policies);
        assert_eq!(
            measured,
            PolicyRoom {
                inline_characters: 7,
                inline_quota: DEFAULT_ROLE_INLINE_QUOTA,
                attached_policies: 1,
                attached_quota: DEFAULT_ATTACHED_QUOTA,
            }
        );
    }
}
