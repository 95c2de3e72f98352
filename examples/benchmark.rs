//! Benchmark: seeds a scaled leaky account into the emulator (regions × VPCs × security groups), then runs
//! the built `hikkonuki` through plan → apply → restore and reports wall time, time to seal, AWS calls made
//! against a lower bound, and peak memory. Run it with `scripts/bench.sh`, which starts the emulator.
//!
//! Usage: `benchmark [--regions N] [--vpcs N] [--groups N] [--accounts N] [--bin PATH] [--pacing]
//! [--seed-only]` (default 4 × 3 × 20; pacing off, because the emulator does not throttle and pacing would
//! only measure the token buckets).
//!
//! With `--accounts N` it measures an organization instead (issue 15): N member accounts, each seeded as
//! above, planned, applied and restored in one run (`plan --accounts`), against N one-account runs one
//! after the other with each member's own credentials: wall time and AWS calls of each.
//!
//! What it measures is mostly the emulator: moto answers about 70–90 EC2 calls per second whatever the
//! concurrency (see ../shared/emulator.md). Calls made is the figure that carries over to AWS.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{IpPermission, IpRange};

mod leaky_account;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ALL_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-northeast-1",
    "eu-central-1",
    "us-east-2",
    "ap-southeast-2",
    "sa-east-1",
];

struct Options {
    regions: usize,
    vpcs: usize,
    groups: usize,
    bin: String,
    pacing: bool,
    /// Only seed the account (for measuring another tool against the same account).
    seed_only: bool,
    /// Member accounts of an organization to measure, instead of one account.
    accounts: usize,
}

fn options() -> BenchResult<Options> {
    let mut options = Options {
        regions: 4,
        vpcs: 3,
        groups: 20,
        bin: std::env::var("HIKKONUKI_BIN").unwrap_or_else(|_| "hikkonuki".into()),
        pacing: false,
        seed_only: false,
        accounts: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--regions" => options.regions = value()?.parse()?,
            "--vpcs" => options.vpcs = value()?.parse()?,
            "--groups" => options.groups = value()?.parse()?,
            "--bin" => options.bin = value()?,
            "--pacing" => options.pacing = true,
            "--seed-only" => options.seed_only = true,
            "--accounts" => options.accounts = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if options.regions == 0 || options.regions > ALL_REGIONS.len() {
        return Err(format!("--regions must be 1 to {}", ALL_REGIONS.len()).into());
    }
    Ok(options)
}

/// Seeds `vpcs` VPCs with `groups` security groups each, every group open to the world on 443 and 22.
async fn seed_region(
    config: &aws_config::SdkConfig,
    region: &str,
    vpcs: usize,
    groups: usize,
) -> BenchResult<()> {
    let regional = config
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let ec2 = aws_sdk_ec2::Client::new(&regional);
    for v in 0..vpcs {
        let vpc = ec2
            .create_vpc()
            .cidr_block(format!("10.{v}.0.0/16"))
            .send()
            .await?;
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        for g in 0..groups {
            let group = ec2
                .create_security_group()
                .group_name(format!("bench-{v}-{g}"))
                .description("benchmark")
                .vpc_id(&vpc_id)
                .send()
                .await?;
            ec2.authorize_security_group_ingress()
                .group_id(group.group_id().unwrap_or_default())
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(443)
                        .to_port(443)
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .send()
                .await?;
        }
    }
    Ok(())
}

struct Run {
    wall: Duration,
    calls: u64,
    sealed: Option<f64>,
    stdout: String,
}

/// Runs one hikkonuki command with `--stats`, and reads the call count and time to seal from its output.
fn run(options: &Options, args: &[&str], workdir: &std::path::Path) -> BenchResult<Run> {
    run_as(options, args, workdir, None)
}

/// Temporary credentials of one member account.
#[derive(Clone)]
struct MemberCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

/// [`run`], with a member's credentials in the environment when given.
fn run_as(
    options: &Options,
    args: &[&str],
    workdir: &std::path::Path,
    credentials: Option<&MemberCredentials>,
) -> BenchResult<Run> {
    let mut command = Command::new(&options.bin);
    command.current_dir(workdir).args(args).arg("--stats");
    if let Some(credentials) = credentials {
        command
            .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
            .env("AWS_SESSION_TOKEN", &credentials.session_token);
    }
    if !options.pacing {
        command.arg("--no-pacing");
    }
    let started = Instant::now();
    let output = command.output()?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "hikkonuki {} failed ({}):\n{}\n{}",
            args.join(" "),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let number_after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    };
    Ok(Run {
        wall,
        calls: number_after("AWS calls:").unwrap_or(0.0) as u64,
        sealed: number_after("Time to seal:"),
        stdout,
    })
}

/// Peak resident memory of the largest child waited for so far, in MiB.
fn peak_child_mib() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let options = options()?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if !(endpoint.starts_with("http://127.") || endpoint.starts_with("http://localhost")) {
        return Err(format!(
            "AWS_ENDPOINT_URL must point at an emulator on loopback (got `{endpoint}`): this program creates resources"
        )
        .into());
    }
    let regions: Vec<&str> = ALL_REGIONS[..options.regions].to_vec();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    if options.accounts > 0 {
        return organization(&options, &config, &regions).await;
    }
    let seed_started = Instant::now();
    for region in &regions {
        seed_region(&config, region, options.vpcs, options.groups).await?;
    }
    eprintln!(
        "seeded {} regions × {} VPCs × {} groups in {:.1} s",
        options.regions,
        options.vpcs,
        options.groups,
        seed_started.elapsed().as_secs_f64()
    );

    if options.seed_only {
        println!("{}", regions.join(","));
        return Ok(());
    }
    let workdir = tempfile::tempdir()?;
    let region_list = regions.join(",");
    // The emulator builds each service's backend for each region on its first request (seconds for a
    // dozen services × regions), which AWS does not: one unmeasured plan first, so the figures measure
    // hikkonuki and the emulator's steady answers, not its warm-up.
    let warm_up = run(
        &options,
        &["plan", "--regions", &region_list, "--out", "warm-up.yaml"],
        workdir.path(),
    )?;
    println!(
        "emulator warm-up plan (not measured below): {:.2} s",
        warm_up.wall.as_secs_f64()
    );
    let plan = run(
        &options,
        &["plan", "--regions", &region_list, "--out", "plan.yaml"],
        workdir.path(),
    )?;
    let cuts = plan
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Plan: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let plan_mib = peak_child_mib();
    let apply = run(&options, &["apply", "plan.yaml", "--yes"], workdir.path())?;
    let apply_mib = peak_child_mib();
    let restore = run(
        &options,
        &["restore", "plan.rollback.yaml", "--yes"],
        workdir.path(),
    )?;
    let restore_mib = peak_child_mib();

    // Lower bounds: discovery needs at least one list or describe per kind of resource read per region
    // (VPCs, groups, rules, network ACLs, route tables, gateways, endpoints, interfaces, NAT gateways,
    // RDS; SES account and identities, Lambda functions, REST and HTTP APIs, trails, CodeCommit
    // repositories) and, once, the caller, the region list and the account-wide reads (IAM users and
    // roles, the account summary, the S3 account block, CloudFront distributions, hosted zones); apply
    // needs one call per cut (a group's ingress and egress are two revoke calls: EC2 has no call that does
    // both).
    let reads_per_region = 17;
    let account_wide_reads = 8;
    let plan_floor = account_wide_reads + reads_per_region * options.regions as u64;
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| account | {} regions × {} VPCs × {} security groups ({} cuts) |",
        options.regions, options.vpcs, options.groups, cuts
    );
    println!(
        "| pacing | {} |",
        if options.pacing {
            "on (defaults)"
        } else {
            "off"
        }
    );
    println!("| plan wall time | {:.2} s |", plan.wall.as_secs_f64());
    println!(
        "| plan AWS calls (lower bound) | {} ({plan_floor}) |",
        plan.calls
    );
    println!("| apply wall time | {:.2} s |", apply.wall.as_secs_f64());
    println!(
        "| time to seal | {} |",
        apply
            .sealed
            .map(|s| format!("{s:.2} s"))
            .unwrap_or_else(|| "no sealing cut".into())
    );
    println!(
        "| apply AWS calls (one per cut, plus drift checks) | {} ({} cuts) |",
        apply.calls, cuts
    );
    println!(
        "| restore wall time | {:.2} s |",
        restore.wall.as_secs_f64()
    );
    println!("| restore AWS calls | {} |", restore.calls);
    println!(
        "| peak memory (plan / apply / restore, cumulative max) | {plan_mib:.0} / {apply_mib:.0} / {restore_mib:.0} MiB |"
    );
    Ok(())
}

/// Creates an organization with `count` member accounts (as the demo's seeder does); returns each
/// member's ID, SDK configuration and credentials (the role AWS Organizations creates in each).
async fn members(
    config: &aws_config::SdkConfig,
    count: usize,
) -> BenchResult<Vec<(String, aws_config::SdkConfig, MemberCredentials)>> {
    use aws_credential_types::provider::ProvideCredentials;
    let (_, ids) = leaky_account::organization::create(config, count).await?;
    let mut members = Vec::new();
    for id in ids {
        let member = leaky_account::organization::member_config(config, &id).await?;
        let credentials = member
            .credentials_provider()
            .ok_or("the member configuration has no credentials")?
            .provide_credentials()
            .await?;
        let credentials = MemberCredentials {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().to_string(),
            session_token: credentials.session_token().unwrap_or_default().to_string(),
        };
        members.push((id, member, credentials));
    }
    Ok(members)
}

/// `--accounts N`: one run over the organization against N one-account runs.
async fn organization(
    options: &Options,
    config: &aws_config::SdkConfig,
    regions: &[&str],
) -> BenchResult<()> {
    let members = members(config, options.accounts).await?;
    let seed_started = Instant::now();
    for (_, member, _) in &members {
        for region in regions {
            seed_region(member, region, options.vpcs, options.groups).await?;
        }
    }
    eprintln!(
        "seeded {} accounts × {} regions × {} VPCs × {} groups in {:.1} s",
        options.accounts,
        regions.len(),
        options.vpcs,
        options.groups,
        seed_started.elapsed().as_secs_f64()
    );
    let workdir = tempfile::tempdir()?;
    let region_list = regions.join(",");
    let ids: Vec<&str> = members.iter().map(|(id, _, _)| id.as_str()).collect();
    let accounts = ids.join(",");
    let warm_up = run(
        options,
        &[
            "plan",
            "--regions",
            &region_list,
            "--accounts",
            &accounts,
            "--out",
            "warm-up.yaml",
        ],
        workdir.path(),
    )?;
    eprintln!(
        "emulator warm-up plan (not measured): {:.1} s",
        warm_up.wall.as_secs_f64()
    );

    let plan = run(
        options,
        &[
            "plan",
            "--regions",
            &region_list,
            "--accounts",
            &accounts,
            "--out",
            "org.yaml",
        ],
        workdir.path(),
    )?;
    let apply = run(options, &["apply", "org.yaml", "--yes"], workdir.path())?;
    let restore = run(
        options,
        &["restore", "org.rollback", "--yes"],
        workdir.path(),
    )?;

    let (mut one_plan, mut one_apply, mut one_restore) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut plan_calls, mut apply_calls, mut restore_calls) = (0, 0, 0);
    for (id, _, credentials) in &members {
        let out = format!("{id}.yaml");
        let rollback = format!("{id}.rollback.yaml");
        let p = run_as(
            options,
            &["plan", "--regions", &region_list, "--out", &out],
            workdir.path(),
            Some(credentials),
        )?;
        let a = run_as(
            options,
            &["apply", &out, "--yes"],
            workdir.path(),
            Some(credentials),
        )?;
        let r = run_as(
            options,
            &["restore", &rollback, "--yes"],
            workdir.path(),
            Some(credentials),
        )?;
        one_plan += p.wall;
        one_apply += a.wall;
        one_restore += r.wall;
        plan_calls += p.calls;
        apply_calls += a.calls;
        restore_calls += r.calls;
    }
    println!(
        "| figure | one run over the organization | {} one-account runs in sequence |",
        options.accounts
    );
    println!("|---|---|---|");
    println!(
        "| accounts | {} members × {} regions × {} VPCs × {} groups | same |",
        options.accounts,
        regions.len(),
        options.vpcs,
        options.groups
    );
    println!(
        "| plan | {:.1} s, {} calls | {:.1} s, {plan_calls} calls |",
        plan.wall.as_secs_f64(),
        plan.calls,
        one_plan.as_secs_f64()
    );
    println!(
        "| apply | {:.1} s, {} calls | {:.1} s, {apply_calls} calls |",
        apply.wall.as_secs_f64(),
        apply.calls,
        one_apply.as_secs_f64()
    );
    println!(
        "| restore | {:.1} s, {} calls | {:.1} s, {restore_calls} calls |",
        restore.wall.as_secs_f64(),
        restore.calls,
        one_restore.as_secs_f64()
    );
    println!("| confirmations typed | 1 | {} |", options.accounts * 2);
    Ok(())
}
