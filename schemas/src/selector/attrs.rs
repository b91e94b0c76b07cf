//! [`Selectable`]: the few values of an object that label and field selectors look at, extracted
//! once so that many selectors can be evaluated against one object without parsing it again.
//!
//! A watch fan-out evaluates every watcher's selectors against every change; parsing the change's
//! JSON once into a `Selectable` (a few short strings) instead of once per watcher is what keeps
//! the cost per change independent of the number of watchers (Kubernetes' watch cache likewise
//! computes each object's label and field sets once, `storage.AttrFunc`).

use super::field::{META_FIELDS, field_value, kind_fields};
use serde_json::Value;
use std::collections::BTreeMap;

/// The labels and the selectable field values (as Kubernetes presents them: see
/// [`super::FieldSelector::matches`]) of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectable {
    /// `metadata.labels` (string values only).
    pub labels: BTreeMap<String, String>,
    /// `(field, value)` for `metadata.name`, `metadata.namespace` and every field the kind
    /// supports in a field selector.
    pub fields: Vec<(&'static str, String)>,
}

impl Selectable {
    /// The selectable values of `obj`, an object of `kind` (e.g. `"Pod"`).
    pub fn of(kind: &str, obj: &Value) -> Selectable {
        let fields = META_FIELDS
            .iter()
            .chain(kind_fields(kind))
            .map(|f| (*f, field_value(obj, f)))
            .collect();
        Selectable {
            labels: crate::meta::labels(obj),
            fields,
        }
    }

    /// Parses `json` (an object of `kind`) and extracts its selectable values; `None` when it is
    /// not valid JSON.
    pub fn parse(kind: &str, json: &str) -> Option<Selectable> {
        serde_json::from_str::<Value>(json)
            .ok()
            .map(|v| Selectable::of(kind, &v))
    }

    /// The value of `field` (`""` for a field the kind does not support, as a missing field reads).
    pub fn field(&self, field: &str) -> &str {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}
