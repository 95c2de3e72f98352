//! Which regions the account can use. `--regions all` means every region enabled for the account: those
//! that need no opt-in and those opted into. (EC2 DescribeRegions answers this for the whole account.)

use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// Every enabled region, sorted.
pub async fn enabled_regions(home: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let out = home
        .ec2()
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeRegions", err))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|region| {
            matches!(
                region.opt_in_status(),
                None | Some("opt-in-not-required") | Some("opted-in")
            )
        })
        .filter_map(|region| region.region_name().map(str::to_string))
        .collect();
    regions.sort();
    Ok(regions)
}

/// The partition a region's ARNs name (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>,
/// "partition"): `aws-cn` for the China regions, `aws-us-gov` for GovCloud (US), the isolated partitions by
/// their prefixes, `aws` everywhere else. An ARN built with `aws` in another partition names nothing: a
/// bucket policy scoped to it lets no trail deliver, and a trail looked up by it is never found.
pub fn partition_of_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

#[cfg(test)]
mod partition_tests {
    use super::partition_of_region;

    #[test]
    fn each_region_names_its_partition() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ] {
            assert_eq!(partition_of_region(region), partition, "{region}");
        }
    }
}
