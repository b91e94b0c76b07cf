//! Container logs over HTTP, as between kube-apiserver and the kubelet: the node agent serves
//! `GET /containerLogs/{namespace}/{pod}/{container}` (the kubelet's path; query `follow`,
//! `tailLines`, `previous`) on the port it publishes in its Node's
//! `status.daemonEndpoints.kubeletEndpoint.Port`, and the API server's `pods/{name}/log` proxies to
//! it ([`NodeLogProxy`]).
//!
//! # Authentication
//! Every request to the agent carries `Authorization: Bearer <token>`, a secret shared by the API
//! server and its agents (`run` generates one per process); anything else is answered 401.
//!
//! # Addressing
//! The proxy dials `<kubelet host>:<port>`. Node `InternalIP`s of mock_k8 nodes are simulated
//! addresses, so the host is the proxy's configured kubelet host (`127.0.0.1` for the agents `run`
//! serves in process).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use mock_k8_controllers::container::{ContainerRuntime, ContainerSummary};
use mock_k8_schemas::Status;
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::logs::{LogRequest, LogSource};

/// A random bearer token (32 hex digits) for the log endpoint.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without OS randomness the token is still unique per process, only guessable.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the agent's log endpoint needs: the runtime and the token.
#[derive(Clone)]
pub struct NodeLogServer {
    runtime: Arc<dyn ContainerRuntime>,
    token: Arc<str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogQuery {
    #[serde(default)]
    follow: Option<String>,
    #[serde(default)]
    tail_lines: Option<usize>,
    #[serde(default)]
    previous: Option<String>,
}

fn status_response(s: Status) -> Response {
    ApiError::from(s).into_response()
}

fn is_true(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true" | "1"))
}

impl NodeLogServer {
    /// A log endpoint over `runtime`'s containers, accepting `token`.
    pub fn new(runtime: Arc<dyn ContainerRuntime>, token: &str) -> NodeLogServer {
        NodeLogServer {
            runtime,
            token: token.into(),
        }
    }

    /// The endpoint's routes.
    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route(
                "/containerLogs/{namespace}/{pod}/{container}",
                get(container_logs),
            )
            .with_state(self)
    }
}

async fn container_logs(
    State(server): State<NodeLogServer>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == &*server.token);
    if !authorized {
        return status_response(Status::new(401, "Unauthorized", "Unauthorized"));
    }
    let mut instances: Vec<ContainerSummary> = server
        .runtime
        .list(None)
        .await
        .into_iter()
        .filter(|c| {
            c.pod_namespace == namespace && c.pod_name == pod && c.container_name == container
        })
        .collect();
    instances.sort_by_key(|c| (c.restart_count, c.created_at));
    let previous = is_true(&q.previous);
    let chosen = if previous {
        instances.iter().rev().nth(1)
    } else {
        instances.last()
    };
    let Some(chosen) = chosen else {
        let msg = if previous {
            format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")
        } else {
            format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"
            )
        };
        return status_response(Status::bad_request(msg));
    };
    if is_true(&q.follow) && !previous {
        return match server.runtime.follow_logs(&chosen.id).await {
            Ok(stream) => {
                let body = Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>));
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
            }
            Err(e) => status_response(Status::bad_request(e.to_string())),
        };
    }
    match server.runtime.logs(&chosen.id).await {
        Ok(lines) => {
            let skip = q.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
            let text: String = lines[skip..].iter().map(|l| format!("{l}\n")).collect();
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
        }
        Err(e) => status_response(Status::bad_request(e.to_string())),
    }
}

/// The API server's [`LogSource`]: forwards `pods/{name}/log` to the agent of the pod's node.
pub struct NodeLogProxy {
    host: String,
    token: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
}

impl NodeLogProxy {
    /// A proxy dialing agents at `host` (see the module docs) with bearer `token`.
    pub fn new(host: &str, token: &str) -> NodeLogProxy {
        NodeLogProxy {
            host: host.to_string(),
            token: token.to_string(),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }
}

fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl LogSource for NodeLogProxy {
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<Body, ApiError>> {
        let client = self.client.clone();
        let (host, token) = (self.host.clone(), self.token.clone());
        Box::pin(async move {
            let Some(port) = req.kubelet_port.filter(|p| *p > 0) else {
                return Err(Status::new(
                    404,
                    "NotFound",
                    format!(
                        "node \"{}\" publishes no log endpoint (status.daemonEndpoints.kubeletEndpoint.Port)",
                        req.node
                    ),
                )
                .into());
            };
            let mut uri = format!(
                "http://{host}:{port}/containerLogs/{}/{}/{}?follow={}&previous={}",
                query_value(&req.namespace),
                query_value(&req.pod),
                query_value(&req.container),
                req.follow,
                req.previous
            );
            if let Some(n) = req.tail_lines {
                uri.push_str(&format!("&tailLines={n}"));
            }
            let request = axum::http::Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(http_body_util::Empty::new())
                .map_err(|e| ApiError::internal("building the node log request", e))?;
            let unreachable = |e: &dyn std::fmt::Display| -> ApiError {
                Status::new(
                    503,
                    "ServiceUnavailable",
                    format!("cannot reach the agent of node \"{}\": {e}", req.node),
                )
                .into()
            };
            let resp = client.request(request).await.map_err(|e| unreachable(&e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(Body::new(resp.into_body().map_err(axum::Error::new)));
            }
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(&e))?
                .to_bytes();
            let parsed: Option<Status> = serde_json::from_slice(&bytes).ok();
            Err(parsed
                .unwrap_or_else(|| {
                    Status::new(
                        status.as_u16(),
                        "InternalError",
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                })
                .into())
        })
    }
}
