//! Request bodies to checked, normalized JSON.
//!
//! [`parse_body`] turns the bytes of a request into JSON according to its `Content-Type` (JSON, YAML, or
//! the patch media types), reporting duplicated JSON keys for strict field validation; [`normalize`]
//! then type-checks the object as its kind and puts quantities in canonical form, the way the
//! Kubernetes API server decodes a body into its typed structs.

mod json;
mod normalize;

pub use normalize::normalize;

use crate::Status;
use serde_json::Value;

/// A parsed request body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    /// The document (for duplicate keys in JSON, the last value wins here).
    pub value: Value,
    /// Paths of duplicated fields (`metadata.name`), for `fieldValidation=Strict|Warn`.
    pub duplicate_fields: Vec<String>,
}

/// The media types the API server accepts for bodies, in the order Kubernetes lists them.
pub const ACCEPTED_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
];

/// How a body is to be read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// `application/json` and the `+json` patch types: JSON only.
    Json,
    /// `application/yaml`, `application/apply-patch+yaml`: YAML (JSON is tried first, as a YAML subset).
    Yaml,
    /// No or an unknown content type: JSON, then YAML.
    Sniff,
    /// `application/vnd.kubernetes.protobuf`: refused with 415.
    Protobuf,
}

/// Classifies a `Content-Type` header value (parameters such as `charset` are ignored).
fn syntax(content_type: Option<&str>) -> Syntax {
    let Some(ct) = content_type else {
        return Syntax::Sniff;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/vnd.kubernetes.protobuf" => Syntax::Protobuf,
        "application/json" => Syntax::Json,
        "application/yaml"
        | "application/x-yaml"
        | "text/yaml"
        | "application/apply-patch+yaml" => Syntax::Yaml,
        e if e.ends_with("+json") => Syntax::Json,
        e if e.ends_with("+yaml") => Syntax::Yaml,
        e if e.contains("protobuf") => Syntax::Protobuf,
        _ => Syntax::Sniff,
    }
}

/// Parses a JSON or YAML request body.
///
/// `content_type` is the request's `Content-Type`: `application/json` and the `+json` patch types
/// are read as JSON; `application/yaml` and `application/apply-patch+yaml` as YAML (a single document;
/// a leading `---` and a trailing `...` are allowed; YAML 1.2 booleans, so `NO` stays a string); none
/// or an unknown type tries JSON, then YAML. Duplicated JSON keys are reported in
/// [`ParsedBody::duplicate_fields`]; duplicated YAML keys are an error.
///
/// # Errors
/// - 415 `UnsupportedMediaType` for protobuf (`application/vnd.kubernetes.protobuf`), naming JSON.
/// - 400 `BadRequest` [`Status`] for undecodable input, an empty body, a YAML body with several
///   documents or duplicated keys; the message is the parser's.
#[allow(
    clippy::result_large_err,
    reason = "the contract returns the Kubernetes Status as the error"
)]
pub fn parse_body(bytes: &[u8], content_type: Option<&str>) -> Result<ParsedBody, Status> {
    let mode = syntax(content_type);
    if mode == Syntax::Protobuf {
        return Err(Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}; protobuf is not supported, send JSON",
                ACCEPTED_MEDIA_TYPES.join(", ")
            ),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Status::bad_request("the request body is empty"));
    }
    let json_error = match json::parse(bytes) {
        Ok((value, duplicate_fields)) => {
            return Ok(ParsedBody {
                value,
                duplicate_fields,
            });
        }
        Err(e) => e,
    };
    if mode == Syntax::Json {
        return Err(Status::bad_request(format!(
            "error decoding JSON body: {json_error}"
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Status::bad_request(format!(
            "error decoding YAML body: the body is not UTF-8: {e}"
        ))
    })?;
    parse_yaml(text).map(|value| ParsedBody {
        value,
        duplicate_fields: Vec::new(),
    })
}

/// Parses exactly one YAML document into JSON.
#[allow(
    clippy::result_large_err,
    reason = "the contract returns the Kubernetes Status as the error"
)]
fn parse_yaml(text: &str) -> Result<Value, Status> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    // Reading every document gives a clear message for "---"-separated bodies.
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple_with_options(text, options).map_err(yaml_error)?;
    match docs.len() {
        0 => Err(Status::bad_request("the request body is empty")),
        1 => Ok(docs.into_iter().next().unwrap_or(Value::Null)),
        n => Err(Status::bad_request(format!(
            "error decoding YAML body: expected a single document, found {n}"
        ))),
    }
}

/// A saphyr error as a 400. Duplicated keys get Kubernetes' (go-yaml's) wording, which names the key
/// and its line: `yaml: unmarshal errors:\n  line 3: key "name" already set in map`.
fn yaml_error(e: serde_saphyr::Error) -> Status {
    let mut inner = &e;
    while let serde_saphyr::Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    if let serde_saphyr::Error::DuplicateMappingKey { key, location } = inner {
        let key = key.as_deref().unwrap_or("<complex key>");
        return Status::bad_request(format!(
            "error converting YAML to JSON: yaml: unmarshal errors:\n  line {}: key \"{key}\" already set in map",
            location.line()
        ));
    }
    Status::bad_request(format!("error decoding YAML body: {e}"))
}

#[cfg(test)]
mod tests;
