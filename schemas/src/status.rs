//! Kubernetes `Status` objects: the body of every error answer (and of some successes).
//!
//! Shape and reasons follow the Kubernetes API conventions ("Response Status Kind"): `kind: Status`,
//! `status: Failure`, a machine `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`,
//! `BadRequest`, `Expired`, …), the HTTP `code`, and for `Invalid` one cause per failing field path.

use serde::{Deserialize, Serialize};

/// One reason a request was invalid, naming the field path (`spec.containers[0].name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCause {
    /// Machine-readable cause, e.g. `FieldValueRequired`, `FieldValueInvalid`, `FieldValueForbidden`.
    pub reason: String,
    /// Human-readable description.
    pub message: String,
    /// The field path, in Kubernetes' dotted/indexed form.
    pub field: String,
}

/// Extra data about a failure: which object, and for `Invalid` the causes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetails {
    /// Object name, when one is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// API group of the object (empty for core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Resource plural or kind of the object (Kubernetes puts the plural here, e.g. `pods`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Object uid, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Field-level causes (for `Invalid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Seconds after which the client may retry (for retryable failures).
    #[serde(
        default,
        rename = "retryAfterSeconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_seconds: Option<u32>,
}

/// A Kubernetes `Status` (`apiVersion: v1`, `kind: Status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// HTTP status code, e.g. 404.
    pub code: u16,
    /// Machine-readable reason, e.g. `NotFound`; empty for success.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Object identity and field causes.
    pub details: Option<StatusDetails>,
}

impl Status {
    /// A failure with the given code, reason and message.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Status {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
        }
    }

    /// Attaches object identity (`name`, `group`, resource `kind` plural).
    pub fn with_object(mut self, group: &str, kind: &str, name: &str) -> Self {
        let d = self.details.get_or_insert_with(StatusDetails::default);
        d.name = Some(name.to_string());
        d.group = Some(group.to_string());
        d.kind = Some(kind.to_string());
        self
    }

    /// 404 `NotFound`: `pods "web" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Status::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_object(group, plural, name)
    }

    /// 409 `AlreadyExists`: `pods "web" already exists`.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Status::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_object(group, plural, name)
    }

    /// 409 `Conflict` for a stale `resourceVersion`, with Kubernetes' wording.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Status::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_object(group, plural, name)
    }

    /// 400 `BadRequest` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::new(400, "BadRequest", message)
    }

    /// 422 `Invalid`: `Pod "x" is invalid: spec.containers[0].name: Required value`, one cause each.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if summary.len() == 1 {
            summary[0].clone()
        } else {
            format!("[{}]", summary.join(", "))
        };
        let mut s = Status::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {joined}"),
        )
        .with_object(group, kind, name);
        if let Some(d) = s.details.as_mut() {
            d.causes = causes;
        }
        s
    }

    /// 410 `Expired`: a watch or list resumed from a resourceVersion older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        Status::new(410, "Expired", message)
    }

    /// The Kubernetes JSON form of this Status.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": if self.code < 400 { "Success" } else { "Failure" },
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = serde_json::to_value(d).unwrap_or_default();
        }
        v
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for Status {}

/// `pods` for core, `deployments.apps` for a group, as Kubernetes names resources in messages.
fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_should_list_every_cause_in_message_and_details() {
        let s = Status::invalid(
            "",
            "Pod",
            "test",
            vec![StatusCause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.containers[0].name".into(),
            }],
        );
        let j = s.to_json();
        assert_eq!(j["code"], 422);
        assert_eq!(
            j["message"],
            "Pod \"test\" is invalid: spec.containers[0].name: Required value"
        );
        assert_eq!(
            j["details"]["causes"][0]["field"],
            "spec.containers[0].name"
        );
        assert_eq!(
            Status::not_found("apps", "deployments", "d").message,
            "deployments.apps \"d\" not found"
        );
    }
}
