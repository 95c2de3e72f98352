//! Containment of outgoing mail (SES): stop the account sending, deny sending to the principals allowed to
//! send, and take away sending authority delegated to other accounts. SES SMTP credentials are IAM access
//! keys, so the key cuts close SMTP too; these cuts close the API and the delegated paths.

use serde_json::Value;

use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::common::unclassified;

pub mod ses_identity_policy_remove;
pub mod ses_send_deny;
pub mod ses_sending_pause;

/// Every email identity (address or domain) in the region, sorted. One listed without its name cannot be
/// read or cut (every call names it): it is reported, as what `ses_identity_policy_remove` cannot cut.
pub async fn list_identities(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let pages: Vec<_> = ctx
        .sesv2()
        .list_email_identities()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ses:ListEmailIdentities", err))?;
    let listed: Vec<_> = pages
        .iter()
        .flat_map(|page| page.email_identities())
        .collect();
    let unnamed = listed
        .iter()
        .filter(|identity| identity.identity_name().is_none())
        .count();
    if unnamed > 0 {
        unclassified::report(
            ctx,
            "ses_identity_policy_remove",
            &ctx.region,
            &format!("{unnamed} SES email identit(y/ies)"),
            "ListEmailIdentities returned them without their IdentityName, so their sending-authorization policies cannot be read",
        )
        .await;
    }
    let mut names: Vec<String> = listed
        .iter()
        .filter_map(|identity| identity.identity_name().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Policies are compared by meaning (AWS may reformat the text) but always restored as the exact recorded
/// string.
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::same_document;

    #[test]
    fn documents_are_the_same_when_they_mean_the_same() {
        assert!(same_document(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            r#"{ "Version": "2012-10-17", "Statement": [] }"#
        ));
        assert!(!same_document(
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            r#"{"Version":"2008-10-17","Statement":[]}"#
        ));
    }
}
