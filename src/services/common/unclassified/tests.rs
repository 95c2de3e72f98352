//! Issue 11, "Never silently skip": one test per kind of cut, each feeding the kind's discovery, through
//! aws-smithy-mocks, descriptions with their optional fields missing (and, where the SDK has an enum for
//! what the kind decides on, a value it does not know), and asserting that every resource is either
//! proposed or reported as a High finding. The EC2, IAM, RDS, Lambda, API Gateway, ECR Public, SES and
//! CloudFront API references mark nearly every member of these descriptions "Required: No"; these
//! descriptions are what such answers look like. Each test is named after its kind:
//! `<kind>::mocked_description_missing_optional_fields_is_not_skipped`.

use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

use super::*;
use crate::plan::{Finding, Severity};
use crate::services::{CutKind, DiscoveryScope};

/// The findings reported so far in `ctx`, checked to be High and named after `kind`.
async fn high_findings(ctx: &RegionCtx, kind: &str) -> Vec<Finding> {
    let findings = reported(ctx).await;
    for finding in &findings {
        assert_eq!(finding.severity, Severity::High, "{finding:?}");
        assert_eq!(finding.check, kind, "{finding:?}");
        assert!(
            finding
                .message
                .starts_with(&format!("{kind} could not classify ")),
            "{finding:?}"
        );
    }
    findings
}

/// Asserts that exactly one finding names a resource containing `resource` and says `what`.
fn assert_reported(findings: &[Finding], resource: &str, what: &str) {
    let matching: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.resource.contains(resource) && f.message.contains(what))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one finding on `{resource}` saying `{what}` in {findings:#?}"
    );
}

fn targets<S>(proposed: &[crate::services::Proposal<S>]) -> Vec<&str> {
    proposed.iter().map(|p| p.target.as_str()).collect()
}

/// The inspection hands each report over once, whichever of its two registrations runs first.
#[tokio::test]
async fn reports_become_high_findings_once() {
    let ctx = RegionCtx::for_tests("eu-west-1");
    report(&ctx, "route_remove", "eu-west-1", "rtb-1", "something odd").await;
    report(&ctx, "route_remove", "eu-west-1", "rtb-1", "something odd").await;
    let scope = DiscoveryScope::for_tests();
    let regional = Unclassified { global: false };
    let global = Unclassified { global: true };
    let first = regional.inspect(&ctx, &scope, &[]).await.unwrap();
    assert_eq!(
        first,
        vec![Finding {
            check: "route_remove".into(),
            region: "eu-west-1".into(),
            resource: "rtb-1".into(),
            severity: Severity::High,
            message: "route_remove could not classify rtb-1: something odd. No cut is proposed for it, so it may be a path left open: look at it by hand.".into(),
        }]
    );
    assert_eq!(global.inspect(&ctx, &scope, &[]).await.unwrap(), vec![]);
}

mod ec2 {
    pub use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;

    use super::*;

    /// No VPC described: every resource's VPC blocks are unknown, as when DescribeVpcs leaves one out.
    pub fn no_vpcs() -> Rule {
        mock!(Client::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build())
    }

    pub fn ctx(rules: &[Rule]) -> RegionCtx {
        RegionCtx::with_ec2(
            "us-east-1",
            mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules),
        )
    }
}

mod nacl_deny {
    use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput;
    use aws_sdk_ec2::types::{NetworkAcl, NetworkAclAssociation, NetworkAclEntry};

    use super::ec2::{Client, ctx, no_vpcs};
    use super::*;
    use crate::services::network::NetworkAclDeny;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let acls = mock!(Client::describe_network_acls).then_output(|| {
            DescribeNetworkAclsOutput::builder()
                // No ID: nothing can be added to it.
                .network_acls(
                    NetworkAcl::builder()
                        .associations(
                            NetworkAclAssociation::builder()
                                .subnet_id("subnet-1")
                                .build(),
                        )
                        .build(),
                )
                // Guards a subnet it does not name.
                .network_acls(
                    NetworkAcl::builder()
                        .network_acl_id("acl-unnamed-subnet")
                        .associations(NetworkAclAssociation::builder().build())
                        .build(),
                )
                // Only its ID and subnet; one entry with nothing but a rule number and an action:
                // without its protocol it must not pass for the deny-all the cut adds.
                .network_acls(
                    NetworkAcl::builder()
                        .network_acl_id("acl-bare")
                        .associations(
                            NetworkAclAssociation::builder()
                                .subnet_id("subnet-2")
                                .build(),
                        )
                        .entries(
                            NetworkAclEntry::builder()
                                .rule_number(1)
                                .rule_action("deny".into())
                                .cidr_block("0.0.0.0/0")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let ctx = ctx(&[no_vpcs(), acls]);
        let proposed = NetworkAclDeny
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["acl-bare"]);
        let findings = high_findings(&ctx, "nacl_deny").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(&findings, "subnet-1", "without its NetworkAclId");
        assert_reported(&findings, "acl-unnamed-subnet", "without a SubnetId");
    }
}

mod route_remove {
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::types::{Route, RouteTable};

    use super::ec2::{Client, ctx, no_vpcs};
    use super::*;
    use crate::services::network::RouteRemove;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let tables = mock!(Client::describe_route_tables).then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(
                    RouteTable::builder()
                        .vpc_id("vpc-1")
                        .routes(
                            Route::builder()
                                .destination_cidr_block("0.0.0.0/0")
                                .gateway_id("igw-1")
                                .build(),
                        )
                        .build(),
                )
                // A route whose target is none the SDK knows (a target type newer than it).
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-unknown-target")
                        .routes(Route::builder().destination_cidr_block("0.0.0.0/0").build())
                        .build(),
                )
                // No VPC, no associations, a route without origin or state.
                .route_tables(
                    RouteTable::builder()
                        .route_table_id("rtb-bare")
                        .routes(
                            Route::builder()
                                .destination_cidr_block("0.0.0.0/0")
                                .gateway_id("igw-2")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let ctx = ctx(&[no_vpcs(), tables]);
        let proposed = RouteRemove
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["rtb-bare"]);
        let findings = high_findings(&ctx, "route_remove").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(&findings, "VPC vpc-1", "without its RouteTableId");
        assert_reported(
            &findings,
            "rtb-unknown-target",
            "no target this hikkonuki knows",
        );
    }
}

mod igw_detach {
    use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::{AttachmentStatus, InternetGateway, InternetGatewayAttachment};

    use super::ec2::{Client, ctx};
    use super::*;
    use crate::services::network::InternetGatewayDetach;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let attached = |vpc: Option<&str>, state: Option<AttachmentStatus>| {
            InternetGatewayAttachment::builder()
                .set_vpc_id(vpc.map(str::to_string))
                .set_state(state)
                .build()
        };
        let gateways = mock!(Client::describe_internet_gateways).then_output(move || {
            DescribeInternetGatewaysOutput::builder()
                .internet_gateways(
                    InternetGateway::builder()
                        .attachments(attached(Some("vpc-1"), Some("available".into())))
                        .build(),
                )
                // Attached without a state, and in a state the SDK does not know: both carry traffic
                // for all this hikkonuki can tell.
                .internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-no-state")
                        .attachments(attached(Some("vpc-2"), None))
                        .build(),
                )
                .internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-new-state")
                        .attachments(attached(Some("vpc-3"), Some("half-attached".into())))
                        .build(),
                )
                .internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-unnamed-vpc")
                        .attachments(attached(None, Some(AttachmentStatus::Attached)))
                        .build(),
                )
                .build()
        });
        let interfaces = mock!(Client::describe_network_interfaces)
            .then_output(|| DescribeNetworkInterfacesOutput::builder().build());
        let nats = mock!(Client::describe_nat_gateways)
            .then_output(|| DescribeNatGatewaysOutput::builder().build());
        let ctx = ctx(&[gateways, interfaces, nats]);
        let proposed = InternetGatewayDetach
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["igw-new-state", "igw-no-state"]);
        let findings = high_findings(&ctx, "igw_detach").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(
            &findings,
            "attached to vpc-1",
            "without its InternetGatewayId",
        );
        assert_reported(&findings, "igw-unnamed-vpc", "without a VpcId");
    }
}

mod vgw_detach {
    use aws_sdk_ec2::operation::describe_vpn_gateways::DescribeVpnGatewaysOutput;
    use aws_sdk_ec2::types::{AttachmentStatus, VpcAttachment, VpnGateway};

    use super::ec2::{Client, ctx};
    use super::*;
    use crate::services::network::VpnGatewayDetach;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let attached = |vpc: Option<&str>, state: Option<AttachmentStatus>| {
            VpcAttachment::builder()
                .set_vpc_id(vpc.map(str::to_string))
                .set_state(state)
                .build()
        };
        let gateways = mock!(Client::describe_vpn_gateways).then_output(move || {
            DescribeVpnGatewaysOutput::builder()
                .vpn_gateways(
                    VpnGateway::builder()
                        .vpc_attachments(attached(Some("vpc-1"), Some(AttachmentStatus::Attached)))
                        .build(),
                )
                // No type, no lifecycle state, an attachment state the SDK does not know.
                .vpn_gateways(
                    VpnGateway::builder()
                        .vpn_gateway_id("vgw-new-state")
                        .vpc_attachments(attached(Some("vpc-2"), Some("half-attached".into())))
                        .build(),
                )
                .vpn_gateways(
                    VpnGateway::builder()
                        .vpn_gateway_id("vgw-unnamed-vpc")
                        .vpc_attachments(attached(None, None))
                        .build(),
                )
                .build()
        });
        let tables = mock!(Client::describe_route_tables).then_output(|| {
            aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput::builder()
                .build()
        });
        let ctx = ctx(&[gateways, tables]);
        let proposed = VpnGatewayDetach
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["vgw-new-state"]);
        let findings = high_findings(&ctx, "vgw_detach").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(&findings, "attached to vpc-1", "without its VpnGatewayId");
        assert_reported(&findings, "vgw-unnamed-vpc", "without a VpcId");
    }
}

mod sg_revoke {
    use aws_sdk_ec2::operation::describe_security_group_rules::DescribeSecurityGroupRulesOutput;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::types::{SecurityGroup, SecurityGroupRule};

    use super::ec2::{Client, ctx, no_vpcs};
    use super::*;
    use crate::services::network::SecurityGroupRevoke;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let groups = mock!(Client::describe_security_groups).then_output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(SecurityGroup::builder().group_name("ghost").build())
                // Only its ID: no name, owner or VPC.
                .security_groups(SecurityGroup::builder().group_id("sg-bare").build())
                .build()
        });
        let rules = mock!(Client::describe_security_group_rules).then_output(|| {
            DescribeSecurityGroupRulesOutput::builder()
                // No rule ID, protocol, ports or direction.
                .security_group_rules(
                    SecurityGroupRule::builder()
                        .group_id("sg-bare")
                        .cidr_ipv4("0.0.0.0/0")
                        .build(),
                )
                .security_group_rules(
                    SecurityGroupRule::builder()
                        .security_group_rule_id("sgr-orphan")
                        .cidr_ipv4("0.0.0.0/0")
                        .build(),
                )
                .build()
        });
        let ctx = ctx(&[no_vpcs(), groups, rules]);
        let proposed = SecurityGroupRevoke
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["sg-bare"]);
        let findings = high_findings(&ctx, "sg_revoke").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(&findings, "ghost", "without its GroupId");
        assert_reported(&findings, "sgr-orphan", "without its GroupId");
    }
}

/// The endpoints both endpoint kinds read: one without its ID, one in a state the SDK does not know, one
/// of an unknown type, and one with only what the cut needs (no groups, subnets, DNS options or tags).
/// DescribeVpcEndpointServices describes none of their services.
fn endpoint_ctx() -> RegionCtx {
    use aws_sdk_ec2::operation::describe_vpc_endpoint_services::DescribeVpcEndpointServicesOutput;
    use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
    use aws_sdk_ec2::types::VpcEndpoint;

    use ec2::Client;

    let endpoint = |id: Option<&str>, endpoint_type: &str, state: &str| {
        VpcEndpoint::builder()
            .set_vpc_endpoint_id(id.map(str::to_string))
            .vpc_endpoint_type(endpoint_type.into())
            .state(state.into())
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_id("vpc-1")
            .policy_document(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
            )
            .build()
    };
    let endpoints = mock!(Client::describe_vpc_endpoints).then_output(move || {
        DescribeVpcEndpointsOutput::builder()
            .vpc_endpoints(endpoint(None, "Interface", "available"))
            .vpc_endpoints(endpoint(
                Some("vpce-new-state"),
                "Interface",
                "reconnecting",
            ))
            .vpc_endpoints(endpoint(Some("vpce-new-type"), "Satellite", "available"))
            .vpc_endpoints(endpoint(Some("vpce-bare"), "Gateway", "available"))
            .build()
    });
    let services = mock!(Client::describe_vpc_endpoint_services)
        .then_output(|| DescribeVpcEndpointServicesOutput::builder().build());
    ec2::ctx(&[endpoints, services])
}

fn assert_endpoints_reported(findings: &[Finding]) {
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert_reported(
        findings,
        "an endpoint for com.amazonaws",
        "no VpcEndpointId",
    );
    assert_reported(findings, "vpce-new-state", "state `reconnecting`");
    assert_reported(findings, "vpce-new-type", "endpoint type `Satellite`");
}

mod vpce_policy_deny {
    use super::*;
    use crate::services::network::VpcEndpointPolicyDeny;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let ctx = endpoint_ctx();
        let proposed = VpcEndpointPolicyDeny
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["vpce-bare"]);
        assert_endpoints_reported(&high_findings(&ctx, "vpce_policy_deny").await);
    }
}

mod vpce_delete {
    use super::*;
    use crate::services::network::VpcEndpointDelete;

    /// The reports are the endpoint kinds' together (they read one list), named after vpce_policy_deny.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let ctx = endpoint_ctx();
        let proposed = VpcEndpointDelete
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["vpce-bare"]);
        assert_endpoints_reported(&high_findings(&ctx, "vpce_policy_deny").await);
    }
}

mod rds_public_off {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::types::{DbInstance, Endpoint};

    use super::*;
    use crate::services::storage::RdsPublicOff;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let instances = mock!(Client::describe_db_instances).then_output(|| {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .engine("postgres")
                        .publicly_accessible(true)
                        .endpoint(Endpoint::builder().address("db.example.com").build())
                        .build(),
                )
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier("db-unknown-exposure")
                        .build(),
                )
                // Public, and nothing else said: no engine, no subnet group.
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier("db-bare")
                        .publicly_accessible(true)
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&instances]);
        let ctx = RegionCtx::with_rds("us-east-1", client);
        let proposed = RdsPublicOff
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["db-bare"]);
        let findings = high_findings(&ctx, "rds_public_off").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_reported(
            &findings,
            "db.example.com",
            "without its DBInstanceIdentifier",
        );
        assert_reported(
            &findings,
            "db-unknown-exposure",
            "without PubliclyAccessible",
        );
    }
}

mod iam {
    pub use aws_sdk_iam::Client;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;

    use super::*;
    pub(crate) use crate::services::identity::tests::{
        account_summary, no_managed_policy, principal_reads, role, user,
    };

    /// ListUsers answering with one user, alice.
    pub fn alice() -> Rule {
        mock!(Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .users(user("alice"))
                .build()
                .unwrap()
        })
    }

    pub fn ctx(rules: &[Rule]) -> RegionCtx {
        RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            rules
        ))
    }
}

mod iam_key_deactivate {
    use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
    use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};

    use super::iam::{Client, alice, ctx};
    use super::*;
    use crate::services::identity::{CredentialDeactivate, CredentialType};

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let keys = mock!(Client::list_access_keys).then_output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .status(StatusType::Active)
                        .build(),
                )
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .access_key_id("AKIANOSTATUS")
                        .build(),
                )
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .access_key_id("AKIANEWSTATUS")
                        .status("Suspended".into())
                        .build(),
                )
                // No user name or creation date.
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .access_key_id("AKIABARE")
                        .status(StatusType::Active)
                        .build(),
                )
                .build()
                .unwrap()
        });
        let ctx = ctx(&[alice(), keys]);
        let proposed = CredentialDeactivate(CredentialType::AccessKey)
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["AKIABARE"]);
        assert_eq!(proposed[0].before.user_name, "alice");
        let findings = high_findings(&ctx, "iam_key_deactivate").await;
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert_reported(
            &findings,
            "1 access key(s) of IAM user alice",
            "without their AccessKeyId",
        );
        assert_reported(&findings, "AKIANOSTATUS", "without its Status");
        assert_reported(&findings, "AKIANEWSTATUS", "status `Suspended`");
        assert!(findings.iter().all(|f| f.region == "global"));
    }
}

mod iam_ssh_key_deactivate {
    use aws_sdk_iam::operation::list_ssh_public_keys::ListSshPublicKeysOutput;
    use aws_sdk_iam::primitives::DateTime;
    use aws_sdk_iam::types::{SshPublicKeyMetadata, StatusType};

    use super::iam::{Client, alice, ctx};
    use super::*;
    use crate::services::identity::{CredentialDeactivate, CredentialType};

    /// Every member of SSHPublicKeyMetadata is required, so only the status can be odd.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let key = |id: &str, status: StatusType| {
            SshPublicKeyMetadata::builder()
                .user_name("alice")
                .ssh_public_key_id(id)
                .status(status)
                .upload_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        };
        let keys = mock!(Client::list_ssh_public_keys).then_output(move || {
            ListSshPublicKeysOutput::builder()
                .ssh_public_keys(key("APKANEWSTATUS", "Suspended".into()))
                .ssh_public_keys(key("APKAACTIVE", StatusType::Active))
                .build()
        });
        let ctx = ctx(&[alice(), keys]);
        let proposed = CredentialDeactivate(CredentialType::SshPublicKey)
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["APKAACTIVE"]);
        let findings = high_findings(&ctx, "iam_ssh_key_deactivate").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(&findings, "APKANEWSTATUS", "status `Suspended`");
    }
}

mod iam_service_credential_deactivate {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput;
    use aws_sdk_iam::primitives::DateTime;
    use aws_sdk_iam::types::{ServiceSpecificCredentialMetadata, StatusType};

    use super::iam::{Client, alice, ctx};
    use super::*;
    use crate::services::identity::{CredentialDeactivate, CredentialType};

    /// Only the required members (no service user name, expiry or alias), and an unknown status.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let credential = |id: &str, status: StatusType| {
            ServiceSpecificCredentialMetadata::builder()
                .user_name("alice")
                .status(status)
                .create_date(DateTime::from_secs(0))
                .service_specific_credential_id(id)
                .service_name("codecommit.amazonaws.com")
                .build()
                .unwrap()
        };
        let credentials = mock!(Client::list_service_specific_credentials).then_output(move || {
            ListServiceSpecificCredentialsOutput::builder()
                .service_specific_credentials(credential("ACCANEWSTATUS", "Suspended".into()))
                .service_specific_credentials(credential("ACCAACTIVE", StatusType::Active))
                .build()
        });
        let ctx = ctx(&[alice(), credentials]);
        let proposed = CredentialDeactivate(CredentialType::ServiceSpecific)
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["ACCAACTIVE"]);
        let findings = high_findings(&ctx, "iam_service_credential_deactivate").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(&findings, "ACCANEWSTATUS", "status `Suspended`");
    }
}

mod iam_session_revoke {
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;

    use super::iam::{
        Client, account_summary, alice, ctx, no_managed_policy, principal_reads, role,
    };
    use super::*;
    use crate::services::identity::SessionRevoke;
    use crate::services::identity::inline_policy::Holder;

    /// IAM's User and Role require every member discovery reads (name, path, ARN): a principal with only
    /// those, and no policies, is proposed. Nothing is reported.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let roles = mock!(Client::list_roles).then_output(|| {
            ListRolesOutput::builder()
                .roles(role("app", "/"))
                .build()
                .unwrap()
        });
        let mut rules = vec![alice(), roles, account_summary(), no_managed_policy()];
        rules.extend(principal_reads(Holder::User("alice"), &[], &[]));
        rules.extend(principal_reads(Holder::Role("app"), &[], &[]));
        let ctx = ctx(&rules);
        let proposed = SessionRevoke
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["user/alice", "role/app"]);
        assert_eq!(high_findings(&ctx, "iam_session_revoke").await, vec![]);
    }
}

mod ses {
    pub use aws_sdk_sesv2::Client;
    use aws_sdk_sesv2::operation::list_email_identities::ListEmailIdentitiesOutput;
    use aws_sdk_sesv2::types::IdentityInfo;

    use super::*;

    /// ListEmailIdentities answering with one identity without its name and `example.com`, with no
    /// type, sending or verification status.
    pub fn identities() -> Rule {
        mock!(Client::list_email_identities).then_output(|| {
            ListEmailIdentitiesOutput::builder()
                .email_identities(IdentityInfo::builder().build())
                .email_identities(IdentityInfo::builder().identity_name("example.com").build())
                .build()
        })
    }

    pub fn ctx(rules: &[Rule]) -> RegionCtx {
        RegionCtx::for_tests("us-east-1").mock_sesv2(mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            rules
        ))
    }
}

mod ses_sending_pause {
    use aws_sdk_sesv2::operation::get_account::GetAccountOutput;

    use super::ses::{Client, ctx, identities};
    use super::*;
    use crate::services::mail::ses_sending_pause::SesSendingPause;

    /// GetAccount with sending on and nothing else said (no enforcement status, quota or details): the
    /// pause is proposed. The identity without a name is reported as what ses_identity_policy_remove
    /// cannot cut.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let account = mock!(Client::get_account)
            .then_output(|| GetAccountOutput::builder().sending_enabled(true).build());
        let ctx = ctx(&[account, identities()]);
        let proposed = SesSendingPause
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["ses-account"]);
        let findings = high_findings(&ctx, "ses_identity_policy_remove").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(
            &findings,
            "1 SES email identit",
            "without their IdentityName",
        );
    }
}

mod ses_identity_policy_remove {
    use aws_sdk_sesv2::operation::get_email_identity_policies::GetEmailIdentityPoliciesOutput;

    use super::ses::{Client, ctx, identities};
    use super::*;
    use crate::services::mail::ses_identity_policy_remove::SesIdentityPolicyRemove;

    /// A policy that does not parse still holds a delegation: it is proposed for removal, naming no
    /// principal.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let policies = mock!(Client::get_email_identity_policies)
            .match_requests(|r| r.email_identity() == Some("example.com"))
            .then_output(|| {
                GetEmailIdentityPoliciesOutput::builder()
                    .policies("delegate", "{not json")
                    .build()
            });
        let ctx = ctx(&[identities(), policies]);
        let proposed = SesIdentityPolicyRemove
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["example.com"]);
        assert!(proposed[0].reason.contains("principals: none named"));
        let findings = high_findings(&ctx, "ses_identity_policy_remove").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(
            &findings,
            "1 SES email identit",
            "without their IdentityName",
        );
    }
}

mod ses_send_deny {
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;

    use super::iam::{Client, account_summary, alice, ctx, no_managed_policy, principal_reads};
    use super::*;
    use crate::services::identity::inline_policy::Holder;
    use crate::services::mail::ses_send_deny::SesSendDeny;

    /// A policy that does not parse may let its holder send: the deny is proposed, saying why.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let roles = mock!(Client::list_roles).then_output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(vec![]))
                .build()
                .unwrap()
        });
        let mut rules = vec![alice(), roles, account_summary(), no_managed_policy()];
        rules.extend(principal_reads(
            Holder::User("alice"),
            &[("mail", "{not json".to_string())],
            &[],
        ));
        let ctx = ctx(&rules);
        let proposed = SesSendDeny
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["user/alice"]);
        assert!(
            proposed[0].reason.contains("does not parse as a policy"),
            "{}",
            proposed[0].reason
        );
        assert_eq!(high_findings(&ctx, "ses_send_deny").await, vec![]);
    }
}

mod s3_public_access_block {
    use aws_sdk_s3control::Client;
    use aws_sdk_s3control::operation::get_public_access_block::GetPublicAccessBlockOutput;
    use aws_sdk_s3control::types::PublicAccessBlockConfiguration;

    use super::*;
    use crate::services::storage::S3PublicAccessBlock;

    /// A configuration that gives one flag and leaves three out: the missing ones count as off, so the
    /// block is proposed. Nothing is reported.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let block = mock!(Client::get_public_access_block).then_output(|| {
            GetPublicAccessBlockOutput::builder()
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, &[&block]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3control(client);
        let proposed = S3PublicAccessBlock
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["123456789012"]);
        assert_eq!(high_findings(&ctx, "s3_public_access_block").await, vec![]);
    }
}

mod ecr_public_delete {
    use aws_sdk_ecrpublic::Client;
    use aws_sdk_ecrpublic::operation::describe_repositories::DescribeRepositoriesOutput;
    use aws_sdk_ecrpublic::types::Repository;

    use super::*;
    use crate::services::storage::EcrPublicDelete;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let repositories = mock!(Client::describe_repositories).then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(
                    Repository::builder()
                        .repository_uri("public.ecr.aws/a1b2c3/ghost")
                        .build(),
                )
                // Only its name: no URI, ARN or registry.
                .repositories(Repository::builder().repository_name("bare").build())
                .build()
        });
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&repositories]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecrpublic(client);
        let proposed = EcrPublicDelete
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["bare"]);
        let findings = high_findings(&ctx, "ecr_public_delete").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(
            &findings,
            "public.ecr.aws/a1b2c3/ghost",
            "without its repositoryName",
        );
    }
}

mod lambda {
    pub use aws_sdk_lambda::Client;
    use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
    use aws_sdk_lambda::types::FunctionConfiguration;

    use super::*;

    /// ListFunctions answering with a function without its name and the named ones with nothing else
    /// (no ARN, runtime, role or state).
    pub fn functions(names: &'static [&'static str]) -> Rule {
        mock!(Client::list_functions).then_output(move || {
            let mut out = ListFunctionsOutput::builder().functions(
                FunctionConfiguration::builder()
                    .function_arn("arn:aws:lambda:us-east-1:123456789012:function:ghost")
                    .build(),
            );
            for name in names {
                out = out.functions(
                    FunctionConfiguration::builder()
                        .function_name(*name)
                        .build(),
                );
            }
            out.build()
        })
    }

    pub fn no_aliases() -> Rule {
        mock!(Client::list_aliases).then_output(|| ListAliasesOutput::builder().build())
    }

    pub fn ctx(rules: &[Rule]) -> RegionCtx {
        RegionCtx::for_tests("us-east-1").mock_lambda(mock_client!(
            aws_sdk_lambda,
            RuleMode::MatchAny,
            rules
        ))
    }

    pub fn assert_unnamed_function_reported(findings: &[Finding]) {
        assert_reported(findings, "function:ghost", "without its FunctionName");
    }
}

mod lambda_throttle {
    use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;

    use super::lambda::{Client, assert_unnamed_function_reported, ctx, functions};
    use super::*;
    use crate::services::serverless::lambda::LambdaThrottle;

    /// GetFunctionConcurrency without ReservedConcurrentExecutions: no reserved concurrency, proposed.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let concurrency = mock!(Client::get_function_concurrency)
            .then_output(|| GetFunctionConcurrencyOutput::builder().build());
        let ctx = ctx(&[functions(&["bare"]), concurrency]);
        let proposed = LambdaThrottle
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["bare"]);
        assert_eq!(proposed[0].before.reserved_concurrency, None);
        let findings = high_findings(&ctx, "lambda_throttle").await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_unnamed_function_reported(&findings);
    }
}

mod lambda_url_restrict {
    use aws_sdk_lambda::error::ErrorMetadata;
    use aws_sdk_lambda::operation::get_function_url_config::GetFunctionUrlConfigOutput;
    use aws_sdk_lambda::operation::get_policy::GetPolicyError;
    use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_lambda::types::AliasConfiguration;
    use aws_sdk_lambda::types::error::ResourceNotFoundException;

    use super::lambda::{Client, assert_unnamed_function_reported, ctx, functions, no_aliases};
    use super::*;
    use crate::services::serverless::lambda::LambdaUrlRestrict;

    /// A URL with only its required members (no CORS, no invoke mode), one with an auth type the SDK
    /// does not know, and an alias without its name.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let url = |function: &'static str, auth_type: &'static str| {
            mock!(Client::get_function_url_config)
                .match_requests(move |r| r.function_name() == Some(function))
                .then_output(move || {
                    GetFunctionUrlConfigOutput::builder()
                        .function_url(format!("https://{function}.lambda-url.us-east-1.on.aws/"))
                        .function_arn(format!(
                            "arn:aws:lambda:us-east-1:123456789012:function:{function}"
                        ))
                        .auth_type(auth_type.into())
                        .creation_time("2025-01-01T00:00:00Z")
                        .last_modified_time("2025-01-01T00:00:00Z")
                        .build()
                        .unwrap()
                })
        };
        let aliased = mock!(Client::list_aliases)
            .match_requests(|r| r.function_name() == Some("open"))
            .then_output(|| {
                ListAliasesOutput::builder()
                    .aliases(
                        AliasConfiguration::builder()
                            .alias_arn("arn:aws:lambda:us-east-1:123456789012:function:open:live")
                            .build(),
                    )
                    .build()
            });
        let no_policy = mock!(Client::get_policy).then_error(|| {
            GetPolicyError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .build(),
                    )
                    .build(),
            )
        });
        let ctx = ctx(&[
            functions(&["open", "signed-v5"]),
            aliased,
            no_aliases(),
            url("open", "NONE"),
            url("signed-v5", "AWS_SIGV5"),
            no_policy,
        ]);
        let proposed = LambdaUrlRestrict
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["open"]);
        let findings = high_findings(&ctx, "lambda_url_restrict").await;
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert_unnamed_function_reported(&findings);
        assert_reported(&findings, "function:open:live", "without its Name");
        assert_reported(&findings, "signed-v5", "auth type `AWS_SIGV5`");
    }
}

mod lambda_permission_remove {
    use aws_sdk_lambda::operation::get_policy::GetPolicyOutput;

    use super::lambda::{Client, assert_unnamed_function_reported, ctx, functions, no_aliases};
    use super::*;
    use crate::services::serverless::lambda::LambdaPermissionRemove;

    /// A statement open to anyone with only Principal, Action and Resource besides its Sid is proposed;
    /// one without its Sid, and a policy that does not parse, are reported, and the other functions'
    /// statements are still read.
    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let policy = |function: &'static str, text: &'static str| {
            mock!(Client::get_policy)
                .match_requests(move |r| r.function_name() == Some(function))
                .then_output(move || GetPolicyOutput::builder().policy(text).build())
        };
        let ctx = ctx(&[
            functions(&["garbled", "no-sid", "open"]),
            no_aliases(),
            policy("garbled", "{not json"),
            policy(
                "no-sid",
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:no-sid"}]}"#,
            ),
            policy(
                "open",
                r#"{"Statement":[{"Sid":"anyone","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:open"}]}"#,
            ),
        ]);
        let proposed = LambdaPermissionRemove
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["open/anyone"]);
        let findings = high_findings(&ctx, "lambda_permission_remove").await;
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert_unnamed_function_reported(&findings);
        assert_reported(&findings, "garbled", "is not JSON");
        assert_reported(&findings, "no-sid", "without a Sid");
    }
}

mod api_gateway {
    pub use aws_sdk_apigateway::Client;
    use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
    use aws_sdk_apigateway::operation::get_stages::GetStagesOutput;
    use aws_sdk_apigateway::types::{RestApi, Stage};

    use super::*;

    /// GetRestApis with an API without its id and `api-1` with nothing else (no name, no policy); its
    /// stages: one without a name and `prod` with nothing else (no deployment, no method settings).
    pub fn rest_rules() -> Vec<Rule> {
        let apis = mock!(Client::get_rest_apis).then_output(|| {
            GetRestApisOutput::builder()
                .items(RestApi::builder().name("ghost").build())
                .items(RestApi::builder().id("api-1").build())
                .build()
        });
        let stages = mock!(Client::get_stages).then_output(|| {
            GetStagesOutput::builder()
                .item(Stage::builder().build())
                .item(Stage::builder().stage_name("prod").build())
                .build()
        });
        vec![apis, stages]
    }

    pub fn assert_rest_reported(findings: &[Finding]) {
        assert_reported(findings, "REST API ghost", "without its id");
        assert_reported(findings, "api-1", "1 stage(s) without a stageName");
    }
}

mod apigw_stage_throttle {
    use aws_sdk_apigatewayv2::Client as HttpClient;
    use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
    use aws_sdk_apigatewayv2::types::Api;

    use super::api_gateway::{assert_rest_reported, rest_rules};
    use super::*;
    use crate::services::serverless::api_gateway::ApiGatewayStageThrottle;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let http_apis = mock!(HttpClient::get_apis).then_output(|| {
            GetApisOutput::builder()
                .items(Api::builder().name("ghost-http").build())
                .build()
        });
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_apigateway(mock_client!(
                aws_sdk_apigateway,
                RuleMode::MatchAny,
                &rest_rules()
            ))
            .mock_apigatewayv2(mock_client!(
                aws_sdk_apigatewayv2,
                RuleMode::MatchAny,
                &[&http_apis]
            ));
        let proposed = ApiGatewayStageThrottle
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["api-1/prod"]);
        let findings = high_findings(&ctx, "apigw_stage_throttle").await;
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert_rest_reported(&findings);
        assert_reported(&findings, "ghost-http", "without its ApiId");
    }
}

mod apigw_deny_policy {
    use super::api_gateway::{assert_rest_reported, rest_rules};
    use super::*;
    use crate::services::serverless::api_gateway::ApiGatewayDenyPolicy;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &rest_rules()
        ));
        let proposed = ApiGatewayDenyPolicy
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["api-1"]);
        let findings = high_findings(&ctx, "apigw_deny_policy").await;
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_rest_reported(&findings);
    }
}

mod cloudfront {
    use aws_sdk_cloudfront::Client;
    use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
    use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsOutput;
    use aws_sdk_cloudfront::primitives::DateTime;
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, DistributionList, DistributionSummary,
        HttpVersion, Origin, Origins, PriceClass, ViewerProtocolPolicy,
    };

    use super::*;

    /// Two distributions, `E1BARE` and `E2NOCONFIG`, listed with only their required members; the first
    /// configured with only the required members (no aliases, certificate or extra behaviours), the
    /// second answered without its configuration.
    pub fn ctx() -> RegionCtx {
        let summary = |id: &str| {
            DistributionSummary::builder()
                .id(id)
                .arn(format!(
                    "arn:aws:cloudfront::123456789012:distribution/{id}"
                ))
                .status("Deployed")
                .last_modified_time(DateTime::from_secs(0))
                .domain_name(format!("{}.cloudfront.net", id.to_lowercase()))
                .comment("")
                .price_class(PriceClass::PriceClassAll)
                .enabled(true)
                .web_acl_id("")
                .http_version(HttpVersion::Http2)
                .is_ipv6_enabled(true)
                .staging(false)
                .build()
                .unwrap()
        };
        let list = mock!(Client::list_distributions).then_output(move || {
            ListDistributionsOutput::builder()
                .distribution_list(
                    DistributionList::builder()
                        .marker("")
                        .max_items(100)
                        .is_truncated(false)
                        .quantity(2)
                        .items(summary("E1BARE"))
                        .items(summary("E2NOCONFIG"))
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let bare = mock!(Client::get_distribution_config)
            .match_requests(|r| r.id() == Some("E1BARE"))
            .then_output(|| {
                GetDistributionConfigOutput::builder()
                    .distribution_config(
                        DistributionConfig::builder()
                            .caller_reference("ref")
                            .comment("")
                            .enabled(true)
                            .origins(
                                Origins::builder()
                                    .quantity(1)
                                    .items(
                                        Origin::builder()
                                            .id("web")
                                            .domain_name("origin.example.com")
                                            .build()
                                            .unwrap(),
                                    )
                                    .build()
                                    .unwrap(),
                            )
                            .default_cache_behavior(
                                DefaultCacheBehavior::builder()
                                    .target_origin_id("web")
                                    .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let no_config = mock!(Client::get_distribution_config)
            .match_requests(|r| r.id() == Some("E2NOCONFIG"))
            .then_output(|| GetDistributionConfigOutput::builder().e_tag("E1").build());
        RegionCtx::for_tests("us-east-1").mock_cloudfront(mock_client!(
            aws_sdk_cloudfront,
            RuleMode::MatchAny,
            &[&list, &bare, &no_config]
        ))
    }

    pub fn assert_no_config_reported(findings: &[Finding]) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_reported(findings, "E2NOCONFIG", "without its configuration");
        assert_eq!(findings[0].region, "global");
    }
}

mod cloudfront_disable {
    use super::cloudfront::{assert_no_config_reported, ctx};
    use super::*;
    use crate::services::edge::cloudfront::CloudFrontDisable;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let ctx = ctx();
        let proposed = CloudFrontDisable
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(targets(&proposed), ["E1BARE"]);
        assert_no_config_reported(&high_findings(&ctx, "cloudfront_disable").await);
    }
}

mod cloudfront_maintenance {
    use super::cloudfront::{assert_no_config_reported, ctx};
    use super::*;
    use crate::services::edge::cloudfront::CloudFrontMaintenance;

    #[tokio::test]
    async fn mocked_description_missing_optional_fields_is_not_skipped() {
        let ctx = ctx();
        let mut scope = DiscoveryScope::for_tests();
        scope.options.insert(
            "maintenance-origin".into(),
            "maintenance.example.com".into(),
        );
        let proposed = CloudFrontMaintenance.discover(&ctx, &scope).await.unwrap();
        assert_eq!(targets(&proposed), ["E1BARE"]);
        assert_no_config_reported(&high_findings(&ctx, "cloudfront_maintenance").await);
    }
}
