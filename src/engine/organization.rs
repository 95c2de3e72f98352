//! Several accounts of an organization in one run (`plan --accounts`): one plan, one review, one
//! confirmation, one rollback file per account.
//!
//! The safety sequence is the one-account sequence, walked for every account: [`apply`] prepares every
//! account (lock its rollback file, check its credentials belong to it, refuse drift) before the
//! operator is asked, and cuts nothing unless every account passed; then each account is cut with its
//! own journal, so one account's failure or crash never touches another's way back. [`restore`] takes the
//! directory of rollback files and restores each account with credentials checked against that file's
//! account: a journal for account A is never replayed in account B.
//!
//! Member accounts are entered through a role (`--role`, by default
//! [`crate::plan::DEFAULT_MEMBER_ROLE`]) assumed with the operator's credentials; the SDK refreshes the
//! role's credentials before they expire ([`AwsSession::enter_account`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use futures_util::stream::{self, StreamExt};

use super::apply::{
    self, AccountApplied, ApplyConfirmation, ApplyRequest, ApplyRun, LeftOut, Prepared,
};
use super::discover::{AccountPart, PlanRequest, make_plan as make_account_plan};
use super::restore::{self, AccountRestored, RestoreRequest, RestoreRun, RestoreWork};
use super::{EngineError, Operator, Parallelism};
use crate::aws::{AwsSession, CallerIdentity};
use crate::plan::{DEFAULT_MEMBER_ROLE, Finding, GLOBAL_REGION, Plan, Severity};
use crate::report::{Event, InAccount, Reporter};
use crate::services::common::org_accounts::ChosenAccounts;
use crate::services::{Phase, Registry};

/// The check name of the finding for an account that could not be entered.
pub const NOT_ENTERED: &str = "account_not_entered";

/// A session in one account: the operator's own, or one entered through the member role.
pub enum AccountSession<'a> {
    Own(&'a AwsSession),
    Entered(Box<AwsSession>),
}

impl std::ops::Deref for AccountSession<'_> {
    type Target = AwsSession;
    fn deref(&self) -> &AwsSession {
        match self {
            AccountSession::Own(session) => session,
            AccountSession::Entered(session) => session,
        }
    }
}

/// The ARN of `role` in `account`, in the partition of the operator's ARN (`aws`, `aws-cn`,
/// `aws-us-gov`).
pub fn role_arn(operator_arn: &str, account: &str, role: &str) -> String {
    let partition = operator_arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    format!("arn:{partition}:iam::{account}:role/{role}")
}

/// Enters `account`: the operator's own session when it is the operator's account, otherwise the role
/// assumed there, checked by asking STS who the new session is. The error says which role could not
/// be entered and why.
pub async fn enter<'a>(
    own: &'a AwsSession,
    operator: &CallerIdentity,
    account: &str,
    role: &str,
) -> Result<(AccountSession<'a>, CallerIdentity), String> {
    if account == operator.account {
        return Ok((AccountSession::Own(own), operator.clone()));
    }
    let arn = role_arn(&operator.arn, account, role);
    let session = own.enter_account(&arn, "hikkonuki", &operator.arn).await;
    match session.caller_identity().await {
        Ok(caller) if caller.account == account => {
            Ok((AccountSession::Entered(Box::new(session)), caller))
        }
        Ok(caller) => Err(format!(
            "{arn} answered as account {} ({}), not {account}",
            caller.account, caller.arn
        )),
        Err(err) => Err(format!("could not assume {arn}: {err}")),
    }
}

/// What a plan over several accounts asks for, besides what every account's discovery shares.
pub struct OrganizationPlanRequest {
    /// The shared part: regions, kept ranges, options, parallelism, selection; `caller` is the operator.
    pub shared: PlanRequest,
    /// The organization and the accounts chosen in it (`--accounts`).
    pub chosen: ChosenAccounts,
    /// `--role`, when not the default.
    pub role: Option<String>,
}

/// Discovers every chosen account concurrently, bounded so that accounts × regions in flight stay within
/// `--parallelism`. The operator's own account always has a part: the organization-level kinds are
/// discovered there, and, when it is one of the chosen accounts, everything else too. An account that
/// cannot be entered (or is not active) is a High finding naming the role and the error; the rest is
/// planned.
pub async fn make_plan(
    session: &AwsSession,
    registry: &Registry,
    request: OrganizationPlanRequest,
    reporter: &dyn Reporter,
) -> Plan {
    let OrganizationPlanRequest {
        mut shared,
        chosen,
        role,
    } = request;
    // One moment for every account's part: the plan keeps one `created`, from which apply derives again
    // what kinds named after it.
    shared
        .created
        .get_or_insert_with(super::discover::now_rfc3339);
    let role_name = role.clone().unwrap_or_else(|| DEFAULT_MEMBER_ROLE.into());
    let operator = shared.caller.clone();
    let members: Vec<_> = chosen
        .accounts
        .iter()
        .filter(|account| account.id != operator.account)
        .collect();
    let own_chosen = chosen.accounts.iter().any(|a| a.id == operator.account);
    let (at_once, per_account) = share_among_accounts(shared.parallelism, members.len() + 1);

    let own_request = PlanRequest {
        parallelism: per_account,
        part: if own_chosen {
            AccountPart::Whole
        } else {
            AccountPart::OrganizationLevel
        },
        member_role: role.clone(),
        ..shared.clone()
    };
    // Every account's steps in all, first: the members are counted whether or not they can be entered.
    let member_steps = super::discover::steps_by_kind(
        registry,
        &PlanRequest {
            part: AccountPart::Member,
            ..shared.clone()
        },
    );
    reporter.event(&apply::started(
        "plan",
        false,
        super::discover::steps_by_kind(registry, &own_request)
            .into_iter()
            .chain(members.iter().flat_map(|_| member_steps.iter().copied())),
    ));
    let own_reporter = InAccount::new(reporter, &operator.account);
    let own_plan = make_account_plan(session, registry, own_request, &own_reporter);

    let member_plans = stream::iter(members.iter().copied())
        .map(|account| {
            let shared = &shared;
            let operator = &operator;
            let role_name = &role_name;
            let role = &role;
            let member_steps = &member_steps;
            async move {
                let member_reporter = InAccount::new(reporter, &account.id);
                // Its steps are in `started`'s total: they are accounted for, so progress ends at it.
                let left_out = |why: String| {
                    member_reporter.event(&Event::DiscoverySkipped {
                        steps: member_steps.len(),
                        reason: why.clone(),
                    });
                    not_entered(&account.id, why)
                };
                if !account.is_active() {
                    return Err(left_out(format!(
                        "the account is {}, not ACTIVE: it cannot be entered",
                        account.state
                    )));
                }
                let (member_session, caller) =
                    match enter(session, operator, &account.id, role_name).await {
                        Ok(entered) => entered,
                        Err(why) => return Err(left_out(why)),
                    };
                let request = PlanRequest {
                    caller,
                    parallelism: per_account,
                    part: AccountPart::Member,
                    member_role: role.clone(),
                    ..shared.clone()
                };
                Ok(make_account_plan(&member_session, registry, request, &member_reporter).await)
            }
        })
        .buffered(at_once)
        .collect::<Vec<_>>();
    let (mut own_plan, member_plans) = futures_util::join!(own_plan, member_plans);

    let mut plans = Vec::new();
    for result in member_plans {
        match result {
            Ok(plan) => plans.push(plan),
            Err(finding) => own_plan.findings.push(finding),
        }
    }
    own_plan.organization = Some(chosen.organization.clone());
    plans.insert(0, own_plan);
    Plan::from_accounts(plans)
}

/// The organization the operator's credentials are in, which must be the one the plan names (the plan
/// file is not trusted): the operator confirms apply by typing its ID, read live as restore reads it, so
/// an edited `organization:` is refused rather than typed back. A read AWS refuses is said, and the
/// plan's ID is typed; the accounts themselves were each entered and checked.
async fn live_organization(
    session: &AwsSession,
    planned: &str,
    reporter: &dyn Reporter,
) -> Result<String, EngineError> {
    use crate::services::common::policy_principals::Organization;
    let planned_shown = crate::report::escape::visible(planned);
    match crate::services::common::organization::organization(
        &session.region(session.home_region()),
    )
    .await
    {
        Organization::Member(id) if id == planned => Ok(id),
        Organization::Member(id) => Err(EngineError::Refused {
            message: format!(
                "the plan names organization {planned_shown}, but these credentials are in organization {id}: nothing was changed\n  fix: apply with the credentials of the plan's organization, or make a new plan"
            ),
        }),
        Organization::None => Err(EngineError::Refused {
            message: format!(
                "the plan names organization {planned_shown}, but these credentials' account is in no organization: nothing was changed\n  fix: apply with the credentials of the plan's organization"
            ),
        }),
        Organization::Unknown(why) => {
            reporter.event(&Event::Warning {
                message: format!(
                    "the organization could not be read to check the plan's ({why}): the plan's {planned_shown} is asked for"
                ),
            });
            Ok(planned.to_string())
        }
    }
}

/// Who the operator is, and the role member accounts are entered through (`--role`, or the default).
async fn operator_and_role(
    session: &AwsSession,
    role: Option<&str>,
) -> Result<(CallerIdentity, String), EngineError> {
    let me = session
        .caller_identity()
        .await
        .map_err(|err| EngineError::identity(session, err))?;
    Ok((me, role.unwrap_or(DEFAULT_MEMBER_ROLE).to_string()))
}

fn not_entered(account: &str, why: String) -> Finding {
    Finding {
        check: NOT_ENTERED.into(),
        region: GLOBAL_REGION.into(),
        resource: account.into(),
        severity: Severity::High,
        message: format!(
            "Account {account} is not in this plan: {why}. Nothing there is contained: fix the role (or pass --role) and plan again, or contain the account by hand."
        ),
    }
}

/// The accounts' rollback files: `--rollback DIR`, or `<plan stem>.rollback/` beside the plan.
fn rollback_dir(request: &ApplyRequest) -> PathBuf {
    request
        .rollback
        .clone()
        .unwrap_or_else(|| apply::default_rollback_dir(&request.plan))
}

/// Apply for a plan over several accounts (see the module documentation). Called by [`apply::run`]
/// with the plan it read and hashed.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    session: &AwsSession,
    registry: &Registry,
    request: &ApplyRequest,
    plan: Plan,
    plan_sha256: String,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<ApplyRun, EngineError> {
    let dir = rollback_dir(request);
    crate::files::create_private_dir_all(&dir).map_err(|source| EngineError::Refused {
        message: format!(
            "{}: cannot make the directory for the accounts' rollback files: {source}\n  fix: choose another with --rollback DIR",
            dir.display()
        ),
    })?;
    let (me, role) = operator_and_role(session, plan.role.as_deref()).await?;

    // Every account with an enabled cut is entered and prepared before anything is asked or cut.
    let planned: Vec<Plan> = plan
        .per_account()
        .into_iter()
        .filter(|account| account.enabled_cuts().next().is_some())
        .collect();
    let mut accounts = Vec::new();
    let mut sessions = Vec::new();
    let mut refusals: Vec<(String, EngineError)> = Vec::new();
    // Accounts left out under --skip-unreachable-accounts: reported as stopped, nothing there cut.
    let mut unreachable: Vec<(String, String)> = Vec::new();
    for account in planned {
        match enter(session, &me, &account.account, &role).await {
            Ok((entered, _)) => {
                sessions.push(entered);
                accounts.push(account);
            }
            Err(why) if request.skip_unreachable_accounts => {
                reporter.event(&Event::Warning {
                    message: format!(
                        "account {} is left out (--skip-unreachable-accounts): cannot enter it: {why}. Nothing there will be cut",
                        account.account
                    ),
                });
                unreachable.push((account.account, why));
            }
            Err(why) => {
                refusals.push((
                    account.account.clone(),
                    EngineError::Refused {
                        message: format!(
                            "cannot enter the account: {why}\n  fix: restore the role (or pass --role), or run apply again with --skip-unreachable-accounts to cut the other accounts and leave this one open"
                        ),
                    },
                ));
            }
        }
    }
    if accounts.is_empty() && !unreachable.is_empty() {
        // Nothing could be entered: there is nothing to apply, and saying so would hide that.
        refusals.extend(unreachable.drain(..).map(|(account, why)| {
            (
                account,
                EngineError::Refused {
                    message: format!("cannot enter the account: {why}"),
                },
            )
        }));
    }
    let mut prepared: Vec<(Prepared, usize)> = Vec::new();
    if refusals.is_empty() {
        let (at_once, parallelism) = side_by_side(request.parallelism, accounts.len());
        let per_account = ApplyRequest {
            parallelism,
            ..request.clone()
        };
        let results: Vec<(usize, Result<Prepared, EngineError>)> =
            stream::iter(accounts.iter().enumerate())
                .map(|(index, account)| {
                    let session = &sessions[index];
                    let dir = &dir;
                    let per_account = &per_account;
                    let plan_sha256 = &plan_sha256;
                    async move {
                        let scoped = InAccount::new(reporter, &account.account);
                        let result = apply::prepare(
                            session,
                            registry,
                            per_account,
                            account.clone(),
                            plan_sha256,
                            apply::account_rollback_path(dir, &account.account),
                            &scoped,
                        )
                        .await;
                        (index, result)
                    }
                })
                .buffered(at_once)
                .collect()
                .await;
        for (index, result) in results {
            match result {
                Ok(ready) => prepared.push((ready, index)),
                Err(err) => refusals.push((accounts[index].account.clone(), err)),
            }
        }
    }
    if !refusals.is_empty() {
        // Dropping what was prepared releases the locks and removes rollback files this run created.
        return Err(EngineError::Accounts {
            plan: request.plan.clone(),
            refusals,
        });
    }

    let reviews: Vec<(&Plan, &[LeftOut])> = prepared
        .iter()
        .map(|(ready, _)| (&ready.plan, ready.left_out.as_slice()))
        .collect();
    operator.review_accounts(&reviews);
    if prepared
        .iter()
        .all(|(ready, _)| ready.plan.enabled_cuts().next().is_none())
    {
        return Ok(ApplyRun::NothingToApply {
            plan,
            left_out: prepared
                .into_iter()
                .flat_map(|(ready, _)| ready.left_out)
                .collect(),
        });
    }
    let irreversible: Vec<String> = prepared
        .iter()
        .flat_map(|(ready, _)| {
            apply::irreversible_ids(&ready.plan)
                .into_iter()
                .map(|id| format!("{}:{id}", ready.plan.account))
        })
        .collect();
    if !irreversible.is_empty() && !request.allow_irreversible {
        return Err(EngineError::Irreversible {
            plan: request.plan.clone(),
            ids: irreversible,
        });
    }
    let resumed: usize = prepared
        .iter()
        .map(|(ready, _)| ready.started_before())
        .sum();
    let organization = match plan.organization.as_deref() {
        Some(planned) => Some(live_organization(session, planned, reporter).await?),
        None => None,
    };
    operator
        .confirm_apply(&ApplyConfirmation {
            plan: &plan,
            irreversible: irreversible.iter().map(String::as_str).collect(),
            resuming: (resumed > 0).then_some((dir.as_path(), resumed)),
            organization: organization.as_deref(),
        })
        .map_err(EngineError::Declined)?;
    reporter.event(&apply::started(
        "apply",
        false,
        prepared
            .iter()
            .flat_map(|(ready, _)| ready.remaining_kinds())
            .collect::<Vec<_>>()
            .into_iter(),
    ));

    let (at_once, parallelism) = side_by_side(request.parallelism, prepared.len());
    let per_account = ApplyRequest {
        parallelism,
        ..request.clone()
    };
    let results: Vec<AccountApplied> = stream::iter(prepared)
        .map(|(ready, index)| {
            let session = &sessions[index];
            let per_account = &per_account;
            async move {
                let account = ready.plan.account.clone();
                let rollback = ready.rollback_path.clone();
                let left_out_now = Vec::new();
                let scoped = InAccount::new(reporter, &account);
                match apply::perform(session, registry, per_account, ready, stop, &scoped).await {
                    Ok((_, rollback, outcome, left_out)) => AccountApplied {
                        account,
                        rollback,
                        result: Ok(outcome),
                        left_out,
                    },
                    Err(err) => AccountApplied {
                        account,
                        rollback,
                        result: Err(err),
                        left_out: left_out_now,
                    },
                }
            }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    let mut accounts = results;
    accounts.extend(
        unreachable
            .into_iter()
            .map(|(account, why)| AccountApplied {
                rollback: apply::account_rollback_path(&dir, &account),
                result: Err(EngineError::NotEntered {
                    account: account.clone(),
                    why,
                }),
                account,
                left_out: Vec::new(),
            }),
    );
    accounts.sort_by(|a, b| a.account.cmp(&b.account));
    Ok(ApplyRun::AppliedAccounts {
        plan,
        rollback_dir: dir,
        accounts,
    })
}

/// `apply --check` of a plan over several accounts: every account with an enabled cut is entered and
/// checked (drift, and a dry run of each cut where the API has one); each problem is named
/// `<account>:<cut id>`. An account that cannot be entered is a refusal: nothing can be said of it.
pub async fn check(
    session: &AwsSession,
    registry: &Registry,
    plan: Plan,
    selection: &crate::plan::select::Selection,
    parallelism: usize,
    reporter: &dyn Reporter,
) -> Result<apply::CheckReport, EngineError> {
    let (me, role) = operator_and_role(session, plan.role.as_deref()).await?;
    let selected: Vec<Plan> = plan
        .per_account()
        .into_iter()
        .map(|account| apply::select(account, selection, registry).0)
        .collect();
    reporter.event(&apply::started(
        "apply --check",
        true,
        selected
            .iter()
            .flat_map(|account| account.enabled_cuts().map(|cut| cut.kind.as_str())),
    ));
    let mut drift = apply::DriftCheck::default();
    let mut underived = Vec::new();
    let mut permissions = Vec::new();
    let mut refusals = Vec::new();
    for account in selected {
        if account.enabled_cuts().next().is_none() {
            continue;
        }
        let entered = match enter(session, &me, &account.account, &role).await {
            Ok((entered, _)) => entered,
            Err(why) => {
                refusals.push((
                    account.account.clone(),
                    EngineError::Refused {
                        message: format!("cannot enter the account: {why}"),
                    },
                ));
                continue;
            }
        };
        let named = |id: &str| format!("{}:{id}", account.account);
        let (found, derived) = apply::check_live(
            &entered,
            registry,
            &account,
            &std::collections::HashMap::new(),
            parallelism,
        )
        .await;
        underived.extend(derived.into_iter().map(|mut u| {
            u.id = named(&u.id);
            u
        }));
        drift.drifted.extend(found.drifted.into_iter().map(|mut d| {
            d.id = named(&d.id);
            d
        }));
        drift.unverifiable.extend(
            found
                .unverifiable
                .into_iter()
                .map(|(id, err)| (named(&id), err)),
        );
        permissions.extend(
            apply::check_permissions(&entered, registry, &account, parallelism)
                .await
                .into_iter()
                .map(|(id, check)| (named(&id), check)),
        );
    }
    if !refusals.is_empty() {
        return Err(EngineError::Accounts {
            plan: PathBuf::from("(apply --check)"),
            refusals,
        });
    }
    Ok(apply::CheckReport {
        plan,
        drift,
        underived,
        permissions,
    })
}

/// Restore of one account's rollback file: the file's authenticated header names the account. Given
/// `--role`, or when apply recorded the role it entered the account through (a run over an
/// organization), an account that is not the credentials' own is entered through that role (and
/// checked, as always, to be the account the file names) before the one-file sequence runs; otherwise
/// the credentials must be the account's own.
pub async fn restore_file(
    session: &AwsSession,
    registry: &Registry,
    request: &RestoreRequest,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<RestoreRun, EngineError> {
    let header = match file_header(&request.rollback, request)? {
        Some(header) if request.role.is_some() || header.member_role.is_some() => header,
        _ => return restore::run_one(session, registry, request, operator, stop, reporter).await,
    };
    let role = role_for(&request.rollback, &header, request, reporter);
    let entered = enter_for_file(session, &request.rollback, &header.account, &role).await?;
    restore::run_one(&entered, registry, request, operator, stop, reporter).await
}

/// Enters the account a rollback file was written for through `role` (the credentials' own session
/// when it is their account), saying which file needed it when it cannot.
async fn enter_for_file<'a>(
    session: &'a AwsSession,
    file: &Path,
    account: &str,
    role: &str,
) -> Result<AccountSession<'a>, EngineError> {
    let me = session
        .caller_identity()
        .await
        .map_err(|err| EngineError::identity(session, err))?;
    let (entered, _) =
        enter(session, &me, account, role)
            .await
            .map_err(|why| EngineError::Refused {
                message: format!(
                    "{}: cannot enter account {account}, which the file was written for: {why}",
                    file.display()
                ),
            })?;
    Ok(entered)
}

/// The role a rollback file records apply entered its account through, checked: apply records only a
/// role name the plan reader accepted, so anything else is not apply's and is refused, with `fix`.
fn recorded_role(
    contents: &crate::journal::JournalContents,
    fix: &str,
) -> Result<Option<String>, EngineError> {
    match contents.member_role() {
        Some(role) if !crate::plan::is_role_name(role) => Err(EngineError::Refused {
            message: format!(
                "{}: its header's member_role `{}` is not an IAM role name, which apply never writes\n  fix: {fix}",
                contents.path.display(),
                crate::report::escape::field(role)
            ),
        }),
        role => Ok(role.map(str::to_string)),
    }
}

/// The session to look at one rollback file's account with (watch, verify): the credentials' own, or,
/// when the file records the role apply entered its account through (a run over an organization) and
/// names another account, that account entered through the role, as restore enters it. The caller
/// checks, as always, that the session is the file's account.
pub async fn session_for_file<'a>(
    session: &'a AwsSession,
    contents: &crate::journal::JournalContents,
    account: &str,
) -> Result<AccountSession<'a>, EngineError> {
    let fix = "look at the file with `hikkonuki show`, and use the account's own credentials";
    match recorded_role(contents, fix)? {
        Some(role) => enter_for_file(session, &contents.path, account, &role).await,
        None => Ok(AccountSession::Own(session)),
    }
}

/// Refuses a directory of several accounts' rollback files where a command looks at one account's
/// file at a time (watch, verify), saying how to go on.
pub fn one_file_at_a_time(path: &Path, command: &str) -> Result<(), EngineError> {
    if path.is_dir() {
        return Err(EngineError::Refused {
            message: format!(
                "{}: a directory of several accounts' rollback files (a run over an organization); {command} looks at one account's file at a time\n  fix: hikkonuki {command} {}/<account>.rollback.yaml for each account (with these credentials: it is entered through the role its file records)",
                path.display(),
                path.display()
            ),
        });
    }
    Ok(())
}

/// The rollback files of a directory apply wrote: `<account>.rollback.yaml`, in account order. Only
/// regular files named so are taken; anything else there is ignored.
fn rollback_files(dir: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let refused = |why: String| EngineError::Refused {
        message: format!(
            "{}: {why}\n  fix: give the directory apply wrote (default: <plan>.rollback/ beside the plan), or one account's rollback file in it",
            dir.display()
        ),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| refused(format!("cannot be read: {err}")))?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".rollback.yaml"))
                .is_some_and(crate::plan::is_account_id)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(refused("holds no <account>.rollback.yaml file".into()));
    }
    Ok(files)
}

/// Restore of a directory of rollback files (see the module documentation). Each file is restored in
/// the account its header names, which must be the account the file is named for, entered through
/// `--role`, or the role apply recorded there, or the default. Every account is prepared (and its
/// credentials checked) before the one confirmation; an account that fails is reported and the others
/// are restored.
pub async fn restore(
    session: &AwsSession,
    registry: &Registry,
    request: &RestoreRequest,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<RestoreRun, EngineError> {
    let files = rollback_files(&request.rollback)?;
    let me = session
        .caller_identity()
        .await
        .map_err(|err| EngineError::identity(session, err))?;

    let mut done: Vec<AccountRestored> = Vec::new();
    let mut ready: Vec<(restore::Prepared, AccountSession<'_>, PathBuf)> = Vec::new();
    for file in files {
        // The account is the one the file's header names (read again, authenticated, by prepare); the
        // file name is only how it was found.
        let header = match file_header(&file, request) {
            // Apply names each file for its account: a header naming another one is a file placed or
            // renamed there, which would have restore act in whichever account it names.
            Ok(Some(header)) if header.account != file_account(&file) => {
                done.push(AccountRestored {
                    account: file_account(&file),
                    result: Err(EngineError::Refused {
                        message: format!(
                            "{}: named for account {} but its header names account {}: not written there by apply\n  fix: put it back under its own name, or restore it on its own after checking it with `hikkonuki show`",
                            file.display(),
                            file_account(&file),
                            header.account
                        ),
                    }),
                    rollback: file,
                });
                continue;
            }
            Ok(header) => header,
            Err(err) => {
                done.push(AccountRestored {
                    account: file_account(&file),
                    rollback: file,
                    result: Err(err),
                });
                continue;
            }
        };
        let Some(header) = header else {
            done.push(AccountRestored {
                account: file_account(&file),
                rollback: file,
                result: Ok((RestoreWork::default(), None)),
            });
            continue;
        };
        let role = role_for(&file, &header, request, reporter);
        let account = header.account;
        let (entered, _) = match enter(session, &me, &account, &role).await {
            Ok(entered) => entered,
            Err(why) => {
                done.push(AccountRestored {
                    account,
                    rollback: file,
                    result: Err(EngineError::Refused {
                        message: format!("cannot enter the account: {why}"),
                    }),
                });
                continue;
            }
        };
        let one = RestoreRequest {
            rollback: file.clone(),
            ..request.clone()
        };
        let scoped = InAccount::new(reporter, &account);
        match restore::prepare(&entered, registry, &one, &scoped).await {
            Ok(restore::Preparation::Nothing(work)) => done.push(AccountRestored {
                account,
                rollback: file,
                result: Ok((work, None)),
            }),
            Ok(restore::Preparation::Ready(prepared)) => {
                scoped_review(operator, &prepared.work);
                if prepared.work.pending.is_empty() || request.dry_run {
                    done.push(AccountRestored {
                        account,
                        rollback: file,
                        result: Ok((prepared.work, None)),
                    });
                } else {
                    ready.push((*prepared, entered, file));
                }
            }
            Err(err) => done.push(AccountRestored {
                account,
                rollback: file,
                result: Err(err),
            }),
        }
    }

    if !ready.is_empty() {
        let organization = match crate::services::common::organization::organization(
            &session.region(session.home_region()),
        )
        .await
        {
            crate::services::common::policy_principals::Organization::Member(id) => id,
            // Outside an organization the operator confirms with their own account ID.
            _ => me.account.clone(),
        };
        let mut all = RestoreWork::default();
        for (prepared, _, _) in &ready {
            all.pending.extend(prepared.work.pending.iter().cloned());
            // A file that does not authenticate (--force) has what it puts back shown whole, under its
            // account's name (cut IDs do not say the account), as that file restored on its own would.
            if prepared.work.unauthenticated {
                operator.review_unauthenticated(&prepared.account, &prepared.work);
            }
        }
        operator
            .confirm_restore(&organization, &all)
            .map_err(EngineError::Declined)?;
        reporter.event(&apply::started(
            "restore",
            false,
            all.pending.iter().map(|item| item.cut.kind.as_str()),
        ));
        // The accounts are undone side by side, those that fence others (an organization policy
        // attached to members) after the rest, as one account lifts its organization-level cuts last:
        // every member is given back while the fence still stands.
        let (fencing, fenced): (Vec<_>, Vec<_>) = ready
            .into_iter()
            .partition(|(prepared, _, _)| fences_other_accounts(registry, &prepared.work));
        for wave in [fenced, fencing] {
            let results: Vec<AccountRestored> = stream::iter(wave)
                .map(|(prepared, entered, file)| async move {
                    let account = prepared.account.clone();
                    let scoped = InAccount::new(reporter, &account);
                    let result = restore::perform(&entered, registry, prepared, stop, &scoped)
                        .await
                        .map(|(work, outcome)| (work, Some(outcome)));
                    AccountRestored {
                        account,
                        rollback: file,
                        result,
                    }
                })
                .buffer_unordered(4)
                .collect()
                .await;
            done.extend(results);
        }
    }
    done.sort_by(|a, b| a.rollback.cmp(&b.rollback));
    if request.dry_run {
        let works = done
            .iter()
            .filter_map(|item| Some((item.account.as_str(), &item.result.as_ref().ok()?.0)));
        restore::report_dry_run(works, reporter);
    }
    Ok(RestoreRun::RestoredAccounts {
        accounts: done,
        dry_run: request.dry_run,
    })
}

/// True when an account's pending undos include a cut of the organization phase: one that acts on
/// other accounts (a policy attached to them), whose undo comes after theirs.
fn fences_other_accounts(registry: &Registry, work: &RestoreWork) -> bool {
    work.pending.iter().any(|item| {
        registry
            .get(&item.cut.kind)
            .is_some_and(|kind| kind.info().phase == Phase::Organization)
    })
}

fn scoped_review(operator: &dyn Operator, work: &RestoreWork) {
    if !work.kept.is_empty() || !work.irreversible.is_empty() {
        operator.review_restore(work);
    }
}

/// The account a file's name gives, for reporting a file whose header cannot be read.
fn file_account(file: &Path) -> String {
    file.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".rollback.yaml"))
        .unwrap_or("?")
        .to_string()
}

/// What a rollback file's authenticated header says about where it is restored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileHeader {
    /// The account the file was written for.
    pub account: String,
    /// The role apply entered the account through (a run over an organization), when the file
    /// authenticates.
    pub member_role: Option<String>,
}

/// The account a rollback file's authenticated header names, and the role it records; `None` for a
/// file that records nothing (apply killed before its header: nothing was cut).
pub(crate) fn file_header(
    file: &Path,
    request: &RestoreRequest,
) -> Result<Option<FileHeader>, EngineError> {
    if std::fs::symlink_metadata(file).is_ok_and(|meta| meta.len() == 0) {
        return Ok(None);
    }
    let (contents, _) = match crate::journal::read_path(file, &request.keys, request.force) {
        Err(crate::journal::JournalError::NothingRecorded { .. }) => return Ok(None),
        read => read?,
    };
    if contents.records.is_empty() {
        return Ok(None);
    }
    let member_role = recorded_role(
        &contents,
        "restore with --role NAME (the role the plan was made with) after checking the file with `hikkonuki show`",
    )?;
    Ok(Some(FileHeader {
        account: restore::rollback_account(&contents, file)?,
        member_role,
    }))
}

/// The role restore enters a file's account through: `--role` when given (the operator's word wins,
/// with a warning when apply recorded another), else the role apply recorded, else the default.
fn role_for(
    file: &Path,
    header: &FileHeader,
    request: &RestoreRequest,
    reporter: &dyn Reporter,
) -> String {
    match (&request.role, &header.member_role) {
        (Some(given), Some(recorded)) if given != recorded => {
            reporter.event(&Event::Warning {
                message: format!(
                    "{}: restore enters account {} through role {given} (--role), but apply entered it through {recorded}: a quarantine lets through only the plan's role",
                    file.display(),
                    header.account
                ),
            });
            given.clone()
        }
        (Some(given), _) => given.clone(),
        (None, Some(recorded)) => recorded.clone(),
        (None, None) => DEFAULT_MEMBER_ROLE.to_string(),
    }
}

/// How `accounts` worked on side by side share a width of `budget`: how many accounts at once, and
/// each one's width (at least 1 of each).
fn share_among_accounts(budget: usize, accounts: usize) -> (usize, usize) {
    let budget = budget.max(1);
    let at_once = accounts.clamp(1, budget);
    (at_once, (budget / at_once).max(1))
}

/// [`share_among_accounts`] for apply: how many accounts at once, and each account's width. One account
/// keeps the whole (the default still widens over its regions); several share [`Parallelism::over`]`(1)`,
/// as each brings its own regions' buckets but the client's share is one.
pub(crate) fn side_by_side(parallelism: Parallelism, accounts: usize) -> (usize, Parallelism) {
    let (at_once, each) = share_among_accounts(parallelism.over(1), accounts);
    if accounts <= 1 {
        (at_once, parallelism)
    } else {
        (at_once, Parallelism::AtMost(each))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::restore::{Certainty, PendingRestore};
    use crate::plan::Cut;
    use crate::report::RecordingReporter;

    fn pending(kind: &str) -> PendingRestore {
        PendingRestore {
            cut: Cut {
                id: format!("{kind}/global/x"),
                kind: kind.into(),
                region: GLOBAL_REGION.into(),
                target: "x".into(),
                enabled: true,
                reversible: true,
                reason: "r".into(),
                before: serde_json::json!({}).into(),
                after: serde_json::json!({}).into(),
            },
            certainty: Certainty::Completed,
            undo: None,
            generation: 1,
        }
    }

    /// An account whose pending undos lift an organization policy is undone after the others: the
    /// fence comes down once every member is given back.
    #[test]
    fn only_an_account_lifting_an_organization_policy_fences_others() {
        let registry = Registry::standard();
        let work = |kinds: &[&str]| RestoreWork {
            pending: kinds.iter().map(|kind| pending(kind)).collect(),
            ..RestoreWork::default()
        };
        assert!(fences_other_accounts(
            &registry,
            &work(&["sg_revoke", "org_quarantine"])
        ));
        assert!(!fences_other_accounts(
            &registry,
            &work(&["sg_revoke", "iam_key_deactivate"])
        ));
        assert!(!fences_other_accounts(&registry, &work(&[])));
    }

    /// `--role` wins over the role a file records, with a warning naming both; the recorded role is used
    /// when none is given; the default when neither names one.
    #[test]
    fn restore_enters_through_the_given_role_else_the_recorded_one_else_the_default() {
        let file = Path::new("plans/p.rollback/111111111111.rollback.yaml");
        let header = |role: Option<&str>| FileHeader {
            account: "111111111111".into(),
            member_role: role.map(str::to_string),
        };
        let request = |role: Option<&str>| RestoreRequest {
            role: role.map(str::to_string),
            ..RestoreRequest::default()
        };
        let reporter = RecordingReporter::default();
        assert_eq!(
            role_for(file, &header(Some("Responder")), &request(None), &reporter),
            "Responder"
        );
        assert_eq!(
            role_for(file, &header(None), &request(None), &reporter),
            DEFAULT_MEMBER_ROLE
        );
        assert_eq!(
            role_for(file, &header(None), &request(Some("Other")), &reporter),
            "Other"
        );
        assert_eq!(
            role_for(
                file,
                &header(Some("Other")),
                &request(Some("Other")),
                &reporter
            ),
            "Other"
        );
        assert!(
            reporter.events.lock().unwrap().is_empty(),
            "no warning while they agree"
        );
        assert_eq!(
            role_for(
                file,
                &header(Some("Responder")),
                &request(Some("Other")),
                &reporter
            ),
            "Other"
        );
        let warnings = reporter.events.lock().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            matches!(&warnings[0], Event::Warning { message } if message.contains("account 111111111111 through role Other (--role), but apply entered it through Responder")),
            "{warnings:?}"
        );
    }
}
