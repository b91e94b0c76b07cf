//! Router-level tests: the real router over a real store in a temporary directory, served on
//! `127.0.0.1:0` and driven with reqwest, as kubectl would drive it.

mod admission;
mod crud;
mod kube_client;
mod patch;
mod strictness;
mod watch;

use super::{ApiOptions, ApiState, crud as api_crud, router};
use crate::store::{Store, StoreConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The Accept kubectl sends for `kubectl get`.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// A running API server over a fresh store.
pub struct Harness {
    _dir: tempfile::TempDir,
    pub state: ApiState,
    pub base: String,
    pub client: reqwest::Client,
}

/// An answer: code, headers and body (JSON when it parses, else a JSON string of the text).
pub struct Answer {
    pub code: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Harness {
    /// Starts a server whose store keeps `watch_history` events, with the system namespaces.
    pub async fn start_with(watch_history: usize, options: ApiOptions) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(StoreConfig {
            member_key: None,
            dir: dir.path().join("raft"),
            node_id: 1,
            advertise_addr: "127.0.0.1:0".into(),
            watch_history,
            max_batch: 64,
            rpc_key: String::new(),
            bootstrap: true,
            raft: Default::default(),
        })
        .await
        .expect("store opens");
        let state = ApiState::new(store, options, CancellationToken::new());
        for ns in crate::server::SYSTEM_NAMESPACES {
            api_crud::ensure_namespace(&state, ns)
                .await
                .expect("namespace");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(state.clone());
        let token = state.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        });
        Harness {
            _dir: dir,
            state,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    /// Starts a server with default options and fast bookmarks.
    pub async fn start() -> Harness {
        Self::start_with(
            1000,
            ApiOptions {
                bookmark_interval: Duration::from_millis(100),
                ..ApiOptions::default()
            },
        )
        .await
    }

    /// Sends one request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
        accept: Option<&str>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.expect("request sent");
        let code = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            code,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, None, Some("application/json"))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            Some(body.to_string()),
            None,
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(
            Method::PUT,
            path,
            Some("application/json"),
            Some(body.to_string()),
            None,
        )
        .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Answer {
        self.send(
            Method::PATCH,
            path,
            Some(content_type),
            Some(body.to_string()),
            None,
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(
            Method::DELETE,
            path,
            Some("application/json"),
            Some(r#"{"propagationPolicy":"Background"}"#.into()),
            None,
        )
        .await
    }

    pub fn shutdown(&self) {
        self.state.shutdown.cancel();
    }
}

/// A minimal valid Pod.
pub fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
           "spec": {"containers": [{"name": "c1", "image": "nginx:1.27"}]}})
}

/// Creates the Node `name` (no status: enough to bind pods to it).
pub async fn create_node(h: &Harness, name: &str) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
    let a = h.post("/api/v1/nodes", &node).await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
}

/// `metadata.resourceVersion` of an answer body, as a number.
pub fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("resourceVersion")
}

/// Asserts `a` is a Status with `code` and `reason`.
pub fn assert_status(a: &Answer, code: u16, reason: &str) {
    assert_eq!(a.code.as_u16(), code, "{}", a.body);
    assert_eq!(
        (
            a.body["kind"].as_str(),
            a.body["reason"].as_str(),
            a.body["code"].as_u64()
        ),
        (Some("Status"), Some(reason), Some(u64::from(code))),
        "{}",
        a.body
    );
    assert_eq!(a.headers["content-type"], "application/json");
}
