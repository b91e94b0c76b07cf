//! Container logs over HTTP, as between kube-apiserver and the kubelet: the node agent serves
//! `GET /containerLogs/{namespace}/{pod}/{container}` (the kubelet's path; query `follow`,
//! `tailLines`, `previous`) on the port it publishes in its Node's
//! `status.daemonEndpoints.kubeletEndpoint.Port`, and the API server's `pods/{name}/log` proxies to
//! it ([`NodeLogProxy`]).
//!
//! # Authentication
//! Every request to the agent is signed with the log key derived from the cluster join token
//! (see [`crate::node_logs_auth`], which also says what a stranger can and cannot do); anything
//! else is answered 401.
//!
//! # Addressing
//! The proxy dials `<host>:<port>`: for the nodes whose agents run in the API server's own process
//! (`run`'s own node and simulated nodes, whose `InternalIP`s are simulated addresses) the host is
//! `127.0.0.1`; for every other node (a `mock_k8 agent`) it is the node's `InternalIP`, which
//! such an agent sets to a real address of its host (`--node-ip`).
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
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
use crate::node_logs_auth::LogKey;

/// The node names served by the agents of this process (shared by their log endpoint and the
/// API server's proxy, which dials these on loopback).
pub type LocalNodes = Arc<std::sync::RwLock<HashSet<String>>>;

/// What the agent's log endpoint needs: the runtime, the log key and the nodes it serves.
#[derive(Clone)]
pub struct NodeLogServer {
    runtime: Arc<dyn ContainerRuntime>,
    key: LogKey,
    nodes: Arc<HashSet<String>>,
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
    /// A log endpoint over `runtime`'s containers for the agents of `nodes`, accepting requests
    /// signed with `key`.
    pub fn new(
        runtime: Arc<dyn ContainerRuntime>,
        key: LogKey,
        nodes: impl IntoIterator<Item = String>,
    ) -> NodeLogServer {
        NodeLogServer {
            runtime,
            key,
            nodes: Arc::new(nodes.into_iter().collect()),
        }
    }

    /// Serves [`NodeLogServer::router`] on `listener` until `shutdown` is cancelled.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "node log endpoint stopped");
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
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let path_and_query = uri.path_and_query().map_or("", |p| p.as_str());
    let checked = server.key.verify(
        credentials,
        path_and_query,
        std::time::SystemTime::now(),
        |n| server.nodes.contains(n),
    );
    if let Err(e) = checked {
        tracing::debug!(error = %e, "refused a node log request");
        return status_response(Status::new(
            401,
            "Unauthorized",
            format!("Unauthorized: {e}"),
        ));
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
        // `follow_logs` starts at the first line: with `tailLines`, skip all but the last lines
        // printed so far (lines printed meanwhile are new and shown).
        let skip = match q.tail_lines {
            Some(n) => match server.runtime.logs(&chosen.id).await {
                Ok(lines) => lines.len().saturating_sub(n),
                Err(e) => return status_response(Status::bad_request(e.to_string())),
            },
            None => 0,
        };
        return match server.runtime.follow_logs(&chosen.id).await {
            Ok(stream) => {
                let body = Body::from_stream(
                    skip_lines(stream, skip).map(Ok::<_, std::convert::Infallible>),
                );
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

/// `stream` (chunks of whole lines) without its first `skip` lines.
fn skip_lines(
    stream: futures::stream::BoxStream<'static, String>,
    skip: usize,
) -> impl futures::Stream<Item = String> {
    stream
        .scan(skip, |left, chunk| {
            if *left == 0 {
                return futures::future::ready(Some(chunk));
            }
            let mut rest = chunk.as_str();
            while *left > 0 && !rest.is_empty() {
                rest = rest.split_once('\n').map_or("", |(_, after)| after);
                *left -= 1;
            }
            futures::future::ready(Some(rest.to_string()))
        })
        .filter(|chunk| futures::future::ready(!chunk.is_empty()))
}

/// The API server's [`LogSource`]: forwards `pods/{name}/log` to the agent of the pod's node.
pub struct NodeLogProxy {
    local: LocalNodes,
    key: LogKey,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
}

impl NodeLogProxy {
    /// A proxy signing with `key`, dialing the nodes in `local` on loopback and others at their
    /// `InternalIP` (see the module docs).
    pub fn new(key: LogKey, local: LocalNodes) -> NodeLogProxy {
        NodeLogProxy {
            local,
            key,
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
        let key = self.key.clone();
        let local = self
            .local
            .read()
            .map(|l| l.contains(&req.node))
            .unwrap_or(false);
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
            let host = if local {
                "127.0.0.1".to_string()
            } else {
                match req.node_address.as_deref().map(str::parse::<IpAddr>) {
                    Some(Ok(IpAddr::V6(ip))) => format!("[{ip}]"),
                    Some(Ok(ip)) => ip.to_string(),
                    Some(Err(_)) | None => {
                        return Err(Status::new(
                            404,
                            "NotFound",
                            format!(
                                "node \"{}\" publishes no InternalIP address to reach its agent at",
                                req.node
                            ),
                        )
                        .into());
                    }
                }
            };
            let mut path = format!(
                "/containerLogs/{}/{}/{}?follow={}&previous={}",
                query_value(&req.namespace),
                query_value(&req.pod),
                query_value(&req.container),
                req.follow,
                req.previous
            );
            if let Some(n) = req.tail_lines {
                path.push_str(&format!("&tailLines={n}"));
            }
            let signature = key.sign(&req.node, std::time::SystemTime::now(), &path);
            let request = axum::http::Request::get(format!("http://{host}:{port}{path}"))
                .header(header::AUTHORIZATION, signature)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn skip_lines_should_drop_the_first_lines_across_chunks() {
        let chunks = vec!["a\nb\n".to_string(), "c\n".into(), "d\ne\n".into()];
        let all = |skip| {
            let stream = futures::stream::iter(chunks.clone()).boxed();
            skip_lines(stream, skip).collect::<Vec<String>>()
        };
        assert_eq!(all(0).await.concat(), "a\nb\nc\nd\ne\n");
        assert_eq!(all(1).await, vec!["b\n", "c\n", "d\ne\n"]);
        assert_eq!(all(3).await, vec!["d\ne\n"]);
        assert_eq!(all(4).await, vec!["e\n"]);
        assert!(all(9).await.is_empty());
    }
}
