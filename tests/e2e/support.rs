//! Shared helpers for the end-to-end tests: start the real `mock_k8` binary on a free port, talk
//! HTTP to it, and drive the real `kubectl` with a private kubeconfig and discovery cache.
//!
//! Every wait has a timeout, and failures print the server's log so a red test explains itself.
//! `MOCK_K8_TEST_LOG` sets the servers' `RUST_LOG` (e.g. `MOCK_K8_TEST_LOG=debug`).

#![allow(dead_code)] // each test module uses a different subset

use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long a server may take to answer `/readyz` with 200 after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one `kubectl` invocation may take.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP request may take (watches excepted).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The directory of the shared manifests: `$MOCK_K8_MANIFESTS_DIR`, else `shared/manifests` beside
/// the repository (`<CARGO_MANIFEST_DIR>/../shared/manifests`, as in CI) or beside one of its
/// ancestors (a git worktree nested deeper). Panics with a clear message when absent.
pub fn manifests_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MOCK_K8_MANIFESTS_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "MOCK_K8_MANIFESTS_DIR={} is not a directory",
            dir.display()
        );
        return dir;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for ancestor in root.ancestors().skip(1) {
        let candidate = ancestor.join("shared").join("manifests");
        if candidate.join("EXPECTED.md").is_file() {
            return candidate;
        }
    }
    panic!(
        "the shared manifests are missing: expected {}/../shared/manifests (with EXPECTED.md) beside the \
         repository clone, or set MOCK_K8_MANIFESTS_DIR",
        root.display()
    );
}

/// Reads one manifest file (relative to [`manifests_dir`]).
pub fn manifest(name: &str) -> String {
    let path = manifests_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Parses every YAML (or JSON) document of `text` into JSON values.
pub fn yaml_docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("manifest does not parse as YAML: {e}\n{text}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// A running `mock_k8 run`, killed (SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    /// The API port of the current process.
    pub port: u16,
    data_dir: PathBuf,
    _owned_data: Option<TempDir>,
    log_dir: TempDir,
    http: reqwest::Client,
    /// Restart on the same port (cluster members keep their address).
    keep_port: bool,
    /// The IP `--api-addr` binds (`127.0.0.1` unless started with [`Server::start_bound`]).
    bind_ip: &'static str,
}

impl Server {
    /// Starts an API-only server (`--api-only`: no scheduler, controllers or node agents, so
    /// nothing but the test writes) on a fresh temporary data directory and waits until it is ready.
    pub async fn start() -> Server {
        Server::start_with(&["--api-only"]).await
    }

    /// Like [`Server::start`], with extra `run` flags (e.g. `["--watch-history", "5"]`).
    pub async fn start_with(extra: &[&str]) -> Server {
        Server::start_bound("127.0.0.1", extra).await
    }

    /// Like [`Server::start_with`], listening on `bind_ip` (e.g. `0.0.0.0`, to be reached from
    /// another address than loopback); [`Server::url`] still names 127.0.0.1.
    pub async fn start_bound(bind_ip: &'static str, extra: &[&str]) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let data_dir = data.path().join("data");
        let mut server = Server {
            child: None,
            port: 0,
            data_dir,
            _owned_data: Some(data),
            log_dir: tempfile::tempdir().expect("tempdir"),
            http: reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .build()
                .expect("http client"),
            keep_port: false,
            bind_ip,
        };
        server.launch(extra).await;
        server
    }

    /// Like [`Server::restart`], on the same port as before (a cluster member keeps its address).
    pub async fn restart_same_port(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "restart while the server still runs");
        self.keep_port = true;
        self.spawn(extra);
        self.keep_port = false;
        if let Err(status) = self.wait_ready().await {
            panic!(
                "mock_k8 exited during restart ({status}); log:\n{}",
                self.log_tail(60)
            );
        }
    }

    /// Whether the process runs (not stopped or killed through this handle).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The data directory this server uses.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The shared HTTP client (20 s timeout per request).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The server's stdout and stderr so far (all runs), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_dir.path().join("server.log")).unwrap_or_default()
    }

    /// The last `n` lines of [`Server::log`].
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Starts the binary again on the same data directory (after [`Server::stop`] or
    /// [`Server::kill9`]) on a new free port, with extra `run` flags, and waits until ready.
    pub async fn restart(&mut self, extra: &[&str]) {
        assert!(
            self.child.is_none(),
            "restart() while the server still runs"
        );
        self.launch(extra).await;
    }

    /// Starts the stopped server again on its data directory; `Err(exit status)` if it exits
    /// during start-up instead of becoming ready (its output is in [`Server::log`]).
    pub async fn try_restart(&mut self, extra: &[&str]) -> Result<(), ExitStatus> {
        assert!(
            self.child.is_none(),
            "try_restart() while the server still runs"
        );
        self.spawn(extra);
        self.wait_ready().await
    }

    /// Starts the binary on a free port; a port taken between [`free_port`] and the server's
    /// bind (another test raced for it) is retried on a new port, up to 3 times.
    async fn launch(&mut self, extra: &[&str]) {
        for attempt in 1..=3 {
            let log_len = self.log().len();
            self.spawn(extra);
            match self.wait_ready().await {
                Ok(()) => return,
                Err(status) => {
                    let this_run = self.log().get(log_len..).unwrap_or_default().to_string();
                    let port_taken = this_run.contains("in use");
                    if !port_taken || attempt == 3 {
                        panic!(
                            "mock_k8 exited during start-up ({status}); log:\n{}",
                            self.log_tail(60)
                        );
                    }
                }
            }
        }
    }

    fn spawn(&mut self, extra: &[&str]) {
        if !self.keep_port {
            self.port = free_port();
        }
        let log_path = self.log_dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open server log");
        let log2 = log.try_clone().expect("clone log handle");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mock_k8"));
        cmd.arg("run")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--api-addr")
            .arg(format!("{}:{}", self.bind_ip, self.port))
            .args(extra)
            .env_remove("MOCK_K8_DATA_DIR")
            .env_remove("MOCK_K8_API_ADDR")
            .env_remove("MOCK_K8_NODE_NAME")
            .env("RUST_BACKTRACE", "0")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // The server's log filter: `MOCK_K8_TEST_LOG` (e.g. `debug`), else the binary's default.
        if let Ok(filter) = std::env::var("MOCK_K8_TEST_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        let child = cmd.spawn().expect("spawn mock_k8");
        self.child = Some(child);
    }

    /// Waits until `/readyz` answers 200; `Err(exit status)` if the process exits first.
    /// Panics after [`READY_TIMEOUT`].
    async fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("/readyz");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(status);
            }
            if let Ok(resp) = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && resp.status() == StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "mock_k8 not ready on {url} after {READY_TIMEOUT:?}; log:\n{}",
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status. Panics if it
    /// does not exit within [`STOP_TIMEOUT`].
    pub async fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is not running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mock_k8 did not exit within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL and reaps it, if it runs (for clean-up in `Drop`).
    pub fn kill_if_running(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        child.kill().expect("SIGKILL mock_k8");
        let _ = child.wait();
    }

    /// GET `path`; returns the status and the body as JSON (a JSON string when it is not JSON).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    /// POST a JSON body to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// PUT a JSON body to `path`.
    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.delete(self.url(path))).await
    }

    /// PATCH `path` with `content_type` (e.g. `application/merge-patch+json`).
    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> (StatusCode, Value) {
        let req = self
            .http
            .patch(self.url(path))
            .header("content-type", content_type)
            .body(body.to_string());
        self.send(req).await
    }

    /// Sends `req` and decodes the answer; panics (with the server log) on transport errors.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => panic!(
                "HTTP request failed: {}; server log:\n{}",
                error_chain(&e),
                self.log_tail(40)
            ),
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// Creates `obj` with POST at `path` and asserts 201; returns the stored object.
    pub async fn create(&self, path: &str, obj: &Value) -> Value {
        let (status, body) = self.post(path, obj).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path} {obj}: {body}");
        body
    }

    /// Opens a watch (`path` with its query, e.g. `/api/v1/namespaces/default/pods?watch=true&...`).
    pub async fn watch(&self, path_and_query: &str) -> WatchStream {
        let client = reqwest::Client::builder().build().expect("watch client");
        let resp = client
            .get(self.url(path_and_query))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "watch {path_and_query}: {}; log:\n{}",
                    error_chain(&e),
                    self.log_tail(40)
                )
            });
        WatchStream {
            status: resp.status(),
            resp: Some(resp),
            buf: Vec::new(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- mock_k8 server log (last 80 lines) ----\n{}\n----",
                self.log_tail(80)
            );
        }
    }
}

/// An open watch response, read one newline-delimited JSON event at a time.
pub struct WatchStream {
    /// The HTTP status of the watch response.
    pub status: StatusCode,
    resp: Option<reqwest::Response>,
    buf: Vec<u8>,
}

impl WatchStream {
    /// The next event, or `None` when the server ended the stream. Panics after `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(v) => v,
            Err(_) => panic!("no watch event within {timeout:?}"),
        }
    }

    /// The next event, `None` at the end of the stream, or `Err(())` after `timeout`.
    pub async fn try_next_within(&mut self, timeout: Duration) -> Result<Option<Value>, ()> {
        tokio::time::timeout(timeout, self.next())
            .await
            .map_err(|_| ())
    }

    /// The next event, or `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(serde_json::from_slice(line).unwrap_or_else(|e| {
                    panic!(
                        "watch line is not JSON ({e}): {}",
                        String::from_utf8_lossy(line)
                    )
                }));
            }
            let resp = self.resp.as_mut()?;
            match resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) | Err(_) => {
                    self.resp = None;
                    if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
                        let rest = std::mem::take(&mut self.buf);
                        return Some(serde_json::from_slice(&rest).unwrap_or_else(|e| {
                            panic!(
                                "last watch line is not JSON ({e}): {}",
                                String::from_utf8_lossy(&rest)
                            )
                        }));
                    }
                    return None;
                }
            }
        }
    }
}

/// An error and its sources, joined with `: ` (reqwest's Display hides the cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The `schedulerName` of [`pod`]: no scheduler serves it, so the reconcile loops of `mock_k8 run`
/// never bind (nor then run) these pods and tests of the API and the store see only their own writes.
pub const UNSERVED_SCHEDULER: &str = "e2e-unserved-scheduler";

/// A minimal Pod manifest: one container `app` running `image`, with `labels`, for
/// [`UNSERVED_SCHEDULER`] (it stays Pending and untouched).
pub fn pod(name: &str, labels: &[(&str, &str)], image: &str) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"schedulerName": UNSERVED_SCHEDULER, "containers": [{"name": "app", "image": image}]}
    })
}

/// `metadata.resourceVersion` of an object, as a number.
pub fn rv(obj: &Value) -> u64 {
    let s = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata.resourceVersion in {obj}"));
    s.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {s:?} is not a number"))
}

/// `metadata.resourceVersion` of a list, as a number.
pub fn list_rv(list: &Value) -> u64 {
    let s = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata.resourceVersion in list {list}"));
    s.parse()
        .unwrap_or_else(|_| panic!("list resourceVersion {s:?} is not a number"))
}

// ---------------------------------------------------------------------------------------------
// kubectl
// ---------------------------------------------------------------------------------------------

/// Whether `kubectl` runs here (checked once).
pub fn kubectl_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("kubectl")
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// `true` when `kubectl` is available. Otherwise prints why `test` is skipped and returns `false`,
/// or panics when `MOCK_K8_REQUIRE_KUBECTL=1` (CI) demands kubectl.
pub fn require_kubectl(test: &str) -> bool {
    if kubectl_available() {
        return true;
    }
    if std::env::var("MOCK_K8_REQUIRE_KUBECTL").is_ok_and(|v| v == "1") {
        panic!("{test}: kubectl is not on PATH, and MOCK_K8_REQUIRE_KUBECTL=1 requires it");
    }
    println!(
        "SKIPPED {test}: kubectl is not on PATH (set MOCK_K8_REQUIRE_KUBECTL=1 to make this a failure)"
    );
    eprintln!(
        "SKIPPED {test}: kubectl is not on PATH (set MOCK_K8_REQUIRE_KUBECTL=1 to make this a failure)"
    );
    false
}

/// What one kubectl run returned.
#[derive(Debug)]
pub struct KubectlOutput {
    /// The command line, for messages.
    pub command: String,
    /// Whether it exited with 0.
    pub success: bool,
    /// Its exit code, if it exited normally.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl KubectlOutput {
    /// Panics unless the command succeeded; returns `self` for chaining.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.success, "kubectl failed:\n{self}");
        self
    }

    /// Panics if the command succeeded; returns `self` for chaining.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert!(!self.success, "kubectl should have failed:\n{self}");
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{self}"
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{self}"
        );
        self
    }
}

impl std::fmt::Display for KubectlOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n(exit {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the real `kubectl` against one server, with its own kubeconfig (no auth, plain HTTP) and
/// its own `--cache-dir`, so discovery is never served from another test's (or a user's) cache.
pub struct Kubectl {
    dir: TempDir,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    /// A kubectl configured for `server` (namespace `default`).
    pub fn new(server: &Server) -> Kubectl {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let cache_dir = dir.path().join("cache");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {}\n\
             users:\n- name: anonymous\n  user: {{}}\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    \
             user: anonymous\n    namespace: default\ncurrent-context: mock\n",
            server.base()
        );
        std::fs::write(&kubeconfig, config).expect("write kubeconfig");
        Kubectl {
            dir,
            kubeconfig,
            cache_dir,
        }
    }

    /// A scratch directory that lives as long as this runner (for manifest files).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache_dir)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .kill_on_drop(true);
        cmd
    }

    /// Runs `kubectl ARGS`, waits (at most [`KUBECTL_TIMEOUT`]) and returns what it printed.
    pub async fn run(&self, args: &[&str]) -> KubectlOutput {
        self.run_with_stdin(args, None).await
    }

    /// Runs `kubectl ARGS` with `stdin` as its standard input (e.g. `apply -f -`).
    pub async fn run_stdin(&self, args: &[&str], stdin: &str) -> KubectlOutput {
        self.run_with_stdin(args, Some(stdin)).await
    }

    async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
        use tokio::io::AsyncWriteExt;
        let command = format!("kubectl {}", args.join(" "));
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            pipe.write_all(input.as_bytes())
                .await
                .expect("write kubectl stdin");
            drop(pipe);
        }
        let out = match tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output()).await {
            Ok(out) => out.unwrap_or_else(|e| panic!("wait for {command}: {e}")),
            Err(_) => panic!("{command} did not finish within {KUBECTL_TIMEOUT:?}"),
        };
        KubectlOutput {
            command,
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `kubectl ARGS -o json`, parsed; panics if kubectl fails.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.run(&all).await;
        out.ok();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// Starts a long-running `kubectl ARGS` (e.g. `get pods -w`) whose stdout is read line by line.
    pub fn spawn(&self, args: &[&str]) -> KubectlProcess {
        let command = format!("kubectl {}", args.join(" "));
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("stdout pipe")).lines();
        KubectlProcess {
            command,
            child,
            stdout,
            seen: Vec::new(),
        }
    }
}

/// A running kubectl (killed on drop) whose output lines are read as they come.
pub struct KubectlProcess {
    command: String,
    child: tokio::process::Child,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    seen: Vec<String>,
}

impl KubectlProcess {
    /// Reads lines until one satisfies `pred` and returns it; panics after `timeout` or at the
    /// end of the output, showing every line seen so far.
    pub async fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stdout.next_line()).await;
            match next {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let stderr = self.stderr().await;
                    panic!(
                        "{}: output ended before {what}; lines so far:\n{}\nstderr:\n{stderr}",
                        self.command,
                        self.seen.join("\n")
                    )
                }
                Err(_) => panic!(
                    "{}: no line showing {what} within {timeout:?}; lines so far:\n{}",
                    self.command,
                    self.seen.join("\n")
                ),
            }
        }
    }

    async fn stderr(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), e.read_to_string(&mut s)).await;
        }
        s
    }

    /// Every line read so far, oldest first.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Kills the process.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}
