//! CIDR arithmetic: just enough to decide whether a rule's source lies inside a VPC or inside a range the
//! responder asked to keep. IPv4 and IPv6 are both held as 128-bit integers so one containment test serves
//! both families.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// A network block such as `10.0.0.0/16` or `2600:1f18::/56`. Host bits are cleared on parse, so
/// `10.0.0.7/16` and `10.0.0.0/16` are the same block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    family: Family,
    network: u128,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a CIDR block: {problem} (expected e.g. 203.0.113.7/32 or 2001:db8::/48)")]
pub struct CidrError {
    pub input: String,
    pub problem: &'static str,
}

impl Cidr {
    pub fn family(&self) -> Family {
        self.family
    }

    /// The prefix length: 32 (IPv4) or 128 (IPv6) for one address, 0 for every address.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn width(family: Family) -> u8 {
        match family {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    fn mask(family: Family, prefix: u8) -> u128 {
        let width = Self::width(family);
        let all: u128 = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        if prefix == 0 {
            0
        } else {
            all & !((1u128 << (width - prefix)) - 1)
        }
    }

    /// The range's first address (`203.0.113.0` for `203.0.113.0/24`).
    pub fn first_address(&self) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(self.network as u32)),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(self.network)),
        }
    }

    /// True when every address of `other` is also in `self` (a block contains itself).
    pub fn contains(&self, other: &Cidr) -> bool {
        self.family == other.family
            && self.prefix <= other.prefix
            && (other.network & Self::mask(self.family, self.prefix)) == self.network
    }

    /// True for an IPv4-mapped IPv6 block (`::ffff:203.0.113.7/128`, inside `::ffff:0:0/96`): IPv6 in
    /// form, IPv4 in meaning. AWS holds IPv4 ranges as IPv4, so such a block matches no rule, entry or
    /// route an IPv4 address is in.
    pub fn is_ipv4_mapped(&self) -> bool {
        self.family == Family::V6 && self.prefix >= 96 && self.network >> 32 == 0xffff
    }

    /// True when this block lies inside at least one of `blocks`.
    pub fn is_within_any(&self, blocks: &[Cidr]) -> bool {
        blocks.iter().any(|block| block.contains(self))
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |problem| CidrError {
            input: input.to_string(),
            problem,
        };
        let (addr, prefix) = input
            .trim()
            .split_once('/')
            .ok_or_else(|| error("the /prefix length is missing"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| error("the address is not valid"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| error("the prefix length is not a number"))?;
        let (family, bits) = match addr {
            IpAddr::V4(v4) => (Family::V4, u32::from(v4) as u128),
            IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
        };
        if prefix > Self::width(family) {
            return Err(error(
                "the prefix length is too long for the address family",
            ));
        }
        Ok(Cidr {
            family,
            network: bits & Self::mask(family, prefix),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V4 => write!(f, "{}/{}", Ipv4Addr::from(self.network as u32), self.prefix),
            Family::V6 => write!(f, "{}/{}", Ipv6Addr::from(self.network), self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn a_vpc_block_contains_its_subnets_but_not_wider_ranges() {
        let vpc = cidr("10.0.0.0/16");
        assert!(vpc.contains(&cidr("10.0.1.0/24")));
        assert!(vpc.contains(&cidr("10.0.0.0/16")));
        assert!(!vpc.contains(&cidr("10.0.0.0/8")));
        assert!(!vpc.contains(&cidr("0.0.0.0/0")));
        assert!(!vpc.contains(&cidr("10.1.0.0/24")));
    }

    #[test]
    fn ipv6_blocks_are_compared_on_all_128_bits() {
        let vpc = cidr("2600:1f18:abcd:1200::/56");
        assert!(vpc.contains(&cidr("2600:1f18:abcd:1201::/64")));
        assert!(!vpc.contains(&cidr("::/0")));
        assert!(!vpc.contains(&cidr("2600:1f18:abcd:1300::/64")));
    }

    #[test]
    fn families_never_contain_each_other() {
        assert!(!cidr("0.0.0.0/0").contains(&cidr("::/0")));
        assert!(!cidr("::/0").contains(&cidr("10.0.0.0/8")));
    }

    #[test]
    fn host_bits_are_cleared_and_display_is_canonical() {
        assert_eq!(cidr("10.0.0.7/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("203.0.113.7/32").to_string(), "203.0.113.7/32");
        assert_eq!(cidr("2001:db8::1/48").to_string(), "2001:db8::/48");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn ipv4_mapped_blocks_are_told_apart() {
        assert!(cidr("::ffff:203.0.113.7/128").is_ipv4_mapped());
        assert!(cidr("::ffff:0:0/96").is_ipv4_mapped());
        assert!(
            !cidr("::/64").is_ipv4_mapped(),
            "wider than the mapped block"
        );
        assert!(!cidr("::1/128").is_ipv4_mapped());
        assert!(!cidr("2001:db8::ffff:0:1/128").is_ipv4_mapped());
        assert!(!cidr("203.0.113.7/32").is_ipv4_mapped());
    }

    #[test]
    fn malformed_blocks_are_rejected_with_the_reason() {
        assert_eq!(
            "10.0.0.0".parse::<Cidr>().unwrap_err().problem,
            "the /prefix length is missing"
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>().unwrap_err().problem,
            "the prefix length is too long for the address family"
        );
        assert_eq!(
            "10.0.0.300/8".parse::<Cidr>().unwrap_err().problem,
            "the address is not valid"
        );
    }
}
