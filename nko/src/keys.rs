//! Ed25519 identity keys (RFC 8032, via ed25519-dalek): control-plane members, the controller
//! manager and node agents each hold one. A key's id is the lower-case hex of its 32-byte public
//! key, so a record names the key that verifies it.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::encode::{hex, unhex};

/// A 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl PublicKey {
    /// The key id: 64 lower-case hex digits of the public key.
    pub fn id(&self) -> String {
        hex(&self.0)
    }

    /// Parses a key id (64 hex digits).
    pub fn from_id(id: &str) -> Option<PublicKey> {
        unhex(id.trim()).map(PublicKey)
    }

    /// Whether `sig` is this key's signature over `msg`, by RFC 8032 with the strict checks of
    /// ed25519-dalek's `verify_strict` (no small-order keys, canonical `S`). A malformed key never
    /// verifies.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok()
    }
}

/// An Ed25519 signing key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct SecretKey {
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(public {})", self.public().id())
    }
}

impl SecretKey {
    /// A new key from 32 bytes of the operating system's randomness.
    ///
    /// # Errors
    /// The OS random source failed.
    pub fn generate() -> Result<SecretKey, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(SecretKey::from_seed(&seed))
    }

    /// The key whose RFC 8032 secret seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed (for storing the key; handle with care).
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// A key derived from this one for `name` (e.g. one key per simulated node of an agent pool):
    /// the seed is BLAKE3 in key-derivation mode, context `"mock_k8 nko derived key v1"`, over
    /// `seed ‖ name`.
    pub fn derive(&self, name: &str) -> SecretKey {
        let mut material = self.seed().to_vec();
        material.extend_from_slice(name.as_bytes());
        SecretKey::from_seed(&blake3::derive_key("mock_k8 nko derived key v1", &material))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// The signature over `msg` (deterministic, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_should_verify_only_for_the_signed_message_and_key() {
        let k = SecretKey::from_seed(&[7; 32]);
        let other = SecretKey::generate().unwrap();
        let sig = k.sign(b"hello");
        assert!(k.public().verify(b"hello", &sig));
        assert!(!k.public().verify(b"hellO", &sig));
        assert!(!other.public().verify(b"hello", &sig));
        let mut bad = sig;
        bad[3] ^= 1;
        assert!(!k.public().verify(b"hello", &bad));
        assert_eq!(PublicKey::from_id(&k.public().id()), Some(k.public()));
        assert!(!format!("{k:?}").contains(&hex(&k.seed())));
        assert_eq!(SecretKey::from_seed(&k.seed()).public(), k.public());
    }
}
