//! The request signature wire format: how a controller or node agent proves who sent a write
//! (SPEC.md, "Request signatures").
//!
//! A signed request carries five headers next to its ordinary ones:
//!
//! | header | value |
//! |---|---|
//! | `X-Nko-Actor` | `controller:<name>` or `node:<node name>` |
//! | `X-Nko-Key` | the actor's key id (64 hex digits of the Ed25519 public key) |
//! | `X-Nko-Timestamp` | milliseconds since the Unix epoch when it was signed |
//! | `X-Nko-Proof` | optional: hex of the proof bytes (kind-specific JSON, see [`crate::proof`]) |
//! | `X-Nko-Signature` | hex of the 64-byte Ed25519 signature over [`RequestClaim::signed_bytes`] |
//!
//! Requests without `X-Nko-Actor` are user requests; the API server signs for them.

use crate::encode::{Writer, hex, unhex, unhex_vec};
use crate::keys::{PublicKey, SecretKey};

/// Header naming the actor.
pub const ACTOR_HEADER: &str = "x-nko-actor";
/// Header with the actor's key id.
pub const KEY_HEADER: &str = "x-nko-key";
/// Header with the signing time (Unix milliseconds).
pub const TIMESTAMP_HEADER: &str = "x-nko-timestamp";
/// Header with the hex proof bytes.
pub const PROOF_HEADER: &str = "x-nko-proof";
/// Header with the hex signature.
pub const SIGNATURE_HEADER: &str = "x-nko-signature";
/// Domain tag of the signed request bytes.
const REQUEST_TAG: &str = "mock_k8/nko/request/v1";

/// What a request says about itself; the signature covers all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestClaim {
    /// `controller:<name>`, `node:<name>`, or for requests the API server signs, `user:<name>` /
    /// `system:<what>`.
    pub actor: String,
    /// The key that signs.
    pub key: PublicKey,
    /// Signing time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The HTTP method, upper case (`POST`, `PUT`, `PATCH`, `DELETE`).
    pub method: String,
    /// The request target in origin form: path and query exactly as sent
    /// (`/api/v1/namespaces/default/pods/p/status?fieldManager=x`).
    pub path: String,
    /// BLAKE3 of the request body bytes (of the empty string when there is none).
    pub body_digest: [u8; 32],
    /// Kind-specific proof bytes; empty when the write carries none.
    pub proof: Vec<u8>,
}

/// The headers of a signed request were present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed NKO header {header}: {reason}")]
pub struct HeaderError {
    /// The offending header.
    pub header: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RequestClaim {
    /// The bytes the actor signs: `tagged("mock_k8/nko/request/v1") ‖ str(actor) ‖ key(32) ‖
    /// u64(timestamp_ms) ‖ str(method) ‖ str(path) ‖ body_digest(32) ‖ bytes(proof)`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Writer::tagged(REQUEST_TAG);
        w.str(&self.actor)
            .raw(&self.key.0)
            .u64(self.timestamp_ms)
            .str(&self.method)
            .str(&self.path)
            .raw(&self.body_digest)
            .bytes(&self.proof);
        w.finish()
    }

    /// Signs the claim with `key` (which must match `self.key`).
    pub fn sign(&self, key: &SecretKey) -> [u8; 64] {
        key.sign(&self.signed_bytes())
    }

    /// Whether `sig` is `self.key`'s signature over the claim.
    pub fn verify(&self, sig: &[u8; 64]) -> bool {
        self.key.verify(&self.signed_bytes(), sig)
    }

    /// The five headers of a request carrying this claim and `sig`, as (lower-case name, value)
    /// pairs; the proof header only when there is a proof.
    pub fn headers(&self, sig: &[u8; 64]) -> Vec<(&'static str, String)> {
        let mut h = vec![
            (ACTOR_HEADER, self.actor.clone()),
            (KEY_HEADER, self.key.id()),
            (TIMESTAMP_HEADER, self.timestamp_ms.to_string()),
            (SIGNATURE_HEADER, hex(sig)),
        ];
        if !self.proof.is_empty() {
            h.push((PROOF_HEADER, hex(&self.proof)));
        }
        h
    }

    /// Reads a claim and its signature from request headers (`get` looks one up by lower-case
    /// name). `Ok(None)` when there is no `X-Nko-Actor` header (a user request).
    ///
    /// # Errors
    /// [`HeaderError`] when the actor header is there but another is missing or malformed.
    pub fn from_headers<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<(RequestClaim, [u8; 64])>, HeaderError> {
        let Some(actor) = get(ACTOR_HEADER) else {
            return Ok(None);
        };
        let bad = |header, reason| HeaderError { header, reason };
        let key = get(KEY_HEADER).ok_or(bad(KEY_HEADER, "missing"))?;
        let key = PublicKey::from_id(key).ok_or(bad(KEY_HEADER, "not 64 hex digits"))?;
        let ts = get(TIMESTAMP_HEADER).ok_or(bad(TIMESTAMP_HEADER, "missing"))?;
        let timestamp_ms = ts
            .trim()
            .parse()
            .map_err(|_| bad(TIMESTAMP_HEADER, "not an integer"))?;
        let sig = get(SIGNATURE_HEADER).ok_or(bad(SIGNATURE_HEADER, "missing"))?;
        let sig = unhex::<64>(sig.trim()).ok_or(bad(SIGNATURE_HEADER, "not 128 hex digits"))?;
        let proof = match get(PROOF_HEADER) {
            None => Vec::new(),
            Some(p) => unhex_vec(p.trim()).ok_or(bad(PROOF_HEADER, "not hex"))?,
        };
        let claim = RequestClaim {
            actor: actor.trim().to_string(),
            key,
            timestamp_ms,
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            body_digest: *blake3::hash(body).as_bytes(),
            proof,
        };
        Ok(Some((claim, sig)))
    }
}

/// What kind of party an actor string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind<'a> {
    /// `user:<name>`: a user request the API server signed.
    User(&'a str),
    /// `system:<what>`: a write the API server made on its own (bootstrap, allocators).
    System(&'a str),
    /// `controller:<name>`: a controller of the controller manager.
    Controller(&'a str),
    /// `node:<name>`: the node agent of Node `<name>`.
    Node(&'a str),
    /// Anything else (never authorized).
    Unknown,
}

/// Splits an actor string into its kind and name.
pub fn actor_kind(actor: &str) -> ActorKind<'_> {
    match actor.split_once(':') {
        Some(("user", n)) if !n.is_empty() => ActorKind::User(n),
        Some(("system", n)) if !n.is_empty() => ActorKind::System(n),
        Some(("controller", n)) if !n.is_empty() => ActorKind::Controller(n),
        Some(("node", n)) if !n.is_empty() => ActorKind::Node(n),
        _ => ActorKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &SecretKey) -> RequestClaim {
        RequestClaim {
            actor: "node:n1".into(),
            key: key.public(),
            timestamp_ms: 1_700_000_000_000,
            method: "PUT".into(),
            path: "/api/v1/namespaces/default/pods/p/status".into(),
            body_digest: *blake3::hash(b"{}").as_bytes(),
            proof: b"{\"k\":1}".to_vec(),
        }
    }

    #[test]
    fn headers_should_round_trip_and_verify() {
        let key = SecretKey::from_seed(&[1; 32]);
        let c = claim(&key);
        let sig = c.sign(&key);
        let headers = c.headers(&sig);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        let (back, back_sig) = RequestClaim::from_headers(get, "put", &c.path, b"{}")
            .unwrap()
            .unwrap();
        assert_eq!(back, c);
        assert!(back.verify(&back_sig));
        let (other_body, sig2) = RequestClaim::from_headers(get, "PUT", &c.path, b"{ }")
            .unwrap()
            .unwrap();
        assert!(!other_body.verify(&sig2), "the body is covered");
    }

    #[test]
    fn headers_should_be_absent_or_well_formed() {
        assert_eq!(
            RequestClaim::from_headers(|_| None, "PUT", "/", b""),
            Ok(None)
        );
        let get = |name: &str| (name == ACTOR_HEADER).then_some("node:n1");
        let err = RequestClaim::from_headers(get, "PUT", "/", b"").unwrap_err();
        assert_eq!(err.header, KEY_HEADER);
    }

    #[test]
    fn actor_kind_should_parse_prefixes() {
        assert_eq!(actor_kind("node:n1"), ActorKind::Node("n1"));
        assert_eq!(
            actor_kind("controller:scheduler"),
            ActorKind::Controller("scheduler")
        );
        assert_eq!(actor_kind("user:anonymous"), ActorKind::User("anonymous"));
        assert_eq!(actor_kind("node:"), ActorKind::Unknown);
        assert_eq!(actor_kind("root"), ActorKind::Unknown);
    }
}
