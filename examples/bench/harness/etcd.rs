//! etcd for the side-by-side: finds the binary (Debian's `etcd-server` package, 3.4), starts one
//! member on loopback with its data directory beside mock_k8's (same disk), and builds puts for
//! its JSON gateway (`POST /v3/kv/put` with base64 `key` and `value`, etcd's gRPC-gateway API).

use super::Res;
use super::load::Request;
use super::server::{Proc, free_port, wait_ok};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// How to get etcd when it is missing.
pub const INSTALL_HINT: &str = "etcd not found: install Debian's etcd-server package \
     (apt-get install -y etcd-server) or pass --etcd /path/to/etcd";

/// The etcd binary: `explicit` if given, else `etcd` on `PATH`, else `/usr/bin/etcd`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("etcd"))
        .chain([PathBuf::from("/usr/bin/etcd")])
        .find(|p| p.is_file())
}

/// `etcd --version`'s first line (e.g. `etcd Version: 3.4.23`).
pub async fn version(bin: &Path) -> String {
    match Command::new(bin).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// Starts a single etcd member with data in `data_dir` (fsync on every commit, etcd's default) and
/// waits until `/health` answers.
///
/// # Errors
/// It could not be started or did not become healthy within 30 s.
pub async fn start(bin: &Path, data_dir: &Path, http: &reqwest::Client) -> Res<Proc> {
    let (client, peer) = (free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new(bin);
    cmd.arg("--name")
        .arg("bench")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen-client-urls")
        .arg(&client_url)
        .arg("--advertise-client-urls")
        .arg(&client_url)
        .arg("--listen-peer-urls")
        .arg(&peer_url)
        .arg("--initial-advertise-peer-urls")
        .arg(&peer_url)
        .arg("--initial-cluster")
        .arg(format!("bench={peer_url}"))
        .arg("--logger")
        .arg("zap")
        .arg("--log-level")
        .arg("warn");
    let proc = Proc::spawn(cmd, client_url, &data_dir.with_extension("log"))
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    wait_ok(http, &proc, "/health", Duration::from_secs(30)).await?;
    Ok(proc)
}

/// The put of `value` under `key` through the JSON gateway of the etcd at `url`.
pub fn put(url: &str, key: &str, value: &[u8]) -> Request {
    let body = serde_json::json!({"key": STANDARD.encode(key), "value": STANDARD.encode(value)});
    Request {
        url: format!("{url}/v3/kv/put"),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}
