//! Pod start latency (issue 6): the time from a pod being bound to a node (the scheduler's binding,
//! seen on a watch) until its agent reports it `Running`, with MockDocker and with the Docker
//! runtime. One `mock_k8 run` per runtime, its own node only; pods are created one at a time
//! (each waits for the previous to run), so the figure is the unloaded latency of one pod.
//!
//! The Docker side needs a reachable Docker Engine and Debian's busybox-static (`/bin/busybox`);
//! without them it is skipped with a note. It builds (once; cached by tag) the same local images
//! as the Docker e2e tests: a scratch image with busybox, and the sandbox (`pause`) image from
//! the benchmarked binary and its shared libraries. It holds the Docker tests' lock file meanwhile
//! (their node networks use the same podCIDR).

use super::server::{Proc, free_port, wait_ok};
use super::stats::Summary;
use super::{Ctx, Res, Row};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Parameters of the scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Pods per runtime, created one after the other.
    pub pods: usize,
    /// How long one pod may take to run.
    pub timeout: Duration,
}

const BUSYBOX_IMAGE: &str = "mock-k8-test-busybox:1";
const BUSYBOX_BINARY: &str = "/bin/busybox";

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn build(tag: &str, files: &[(PathBuf, PathBuf)], dockerfile: &str) -> Result<(), String> {
    if docker(&["image", "inspect", "--format", "{{.Id}}", tag]).is_ok() {
        return Ok(());
    }
    let ctx = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (from, to) in files {
        let dest = ctx.path().join(to);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::copy(from, &dest).map_err(|e| format!("copy {}: {e}", from.display()))?;
    }
    std::fs::create_dir_all(ctx.path().join("rootfs/tmp")).map_err(|e| e.to_string())?;
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).map_err(|e| e.to_string())?;
    docker(&["build", "-q", "-t", tag, &ctx.path().display().to_string()]).map(|_| ())
}

/// The busybox and sandbox images (see the module docs), or why Docker is skipped.
fn images(bin: &Path) -> Result<(String, String), String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("no Docker Engine is reachable ({e})"))?;
    if !Path::new(BUSYBOX_BINARY).exists() {
        return Err(format!(
            "{BUSYBOX_BINARY} is missing (apt-get install busybox-static)"
        ));
    }
    build(
        BUSYBOX_IMAGE,
        &[(BUSYBOX_BINARY.into(), "busybox".into())],
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/tmp\", \"/www\"]\n",
    )?;
    let meta = std::fs::metadata(bin).map_err(|e| e.to_string())?;
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let sandbox = format!("mock-k8-test-pause:{:x}-{:x}", stamp, meta.len());
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let mut files = vec![(bin.to_path_buf(), PathBuf::from("rootfs/mock_k8"))];
    for lib in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
    {
        files.push((
            lib.into(),
            Path::new("rootfs").join(lib.trim_start_matches('/')),
        ));
    }
    build(
        &sandbox,
        &files,
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/mock_k8\"]\nCMD [\"pause\"]\n",
    )?;
    Ok((BUSYBOX_IMAGE.into(), sandbox))
}

/// Measures one runtime: bound→Running and create→Running per pod, in seconds.
async fn measure(
    ctx: &Ctx,
    p: &Params,
    runtime: &str,
    node: &str,
    extra: &[String],
) -> Res<(Summary, Summary)> {
    let data_dir = ctx.work.join(format!("latency-{runtime}"));
    let port = free_port()?;
    let mut cmd = tokio::process::Command::new(&ctx.bin);
    cmd.arg("run")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--api-addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--runtime", runtime, "--node-name", node])
        .args(extra)
        .env("RUST_LOG", "warn");
    let log = data_dir.with_extension("log");
    let mut server = Proc::spawn(cmd, format!("http://127.0.0.1:{port}"), &log)
        .map_err(|e| format!("starting {}: {e}", ctx.bin.display()))?;
    let result = async {
        wait_ok(&ctx.http, &server, "/readyz", Duration::from_secs(30)).await?;
        super::e2e::wait_nodes_ready(&server.url, 1, Duration::from_secs(30)).await?;
        let (mut bound, mut created) = (Vec::new(), Vec::new());
        for i in 0..p.pods {
            let name = format!("latency-{i}");
            let (b, c) = one_pod(ctx, &server.url, &name, p.timeout).await?;
            bound.push(b);
            created.push(c);
            let url = format!("{}/api/v1/namespaces/default/pods/{name}", server.url);
            let body = json!({"gracePeriodSeconds": 0});
            ctx.http.delete(&url).json(&body).send().await?;
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            Summary::of(bound),
            Summary::of(created),
        ))
    }
    .await;
    // Let the agent stop and remove the deleted pods' containers before the server stops.
    let deadline = Instant::now() + Duration::from_secs(20);
    let list = format!("{}/api/v1/namespaces/default/pods", server.url);
    while Instant::now() < deadline {
        let items = match ctx.http.get(&list).send().await {
            Ok(r) => r.json::<Value>().await.map(|v| v["items"].clone()).ok(),
            Err(_) => None,
        };
        if items
            .as_ref()
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
    result.map_err(|e| format!("{runtime}: {e}\n{}", server.log_tail()).into())
}

/// Creates pod `name` and watches it: seconds from bound (first event with `spec.nodeName`) to
/// Running, and from just before the POST to Running.
async fn one_pod(ctx: &Ctx, url: &str, name: &str, timeout: Duration) -> Res<(f64, f64)> {
    let watch = format!(
        "{url}/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3D{name}"
    );
    let mut resp = ctx.http.get(&watch).send().await?;
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "app",
            "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}]}});
    let posted = Instant::now();
    let created = ctx
        .http
        .post(format!("{url}/api/v1/namespaces/default/pods"))
        .json(&pod)
        .send()
        .await?;
    if !created.status().is_success() {
        return Err(format!("creating {name}: {}", created.text().await?).into());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let (mut buf, mut bound) = (Vec::new(), None);
    loop {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .map_err(|_| format!("{name} not Running within {timeout:?}"))??
            .ok_or_else(|| format!("the watch of {name} ended"))?;
        let now = Instant::now();
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let obj = &ev["object"];
            if bound.is_none() && obj["spec"]["nodeName"].is_string() {
                bound = Some(now);
            }
            if obj["status"]["phase"] == "Running" {
                let b = bound.unwrap_or(now);
                return Ok((
                    now.duration_since(b).as_secs_f64(),
                    now.duration_since(posted).as_secs_f64(),
                ));
            }
        }
    }
}

fn ms(s: f64) -> String {
    format!("{:.0} ms", s * 1000.0)
}

/// Runs the scenario: MockDocker, then Docker (or a note saying why it was skipped).
///
/// # Errors
/// A runtime whose server fails or whose pod does not run in time.
pub async fn run(ctx: &Ctx, p: &Params) -> Res<(Value, Vec<Row>)> {
    let node = format!("bench-latency-{}", std::process::id());
    let scenario = "7 pod start latency";
    let params = format!("{} pods, one at a time", p.pods);
    let mut rows = Vec::new();
    let mut runtimes = Vec::new();
    let row = |rows: &mut Vec<Row>,
               runtimes: &mut Vec<Value>,
               runtime: &str,
               bound: Summary,
               created: Summary| {
        for (what, s) in [("bound→Running", bound), ("create→Running", created)] {
            rows.push(Row::new(
                scenario,
                &params,
                &format!("{runtime}: {what}"),
                format!("p50 {} / max {}", ms(s.p50), ms(s.max)),
                "-",
            ));
        }
        runtimes.push(json!({"runtime": runtime, "boundToRunningP50": bound.p50, "boundToRunningMax": bound.max, "createToRunningP50": created.p50}));
    };
    let (mock_bound, mock_created) = measure(ctx, p, "mock", &node, &[]).await?;
    row(&mut rows, &mut runtimes, "mock", mock_bound, mock_created);
    let bin = ctx.bin.clone();
    let lock_and_images = tokio::task::spawn_blocking(move || {
        let path = std::env::temp_dir().join("mock-k8-docker-tests.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| e.to_string())?;
        file.lock().map_err(|e| e.to_string())?;
        let found = images(&bin)?;
        Ok::<_, String>((file, found))
    })
    .await?;
    let note = match lock_and_images {
        Err(why) => {
            rows.push(Row::new(
                scenario,
                &params,
                "docker",
                format!("skipped: {why}"),
                "-",
            ));
            Some(why)
        }
        Ok((_lock, (_, sandbox))) => {
            let extra = ["--sandbox-image".to_string(), sandbox];
            let measured = measure(ctx, p, "docker", &node, &extra).await;
            let ids = docker(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=mock-k8.io/node={node}"),
            ])
            .unwrap_or_default();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids.split_whitespace());
                let _ = docker(&args);
            }
            let _ = docker(&["network", "rm", &format!("mock-k8-{node}")]);
            let (bound, created) = measured?;
            row(&mut rows, &mut runtimes, "docker", bound, created);
            None
        }
    };
    let v = json!({"scenario": "pod-start-latency", "pods": p.pods, "runtimes": runtimes, "dockerSkipped": note});
    Ok((v, rows))
}
