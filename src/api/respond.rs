//! Building responses: every answer is `Content-Type: application/json` (kubectl rejects JSON
//! labelled otherwise), and `Warning` headers use the `299 - "<text>"` form of RFC 7234 §5.5 that
//! Kubernetes sends, with inner quotes escaped (kubectl silently drops a malformed one).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

/// The content type of every JSON answer.
pub const JSON: &str = "application/json";

/// A response with `code` and the JSON text `body`.
pub fn json_bytes(code: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

/// A response with `code` and `value` serialized as JSON.
pub fn json_value(code: StatusCode, value: &Value) -> Response {
    // Serializing a `Value` cannot fail (its map keys are strings).
    let body = serde_json::to_vec(value).unwrap_or_default();
    json_bytes(code, Bytes::from(body))
}

/// The bytes of a stored object's JSON, shared with the store's cache instead of copied.
pub fn shared_json(json: &Arc<str>) -> Bytes {
    Bytes::from_owner(SharedJson(Arc::clone(json)))
}

/// Adapter: `Bytes::from_owner` needs `AsRef<[u8]>`, which `Arc<str>` does not implement.
struct SharedJson(Arc<str>);

impl AsRef<[u8]> for SharedJson {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The value of one `Warning` header for `text`: `299 - "<text>"`, with `"` and `\` escaped.
pub fn warning_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 10);
    out.push_str("299 - \"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            // Header values cannot carry control characters.
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Appends one `Warning` header per entry of `warnings` to `resp`.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&warning_value(w)) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// A `text/plain` answer (`/healthz`, `/livez`, `/readyz`).
pub fn text(code: StatusCode, body: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_value_should_escape_inner_quotes() {
        assert_eq!(
            warning_value("unknown field \"spec.containerz\""),
            r#"299 - "unknown field \"spec.containerz\"""#
        );
    }

    #[test]
    fn json_bytes_should_label_the_body_as_json() {
        let r = json_bytes(StatusCode::CREATED, Bytes::from_static(b"{}"));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], JSON);
        let shared: Arc<str> = Arc::from("{\"a\":1}");
        assert_eq!(&shared_json(&shared)[..], b"{\"a\":1}");
    }
}
