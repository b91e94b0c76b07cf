//! The OpenAPI v3 documents kubectl reads before create, apply and replace to learn that the server
//! validates fields itself (`fieldValidation` on each kind's PATCH operation). Both are generated
//! by `mock_k8_schemas::schema` from the same schemas the server validates against.

use super::error::ApiError;
use super::respond;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mock_k8_schemas::schema;

/// `GET /openapi/v3`: the list of group-version documents, each with a hashed URL.
pub async fn root() -> Response {
    respond::json_value(StatusCode::OK, &schema::openapi_v3_root())
}

/// `GET /openapi/v3/{api/v1 | apis/GROUP/VERSION}` (the `hash` query is ignored); 404 otherwise.
pub async fn document(Path(path): Path<String>) -> Response {
    match schema::openapi_v3_document(path.trim_matches('/')) {
        Some(doc) => respond::json_value(StatusCode::OK, &doc),
        None => ApiError::path_not_found().into_response(),
    }
}
