//! Label and field selectors with Kubernetes' semantics.
//! OWNER: helper schemas-a.
//!
//! - [`LabelSelector`]: the `labelSelector` query parameter (`k8s.io/apimachinery/pkg/labels.Parse`) and the
//!   `LabelSelector` object of workloads (`matchLabels` / `matchExpressions`).
//! - [`FieldSelector`]: the `fieldSelector` query parameter (`k8s.io/apimachinery/pkg/fields.ParseSelector`)
//!   and which fields each kind lets a client select on.

mod attrs;
mod field;
mod label;
mod parse;

pub use attrs::Selectable;
pub use field::FieldSelector;
pub use label::{LabelSelector, Operator, Requirement};

/// A selector string that could not be parsed; `Display` is the message for a 400 BadRequest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);
