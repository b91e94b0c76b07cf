//! Health endpoints, as kube-apiserver serves them: `/livez` and `/healthz` answer `ok` while the
//! process serves HTTP; `/readyz` answers `ok` only once the store has a Raft leader (503 before).

use super::ApiState;
use super::respond;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// `GET /livez` and `GET /healthz`: `ok`.
pub async fn livez() -> Response {
    respond::text(StatusCode::OK, "ok")
}

/// `GET /readyz`: `ok` when the store has a leader and has applied its log, else 503.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let stats = state.store.stats();
    if stats.raft_leader.is_some() || stats.raft_state == "Leader" {
        respond::text(StatusCode::OK, "ok")
    } else {
        respond::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "store not ready: no Raft leader",
        )
    }
}
