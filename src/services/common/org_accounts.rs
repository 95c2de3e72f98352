//! Which accounts of the organization a plan over several accounts covers (`plan --accounts`): every
//! account, the accounts under an organizational unit (and its child units), or accounts named by ID,
//! each checked against the organization's own list so a mistyped ID is refused before anything is read.
//!
//! Only the management account or a delegated administrator may list accounts
//! (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html>: "This operation
//! can be called only from the organization's management account or by a member account that is a
//! delegated administrator"); anyone else gets `AccessDeniedException`, which is said as such.

use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

use crate::aws::RegionCtx;
use crate::service_error::ServiceError;

/// What `--accounts` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChoice {
    /// `all`: every account of the organization.
    All,
    /// `ou-…`: the accounts under this organizational unit, at any depth.
    Unit(String),
    /// `ID,ID,…`: these accounts.
    Ids(Vec<String>),
}

impl std::str::FromStr for AccountChoice {
    type Err = String;

    fn from_str(value: &str) -> Result<AccountChoice, String> {
        let value = value.trim();
        if value == "all" {
            return Ok(AccountChoice::All);
        }
        // An OU ID is `ou-` then 4 to 32 lowercase letters or digits, a dash, and 8 to 32 more
        // (docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html).
        if let Some(rest) = value.strip_prefix("ou-") {
            let well_formed = rest.split_once('-').is_some_and(|(root, unit)| {
                (4..=32).contains(&root.len())
                    && (8..=32).contains(&unit.len())
                    && root
                        .bytes()
                        .chain(unit.bytes())
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            return if well_formed {
                Ok(AccountChoice::Unit(value.to_string()))
            } else {
                Err(format!(
                    "`{value}` is not an organizational unit ID (ou-ab12-cd34ef56)"
                ))
            };
        }
        let mut ids: Vec<String> = Vec::new();
        for id in value.split(',').map(str::trim) {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "`{id}` is not a 12-digit account ID (give IDs separated by commas, an ou-… ID, or `all`)"
                ));
            }
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_string());
            }
        }
        Ok(AccountChoice::Ids(ids))
    }
}

/// An account of the organization, as ListAccounts describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, …: only an active account can be entered.
    pub state: String,
}

impl OrgAccount {
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
    }
}

/// The organization and the accounts chosen in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenAccounts {
    pub organization: String,
    pub management_account: String,
    pub accounts: Vec<OrgAccount>,
}

fn account_of(account: &Account) -> OrgAccount {
    // `State` replaces the deprecated `Status` (docs.aws.amazon.com/organizations/latest/APIReference/
    // API_Account.html); an endpoint that only sends `Status` is read from it.
    let state = match (account.state(), account.status()) {
        (Some(state), _) => state.as_str().to_string(),
        (None, Some(AccountStatus::Active)) => AccountState::Active.as_str().to_string(),
        (None, Some(status)) => status.as_str().to_string(),
        (None, None) => "UNKNOWN".to_string(),
    };
    OrgAccount {
        id: account.id().unwrap_or_default().to_string(),
        name: account.name().unwrap_or_default().to_string(),
        state,
    }
}

/// Every account of the organization, as ListAccounts lists them (every page).
pub async fn all_accounts(ctx: &RegionCtx) -> Result<Vec<Account>, ServiceError> {
    Ok(ctx
        .organizations()
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| ServiceError::from_sdk("organizations:ListAccounts", err))?
        .iter()
        .flat_map(|page| page.accounts().iter().cloned())
        .collect())
}

/// Lists the accounts `choice` names. IDs not in the organization are an error naming them.
pub async fn chosen_accounts(
    ctx: &RegionCtx,
    choice: &AccountChoice,
) -> Result<ChosenAccounts, ServiceError> {
    let client = ctx.organizations();
    let organization = client
        .describe_organization()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("organizations:DescribeOrganization", err))?;
    let organization = organization.organization();
    let organization_id = organization
        .and_then(|o| o.id())
        .unwrap_or_default()
        .to_string();
    let management_account = organization
        .and_then(|o| o.master_account_id())
        .unwrap_or_default()
        .to_string();
    let accounts = match choice {
        AccountChoice::All | AccountChoice::Ids(_) => {
            let listed: Vec<OrgAccount> = all_accounts(ctx).await?.iter().map(account_of).collect();
            match choice {
                AccountChoice::Ids(ids) => {
                    let unknown: Vec<&str> = ids
                        .iter()
                        .filter(|id| !listed.iter().any(|a| &a.id == *id))
                        .map(String::as_str)
                        .collect();
                    if !unknown.is_empty() {
                        return Err(ServiceError {
                            operation: "organizations:ListAccounts".into(),
                            code: None,
                            message: format!(
                                "not accounts of organization {organization_id}: {}",
                                unknown.join(", ")
                            ),
                        });
                    }
                    ids.iter()
                        .filter_map(|id| listed.iter().find(|a| &a.id == id).cloned())
                        .collect()
                }
                _ => listed,
            }
        }
        AccountChoice::Unit(unit) => {
            let mut found = Vec::new();
            let mut units = vec![unit.clone()];
            while let Some(parent) = units.pop() {
                let accounts: Vec<Account> = client
                    .list_accounts_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|err| {
                        ServiceError::from_sdk("organizations:ListAccountsForParent", err)
                    })?
                    .iter()
                    .flat_map(|page| page.accounts().iter().cloned())
                    .collect();
                found.extend(accounts.iter().map(account_of));
                let pages = client
                    .list_organizational_units_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|err| {
                        ServiceError::from_sdk(
                            "organizations:ListOrganizationalUnitsForParent",
                            err,
                        )
                    })?;
                units.extend(pages.iter().flat_map(|page| {
                    page.organizational_units()
                        .iter()
                        .filter_map(|u| u.id().map(str::to_string))
                }));
            }
            found
        }
    };
    Ok(ChosenAccounts {
        organization: organization_id,
        management_account,
        accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
    use aws_sdk_organizations::operation::list_accounts::{ListAccountsError, ListAccountsOutput};
    use aws_sdk_organizations::types::Organization;
    use aws_sdk_organizations::types::error::AccessDeniedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[test]
    fn choices_parse_and_nonsense_is_refused_saying_what_to_give() {
        assert_eq!("all".parse::<AccountChoice>(), Ok(AccountChoice::All));
        assert_eq!(
            "ou-ab12-cd34ef56".parse::<AccountChoice>(),
            Ok(AccountChoice::Unit("ou-ab12-cd34ef56".into()))
        );
        assert_eq!(
            "111111111111, 222222222222,111111111111".parse::<AccountChoice>(),
            Ok(AccountChoice::Ids(vec![
                "111111111111".into(),
                "222222222222".into()
            ]))
        );
        let err = "1111".parse::<AccountChoice>().unwrap_err();
        assert!(err.contains("12-digit") && err.contains("`all`"), "{err}");
        assert!("ou-x".parse::<AccountChoice>().is_err());
        assert!("ou-ab12-CD34EF56".parse::<AccountChoice>().is_err());
    }

    fn organization() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    Organization::builder()
                        .id("o-abc123defg")
                        .master_account_id("123456789012")
                        .build(),
                )
                .build()
        })
    }

    fn account(id: &str, state: AccountState) -> Account {
        Account::builder()
            .id(id)
            .name(format!("n{id}"))
            .state(state)
            .build()
    }

    #[tokio::test]
    async fn named_ids_are_checked_against_the_organization_and_states_are_kept() {
        let list = mock!(aws_sdk_organizations::Client::list_accounts).then_output(|| {
            ListAccountsOutput::builder()
                .accounts(account("111111111111", AccountState::Active))
                .accounts(account("222222222222", AccountState::Suspended))
                .build()
        });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&organization(), &list]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_organizations(client);
        let chosen = chosen_accounts(
            &ctx,
            &AccountChoice::Ids(vec!["222222222222".into(), "111111111111".into()]),
        )
        .await
        .unwrap();
        assert_eq!(chosen.organization, "o-abc123defg");
        assert_eq!(chosen.management_account, "123456789012");
        let ids: Vec<(&str, bool)> = chosen
            .accounts
            .iter()
            .map(|a| (a.id.as_str(), a.is_active()))
            .collect();
        assert_eq!(ids, [("222222222222", false), ("111111111111", true)]);

        let err = chosen_accounts(&ctx, &AccountChoice::Ids(vec!["333333333333".into()]))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("333333333333") && err.to_string().contains("o-abc123defg"),
            "{err}"
        );
    }

    /// AWS's answer to a caller that is neither the management account nor a delegated administrator.
    #[tokio::test]
    async fn a_member_account_is_told_it_cannot_list_the_organization() {
        let denied = mock!(aws_sdk_organizations::Client::list_accounts).then_error(|| {
            ListAccountsError::AccessDeniedException(
                AccessDeniedException::builder()
                    .message("You don't have permissions to access this resource.")
                    .meta(
                        aws_sdk_organizations::error::ErrorMetadata::builder()
                            .code("AccessDeniedException")
                            .message("You don't have permissions to access this resource.")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&organization(), &denied]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_organizations(client);
        let err = chosen_accounts(&ctx, &AccountChoice::All)
            .await
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
        assert!(err.is_access_denied(), "{err}");
    }
}
