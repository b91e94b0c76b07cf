//! Starting and stopping the processes under test (`mock_k8 run`, `etcd`) and reading their
//! resource use from `/proc` (Linux).

use super::Res;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A free loopback port (bind port 0, read it, release it).
pub fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A process under test, SIGKILLed when dropped (if not stopped first).
pub struct Proc {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    child: Child,
    log: PathBuf,
    /// When the process was spawned.
    pub started: Instant,
}

impl Proc {
    /// Spawns `cmd` (stdout and stderr go to `log`), serving at `url`.
    pub fn spawn(mut cmd: Command, url: String, log: &Path) -> Res<Proc> {
        let file = std::fs::File::create(log)?;
        let started = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()?;
        Ok(Proc {
            url,
            child,
            log: log.to_path_buf(),
            started,
        })
    }

    /// The process id (`None` once it exited).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident set size now, in bytes (`VmRSS` of `/proc/PID/status`).
    pub fn rss(&self) -> Option<u64> {
        proc_status_kib(self.pid()?, "VmRSS:").map(|k| k * 1024)
    }

    /// Peak resident set size since start or the last [`Proc::reset_peak`], in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> Option<u64> {
        proc_status_kib(self.pid()?, "VmHWM:").map(|k| k * 1024)
    }

    /// Resets the peak RSS to the current RSS (`echo 5 > /proc/PID/clear_refs`, Linux ≥ 4.0).
    pub fn reset_peak(&self) -> bool {
        self.pid()
            .is_some_and(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
    }

    /// CPU seconds (user + system) used so far, from `/proc/PID/stat`.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state(0) ... utime(11) stime(12), in clock ticks (100 Hz on Linux).
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    /// SIGTERM, then up to 20 s for a clean exit, then SIGKILL.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }

    /// The last lines of the process's log (for error messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// How to start `mock_k8 run`.
#[derive(Debug, Clone)]
pub struct MockK8 {
    /// The binary.
    pub bin: PathBuf,
    /// Its data directory (created by the server).
    pub data_dir: PathBuf,
    /// `--simulated-nodes`; `None` = `--api-only` (no scheduler, controllers or node agents).
    pub nodes: Option<u32>,
    /// `--verification-enabled`.
    pub verification: bool,
}

impl MockK8 {
    /// Starts the server on a free port with `RUST_LOG=warn`; its log goes to `<data_dir>.log`.
    pub fn start(&self) -> Res<Proc> {
        let port = free_port()?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--api-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--verification-enabled")
            .arg(self.verification.to_string())
            .env("RUST_LOG", "warn");
        match self.nodes {
            Some(n) => cmd.arg("--simulated-nodes").arg(n.to_string()),
            None => cmd.arg("--api-only"),
        };
        let log = self.data_dir.with_extension("log");
        Proc::spawn(cmd, format!("http://127.0.0.1:{port}"), &log)
            .map_err(|e| format!("starting {}: {e}", self.bin.display()).into())
    }
}

/// Polls `GET {url}{path}` every 5 ms until it answers 200; returns when that happened.
///
/// # Errors
/// Not 200 within `timeout`.
pub async fn wait_ok(
    http: &reqwest::Client,
    p: &Proc,
    path: &str,
    timeout: Duration,
) -> Res<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = http
            .get(format!("{}{path}", p.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if let Ok(resp) = r
            && resp.status().is_success()
        {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}{path} not OK within {timeout:?}\n{}",
                p.url,
                p.log_tail()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The `mock_k8_store_revision` gauge of `/metrics` (the number of writes so far).
pub async fn store_revision(http: &reqwest::Client, p: &Proc) -> Res<u64> {
    let text = http
        .get(format!("{}/metrics", p.url))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("mock_k8_store_revision "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .ok_or_else(|| "no mock_k8_store_revision in /metrics".into())
}
