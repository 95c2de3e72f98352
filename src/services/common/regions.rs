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
