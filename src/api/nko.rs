//! NKO over HTTP: admitting resource writes (identity claims checked before commit, 403 on
//! failure) and serving the transition records (`nko/SPEC.md` §10):
//! - `GET /nko/v1/keys`: this server's member key and the controller keys it trusts;
//! - `GET /nko/v1/records?from=R&limit=N`: records from revision R (default 1; N ≤ 1000, default
//!   500), each `{"revision", "record": hex, "object": JSON text or null}`, plus `next`;
//! - `GET /nko/v1/records/{revision}`: one record (the one behind an object's resourceVersion);
//! - `GET /nko/v1/checkpoint`: the latest signed checkpoint, hex (404 before the first write).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use mock_k8_nko::encode::hex;
use mock_k8_nko::record::Op;
use mock_k8_nko::request::RequestClaim;
use mock_k8_schemas::Status;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{ApiState, Ctx, respond};
use crate::nko::admission::{self, Admission, Write};

/// The most records one page returns.
pub const MAX_PAGE: usize = 1000;

fn forbidden(message: String) -> ApiError {
    Status::new(403, "Forbidden", message).into()
}

/// The admission of the write request `ctx` with `body`: a user request, or a checked identity
/// claim.
///
/// # Errors
/// 403 Forbidden when verification is enabled and the claim is malformed, badly signed or
/// outside the actor's authority.
pub fn admit(ctx: &Ctx, body: &[u8]) -> Result<Admission, ApiError> {
    let request = Request {
        method: ctx.method.as_str(),
        target: &ctx.target,
        headers: &ctx.headers,
        body,
    };
    let mut admission = admit_request(&ctx.state, &request, |parsed| target(ctx, parsed))?;
    if ctx.method.as_str() == "POST" && ctx.path.subresource.as_deref() == Some("binding") {
        manual_binding_proof(&mut admission, body);
    }
    Ok(admission)
}

/// A binding a user makes (not the scheduler) gets a feasibility-only proof, filled in by the
/// API server: the record says the binding was no scheduling decision (`nko/SPEC.md` §8.2).
pub fn manual_binding_proof(admission: &mut Admission, body: &[u8]) {
    if admission.actor_sig.is_some() {
        return;
    }
    let node = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.pointer("/target/name")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    admission.claim.proof =
        mock_k8_controllers::scheduler::proof::BindingFeasibilityProof::bytes_for(&node);
}

/// A write request as NKO admission sees it.
pub struct Request<'a> {
    /// Its method.
    pub method: &'a str,
    /// Its path and query as sent.
    pub target: &'a str,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its body bytes.
    pub body: &'a [u8],
}

/// [`admit`] for any write request; `write` names what it writes, given the parsed body.
///
/// # Errors
/// As [`admit`].
pub fn admit_request(
    state: &ApiState,
    req: &Request<'_>,
    write: impl for<'v> FnOnce(Option<&'v Value>) -> Write<'v>,
) -> Result<Admission, ApiError> {
    let policy = &state.nko;
    let get = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let claimed = RequestClaim::from_headers(get, req.method, req.target, req.body);
    let (claim, sig) = match claimed {
        Ok(None) => {
            return Ok(admission::user(
                req.method,
                req.target,
                req.body,
                policy.enforced,
            ));
        }
        Ok(Some(c)) => c,
        Err(e) if policy.enforced => return Err(forbidden(e.to_string())),
        Err(_) => return Ok(admission::user(req.method, req.target, req.body, false)),
    };
    if policy.enforced {
        let parsed: Option<Value> = serde_json::from_slice(req.body).ok();
        let write = write(parsed.as_ref());
        admission::check(policy, &state.store, &claim, &sig, &write).map_err(forbidden)?;
    }
    Ok(Admission {
        claim,
        actor_sig: Some(sig),
        enforced: policy.enforced,
    })
}

/// The storage key and op of a write request, and its body when that is the new object.
fn target<'a>(ctx: &Ctx, body: Option<&'a Value>) -> Write<'a> {
    let p = &ctx.path;
    let ns = p.namespace.as_deref().unwrap_or("default");
    let body_name = body
        .and_then(|b| b.pointer("/metadata/name"))
        .and_then(Value::as_str);
    let name = p.name.as_deref().or(body_name).unwrap_or("");
    let key = p.resource.key(ns, name);
    let (op, new_object) = match (ctx.method.as_str(), p.subresource.as_deref()) {
        ("POST", None) => (Op::Create, body),
        ("POST", Some(_)) => (Op::Update, None),
        ("PUT", None) => (Op::Update, body),
        ("DELETE", _) => (Op::Delete, None),
        _ => (Op::Update, None),
    };
    Write {
        key,
        op,
        body: new_object,
    }
}

/// `GET /nko/v1/keys`.
pub async fn keys(State(state): State<ApiState>) -> Response {
    let controllers: Vec<String> = state.nko.controllers.iter().map(|k| k.id()).collect();
    let doc = json!({
        "members": [state.store.member_key().id()],
        "controllers": controllers,
        "verificationEnabled": state.nko.enforced,
    });
    respond::json_value(StatusCode::OK, &doc)
}

/// Query of `GET /nko/v1/records`.
#[derive(Debug, Deserialize)]
pub struct RecordsQuery {
    /// First revision (default 1).
    pub from: Option<u64>,
    /// Page size (default 500, at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
}

fn item(rev: u64, record: &[u8], object: Option<&[u8]>) -> Value {
    json!({
        "revision": rev,
        "record": hex(record),
        "object": object.map(String::from_utf8_lossy),
    })
}

/// `GET /nko/v1/records`.
pub async fn records(State(state): State<ApiState>, Query(q): Query<RecordsQuery>) -> Response {
    let from = q.from.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(500).clamp(1, MAX_PAGE);
    match state.store.records(from, limit).await {
        Ok(page) => {
            let next = page.last().map(|(rev, _, _)| rev + 1);
            let items: Vec<Value> = page
                .iter()
                .map(|(rev, r, o)| item(*rev, r, o.as_deref()))
                .collect();
            let doc = json!({"items": items, "next": next, "revision": state.store.revision()});
            respond::json_value(StatusCode::OK, &doc)
        }
        Err(e) => axum::response::IntoResponse::into_response(ApiError::internal("records", e)),
    }
}

/// `GET /nko/v1/records/{revision}`.
pub async fn record(State(state): State<ApiState>, Path(rev): Path<String>) -> Response {
    use axum::response::IntoResponse;
    let Ok(rev) = rev.parse::<u64>() else {
        return ApiError::bad_request(format!("revision {rev:?} is not a number")).into_response();
    };
    match state.store.records(rev, 1).await {
        Ok(page) => match page.first() {
            Some((r, rec, o)) => respond::json_value(StatusCode::OK, &item(*r, rec, o.as_deref())),
            None => Status::new(404, "NotFound", format!("no record at revision {rev}"))
                .into_response_error(),
        },
        Err(e) => ApiError::internal("records", e).into_response(),
    }
}

/// `GET /nko/v1/checkpoint`.
pub async fn checkpoint(State(state): State<ApiState>) -> Response {
    use axum::response::IntoResponse;
    match state.store.checkpoint().await {
        Ok(Some(cp)) => respond::json_value(StatusCode::OK, &json!({"checkpoint": hex(&cp)})),
        Ok(None) => Status::new(404, "NotFound", "no checkpoint yet").into_response_error(),
        Err(e) => ApiError::internal("checkpoint", e).into_response(),
    }
}

trait IntoResponseError {
    fn into_response_error(self) -> Response;
}

impl IntoResponseError for Status {
    fn into_response_error(self) -> Response {
        axum::response::IntoResponse::into_response(ApiError::from(self))
    }
}
