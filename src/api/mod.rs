//! The HTTP API: Kubernetes REST semantics over the store, for kubectl and the seed's REST paths.
//!
//! # Layout
//! - [`routes`]: URL paths to discovery routes and resource paths; [`query`]: query parameters.
//! - [`discovery`] (`/api`, `/apis`, `/version`), [`openapi`] (`/openapi/v3`), [`health`], [`metrics`].
//! - [`crud`]: get, list, create, update, delete; [`patch`]: the four PATCH types;
//!   [`subresource`]: `binding` and `scale`; [`watch`]: streaming changes; [`table`]: Table output.
//! - [`object`]: server-owned fields and field validation; [`select`]: list/watch scope and selectors.
//! - [`admission`]: the pipeline step that defaults ([`defaults`]), adds default tolerations and
//!   allocates Service addresses ([`service`]); [`deletion`]: graceful deletion and finalizers.
//! - [`scheduler`]: `/api/v1/scheduler/{policies,bind}`; [`logs`]: `pods/{name}/log`.
//! - [`node_auth`]: Node and node Lease writes need the cluster join token.
//! - [`error`]: the `Status` error type; [`respond`]: JSON responses and `Warning` headers.
//!
//! [`router`] builds the axum `Router`; [`crate::server::run`] serves it.

pub mod admission;
pub mod crud;
pub mod defaults;
pub mod deletion;
pub mod discovery;
pub mod error;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod nko;
pub mod node_auth;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod query;
pub mod respond;
pub mod routes;
pub mod scheduler;
pub mod select;
pub mod service;
pub mod subresource;
pub mod table;
pub mod watch;

#[cfg(test)]
mod tests;

use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::{Bytes, BytesMut};
use error::ApiError;
use futures::StreamExt;
use metrics::{Metrics, RequestInfo};
use query::Params;
use routes::{ResourcePath, Route};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Tunables of the API server.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Largest accepted request body in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long a non-watch request may run before it is answered 504.
    pub request_timeout: Duration,
    /// Interval between BOOKMARK events on watches with `allowWatchBookmarks=true`.
    pub bookmark_interval: Duration,
    /// How long a watch without `timeoutSeconds` stays open (kube-apiserver: 30 to 60 minutes).
    pub watch_timeout: Duration,
    /// `tolerationSeconds` of the `node.kubernetes.io/not-ready:NoExecute` toleration added to pods
    /// at admission (`--default-not-ready-toleration-seconds`, Kubernetes' default 300).
    pub default_not_ready_toleration_seconds: u64,
    /// `tolerationSeconds` of the `node.kubernetes.io/unreachable:NoExecute` toleration added to
    /// pods at admission (`--default-unreachable-toleration-seconds`, default 300).
    pub default_unreachable_toleration_seconds: u64,
    /// The CIDR Service cluster IPs come from (`--service-cluster-ip-range`, default
    /// `10.96.0.0/12`).
    pub service_cluster_ip_range: String,
    /// The inclusive range node ports come from (`--service-node-port-range`, default
    /// `30000-32767`).
    pub service_node_port_range: String,
    /// The cluster's default scheduling policy, as `GET /api/v1/scheduler/policies` reports it
    /// (`--scheduler-policy`, default `LeastAllocated`).
    pub scheduler_policy: String,
}

impl Default for ApiOptions {
    /// 3 MiB bodies (as Kubernetes), 60 s requests, 10 s bookmarks, 30 min watches, 300 s default
    /// tolerations, services from `10.96.0.0/12` and `30000-32767`, `LeastAllocated` scheduling.
    fn default() -> Self {
        ApiOptions {
            max_body_bytes: 3 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            bookmark_interval: Duration::from_secs(10),
            watch_timeout: Duration::from_secs(30 * 60),
            default_not_ready_toleration_seconds:
                mock_k8_controllers::nodehealth::DEFAULT_TOLERATION_SECONDS,
            default_unreachable_toleration_seconds:
                mock_k8_controllers::nodehealth::DEFAULT_TOLERATION_SECONDS,
            service_cluster_ip_range: mock_k8_controllers::ipalloc::DEFAULT_SERVICE_CIDR.into(),
            service_node_port_range: mock_k8_controllers::ipalloc::DEFAULT_NODE_PORT_RANGE.into(),
            scheduler_policy: mock_k8_controllers::scheduler::Policy::least_allocated()
                .name()
                .to_string(),
        }
    }
}

impl ApiOptions {
    /// Checks the options that are parsed: the service CIDR, the node port range and the
    /// scheduling policy name. Call it at start-up to reject bad flags early.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn validate(&self) -> Result<(), String> {
        service::ServiceAllocators::check(
            &self.service_cluster_ip_range,
            &self.service_node_port_range,
        )
        .map_err(|e| e.to_string())?;
        mock_k8_controllers::scheduler::Policy::by_name(&self.scheduler_policy)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The object store.
    pub store: Store,
    /// Request and store metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables (shared: the state is cloned for every request, and the options hold strings).
    pub options: Arc<ApiOptions>,
    /// Cancelled at server shutdown: ends every watch stream.
    pub shutdown: CancellationToken,
    /// The Service cluster IP and node port allocators.
    pub services: Arc<service::ServiceAllocators>,
    /// Where `pods/{name}/log` reads container logs; `None` until a node agent serves them.
    pub logs: Option<Arc<dyn logs::LogSource>>,
    /// How identity claims (NKO request signatures) are checked.
    pub nko: Arc<crate::nko::admission::Policy>,
    /// The cluster join token Node and node Lease writes need ([`node_auth`]); `None`: no check.
    pub node_token: Option<Arc<str>>,
}

impl ApiState {
    /// State over `store` with fresh metrics, allocators over the options' ranges (built from the
    /// stored Services on first use) and no log source.
    pub fn new(store: Store, options: ApiOptions, shutdown: CancellationToken) -> ApiState {
        let services = Arc::new(service::ServiceAllocators::new(
            &options.service_cluster_ip_range,
            &options.service_node_port_range,
        ));
        ApiState {
            store,
            metrics: Arc::new(Metrics::new()),
            options: Arc::new(options),
            shutdown,
            services,
            logs: None,
            nko: Arc::new(crate::nko::admission::Policy {
                enforced: true,
                ..Default::default()
            }),
            node_token: None,
        }
    }

    /// This state requiring `token` (the cluster join token) for Node and node Lease writes, as
    /// [`node_auth`] says.
    pub fn with_node_token(mut self, token: &str) -> ApiState {
        self.node_token = Some(token.into());
        self
    }

    /// This state with `policy` checking identity claims.
    pub fn with_nko_policy(mut self, policy: crate::nko::admission::Policy) -> ApiState {
        self.nko = Arc::new(policy);
        self
    }

    /// This state with `source` serving `pods/{name}/log`.
    pub fn with_log_source(mut self, source: Arc<dyn logs::LogSource>) -> ApiState {
        self.logs = Some(source);
        self
    }
}

/// One resource request, as the handlers see it.
pub struct Ctx {
    /// Shared state.
    pub state: ApiState,
    /// The addressed resource path.
    pub path: ResourcePath,
    /// Its query parameters.
    pub params: Params,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its method.
    pub method: Method,
    /// Its target as sent: path and query (what NKO request signatures cover).
    pub target: String,
    /// The peer's address, when served over a socket (`None` for in-process calls).
    pub peer: Option<std::net::SocketAddr>,
}

impl Ctx {
    /// The request's `Content-Type`, if any and readable.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

/// The API's routes: discovery, OpenAPI, health, metrics and every resource path, with request
/// metrics and tracing spans. Unknown paths get a 404 `Status`.
pub fn router(state: ApiState) -> Router {
    use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
    Router::new()
        .route(
            "/version",
            get(|| async { respond::json_value(StatusCode::OK, &discovery::version()) }),
        )
        .route("/healthz", get(health::livez))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::root))
        .route("/openapi/v3/{*path}", get(openapi::document))
        .route("/api/v1/scheduler/policies", get(scheduler::policies))
        .route(
            "/api/v1/scheduler/bind",
            axum::routing::post(scheduler::bind),
        )
        .route("/nko/v1/keys", get(nko::keys))
        .route("/nko/v1/records", get(nko::records))
        .route("/nko/v1/records/{revision}", get(nko::record))
        .route("/nko/v1/checkpoint", get(nko::checkpoint))
        .route("/api", any(resource_handler))
        .route("/api/{*rest}", any(resource_handler))
        .route("/apis", any(resource_handler))
        .route("/apis/{*rest}", any(resource_handler))
        .fallback(|| async { ApiError::path_not_found().into_response() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        .with_state(state)
}

/// The Kubernetes verb of a resource request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    fn of(method: &Method, path: &ResourcePath, params: &Params) -> Result<Verb, ApiError> {
        let named = path.name.is_some();
        Ok(match (method.as_str(), named) {
            ("GET", false) if params.watch => Verb::Watch,
            ("GET", false) => Verb::List,
            ("GET", true) => Verb::Get,
            ("POST", false) => Verb::Create,
            ("POST", true) if path.subresource.as_deref() == Some("binding") => Verb::Create,
            ("PUT", true) => Verb::Update,
            ("PATCH", true) => Verb::Patch,
            ("DELETE", true) if path.subresource.is_none() => Verb::Delete,
            ("DELETE", false) => Verb::DeleteCollection,
            (m, _) => return Err(ApiError::method_not_allowed(m)),
        })
    }

    fn metric_name(self, ctx: &Ctx) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch
                if ctx
                    .content_type()
                    .is_some_and(|c| c.starts_with("application/apply-patch")) =>
            {
                "APPLY"
            }
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::DeleteCollection => "DELETECOLLECTION",
        }
    }
}

/// Handles `/api...` and `/apis...`: discovery documents and resource requests.
async fn resource_handler(State(state): State<ApiState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let route = routes::parse(parts.uri.path());
    let discovery_doc = match route {
        None => return ApiError::path_not_found().into_response(),
        Some(Route::Resource(path)) => return handle_resource(state, parts, body, path).await,
        Some(_) if parts.method != Method::GET => {
            return ApiError::method_not_allowed(parts.method.as_str()).into_response();
        }
        Some(Route::LegacyVersions) => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8080");
            Some(discovery::api_versions(host))
        }
        Some(Route::Groups) => Some(discovery::api_group_list()),
        Some(Route::Group(g)) => discovery::api_group(g),
        Some(Route::ResourceList { group, version }) => {
            discovery::api_resource_list(group, version)
        }
    };
    match discovery_doc {
        Some(doc) => respond::json_value(StatusCode::OK, &doc),
        None => ApiError::path_not_found().into_response(),
    }
}

async fn handle_resource(
    state: ApiState,
    parts: axum::http::request::Parts,
    body: Body,
    path: ResourcePath,
) -> Response {
    let params = match Params::from_uri(&parts.uri) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let verb = match Verb::of(&parts.method, &path, &params) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let ctx = Ctx {
        state,
        path,
        params,
        headers: parts.headers,
        method: parts.method,
        target,
        peer,
    };
    let resource = match (ctx.path.resource.group, ctx.path.subresource.as_deref()) {
        ("", None) => ctx.path.resource.plural.to_string(),
        ("", Some(s)) => format!("{}/{s}", ctx.path.resource.plural),
        (g, None) => format!("{}.{g}", ctx.path.resource.plural),
        (g, Some(s)) => format!("{}.{g}/{s}", ctx.path.resource.plural),
    };
    let info = RequestInfo {
        verb: verb.metric_name(&ctx),
        resource,
    };
    let result = if let Err(e) = consistent(&ctx, verb).await {
        Err(e)
    } else if verb == Verb::Watch {
        watch::watch(&ctx).await
    } else {
        let timeout = ctx.state.options.request_timeout;
        match tokio::time::timeout(timeout, run(&ctx, verb, body)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::timeout(timeout.as_secs())),
        }
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.extensions_mut().insert(info);
    resp
}

/// Makes the member's state fresh enough for the request, so that no member serves older state
/// than a client has seen (Kubernetes' "Resource versions" semantics, over Raft):
/// - a get, list or watch without `resourceVersion` is linearizable: it waits for the leader's
///   read index ([`crate::store::Store::read_barrier`]);
/// - with `resourceVersion=N` (N > 0) it waits until this member has applied revision N (a watch
///   does so itself); `resourceVersion=0` is served from whatever this member has;
/// - a write on a follower waits for the read index too, so that the state its admission and
///   preconditions read is current (on the leader it is already).
///
/// # Errors
/// 503 (with `Retry-After`, naming the leader as far as known) when no leader can be reached; 504
/// when revision N is not reached in time.
async fn consistent(ctx: &Ctx, verb: Verb) -> Result<(), ApiError> {
    let store = &ctx.state.store;
    let rv = ctx.params.resource_version.as_deref();
    let read = matches!(verb, Verb::Get | Verb::List | Verb::Watch);
    let barrier = match (read, rv) {
        (true, Some("0")) => false,
        (true, Some(n)) => {
            if verb != Verb::Watch
                && let Ok(n) = n.parse::<u64>()
            {
                watch::wait_for_revision(&ctx.state, n).await?;
            }
            false
        }
        (true, None) => true,
        (false, _) => !store.is_leader(),
    };
    if barrier {
        store
            .read_barrier()
            .await
            .map_err(|e| ApiError::from_store(e, ctx.path.resource, ""))?;
    }
    Ok(())
}

/// Reads the body (when the verb takes one) and runs the handler for `verb` and the subresource.
async fn run(ctx: &Ctx, verb: Verb, body: Body) -> Result<Response, ApiError> {
    let body = match verb {
        Verb::Create | Verb::Update | Verb::Patch | Verb::Delete => {
            read_body(body, &ctx.headers, ctx.state.options.max_body_bytes).await?
        }
        _ => Bytes::new(),
    };
    let admission = match verb {
        Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection => {
            nko::admit(ctx, &body)?
        }
        _ => return dispatch(ctx, verb, body).await,
    };
    if matches!(verb, Verb::Create | Verb::Update | Verb::Patch) {
        node_auth::check(ctx, &admission)?;
    }
    crate::nko::admission::scope(admission, dispatch(ctx, verb, body)).await
}

/// Runs the handler for `verb` and the subresource.
async fn dispatch(ctx: &Ctx, verb: Verb, body: Bytes) -> Result<Response, ApiError> {
    let sub = ctx.path.subresource.as_deref();
    match (verb, sub) {
        (Verb::Get, None | Some("status")) => crud::get(ctx).await,
        (Verb::Get, Some("scale")) => subresource::get_scale(ctx).await,
        (Verb::Get, Some("log")) => logs::get(ctx).await,
        (Verb::List, _) => crud::list(ctx).await,
        (Verb::Create, None) => crud::create(ctx, &body).await,
        (Verb::Create, Some("binding")) => subresource::bind(ctx, &body).await,
        (Verb::Update, None) => crud::update(ctx, &body, object::View::Main).await,
        (Verb::Update, Some("status")) => crud::update(ctx, &body, object::View::Status).await,
        (Verb::Update, Some("scale")) => subresource::put_scale(ctx, &body).await,
        (Verb::Patch, Some("status" | "scale") | None) => patch::patch(ctx, &body).await,
        (Verb::Delete, None) => crud::delete(ctx, &body).await,
        (Verb::DeleteCollection, None) => crud::delete_collection(ctx).await,
        _ => Err(ApiError::method_not_allowed(verb.metric_name(ctx))),
    }
}

/// Reads a request body of at most `limit` bytes.
///
/// # Errors
/// 413 RequestEntityTooLarge over the limit (from `Content-Length` or while reading); 400 when the
/// body cannot be read.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("reading the request body failed: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
