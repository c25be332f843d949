//! Whether an address is on the public internet: the test a webhook URL and every address
//! it resolves to must pass, so that a partner's URL cannot reach the network behind the
//! API (the database, a cache, cloud metadata at 169.254.169.254).
//!
//! The blocks are those of the IANA special-purpose address registries (IPv4: RFC 6890 and
//! its updates; IPv6: the same, to RFC 9602) that are not globally reachable, plus
//! multicast, the reserved 240.0.0.0/4 and the deprecated site-local fec0::/10. IPv6 must
//! moreover be global unicast (2000::/3): nothing else is allocated for public use.
//!
//! Addresses that carry an IPv4 address inside an IPv6 one are judged by the IPv4 address
//! they reach: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`, so `[::127.0.0.1]`),
//! translated (`::ffff:0:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`). 6to4 (2002::/16) and
//! Teredo (2001::/32) tunnel to an IPv4 address chosen by whoever wrote the URL and are
//! refused whole, as the registry marks them not globally reachable.
//!
//! No maintained crate does both the registries and the embedded forms (the standard
//! library's `is_global` is unstable, `ipext`/`ip_rfc` stop at the registries), so the
//! table is here, with a test per block.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 blocks that are not globally reachable (address, prefix length).
const V4_BLOCKS: &[(u32, u32)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0A00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared (carrier-grade NAT)
    (0x7F00_0000, 8),  // 127.0.0.0/8 loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16 link-local (cloud metadata)
    (0xAC10_0000, 12), // 172.16.0.0/12 private
    (0xC000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xC000_0200, 24), // 192.0.2.0/24 documentation (TEST-NET-1)
    (0xC058_6300, 24), // 192.88.99.0/24 deprecated 6to4 relay anycast
    (0xC0A8_0000, 16), // 192.168.0.0/16 private
    (0xC612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xC633_6400, 24), // 198.51.100.0/24 documentation (TEST-NET-2)
    (0xCB00_7100, 24), // 203.0.113.0/24 documentation (TEST-NET-3)
    (0xE000_0000, 4),  // 224.0.0.0/4 multicast
    (0xF000_0000, 4),  // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
];

/// IPv6 blocks inside 2000::/3 that are not globally reachable (address, prefix length).
const V6_BLOCKS: &[(u128, u32)] = &[
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 documentation
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16), // 2002::/16 6to4
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // 3fff::/20 documentation
];

fn in_block<T>(address: T, block: T, prefix: u32) -> bool
where
    T: Copy + std::ops::Shr<u32, Output = T> + PartialEq,
{
    let bits = u32::try_from(std::mem::size_of::<T>() * 8).unwrap_or(128);
    prefix == 0 || (address >> (bits - prefix)) == (block >> (bits - prefix))
}

/// Whether `ip` is globally reachable (see the module documentation).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let address = u32::from(ip);
    !V4_BLOCKS.iter().any(|&(block, prefix)| in_block(address, block, prefix))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let address = u128::from(ip);
    in_block(address, 0x2000_0000_0000_0000_0000_0000_0000_0000, 3)
        && !V6_BLOCKS.iter().any(|&(block, prefix)| in_block(address, block, prefix))
}

/// The IPv4 address an IPv6 address stands for: mapped, compatible (not `::` and `::1`,
/// which are IPv6's own), translated, or NAT64 (well-known prefix).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let address = u128::from(ip);
    let low = Ipv4Addr::from(u32::try_from(address & 0xFFFF_FFFF).unwrap_or(0));
    let high = address >> 32;
    match high {
        0 if address > 1 => Some(low),                // ::a.b.c.d
        0xFFFF => Some(low),                          // ::ffff:a.b.c.d
        0xFFFF_0000 => Some(low),                     // ::ffff:0:a.b.c.d
        0x0064_ff9b_0000_0000_0000_0000 => Some(low), // 64:ff9b::a.b.c.d
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("an address"))
    }

    #[test]
    fn every_special_purpose_block_is_refused() {
        for address in [
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!public(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass_in_every_form() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "::8.8.8.8",
        ] {
            assert!(public(address), "{address} is public");
        }
    }
}
