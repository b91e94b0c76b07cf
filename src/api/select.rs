//! The objects a list or watch request covers: the store key prefix of its scope (a namespace, or
//! the whole resource) and its label and field selectors, with Kubernetes' semantics.

use super::error::ApiError;
use super::query::Params;
use super::routes::ResourcePath;
use crate::store::StoredObject;
use mock_k8_schemas::selector::{FieldSelector, LabelSelector, Selectable};
use mock_k8_schemas::{ApiResource, meta};
use serde_json::Value;

/// What a list or watch selects.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The addressed kind.
    pub resource: &'static ApiResource,
    /// The store key prefix of the scope (`core/pods/` or `core/pods/default/`).
    pub prefix: String,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Selection {
    /// The selection of a collection path with the request's selectors. A `metadata.namespace=X`
    /// field selector on an all-namespaces path narrows the scan to that namespace.
    ///
    /// # Errors
    /// 400 BadRequest for unparsable selectors or a field selector the kind does not support.
    pub fn new(path: &ResourcePath, params: &Params) -> Result<Selection, ApiError> {
        let resource = path.resource;
        let labels = match params.label_selector.as_deref() {
            Some(s) => LabelSelector::parse(s)
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
            None => LabelSelector::default(),
        };
        let fields = match params.field_selector.as_deref() {
            Some(s) => {
                let f =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                f.check_supported(resource.kind)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                f
            }
            None => FieldSelector::default(),
        };
        let ns = path
            .namespace
            .as_deref()
            .or_else(|| fields.required_value("metadata.namespace"))
            .filter(|_| resource.namespaced);
        let prefix = match ns {
            Some(ns) => format!("{}{ns}/", resource.key_prefix()),
            None => resource.key_prefix(),
        };
        Ok(Selection {
            resource,
            prefix,
            labels,
            fields,
        })
    }

    /// `true` when there is nothing to filter on (every object in scope matches).
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// The name a `metadata.name=X` field selector pins, if any (lets a list read one key).
    pub fn pinned_name(&self) -> Option<&str> {
        self.fields.required_value("metadata.name")
    }

    /// `true` when `obj` satisfies both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches(&meta::labels(obj)))
            && (self.fields.is_empty() || self.fields.matches(obj))
    }

    /// `true` when an object with the extracted values `attrs` satisfies both selectors (the same
    /// answer as [`Selection::matches`] on the object, without parsing it again).
    pub fn matches_selectable(&self, attrs: &Selectable) -> bool {
        (self.labels.is_empty() || self.labels.matches(&attrs.labels))
            && (self.fields.is_empty() || self.fields.matches_selectable(attrs))
    }

    /// `true` when the stored object satisfies both selectors (parses it only when there is a
    /// selector). An unparsable stored object never matches a selector.
    pub fn matches_stored(&self, obj: &StoredObject) -> bool {
        if self.is_everything() {
            return true;
        }
        serde_json::from_str::<Value>(&obj.json)
            .map(|v| self.matches(&v))
            .unwrap_or(false)
    }
}
