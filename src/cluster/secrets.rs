//! The cluster secrets in the data directory: `<data-dir>/cluster.json`, owner-only (mode 0600),
//! written atomically.
//!
//! - `token`: the cluster's join token. Whoever presents it may join the cluster, register nodes
//!   (`mock_k8 agent`) and manage members; `init` (or the first `run` on an empty directory)
//!   creates it and prints it once; a joining member keeps the token it joined with.
//! - `memberKey`: this member's Raft RPC key, recorded in the replicated membership.
//! - `joinUrl`: where this member joined (absent on the first member); `seeds`: the members the
//!   join answer named, accepted as RPC senders until the membership reaches this member.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::types::{Member, NodeId};

/// The file's name inside the data directory.
pub const SECRETS_FILE: &str = "cluster.json";

/// What `cluster.json` holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secrets {
    /// The cluster join token.
    pub token: String,
    /// This member's RPC key.
    pub member_key: String,
    /// The URL this member joined through; `None` for the member that created the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// The members named by the join answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seeds: BTreeMap<NodeId, Member>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("join_url", &self.join_url)
            .field("seeds", &self.seeds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// Fresh secrets for the first member of a new cluster.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn generate() -> Result<Secrets, String> {
        Ok(Secrets {
            token: new_token()?,
            member_key: random_hex(32)?,
            join_url: None,
            seeds: BTreeMap::new(),
        })
    }
}

/// A new join token: `mk8-` and 48 hex digits (24 random bytes).
///
/// # Errors
/// The system's random source failed.
pub fn new_token() -> Result<String, String> {
    Ok(format!("mk8-{}", random_hex(24)?))
}

/// `len` random bytes as hex.
///
/// # Errors
/// The system's random source failed.
pub fn random_hex(len: usize) -> Result<String, String> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| format!("random source: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The path of `cluster.json` in `data_dir`.
pub fn secrets_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SECRETS_FILE)
}

/// Reads `data_dir`'s secrets; `Ok(None)` when there are none yet.
///
/// # Errors
/// An unreadable or corrupt file.
pub fn load(data_dir: &Path) -> Result<Option<Secrets>, String> {
    let path = secrets_path(data_dir);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: corrupt: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes `secrets` to `data_dir` owner-only, atomically (temporary file, fsync, rename, fsync of
/// the directory).
///
/// # Errors
/// I/O failures.
pub fn store(data_dir: &Path, secrets: &Secrets) -> Result<(), String> {
    let path = secrets_path(data_dir);
    let tmp = data_dir.join(format!(".{SECRETS_FILE}.tmp.{}", std::process::id()));
    let mut bytes = serde_json::to_vec_pretty(secrets).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let result = (|| -> std::io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &path)?;
        fs::File::open(data_dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// `data_dir`'s secrets, creating fresh ones (a new cluster's) when there are none.
///
/// # Errors
/// I/O failures, a corrupt file.
pub fn load_or_create(data_dir: &Path) -> Result<(Secrets, bool), String> {
    if let Some(s) = load(data_dir)? {
        return Ok((s, false));
    }
    let s = Secrets::generate()?;
    store(data_dir, &s)?;
    Ok((s, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_should_round_trip_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("load"), None);
        let (created, fresh) = load_or_create(dir.path()).expect("create");
        assert!(fresh);
        assert!(created.token.starts_with("mk8-") && created.token.len() == 52);
        assert_eq!(created.member_key.len(), 64);
        let (again, fresh) = load_or_create(dir.path()).expect("load");
        assert!(!fresh);
        assert_eq!(again, created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(secrets_path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{created:?}").contains(&created.token));
    }
}
