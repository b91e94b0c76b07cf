//! ClusterIP and NodePort allocators: which Service IPs and node ports are free, with no collisions.
//!
//! Follows Kubernetes' Service IP and port allocation
//! (<https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/>,
//! <https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport>): a ClusterIP comes from
//! the service CIDR (`--service-cluster-ip-range`, default here `10.96.0.0/12`) minus its network and
//! broadcast addresses, the first address being kept for the `kubernetes` Service; a NodePort comes from
//! `--service-node-port-range` (default `30000-32767`). Unlike Kubernetes, which picks at random, both
//! allocators hand out the *lowest* free value, so the same history gives the same addresses.
//!
//! Both are bitmaps (one bit per value; a `/12` is 2^20 bits = 128 KiB) kept in memory and rebuilt from the
//! stored Services on start-up ([`ClusterIpAllocator::rebuild`], like Kubernetes' repair controller).
//! Not thread-safe by themselves: the owner serialises access (e.g. behind a `Mutex`).

use std::fmt;
use std::net::Ipv4Addr;

/// The service CIDR `kube-apiserver` uses when none is given (`--service-cluster-ip-range`).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";

/// The node port range Kubernetes uses when none is given (`--service-node-port-range`).
pub const DEFAULT_NODE_PORT_RANGE: &str = "30000-32767";

/// Largest service CIDR accepted: a prefix of at least 12 bits (2^20 addresses), as `kube-apiserver`
/// enforces ("for 32-bit addresses, the mask must be >= 12").
pub const MIN_PREFIX_LEN: u8 = 12;

/// Smallest service CIDR accepted: a `/30` still has two usable addresses (the `kubernetes` Service's and
/// one more).
pub const MAX_PREFIX_LEN: u8 = 30;

/// Why an allocation failed. Messages are Kubernetes' own field-error texts for `spec.clusterIP` and
/// `spec.ports[].nodePort`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The service CIDR could not be parsed or is too large/small.
    #[error("invalid service CIDR {input:?}: {reason}")]
    InvalidCidr {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node port range could not be parsed.
    #[error("invalid node port range {input:?}: {reason}")]
    InvalidPortRange {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested ClusterIP is already in use (the API answers 409-style / field error).
    #[error("provided IP is already allocated")]
    IpAllocated(Ipv4Addr),
    /// The requested ClusterIP is outside the range, or is its network or broadcast address.
    #[error("provided IP is not in the valid range. The range of valid IPs is {range}")]
    IpOutOfRange {
        /// The IP asked for.
        ip: Ipv4Addr,
        /// The service CIDR, e.g. `10.96.0.0/12`.
        range: String,
    },
    /// The requested node port is already in use.
    #[error("provided port is already allocated")]
    PortAllocated(i32),
    /// The requested node port is outside the range.
    #[error("provided port is not in the valid range. The range of valid ports is {range}")]
    PortOutOfRange {
        /// The port asked for.
        port: i32,
        /// The range, e.g. `30000-32767`.
        range: String,
    },
    /// Every value of the range is allocated.
    #[error("range is full")]
    Full,
}

impl AllocError {
    /// `true` for "already allocated": a conflict with another Service, as opposed to a bad request.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            AllocError::IpAllocated(_) | AllocError::PortAllocated(_)
        )
    }
}

/// A fixed-size set of small integers `0..len`, one bit each.
#[derive(Debug, Clone)]
struct Bitmap {
    words: Vec<u64>,
    len: usize,
    count: usize,
}

impl Bitmap {
    fn new(len: usize) -> Self {
        Bitmap {
            words: vec![0; len.div_ceil(64)],
            len,
            count: 0,
        }
    }
    fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }
    /// Sets bit `i`; `false` if it was already set or is out of range.
    fn set(&mut self, i: usize) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.words[i / 64] |= 1 << (i % 64);
        self.count += 1;
        true
    }
    /// Clears bit `i`; `false` if it was not set.
    fn clear(&mut self, i: usize) -> bool {
        if !self.get(i) {
            return false;
        }
        self.words[i / 64] &= !(1 << (i % 64));
        self.count -= 1;
        true
    }
    /// The lowest clear bit at or after `from`, skipping full words 64 at a time.
    fn first_clear_from(&self, from: usize) -> Option<usize> {
        let mut i = from;
        while i < self.len {
            let word = self.words[i / 64] | ((1u64 << (i % 64)) - 1);
            if word == u64::MAX {
                i = (i / 64 + 1) * 64;
                continue;
            }
            let bit = (i / 64) * 64 + word.trailing_ones() as usize;
            return (bit < self.len).then_some(bit);
        }
        None
    }
    fn reset(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
        self.count = 0;
    }
}

/// Allocates Service ClusterIPs from an IPv4 CIDR.
///
/// Offsets in the CIDR: 0 is the network address and the last one the broadcast address (never handed
/// out); offset 1 (e.g. `10.96.0.1`) is reserved for the `kubernetes` Service: [`allocate`](Self::allocate)
/// skips it, [`allocate_specific`](Self::allocate_specific) may take it.
#[derive(Debug, Clone)]
pub struct ClusterIpAllocator {
    network: u32,
    prefix_len: u8,
    used: Bitmap,
}

impl ClusterIpAllocator {
    /// An allocator over `cidr` (`a.b.c.d/n`, `n` in [`MIN_PREFIX_LEN`]`..=`[`MAX_PREFIX_LEN`]), with
    /// nothing allocated. Host bits in the address are ignored (`10.96.0.5/12` is `10.96.0.0/12`), as Go's
    /// `net.ParseCIDR` does.
    ///
    /// # Errors
    /// [`AllocError::InvalidCidr`] when `cidr` is not an IPv4 CIDR or its prefix is out of bounds.
    pub fn new(cidr: &str) -> Result<Self, AllocError> {
        let bad = |reason: &str| AllocError::InvalidCidr {
            input: cidr.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = cidr
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected an IPv4 address, '/', and a prefix length"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| bad("not an IPv4 address (IPv6 service ranges are not supported)"))?;
        let prefix_len: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix length must be a number"))?;
        if prefix_len > 32 {
            return Err(bad("the prefix length must be at most 32"));
        }
        if prefix_len < MIN_PREFIX_LEN {
            return Err(bad("the range is too large; the mask must be >= 12"));
        }
        if prefix_len > MAX_PREFIX_LEN {
            return Err(bad("the range is too small; the mask must be <= 30"));
        }
        let mask = u32::MAX << (32 - prefix_len);
        let size = 1usize << (32 - prefix_len);
        let mut used = Bitmap::new(size);
        // Network and broadcast addresses are never allocatable.
        used.set(0);
        used.set(size - 1);
        Ok(ClusterIpAllocator {
            network: u32::from(addr) & mask,
            prefix_len,
            used,
        })
    }

    /// The first usable address (e.g. `10.96.0.1`), kept for the `kubernetes` Service.
    pub fn kubernetes_service_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The lowest free address, excluding the network, broadcast and `kubernetes` Service addresses;
    /// marks it used.
    ///
    /// # Errors
    /// [`AllocError::Full`] when no address is free.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, AllocError> {
        let offset = self.used.first_clear_from(2).ok_or(AllocError::Full)?;
        self.used.set(offset);
        Ok(self.ip_at(offset))
    }

    /// Marks `ip` used (a Service that asks for `spec.clusterIP`, or the `kubernetes` Service).
    ///
    /// # Errors
    /// [`AllocError::IpOutOfRange`] outside the CIDR or on its network/broadcast address;
    /// [`AllocError::IpAllocated`] when already used.
    pub fn allocate_specific(&mut self, ip: Ipv4Addr) -> Result<(), AllocError> {
        let offset = self
            .usable_offset(ip)
            .ok_or_else(|| AllocError::IpOutOfRange {
                ip,
                range: self.to_string(),
            })?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(AllocError::IpAllocated(ip))
        }
    }

    /// Frees `ip`; returns `false` (and does nothing) when it was not allocated or is not in the range.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        self.usable_offset(ip)
            .is_some_and(|offset| self.used.clear(offset))
    }

    /// `true` when `ip` is allocated.
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.usable_offset(ip).is_some_and(|o| self.used.get(o))
    }

    /// Forgets every allocation, then marks each of `used` (the ClusterIPs of the stored Services).
    /// Returns the addresses that could not be marked — outside the range, or listed twice (two Services
    /// sharing an IP) — so the caller can report them, as Kubernetes' repair controller does.
    pub fn rebuild(&mut self, used: impl IntoIterator<Item = Ipv4Addr>) -> Vec<Ipv4Addr> {
        self.used.reset();
        let last = self.used.len - 1;
        self.used.set(0);
        self.used.set(last);
        used.into_iter()
            .filter(|ip| self.allocate_specific(*ip).is_err())
            .collect()
    }

    /// How many addresses are still free for [`allocate`](Self::allocate) or `allocate_specific`
    /// (the `kubernetes` Service's address counts while unused).
    pub fn free(&self) -> usize {
        self.used.len - self.used.count
    }

    /// The offset of `ip` in the CIDR when it is a usable (non network/broadcast) address.
    fn usable_offset(&self, ip: Ipv4Addr) -> Option<usize> {
        let offset = u32::from(ip).checked_sub(self.network)? as usize;
        (offset > 0 && offset < self.used.len - 1).then_some(offset)
    }

    fn ip_at(&self, offset: usize) -> Ipv4Addr {
        // offset < 2^20, so it fits in u32 and the sum stays inside the CIDR.
        Ipv4Addr::from(self.network + offset as u32)
    }
}

impl fmt::Display for ClusterIpAllocator {
    /// The CIDR, canonical: `10.96.0.0/12`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix_len)
    }
}

/// Allocates Service NodePorts from an inclusive port range (default `30000-32767`).
#[derive(Debug, Clone)]
pub struct NodePortAllocator {
    first: i32,
    last: i32,
    used: Bitmap,
}

impl Default for NodePortAllocator {
    /// The allocator over Kubernetes' default range `30000-32767`.
    fn default() -> Self {
        Self::with_range(30000, 32767)
    }
}

impl NodePortAllocator {
    /// An allocator over `range`: `first-last` (inclusive, e.g. `30000-32767`) or a single port, with
    /// `1 <= first <= last <= 65535` (the `--service-node-port-range` syntax).
    ///
    /// # Errors
    /// [`AllocError::InvalidPortRange`] otherwise.
    pub fn new(range: &str) -> Result<Self, AllocError> {
        let bad = |reason: &str| AllocError::InvalidPortRange {
            input: range.to_string(),
            reason: reason.to_string(),
        };
        let (a, b) = range
            .trim()
            .split_once('-')
            .unwrap_or((range.trim(), range.trim()));
        let first: u16 = a
            .trim()
            .parse()
            .map_err(|_| bad("ports must be numbers 1-65535"))?;
        let last: u16 = b
            .trim()
            .parse()
            .map_err(|_| bad("ports must be numbers 1-65535"))?;
        if first == 0 {
            return Err(bad("port 0 is not a valid port"));
        }
        if first > last {
            return Err(bad("the first port must not exceed the last"));
        }
        Ok(Self::with_range(i32::from(first), i32::from(last)))
    }

    fn with_range(first: i32, last: i32) -> Self {
        NodePortAllocator {
            first,
            last,
            used: Bitmap::new((last - first + 1) as usize),
        }
    }

    /// The lowest free port of the range; marks it used.
    ///
    /// # Errors
    /// [`AllocError::Full`] when every port is used.
    pub fn allocate(&mut self) -> Result<i32, AllocError> {
        let offset = self.used.first_clear_from(0).ok_or(AllocError::Full)?;
        self.used.set(offset);
        Ok(self.first + offset as i32)
    }

    /// Marks `port` used (a Service that asks for `spec.ports[].nodePort`).
    ///
    /// # Errors
    /// [`AllocError::PortOutOfRange`] outside the range; [`AllocError::PortAllocated`] when already used.
    pub fn allocate_specific(&mut self, port: i32) -> Result<(), AllocError> {
        let offset = self
            .offset(port)
            .ok_or_else(|| AllocError::PortOutOfRange {
                port,
                range: self.to_string(),
            })?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(AllocError::PortAllocated(port))
        }
    }

    /// Frees `port`; returns `false` when it was not allocated or is outside the range.
    pub fn release(&mut self, port: i32) -> bool {
        self.offset(port).is_some_and(|o| self.used.clear(o))
    }

    /// `true` when `port` is allocated.
    pub fn is_allocated(&self, port: i32) -> bool {
        self.offset(port).is_some_and(|o| self.used.get(o))
    }

    /// Forgets every allocation, then marks each of `used`; returns the ports that could not be marked
    /// (outside the range or listed twice).
    pub fn rebuild(&mut self, used: impl IntoIterator<Item = i32>) -> Vec<i32> {
        self.used.reset();
        used.into_iter()
            .filter(|p| self.allocate_specific(*p).is_err())
            .collect()
    }

    /// How many ports are still free.
    pub fn free(&self) -> usize {
        self.used.len - self.used.count
    }

    fn offset(&self, port: i32) -> Option<usize> {
        (self.first..=self.last)
            .contains(&port)
            .then(|| (port - self.first) as usize)
    }
}

impl fmt::Display for NodePortAllocator {
    /// The range: `30000-32767`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests;
