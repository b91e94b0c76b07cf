//! Benchmark scenario 1, "End to end": N simulated nodes, M pods created by C concurrent clients
//! over HTTP; the time until all of them are `Running`, pods/s, and the create→Running latency of
//! each pod (p50/p99). Prints a results table and, with `--json FILE`, writes it as JSON.
//!
//! It starts the `mock_k8` binary itself (`--bin`, on a free loopback port, a fresh temporary data
//! directory, `--simulated-nodes N`, `RUST_LOG=warn`) and stops it with SIGTERM at the end — or
//! drives a running server with `--server URL`. Latencies are measured client-side: from just
//! before a pod's POST to the first watch event showing it `Running`.
//!
//! Run with:
//!   CARGO_TARGET_DIR=target cargo build --release --locked --bin mock_k8 --example bench_e2e
//!   target/release/examples/bench_e2e --bin target/release/mock_k8 --nodes 500 --pods 10000 --clients 32

use axum::http::{Method, Request};
use bytes::Bytes;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use mock_k8_controllers::client::{
    Client, ClientError, HyperTransport, ListParams, RestClient, Transport, WatchParams,
};
use mock_k8_schemas::ApiResource;
use mock_k8_schemas::resource::by_kind;
use mock_k8_schemas::watch::EventType;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Flags of the end-to-end scenario.
#[derive(Debug, Parser)]
#[command(about = "mock_k8 end-to-end benchmark: create M pods, time until all are Running")]
struct Args {
    /// The mock_k8 binary to start (ignored with --server).
    #[arg(long, default_value = "target/release/mock_k8")]
    bin: PathBuf,
    /// Drive this running server instead of starting one (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    server: Option<String>,
    /// Simulated nodes (the started server also runs its own node: N+1 nodes in all).
    #[arg(long, default_value_t = 100)]
    nodes: u32,
    /// Pods to create.
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    /// Concurrent creating clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Verification of state transitions on the started server (true/false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    verification: bool,
    /// Give up waiting for Running after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Namespace of the pods (must exist; `default` always does).
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The pods' image (with `--runtime docker` on the server: a local image that runs until
    /// stopped, e.g. mock-k8:latest, whose default command is `pause`).
    #[arg(long, default_value = "registry.k8s.io/pause:3.10")]
    image: String,
    /// Create the pods bound to this node (`spec.nodeName`): the latency is then bound → Running,
    /// without the scheduler.
    #[arg(long)]
    node: Option<String>,
}

/// What the watch records: the moment each pod was first seen Running.
type RunningAt = Arc<Mutex<HashMap<String, Instant>>>;

fn resource(kind: &str) -> Res<&'static ApiResource> {
    by_kind("v1", kind).ok_or_else(|| format!("the schemas do not serve v1 {kind}").into())
}

/// The server this run drives: one it started (killed on drop if not stopped) or an external one.
struct Server {
    url: String,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

impl Server {
    async fn start(a: &Args) -> Res<Server> {
        if let Some(url) = &a.server {
            return Ok(Server {
                url: url.trim_end_matches('/').to_string(),
                child: None,
                _data: None,
            });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data = tempfile::tempdir()?;
        let log = std::fs::File::create(data.path().join("server.log"))?;
        let child = Command::new(&a.bin)
            .arg("run")
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .arg("--api-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--simulated-nodes")
            .arg(a.nodes.to_string())
            .arg("--verification-enabled")
            .arg(a.verification.to_string())
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", a.bin.display()))?;
        Ok(Server {
            url: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _data: Some(data),
        })
    }

    /// Seconds of CPU (user + system) the started server has used, from `/proc/PID/stat`.
    fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state(0) ... utime(11) stime(12), in clock ticks (100 Hz on Linux).
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    /// SIGTERM (via `kill`), then up to 10 s for a clean exit, then SIGKILL.
    async fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    /// The last lines of the started server's log (for errors).
    fn log_tail(&self) -> String {
        let Some(d) = &self._data else {
            return String::new();
        };
        let log = std::fs::read_to_string(d.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// `GET path` as text (for /readyz and /metrics).
async fn get_text(t: &HyperTransport, path: &str) -> Res<(u16, String)> {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Bytes::new())?;
    let resp = t.send(req).await?;
    let code = resp.status().as_u16();
    let chunks: Vec<Bytes> = resp.into_body().try_collect().await?;
    Ok((code, String::from_utf8_lossy(&chunks.concat()).into_owned()))
}

/// `apiserver_request_total` summed over codes, by `verb resource`, plus the store revision.
async fn scrape(t: &HyperTransport) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok((200, text)) = get_text(t, "/metrics").await else {
        return out;
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        if name_labels == "mock_k8_store_revision" {
            out.insert("store revision".into(), v);
        } else if let Some(labels) = name_labels.strip_prefix("apiserver_request_total{") {
            let label = |k: &str| {
                labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                    .map(|s| s.trim_end_matches(['"', '}']).to_string())
                    .unwrap_or_default()
            };
            *out.entry(format!("{} {}", label("verb"), label("resource")))
                .or_default() += v;
        }
    }
    out
}

/// Waits for `/readyz` and for at least `want` Ready nodes.
async fn wait_ready(server: &Server, t: &HyperTransport, c: &dyn Client, want: usize) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let nodes = resource("Node")?;
    loop {
        if let Ok((200, _)) = get_text(t, "/readyz").await
            && let Ok(list) = c.list(nodes, None, &ListParams::default()).await
        {
            let ready = list.items.iter().filter(|n| is_ready(n)).count();
            if ready >= want {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "server not ready with {want} nodes in 120 s\n{}",
                server.log_tail()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn pod_name(p: &Value) -> Option<String> {
    p.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Records pods as they turn Running, from the list's resourceVersion on; resumes after the
/// stream ends, re-lists after 410 Expired. Runs until aborted.
async fn watch_running(c: Arc<dyn Client>, ns: String, selector: String, running: RunningAt) {
    let pods = match resource("Pod") {
        Ok(p) => p,
        Err(_) => return,
    };
    let lp = ListParams {
        label_selector: Some(selector.clone()),
        field_selector: None,
    };
    let mut rv: Option<String> = None;
    loop {
        if rv.is_none() {
            match c.list(pods, Some(&ns), &lp).await {
                Ok(list) => {
                    let now = Instant::now();
                    let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                    for p in list
                        .items
                        .iter()
                        .filter(|p| p["status"]["phase"] == "Running")
                    {
                        if let Some(n) = pod_name(p) {
                            r.entry(n).or_insert(now);
                        }
                    }
                    rv = Some(list.resource_version);
                }
                Err(e) => {
                    eprintln!("list pods: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let wp = WatchParams {
            label_selector: Some(selector.clone()),
            resource_version: rv.clone(),
            allow_bookmarks: true,
            timeout_seconds: Some(300),
            ..WatchParams::default()
        };
        let mut stream = c.watch(pods, Some(&ns), &wp);
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) if ev.event_type == EventType::Error => {
                    rv = None;
                    break;
                }
                Ok(ev) => {
                    if let Some(v) = ev
                        .object
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                    {
                        rv = Some(v.to_string());
                    }
                    if ev.object["status"]["phase"] == "Running"
                        && let Some(n) = pod_name(&ev.object)
                    {
                        let now = Instant::now();
                        let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                        r.entry(n).or_insert(now);
                    }
                }
                Err(e) => {
                    if e.is_expired() {
                        rv = None;
                    } else {
                        eprintln!("watch pods: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    break;
                }
            }
        }
    }
}

/// What the create phase produced: per pod, when its POST was sent and when it was answered.
struct Created {
    sent: HashMap<String, Instant>,
    failed: usize,
    first_error: Option<String>,
    done: Instant,
}

/// Creates `a.pods` pods with `a.clients` concurrent workers sharing one counter.
async fn create_pods(c: Arc<dyn Client>, a: &Args, run: &str) -> Res<Created> {
    let pods = resource("Pod")?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..a.clients.max(1) {
        let (c, next, ns, run, total) = (
            c.clone(),
            next.clone(),
            a.namespace.clone(),
            run.to_string(),
            a.pods,
        );
        let (image, node) = (a.image.clone(), a.node.clone());
        workers.spawn(async move {
            let mut sent = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let name = format!("{run}-{i}");
                let mut pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": ns, "labels": {"bench-run": run}},
                    "spec": {"containers": [{"name": "app", "image": image,
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
                });
                if let Some(node) = &node {
                    pod["spec"]["nodeName"] = json!(node);
                }
                let t0 = Instant::now();
                match c.create(pods, Some(&ns), pod).await {
                    Ok(_) => sent.push((name, t0)),
                    Err(e) => errors.push(format!("{name}: {e}")),
                }
            }
            (sent, errors)
        });
    }
    let mut out = Created {
        sent: HashMap::new(),
        failed: 0,
        first_error: None,
        done: Instant::now(),
    };
    while let Some(res) = workers.join_next().await {
        let (sent, errors) = res?;
        out.sent.extend(sent);
        out.failed += errors.len();
        if out.first_error.is_none() {
            out.first_error = errors.into_iter().next();
        }
    }
    out.done = Instant::now();
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Res<()> {
    let a = Args::parse();
    let mut server = Server::start(&a).await?;
    let result = run(&a, &server).await;
    server.stop().await;
    if let Err(e) = &result {
        eprintln!("bench_e2e failed: {e}\n{}", server.log_tail());
    }
    result
}

async fn run(a: &Args, server: &Server) -> Res<()> {
    let t = HyperTransport::new(&server.url)?;
    let c: Arc<dyn Client> =
        RestClient::http(&server.url).map_err(|e: ClientError| e.to_string())?;
    let want = a.nodes as usize + usize::from(server.child.is_some());
    let boot = Instant::now();
    wait_ready(server, &t, c.as_ref(), want).await?;
    let boot_s = boot.elapsed().as_secs_f64();
    eprintln!(
        "server ready with {want} nodes in {boot_s:.1} s; creating {} pods with {} clients",
        a.pods, a.clients
    );

    let run = format!(
        "bench-{:x}",
        std::process::id() ^ (jiff::Timestamp::now().as_second() as u32)
    );
    let running: RunningAt = Arc::default();
    let watch = tokio::spawn(watch_running(
        c.clone(),
        a.namespace.clone(),
        format!("bench-run={run}"),
        running.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await; // let the watch open before the first create
    let before = scrape(&t).await;
    let cpu_before = server.cpu_seconds();

    let start = Instant::now();
    let created = create_pods(c.clone(), a, &run).await?;
    let create_s = created.done.duration_since(start).as_secs_f64();
    eprintln!(
        "created {} pods in {create_s:.1} s ({} failed{})",
        created.sent.len(),
        created.failed,
        created
            .first_error
            .as_deref()
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default()
    );

    let deadline = start + Duration::from_secs(a.timeout);
    let mut last_report = Instant::now();
    let n_running = loop {
        let n = {
            let r = running.lock().unwrap_or_else(|e| e.into_inner());
            created.sent.keys().filter(|k| r.contains_key(*k)).count()
        };
        if n == created.sent.len() || Instant::now() > deadline {
            break n;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {:.0} s: {n}/{} Running",
                start.elapsed().as_secs_f64(),
                created.sent.len()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    watch.abort();
    let after = scrape(&t).await;
    let cpu = server.cpu_seconds().zip(cpu_before).map(|(b, a)| b - a);

    let r = running.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lat: Vec<f64> = created
        .sent
        .iter()
        .filter_map(|(n, t0)| r.get(n).map(|t1| t1.duration_since(*t0).as_secs_f64()))
        .collect();
    lat.sort_by(f64::total_cmp);
    let last = created
        .sent
        .keys()
        .filter_map(|n| r.get(n))
        .max()
        .copied()
        .unwrap_or(start);
    let total_s = last.duration_since(start).as_secs_f64();
    let requests: BTreeMap<String, f64> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect();
    let results = json!({
        "scenario": "end-to-end",
        "nodes": a.nodes, "pods": a.pods, "clients": a.clients,
        "verification": a.verification, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "created": created.sent.len(), "createFailed": created.failed, "running": n_running,
        "timedOut": n_running < created.sent.len(),
        "totalSeconds": total_s,
        "podsPerSecond": n_running as f64 / total_s.max(1e-9),
        "createToRunningP50Seconds": percentile(&lat, 50.0),
        "createToRunningP99Seconds": percentile(&lat, 99.0),
        "createSeconds": create_s,
        "createsPerSecond": created.sent.len() as f64 / create_s.max(1e-9),
        "serverCpuSeconds": cpu,
        "serverReadySeconds": boot_s,
        "requestsDuringRun": requests,
    });
    print_table(&results);
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&results)?)?;
    }
    if n_running < created.sent.len() {
        return Err(format!(
            "only {n_running}/{} pods Running after {} s",
            created.sent.len(),
            a.timeout
        )
        .into());
    }
    Ok(())
}

fn print_table(r: &Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "| nodes | pods | clients | verification | total s | pods/s | p50 s | p99 s | creates/s | server CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.0} | {:.3} | {:.3} | {:.0} | {:.1} |",
        r["nodes"],
        r["running"],
        r["clients"],
        r["verification"],
        f("totalSeconds"),
        f("podsPerSecond"),
        f("createToRunningP50Seconds"),
        f("createToRunningP99Seconds"),
        f("createsPerSecond"),
        f("serverCpuSeconds")
    );
    if let Some(reqs) = r["requestsDuringRun"].as_object() {
        println!(
            "\nAPI requests during the run (apiserver_request_total delta; store revision = writes):"
        );
        let mut v: Vec<(&String, f64)> = reqs
            .iter()
            .map(|(k, v)| (k, v.as_f64().unwrap_or(0.0)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (k, n) in v.iter().take(12) {
            println!("  {n:>10.0}  {k}");
        }
    }
}
