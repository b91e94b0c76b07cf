//! OpenAPI v3 documents (`/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`) built from the kind
//! schemas, in the shape the Kubernetes API server publishes them.
//!
//! kubectl reads these before every create/apply/replace: it looks for a `patch` operation carrying the
//! kind's `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter, and if found
//! leaves field validation to the server (`fieldValidation=Strict`). `kubectl explain` reads the
//! component schemas.

use crate::ApiResource;
use serde_json::{Map, Value, json};

/// `info.version` of the documents: the Kubernetes release whose API shape is served.
pub const KUBERNETES_VERSION: &str = "v1.32.0";
/// Prefix of JSON Schema references (`#/$defs/X`).
const DEFS_PREFIX: &str = "#/$defs/";
/// Prefix of OpenAPI 3 references (`#/components/schemas/X`).
const COMPONENTS_PREFIX: &str = "#/components/schemas/";
/// Component names of the shared `meta/v1` schemas.
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The URL path of a group/version without the leading slash: `api/v1`, `apis/apps/v1`.
pub(crate) fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Converts one JSON Schema (2020-12, as schemars emits it) to an OpenAPI 3.0 schema object:
/// `#/$defs/X` → `#/components/schemas/X` (a `$ref` with siblings becomes `allOf: [{$ref}]`, as
/// Kubernetes writes it), `type: [T, "null"]` → `type: T, nullable: true`, `const` → `enum`,
/// and `$schema`/`$defs`/`title` dropped. Sub-schemas are converted structurally, so a property
/// named `type` or `$ref` is left alone.
pub(crate) fn to_openapi_schema(schema: &Value) -> Value {
    let Value::Object(src) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    let mut reference = None;
    for (key, value) in src {
        match key.as_str() {
            "$schema" | "$defs" | "definitions" | "title" => {}
            "$ref" => {
                let r = value.as_str().unwrap_or_default();
                reference = Some(match r.strip_prefix(DEFS_PREFIX) {
                    Some(name) => format!("{COMPONENTS_PREFIX}{name}"),
                    None => r.to_string(),
                });
            }
            "type" => match value {
                Value::Array(types) => {
                    let non_null: Vec<&Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .collect();
                    if non_null.len() == 1 {
                        out.insert("type".into(), non_null[0].clone());
                    }
                    if non_null.len() < types.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "const" => {
                out.insert("enum".into(), Value::Array(vec![value.clone()]));
            }
            "properties" | "patternProperties" => {
                let converted = value
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), to_openapi_schema(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), to_openapi_schema(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let converted = value
                    .as_array()
                    .map(|a| a.iter().map(to_openapi_schema).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(converted));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(r) = reference {
        if out.is_empty() {
            out.insert("$ref".into(), Value::String(r));
        } else {
            let mut all_of = out
                .remove("allOf")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            all_of.insert(0, json!({"$ref": r}));
            out.insert("allOf".into(), Value::Array(all_of));
        }
    }
    Value::Object(out)
}

/// `{"$ref": "#/components/schemas/<name>"}`.
fn component_ref(name: &str) -> Value {
    json!({"$ref": format!("{COMPONENTS_PREFIX}{name}")})
}

/// `x-kubernetes-group-version-kind` as operations carry it.
fn gvk(r: &ApiResource, kind: &str) -> Value {
    json!({"group": r.group, "version": r.version, "kind": kind})
}

/// A query parameter.
fn query(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty}, "uniqueItems": true})
}

/// A required path parameter.
fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string"}, "uniqueItems": true})
}

/// The query parameters of writes (post, put, patch): `dryRun`, `fieldManager`, `fieldValidation`.
fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            "string",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict",
            "string",
        ),
    ]
}

/// The query parameters of list/watch.
fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
            "boolean",
        ),
        query(
            "continue",
            "The continue option should be set when retrieving more results from the server.",
            "string",
        ),
        query(
            "fieldSelector",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
            "string",
        ),
        query(
            "labelSelector",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
            "string",
        ),
        query(
            "limit",
            "limit is a maximum number of responses to return for a list call.",
            "integer",
        ),
        query(
            "resourceVersion",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
            "string",
        ),
        query(
            "resourceVersionMatch",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
            "string",
        ),
        query(
            "sendInitialEvents",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
            "boolean",
        ),
        query(
            "timeoutSeconds",
            "Timeout for the list/watch call.",
            "integer",
        ),
        query(
            "watch",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
            "boolean",
        ),
    ]
}

/// Responses with the given codes, each returning `schema` as JSON or YAML.
fn responses(codes: &[(&str, &str)], schema: &Value) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert(
            (*code).to_string(),
            json!({"description": description, "content": {"application/json": {"schema": schema}, "application/yaml": {"schema": schema}}}),
        );
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

/// `core` for the legacy group, else the group's first label (`apps`, `coordination`).
fn group_name(r: &ApiResource) -> &str {
    if r.group.is_empty() {
        "core"
    } else {
        r.group.split('.').next().unwrap_or("")
    }
}

/// One operation of resource `r`: `action` is its `x-kubernetes-action`, `request_body` is left out
/// when `None`.
fn operation(
    r: &ApiResource,
    action: &str,
    operation_id: String,
    description: String,
    parameters: Vec<Value>,
    request_body: Option<Value>,
    responses: Value,
) -> Value {
    let group = group_name(r);
    let mut op = json!({
        "tags": [format!("{group}_{}", r.version)],
        "description": description,
        "operationId": operation_id,
        "parameters": parameters,
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(r, r.kind),
    });
    if let Some(body) = request_body {
        op["requestBody"] = body;
    }
    op
}

/// `CoreV1`, `AppsV1`, `CoordinationV1`: the operation-id infix of a group/version.
fn op_infix(r: &ApiResource) -> String {
    let group = group_name(r);
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    format!("{}{}", cap(group), cap(r.version))
}

/// The paths of one resource: collection (list, create), item (read, replace, delete, patch), the
/// all-namespaces list for namespaced kinds, and the `status` subresource when served.
fn resource_paths(r: &ApiResource, kind_schema: &str, paths: &mut Map<String, Value>) {
    let prefix = format!("/{}", group_version_path(r.group, r.version));
    let infix = op_infix(r);
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let kind = r.kind;
    let item_ref = component_ref(kind_schema);
    let list_ref = component_ref(&format!("{kind_schema}List"));
    let collection = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let pretty = || {
        query(
            "pretty",
            "If 'true', then the output is pretty printed.",
            "string",
        )
    };
    let mut common = vec![pretty()];
    if r.namespaced {
        common.insert(
            0,
            path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ),
        );
    }
    let body = |schema: &Value| json!({"content": {"*/*": {"schema": schema}}, "required": true});
    let patch_body = json!({"content": {
        "application/apply-patch+yaml": {"schema": component_ref(PATCH)},
        "application/json-patch+json": {"schema": component_ref(PATCH)},
        "application/merge-patch+json": {"schema": component_ref(PATCH)},
        "application/strategic-merge-patch+json": {"schema": component_ref(PATCH)},
    }, "required": true});
    let patch_params = || {
        let mut p = write_params();
        p.push(query("force", "Force is going to \"force\" Apply requests. It must be unset for non-apply patch requests.", "boolean"));
        p
    };

    const OK: &[(&str, &str)] = &[("200", "OK")];
    const OK_CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
    let list = |id| {
        let what = format!("list or watch objects of kind {kind}");
        operation(
            r,
            "list",
            id,
            what,
            list_params(),
            None,
            responses(OK, &list_ref),
        )
    };
    // read, replace and patch of the object (`sub` "") or of its status (`sub` "Status").
    let read_replace_patch = |sub: &str, what: &str| {
        let op = |action, verb: &str, desc: &str, (params, body), codes| {
            let id = format!("{verb}{infix}{scope}{kind}{sub}");
            let ok = responses(codes, &item_ref);
            operation(r, action, id, format!("{desc} {what}"), params, body, ok)
        };
        let write = (write_params(), Some(body(&item_ref)));
        let patch = (patch_params(), Some(patch_body.clone()));
        [
            op("get", "read", "read", (vec![], None), OK),
            op("put", "replace", "replace", write, OK_CREATED),
            op("patch", "patch", "partially update", patch, OK_CREATED),
        ]
    };

    let create = operation(
        r,
        "post",
        format!("create{infix}{scope}{kind}"),
        format!("create a {kind}"),
        write_params(),
        Some(body(&item_ref)),
        responses(
            &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
            &item_ref,
        ),
    );
    paths.insert(
        collection.clone(),
        json!({"parameters": common.clone(), "get": list(format!("list{infix}{scope}{kind}")), "post": create}),
    );

    let mut item_common = common.clone();
    item_common.insert(0, path_param("name", &format!("name of the {kind}")));
    let [read, replace, patch] = read_replace_patch("", &format!("the specified {kind}"));
    let delete_params = vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
            "string",
        ),
        query(
            "gracePeriodSeconds",
            "The duration in seconds before the object should be deleted.",
            "integer",
        ),
        query(
            "propagationPolicy",
            "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
            "string",
        ),
    ];
    let delete = operation(
        r,
        "delete",
        format!("delete{infix}{scope}{kind}"),
        format!("delete a {kind}"),
        delete_params,
        Some(json!({"content": {"*/*": {"schema": component_ref(DELETE_OPTIONS)}}})),
        responses(
            &[("200", "OK"), ("202", "Accepted")],
            &component_ref(STATUS),
        ),
    );
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({"parameters": item_common.clone(), "get": read, "put": replace, "delete": delete, "patch": patch}),
    );

    if r.subresources.contains(&"status") {
        let [read, replace, patch] =
            read_replace_patch("Status", &format!("status of the specified {kind}"));
        paths.insert(
            format!("{collection}/{{name}}/status"),
            json!({"parameters": item_common, "get": read, "put": replace, "patch": patch}),
        );
    }
    if r.namespaced {
        let all = list(format!("list{infix}{kind}ForAllNamespaces"));
        paths.insert(
            format!("{prefix}/{}", r.plural),
            json!({"parameters": [pretty()], "get": all}),
        );
    }
}

/// The hand-built `<Kind>List` component (Kubernetes' list types are generic over their items).
fn list_component(r: &ApiResource, kind_schema: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}.", r.kind, r.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("List of {}.", r.plural), "type": "array", "items": component_ref(kind_schema)},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"allOf": [component_ref(LIST_META)], "description": "Standard list metadata."}
        },
        "x-kubernetes-group-version-kind": [gvk(r, &r.list_kind())]
    })
}

/// Builds the OpenAPI 3.0 document of one group/version from its resources' JSON Schemas
/// (`schemas[i]` belongs to `resources[i]`) and the shared `meta/v1` definitions.
pub(crate) fn build_document(
    resources: &[&ApiResource],
    schemas: &[&Value],
    meta: &Value,
) -> Value {
    let mut components = Map::new();
    let mut paths = Map::new();
    for (name, def) in meta
        .get("$defs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        components.insert(name.clone(), to_openapi_schema(def));
    }
    for (r, schema) in resources.iter().zip(schemas) {
        let name = schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}.{}", r.group, r.kind));
        for (def_name, def) in schema
            .get("$defs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            components
                .entry(def_name.clone())
                .or_insert_with(|| to_openapi_schema(def));
        }
        let mut root = to_openapi_schema(schema);
        root["x-kubernetes-group-version-kind"] = json!([gvk(r, r.kind)]);
        components.insert(name.clone(), root);
        components.insert(format!("{name}List"), list_component(r, &name));
        resource_paths(r, &name, &mut paths);
    }
    super::patch_meta::annotate(&mut components);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": components},
    })
}

/// A stable 64-bit FNV-1a hash of `bytes` as 16 upper-case hex digits (the `?hash=` of
/// `/openapi/v3`; kubectl caches documents by it, so it must change whenever a document does).
pub(crate) fn fnv1a_hex(bytes: &[u8]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let h = bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    format!("{h:016X}")
}
