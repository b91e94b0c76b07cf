//! LtHash16: the incremental, homomorphic multiset hash that commits to the whole state
//! (Bellare–Micciancio 1997 "A New Paradigm for Collision-free Hashing"; the parameters of
//! Lewi et al., "Securing Update Propagation with Homomorphic Hashing", IACR ePrint 2019/227).
//!
//! The state is the multiset of `(key, object digest)` pairs. Each pair maps to a vector of
//! [`LANES`] 16-bit lanes, the BLAKE3 extendable output of its canonical bytes; the commitment is
//! the lane-wise sum modulo 2^16 of the vectors of every pair. Adding or removing one pair is one
//! vector addition or subtraction, O(1) in the size of the state, and the sum does not depend on
//! the order of the operations.

use crate::encode::Writer;

/// Lanes per commitment (1024 × 16 bits = 2048 bytes).
pub const LANES: usize = 1024;
/// Bytes of a serialized commitment.
pub const BYTES: usize = LANES * 2;
/// Domain tag of an element's canonical bytes.
const ELEMENT_TAG: &str = "mock_k8/nko/lthash-element/v1";
/// Domain tag of a commitment's digest.
const DIGEST_TAG: &str = "mock_k8/nko/lthash-digest/v1";

/// A state commitment: 1024 lanes of `u16`, initially zero (the empty state).
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash {
    lanes: Box<[u16; LANES]>,
}

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LtHash({})", crate::encode::hex(&self.digest()[..8]))
    }
}

impl Default for LtHash {
    fn default() -> Self {
        LtHash {
            lanes: Box::new([0; LANES]),
        }
    }
}

/// The lanes of the pair `(key, digest)`: BLAKE3 XOF over
/// `tagged("mock_k8/nko/lthash-element/v1") ‖ str(key) ‖ digest`, read as 1024 little-endian `u16`.
fn element(key: &str, digest: &[u8; 32]) -> [u16; LANES] {
    let mut w = Writer::tagged(ELEMENT_TAG);
    w.str(key).raw(digest);
    let mut bytes = [0u8; BYTES];
    blake3::Hasher::new()
        .update(w.as_bytes())
        .finalize_xof()
        .fill(&mut bytes);
    let mut lanes = [0u16; LANES];
    for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
        *lane = u16::from_le_bytes([pair[0], pair[1]]);
    }
    lanes
}

impl LtHash {
    /// Adds the pair `(key, digest)` to the multiset.
    pub fn add(&mut self, key: &str, digest: &[u8; 32]) {
        for (l, e) in self.lanes.iter_mut().zip(element(key, digest)) {
            *l = l.wrapping_add(e);
        }
    }

    /// Removes the pair `(key, digest)` from the multiset (it must have been added).
    pub fn remove(&mut self, key: &str, digest: &[u8; 32]) {
        for (l, e) in self.lanes.iter_mut().zip(element(key, digest)) {
            *l = l.wrapping_sub(e);
        }
    }

    /// The 2048 serialized bytes: each lane little-endian, lane 0 first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lanes.iter().flat_map(|l| l.to_le_bytes()).collect()
    }

    /// Parses [`LtHash::to_bytes`] output; `None` unless exactly 2048 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<LtHash> {
        if bytes.len() != BYTES {
            return None;
        }
        let mut h = LtHash::default();
        for (l, pair) in h.lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *l = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Some(h)
    }

    /// The 32-byte digest records carry: BLAKE3 of `tagged("mock_k8/nko/lthash-digest/v1") ‖
    /// to_bytes()`.
    pub fn digest(&self) -> [u8; 32] {
        let mut w = Writer::tagged(DIGEST_TAG);
        w.raw(&self.to_bytes());
        *blake3::hash(w.as_bytes()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lthash_should_not_depend_on_order_and_should_undo_removals() {
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        let mut x = LtHash::default();
        x.add("k1", &a);
        x.add("k2", &b);
        let mut y = LtHash::default();
        y.add("k2", &b);
        y.add("k3", &c);
        y.add("k1", &a);
        y.remove("k3", &c);
        assert_eq!(x, y);
        assert_eq!(x.digest(), y.digest());
        x.remove("k1", &a);
        x.remove("k2", &b);
        assert_eq!(x, LtHash::default());
    }

    #[test]
    fn lthash_should_distinguish_keys_digests_and_multiplicity() {
        let mut x = LtHash::default();
        x.add("k", &[1; 32]);
        let mut y = LtHash::default();
        y.add("k", &[2; 32]);
        let mut z = LtHash::default();
        z.add("j", &[1; 32]);
        assert_ne!(x.digest(), y.digest());
        assert_ne!(x.digest(), z.digest());
        let mut twice = x.clone();
        twice.add("k", &[1; 32]);
        assert_ne!(twice, x);
    }

    #[test]
    fn lthash_bytes_should_round_trip() {
        let mut x = LtHash::default();
        x.add("k", &[5; 32]);
        let bytes = x.to_bytes();
        assert_eq!(bytes.len(), BYTES);
        assert_eq!(LtHash::from_bytes(&bytes), Some(x));
        assert_eq!(LtHash::from_bytes(&bytes[1..]), None);
    }
}
