//! Scenario 2, durable writes: Pod creates per second over HTTP at each concurrency, every write
//! fsync'd before its answer, on a `--api-only` mock_k8; then, in the same run and with the same
//! load generator and the same payload bytes, etcd puts through its JSON gateway.

use super::load::{self, Outcome, Request};
use super::server::{MockK8, wait_ok};
use super::{Ctx, Res, Row, etcd, pod_json};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Parameters of the durable-writes scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Concurrencies to measure (e.g. 1, 32, 256).
    pub clients: Vec<usize>,
    /// Unmeasured time at the start of each step.
    pub warmup: Duration,
    /// Measured time of each step.
    pub window: Duration,
}

async fn measure(
    p: &Params,
    make: impl Fn(usize) -> Arc<dyn Fn(u64) -> Request + Send + Sync>,
) -> Res<Vec<Outcome>> {
    let mut out = Vec::new();
    for &c in &p.clients {
        let http = load::client()?;
        out.push(load::closed_loop(&http, c, p.warmup, p.window, make(c)).await?);
        // Let the previous step's connections close before the next one.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(out)
}

/// Runs the scenario; returns its JSON and table rows.
///
/// # Errors
/// A server could not be started, or every request of a step failed.
pub async fn run(ctx: &Ctx, p: &Params) -> Res<(Value, Vec<Row>)> {
    let server = MockK8 {
        bin: ctx.bin.clone(),
        data_dir: ctx.work.join("writes-mock_k8"),
        nodes: None,
        verification: true,
    };
    let mut proc = server.start()?;
    wait_ok(&ctx.http, &proc, "/readyz", Duration::from_secs(60)).await?;
    let url = proc.url.clone();
    let mock = measure(p, |c| {
        let url = format!("{url}/api/v1/namespaces/default/pods");
        Arc::new(move |i| Request {
            url: url.clone(),
            body: pod_json(&format!("w{c}-{i}"), &[]),
        })
    })
    .await;
    proc.stop().await;
    let mock = mock?;

    let etcd_bin = etcd::find(ctx.etcd.as_deref()).filter(|_| ctx.with_etcd);
    let (etcd_version, etcd_results) = match etcd_bin {
        Some(bin) => {
            let version = etcd::version(&bin).await;
            let mut proc = etcd::start(&bin, &ctx.work.join("writes-etcd"), &ctx.http).await?;
            let url = proc.url.clone();
            let res = measure(p, |c| {
                let url = url.clone();
                Arc::new(move |i| {
                    let name = format!("w{c}-{i}");
                    etcd::put(
                        &url,
                        &format!("/registry/pods/default/{name}"),
                        &pod_json(&name, &[]),
                    )
                })
            })
            .await;
            proc.stop().await;
            (Some(version), Some(res?))
        }
        None => (None, None),
    };

    let mut steps = Vec::new();
    let mut rows = Vec::new();
    for (i, &c) in p.clients.iter().enumerate() {
        let m = &mock[i];
        let e = etcd_results.as_ref().map(|r| &r[i]);
        let ratio = e.map(|e| m.rate() / e.rate().max(1e-9));
        steps.push(json!({
            "clients": c,
            "mockK8": outcome_json(m),
            "etcd": e.map(outcome_json),
            "ratio": ratio,
        }));
        let etcd_text = match e {
            Some(e) => format!("{:.0}/s", e.rate()),
            None => "n/a (etcd not installed)".into(),
        };
        rows.push(Row::new(
            "2 durable writes",
            format!("{c} clients"),
            "mock_k8 creates/s (p99)",
            format!("{:.0}/s (p99 {:.1} ms)", m.rate(), m.latency.p99 * 1e3),
            "",
        ));
        rows.push(Row::new(
            "2 durable writes",
            format!("{c} clients"),
            "etcd puts/s, mock_k8 ÷ etcd",
            match ratio {
                Some(r) => format!("{etcd_text}, {r:.2}×"),
                None => etcd_text,
            },
            if c >= 256 { "ratio ≥ 2.0×" } else { "" },
        ));
    }
    let note = if etcd_version.is_none() {
        Some(etcd::INSTALL_HINT)
    } else {
        None
    };
    let result = json!({
        "scenario": "durable-writes",
        "warmupSeconds": p.warmup.as_secs_f64(),
        "windowSeconds": p.window.as_secs_f64(),
        "payloadBytes": pod_json("w256-0", &[]).len(),
        "etcdVersion": etcd_version,
        "note": note,
        "steps": steps,
    });
    Ok((result, rows))
}

fn outcome_json(o: &Outcome) -> Value {
    json!({
        "perSecond": o.rate(),
        "ok": o.ok,
        "failed": o.failed,
        "firstError": o.first_error,
        "latencyP50Ms": o.latency.p50 * 1e3,
        "latencyP99Ms": o.latency.p99 * 1e3,
    })
}
