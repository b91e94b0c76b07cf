//! Health endpoints, as kube-apiserver serves them: `/livez` and `/healthz` answer `ok` while the
//! process serves HTTP; `/readyz` answers `ok` only once the member has a leader and has caught
//! up (503 before).

use super::ApiState;
use super::respond;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;

/// `GET /livez` and `GET /healthz`: `ok`.
pub async fn livez() -> Response {
    respond::text(StatusCode::OK, "ok")
}

/// How long `/readyz` waits for the leader's read index before answering 503.
pub const READY_WAIT: Duration = Duration::from_secs(2);

/// `GET /readyz`: `ok` when this member is in the membership, has a leader that confirms its
/// leadership with a quorum, and has applied everything committed before the check (the read
/// barrier); 503 with the reason otherwise.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let store = &state.store;
    if store.member(store.node_id()).is_none() {
        return not_ready(
            "this member is not in the cluster membership (not added yet, or removed with \
             `mock_k8 members remove`)"
                .into(),
        );
    }
    match tokio::time::timeout(READY_WAIT, store.read_barrier()).await {
        Ok(Ok(())) => respond::text(StatusCode::OK, "ok"),
        Ok(Err(e)) => not_ready(e.to_string()),
        Err(_) => not_ready("the leader did not confirm the read index in time".into()),
    }
}

fn not_ready(reason: String) -> Response {
    let mut resp = axum::response::IntoResponse::into_response((
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store not ready: {reason}"),
    ));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
