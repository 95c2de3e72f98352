//! The evidence phase end to end on the emulator (issue 17): `evidence_trail_on`, `evidence_flow_logs` and
//! `evidence_snapshots` plan → apply → restore. A plain restore keeps every piece of evidence; `restore
//! --stop-evidence` gives back exactly the state from before apply, except the snapshots, which restore
//! never deletes. Then the trail started rather than created, and undo's conflict rule: a trail pointed
//! elsewhere, an evidence snapshot deleted since apply.

use predicates::str::contains;

use crate::emulator::Emulator;
use hikkonuki::plan::{self, Cut, Plan};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const PLAN: &str = "plans/p.yaml";
const ROLLBACK: &str = "plans/p.rollback.yaml";
const KINDS: &str = "evidence_trail_on,evidence_flow_logs,evidence_snapshots";
const CREATED_TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/hikkonuki-evidence";

/// What the evidence seed made.
pub struct Seeded {
    /// A VPC with a way out (an internet gateway and a default route to it), and its instance with two
    /// EBS volumes.
    pub open_vpc: String,
    pub instance: String,
    /// A VPC with no way out, and its instance: neither recorded.
    pub closed_vpc: String,
    pub closed_instance: String,
    /// A VPC with a way out that already records all its traffic (a flow log to another bucket).
    pub recorded_vpc: String,
}

pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

async fn vpc(ec2: &aws_sdk_ec2::Client, cidr: &str, way_out: bool) -> (String, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block(cidr.replace(".0.0/16", ".1.0/24"))
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap();
    if way_out {
        let igw = ec2
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway
            .unwrap()
            .internet_gateway_id
            .unwrap();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let table = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .route_table
            .unwrap()
            .route_table_id
            .unwrap();
        ec2.create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        ec2.associate_route_table()
            .route_table_id(&table)
            .subnet_id(&subnet)
            .send()
            .await
            .unwrap();
    }
    (vpc, subnet)
}

async fn instance(ec2: &aws_sdk_ec2::Client, subnet: &str) -> String {
    use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice};
    let disk = |device: &str, size: i32| {
        BlockDeviceMapping::builder()
            .device_name(device)
            .ebs(EbsBlockDevice::builder().volume_size(size).build())
            .build()
    };
    ec2.run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .block_device_mappings(disk("/dev/sda1", 8))
        .block_device_mappings(disk("/dev/sdb", 20))
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string()
}

pub async fn seed(config: &aws_config::SdkConfig) -> Seeded {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let (open_vpc, open_subnet) = vpc(&ec2, "10.20.0.0/16", true).await;
    let instance = instance(&ec2, &open_subnet).await;
    let (closed_vpc, closed_subnet) = vpc(&ec2, "10.21.0.0/16", false).await;
    let closed_instance = self::instance(&ec2, &closed_subnet).await;
    let (recorded_vpc, _) = vpc(&ec2, "10.22.0.0/16", true).await;
    s3(config)
        .create_bucket()
        .bucket("existing-flow-logs")
        .send()
        .await
        .unwrap();
    ec2.create_flow_logs()
        .resource_ids(&recorded_vpc)
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination("arn:aws:s3:::existing-flow-logs")
        .send()
        .await
        .unwrap();
    Seeded {
        open_vpc,
        instance,
        closed_vpc,
        closed_instance,
        recorded_vpc,
    }
}

/// Every trail (with its status), bucket (with its public access block and policy), flow log and evidence
/// snapshot of the account in the region, one sorted line each, read with the SDK straight from the emulator.
pub async fn evidence_state(config: &aws_config::SdkConfig) -> Vec<String> {
    let cloudtrail = aws_sdk_cloudtrail::Client::new(config);
    let ec2 = aws_sdk_ec2::Client::new(config);
    let s3 = s3(config);
    let mut lines = Vec::new();
    let trails = cloudtrail
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .unwrap();
    for trail in trails.trail_list() {
        let arn = trail.trail_arn().unwrap();
        let status = cloudtrail
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .unwrap();
        lines.push(format!(
            "trail {arn} multi-region={:?} validation={:?} bucket={:?} logging={:?}",
            trail.is_multi_region_trail(),
            trail.log_file_validation_enabled(),
            trail.s3_bucket_name(),
            status.is_logging()
        ));
    }
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        let name = bucket.name().unwrap();
        let block = s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|out| out.public_access_block_configuration().cloned());
        let policy = s3
            .get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|out| out.policy().map(str::to_string));
        lines.push(format!("bucket {name} block={block:?} policy={policy:?}"));
    }
    let logs = ec2.describe_flow_logs().send().await.unwrap();
    for log in logs.flow_logs() {
        lines.push(format!(
            "flow log of {:?} traffic={:?} to {:?} {:?} status={:?}",
            log.resource_id(),
            log.traffic_type(),
            log.log_destination_type(),
            log.log_destination(),
            log.flow_log_status()
        ));
    }
    // The emulator owns a snapshot behind each of its stock AMIs: only the incident's are listed.
    let snapshots = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values("hikkonuki:incident")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for snapshot in snapshots.snapshots() {
        let mut tags: Vec<String> = snapshot
            .tags()
            .iter()
            .map(|t| format!("{}={}", t.key().unwrap(), t.value().unwrap()))
            .collect();
        tags.sort();
        lines.push(format!(
            "snapshot {} of {:?} tags=[{}]",
            snapshot.snapshot_id().unwrap(),
            snapshot.volume_id(),
            tags.join(", ")
        ));
    }
    lines.sort();
    lines
}

fn read_plan(emulator: &Emulator) -> Plan {
    plan::file::read(&emulator.path(PLAN), &hikkonuki::services::registry()).unwrap()
}

fn ids(plan: &Plan) -> Vec<&str> {
    plan.cuts.iter().map(|c| c.id.as_str()).collect()
}

fn cut<'a>(plan: &'a Plan, id: &str) -> &'a Cut {
    plan.cuts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("the plan has no cut {id}: {:?}", ids(plan)))
}

fn without_snapshots(state: &[String]) -> Vec<String> {
    state
        .iter()
        .filter(|line| !line.starts_with("snapshot "))
        .cloned()
        .collect()
}

/// The incident's snapshot IDs in the emulator, sorted.
pub async fn snapshot_ids(config: &aws_config::SdkConfig) -> Vec<String> {
    evidence_state(config)
        .await
        .iter()
        .filter_map(|line| line.strip_prefix("snapshot "))
        .map(|rest| rest.split(' ').next().unwrap().to_string())
        .collect()
}

fn snapshots(state: &[String]) -> Vec<String> {
    state
        .iter()
        .filter(|line| line.starts_with("snapshot "))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_is_kept_by_restore_and_stopped_exactly_with_stop_evidence_but_snapshots_stay() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    let original = evidence_state(&config).await;

    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", KINDS, "--incident", "INC-7"])
        .assert()
        .code(0);
    let plan = read_plan(&emulator);
    let trail = cut(&plan, &format!("evidence_trail_on/global/{CREATED_TRAIL}"));
    let bucket = trail.after.value()["bucket"].as_str().unwrap().to_string();
    assert!(
        bucket.starts_with(&format!("hikkonuki-evidence-{ACCOUNT}-"))
            && bucket.ends_with("-us-east-1"),
        "{bucket}"
    );
    let flow = cut(
        &plan,
        &format!("evidence_flow_logs/{REGION}/{}", seeded.open_vpc),
    );
    assert_eq!(
        flow.after.value()["bucket"],
        bucket.as_str(),
        "one bucket per region"
    );
    let snapshot = cut(
        &plan,
        &format!("evidence_snapshots/{REGION}/{}", seeded.instance),
    );
    assert!(
        snapshot.reason.contains("2 EBS volume(s), 28 GiB"),
        "{}",
        snapshot.reason
    );
    assert!(snapshot.reason.contains("hikkonuki:incident=INC-7"));
    for quiet in [
        &seeded.closed_vpc,
        &seeded.closed_instance,
        &seeded.recorded_vpc,
    ] {
        assert!(
            !ids(&plan).iter().any(|id| id.ends_with(quiet.as_str())),
            "{quiet} has nothing to record or records already: {:?}",
            ids(&plan)
        );
    }
    assert!(
        plan.findings.iter().any(|f| f.check == "evidence_flow_logs"
            && f.resource == seeded.recorded_vpc
            && f.message.contains("already records all its traffic")),
        "{:?}",
        plan.findings
    );

    emulator.apply(PLAN).assert().code(0);
    let applied = evidence_state(&config).await;
    let expect = [
        format!(
            "trail {CREATED_TRAIL} multi-region=Some(true) validation=Some(true) bucket=Some(\"{bucket}\") logging=Some(true)"
        ),
        format!(
            "flow log of Some(\"{}\") traffic=Some(All) to Some(S3) Some(\"arn:aws:s3:::{bucket}\") status=Some(\"ACTIVE\")",
            seeded.open_vpc
        ),
    ];
    for line in &expect {
        assert!(applied.contains(line), "{line}\nin {applied:#?}");
    }
    let bucket_line = applied
        .iter()
        .find(|l| l.starts_with(&format!("bucket {bucket} ")))
        .unwrap();
    assert!(
        bucket_line.contains("block_public_acls: Some(true)")
            && bucket_line.contains("restrict_public_buckets: Some(true)")
            && bucket_line.contains("cloudtrail.amazonaws.com")
            && bucket_line.contains("delivery.logs.amazonaws.com"),
        "{bucket_line}"
    );
    let taken = snapshots(&applied);
    assert_eq!(taken.len(), 2, "{taken:?}");
    for line in &taken {
        assert!(
            line.contains("hikkonuki:incident=INC-7")
                && line.contains(&format!("hikkonuki:instance={}", seeded.instance)),
            "{line}"
        );
    }

    // A plain restore keeps every piece of evidence, and says how to stop it.
    emulator
        .restore(ROLLBACK)
        .assert()
        .code(0)
        .stdout(contains(format!(
            "Kept in place: evidence_trail_on/global/{CREATED_TRAIL}"
        )))
        .stdout(contains("Pass --stop-evidence to lift it."))
        .stderr(contains("are kept: restore never deletes evidence"));
    assert_eq!(evidence_state(&config).await, applied);

    // With --stop-evidence, the trail, the flow log and the (empty) bucket go: the account is as before,
    // with the snapshots added.
    emulator
        .restore(ROLLBACK)
        .arg("--stop-evidence")
        .assert()
        .code(0)
        .stderr(contains(format!("trail {CREATED_TRAIL} deleted")))
        .stderr(contains(format!(
            "evidence bucket {bucket} was still empty: deleted"
        )));
    let stopped = evidence_state(&config).await;
    assert_eq!(without_snapshots(&stopped), original);
    assert_eq!(snapshots(&stopped), taken);
}

/// Seeds a stopped multi-region trail, as an account whose logging was switched off.
async fn stopped_trail(config: &aws_config::SdkConfig) -> String {
    s3(config)
        .create_bucket()
        .bucket("audit-trail-logs")
        .send()
        .await
        .unwrap();
    aws_sdk_cloudtrail::Client::new(config)
        .create_trail()
        .name("audit")
        .s3_bucket_name("audit-trail-logs")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap()
        .trail_arn()
        .unwrap()
        .to_string()
}

/// The multi-region trail `audit` (see [`stopped_trail`]), logging.
async fn logging_trail(config: &aws_config::SdkConfig) -> String {
    let audit = stopped_trail(config).await;
    aws_sdk_cloudtrail::Client::new(config)
        .start_logging()
        .name(&audit)
        .send()
        .await
        .unwrap();
    audit
}

/// `restore --stop-evidence` succeeds and gives back the account as `original` recorded it, but the
/// evidence snapshots, which restore keeps.
async fn stopped_evidence_gives_back(
    emulator: &Emulator,
    config: &aws_config::SdkConfig,
    original: &[String],
) {
    emulator
        .restore(ROLLBACK)
        .arg("--stop-evidence")
        .assert()
        .code(0);
    assert_eq!(
        without_snapshots(&evidence_state(config).await),
        without_snapshots(original)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_trail_is_started_and_stopped_again_and_changes_behind_the_tools_back_are_reported()
 {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    let audit = stopped_trail(&config).await;
    let original = evidence_state(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_trail_on,evidence_flow_logs"])
        .assert()
        .code(0);
    let plan = read_plan(&emulator);
    let started = cut(&plan, &format!("evidence_trail_on/global/{audit}"));
    assert!(
        started.reason.contains("StartLogging"),
        "{}",
        started.reason
    );
    assert!(
        !ids(&plan).contains(&format!("evidence_trail_on/global/{CREATED_TRAIL}").as_str()),
        "a stopped multi-region trail is started, not a new one made"
    );
    let bucket = cut(
        &plan,
        &format!("evidence_flow_logs/{REGION}/{}", seeded.open_vpc),
    )
    .after
    .value()["bucket"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.apply(PLAN).assert().code(0);
    let applied = evidence_state(&config).await;
    assert!(
        applied
            .iter()
            .any(|l| l.starts_with(&format!("trail {audit} ")) && l.ends_with("logging=Some(true)")),
        "{applied:#?}"
    );

    // Someone deletes the evidence flow log behind the tool's back: restore has nothing to delete and
    // says so; the trail stops logging again, as it was.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let ours: Vec<String> = ec2
        .describe_flow_logs()
        .send()
        .await
        .unwrap()
        .flow_logs()
        .iter()
        .filter(|l| l.resource_id() == Some(seeded.open_vpc.as_str()))
        .map(|l| l.flow_log_id().unwrap().to_string())
        .collect();
    ec2.delete_flow_logs()
        .set_flow_log_ids(Some(ours))
        .send()
        .await
        .unwrap();
    emulator
        .restore(ROLLBACK)
        .arg("--stop-evidence")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "{}: no flow log to {bucket} any more: nothing to delete",
            seeded.open_vpc
        )))
        .stderr(contains(format!("trail {audit} stopped logging again")));
    assert_eq!(evidence_state(&config).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_trail_pointed_at_another_bucket_after_apply_is_left_alone_by_restore() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    seed(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_trail_on"])
        .assert()
        .code(0);
    emulator.apply(PLAN).assert().code(0);
    s3(&config)
        .create_bucket()
        .bucket("someone-elses-logs")
        .send()
        .await
        .unwrap();
    aws_sdk_cloudtrail::Client::new(&config)
        .update_trail()
        .name(CREATED_TRAIL)
        .s3_bucket_name("someone-elses-logs")
        .send()
        .await
        .unwrap();
    let changed = evidence_state(&config).await;
    emulator
        .restore(ROLLBACK)
        .arg("--stop-evidence")
        .assert()
        .stderr(contains(format!(
            "conflict: trail {CREATED_TRAIL} now delivers to someone-elses-logs"
        )));
    assert_eq!(evidence_state(&config).await, changed);
}

/// Someone deletes one of an instance's evidence snapshots after apply. Restore deletes none and cannot
/// take one again: it leaves the account as it is, names the deleted snapshot as gone (a conflict, so the
/// summary lists the lost evidence) and the other as kept, rather than calling both kept.
#[tokio::test(flavor = "multi_thread")]
async fn an_evidence_snapshot_deleted_after_apply_is_reported_gone_and_the_other_kept() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_snapshots", "--incident", "INC-9"])
        .assert()
        .code(0);
    emulator.apply(PLAN).assert().code(0);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let taken = snapshot_ids(&config).await;
    assert_eq!(taken.len(), 2, "{taken:?}");
    let (deleted, kept) = (&taken[0], &taken[1]);
    ec2.delete_snapshot()
        .snapshot_id(deleted)
        .send()
        .await
        .unwrap();
    let changed = evidence_state(&config).await;
    assert_eq!(snapshots(&changed).len(), 1, "{changed:#?}");

    let gone = format!(
        "evidence snapshot {deleted} of {} (incident INC-9) was deleted after the cut; restore neither deletes nor takes snapshots",
        seeded.instance
    );
    emulator
        .restore(ROLLBACK)
        .assert()
        .code(0)
        .stderr(contains(format!("conflict: {gone}")))
        .stderr(contains(format!(
            "{}: evidence snapshots {kept} (incident INC-9) are kept: restore never deletes evidence.",
            seeded.instance
        )))
        .stdout(contains(format!(
            "  conflict: evidence_snapshots/{REGION}/{}: {gone}",
            seeded.instance
        )));
    assert_eq!(evidence_state(&config).await, changed);
}

/// An intruder who can write the trail leaves it logging and narrows what it records
/// (`PutEventSelectors` `IncludeManagementEvents=false`): the plan does not take it for evidence, creates
/// a trail of its own, and says why; restore with --stop-evidence gives the account back exactly, the
/// narrowed trail as the intruder left it (evidence of what they did).
#[tokio::test(flavor = "multi_thread")]
async fn a_logging_trail_narrowed_to_record_no_management_events_is_not_taken_for_evidence() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let audit = logging_trail(&config).await;
    let cloudtrail = aws_sdk_cloudtrail::Client::new(&config);
    cloudtrail
        .put_event_selectors()
        .trail_name(&audit)
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .include_management_events(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let original = evidence_state(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_trail_on"])
        .assert()
        .code(0);
    let plan = read_plan(&emulator);
    let created = cut(&plan, &format!("evidence_trail_on/global/{CREATED_TRAIL}"));
    assert!(
        created
            .reason
            .contains("keep no record of the intruder's API calls: audit (its event selectors leave management write events out"),
        "{}",
        created.reason
    );
    assert!(created.enabled, "{created:?}");
    emulator.apply(PLAN).assert().code(0);
    let applied = evidence_state(&config).await;
    assert!(
        applied
            .iter()
            .any(|l| l.contains("hikkonuki-evidence") && l.ends_with("logging=Some(true)")),
        "{applied:?}"
    );
    stopped_evidence_gives_back(&emulator, &config, &original).await;
}

/// The account's own trail and its flow log deliver to buckets that were deleted after: on AWS they
/// deliver nothing, and anyone may create a bucket of that name and receive what they deliver. Neither is
/// taken for evidence: the plan creates a trail and a flow log of its own, naming the ones left out, and
/// restore --stop-evidence gives the account back exactly, theirs as they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_trail_and_a_flow_log_delivering_to_buckets_the_account_does_not_own_are_not_evidence() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    logging_trail(&config).await;
    let s3 = s3(&config);
    for bucket in ["audit-trail-logs", "existing-flow-logs"] {
        s3.delete_bucket().bucket(bucket).send().await.unwrap();
    }
    let original = evidence_state(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_trail_on,evidence_flow_logs"])
        .assert()
        .code(0);
    let plan = read_plan(&emulator);
    let created = cut(&plan, &format!("evidence_trail_on/global/{CREATED_TRAIL}"));
    assert!(
        created.reason.contains(
            "deliver where this account cannot keep the record: audit (it delivers to audit-trail-logs, a bucket this account does not own"
        ),
        "{}",
        created.reason
    );
    let recorded = cut(
        &plan,
        &format!("evidence_flow_logs/{REGION}/{}", seeded.recorded_vpc),
    );
    assert!(
        recorded.reason.contains("not taken for evidence: fl-")
            && recorded
                .reason
                .contains("(it delivers to existing-flow-logs, a bucket this account does not own"),
        "{}",
        recorded.reason
    );
    emulator.apply(PLAN).assert().code(0);
    let applied = evidence_state(&config).await;
    let ours = |line: &&String| line.starts_with("flow log") && line.contains("hikkonuki-evidence");
    assert_eq!(
        applied.iter().filter(ours).count(),
        2,
        "the open VPC and the one whose flow log was left out: {applied:#?}"
    );
    stopped_evidence_gives_back(&emulator, &config, &original).await;
}

/// `restore --stop-evidence` deletes an empty evidence bucket only once nothing delivers to it: here the
/// team pointed a flow log of their own at it after apply. Deleted, its predictable name could be taken by
/// another account, which would then receive that flow log's records; it is kept, naming the flow log.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_evidence_bucket_something_still_delivers_to_is_kept_by_restore() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_trail_on"])
        .assert()
        .code(0);
    let plan = read_plan(&emulator);
    let bucket = cut(&plan, &format!("evidence_trail_on/global/{CREATED_TRAIL}"))
        .after
        .value()["bucket"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.apply(PLAN).assert().code(0);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    ec2.create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(&seeded.closed_vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination(format!("arn:aws:s3:::{bucket}"))
        .send()
        .await
        .unwrap();
    let theirs = ec2
        .describe_flow_logs()
        .send()
        .await
        .unwrap()
        .flow_logs()
        .iter()
        .find(|l| l.resource_id() == Some(seeded.closed_vpc.as_str()))
        .and_then(|l| l.flow_log_id())
        .expect("the team's flow log")
        .to_string();
    emulator
        .restore(ROLLBACK)
        .arg("--stop-evidence")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "evidence bucket {bucket} is empty but flow log {theirs} of {} still deliver(s) to it: kept",
            seeded.closed_vpc
        )));
    s3(&config)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket is kept");
    let trails = aws_sdk_cloudtrail::Client::new(&config)
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert!(
        trails
            .trail_list()
            .iter()
            .all(|t| t.name() != Some("hikkonuki-evidence")),
        "the trail itself is deleted"
    );
}
