//! `hikkonuki plan`: discover the account and write the plan. Never changes the account.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use super::args::PlanArgs;
use super::exit;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine::{self, EngineError};
use crate::net::Cidr;
use crate::plan;
use crate::report::{Event, Reporter, Tally, render};
use crate::services::common::org_accounts::AccountChoice;
use crate::services::{self, PlanOptions, Registry};

/// Checks each kind option's value before anything is read from the account.
fn check_plan_options(options: &PlanOptions, registry: &Registry) -> anyhow::Result<()> {
    for option in registry.plan_options() {
        if let Some(value) = options.get(option.flag) {
            (option.check)(value).map_err(|message| anyhow!(message))?;
        }
    }
    Ok(())
}

/// The ranges to keep reachable. A bare address is that one address (`/32` or `/128`); a range wider than
/// a /8 (`0.0.0.0/0`, `0.0.0.0/1`; for IPv6, wider than a /32, `::/0`) is refused, because every rule,
/// entry and route it covers would stay open: the plan would cut little, while looking as if it cut
/// everything. An address with a prefix that is not its range's first (`203.0.113.7/24`) is refused
/// too: did it mean the address, or the 256 around it? So is an IPv4-mapped IPv6 address
/// (`::ffff:203.0.113.7`), which AWS never matches against IPv4 traffic: it would keep nothing. A fix
/// never suggests a range that would itself be refused.
fn parse_keep_cidrs(values: &[String]) -> anyhow::Result<Vec<Cidr>> {
    values
        .iter()
        .map(|value| {
            let value = value.trim();
            let written = match value.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(_)) => format!("{value}/32"),
                Ok(std::net::IpAddr::V6(_)) => format!("{value}/128"),
                Err(_) if !value.contains('/') => bail!(
                    "--keep-cidr: `{}` is neither an address nor a range\n  fix: give an address (203.0.113.7, 2001:db8::7) or a range (203.0.113.0/24)",
                    crate::report::escape::visible(value)
                ),
                Err(_) => value.to_string(),
            };
            let cidr = written
                .parse::<Cidr>()
                .map_err(|err| anyhow!("--keep-cidr: {err}"))?;
            let (address, _) = written.split_once('/').unwrap_or((&written, ""));
            if cidr.is_ipv4_mapped() {
                bail!(
                    "--keep-cidr: `{}` is an IPv4-mapped IPv6 address: AWS holds IPv4 ranges as IPv4, so it matches no rule, entry or route the responder's IPv4 traffic uses, and would keep nothing reachable\n  fix: {}",
                    crate::report::escape::visible(value),
                    ipv4_of_mapped(address, &cidr)
                );
            }
            if address.parse::<std::net::IpAddr>().ok() != Some(cidr.first_address()) {
                let range = if plan::too_wide_to_keep(&cidr) {
                    format!(
                        "the range {cidr} keeps most of the internet reachable and is refused, so give the responder's network ({})",
                        plan::WIDEST_KEEP_IN_WORDS
                    )
                } else {
                    format!("{cidr} for the range")
                };
                bail!(
                    "--keep-cidr: `{}` is an address inside the range {cidr}, not the range's first address: it is unclear whether the one address or the whole range is meant\n  fix: give {address} for the one address, or {range}",
                    crate::report::escape::visible(value)
                );
            }
            if plan::too_wide_to_keep(&cidr) {
                bail!(
                    "--keep-cidr: `{cidr}` keeps most of the internet reachable: every security-group rule, network ACL entry and route from or to it would stay open, so the plan would leave the account almost as open as it is\n  fix: give the responder's own address (e.g. 203.0.113.7) or network ({})",
                    plan::WIDEST_KEEP_IN_WORDS
                );
            }
            Ok(cidr)
        })
        .collect()
}

/// The fix for an IPv4-mapped `--keep-cidr` (`cidr`, written with `address`): the IPv4 address or range
/// it stands for, each only where `--keep-cidr` would take it.
fn ipv4_of_mapped(address: &str, cidr: &Cidr) -> String {
    let ipv4 = |address: std::net::IpAddr| match address {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        std::net::IpAddr::V4(v4) => Some(v4),
    };
    let network = || {
        format!(
            "the responder's IPv4 network ({})",
            plan::WIDEST_KEEP_IN_WORDS
        )
    };
    let (Some(one), Some(first)) = (
        address.parse().ok().and_then(ipv4),
        ipv4(cidr.first_address()),
    ) else {
        return format!(
            "give the responder's IPv4 address (e.g. 203.0.113.7) or {}",
            network()
        );
    };
    if cidr.prefix() == 128 {
        return format!("give the IPv4 address, {one}");
    }
    let range = format!("{first}/{}", cidr.prefix() - 96);
    let taken = range
        .parse::<Cidr>()
        .is_ok_and(|kept| !plan::too_wide_to_keep(&kept));
    match (one == first, taken) {
        (true, true) => format!("give the IPv4 range, {range}"),
        (true, false) => format!("give {}", network()),
        (false, true) => format!("give {one} for the one address, or {range} for the range"),
        (false, false) => format!("give {one} for the one address, or {}", network()),
    }
}

async fn resolve_regions(requested: &str, session: &AwsSession) -> anyhow::Result<Vec<String>> {
    let home = session.region(session.home_region());
    let enabled = services::common::regions::enabled_regions(&home)
        .await
        .context("listing the account's enabled regions")?;
    if requested.trim() == "all" {
        return Ok(enabled);
    }
    let mut regions = Vec::new();
    for name in requested
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !plan::is_region_name(name) {
            bail!("--regions: `{name}` is not an AWS region name (e.g. us-east-1), nor `all`");
        }
        if !enabled.iter().any(|r| r == name) {
            bail!(
                "--regions: `{name}` is not enabled for this account (enabled: {})",
                enabled.join(", ")
            );
        }
        if !regions.iter().any(|r| r == name) {
            regions.push(name.to_string());
        }
    }
    if regions.is_empty() {
        bail!("--regions: no region given; pass a comma-separated list or `all`");
    }
    Ok(regions)
}

/// Refuses to write over what is at `path`: any existing file without `--force`, and anything that is not
/// a plan even with it (a rollback file at `--out` may be the only way back).
fn check_plan_destination(path: &Path, force: bool, registry: &Registry) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let shown = path.display();
    if !force {
        bail!(
            "{shown}: already exists\n  fix: choose another --out, or pass --force to replace the plan that is there"
        );
    }
    if !meta.file_type().is_file() {
        bail!(
            "{shown}: is not a regular file; --force only replaces a plan\n  fix: choose another --out"
        );
    }
    if plan::file::read(path, registry).is_err() {
        bail!(
            "{shown}: exists and is not a plan hikkonuki can read (it may be a rollback file, the way back from an apply); --force only replaces a plan\n  fix: choose another --out"
        );
    }
    Ok(())
}

fn default_plan_path(account: &str) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .expect("UTC timestamps always format");
    PathBuf::from("plans").join(format!("{account}-{stamp}.yaml"))
}

pub async fn plan_command(
    args: &PlanArgs,
    options: &PlanOptions,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let keep_cidrs = parse_keep_cidrs(&args.keep_cidr)?;
    let accounts: Option<AccountChoice> = args
        .accounts
        .as_deref()
        .map(|value| value.parse().map_err(|err| anyhow!("--accounts: {err}")))
        .transpose()?;
    if !plan::is_role_name(&args.role) {
        bail!(
            "--role: `{}` is not an IAM role name (letters, digits and +=,.@_- up to 64)",
            crate::report::escape::field(&args.role)
        );
    }
    let member_role = (args.role != plan::DEFAULT_MEMBER_ROLE).then(|| args.role.clone());
    check_plan_options(options, registry)?;
    let selection = args.select.selection(registry)?;
    // Before any call to AWS: a discovery of minutes must not end in a refusal to write.
    if let Some(out) = &args.out {
        check_plan_destination(out, args.force, registry)?;
    }
    let session = AwsSession::load(&settings.connection).await?;
    let caller = session
        .caller_identity()
        .await
        .map_err(|err| EngineError::identity(&session, err))?;
    reporter.account(&caller.account);
    let regions = resolve_regions(args.regions.as_deref().unwrap_or("all"), &session).await?;
    if args.regions.is_none() && settings.connection.home_region.is_some() {
        // The AWS CLI's --region picks the one region a command works in; here it does not.
        say!(
            settings,
            "Covering every region enabled for the account ({}): --region sets only the home region for account-wide calls; pass --regions to narrow.",
            regions.join(", ")
        );
    }
    let parallelism = settings.parallelism.over(regions.len());
    let request = engine::discover::PlanRequest {
        caller,
        regions,
        keep_cidrs,
        options: options.clone(),
        parallelism,
        selection,
        member_role: member_role.clone(),
        part: engine::discover::AccountPart::Whole,
        created: None,
    };
    let plan = match &accounts {
        None => engine::discover::plan_account(&session, registry, request, reporter).await,
        Some(choice) => {
            let home = session.region(session.home_region());
            let chosen = services::common::org_accounts::chosen_accounts(&home, choice)
                .await
                .map_err(|err| {
                    anyhow!(
                        "--accounts: cannot list the organization's accounts: {err}\n  fix: run plan with credentials of the organization's management account or of a delegated administrator"
                    )
                })?;
            engine::organization::make_plan(
                &session,
                registry,
                engine::organization::OrganizationPlanRequest {
                    shared: request,
                    chosen,
                    role: member_role,
                },
                reporter,
            )
            .await
        }
    };
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| default_plan_path(&plan.account));
    // Again at the end: something may have appeared at the path during discovery.
    check_plan_destination(&path, args.force, registry)?;
    plan::file::write(&path, &plan)
        .with_context(|| format!("writing the plan to {}", path.display()))?;
    settings.say_inline(&render::plan_text(
        &plan,
        render::PlanView {
            color: settings.color,
            diffs: args.diff,
        },
    ));
    say!(settings, "Plan written to {}", path.display());
    // What apply would carry out: a disabled cut changes nothing unless switched on.
    let enabled = plan.all_cuts().filter(|(_, cut)| cut.enabled).count();
    if enabled > 0 {
        say!(
            settings,
            "Review it, then run: hikkonuki apply {}",
            path.display()
        );
    } else if plan.all_cuts().next().is_some() {
        say!(
            settings,
            "Every cut is disabled: apply changes nothing unless one is switched on (enabled: true in {}).",
            path.display()
        );
    }
    for (account, finding) in plan.all_findings() {
        reporter.event_in(
            account,
            &Event::Finding {
                check: finding.check.clone(),
                region: finding.region.clone(),
                resource: finding.resource.clone(),
                severity: serde_json::to_value(finding.severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                message: finding.message.clone(),
            },
        );
    }
    for (account, cut) in plan.all_cuts() {
        reporter.event_in(
            account,
            &Event::CutProposed {
                id: cut.id.clone(),
                kind: cut.kind.clone(),
                region: cut.region.clone(),
                target: cut.target.clone(),
                enabled: cut.enabled,
                reversible: cut.reversible,
            },
        );
    }
    settings.report_stats(&session, started, None);
    let errors = plan.all_discovery_errors().count();
    let ok = errors == 0;
    let tally = Tally::default()
        .count(
            "enabled",
            plan.all_cuts()
                .filter(|(_, cut)| cut.enabled)
                .map(|(_, cut)| cut.id.as_str()),
        )
        .count(
            "disabled",
            plan.all_cuts()
                .filter(|(_, cut)| !cut.enabled)
                .map(|(_, cut)| cut.id.as_str()),
        )
        .count(
            "discovery_failed",
            plan.all_discovery_errors()
                .map(|(_, err)| err.kind.as_str()),
        );
    reporter.event(&Event::Finished {
        command: "plan".into(),
        ok,
        summary: format!("{} (written to {})", plan.summary(), path.display()),
        tally,
    });
    if !ok {
        eprintln!(
            "error: discovery failed in {errors} place(s); the plan is incomplete there (listed above)"
        );
        return Ok(exit::FAILURE);
    }
    Ok(if args.detailed_exitcode && enabled > 0 {
        exit::CUTS_PROPOSED
    } else {
        exit::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(values: &[&str]) -> anyhow::Result<Vec<String>> {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Ok(parse_keep_cidrs(&values)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    #[test]
    fn a_bare_address_is_that_one_address() {
        assert_eq!(
            keep(&["203.0.113.7", " 2001:db8::7 ", "198.51.100.0/24"]).unwrap(),
            ["203.0.113.7/32", "2001:db8::7/128", "198.51.100.0/24"]
        );
    }

    #[test]
    fn a_range_keeping_most_of_the_internet_is_refused_saying_why() {
        for wide in [
            "0.0.0.0/0",
            "::/0",
            "128.0.0.0/1",
            "10.0.0.0/7",
            "2001::/16",
        ] {
            let err = keep(&[wide]).unwrap_err().to_string();
            assert!(
                err.contains("keeps most of the internet reachable"),
                "{wide}: {err}"
            );
            assert!(
                err.contains("fix: give the responder's own address"),
                "{err}"
            );
        }
        assert!(keep(&["10.0.0.0/8"]).is_ok(), "a /8 is the widest kept");
        assert!(keep(&["2001:db8::/32"]).is_ok(), "and an IPv6 /32");
    }

    /// An address inside a range is refused rather than widened to the range in silence.
    #[test]
    fn an_address_given_a_range_prefix_is_refused_saying_what_to_give() {
        let err = keep(&["not-a-cidr"]).unwrap_err().to_string();
        assert!(
            err.contains("`not-a-cidr` is neither an address nor a range"),
            "{err}"
        );
        let err = keep(&["203.0.113.7/24"]).unwrap_err().to_string();
        assert!(
            err.contains(
                "fix: give 203.0.113.7 for the one address, or 203.0.113.0/24 for the range"
            ),
            "{err}"
        );
        let err = keep(&["2001:db8::7/64"]).unwrap_err().to_string();
        assert!(err.contains("or 2001:db8::/64 for the range"), "{err}");
    }

    /// Regression: `9.0.0.0/7` was told to give `8.0.0.0/7 for the range`, which is then refused as too
    /// wide (and `2001:db9::/31` the same): a fix never suggests what would be refused.
    #[test]
    fn an_address_inside_a_range_too_wide_to_keep_is_not_told_to_give_the_range() {
        for (value, address, range) in [
            ("9.0.0.0/7", "9.0.0.0", "8.0.0.0/7"),
            ("2001:db9::/31", "2001:db9::", "2001:db8::/31"),
        ] {
            let err = keep(&[value]).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "fix: give {address} for the one address, or the range {range} keeps most of the internet reachable and is refused, so give the responder's network (a /8 or narrower"
                )),
                "{value}: {err}"
            );
            assert!(!err.contains("for the range"), "{value}: {err}");
        }
    }

    /// Regression: `::ffff:203.0.113.7` was kept as an IPv6 /128, which keeps nothing for the responder's
    /// IPv4 traffic.
    #[test]
    fn an_ipv4_mapped_address_is_refused_with_the_ipv4_address_to_give() {
        for (value, fix) in [
            (
                "::ffff:203.0.113.7",
                "fix: give the IPv4 address, 203.0.113.7",
            ),
            (
                "::ffff:203.0.113.7/128",
                "fix: give the IPv4 address, 203.0.113.7",
            ),
            (
                "::ffff:203.0.113.0/120",
                "fix: give the IPv4 range, 203.0.113.0/24",
            ),
            (
                "::ffff:203.0.113.7/120",
                "fix: give 203.0.113.7 for the one address, or 203.0.113.0/24 for the range",
            ),
            (
                "::ffff:0.0.0.0/96",
                "fix: give the responder's IPv4 network (a /8 or narrower",
            ),
        ] {
            let err = keep(&[value]).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "--keep-cidr: `{value}` is an IPv4-mapped IPv6 address"
                )),
                "{value}: {err}"
            );
            assert!(err.contains(fix), "{value}: {err}");
        }
        assert!(keep(&["::ffff:203.0.113.7"]).is_err());
        assert!(keep(&["2001:db8::ffff:cb00:7107"]).is_ok(), "not mapped");
    }

    #[test]
    fn what_is_neither_an_address_nor_a_range_is_named() {
        let err = keep(&["203.0.113.7/33"]).unwrap_err().to_string();
        assert!(
            err.starts_with("--keep-cidr: `203.0.113.7/33` is not a CIDR block"),
            "{err}"
        );
        let err = keep(&["bastion"]).unwrap_err().to_string();
        assert!(
            err.contains("`bastion` is neither an address nor a range"),
            "{err}"
        );
    }
}
