//! SSM documents owned by the account: `Share` permissions (DescribeDocumentPermission /
//! ModifyDocumentPermission). `AccountIds` lists account IDs or `all` (public), and
//! `AccountSharingInfoList` the document version each is shared with
//! (<https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeDocumentPermission.html>).
//!
//! ModifyDocumentPermission takes "a group of account IDs or All" per call, at most 20 accounts per call,
//! one `SharedDocumentVersion` per call (its `DocumentPermissionLimit` error: "You can specify a maximum
//! of 20 accounts per API operation to share a private document. By default, you can share a private
//! document with a maximum of 1,000 accounts";
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ModifyDocumentPermission.html>).
//! So `all` goes alone, accounts go 20 at a time, and undo groups them by the version each had. Undo
//! shares with the accounts first and with `all` in a later call of its own ([`super::public_block`]).

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{DocumentIdentifier, DocumentKeyValuesFilter, DocumentPermissionType};

use super::{Grantee, Reading, ResourceType, SharingState};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// Documents read at a time.
const CONCURRENCY: usize = 4;

/// ModifyDocumentPermission's most accounts per call.
pub const ACCOUNTS_PER_CALL: usize = 20;

/// The documents this account owns in this region that are shared with anyone.
pub async fn shared_documents(ctx: &RegionCtx) -> Result<Vec<Reading>, ServiceError> {
    // `Owner: Self` lists the account's own documents, not AWS's or those shared with it
    // (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DocumentKeyValuesFilter.html).
    let documents: Vec<DocumentIdentifier> = ctx
        .ssm()
        .list_documents()
        .filters(
            DocumentKeyValuesFilter::builder()
                .key("Owner")
                .values("Self")
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ssm:ListDocuments", err))?;
    let names: Vec<String> = documents
        .iter()
        .filter_map(|d| d.name().map(str::to_string))
        .collect();
    let readings = gather(names, CONCURRENCY, |name| async move {
        Ok(read(ctx, &name).await?.into_iter().collect::<Vec<_>>())
    })
    .await?;
    Ok(readings
        .into_iter()
        .filter(|r| !r.state.shared_with.is_empty() || !r.unclassified.is_empty())
        .collect())
}

/// The document's sharing; `None` when it no longer exists.
pub async fn read(ctx: &RegionCtx, name: &str) -> Result<Option<Reading>, ServiceError> {
    let mut grantees = Vec::new();
    let mut unclassified = Vec::new();
    let mut versions = BTreeMap::new();
    let mut next_token: Option<String> = None;
    loop {
        let result = ctx
            .ssm()
            .describe_document_permission()
            .name(name)
            .permission_type(DocumentPermissionType::Share)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ssm:DescribeDocumentPermission", err));
        let out = match result {
            Ok(out) => out,
            Err(err) if err.code.as_deref() == Some("InvalidDocument") => return Ok(None),
            Err(err) => return Err(err),
        };
        for account in out.account_ids() {
            match Grantee::from_account_value(account) {
                Some(grantee) => grantees.push(grantee),
                None => unclassified.push(account.clone()),
            }
        }
        for info in out.account_sharing_info_list() {
            if let (Some(account), Some(version)) =
                (info.account_id(), info.shared_document_version())
            {
                let key = if account.eq_ignore_ascii_case("all") {
                    "all".to_string()
                } else {
                    account.to_string()
                };
                versions.insert(key, version.to_string());
            }
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => break,
        }
    }
    let mut state = SharingState::new(ResourceType::SsmDocument, name, grantees);
    versions.retain(|key, _| {
        state.shared_with.iter().any(|g| match g {
            Grantee::Everyone => key == "all",
            Grantee::Account(id) => key == id,
            _ => false,
        })
    });
    state.shared_document_versions = versions;
    Ok(Some(Reading {
        state,
        unclassified,
    }))
}

/// The calls ModifyDocumentPermission needs for these grantees: `all` alone, accounts 20 at a time.
pub fn batches(grantees: &[Grantee]) -> Vec<Vec<String>> {
    let mut batches = Vec::new();
    if grantees.contains(&Grantee::Everyone) {
        batches.push(vec!["all".to_string()]);
    }
    let accounts: Vec<String> = grantees
        .iter()
        .filter_map(|g| match g {
            Grantee::Account(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    batches.extend(accounts.chunks(ACCOUNTS_PER_CALL).map(<[String]>::to_vec));
    batches
}

fn check_grantees(grantees: &[Grantee]) -> Result<(), ServiceError> {
    match grantees
        .iter()
        .find(|g| matches!(g, Grantee::Organization(_) | Grantee::OrganizationalUnit(_)))
    {
        Some(other) => Err(ServiceError::local(
            "ssm:ModifyDocumentPermission",
            format!("SSM documents cannot be shared with {other:?}"),
        )),
        None => Ok(()),
    }
}

pub async fn remove(ctx: &RegionCtx, name: &str, grantees: &[Grantee]) -> Result<(), ServiceError> {
    check_grantees(grantees)?;
    for batch in batches(grantees) {
        ctx.ssm()
            .modify_document_permission()
            .name(name)
            .permission_type(DocumentPermissionType::Share)
            .set_account_ids_to_remove(Some(batch))
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ssm:ModifyDocumentPermission", err))?;
    }
    Ok(())
}

/// Shares the document again, each grantee with the version recorded for it (none recorded: the
/// document's default, as AWS does without `SharedDocumentVersion`).
pub async fn add(
    ctx: &RegionCtx,
    name: &str,
    grantees: &[Grantee],
    versions: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    check_grantees(grantees)?;
    let mut by_version: BTreeMap<Option<&String>, Vec<Grantee>> = BTreeMap::new();
    for grantee in grantees {
        let key = match grantee {
            Grantee::Everyone => "all",
            Grantee::Account(id) => id.as_str(),
            _ => continue,
        };
        by_version
            .entry(versions.get(key))
            .or_default()
            .push(grantee.clone());
    }
    for (version, grantees) in by_version {
        for batch in batches(&grantees) {
            ctx.ssm()
                .modify_document_permission()
                .name(name)
                .permission_type(DocumentPermissionType::Share)
                .set_account_ids_to_add(Some(batch))
                .set_shared_document_version(version.cloned())
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ssm:ModifyDocumentPermission", err))?;
        }
    }
    Ok(())
}
