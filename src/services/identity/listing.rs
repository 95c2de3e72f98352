//! The account's IAM users and roles, listed once per run however many kinds and inspections read them.
//! Before, each reader walked ListUsers (and ListRoles) itself: seven walks of every page of users in a
//! plan, each page drawing on IAM's request budget. Only discovery and the inspections read these (a
//! plan, or apply's one re-derivation before it cuts): cut, undo and watch read what they need live, so
//! a list kept for the run is never taken for a later moment's.

use std::sync::Arc;

use aws_sdk_iam::types::{Role, User};

use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// Every IAM user of the account, through every page of ListUsers, read once per run.
pub async fn users(ctx: &RegionCtx) -> Result<Arc<Vec<User>>, ServiceError> {
    ctx.once("identity:ListUsers", || async {
        ctx.iam()
            .list_users()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(Arc::new)
            .map_err(|err| ServiceError::from_sdk("iam:ListUsers", err))
    })
    .await
}

/// Every IAM role of the account, through every page of ListRoles, read once per run.
pub async fn roles(ctx: &RegionCtx) -> Result<Arc<Vec<Role>>, ServiceError> {
    ctx.once("identity:ListRoles", || async {
        every_role(ctx).await.map(Arc::new)
    })
    .await
}

/// Every IAM role of the account, through every page of ListRoles, read now: for a drift check or a
/// watch, which must see the roles as they are.
pub async fn every_role(ctx: &RegionCtx) -> Result<Vec<Role>, ServiceError> {
    ctx.iam()
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("iam:ListRoles", err))
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn user(name: &str) -> User {
        User::builder()
            .user_name(name)
            .user_id(format!("AIDA{name}"))
            .arn(format!("arn:aws:iam::123456789012:user/{name}"))
            .path("/")
            .create_date(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    /// The credential kinds, the session revocation, `ses_send_deny` and the identity findings all read
    /// the account's users (and two of them its roles): one walk of each per run, whoever asks first,
    /// and every reader sees the same list.
    #[tokio::test]
    async fn every_reader_of_a_run_shares_one_walk_of_the_users_and_of_the_roles() {
        let listed = mock!(aws_sdk_iam::Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .users(user("alice"))
                .users(user("bob"))
                .build()
                .unwrap()
        });
        let listed_roles = mock!(aws_sdk_iam::Client::list_roles).then_output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(vec![]))
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_iam, [&listed, &listed_roles]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let names = crate::services::identity::iam_credential_deactivate::user_names(&ctx)
            .await
            .unwrap();
        assert_eq!(names, ["alice", "bob"]);
        let (again, _) = futures_util::try_join!(users(&ctx), roles(&ctx)).unwrap();
        assert_eq!(again.len(), 2);
        roles(&ctx).await.unwrap();
        assert_eq!(listed.num_calls(), 1);
        assert_eq!(listed_roles.num_calls(), 1);
    }
}
