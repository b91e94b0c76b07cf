//! `--verify-after`: after an end-to-end run, audit the server's signed history with the real
//! `mock_k8 verify` (NKO, issue 4's "Done when") and report how fast it replays.
//!
//! On the verification-on cluster the shared manifests (`--manifests`, default
//! `/work/shared/manifests` when present) are applied with the real `kubectl` first, so the audited
//! history holds them and the pods; the audit then runs against the live server (`--server`). On
//! the verification-off server it runs on the stopped server's data directory (`--data-dir`).

use super::{Ctx, Res, Row};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::process::Command;

/// Where `mock_k8 verify` reads the history.
pub enum Source<'a> {
    /// A running server's records API.
    Server(&'a str),
    /// A stopped server's data directory.
    DataDir(&'a Path),
}

/// What the audit printed and how long it took.
struct Audit {
    ok: bool,
    transitions: u64,
    seconds: f64,
    output: String,
}

/// `verified N transitions …` → N.
fn transitions_of(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("verified ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

async fn audit(bin: &Path, source: &Source<'_>) -> Res<Audit> {
    let mut cmd = Command::new(bin);
    cmd.arg("verify").arg("--quiet");
    match source {
        Source::Server(url) => cmd.arg("--server").arg(url),
        Source::DataDir(dir) => cmd.arg("--data-dir").arg(dir),
    };
    let t = Instant::now();
    let out = cmd.output().await?;
    let seconds = t.elapsed().as_secs_f64();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Audit {
        ok: out.status.success(),
        transitions: transitions_of(&output),
        seconds,
        output,
    })
}

/// The manifests directory to apply: `ctx.manifests`, else the shared one if it exists.
fn manifests_dir(ctx: &Ctx) -> Option<PathBuf> {
    ctx.manifests.clone().or_else(|| {
        let p = PathBuf::from("/work/shared/manifests");
        p.is_dir().then_some(p)
    })
}

/// Applies every manifest of `dir` (not `invalid/`) to `url` as EXPECTED.md says (namespaces
/// `cpu-example` and `spark-cluster` first, `generateName` with `create`); returns (applied,
/// refused) counts. Refusals are expected for some files (e.g. the immutable-spec patch).
async fn apply_manifests(ctx: &Ctx, url: &str, dir: &Path) -> Res<(usize, usize)> {
    for ns in ["cpu-example", "spark-cluster"] {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        ctx.http
            .post(format!("{url}/api/v1/namespaces"))
            .json(&body)
            .send()
            .await?;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    let cache = tempfile::tempdir()?;
    let (mut applied, mut refused) = (0, 0);
    for f in files {
        let verb = if f.to_string_lossy().contains("generate-name") {
            "create"
        } else {
            "apply"
        };
        let out = Command::new("kubectl")
            .arg("--server")
            .arg(url)
            .arg("--cache-dir")
            .arg(cache.path())
            .arg("-n")
            .arg("default")
            .arg(verb)
            .arg("-f")
            .arg(&f)
            .env("KUBECONFIG", "/dev/null")
            .output()
            .await?;
        if out.status.success() {
            applied += 1;
        } else {
            refused += 1;
        }
    }
    Ok((applied, refused))
}

/// Runs the audit of `source` after an end-to-end run (verification `on` or off) and returns its
/// JSON and rows. On a live server, applies the manifests first (and waits 5 s for them to settle).
///
/// # Errors
/// `mock_k8 verify` could not be run (a failed verification is a result, not an error).
pub async fn after_run(ctx: &Ctx, source: Source<'_>, on: bool) -> Res<(Value, Vec<Row>)> {
    let mut manifests = Value::Null;
    if let Source::Server(url) = &source
        && let Some(dir) = manifests_dir(ctx)
    {
        let (applied, refused) = apply_manifests(ctx, url, &dir).await?;
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        manifests =
            json!({"dir": dir.display().to_string(), "applied": applied, "refused": refused});
    }
    let a = audit(&ctx.bin, &source).await?;
    let rate = a.transitions as f64 / a.seconds.max(1e-9);
    let params = format!(
        "verification {}, {} transitions{}",
        if on { "on" } else { "off" },
        a.transitions,
        if manifests.is_null() {
            String::new()
        } else {
            " + shared manifests".into()
        }
    );
    let verdict = if a.ok {
        "clean".to_string()
    } else {
        let first = a
            .output
            .lines()
            .find(|l| l.contains("revision"))
            .unwrap_or("failed");
        format!("FAILED: {first}")
    };
    let rows = vec![Row::new(
        "1 end to end: mock_k8 verify",
        params,
        "verdict / transitions/s",
        format!("{verdict} / {rate:.0}/s ({:.1} s)", a.seconds),
        "clean",
    )];
    let v = json!({
        "scenario": "verify-after",
        "verification": on,
        "source": match source { Source::Server(_) => "server", Source::DataDir(_) => "data-dir" },
        "clean": a.ok, "transitions": a.transitions, "seconds": a.seconds,
        "transitionsPerSecond": rate, "manifests": manifests,
        "output": a.output,
    });
    Ok((v, rows))
}
