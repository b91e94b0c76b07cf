//! The benchmark harness: starts the real `mock_k8` binary (and etcd) as processes, drives them over
//! HTTP with concurrent clients, prints a results table and writes the results as JSON.
//!
//! Scenarios (issue 7): 1 end to end (verification on and off), 2 durable writes beside etcd,
//! 3 watch fan-out, 4 scale and memory, 5 restart, 6 LIST; and 7 pod start latency, MockDocker vs
//! Docker (issue 6, [`latency`]). Scenarios 1 (on), 4, 6 and 5 share one server ([`cluster`]).
//! `--quick` runs every scenario at small sizes (CI runs it).

pub mod cluster;
pub mod e2e;
pub mod etcd;
pub mod latency;
pub mod load;
pub mod server;
pub mod stats;
pub mod verify;
pub mod watch;
pub mod writes;

use clap::Parser;
use serde_json::{Value, json};
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The harness's error type.
pub type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Which scenario groups to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// 1 (verification on), 4 scale & memory, 6 LIST, 5 restart: one server.
    Cluster,
    /// 1 with verification off, on a fresh server.
    E2eOff,
    /// 2 durable writes, mock_k8 and etcd.
    Writes,
    /// 3 watch fan-out.
    Watch,
    /// 7 pod start latency (bound → Running), MockDocker vs Docker.
    PodLatency,
}

/// Flags of the harness. Sizes left unset take the full suite's values, or the quick ones with
/// `--quick`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "mock_k8 benchmark harness: end to end, durable writes vs etcd, watch fan-out, scale, restart, LIST"
)]
pub struct Options {
    /// Small sizes: every scenario in well under a minute (what CI runs).
    #[arg(long)]
    pub quick: bool,
    /// The mock_k8 binary [default: `mock_k8` beside this program's directory, i.e.
    /// target/release/mock_k8 for target/release/examples/bench].
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Scenario groups to run (comma-separated) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Group>,
    /// The etcd binary [default: `etcd` on PATH, else /usr/bin/etcd].
    #[arg(long)]
    pub etcd: Option<PathBuf>,
    /// Skip the etcd side of the durable-writes scenario.
    #[arg(long)]
    pub no_etcd: bool,
    /// Directory for the data directories and logs [default: a fresh temporary directory, removed
    /// at the end]. etcd's and mock_k8's data go side by side, on the same disk.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long, default_value = "bench-results.json")]
    pub json: PathBuf,
    /// Scenario 1/4/5/6: simulated nodes [full 5000, quick 10].
    #[arg(long, value_parser = at_least_one::<u32>)]
    pub nodes: Option<u32>,
    /// Scenario 1/4/5/6: pods [full 100000, quick 200].
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub pods: Option<usize>,
    /// Scenario 1: concurrent creating clients [full 64, quick 16].
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub clients: Option<usize>,
    /// Scenario 1 with verification off: pods [full 20000, quick 200] (on --nodes/5 nodes, ≥ 1).
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub off_pods: Option<usize>,
    /// Scenario 2: concurrencies [full 1,32,256, quick 1,8,32].
    #[arg(long, value_delimiter = ',', value_parser = at_least_one::<usize>)]
    pub write_clients: Vec<usize>,
    /// Scenario 2: measured seconds per concurrency [full 5, quick 1].
    #[arg(long, value_parser = positive_seconds)]
    pub write_seconds: Option<f64>,
    /// Scenario 3: watchers [full 1000, quick 50].
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub watchers: Option<usize>,
    /// Scenario 3: writes per second [full 2000, quick 200].
    #[arg(long, value_parser = at_least_one::<u32>)]
    pub watch_rate: Option<u32>,
    /// Scenario 3: seconds of writes [full 10, quick 2].
    #[arg(long, value_parser = positive_seconds)]
    pub watch_seconds: Option<f64>,
    /// Scenario 1: after each end-to-end run, audit the history with `mock_k8 verify` and report
    /// transitions/s.
    #[arg(long)]
    pub verify_after: bool,
    /// With --verify-after: manifests applied before the audit of the verification-on cluster
    /// [default: /work/shared/manifests when present].
    #[arg(long)]
    pub manifests: Option<PathBuf>,
}

/// A size flag's value: a whole number of at least 1 (0 clients, nodes or watchers would report
/// NaN rates or a cluster that cannot run the pods).
fn at_least_one<T: std::str::FromStr + TryFrom<u64>>(text: &str) -> Result<T, String> {
    let n: i128 = text
        .trim()
        .parse()
        .map_err(|_| "not a number; expected a whole number of at least 1".to_string())?;
    u64::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| "out of range; expected a whole number of at least 1".to_string())
}

/// A duration flag's value in seconds: a finite number above 0.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a number of seconds above 0, e.g. 2 or 0.5".to_string()),
    }
}

/// Checks that the results file can be written (creating it, empty, if missing), so a bad
/// `--json` fails before the suite runs rather than after.
///
/// # Errors
/// The I/O error of opening `path` for writing.
pub fn check_writable(path: &std::path::Path) -> Res<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    Ok(())
}

/// What every scenario needs.
pub struct Ctx {
    /// The mock_k8 binary.
    pub bin: PathBuf,
    /// Where data directories and logs go.
    pub work: PathBuf,
    /// An HTTP client for control requests.
    pub http: reqwest::Client,
    /// The etcd binary flag, and whether etcd runs at all.
    pub etcd: Option<PathBuf>,
    pub with_etcd: bool,
    /// `--verify-after` and `--manifests`.
    pub verify_after: bool,
    pub manifests: Option<PathBuf>,
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub params: String,
    pub metric: String,
    pub value: String,
    pub target: String,
}

impl Row {
    /// A row.
    pub fn new(
        scenario: &str,
        params: impl Into<String>,
        metric: &str,
        value: impl Into<String>,
        target: &str,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            params: params.into(),
            metric: metric.into(),
            value: value.into(),
            target: target.into(),
        }
    }
}

/// The Pod every scenario creates (the same bytes go to etcd): a `default`-namespace Pod named
/// `name` with one container requesting 10m CPU and 16Mi memory, plus `labels`.
pub fn pod_json(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    });
    serde_json::to_vec(&pod).unwrap_or_default()
}

/// The full report: machine, per-scenario JSON, table rows, errors.
pub struct Report {
    /// Everything, as written to the JSON file.
    pub json: Value,
    /// The table.
    pub rows: Vec<Row>,
    /// Scenario groups that failed, with why.
    pub failures: Vec<(Group, String)>,
}

fn default_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("mock_k8")))
        .unwrap_or_else(|| PathBuf::from("target/release/mock_k8"))
}

/// Runs the selected scenarios and returns the report (also printing progress to stderr).
///
/// # Errors
/// The work directory could not be made. A failing scenario is recorded in the report instead.
pub async fn run(o: &Options) -> Res<Report> {
    let q = o.quick;
    let pick = |quick: f64, full: f64| if q { quick } else { full };
    let bin = o.bin.clone().unwrap_or_else(default_bin);
    if !bin.is_file() {
        return Err(format!(
            "{} not found: build it with `cargo build --release --bin mock_k8` or pass --bin",
            bin.display()
        )
        .into());
    }
    let tmp = tempfile::Builder::new()
        .prefix("mock_k8-bench-")
        .tempdir()?;
    let work = match &o.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let ctx = Ctx {
        bin: bin.clone(),
        work: work.clone(),
        http: load::client()?,
        etcd: o.etcd.clone(),
        with_etcd: !o.no_etcd,
        verify_after: o.verify_after,
        manifests: o.manifests.clone(),
    };
    let machine = stats::machine(&work, if q { 50 } else { 500 });
    eprintln!("machine: {machine}");
    let nodes = o.nodes.unwrap_or(if q { 10 } else { 5000 });
    let cluster = cluster::Params {
        nodes,
        pods: o.pods.unwrap_or(if q { 200 } else { 100_000 }),
        clients: o.clients.unwrap_or(if q { 16 } else { 64 }),
        idle_window: Duration::from_secs_f64(pick(1.0, 10.0)),
        lists: if q { 1 } else { 3 },
        timeout: Duration::from_secs_f64(pick(60.0, 300.0)),
    };
    let e2e_off = cluster::Params {
        nodes: (nodes / 5).max(1),
        pods: o.off_pods.unwrap_or(if q { 200 } else { 20_000 }),
        ..cluster.clone()
    };
    let writes = writes::Params {
        clients: if o.write_clients.is_empty() {
            if q { vec![1, 8, 32] } else { vec![1, 32, 256] }
        } else {
            o.write_clients.clone()
        },
        warmup: Duration::from_secs_f64(pick(0.3, 1.0)),
        window: Duration::from_secs_f64(o.write_seconds.unwrap_or(pick(1.0, 5.0))),
    };
    let watch = watch::Params {
        watchers: o.watchers.unwrap_or(if q { 50 } else { 1000 }),
        rate: o.watch_rate.unwrap_or(if q { 200 } else { 2000 }),
        window: Duration::from_secs_f64(o.watch_seconds.unwrap_or(pick(2.0, 10.0))),
    };
    let latency = latency::Params {
        pods: if q { 3 } else { 20 },
        timeout: Duration::from_secs(60),
    };
    let groups = if o.only.is_empty() {
        vec![
            Group::Writes,
            Group::Watch,
            Group::Cluster,
            Group::E2eOff,
            Group::PodLatency,
        ]
    } else {
        o.only.clone()
    };
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for g in groups {
        let t = Instant::now();
        eprintln!("== {g:?}");
        let outcome: Res<(Vec<Value>, Vec<Row>)> = match g {
            Group::Cluster => cluster::run(&ctx, &cluster).await,
            Group::E2eOff => cluster::e2e_only(&ctx, &e2e_off, false)
                .await
                .map(|(v, r)| (vec![v], r)),
            Group::Writes => writes::run(&ctx, &writes).await.map(|(v, r)| (vec![v], r)),
            Group::Watch => watch::run(&ctx, &watch).await.map(|(v, r)| (vec![v], r)),
            Group::PodLatency => latency::run(&ctx, &latency)
                .await
                .map(|(v, r)| (vec![v], r)),
        };
        match outcome {
            Ok((v, r)) => {
                for row in &r {
                    eprintln!(
                        "  {} | {} | {} | {}",
                        row.params, row.metric, row.value, row.target
                    );
                }
                results.extend(v);
                rows.extend(r);
            }
            Err(e) => {
                eprintln!("  {g:?} failed: {e}");
                failures.push((g, e.to_string()));
            }
        }
        eprintln!("  ({:.0} s)", t.elapsed().as_secs_f64());
    }
    let json = json!({
        "quick": q,
        "machine": machine,
        "binary": bin.display().to_string(),
        "totalSeconds": started.elapsed().as_secs_f64(),
        "scenarios": results,
        "failures": failures.iter().map(|(g, e)| json!({"group": format!("{g:?}"), "error": e})).collect::<Vec<_>>(),
    });
    Ok(Report {
        json,
        rows,
        failures,
    })
}

/// Writes the report's JSON (pretty-printed) to `path`.
///
/// # Errors
/// I/O errors.
pub fn save(report: &Report, path: &std::path::Path) -> Res<()> {
    std::fs::write(path, serde_json::to_vec_pretty(&report.json)?)?;
    Ok(())
}

/// The results table as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | parameters | metric | value | target |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.scenario, r.params, r.metric, r.value, r.target
        ));
    }
    out
}
