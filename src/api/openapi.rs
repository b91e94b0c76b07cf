//! The OpenAPI v3 documents kubectl reads before create, apply and replace to learn that the server
//! validates fields itself (`fieldValidation` on each kind's PATCH operation). Both are generated
//! by `mock_k8_schemas::schema` from the same schemas the server validates against. `/openapi/v2`
//! is a schema-less stub (see [`v2`]).

use super::error::ApiError;
use super::respond;
use axum::body::Body;
use axum::extract::Path;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mock_k8_schemas::schema;
use serde_json::json;

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

/// The content type of the protobuf answer. kubectl asks for
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, but Go's `mime.ParseMediaType`
/// rejects the `@` in an answer's Content-Type ("unexpected content after media subtype").
const V2_PROTOBUF: &str = "application/octet-stream";

/// The title and version the OpenAPI v2 stub reports.
const V2_TITLE: &str = "mock_k8";
const V2_VERSION: &str = "v1.32.0";

/// `GET /openapi/v2`: a schema-less OpenAPI v2 document (`swagger`, `info`, no definitions).
///
/// kubectl validates `kind: List` files client-side, whatever the server supports: it fetches the
/// v2 document as protobuf (gnostic's `openapi_v2.Document`) and validates each item against its
/// definition, skipping kinds the document does not define. A 404 there fails `kubectl apply -f`
/// of a List; this stub makes it pass, and the items are then validated by this server (they are
/// sent with `fieldValidation=Strict`). Client-side apply also reads v2 for patch metadata and,
/// finding no definition, uses kubectl's built-in types, as after a 404.
pub async fn v2(headers: HeaderMap) -> Response {
    let wants_protobuf = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("protobuf"));
    if !wants_protobuf {
        let doc = json!({"swagger": "2.0", "info": {"title": V2_TITLE, "version": V2_VERSION}, "paths": {}});
        return respond::json_value(StatusCode::OK, &doc);
    }
    let mut resp = Response::new(Body::from(v2_protobuf()));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(V2_PROTOBUF));
    resp
}

/// The stub as a protobuf `openapi_v2.Document`: field 1 `swagger` = "2.0", field 2 `info` =
/// `Info { title (1), version (2) }`. Every field is a length-delimited string or message (wire
/// type 2), and every length here is under 128, so each fits one varint byte.
fn v2_protobuf() -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
        out.push((number << 3) | 2);
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    let mut info = Vec::new();
    field(&mut info, 1, V2_TITLE.as_bytes());
    field(&mut info, 2, V2_VERSION.as_bytes());
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_protobuf_should_encode_swagger_and_info() {
        let b = v2_protobuf();
        assert_eq!(&b[..5], &[0x0a, 3, b'2', b'.', b'0']);
        assert_eq!((b[5], b[6] as usize), (0x12, b.len() - 7));
        assert_eq!(&b[7..9], &[0x0a, V2_TITLE.len() as u8]);
    }
}
