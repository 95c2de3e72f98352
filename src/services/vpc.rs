//! Facts about VPCs that several kinds of cut share: which address blocks are a VPC's own, so that traffic
//! inside it is never cut.

/// The VPC's associated IPv4 and IPv6 blocks, as CIDR strings (primary first).
pub fn vpc_blocks(vpc: &aws_sdk_ec2::types::Vpc) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for assoc in vpc.cidr_block_association_set() {
        let associated = assoc
            .cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str() == "associated")
            .unwrap_or(true);
        if let (true, Some(block)) = (associated, assoc.cidr_block()) {
            blocks.push(block.to_string());
        }
    }
    if blocks.is_empty()
        && let Some(block) = vpc.cidr_block()
    {
        blocks.push(block.to_string());
    }
    for assoc in vpc.ipv6_cidr_block_association_set() {
        let associated = assoc
            .ipv6_cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str() == "associated")
            .unwrap_or(true);
        if let (true, Some(block)) = (associated, assoc.ipv6_cidr_block()) {
            blocks.push(block.to_string());
        }
    }
    blocks
}
