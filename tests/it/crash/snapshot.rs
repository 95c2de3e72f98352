//! The account's state as a crash test compares it: one text per scenario, one line per item, built on the
//! per-resource snapshots of [`crate::snapshot`] and read straight from the emulator.

use super::{REGION, Scenario};
use crate::emulator::Emulator;
use crate::snapshot;

/// Everything a cut can touch in the region, one line per item, sorted, read with the SDK straight from the
/// emulator: security groups and rules, network ACLs, route tables, every kind of gateway, endpoints,
/// peerings and databases. Only what moves on its own is left out (an RDS instance's latest restorable
/// time, and security-group rule IDs, which AWS renumbers on re-creation).
async fn network_state(emulator: &Emulator) -> String {
    let config = emulator.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let rds = aws_sdk_rds::Client::new(&config);
    let mut lines = Vec::new();
    for (id, group) in snapshot::security_groups(&ec2).await {
        lines.extend(group.into_iter().map(|line| format!("sg {id}: {line}")));
    }
    for (id, text) in snapshot::internet_gateways(&ec2).await {
        lines.push(format!("igw {id}: {text}"));
    }
    for (id, text) in snapshot::vpn_gateways(&ec2).await {
        lines.push(format!("vgw {id}: {text}"));
    }
    for (id, text) in snapshot::vpc_endpoints(&ec2).await {
        lines.push(format!("vpce {id}: {text}"));
    }
    // The region's switches (VPC, snapshot and AMI block public access), which the leaky account's plan cuts.
    for (what, text) in crate::block_public_access::switches(&ec2).await {
        lines.push(format!("{what}: {text}"));
    }
    let acls = ec2.describe_network_acls().send().await.unwrap();
    for acl in acls.network_acls() {
        let id = acl.network_acl_id().unwrap();
        let mut acl = acl.clone();
        // Entries and associations in no promised order: one line each.
        let entries = std::mem::take(&mut acl.entries);
        let associations = std::mem::take(&mut acl.associations);
        lines.push(format!("acl {id}: {acl:?}"));
        lines.extend(
            entries
                .iter()
                .flatten()
                .map(|e| format!("acl {id} entry: {e:?}")),
        );
        lines.extend(
            associations
                .iter()
                .flatten()
                .map(|a| format!("acl {id} assoc: {a:?}")),
        );
    }
    let tables = ec2.describe_route_tables().send().await.unwrap();
    for table in tables.route_tables() {
        let id = table.route_table_id().unwrap();
        let mut table = table.clone();
        let routes = std::mem::take(&mut table.routes);
        let associations = std::mem::take(&mut table.associations);
        lines.push(format!("rtb {id}: {table:?}"));
        lines.extend(
            routes
                .iter()
                .flatten()
                .map(|r| format!("rtb {id} route: {r:?}")),
        );
        lines.extend(
            associations
                .iter()
                .flatten()
                .map(|a| format!("rtb {id} assoc: {a:?}")),
        );
    }
    let eigws = ec2
        .describe_egress_only_internet_gateways()
        .send()
        .await
        .unwrap();
    for g in eigws.egress_only_internet_gateways() {
        lines.push(format!("eigw: {g:?}"));
    }
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    for g in nats.nat_gateways() {
        lines.push(format!("nat: {g:?}"));
    }
    let peerings = ec2.describe_vpc_peering_connections().send().await.unwrap();
    for p in peerings.vpc_peering_connections() {
        lines.push(format!("pcx: {p:?}"));
    }
    let databases = rds.describe_db_instances().send().await.unwrap();
    for db in databases.db_instances() {
        let mut db = db.clone();
        db.latest_restorable_time = None;
        lines.push(format!("rds: {db:?}"));
    }
    lines.sort();
    lines.join("\n") + "\n"
}

/// Everything the scenario's cuts can touch, one line per item, read straight from the emulator.
pub(super) async fn account_state(emulator: &Emulator, scenario: Scenario) -> String {
    match scenario {
        Scenario::Network => network_state(emulator).await,
        Scenario::Sharing => {
            crate::sharing::sharing_state(&emulator.sdk_config(REGION).await).await
        }
        Scenario::IdentityMailServerlessAndEdge => {
            let config = emulator.sdk_config(REGION).await;
            let mut lines = Vec::new();
            let functions = aws_sdk_lambda::Client::new(&config);
            let names = functions.list_functions().send().await.unwrap();
            for f in names.functions() {
                let name = f.function_name().unwrap();
                let concurrency = functions
                    .get_function_concurrency()
                    .function_name(name)
                    .send()
                    .await
                    .unwrap();
                lines.push(format!(
                    "lambda {name} concurrency {:?}",
                    concurrency.reserved_concurrent_executions()
                ));
                if let Ok(url) = functions
                    .get_function_url_config()
                    .function_name(name)
                    .send()
                    .await
                {
                    lines.push(format!(
                        "lambda {name} url {:?} {:?}",
                        url.auth_type(),
                        url.cors()
                    ));
                }
                if let Ok(policy) = functions.get_policy().function_name(name).send().await {
                    let statements =
                        crate::lambda::statements_by_sid(policy.policy().unwrap_or_default());
                    lines.push(format!("lambda {name} policy {statements}"));
                }
            }
            lines.extend(iam_and_mail_state(emulator, &config).await);
            let apigw = aws_sdk_apigateway::Client::new(&config);
            for api in apigw.get_rest_apis().send().await.unwrap().items() {
                let id = api.id().unwrap();
                lines.push(format!("api {id} policy {:?}", api.policy()));
                for stage in apigw
                    .get_stages()
                    .rest_api_id(id)
                    .send()
                    .await
                    .unwrap()
                    .item()
                {
                    let settings: std::collections::BTreeMap<_, _> = stage
                        .method_settings()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    lines.push(format!(
                        "api {id} stage {:?} deployment {:?} settings {settings:?}",
                        stage.stage_name(),
                        stage.deployment_id()
                    ));
                }
                let deployments = apigw
                    .get_deployments()
                    .rest_api_id(id)
                    .send()
                    .await
                    .unwrap();
                let mut ids: Vec<_> = deployments.items().iter().filter_map(|d| d.id()).collect();
                ids.sort();
                lines.push(format!("api {id} deployments {ids:?}"));
            }
            let cloudfront = aws_sdk_cloudfront::Client::new(&config);
            let list = cloudfront.list_distributions().send().await.unwrap();
            for d in list
                .distribution_list()
                .map(|l| l.items())
                .unwrap_or_default()
            {
                let config = cloudfront
                    .get_distribution_config()
                    .id(d.id())
                    .send()
                    .await
                    .unwrap();
                lines.push(format!(
                    "distribution {}: {:?}",
                    d.id(),
                    config.distribution_config()
                ));
            }
            lines.sort();
            lines.join("\n") + "\n"
        }
    }
}

/// Every IAM user's keys, SSH keys, service-specific credentials and inline policies, every role's inline
/// policies, every email identity's sending policies, the region's SES account and the S3 account block,
/// one line each.
async fn iam_and_mail_state(emulator: &Emulator, config: &aws_config::SdkConfig) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let mut lines = Vec::new();
    for user in iam.list_users().send().await.unwrap().users() {
        let name = user.user_name();
        let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
        lines.push(format!("user {name} keys {:?}", keys.access_key_metadata()));
        let ssh = iam
            .list_ssh_public_keys()
            .user_name(name)
            .send()
            .await
            .unwrap();
        lines.push(format!("user {name} ssh {:?}", ssh.ssh_public_keys()));
        lines.push(format!(
            "user {name} service credentials {:?}",
            crate::identity::service_credentials(&iam, name).await
        ));
        for policy in iam
            .list_user_policies()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
        {
            let document = iam
                .get_user_policy()
                .user_name(name)
                .policy_name(policy)
                .send()
                .await
                .unwrap();
            lines.push(format!(
                "user {name} policy {policy} {}",
                document.policy_document()
            ));
        }
    }
    for role in iam.list_roles().send().await.unwrap().roles() {
        let name = role.role_name();
        for policy in iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
        {
            let document = iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .unwrap();
            lines.push(format!(
                "role {name} policy {policy} {}",
                document.policy_document()
            ));
        }
    }
    let ses = aws_sdk_sesv2::Client::new(config);
    for identity in ses
        .list_email_identities()
        .send()
        .await
        .unwrap()
        .email_identities()
    {
        let name = identity.identity_name().unwrap_or_default();
        let policies = ses
            .get_email_identity_policies()
            .email_identity(name)
            .send()
            .await
            .unwrap();
        let policies: std::collections::BTreeMap<_, _> = policies
            .policies()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        lines.push(format!("ses {name} policies {policies:?}"));
    }
    lines.push(format!(
        "ses account {REGION} {}",
        crate::mail::ses_account(emulator, REGION).await
    ));
    let block = crate::mail::s3control(emulator)
        .await
        .get_public_access_block()
        .account_id("123456789012")
        .send()
        .await;
    lines.push(match block {
        Ok(out) => format!(
            "s3 account block {:?}",
            out.public_access_block_configuration()
        ),
        Err(err) => format!(
            "s3 account block error {:?}",
            aws_sdk_s3control::error::ProvideErrorMetadata::code(&err)
        ),
    });
    lines
}

pub(super) fn assert_same_account(original: &str, now: &str, what: &str) {
    if original != now {
        let diff = similar::TextDiff::from_lines(original, now)
            .unified_diff()
            .context_radius(0)
            .header("seeded", "after restore")
            .to_string();
        panic!("{what}: the account differs from the seeded one:\n{diff}");
    }
}
