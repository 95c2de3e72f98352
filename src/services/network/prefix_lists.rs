//! What a customer-managed prefix list holds, so that a security-group rule or a route naming one is kept
//! when all its entries lie within the responder's `--keep-cidr` ranges, as the same rule or route written
//! with those ranges would be. Teams keep their office and VPN ranges in such lists, so without this a
//! `--keep-cidr` for the responder's office was overridden by the rule that names the office's list, and the
//! responder was locked out.
//!
//! Only lists the resource's own account owns count. An AWS-managed list (`com.amazonaws.…`, owner `AWS`)
//! names a service's public ranges; a list another account shares through RAM changes whenever that account
//! edits it. Rules and routes naming either go, whatever `--keep-cidr` says. A list whose entries all lie
//! within the VPC's own blocks is inside, as a rule naming those blocks would be. The lists are read only
//! when a rule or route names one: one describe for the region, and one read of each list it owns.
//!
//! DescribeManagedPrefixLists
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeManagedPrefixLists.html>) says who
//! owns each list and its state; GetManagedPrefixListEntries
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetManagedPrefixListEntries.html>, at most
//! 100 entries a page) gives the current version's entries.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ec2::types::RouteTable;

use crate::aws::RegionCtx;
use crate::net::Cidr;
use crate::services::ServiceError;

/// The entries of the prefix lists a resource's account owns, by list ID. A list missing here (owned by
/// AWS or another account, being changed, unreadable, holding an entry that does not parse, or empty) is
/// treated as outside: when in doubt, cut.
#[derive(Debug, Default, Clone)]
pub struct OwnedPrefixLists {
    ranges: HashMap<String, Vec<Cidr>>,
    /// The version each list in `ranges` had when its entries were read (1 for a list made by [`with`]).
    versions: HashMap<String, i64>,
    /// Why a list named by a rule or route is not known, to say in the reason beside a kept range.
    unknown: HashMap<String, String>,
}

/// What a list's entries say about a rule or route that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListVerdict {
    /// Every entry lies within the VPC's blocks or a `--keep-cidr`, and at least one within a keep range.
    ResponderRange,
    /// An entry reaches elsewhere, or the list is not one this account owns and can vouch for.
    Outside,
}

impl OwnedPrefixLists {
    /// A list the account owns with these entries (for tests and for [`read`]).
    pub fn with(mut self, id: &str, entries: &[&str]) -> OwnedPrefixLists {
        let parsed: Option<Vec<Cidr>> = entries.iter().map(|e| e.parse().ok()).collect();
        match parsed {
            Some(ranges) if !ranges.is_empty() => {
                self.ranges.insert(id.to_string(), ranges);
                self.versions.entry(id.to_string()).or_insert(1);
            }
            Some(_) => {
                self.unknown
                    .insert(id.to_string(), "it has no entries".into());
            }
            None => {
                self.unknown
                    .insert(id.to_string(), "an entry does not parse as a CIDR".into());
            }
        }
        self
    }

    /// What the list `id` lets a rule or route reach. Only keep ranges make a list worth keeping: a list
    /// is an address set anyone who may edit it can widen later, unseen by drift checks and `watch`
    /// (which read the rule, not the list), so one is kept only where the responder asked for a way in,
    /// never merely for lying inside the VPC.
    pub fn verdict(&self, id: &str, vpc_cidrs: &[Cidr], keep_cidrs: &[Cidr]) -> ListVerdict {
        let Some(ranges) = self.ranges.get(id) else {
            return ListVerdict::Outside;
        };
        let within_keep = |r: &Cidr| r.is_within_any(keep_cidrs);
        if ranges.iter().any(within_keep)
            && ranges
                .iter()
                .all(|r| r.is_within_any(vpc_cidrs) || within_keep(r))
        {
            return ListVerdict::ResponderRange;
        }
        ListVerdict::Outside
    }

    /// Whether the list `id` (one the account owns) names a kept range at all: a gateway a route to it
    /// goes through may be the responder's way in. Asked where the VPC's blocks are not at hand, it leans
    /// to keeping the gateway, which only leaves a path the route and network ACL cuts close anyway.
    pub fn carries_kept_range(&self, id: &str, keep_cidrs: &[Cidr]) -> bool {
        self.ranges
            .get(id)
            .is_some_and(|ranges| ranges.iter().any(|r| r.is_within_any(keep_cidrs)))
    }

    /// The version of the list `id` whose entries were read, for a list the account owns.
    pub fn version(&self, id: &str) -> Option<i64> {
        self.ranges
            .contains_key(id)
            .then(|| self.versions.get(id).copied())?
    }

    /// Why the list `id` could not be vouched for, when it was looked at and could not.
    pub fn why_unknown(&self, id: &str) -> Option<&str> {
        self.unknown.get(id).map(String::as_str)
    }
}

/// For a run with keep ranges: the sentence saying why the lists named by what is cut were not kept for
/// the responder, so one who keeps an office range in a list sees why its rule goes. Empty when none.
pub fn why_not_kept<'a>(cut: impl Iterator<Item = &'a str>, lists: &OwnedPrefixLists) -> String {
    let named: BTreeSet<&str> = cut.collect();
    if named.is_empty() {
        return String::new();
    }
    let why: Vec<String> = named
        .into_iter()
        .map(|id| {
            let because = match lists.why_unknown(id) {
                Some(why) => why,
                None if lists.ranges.contains_key(id) => {
                    "its entries are not the responder's: each inside a keep range or the VPC, one at least inside a keep range"
                }
                None => "it was not read",
            };
            format!("{id} ({because})")
        })
        .collect();
    format!(" Prefix lists cut despite --keep-cidr: {}.", why.join("; "))
}

/// The lists the routes of `tables` send somewhere, but for gateway endpoints' routes (the service's own
/// list, which the endpoint manages).
pub fn named_by_routes(tables: &[RouteTable]) -> BTreeSet<String> {
    tables
        .iter()
        .flat_map(RouteTable::routes)
        .filter(|route| !route.gateway_id().is_some_and(|g| g.starts_with("vpce-")))
        .filter_map(|route| route.destination_prefix_list_id().map(str::to_string))
        .collect()
}

/// The current version of each list `ids` names, as DescribeManagedPrefixLists gives it: what a kept
/// rule's list is now, against the version the cut judged ([`OwnedPrefixLists::version`]). A list that is
/// gone, or has no version, reads as `None`; one not settled (being modified or restored, failed, being
/// deleted) as [`UNSETTLED`], which no version equals.
pub async fn current_versions(
    ctx: &RegionCtx,
    ids: BTreeSet<String>,
) -> Result<HashMap<String, Option<i64>>, ServiceError> {
    let mut versions: HashMap<String, Option<i64>> =
        ids.iter().map(|id| (id.clone(), None)).collect();
    if ids.is_empty() {
        return Ok(versions);
    }
    // A list still refused alone is gone; any other refusal is the read's.
    let (described, refused) = describe_each(ctx, &ids, names_no_list).await?;
    if let Some((_, err)) = refused.into_iter().find(|(_, err)| !names_no_list(err)) {
        return Err(err);
    }
    for list in described {
        if let Some(id) = list.prefix_list_id()
            && let Some(version) = versions.get_mut(id)
        {
            let settled = matches!(
                list.state().map(|s| s.as_str()),
                Some("create-complete" | "modify-complete" | "restore-complete")
            );
            *version = if settled {
                list.version()
            } else {
                Some(UNSETTLED)
            };
        }
    }
    Ok(versions)
}

/// DescribeManagedPrefixLists of `ids`. EC2 refuses a whole describe by IDs when one of them is unknown
/// (a list deleted, or no longer shared): when `ask_alone` takes the refusal for that, each is asked
/// alone, so one stale ID does not make the others unknown, and the IDs refused alone come back with
/// their refusals. Any other refusal of the whole is the read's.
async fn describe_each(
    ctx: &RegionCtx,
    ids: &BTreeSet<String>,
    ask_alone: impl Fn(&ServiceError) -> bool,
) -> Result<DescribedEach, ServiceError> {
    match describe(ctx, ids.iter().cloned().collect()).await {
        Ok(described) => Ok((described, Vec::new())),
        Err(err) if !ask_alone(&err) => Err(err),
        Err(err) if ids.len() == 1 => Ok((
            Vec::new(),
            vec![(ids.iter().next().cloned().unwrap_or_default(), err)],
        )),
        Err(_) => {
            let mut described = Vec::new();
            let mut refused = Vec::new();
            for id in ids {
                match describe(ctx, vec![id.clone()]).await {
                    Ok(found) => described.extend(found),
                    Err(err) => refused.push((id.clone(), err)),
                }
            }
            Ok((described, refused))
        }
    }
}

/// The lists described, and the IDs refused with their refusals.
type DescribedEach = (
    Vec<aws_sdk_ec2::types::ManagedPrefixList>,
    Vec<(String, ServiceError)>,
);

/// DescribeManagedPrefixLists of `ids`, every page.
async fn describe(
    ctx: &RegionCtx,
    ids: Vec<String>,
) -> Result<Vec<aws_sdk_ec2::types::ManagedPrefixList>, ServiceError> {
    ctx.ec2()
        .describe_managed_prefix_lists()
        .set_prefix_list_ids(Some(ids))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeManagedPrefixLists", err))
}

/// A list's version while it is not settled: no version AWS gives equals it.
pub const UNSETTLED: i64 = -1;

/// Whether EC2's error says a prefix list ID names no list (DescribeManagedPrefixLists answers
/// `InvalidPrefixListID.NotFound`; compared ignoring case, as the spelling varies across EC2's prefix-list
/// errors).
fn names_no_list(err: &ServiceError) -> bool {
    err.code
        .as_deref()
        .is_some_and(|code| code.eq_ignore_ascii_case("InvalidPrefixListID.NotFound"))
}

/// The lists a cut recorded as kept (`kept`), each with its version now, read live: for one cut's
/// observation ([`kept_now`] over [`current_versions`]).
pub async fn kept_lists_now(
    ctx: &RegionCtx,
    kept: &std::collections::BTreeMap<String, i64>,
) -> Result<std::collections::BTreeMap<String, i64>, ServiceError> {
    let versions = current_versions(ctx, kept.keys().cloned().collect()).await?;
    Ok(kept_now(kept, &versions))
}

/// A cut's `kept_lists` as its kind's rule has them: the same in `before` and `after`, and each named by
/// something the cut keeps (`kept`, the lists its kept rules or routes name; `what`, "rule" or "route").
pub fn check_kept_lists<'a>(
    before: &std::collections::BTreeMap<String, i64>,
    after: &std::collections::BTreeMap<String, i64>,
    kept: impl Iterator<Item = &'a str> + Clone,
    what: &str,
) -> Result<(), String> {
    if before != after {
        return Err(
            "`kept_lists` is the same in `before` and `after`: the cut edits no list".into(),
        );
    }
    match after
        .keys()
        .find(|list| !kept.clone().any(|named| named == list.as_str()))
    {
        Some(list) => Err(format!(
            "kept_lists names {list}, which no {what} the cut keeps names"
        )),
        None => Ok(()),
    }
}

/// The lists a cut recorded as kept (`kept`), each with its version now (0 when gone), from
/// [`current_versions`].
pub fn kept_now(
    kept: &std::collections::BTreeMap<String, i64>,
    versions: &HashMap<String, Option<i64>>,
) -> std::collections::BTreeMap<String, i64> {
    kept.keys()
        .map(|list| {
            let now = versions.get(list).copied().flatten().unwrap_or(0);
            (list.clone(), now)
        })
        .collect()
}

/// Reads the lists `ids` that `account` owns. A failed read is not fatal to discovery: the lists stay
/// unknown, so their rules and routes are cut, and the reason says why.
pub async fn read(ctx: &RegionCtx, ids: BTreeSet<String>, account: &str) -> OwnedPrefixLists {
    let mut lists = OwnedPrefixLists::default();
    if ids.is_empty() {
        return lists;
    }
    // Whatever the refusal, each list is asked alone: one that cannot be read leaves only itself unknown.
    let (described, refused) = match describe_each(ctx, &ids, |_| true).await {
        Ok(each) => each,
        Err(err) => (
            Vec::new(),
            ids.iter().map(|id| (id.clone(), err.clone())).collect(),
        ),
    };
    for (id, err) in refused {
        lists
            .unknown
            .insert(id, format!("it could not be read: {err}"));
    }
    let mut seen = BTreeSet::new();
    for list in described {
        let Some(id) = list.prefix_list_id() else {
            continue;
        };
        seen.insert(id.to_string());
        let owner = list.owner_id().unwrap_or_default();
        if owner != account {
            lists.unknown.insert(
                id.to_string(),
                format!("it belongs to {owner}, not this account, which can change it"),
            );
            continue;
        }
        // A list being created, changed or restored has entries that are about to differ from these.
        let state = list.state().map(|s| s.as_str()).unwrap_or_default();
        if !matches!(
            state,
            "create-complete" | "modify-complete" | "restore-complete"
        ) {
            lists.unknown.insert(
                id.to_string(),
                format!("it is in state `{state}`, so its entries are about to change"),
            );
            continue;
        }
        // The entries of the version described (`TargetVersion`), so that the version recorded for a kept
        // list is the one whose entries were judged, even when the list is edited between the reads.
        let entries = ctx
            .ec2()
            .get_managed_prefix_list_entries()
            .prefix_list_id(id)
            .set_target_version(list.version())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:GetManagedPrefixListEntries", err));
        match entries {
            // The entries of the version described: a list edited between the two reads is a different
            // address set, which the drift check then sees by its version.
            Ok(entries) => match list.version() {
                Some(version) => {
                    let cidrs: Vec<&str> = entries.iter().map(|e| e.cidr().unwrap_or("")).collect();
                    lists.versions.insert(id.to_string(), version);
                    lists = lists.with(id, &cidrs);
                }
                None => {
                    lists
                        .unknown
                        .insert(id.to_string(), "AWS gave no version for it".into());
                }
            },
            Err(err) => {
                lists.unknown.insert(
                    id.to_string(),
                    format!("its entries could not be read: {err}"),
                );
            }
        }
    }
    for id in ids.into_iter().filter(|id| !seen.contains(id)) {
        lists
            .unknown
            .entry(id)
            .or_insert_with(|| "DescribeManagedPrefixLists did not list it".into());
    }
    lists
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsOutput;
    use aws_sdk_ec2::operation::get_managed_prefix_list_entries::GetManagedPrefixListEntriesOutput;
    use aws_sdk_ec2::types::{ManagedPrefixList, PrefixListEntry, PrefixListState};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn list(id: &str, owner: &str, state: PrefixListState) -> ManagedPrefixList {
        // AWS always gives the version (API_ManagedPrefixList: `Version`).
        ManagedPrefixList::builder()
            .prefix_list_id(id)
            .owner_id(owner)
            .state(state)
            .version(1)
            .build()
    }

    fn entry(cidr: &str) -> PrefixListEntry {
        PrefixListEntry::builder().cidr(cidr).build()
    }

    /// AWS's answers for the lists a region's rules name: an AWS-managed list, another account's shared
    /// list, one of the account's own being changed, and one of its own whose entries come in two pages
    /// (the emulator never pages them). Only the last is read and vouched for, with both pages' entries.
    #[tokio::test]
    async fn mocked_only_the_accounts_own_settled_lists_are_read_and_every_page_of_entries_counts()
    {
        let described = mock!(Client::describe_managed_prefix_lists).then_output(|| {
            DescribeManagedPrefixListsOutput::builder()
                .prefix_lists(list("pl-s3", "AWS", PrefixListState::CreateComplete))
                .prefix_lists(list(
                    "pl-shared",
                    "999988887777",
                    PrefixListState::ModifyComplete,
                ))
                .prefix_lists(list(
                    "pl-moving",
                    "123456789012",
                    PrefixListState::ModifyInProgress,
                ))
                .prefix_lists(list(
                    "pl-office",
                    "123456789012",
                    PrefixListState::ModifyComplete,
                ))
                .build()
        });
        let first_page = mock!(Client::get_managed_prefix_list_entries)
            .match_requests(|req| {
                req.prefix_list_id() == Some("pl-office") && req.next_token().is_none()
            })
            .then_output(|| {
                GetManagedPrefixListEntriesOutput::builder()
                    .entries(entry("203.0.113.7/32"))
                    .next_token("page-2")
                    .build()
            });
        let second_page = mock!(Client::get_managed_prefix_list_entries)
            .match_requests(|req| req.next_token() == Some("page-2"))
            .then_output(|| {
                GetManagedPrefixListEntriesOutput::builder()
                    .entries(entry("198.51.100.9/32"))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&described, &first_page, &second_page]
        );
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let ids: BTreeSet<String> = ["pl-s3", "pl-shared", "pl-moving", "pl-office", "pl-gone"]
            .into_iter()
            .map(String::from)
            .collect();
        let lists = read(&ctx, ids, "123456789012").await;
        assert_eq!(described.num_calls(), 1);
        assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));

        let vpc = cidrs(&["10.0.0.0/16"]);
        let office = cidrs(&["203.0.113.0/24"]);
        // The second page's entry lies beyond the office range: the list is outside unless both are kept.
        assert_eq!(
            lists.verdict("pl-office", &vpc, &office),
            ListVerdict::Outside
        );
        let both = cidrs(&["203.0.113.0/24", "198.51.100.0/24"]);
        assert_eq!(
            lists.verdict("pl-office", &vpc, &both),
            ListVerdict::ResponderRange
        );
        for other in ["pl-s3", "pl-shared", "pl-moving", "pl-gone"] {
            assert_eq!(
                lists.verdict(other, &vpc, &cidrs(&["0.0.0.0/1"])),
                ListVerdict::Outside
            );
        }
        assert_eq!(
            lists.why_unknown("pl-s3"),
            Some("it belongs to AWS, not this account, which can change it")
        );
        assert!(
            lists
                .why_unknown("pl-shared")
                .unwrap()
                .contains("999988887777")
        );
        assert!(
            lists
                .why_unknown("pl-moving")
                .unwrap()
                .contains("modify-in-progress")
        );
        assert_eq!(
            lists.why_unknown("pl-gone"),
            Some("DescribeManagedPrefixLists did not list it")
        );
    }

    /// EC2 refuses a describe by IDs when one is unknown (`InvalidPrefixListID.NotFound`): each list is
    /// then asked alone, and the responder's list is still read and kept.
    #[tokio::test]
    async fn mocked_one_stale_list_id_does_not_make_the_others_unknown() {
        let not_found = || {
            aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("InvalidPrefixListID.NotFound")
                    .message("The prefix list ID 'pl-gone' does not exist")
                    .build(),
            )
        };
        let both = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids().len() == 2)
            .then_error(not_found);
        let gone = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids() == ["pl-gone"])
            .then_error(not_found);
        let office = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids() == ["pl-office"])
            .then_output(|| {
                DescribeManagedPrefixListsOutput::builder()
                    .prefix_lists(list(
                        "pl-office",
                        "123456789012",
                        PrefixListState::CreateComplete,
                    ))
                    .build()
            });
        let entries = mock!(Client::get_managed_prefix_list_entries).then_output(|| {
            GetManagedPrefixListEntriesOutput::builder()
                .entries(entry("203.0.113.7/32"))
                .build()
        });
        let client = mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&both, &gone, &office, &entries]
        );
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let ids: BTreeSet<String> = ["pl-gone", "pl-office"]
            .into_iter()
            .map(String::from)
            .collect();
        let lists = read(&ctx, ids, "123456789012").await;
        assert_eq!(
            (both.num_calls(), gone.num_calls(), office.num_calls()),
            (1, 1, 1)
        );
        assert_eq!(
            lists.verdict("pl-office", &[], &cidrs(&["203.0.113.0/24"])),
            ListVerdict::ResponderRange
        );
        assert!(
            lists
                .why_unknown("pl-gone")
                .unwrap()
                .contains("InvalidPrefixListID.NotFound")
        );
    }

    /// What the drift check and watch read of the kept lists now: a list that is gone reads as no
    /// version (one stale ID asked alone, not spoiling the others), one being modified as [`UNSETTLED`],
    /// a settled one as its version; a refusal other than "no such list" is an error, asked once.
    #[tokio::test]
    async fn mocked_the_kept_lists_versions_now_say_gone_unsettled_and_refused_apart() {
        let error = |code: &'static str| {
            move || {
                aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsError::generic(
                    aws_sdk_ec2::error::ErrorMetadata::builder()
                        .code(code)
                        .message(format!("{code} (mocked)"))
                        .build(),
                )
            }
        };
        let listed = |id: &'static str, state: PrefixListState, version: i64| {
            move || {
                DescribeManagedPrefixListsOutput::builder()
                    .prefix_lists({
                        let mut list = list(id, "123456789012", state.clone());
                        list.version = Some(version);
                        list
                    })
                    .build()
            }
        };
        let all = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids().len() == 3)
            .then_error(error("InvalidPrefixListID.NotFound"));
        let gone = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids() == ["pl-gone"])
            .then_error(error("InvalidPrefixListID.NotFound"));
        let office = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids() == ["pl-office"])
            .then_output(listed("pl-office", PrefixListState::ModifyComplete, 4));
        let busy = mock!(Client::describe_managed_prefix_lists)
            .match_requests(|req| req.prefix_list_ids() == ["pl-busy"])
            .then_output(listed("pl-busy", PrefixListState::ModifyInProgress, 7));
        let client = mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&all, &gone, &office, &busy]
        );
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let ids: BTreeSet<String> = ["pl-gone", "pl-office", "pl-busy"]
            .into_iter()
            .map(String::from)
            .collect();
        let versions = current_versions(&ctx, ids.clone()).await.unwrap();
        assert_eq!(versions["pl-gone"], None);
        assert_eq!(versions["pl-office"], Some(4));
        assert_eq!(versions["pl-busy"], Some(UNSETTLED));
        let kept = std::collections::BTreeMap::from([
            ("pl-gone".to_string(), 1),
            ("pl-office".to_string(), 3),
        ]);
        assert_eq!(
            kept_now(&kept, &versions),
            std::collections::BTreeMap::from([
                ("pl-gone".to_string(), 0),
                ("pl-office".to_string(), 4)
            ])
        );

        let denied =
            mock!(Client::describe_managed_prefix_lists).then_error(error("UnauthorizedOperation"));
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let err = current_versions(&ctx, ids).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("UnauthorizedOperation"));
        assert_eq!(denied.num_calls(), 1, "not asked again list by list");
    }

    /// A refused describe (no `ec2:DescribeManagedPrefixLists` permission) leaves every list unknown, so
    /// the rules naming them are cut, saying why, and discovery goes on.
    #[tokio::test]
    async fn mocked_a_refused_describe_leaves_every_list_outside_and_says_why() {
        let refused = mock!(Client::describe_managed_prefix_lists).then_error(|| {
            aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("You are not authorized to perform this operation.")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&refused]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let ids: BTreeSet<String> = ["pl-office".to_string()].into();
        let lists = read(&ctx, ids, "123456789012").await;
        assert_eq!(
            lists.verdict("pl-office", &[], &cidrs(&["0.0.0.0/1"])),
            ListVerdict::Outside
        );
        let why = lists.why_unknown("pl-office").unwrap();
        assert!(
            why.starts_with("it could not be read") && why.contains("UnauthorizedOperation"),
            "{why}"
        );
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn a_list_within_the_keep_ranges_is_the_responders_and_one_entry_beyond_makes_it_outside() {
        let vpc = cidrs(&["10.0.0.0/16"]);
        let keep = cidrs(&["203.0.113.0/24"]);
        let lists = OwnedPrefixLists::default()
            .with("pl-office", &["203.0.113.10/32", "203.0.113.64/26"])
            .with("pl-mixed", &["203.0.113.10/32", "10.0.4.0/24"])
            .with("pl-wide", &["203.0.113.10/32", "198.51.100.0/24"])
            .with("pl-inside", &["10.0.1.0/24"])
            .with("pl-empty", &[])
            .with("pl-garbled", &["203.0.113.10/32", "not-a-range"]);
        assert_eq!(
            lists.verdict("pl-office", &vpc, &keep),
            ListVerdict::ResponderRange
        );
        assert_eq!(
            lists.verdict("pl-mixed", &vpc, &keep),
            ListVerdict::ResponderRange
        );
        assert_eq!(lists.verdict("pl-wide", &vpc, &keep), ListVerdict::Outside);
        // Inside the VPC only: not kept, a list being a set anyone who may edit it can widen later.
        assert_eq!(
            lists.verdict("pl-inside", &vpc, &keep),
            ListVerdict::Outside
        );
        assert_eq!(lists.verdict("pl-inside", &vpc, &[]), ListVerdict::Outside);
        assert!(lists.carries_kept_range("pl-wide", &keep));
        assert!(!lists.carries_kept_range("pl-inside", &keep));
        assert_eq!(lists.verdict("pl-office", &vpc, &[]), ListVerdict::Outside);
        for unknown in ["pl-empty", "pl-garbled", "pl-never-read"] {
            assert_eq!(
                lists.verdict(unknown, &vpc, &keep),
                ListVerdict::Outside,
                "{unknown}"
            );
        }
        assert_eq!(lists.why_unknown("pl-empty"), Some("it has no entries"));
        assert!(
            lists
                .why_unknown("pl-garbled")
                .unwrap()
                .contains("does not parse")
        );
        assert_eq!(lists.why_unknown("pl-office"), None);
    }
}
