//! The API's one error type: every failure is answered with a Kubernetes `Status` body and the HTTP
//! code it carries (Kubernetes API conventions, "Response Status Kind").
//!
//! Internal failures are logged with their details and answered with a generic 500 message, so no
//! internal detail leaks to clients.

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mock_k8_schemas::{ApiResource, Status};

/// An error answer: a boxed [`Status`] (boxed so `Result<_, ApiError>` stays small).
#[derive(Debug, Clone)]
pub struct ApiError(pub Box<Status>);

impl ApiError {
    /// The `Status` this error is answered with.
    pub fn status(&self) -> &Status {
        &self.0
    }

    /// The HTTP code of the answer.
    pub fn code(&self) -> u16 {
        self.0.code
    }

    /// 400 `BadRequest` with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::bad_request(message).into()
    }

    /// 404 `NotFound` for a path that names no served resource.
    pub fn path_not_found() -> Self {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .into()
    }

    /// 404 `NotFound` for a missing object of `resource` named `name`.
    pub fn not_found(resource: &ApiResource, name: &str) -> Self {
        Status::not_found(resource.group, resource.plural, name).into()
    }

    /// 405 `MethodNotAllowed`, as kube-apiserver answers a verb a path does not support.
    pub fn method_not_allowed(method: &str) -> Self {
        Status::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
        .into()
    }

    /// 415 `UnsupportedMediaType` for a PATCH content type that is not one of the four patch types.
    pub fn unsupported_patch_type(content_type: &str) -> Self {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, \
                 application/apply-patch+yaml"
            ),
        )
        .into()
    }

    /// 415 `UnsupportedMediaType` for a POST or PUT body that is neither JSON nor YAML.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: \
                 application/json, application/yaml"
            ),
        )
        .into()
    }

    /// 413 `RequestEntityTooLarge` for a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Status::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is too large: the limit is {limit} bytes"),
        )
        .into()
    }

    /// 504 `Timeout` for a request that ran longer than the server's request timeout.
    pub fn timeout(seconds: u64) -> Self {
        Status::new(
            504,
            "Timeout",
            format!("the request did not complete within {seconds}s"),
        )
        .into()
    }

    /// 500 `InternalError`: logs `context` and `detail` and answers a generic message.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(context, %detail, "internal error");
        Status::new(
            500,
            "InternalError",
            format!("an internal error occurred ({context})"),
        )
        .into()
    }

    /// Maps a store failure on the object `name` of `resource` to its Kubernetes Status:
    /// NotFound 404, AlreadyExists 409, Conflict 409, a missing namespace 404 naming the namespace,
    /// Expired 410, Unavailable 503 (logged).
    pub fn from_store(err: StoreError, resource: &ApiResource, name: &str) -> Self {
        match err {
            StoreError::NotFound => Self::not_found(resource, name),
            StoreError::AlreadyExists => {
                Status::already_exists(resource.group, resource.plural, name).into()
            }
            StoreError::Conflict => Status::conflict(resource.group, resource.plural, name).into(),
            StoreError::NamespaceNotFound(ns) => Status::not_found("", "namespaces", &ns).into(),
            StoreError::Expired { requested, oldest } => {
                Status::expired(format!("too old resource version: {requested} ({oldest})")).into()
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                let mut s = Status::new(
                    503,
                    "ServiceUnavailable",
                    format!("the store is unavailable: {detail}"),
                );
                s.details
                    .get_or_insert_with(Default::default)
                    .retry_after_seconds = Some(1);
                s.into()
            }
        }
    }
}

impl From<Status> for ApiError {
    fn from(s: Status) -> Self {
        ApiError(Box::new(s))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.0.details.as_ref().and_then(|d| d.retry_after_seconds);
        let mut resp = super::respond::json_value(code, &self.0.to_json());
        // Kubernetes sends the Status' retryAfterSeconds as a Retry-After header too.
        if let Some(seconds) = retry
            && let Ok(v) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_k8_schemas::resource::by_plural;

    #[test]
    fn from_store_should_map_each_failure_to_its_status() {
        let pods = by_plural("", "v1", "pods").expect("pods");
        assert_eq!(
            ApiError::from_store(StoreError::NotFound, pods, "a").code(),
            404
        );
        assert_eq!(
            ApiError::from_store(StoreError::AlreadyExists, pods, "a")
                .status()
                .reason,
            "AlreadyExists"
        );
        assert_eq!(
            ApiError::from_store(StoreError::Conflict, pods, "a")
                .status()
                .reason,
            "Conflict"
        );
        let ns = ApiError::from_store(StoreError::NamespaceNotFound("x".into()), pods, "a");
        assert_eq!(
            (ns.code(), ns.status().message.as_str()),
            (404, "namespaces \"x\" not found")
        );
        assert_eq!(
            ApiError::from_store(
                StoreError::Expired {
                    requested: 1,
                    oldest: 5
                },
                pods,
                "a"
            )
            .code(),
            410
        );
        assert_eq!(
            ApiError::from_store(StoreError::Unavailable("x".into()), pods, "a").code(),
            503
        );
    }

    #[test]
    fn internal_should_not_leak_details() {
        let e = ApiError::internal("encode", "secret detail");
        assert_eq!(e.code(), 500);
        assert!(!e.status().message.contains("secret"));
    }
}
