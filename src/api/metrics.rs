//! `/metrics` in the Prometheus text format (prometheus-client): request counts and latencies by
//! verb, resource and code (named as kube-apiserver names them), and store, Raft and watch figures
//! read from [`crate::store::Store::stats`] at scrape time.

use crate::store::StoreStats;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Instant;

use super::ApiState;

/// What a handler tells the metrics layer about a request: the Kubernetes verb (`GET`, `LIST`,
/// `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`, ...) and the resource (`pods`,
/// `deployments.apps`, `pods/status`). Put in the response's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The verb, upper case.
    pub verb: &'static str,
    /// The resource, with subresource.
    pub resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    resource: String,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    verb: String,
    resource: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabel {
    resource: String,
}

type HistogramFamily = Family<DurationLabels, Histogram, fn() -> Histogram>;

/// The registry and the metric handles the API updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    revision: Gauge,
    objects: Family<ResourceLabel, Gauge>,
    watchers: Gauge,
    raft_term: Gauge,
    raft_last_log_index: Gauge,
    raft_applied_index: Gauge,
    raft_is_leader: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let (revision, objects, watchers) = (
            Gauge::default(),
            Family::<ResourceLabel, Gauge>::default(),
            Gauge::default(),
        );
        let (raft_term, raft_last_log_index, raft_applied_index, raft_is_leader) = (
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Request latency in seconds by verb and resource",
            durations.clone(),
        );
        registry.register(
            "mock_k8_store_revision",
            "The store's current cluster-wide revision",
            revision.clone(),
        );
        registry.register(
            "apiserver_storage_objects",
            "Stored objects by resource",
            objects.clone(),
        );
        registry.register("mock_k8_watchers", "Open watch receivers", watchers.clone());
        registry.register("mock_k8_raft_term", "Raft current term", raft_term.clone());
        registry.register(
            "mock_k8_raft_last_log_index",
            "Raft last log index",
            raft_last_log_index.clone(),
        );
        registry.register(
            "mock_k8_raft_applied_index",
            "Raft last applied log index",
            raft_applied_index.clone(),
        );
        registry.register(
            "mock_k8_raft_is_leader",
            "1 when this member is the Raft leader",
            raft_is_leader.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            revision,
            objects,
            watchers,
            raft_term,
            raft_last_log_index,
            raft_applied_index,
            raft_is_leader,
        }
    }

    /// Records one finished request.
    pub fn observe(&self, info: &RequestInfo, code: u16, seconds: f64) {
        let labels = RequestLabels {
            verb: info.verb.to_string(),
            resource: info.resource.clone(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&DurationLabels {
                verb: info.verb.to_string(),
                resource: info.resource.clone(),
            })
            .observe(seconds);
    }

    /// The text exposition, after updating the store gauges from `stats`.
    pub fn render(&self, stats: &StoreStats) -> String {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.revision.set(clamp(stats.revision));
        self.watchers.set(clamp(stats.watchers));
        self.raft_term.set(clamp(stats.raft_term));
        self.raft_last_log_index
            .set(clamp(stats.raft_last_log_index));
        self.raft_applied_index.set(clamp(stats.raft_applied_index));
        self.raft_is_leader
            .set(i64::from(stats.raft_state == "Leader"));
        for (prefix, n) in &stats.objects_by_resource {
            self.objects
                .get_or_create(&ResourceLabel {
                    resource: resource_label(prefix),
                })
                .set(clamp(*n));
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// `"core/pods"` → `"pods"`, `"apps/deployments"` → `"deployments.apps"` (kube-apiserver's form).
fn resource_label(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match prefix.split_once('/') {
        Some(("core", plural)) => plural.to_string(),
        Some((group, plural)) => format!("{plural}.{group}"),
        None => prefix.to_string(),
    }
}

/// Middleware: times each request and counts it with the [`RequestInfo`] its handler attached
/// (non-resource paths count under their method and an empty resource).
pub async fn track(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let resp = next.run(req).await;
    let info = resp
        .extensions()
        .get::<RequestInfo>()
        .cloned()
        .unwrap_or_else(|| RequestInfo {
            verb: verb_of(&method),
            resource: String::new(),
        });
    state
        .metrics
        .observe(&info, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

fn verb_of(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        _ => "OTHER",
    }
}

/// The Content-Type of `/metrics`: prometheus-client writes the OpenMetrics text format
/// (`# TYPE x counter` with `x_total` samples, `# EOF`), which Prometheus reads right only when
/// told so.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`, in the OpenMetrics text format ([`OPENMETRICS_CONTENT_TYPE`]).
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let body = state.metrics.render(&state.store.stats());
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_should_expose_requests_and_store_figures() {
        let m = Metrics::new();
        m.observe(
            &RequestInfo {
                verb: "LIST",
                resource: "pods".into(),
            },
            200,
            0.002,
        );
        let stats = StoreStats {
            revision: 42,
            objects_by_resource: vec![("apps/deployments".into(), 3)],
            raft_state: "Leader".into(),
            ..Default::default()
        };
        let text = m.render(&stats);
        assert!(
            text.contains(r#"apiserver_request_total{verb="LIST",resource="pods",code="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("apiserver_request_duration_seconds_bucket"));
        assert!(text.contains("mock_k8_store_revision 42"));
        assert!(text.contains(r#"apiserver_storage_objects{resource="deployments.apps"} 3"#));
        assert!(text.contains("mock_k8_raft_is_leader 1"));
    }
}
