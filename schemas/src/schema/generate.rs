//! Generating the checked-in JSON Schemas from the k8s-openapi types with schemars.
//!
//! The API server never generates at run time: it loads the files under `schemas/json/` (see
//! [`super`]). This module is what the drift test (and `UPDATE_SCHEMAS=1`) uses to regenerate them.

use crate::ApiResource;
use k8s_openapi::api::{apps, coordination, core, discovery};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The file (under `schemas/json/`) holding the shared `meta/v1` schemas: `Status`, `ListMeta`,
/// `DeleteOptions` and `Patch`, used by the OpenAPI documents.
pub const META_FILE: &str = "meta.v1.json";

/// The checked-in file name of `resource`'s schema: `<group-or-core>.<version>.<Kind>.json`.
pub fn file_name(resource: &ApiResource) -> String {
    let group = if resource.group.is_empty() {
        "core"
    } else {
        resource.group
    };
    format!("{group}.{}.{}.json", resource.version, resource.kind)
}

/// The JSON Schema (draft 2020-12, definitions under `$defs`) of `T`.
fn root_schema<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Generates `resource`'s JSON Schema from its k8s-openapi type, or `None` for a kind without one.
pub fn generate(resource: &ApiResource) -> Option<Value> {
    Some(match (resource.group, resource.kind) {
        ("", "Namespace") => root_schema::<core::v1::Namespace>(),
        ("", "Pod") => root_schema::<core::v1::Pod>(),
        ("", "Service") => root_schema::<core::v1::Service>(),
        ("", "Node") => root_schema::<core::v1::Node>(),
        ("", "Endpoints") => root_schema::<core::v1::Endpoints>(),
        ("", "Event") => root_schema::<core::v1::Event>(),
        ("coordination.k8s.io", "Lease") => root_schema::<coordination::v1::Lease>(),
        ("apps", "ReplicaSet") => root_schema::<apps::v1::ReplicaSet>(),
        ("apps", "Deployment") => root_schema::<apps::v1::Deployment>(),
        ("discovery.k8s.io", "EndpointSlice") => root_schema::<discovery::v1::EndpointSlice>(),
        _ => return None,
    })
}

/// Generates the shared `meta/v1` schemas as `{"$defs": {name: schema}}`.
pub fn generate_meta() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::DeleteOptions>();
    let mut defs = generator.take_definitions(true);
    defs.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".to_string(),
        serde_json::json!({
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object"
        }),
    );
    let mut root = Map::new();
    root.insert("$defs".to_string(), Value::Object(defs));
    Value::Object(root)
}

/// The checked-in text of a generated schema: pretty JSON with a final newline.
pub fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
