//! Label and field selectors with Kubernetes' semantics.
//! OWNER: helper schemas-a.

use serde_json::Value;
use std::collections::BTreeMap;

/// A selector string that could not be parsed; `Display` is the message for a 400 BadRequest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A parsed label selector (AND of requirements).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    _todo: (),
}

impl LabelSelector {
    /// Parses `app=web,tier!=db,env in (a,b),!legacy` (the `labelSelector` query parameter).
    ///
    /// # Errors
    /// [`SelectorError`] on syntax errors or invalid label keys/values.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let _ = s;
        todo!("schemas-a")
    }

    /// Builds a selector from a Kubernetes `LabelSelector` object (`matchLabels`, `matchExpressions`).
    ///
    /// # Errors
    /// [`SelectorError`] on unknown operators or missing values.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let _ = v;
        todo!("schemas-a")
    }

    /// A selector that requires each `key=value` of `map` (a Service's `spec.selector`).
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        let _ = map;
        todo!("schemas-a")
    }

    /// `true` when `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let _ = labels;
        todo!("schemas-a")
    }

    /// `true` for the empty selector, which matches everything.
    pub fn is_empty(&self) -> bool {
        todo!("schemas-a")
    }
}

/// A parsed field selector (AND of `field=value` / `field!=value`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    _todo: (),
}

impl FieldSelector {
    /// Parses `metadata.name=web,status.phase!=Failed` (the `fieldSelector` query parameter).
    ///
    /// # Errors
    /// [`SelectorError`] on syntax errors.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let _ = s;
        todo!("schemas-a")
    }

    /// Checks that every field is supported for `kind`.
    ///
    /// # Errors
    /// [`SelectorError`] `field label not supported: <field>` otherwise.
    pub fn check_supported(&self, kind: &str) -> Result<(), SelectorError> {
        let _ = kind;
        todo!("schemas-a")
    }

    /// `true` when `obj` satisfies every requirement (a missing field reads as `""`).
    pub fn matches(&self, obj: &Value) -> bool {
        let _ = obj;
        todo!("schemas-a")
    }

    /// The value required by an `=`/`==` term on `field`, if any (lets a server narrow a scan).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        let _ = field;
        todo!("schemas-a")
    }

    /// `true` for the empty selector.
    pub fn is_empty(&self) -> bool {
        todo!("schemas-a")
    }
}
