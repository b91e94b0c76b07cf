//! The calling side of the cluster endpoints: joining (`run --join URL --token T`), the promotion
//! loop of a joined member, and the `mock_k8 members` commands.

use std::time::Duration;

use axum::http::{self, HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt;
use mock_k8_controllers::client::{HyperTransport, Transport};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::admin::{JoinRequest, JoinResponse, PromoteRequest};
use crate::store::Store;
use crate::store::membership::MemberInfo;
use crate::store::network::{Credentials, post_json};

/// How long `run --join` keeps retrying a join that fails retryably (no leader yet, unreachable).
pub const JOIN_PATIENCE: Duration = Duration::from_secs(60);

/// How long one join attempt may take. A join is one membership entry on the leader (well under
/// a second); an attempt whose connection is lost without an answer (a SYN dropped while the
/// host's networks change) is abandoned and retried within [`JOIN_PATIENCE`].
pub const JOIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a `mock_k8 members` request may take (a removal waits for the membership change).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(80);

/// Sends `method path` to `base` with the join token and decodes a 200 JSON answer; the whole
/// exchange may take `timeout`.
///
/// # Errors
/// `(retryable, message)`: retryable for transport failures (a timeout included) and 5xx answers.
async fn call<T: DeserializeOwned>(
    base: &str,
    token: &str,
    (method, path): (Method, &str),
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<T, (bool, String)> {
    let transport = HyperTransport::new(base.trim_end_matches('/'))
        .map_err(|e| (false, e.to_string()))?
        .with_timeout(timeout);
    let auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| (false, "the token is not a valid header value".to_string()))?;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.unwrap_or_default()))
        .map_err(|e| (false, e.to_string()))?;
    let resp = transport
        .send(req)
        .await
        .map_err(|e| (true, format!("{base}: {e}")))?;
    let status = resp.status();
    let mut stream = resp.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| (true, e.to_string()))?);
    }
    if status != StatusCode::OK {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        return Err((
            status.is_server_error(),
            format!("{base}: {status}: {message}"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| (false, format!("{base}: bad answer: {e}")))
}

/// Joins the cluster at `url` with `token`, as a member reachable at `addr` with RPC `key`.
/// Retries retryable failures for up to [`JOIN_PATIENCE`].
///
/// # Errors
/// A refused token (401/403), a bad request, or no success in time, as text.
pub async fn join(url: &str, token: &str, addr: &str, key: &str) -> Result<JoinResponse, String> {
    let body = serde_json::to_vec(&JoinRequest {
        addr: addr.to_string(),
        key: key.to_string(),
    })
    .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + JOIN_PATIENCE;
    loop {
        match call(
            url,
            token,
            (Method::POST, "/cluster/join"),
            Some(body.clone()),
            JOIN_ATTEMPT_TIMEOUT,
        )
        .await
        {
            Ok(answer) => return Ok(answer),
            Err((true, m)) if tokio::time::Instant::now() < deadline => {
                tracing::info!("join not accepted yet ({m}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err((_, m)) => return Err(format!("joining the cluster at {url}: {m}")),
        }
    }
}

/// `GET /cluster/members` on `url`.
///
/// # Errors
/// Transport failures and refusals, as text.
pub async fn list_members(url: &str, token: &str) -> Result<(String, Vec<MemberInfo>), String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        cluster_id: String,
        members: Vec<MemberInfo>,
    }
    let a: Answer = call(
        url,
        token,
        (Method::GET, "/cluster/members"),
        None,
        ADMIN_TIMEOUT,
    )
    .await
    .map_err(|(_, m)| m)?;
    Ok((a.cluster_id, a.members))
}

/// `DELETE /cluster/members/{id}` on `url`.
///
/// # Errors
/// Transport failures and refusals, as text.
pub async fn remove_member(url: &str, token: &str, id: u64) -> Result<(), String> {
    let path = format!("/cluster/members/{id}");
    call::<serde_json::Value>(url, token, (Method::DELETE, &path), None, ADMIN_TIMEOUT)
        .await
        .map(|_| ())
        .map_err(|(_, m)| m)
}

/// Keeps this member's record current and makes it a voter: until it is a voter whose recorded
/// address is `addr`, asks the leader (`POST /cluster/promote`, or the local store when this
/// member leads) every second. Ends when done or when `stop` is cancelled.
pub async fn promote_loop(store: Store, creds: Credentials, addr: String, stop: CancellationToken) {
    loop {
        let current = store.member(creds.id);
        let done = store.is_voter() && current.as_ref().is_some_and(|m| m.addr == addr);
        if done {
            return;
        }
        let result = match store.leader() {
            Some((id, _)) if id == creds.id => match current {
                Some(mut m) => {
                    m.addr = addr.clone();
                    store
                        .update_member(creds.id, m)
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err("this member is not in the membership".into()),
            },
            Some((_, leader)) if current.is_some() => {
                let req = PromoteRequest { addr: addr.clone() };
                post_json::<_, serde_json::Value>(
                    &creds,
                    &leader.addr,
                    "/cluster/promote",
                    &req,
                    Duration::from_secs(75),
                )
                .await
                .map(|_| ())
                .map_err(|(_, m)| m)
            }
            _ => Err("waiting for the leader to replicate the membership".into()),
        };
        match result {
            Ok(()) => tracing::info!(member = creds.id, "member record updated / promoted"),
            Err(e) => tracing::debug!(member = creds.id, "not a voter yet: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
