//! `ses_sending_pause`: turn SES sending off for the whole account in a region
//! (SESv2 PutAccountSendingAttributes SendingEnabled=false), so a stolen key or a compromised application
//! cannot send mail (phishing, spam, data out by email) from the account's verified domains.
//!
//! Undo turns sending back on, unless AWS itself has since shut the account's sending down
//! (EnforcementStatus SHUTDOWN): AWS refuses to resume such an account, and only AWS Support can, so
//! restore says so instead of trying. PROBATION is a review under which the account still sends, so a
//! restore under PROBATION resumes sending as it would for HEALTHY.
//!
//! The same struct is an [`Inspection`] under the same name: when the region's SES account state cannot
//! be read because the endpoint has no such API (moto answers GetAccount with a bare HTTP 404 unless the
//! test harness's model of it is loaded), the responder gets a Medium finding ("sending was not paused;
//! pause it by hand") instead of a failed plan. A discovery error would make every plan against that
//! endpoint exit 1 for a path that was never there; a finding keeps the gap visible and names the manual
//! step. Any other failure (AccessDenied, throttling) still fails discovery.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::missing_api::{is_missing_operation, unread_finding};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct SesSendingPause;

static INFO: KindInfo = KindInfo {
    name: "ses_sending_pause",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Ses,
};

/// The one resource this kind acts on in a region: the account's SES sending switch.
pub const TARGET: &str = "ses-account";

/// The account's SES sending state in one region, as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendingState {
    pub sending_enabled: bool,
    /// HEALTHY, PROBATION or SHUTDOWN (AWS's own enforcement); absent when AWS does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement_status: Option<String>,
    pub production_access_enabled: bool,
}

/// What restore needs: sending was on before the cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub sending_enabled_before: bool,
}

/// What reading the account state gave.
enum AccountRead {
    State(SendingState),
    /// The endpoint has no GetAccount (see the module comment).
    Unavailable,
}

async fn read_account(ctx: &RegionCtx) -> Result<AccountRead, ServiceError> {
    match ctx.sesv2().get_account().send().await {
        Ok(out) => Ok(AccountRead::State(SendingState {
            sending_enabled: out.sending_enabled(),
            enforcement_status: out.enforcement_status().map(str::to_string),
            production_access_enabled: out.production_access_enabled(),
        })),
        Err(err) if is_missing_operation(&err) => Ok(AccountRead::Unavailable),
        Err(err) => Err(ServiceError::from_sdk("ses:GetAccount", err)),
    }
}

async fn set_sending(ctx: &RegionCtx, enabled: bool) -> Result<(), ServiceError> {
    ctx.sesv2()
        .put_account_sending_attributes()
        .sending_enabled(enabled)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ses:PutAccountSendingAttributes", err))?;
    Ok(())
}

/// AWS has shut the account's sending down: only AWS Support can resume it. GetAccount documents three
/// statuses: HEALTHY; PROBATION, "placing your account under review" (sending still works); and SHUTDOWN,
/// "your account's ability to send email is currently paused"
/// (docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html, EnforcementStatus).
fn shut_down_by_aws(state: &SendingState) -> bool {
    state
        .enforcement_status
        .as_deref()
        .is_some_and(|status| status.eq_ignore_ascii_case("SHUTDOWN"))
}

/// AWS enforces anything at all (under review or shut down): said in the reason, since a review can end
/// in a shutdown that restore could not undo.
fn under_enforcement(state: &SendingState) -> bool {
    state
        .enforcement_status
        .as_deref()
        .is_some_and(|status| !status.eq_ignore_ascii_case("HEALTHY"))
}

/// The proposal for a region, or nothing when sending is already off or SES is not in use there
/// (no production access and no identity: nothing could be sent).
pub fn propose(
    region: &str,
    state: &SendingState,
    identities: usize,
) -> Option<Proposal<SendingState>> {
    if !state.sending_enabled || (!state.production_access_enabled && identities == 0) {
        return None;
    }
    let mut reason = format!(
        "SES sending is on in {region} ({identities} email identities, {}): anyone holding sending rights can mail from the account's domains. Pausing turns sending off for the whole account in this region; mail in flight is not recalled.",
        if state.production_access_enabled {
            "production access"
        } else {
            "sandbox"
        }
    );
    if under_enforcement(state) {
        reason.push_str(&format!(
            " AWS enforcement status is {}: if AWS pauses the account meanwhile, restore cannot resume sending; only AWS Support can.",
            state.enforcement_status.as_deref().unwrap_or_default()
        ));
    }
    let after = SendingState {
        sending_enabled: false,
        ..state.clone()
    };
    Some(Proposal {
        target: TARGET.into(),
        reason,
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

#[async_trait]
impl CutKind for SesSendingPause {
    type State = SendingState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<SendingState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if cut.target != TARGET {
            return Err(format!("the target must be `{TARGET}`"));
        }
        if !before.sending_enabled || after.sending_enabled {
            return Err(
                "`before` must have sending_enabled: true and `after` sending_enabled: false"
                    .into(),
            );
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<SendingState>>, ServiceError> {
        let state = match read_account(ctx).await? {
            AccountRead::State(state) => state,
            // Reported by the inspection below, as a finding.
            AccountRead::Unavailable => return Ok(vec![]),
        };
        if !state.sending_enabled {
            return Ok(vec![]);
        }
        let identities = super::list_identities(ctx).await?.len();
        Ok(propose(&ctx.region, &state, identities)
            .into_iter()
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        _cut: &TypedCut<SendingState>,
    ) -> Result<Option<SendingState>, ServiceError> {
        match read_account(ctx).await? {
            AccountRead::State(state) => Ok(Some(state)),
            AccountRead::Unavailable => Err(ServiceError::local(
                "ses:GetAccount",
                format!(
                    "the SES account state in {} cannot be read at this endpoint",
                    ctx.region
                ),
            )),
        }
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SendingState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        set_sending(ctx, false).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &TypedCut<SendingState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            sending_enabled_before: cut.before.sending_enabled,
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let region = &ctx.region;
        if !undo.sending_enabled_before {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "SES sending in {region} was off before the cut; left off"
                )],
            });
        }
        let state = match read_account(ctx).await? {
            AccountRead::State(state) => state,
            AccountRead::Unavailable => {
                return Err(ServiceError::local(
                    "ses:GetAccount",
                    format!(
                        "the SES account state in {region} cannot be read at this endpoint; turn sending back on by hand (aws sesv2 put-account-sending-attributes --sending-enabled --region {region})"
                    ),
                ));
            }
        };
        if state.sending_enabled {
            return Ok(UndoOutcome {
                notes: vec![format!("SES sending already on in {region}")],
            });
        }
        if shut_down_by_aws(&state) {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "SES sending in {region} left off: AWS enforcement status is {}, so AWS has paused the account's sending and only AWS Support can resume it",
                    state.enforcement_status.as_deref().unwrap_or_default()
                )],
            });
        }
        set_sending(ctx, true).await?;
        Ok(UndoOutcome {
            notes: vec![format!("SES sending turned back on in {region}")],
        })
    }
}

#[async_trait]
impl Inspection for SesSendingPause {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn global(&self) -> bool {
        false
    }

    /// Only the "cannot be read" case: every other outcome is the kind's discovery (a cut, nothing to
    /// cut, or a discovery error), so nothing is reported twice.
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        Ok(match read_account(ctx).await {
            Ok(AccountRead::Unavailable) => vec![unread_finding(
                INFO.name,
                &ctx.region,
                TARGET,
                Severity::Medium,
                format!(
                    "SES account state could not be read in {} (GetAccount is not available at this endpoint): sending was not paused; pause it by hand (aws sesv2 put-account-sending-attributes --no-sending-enabled --region {}).",
                    ctx.region, ctx.region
                ),
            )],
            _ => vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::Client;
    use aws_sdk_sesv2::operation::get_account::{GetAccountError, GetAccountOutput};
    use aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput;
    use aws_sdk_sesv2::operation::put_account_sending_attributes::PutAccountSendingAttributesOutput;
    use aws_sdk_sesv2::types::IdentityInfo;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::aws::CallerIdentity;

    fn scope() -> DiscoveryScope {
        DiscoveryScope {
            caller: CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/responder".into(),
                user_id: "AIDA".into(),
                access_key_id: None,
                source: None,
                entered_by: None,
                profile_roles: Vec::new(),
            },
            keep_cidrs: vec![],
            options: Default::default(),
            member_role: crate::plan::DEFAULT_MEMBER_ROLE.into(),
            created: "2026-11-30T11:54:00Z".into(),
        }
    }

    fn state(enabled: bool, enforcement: &str) -> SendingState {
        SendingState {
            sending_enabled: enabled,
            enforcement_status: Some(enforcement.into()),
            production_access_enabled: true,
        }
    }

    fn cut() -> TypedCut<SendingState> {
        let proposed = propose("us-east-1", &state(true, "HEALTHY"), 1).unwrap();
        TypedCut {
            id: "ses_sending_pause/us-east-1/ses-account".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    fn account(enabled: bool, enforcement: &'static str) -> GetAccountOutput {
        GetAccountOutput::builder()
            .sending_enabled(enabled)
            .enforcement_status(enforcement)
            .production_access_enabled(true)
            .dedicated_ip_auto_warmup_enabled(false)
            .build()
    }

    #[test]
    fn only_regions_where_ses_is_used_and_sending_is_on_are_proposed() {
        assert_eq!(propose("us-east-1", &state(false, "HEALTHY"), 3), None);
        let sandbox_unused = SendingState {
            production_access_enabled: false,
            ..state(true, "HEALTHY")
        };
        assert_eq!(propose("us-east-1", &sandbox_unused, 0), None);
        assert!(propose("us-east-1", &sandbox_unused, 1).is_some());
        let cut = cut();
        assert_eq!(SesSendingPause.check_states(&cut), Ok(()));
        assert_eq!(cut.after, state(false, "HEALTHY"));
        let probation = propose("us-east-1", &state(true, "PROBATION"), 1).unwrap();
        assert!(probation.reason.contains("only AWS Support"));
    }

    #[tokio::test]
    async fn mocked_discovery_reads_the_account_and_counts_identities() {
        let get = mock!(Client::get_account).then_output(|| account(true, "HEALTHY"));
        let list = mock!(Client::list_email_identities).then_output(|| {
            ListEmailIdentitiesOutput::builder()
                .email_identities(
                    IdentityInfo::builder()
                        .identity_name("alerts@example.com")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&get, &list]);
        let ctx = RegionCtx::for_tests("eu-west-1").mock_sesv2(client);
        let proposed = SesSendingPause.discover(&ctx, &scope()).await.unwrap();
        assert_eq!((get.num_calls(), list.num_calls()), (1, 1));
        assert_eq!(proposed.len(), 1);
        assert_eq!(proposed[0].target, TARGET);
        assert_eq!(proposed[0].before, state(true, "HEALTHY"));
        assert!(proposed[0].reason.contains("eu-west-1"));
    }

    #[tokio::test]
    async fn mocked_apply_sends_sending_enabled_false_and_undo_sends_true() {
        let off = mock!(Client::put_account_sending_attributes)
            .match_requests(|req| req.sending_enabled() == Some(false))
            .then_output(|| PutAccountSendingAttributesOutput::builder().build());
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&off]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let record = SesSendingPause.apply(&ctx, &cut()).await.unwrap();
        assert_eq!(off.num_calls(), 1);

        let get = mock!(Client::get_account).then_output(|| account(false, "HEALTHY"));
        let on = mock!(Client::put_account_sending_attributes)
            .match_requests(|req| req.sending_enabled() == Some(true))
            .then_output(|| PutAccountSendingAttributesOutput::builder().build());
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&get, &on]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let outcome = SesSendingPause.undo(&ctx, &record).await.unwrap();
        assert_eq!(on.num_calls(), 1);
        assert_eq!(
            outcome.notes,
            vec!["SES sending turned back on in us-east-1"]
        );
    }

    #[tokio::test]
    async fn mocked_undo_does_not_try_to_resume_an_account_aws_has_shut_down() {
        let get = mock!(Client::get_account).then_output(|| account(false, "SHUTDOWN"));
        let on = mock!(Client::put_account_sending_attributes)
            .then_output(|| PutAccountSendingAttributesOutput::builder().build());
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&get, &on]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let record = SesSendingPause.undo_record_for(&cut()).unwrap();
        let outcome = SesSendingPause.undo(&ctx, &record).await.unwrap();
        assert_eq!(on.num_calls(), 0);
        assert!(outcome.notes[0].contains("SHUTDOWN"));
        assert!(outcome.notes[0].contains("only AWS Support"));
    }

    /// PROBATION is a review under which the account still sends (GetAccount's EnforcementStatus):
    /// restore must resume sending, not leave the account paused until someone notices.
    #[tokio::test]
    async fn mocked_undo_resumes_sending_of_an_account_under_probation() {
        let get = mock!(Client::get_account).then_output(|| account(false, "PROBATION"));
        let on = mock!(Client::put_account_sending_attributes)
            .match_requests(|req| req.sending_enabled() == Some(true))
            .then_output(|| PutAccountSendingAttributesOutput::builder().build());
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&get, &on]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let record = SesSendingPause.undo_record_for(&cut()).unwrap();
        let outcome = SesSendingPause.undo(&ctx, &record).await.unwrap();
        assert_eq!(on.num_calls(), 1);
        assert_eq!(
            outcome.notes,
            vec!["SES sending turned back on in us-east-1"]
        );
    }

    #[tokio::test]
    async fn mocked_undo_leaves_sending_turned_on_by_hand_alone() {
        let get = mock!(Client::get_account).then_output(|| account(true, "HEALTHY"));
        let on = mock!(Client::put_account_sending_attributes)
            .then_output(|| PutAccountSendingAttributesOutput::builder().build());
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&get, &on]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let record = SesSendingPause.undo_record_for(&cut()).unwrap();
        let outcome = SesSendingPause.undo(&ctx, &record).await.unwrap();
        assert_eq!(on.num_calls(), 0);
        assert_eq!(outcome.notes, vec!["SES sending already on in us-east-1"]);
    }

    #[tokio::test]
    async fn mocked_missing_get_account_is_a_finding_not_a_discovery_error() {
        let missing = mock!(Client::get_account).then_http_response(|| {
            HttpResponse::new(StatusCode::try_from(404).unwrap(), SdkBody::from("<html>"))
        });
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&missing]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        assert_eq!(SesSendingPause.discover(&ctx, &scope()).await, Ok(vec![]));
        let findings = SesSendingPause.inspect(&ctx, &scope(), &[]).await.unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Medium);
        assert!(findings[0].message.contains("sending was not paused"));
    }

    #[tokio::test]
    async fn mocked_access_denied_on_get_account_is_still_a_discovery_error() {
        let denied = mock!(Client::get_account).then_error(|| {
            GetAccountError::generic(
                aws_sdk_sesv2::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("no")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, &[&denied]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(client);
        let err = SesSendingPause.discover(&ctx, &scope()).await.unwrap_err();
        assert!(err.is_access_denied());
        assert_eq!(
            SesSendingPause.inspect(&ctx, &scope(), &[]).await.unwrap(),
            vec![]
        );
    }
}
