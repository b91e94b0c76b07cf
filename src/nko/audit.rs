//! `mock_k8 verify`: replays a history through the verifier V (`mock_k8_nko::verify`) from a
//! stopped member's data directory or from a running server's records API, and reports.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mock_k8_controllers::client::transport::{HyperTransport, Transport};
use mock_k8_nko::encode::unhex_vec;
use mock_k8_nko::keys::PublicKey;
use mock_k8_nko::record::Checkpoint;
use mock_k8_nko::verify::{Failure, Summary, Trust, Verifier};
use serde_json::Value;

use super::keyfiles;
use crate::config::raft_dir;
use crate::store::backend::{Backend, SledBackend};
use crate::store::records;
use crate::store::state_machine::StateMachine;

/// Records fetched or read per step.
const PAGE: usize = 1000;

/// Why an audit did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The history failed verification.
    #[error("verification failed at revision {}: {}", .0.revision, .0.what)]
    Failed(Failure),
    /// The history could not be read.
    #[error("{0}")]
    Unreadable(String),
}

impl From<Failure> for AuditError {
    fn from(f: Failure) -> Self {
        AuditError::Failed(f)
    }
}

/// A successful audit.
#[derive(Debug)]
pub struct Report {
    /// What the verifier saw.
    pub summary: Summary,
    /// Wall time of the replay.
    pub elapsed: Duration,
    /// Whether the stored state was compared with the replay.
    pub state_checked: bool,
}

impl Report {
    /// Transitions verified.
    pub fn transitions(&self) -> u64 {
        self.summary.to - self.summary.from
    }

    /// A human-readable summary (multi-line).
    pub fn render(&self) -> String {
        let s = &self.summary;
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.transitions() as f64 / secs
        } else {
            0.0
        };
        let range = if s.to > s.from {
            format!("revisions {}..={}", s.from + 1, s.to)
        } else {
            format!("none after revision {}", s.to)
        };
        let mut out = format!(
            "verified {} transitions ({range}) in {:.2}s ({:.0} transitions/s); {} checkpoint(s){}\n",
            self.transitions(),
            secs,
            rate,
            s.checkpoints,
            if self.state_checked {
                "; stored state matches"
            } else {
                ""
            }
        );
        out.push_str("by kind:\n");
        for (k, n) in &s.by_kind {
            out.push_str(&format!("  {k:<40} {n}\n"));
        }
        out.push_str("by actor:\n");
        for (k, n) in &s.by_actor {
            out.push_str(&format!("  {k:<40} {n}\n"));
        }
        out.push_str(if s.proofs_checked {
            "proofs (recomputed):\n"
        } else {
            "proofs (not checked):\n"
        });
        for (k, n) in &s.proofs {
            out.push_str(&format!("  {k:<40} {n}\n"));
        }
        if !s.unenforced.is_empty() {
            out.push_str(&format!(
                "{} write(s) admitted with verification disabled break signature or authority rules:\n",
                s.unenforced.len()
            ));
            for (rev, why) in s.unenforced.iter().take(20) {
                out.push_str(&format!("  revision {rev}: {why}\n"));
            }
        }
        out
    }
}

fn unreadable(context: &str, e: impl std::fmt::Display) -> AuditError {
    AuditError::Unreadable(format!("{context}: {e}"))
}

/// Verifies the history in data directory `dir` (the server must be stopped: the store is
/// locked while it runs). Trusts the member and controller keys of `dir/keys` plus `extra`.
/// With `from_checkpoint`, starts at the stored signed checkpoint instead of revision 1
/// (`nko/SPEC.md` §9): its signature must verify by a trusted member key and the stored state
/// objects must hash to its commitment, then the records after it are replayed (a member re-signs
/// its checkpoint after every applied entry, so a stopped member's state is the checkpoint's).
/// `progress(done)` is called after every page.
///
/// # Errors
/// [`AuditError::Failed`] at the first bad transition (or at the checkpoint's revision);
/// `Unreadable` for I/O problems, or `from_checkpoint` without a stored checkpoint.
pub fn verify_data_dir(
    dir: &Path,
    extra: &[PublicKey],
    from_checkpoint: bool,
    mut progress: impl FnMut(u64),
) -> Result<Report, AuditError> {
    let started = Instant::now();
    let mut trust = Trust::default();
    let read = |name| keyfiles::read_public(dir, name).map_err(|e| unreadable("reading keys", e));
    trust.members.extend(read(keyfiles::MEMBER)?);
    trust.controllers.extend(read(keyfiles::CONTROLLERS)?);
    trust.members.extend(extra.iter().copied());
    trust.controllers.extend(extra.iter().copied());
    let store_dir = raft_dir(dir);
    if !store_dir.exists() {
        return Err(unreadable(
            "reading the store",
            format!("{} does not exist", store_dir.display()),
        ));
    }
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&store_dir).map_err(|e| {
        unreadable(
            "opening the store (is the server still running? use --server)",
            e,
        )
    })?);
    let checkpoint = records::read_checkpoint(&*backend)
        .map_err(|e| unreadable("checkpoint", e))?
        .map(|cp| Checkpoint::decode(&cp).map_err(|e| unreadable("checkpoint", e)))
        .transpose()?;
    let sm =
        StateMachine::open(backend.clone(), 1).map_err(|e| unreadable("reading the state", e))?;
    let (objects, _) = sm.cache().snapshot();
    let state = || {
        objects
            .values()
            .map(|o| (o.key.clone(), o.resource_version, o.json.clone()))
    };
    let mut v = match (from_checkpoint, checkpoint) {
        (true, Some(cp)) => Verifier::from_checkpoint(trust, &cp, state())?,
        (true, None) => {
            return Err(unreadable(
                "--from-checkpoint",
                "the store holds no checkpoint",
            ));
        }
        (false, cp) => {
            let mut v = Verifier::new(trust);
            if let Some(cp) = cp {
                v.expect_checkpoint(cp);
            }
            v
        }
    }
    .with_checker(Box::new(super::proofs::Checker::new()));
    let mut from = v.revision() + 1;
    loop {
        let page =
            records::read_records(&*backend, from, PAGE).map_err(|e| unreadable("records", e))?;
        if page.is_empty() {
            break;
        }
        for (rev, record, object) in &page {
            if *rev != v.revision() + 1 {
                return Err(Failure {
                    revision: v.revision() + 1,
                    what: "record missing".into(),
                }
                .into());
            }
            v.step(record, object.as_deref())?;
        }
        from = v.revision() + 1;
        progress(v.revision());
    }
    v.check_state(state())?;
    let summary = v.finish()?;
    Ok(Report {
        summary,
        elapsed: started.elapsed(),
        state_checked: true,
    })
}

async fn get_json(t: &HyperTransport, path: &str) -> Result<Option<Value>, AuditError> {
    let req = axum::http::Request::get(path)
        .body(Bytes::new())
        .map_err(|e| unreadable(path, e))?;
    let resp = t.send(req).await.map_err(|e| unreadable(path, e))?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.map_err(|e| unreadable(path, e))?);
    }
    if status == axum::http::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(unreadable(path, format!("HTTP {status}")));
    }
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| unreadable(path, e))
}

fn keys_of(doc: &Value, field: &str) -> Vec<PublicKey> {
    doc[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(PublicKey::from_id)
        .collect()
}

/// Verifies the history a running server serves at `base` (`http://host:port`). Trusts the keys
/// the server publishes at `/nko/v1/keys` plus `extra` (pass the keys you trust with `--trust`
/// to not rely on the server's word). The stored state is not compared (it keeps changing).
///
/// # Errors
/// As [`verify_data_dir`].
pub async fn verify_server(
    base: &str,
    extra: &[PublicKey],
    mut progress: impl FnMut(u64),
) -> Result<Report, AuditError> {
    let started = Instant::now();
    let t = HyperTransport::new(base).map_err(|e| unreadable(base, e))?;
    let keys = get_json(&t, "/nko/v1/keys")
        .await?
        .ok_or_else(|| unreadable(base, "no /nko/v1/keys"))?;
    let mut trust = Trust::default();
    trust.members.extend(keys_of(&keys, "members"));
    trust.controllers.extend(keys_of(&keys, "controllers"));
    trust.members.extend(extra.iter().copied());
    trust.controllers.extend(extra.iter().copied());
    let mut v = Verifier::new(trust).with_checker(Box::new(super::proofs::Checker::new()));
    // The checkpoint first: the records fetched afterwards reach at least its revision.
    if let Some(doc) = get_json(&t, "/nko/v1/checkpoint").await? {
        let bytes = doc["checkpoint"]
            .as_str()
            .and_then(unhex_vec)
            .ok_or_else(|| unreadable("checkpoint", "not hex"))?;
        v.expect_checkpoint(Checkpoint::decode(&bytes).map_err(|e| unreadable("checkpoint", e))?);
    }
    loop {
        let path = format!("/nko/v1/records?from={}&limit={PAGE}", v.revision() + 1);
        let page = get_json(&t, &path)
            .await?
            .ok_or_else(|| unreadable(&path, "not found"))?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in items {
            let record = item["record"]
                .as_str()
                .and_then(unhex_vec)
                .ok_or_else(|| unreadable(&path, "record is not hex"))?;
            let object = item["object"].as_str().map(|s| s.as_bytes().to_vec());
            v.step(&record, object.as_deref())?;
        }
        progress(v.revision());
    }
    let summary = v.finish()?;
    Ok(Report {
        summary,
        elapsed: started.elapsed(),
        state_checked: false,
    })
}
