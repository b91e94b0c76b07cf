//! # mock_k8_schemas
//!
//! The leaf crate of mock_k8: the Kubernetes resource model as data, with no I/O. Everything here is a
//! pure function of its inputs, so the API server, the controllers and offline verifiers share one
//! definition of what an object is, how it is decoded, validated, patched and selected.
//!
//! # Layout
//! - [`resource`]: the table of served kinds (group, version, plural, short names, scope, subresources).
//! - [`meta`]: reading and writing `metadata` fields on JSON objects.
//! - [`status`]: Kubernetes `Status` error objects (`NotFound`, `Conflict`, `Invalid` with causes).
//! - [`quantity`]: exact parsing and canonical formatting of resource quantities (`500m`, `1536Mi`).
//! - [`selector`]: label and field selectors with Kubernetes' semantics.
//! - [`decode`]: request bodies (JSON or YAML) to typed-checked, normalized JSON, with strict field checks.
//! - [`validation`]: semantic validation (422 causes with field paths), including pod spec immutability.
//! - [`patch`]: JSON merge patch, JSON patch and strategic merge patch.
//! - [`schema`]: JSON Schemas (schemars, from k8s-openapi) and the OpenAPI v3 documents served to kubectl.
//! - [`table`]: `kubectl get` Table columns and rows per kind.
//! - [`watch`]: watch event types and their wire form.

pub mod decode;
pub mod meta;
pub mod patch;
pub mod quantity;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod status;
pub mod table;
pub mod validation;
pub mod watch;

pub use resource::ApiResource;
pub use status::{Status, StatusCause};
