//! Pod IP allocation from a node's `spec.podCIDR` (host-local IPAM, like the CNI `host-local` plugin).
//!
//! The lowest free host address is handed out; the network address, the gateway (`.1`, the first host)
//! and the broadcast address are never handed out. IPv4 only.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why an address could not be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The podCIDR is not an IPv4 CIDR (`10.244.3.0/24`).
    #[error("invalid podCIDR {0:?}: expected an IPv4 CIDR such as 10.244.3.0/24")]
    InvalidCidr(String),
    /// The CIDR has no usable host address (prefix longer than /30).
    #[error("podCIDR {0} is too small: it has no address for pods")]
    TooSmall(Ipv4Net),
    /// Every usable address is taken.
    #[error("podCIDR {0} is exhausted: no free pod IP")]
    Exhausted(Ipv4Net),
    /// `reserve` of an address outside the usable range or held by another owner.
    #[error("address {0} is not available")]
    Unavailable(Ipv4Addr),
}

/// The pod IPs of one node: owner (a pod UID) ↔ address.
#[derive(Debug, Clone)]
pub struct PodIpAllocator {
    net: Ipv4Net,
    by_ip: BTreeMap<Ipv4Addr, String>,
    by_owner: HashMap<String, Ipv4Addr>,
}

impl PodIpAllocator {
    /// An allocator over `cidr` (e.g. `10.244.3.0/24`, host bits ignored).
    ///
    /// # Errors
    /// [`IpamError::InvalidCidr`]; [`IpamError::TooSmall`] for /31 and /32.
    pub fn new(cidr: &str) -> Result<PodIpAllocator, IpamError> {
        let net: Ipv4Net = cidr
            .trim()
            .parse()
            .map_err(|_| IpamError::InvalidCidr(cidr.to_string()))?;
        let net = net.trunc();
        if net.prefix_len() > 30 {
            return Err(IpamError::TooSmall(net));
        }
        Ok(PodIpAllocator {
            net,
            by_ip: BTreeMap::new(),
            by_owner: HashMap::new(),
        })
    }

    /// The network this allocator serves.
    pub fn network(&self) -> Ipv4Net {
        self.net
    }

    /// Usable addresses: network + 2 (after the gateway) ..= broadcast − 1, as integers.
    fn range(&self) -> (u32, u32) {
        (
            u32::from(self.net.network()) + 2,
            u32::from(self.net.broadcast()) - 1,
        )
    }

    /// How many pod IPs the network holds in total (a /24 holds 253).
    pub fn capacity(&self) -> u32 {
        let (lo, hi) = self.range();
        hi.saturating_sub(lo) + 1
    }

    /// How many addresses are allocated.
    pub fn allocated(&self) -> usize {
        self.by_ip.len()
    }

    /// The address of `owner`: its existing one, else the lowest free one.
    ///
    /// # Errors
    /// [`IpamError::Exhausted`] when every usable address is taken.
    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(ip) = self.by_owner.get(owner) {
            return Ok(*ip);
        }
        let (lo, hi) = self.range();
        // Walk the taken addresses in order; the first gap is the lowest free address. O(allocated).
        let mut candidate = lo;
        for ip in self.by_ip.keys().map(|ip| u32::from(*ip)) {
            if ip > candidate {
                break;
            }
            candidate = ip + 1;
        }
        if candidate > hi {
            return Err(IpamError::Exhausted(self.net));
        }
        let ip = Ipv4Addr::from(candidate);
        self.by_ip.insert(ip, owner.to_string());
        self.by_owner.insert(owner.to_string(), ip);
        Ok(ip)
    }

    /// Records that `owner` already holds `ip` (a pod that kept its `status.podIP` across an agent
    /// restart). Idempotent for the same owner.
    ///
    /// # Errors
    /// [`IpamError::Unavailable`] if `ip` is outside the usable range or held by another owner.
    pub fn reserve(&mut self, owner: &str, ip: Ipv4Addr) -> Result<(), IpamError> {
        let (lo, hi) = self.range();
        let n = u32::from(ip);
        match self.by_ip.get(&ip) {
            Some(o) if o == owner => return Ok(()),
            Some(_) => return Err(IpamError::Unavailable(ip)),
            None if n < lo || n > hi => return Err(IpamError::Unavailable(ip)),
            None => {}
        }
        if let Some(old) = self.by_owner.insert(owner.to_string(), ip) {
            self.by_ip.remove(&old);
        }
        self.by_ip.insert(ip, owner.to_string());
        Ok(())
    }

    /// The address `owner` holds, if any.
    pub fn address_of(&self, owner: &str) -> Option<Ipv4Addr> {
        self.by_owner.get(owner).copied()
    }

    /// Frees `owner`'s address (on pod removal); returns it, or `None` if it had none.
    pub fn release(&mut self, owner: &str) -> Option<Ipv4Addr> {
        let ip = self.by_owner.remove(owner)?;
        self.by_ip.remove(&ip);
        Some(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_should_hand_out_lowest_free_address_skipping_reserved_ones() {
        let mut a = PodIpAllocator::new("10.244.3.0/24").unwrap();
        assert_eq!(a.capacity(), 253); // .2 ..= .254
        assert_eq!(a.allocate("p1").unwrap(), Ipv4Addr::new(10, 244, 3, 2));
        assert_eq!(a.allocate("p2").unwrap(), Ipv4Addr::new(10, 244, 3, 3));
        assert_eq!(
            a.allocate("p1").unwrap(),
            Ipv4Addr::new(10, 244, 3, 2),
            "idempotent"
        );
        assert_eq!(a.release("p1"), Some(Ipv4Addr::new(10, 244, 3, 2)));
        assert_eq!(
            a.allocate("p3").unwrap(),
            Ipv4Addr::new(10, 244, 3, 2),
            "lowest free again"
        );
        assert_eq!(a.release("nobody"), None);
    }

    #[test]
    fn allocator_should_report_exhaustion_and_bad_cidrs() {
        // /30: .0 network, .1 gateway, .2 pod, .3 broadcast
        let mut a = PodIpAllocator::new("192.168.0.4/30").unwrap();
        assert_eq!(a.allocate("p1").unwrap(), Ipv4Addr::new(192, 168, 0, 6));
        assert!(matches!(a.allocate("p2"), Err(IpamError::Exhausted(_))));
        a.release("p1");
        assert!(a.allocate("p2").is_ok());
        for (cidr, want) in [
            ("10.0.0.0/31", "too small"),
            ("fd00::/64", "invalid"),
            ("10.0.0.0", "invalid"),
            ("nonsense", "invalid"),
        ] {
            let err = PodIpAllocator::new(cidr).unwrap_err().to_string();
            assert!(err.contains(want), "{cidr}: {err}");
        }
    }

    #[test]
    fn allocator_should_reserve_existing_addresses() {
        let mut a = PodIpAllocator::new("10.1.0.0/29").unwrap(); // usable .2 ..= .6
        a.reserve("old", Ipv4Addr::new(10, 1, 0, 2)).unwrap();
        assert_eq!(a.allocate("new").unwrap(), Ipv4Addr::new(10, 1, 0, 3));
        assert!(
            a.reserve("x", Ipv4Addr::new(10, 1, 0, 2)).is_err(),
            "held by another"
        );
        assert!(
            a.reserve("x", Ipv4Addr::new(10, 1, 0, 1)).is_err(),
            "gateway"
        );
        assert!(
            a.reserve("x", Ipv4Addr::new(10, 1, 0, 7)).is_err(),
            "broadcast"
        );
        assert_eq!(a.allocated(), 2);
    }
}
