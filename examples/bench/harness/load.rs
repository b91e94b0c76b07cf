//! The HTTP load generator every throughput figure comes from: C concurrent closed-loop clients
//! (each sends its next request as soon as the previous one is answered) on one `reqwest` client
//! with a connection pool, so at most C connections. The same generator drives mock_k8 and etcd.

use super::Res;
use super::stats::Summary;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An HTTP client for load: HTTP/1.1, `TCP_NODELAY`, an unbounded idle pool (one connection per
/// concurrent client is kept open).
pub fn client() -> Res<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .http1_only()
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// One request of a run: method `POST`, `url`, the body and its content type.
pub struct Request {
    /// Full URL.
    pub url: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What a measured window produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Successful (2xx) answers completed inside the window.
    pub ok: u64,
    /// Failed requests (non-2xx or transport errors), all phases.
    pub failed: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Length of the measured window, in seconds.
    pub seconds: f64,
    /// Latency of the successful requests in the window, in seconds.
    pub latency: Summary,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds.max(1e-9)
    }
}

/// Runs `clients` closed-loop workers that POST `make(i)` (i = 0, 1, 2… shared across workers) for
/// `warmup + window`; counts only answers completed inside the window.
///
/// # Errors
/// A worker task panicked.
pub async fn closed_loop(
    http: &reqwest::Client,
    clients: usize,
    warmup: Duration,
    window: Duration,
    make: Arc<dyn Fn(u64) -> Request + Send + Sync>,
) -> Res<Outcome> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (from, to) = (start + warmup, start + warmup + window);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (http, next, make) = (http.clone(), next.clone(), make.clone());
        workers.spawn(async move {
            let mut lat = Vec::new();
            let (mut failed, mut first_error) = (0u64, None::<String>);
            loop {
                let sent = Instant::now();
                if sent >= to {
                    break;
                }
                let req = make(next.fetch_add(1, Ordering::Relaxed));
                let result = http
                    .post(&req.url)
                    .header("content-type", "application/json")
                    .body(req.body)
                    .send()
                    .await;
                let done = Instant::now();
                let error = match result {
                    Ok(resp) if resp.status().is_success() => {
                        // Read the answer fully so the connection is reused.
                        match resp.bytes().await {
                            Ok(_) => None,
                            Err(e) => Some(e.to_string()),
                        }
                    }
                    Ok(resp) => {
                        let code = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        Some(format!(
                            "{code}: {}",
                            text.chars().take(300).collect::<String>()
                        ))
                    }
                    Err(e) => Some(e.to_string()),
                };
                match error {
                    None if done >= from && done <= to => {
                        lat.push(done.duration_since(sent).as_secs_f64())
                    }
                    None => {}
                    Some(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                        // Don't spin on a dead server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (lat, failed, first_error)
        });
    }
    let mut all = Vec::new();
    let mut out = Outcome {
        ok: 0,
        failed: 0,
        first_error: None,
        seconds: window.as_secs_f64(),
        latency: Summary::default(),
    };
    while let Some(done) = workers.join_next().await {
        let (lat, failed, first_error) = done?;
        all.extend(lat);
        out.failed += failed;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.ok = all.len() as u64;
    out.latency = Summary::of(all);
    Ok(out)
}
