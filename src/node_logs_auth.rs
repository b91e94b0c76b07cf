//! How the API server proves to a node agent's log endpoint (see [`crate::node_logs`]) that a
//! request comes from the control plane.
//!
//! # Scheme
//! Both sides derive the same 32-byte *log key* from the cluster join token with BLAKE3's key
//! derivation ([`LogKey::from_cluster_token`]): every member has the token in its
//! `cluster.json`, and every `mock_k8 agent` is given it with `--token`. The key is one-way: knowing
//! it does not reveal the join token, so it cannot be used to join the cluster or to call the API.
//!
//! Each proxied request carries
//! `Authorization: MockK8-NodeLog <node>:<unix seconds>:<64 hex digits>`, where the digits are the
//! BLAKE3 keyed hash (a MAC) of `GET\n<node>\n<unix seconds>\n<path and query>` under the log key.
//! The agent accepts it only when the node is one it serves, the time is within
//! [`MAX_CLOCK_SKEW`] of its own clock, and the MAC matches (compared in constant time).
//!
//! # What a stranger can do
//! - Without the join token, reaching the agent's port: nothing; every request is answered 401.
//! - Watching the (plain HTTP) traffic between API server and agent: they see the log text anyway;
//!   they can replay a captured request to the same node for [`MAX_CLOCK_SKEW`] and read the same
//!   container's logs again (including lines written since), but cannot change the path, the
//!   query or the node, nor sign new requests.
//! - With the join token: everything (it is the cluster's root secret; such a party may also
//!   register a Node whose address points anywhere, and the API server would then send signed
//!   log requests there, as kube-apiserver trusts node addresses).
//!
//! Agents and API servers on different machines need clocks within [`MAX_CLOCK_SKEW`].

use std::time::{Duration, SystemTime};

/// How far a request's timestamp may be from the agent's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// The `Authorization` scheme of signed log requests.
pub const SCHEME: &str = "MockK8-NodeLog";

/// BLAKE3 key-derivation context (fixed, globally unique for this use).
const CONTEXT: &str = "mock_k8 2026-11-29 node log proxy request MAC v1";

/// The shared key of API servers and node agents for log requests.
#[derive(Clone)]
pub struct LogKey([u8; 32]);

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogKey(..)")
    }
}

/// Why a log request was refused (each answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, another scheme, or a malformed value.
    #[error("missing or malformed {SCHEME} credentials")]
    Malformed,
    /// The request names a node this agent does not serve.
    #[error("this agent does not serve node {0:?}")]
    WrongNode(String),
    /// The timestamp is more than [`MAX_CLOCK_SKEW`] away from the agent's clock.
    #[error("the request's time is not within {}s of the agent's clock", MAX_CLOCK_SKEW.as_secs())]
    Expired,
    /// The MAC does not match.
    #[error("bad signature")]
    BadSignature,
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl LogKey {
    /// The log key of the cluster whose join token is `token`.
    pub fn from_cluster_token(token: &str) -> LogKey {
        LogKey(blake3::derive_key(CONTEXT, token.as_bytes()))
    }

    fn mac(&self, node: &str, ts: u64, path_and_query: &str) -> blake3::Hash {
        let message = format!("GET\n{node}\n{ts}\n{path_and_query}");
        blake3::keyed_hash(&self.0, message.as_bytes())
    }

    /// The `Authorization` header value for `GET <path_and_query>` to the agent of `node` at
    /// time `now`.
    pub fn sign(&self, node: &str, now: SystemTime, path_and_query: &str) -> String {
        let ts = unix_seconds(now);
        let mac = self.mac(node, ts, path_and_query);
        format!("{SCHEME} {node}:{ts}:{}", mac.to_hex())
    }

    /// Checks the `Authorization` header value `header` of `GET <path_and_query>` at time `now`;
    /// `serves` says whether this agent serves a node name. Returns the node the request is for.
    ///
    /// # Errors
    /// An [`AuthError`] saying why the request is refused.
    pub fn verify(
        &self,
        header: Option<&str>,
        path_and_query: &str,
        now: SystemTime,
        serves: impl Fn(&str) -> bool,
    ) -> Result<String, AuthError> {
        let value = header
            .and_then(|h| h.strip_prefix(SCHEME))
            .and_then(|h| h.strip_prefix(' '))
            .ok_or(AuthError::Malformed)?;
        let mut parts = value.rsplitn(3, ':');
        let (Some(sig), Some(ts), Some(node)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AuthError::Malformed);
        };
        let ts: u64 = ts.parse().map_err(|_| AuthError::Malformed)?;
        let sig = blake3::Hash::from_hex(sig).map_err(|_| AuthError::Malformed)?;
        if !serves(node) {
            return Err(AuthError::WrongNode(node.to_string()));
        }
        if unix_seconds(now).abs_diff(ts) > MAX_CLOCK_SKEW.as_secs() {
            return Err(AuthError::Expired);
        }
        // `blake3::Hash`'s equality is constant-time.
        if self.mac(node, ts, path_and_query) != sig {
            return Err(AuthError::BadSignature);
        }
        Ok(node.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/containerLogs/default/web/app?follow=true";

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn check(key: &LogKey, header: &str, path: &str, now: u64) -> Result<String, AuthError> {
        key.verify(Some(header), path, at(now), |n| n == "n1")
    }

    #[test]
    fn verify_should_accept_a_fresh_request_signed_with_the_same_token() {
        let key = LogKey::from_cluster_token("join-token");
        let header = key.sign("n1", at(1_000), PATH);
        assert!(header.starts_with("MockK8-NodeLog n1:1000:"), "{header}");
        let other_side = LogKey::from_cluster_token("join-token");
        assert_eq!(check(&other_side, &header, PATH, 1_029), Ok("n1".into()));
        assert_eq!(check(&other_side, &header, PATH, 971), Ok("n1".into()));
    }

    #[test]
    fn verify_should_refuse_other_tokens_paths_nodes_old_and_malformed_requests() {
        let key = LogKey::from_cluster_token("join-token");
        let header = key.sign("n1", at(1_000), PATH);
        let stranger = LogKey::from_cluster_token("guess");
        assert_eq!(
            check(&stranger, &header, PATH, 1_000),
            Err(AuthError::BadSignature)
        );
        let other_path = "/containerLogs/kube-system/secret/app?follow=true";
        assert_eq!(
            check(&key, &header, other_path, 1_000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(check(&key, &header, PATH, 1_031), Err(AuthError::Expired));
        let for_n2 = key.sign("n2", at(1_000), PATH);
        assert_eq!(
            check(&key, &for_n2, PATH, 1_000),
            Err(AuthError::WrongNode("n2".into()))
        );
        // The node name is part of the MAC: relabelling a request for n2 as n1 fails.
        let relabelled = for_n2.replacen("n2:", "n1:", 1);
        assert_eq!(
            check(&key, &relabelled, PATH, 1_000),
            Err(AuthError::BadSignature)
        );
        for bad in [
            "",
            "Bearer x",
            "MockK8-NodeLog",
            "MockK8-NodeLog n1:1000",
            "MockK8-NodeLog n1:soon:00",
            "MockK8-NodeLog n1:1000:zz",
        ] {
            assert_eq!(
                check(&key, bad, PATH, 1_000),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            key.verify(None, PATH, at(1_000), |_| true),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn the_log_key_should_not_be_the_token_and_debug_should_hide_it() {
        let key = LogKey::from_cluster_token("join-token");
        assert_ne!(&key.0[..10], b"join-token");
        assert_eq!(format!("{key:?}"), "LogKey(..)");
    }
}
