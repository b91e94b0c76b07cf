//! What the server does to objects before they are stored: decoding request bodies with field
//! validation, placing objects in the URL's namespace, and setting or preserving the server-owned
//! fields (`uid`, `creationTimestamp`, `generation`, `resourceVersion`), as Kubernetes' generic
//! registry does (`BeforeCreate`, `BeforeUpdate`) and its API conventions describe.

use super::error::ApiError;
use super::query::FieldValidation;
use mock_k8_schemas::{ApiResource, Status, StatusCause, decode, meta, schema};
use serde_json::{Map, Value, json};

/// The metadata fields the server owns: kept from the stored object on every update.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The alphabet Kubernetes uses for random name suffixes (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A decoded request body and the warnings to send with the answer.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The body, with `apiVersion` and `kind` set and, unless rejected, unknown fields removed.
    pub value: Value,
    /// `Warning` texts (for `fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The main resource: everything but `status` on kinds with a status subresource.
    Main,
    /// The `status` subresource: only `status` changes.
    Status,
}

/// Checks the `Content-Type` of a POST or PUT body: none (the body is sniffed: JSON, then YAML),
/// JSON, YAML, or protobuf (which [`decode::parse_body`] answers with its own 415).
///
/// # Errors
/// 415 UnsupportedMediaType for any other media type (`text/plain`, form data, patch types).
pub fn check_media_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" | "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(()),
        e if e.contains("protobuf") => Ok(()),
        _ => Err(ApiError::unsupported_media_type(ct)),
    }
}

/// Decodes a create/update body for `resource`: parses JSON or YAML (`parse_body`, which answers
/// 415 for protobuf), checks `apiVersion`/`kind`, then applies `mode` to unknown and duplicate fields.
///
/// # Errors
/// 400 BadRequest for undecodable bodies, a non-object body, a wrong `apiVersion`/`kind`, or (with
/// `Strict`) unknown or duplicate fields: `Pod in version "v1" cannot be handled as a Pod: strict
/// decoding error: unknown field "spec.containerz"`; 415 for protobuf bodies and media types
/// other than JSON and YAML ([`check_media_type`]).
pub fn decode_body(
    resource: &ApiResource,
    bytes: &[u8],
    content_type: Option<&str>,
    mode: FieldValidation,
) -> Result<Decoded, ApiError> {
    check_media_type(content_type)?;
    let parsed = decode::parse_body(bytes, content_type)?;
    let mut value = parsed.value;
    check_kind(resource, &mut value)?;
    let warnings = field_check(resource, &mut value, &parsed.duplicate_fields, mode)?;
    Ok(Decoded { value, warnings })
}

/// Requires `obj` to be a JSON object whose `apiVersion` and `kind`, when present, are
/// `resource`'s, and sets both.
///
/// # Errors
/// 400 BadRequest otherwise.
pub fn check_kind(resource: &ApiResource, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body is not a JSON object",
            resource.kind, resource.version, resource.kind
        )));
    };
    let expected = resource.api_version();
    if let Some(v) = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty() && *v != expected)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({expected})"
        )));
    }
    if let Some(k) = map
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && *k != resource.kind)
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    map.insert("apiVersion".into(), Value::String(expected));
    map.insert("kind".into(), Value::String(resource.kind.to_string()));
    Ok(())
}

/// Applies a `fieldValidation` mode to `obj` (Kubernetes API concepts, "Field validation"):
/// `Strict` rejects unknown and duplicate fields, `Warn` drops unknown fields and returns one
/// warning per field, `Ignore` drops them silently.
///
/// # Errors
/// 400 BadRequest under `Strict`, naming every field.
pub fn field_check(
    resource: &ApiResource,
    obj: &mut Value,
    duplicates: &[String],
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let unknown = if mode == FieldValidation::Ignore {
        Vec::new()
    } else {
        schema::unknown_fields(resource, obj)
    };
    let problems: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .chain(
            duplicates
                .iter()
                .map(|f| format!("duplicate field \"{f}\"")),
        )
        .collect();
    match mode {
        FieldValidation::Strict if !problems.is_empty() => Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
            problems.join(", "),
            kind = resource.kind,
            v = resource.version
        ))),
        FieldValidation::Ignore => {
            schema::prune_unknown(resource, obj);
            Ok(Vec::new())
        }
        _ => {
            if !unknown.is_empty() {
                schema::prune_unknown(resource, obj);
            }
            Ok(problems)
        }
    }
}

/// Puts `obj` in the request's namespace: for a namespaced kind, a body without a namespace takes
/// `url_ns` (or `default` on the seed's namespace-less paths); for a cluster-scoped kind the
/// namespace is removed.
///
/// # Errors
/// 400 BadRequest when the body's namespace differs from the URL's (kube-apiserver's wording).
pub fn place_namespace(
    resource: &ApiResource,
    obj: &mut Value,
    url_ns: Option<&str>,
) -> Result<(), ApiError> {
    if !resource.namespaced {
        meta::remove(obj, "namespace");
        return Ok(());
    }
    let body_ns = meta::namespace(obj).to_string();
    match (body_ns.is_empty(), url_ns) {
        (true, ns) => meta::set(obj, "namespace", json!(ns.unwrap_or("default"))),
        (false, Some(ns)) if ns != body_ns => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Checks that an update keeps the object's identity: `new`'s `metadata.name` and, for a
/// namespaced kind, `metadata.namespace` (when set) must be the URL's `name` and `namespace`, and
/// its `metadata.uid` (when set) the stored object `old`'s.
///
/// # Errors
/// - 400 BadRequest for another name or namespace (kube-apiserver's wording, as for PUT).
/// - 422 Invalid `metadata.uid: field is immutable` for another uid.
pub fn check_identity(
    resource: &ApiResource,
    old: &Value,
    new: &Value,
    name: &str,
    namespace: &str,
) -> Result<(), ApiError> {
    let new_name = meta::name(new);
    if !new_name.is_empty() && new_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({new_name}) does not match the name on the URL ({name})"
        )));
    }
    let new_ns = meta::namespace(new);
    if resource.namespaced && !new_ns.is_empty() && new_ns != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let new_uid = meta::str_field(new, "uid").unwrap_or("");
    let old_uid = meta::str_field(old, "uid").unwrap_or("");
    if !new_uid.is_empty() && new_uid != old_uid {
        return Err(Status::invalid(
            resource.group,
            resource.kind,
            name,
            vec![StatusCause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: \"{new_uid}\": field is immutable"),
                field: "metadata.uid".into(),
            }],
        )
        .into());
    }
    Ok(())
}

/// Sets the server-owned fields of an object about to be created: a random `uid`,
/// `creationTimestamp` (now), `generation: 1`, a name from `generateName`, no `resourceVersion`;
/// and the status Kubernetes' strategies give new objects (Pod: `phase: Pending`; Namespace:
/// `phase: Active`; Service, Deployment, ReplicaSet: empty). Puts `apiVersion`, `kind`,
/// `metadata` first.
///
/// # Errors
/// 500 when the system random source fails.
pub fn prepare_create(resource: &ApiResource, obj: &mut Value) -> Result<(), ApiError> {
    generate_name(obj)?;
    let md = meta::metadata_mut(obj);
    md.insert("uid".into(), json!(new_uid()?));
    md.insert("creationTimestamp".into(), json!(now_rfc3339()));
    md.insert("generation".into(), json!(1));
    for f in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        md.remove(f);
    }
    let status = match resource.kind {
        "Pod" => Some(json!({"phase": "Pending"})),
        "Namespace" => Some(json!({"phase": "Active"})),
        "Service" | "Deployment" | "ReplicaSet" => Some(json!({})),
        _ => None,
    };
    if let (Some(status), Some(map)) = (status, obj.as_object_mut()) {
        map.insert("status".into(), status);
    }
    *obj = kind_first(std::mem::take(obj));
    Ok(())
}

/// When `metadata.name` is empty and `metadata.generateName` is set, sets the name to
/// `generateName` plus 5 random characters (Kubernetes' `SimpleNameGenerator`).
///
/// # Errors
/// 500 when the system random source fails.
pub fn generate_name(obj: &mut Value) -> Result<bool, ApiError> {
    let base = meta::str_field(obj, "generateName")
        .unwrap_or("")
        .to_string();
    if !meta::name(obj).is_empty() || base.is_empty() {
        return Ok(false);
    }
    meta::set(obj, "name", json!(format!("{base}{}", random_suffix(5)?)));
    Ok(true)
}

/// Builds what an update stores from the stored object `old` and the requested `new` object:
/// for [`View::Status`], `old` with `new`'s status; for [`View::Main`], `new` with `old`'s status
/// when the kind has a status subresource. Either way the name, namespace, kind and server-owned
/// metadata come from `old` and `resourceVersion` is removed (the store sets it).
pub fn merge_update(resource: &ApiResource, view: View, old: &Value, new: Value) -> Value {
    let mut out = match view {
        View::Status => {
            let mut o = old.clone();
            set_or_remove(&mut o, "status", new.get("status").cloned());
            o
        }
        View::Main => {
            let mut n = new;
            if resource.subresources.contains(&"status") {
                set_or_remove(&mut n, "status", old.get("status").cloned());
            }
            if resource.kind == "Service" {
                super::service::keep_allocated(old, &mut n);
            }
            n
        }
    };
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".into(), json!(resource.api_version()));
        map.insert("kind".into(), json!(resource.kind));
    }
    let old_md = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let md = meta::metadata_mut(&mut out);
    for f in SERVER_METADATA.iter().chain(&["name", "namespace"]) {
        match old_md.get(*f) {
            Some(v) => md.insert((*f).to_string(), v.clone()),
            None => md.remove(*f),
        };
    }
    md.remove("resourceVersion");
    kind_first(out)
}

/// Bumps `metadata.generation` of `new` when its `spec` differs from `old`'s (Kubernetes bumps the
/// generation on spec changes only).
pub fn bump_generation(old: &Value, new: &mut Value) {
    let old_gen = old
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let next = if old.get("spec") != new.get("spec") {
        old_gen + 1
    } else {
        old_gen
    };
    meta::set(new, "generation", json!(next));
}

/// `true` when `a` and `b` are equal apart from `metadata.resourceVersion`: such an update changes
/// nothing and is not written (no new revision, no watch event).
pub fn same_object(a: &Value, b: &Value) -> bool {
    strip_rv(a) == strip_rv(b)
}

fn strip_rv(v: &Value) -> Value {
    let mut v = v.clone();
    meta::remove(&mut v, "resourceVersion");
    v
}

/// `obj` with `apiVersion`, `kind` and `metadata` as its first keys (as Kubernetes prints objects).
pub fn kind_first(obj: Value) -> Value {
    let Value::Object(mut map) = obj else {
        return obj;
    };
    let mut out = Map::with_capacity(map.len());
    for k in ["apiVersion", "kind", "metadata"] {
        if let Some(v) = map.shift_remove(k) {
            out.insert(k.to_string(), v);
        }
    }
    out.extend(map);
    Value::Object(out)
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => map.insert(field.to_string(), v),
            None => map.remove(field),
        };
    }
}

/// The current time as an RFC 3339 UTC timestamp with second precision (`2026-11-29T09:31:35Z`),
/// the form of Kubernetes' `metav1.Time`.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The current time in whole seconds since the Unix epoch.
pub fn now_unix_seconds() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A random (version 4) UUID in its 36-character text form.
///
/// # Errors
/// 500 when the system random source fails.
pub fn new_uid() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal("uid", e))?;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    // One hex pass and one buffer (formatting each byte was 2% of the server's CPU per create).
    let hex = mock_k8_nko::encode::hex(&b);
    let mut uid = String::with_capacity(36);
    for (i, part) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            uid.push('-');
        }
        uid.push_str(&hex[part]);
    }
    Ok(uid)
}

/// `n` random characters from Kubernetes' name-suffix alphabet.
///
/// # Errors
/// 500 when the system random source fails.
pub fn random_suffix(n: usize) -> Result<String, ApiError> {
    let mut out = String::with_capacity(n);
    let limit = 256 - (256 % SUFFIX_ALPHABET.len()); // rejection sampling: no modulo bias
    while out.len() < n {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| ApiError::internal("name suffix", e))?;
        for x in b.iter().map(|x| *x as usize).filter(|x| *x < limit) {
            if out.len() < n {
                out.push(SUFFIX_ALPHABET[x % SUFFIX_ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_k8_schemas::resource::by_plural;

    fn pods() -> &'static ApiResource {
        by_plural("", "v1", "pods").expect("pods")
    }

    #[test]
    fn new_uid_should_be_a_version_4_uuid() {
        let u = new_uid().expect("uid");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, new_uid().expect("uid"));
    }

    #[test]
    fn generate_name_should_append_five_characters() {
        let mut o = json!({"metadata": {"generateName": "testing-"}});
        assert!(generate_name(&mut o).expect("ok"));
        let name = meta::name(&o);
        assert_eq!(name.len(), 13);
        assert!(name[8..].bytes().all(|c| SUFFIX_ALPHABET.contains(&c)));
        let mut named = json!({"metadata": {"name": "x", "generateName": "testing-"}});
        assert!(!generate_name(&mut named).expect("ok"));
    }

    #[test]
    fn place_namespace_should_fill_from_url_and_reject_mismatch() {
        let mut o = json!({"metadata": {"name": "a"}});
        place_namespace(pods(), &mut o, Some("ns1")).expect("ok");
        assert_eq!(meta::namespace(&o), "ns1");
        let mut seed = json!({"metadata": {"name": "a"}});
        place_namespace(pods(), &mut seed, None).expect("ok");
        assert_eq!(meta::namespace(&seed), "default");
        let err = place_namespace(pods(), &mut o, Some("other")).expect_err("mismatch");
        assert_eq!(err.code(), 400);
        let nodes = by_plural("", "v1", "nodes").expect("nodes");
        let mut n = json!({"metadata": {"name": "n1", "namespace": "x"}});
        place_namespace(nodes, &mut n, None).expect("ok");
        assert_eq!(meta::str_field(&n, "namespace"), None);
    }

    #[test]
    fn prepare_create_should_set_server_fields_and_reset_pod_status() {
        let mut o = json!({"spec": {}, "status": {"phase": "Running"}, "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "resourceVersion": "9"}});
        prepare_create(pods(), &mut o).expect("ok");
        assert_eq!(o["metadata"]["generation"], 1);
        assert!(o["metadata"]["uid"].is_string() && o["metadata"]["creationTimestamp"].is_string());
        assert_eq!(meta::str_field(&o, "resourceVersion"), None);
        assert_eq!(o["status"], json!({"phase": "Pending"}));
        let keys: Vec<&String> = o.as_object().expect("object").keys().collect();
        assert_eq!(keys[..3], ["apiVersion", "kind", "metadata"]);
    }

    #[test]
    fn merge_update_should_keep_server_fields_and_status() {
        let old = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "d", "uid": "u1", "resourceVersion": "5", "generation": 2, "creationTimestamp": "t"}, "spec": {"x": 1}, "status": {"phase": "Running"}});
        let new = json!({"metadata": {"name": "a", "uid": "forged", "labels": {"l": "1"}, "resourceVersion": "5"}, "spec": {"x": 2}, "status": {"phase": "Failed"}});
        let main = merge_update(pods(), View::Main, &old, new.clone());
        assert_eq!(
            (
                main["metadata"]["uid"].clone(),
                main["status"]["phase"].clone()
            ),
            (json!("u1"), json!("Running"))
        );
        assert_eq!(main["metadata"]["labels"]["l"], "1");
        assert_eq!(main["metadata"]["namespace"], "d");
        assert_eq!(meta::str_field(&main, "resourceVersion"), None);
        let status = merge_update(pods(), View::Status, &old, new);
        assert_eq!(
            (
                status["spec"]["x"].clone(),
                status["status"]["phase"].clone()
            ),
            (json!(1), json!("Failed"))
        );
        let mut bumped = main.clone();
        bump_generation(&old, &mut bumped);
        assert_eq!(bumped["metadata"]["generation"], 3);
        let mut same = status.clone();
        bump_generation(&old, &mut same);
        assert_eq!(same["metadata"]["generation"], 2);
    }

    #[test]
    fn check_kind_should_reject_another_kind_and_fill_missing() {
        let mut o = json!({"metadata": {}});
        check_kind(pods(), &mut o).expect("ok");
        assert_eq!(
            (o["kind"].clone(), o["apiVersion"].clone()),
            (json!("Pod"), json!("v1"))
        );
        assert_eq!(
            check_kind(pods(), &mut json!({"kind": "Service"}))
                .expect_err("kind")
                .code(),
            400
        );
        assert_eq!(
            check_kind(pods(), &mut json!({"apiVersion": "apps/v1"}))
                .expect_err("version")
                .code(),
            400
        );
        assert_eq!(
            check_kind(pods(), &mut json!([1]))
                .expect_err("array")
                .code(),
            400
        );
    }

    #[test]
    fn same_object_should_ignore_resource_version_only() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"b": 1}});
        let b = json!({"spec": {"b": 1}, "metadata": {"resourceVersion": "2", "name": "a"}});
        assert!(same_object(&a, &b));
        assert!(!same_object(
            &a,
            &json!({"metadata": {"name": "a"}, "spec": {"b": 2}})
        ));
    }
}
