//! Deletion with Kubernetes' two phases (API concepts, "Graceful deletion"; "Finalizers",
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/>):
//!
//! - A Pod bound to a node and not terminal, deleted with a grace period above 0
//!   (`gracePeriodSeconds` of the `DeleteOptions`, else `spec.terminationGracePeriodSeconds`,
//!   else 30), is only marked: `metadata.deletionTimestamp` = now + grace,
//!   `metadata.deletionGracePeriodSeconds` = grace, `generation` + 1 (a MODIFIED event). The node
//!   agent stops its containers and deletes it again with grace 0, which removes it (DELETED).
//!   A later DELETE with a shorter grace period shortens the deadline; a longer one changes nothing.
//! - An object with `metadata.finalizers` is marked (deletion timestamp now, grace 0) and removed
//!   by the update that empties its finalizers ([`delete_on_update`]).
//! - Anything else — unbound or terminal pods, grace 0, other kinds — is removed at once.
//!
//! - `propagationPolicy` (or the older `orphanDependents`) of the `DeleteOptions` body sets the
//!   garbage collector's finalizers first ([`gc_finalizers`], Kubernetes'
//!   `deletionFinalizersForGarbageCollection`;
//!   <https://kubernetes.io/docs/concepts/architecture/garbage-collection/>): `Foreground` adds
//!   `foregroundDeletion`, `Orphan` adds `orphan` (each at most once, the other one removed),
//!   `Background` removes both. The object is then only marked, and the garbage collector
//!   (`mock_k8_controllers::gc`) removes the finalizer once it has deleted the dependents
//!   (Foreground) or removed their `ownerReferences` (Orphan). Without a policy, the finalizers
//!   the object already has stay; the default for every kind is `Background`.
//!
//! Removing a Service releases its cluster IP and node ports; removing a Namespace releases those
//! of the Services in it.

use super::ApiState;
use super::crud::{ObjRef, WRITE_RETRIES, parse_stored};
use super::defaults::DEFAULT_TERMINATION_GRACE_SECONDS;
use super::error::ApiError;
use super::query::Params;
use super::respond;
use crate::store::{StoreError, WriteOp};
use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use mock_k8_schemas::{Status, StatusCause, decode, meta, resource};
use serde_json::{Value, json};

/// The parts of a `DeleteOptions` (body or query) the server acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`: the body's, else the query's.
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`.
    pub expected_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub expected_rv: Option<u64>,
    /// `dryRun: [All]` in the body or `dryRun=All` in the query.
    pub dry_run: bool,
    /// `propagationPolicy` of the body, else `orphanDependents` (`true`: Orphan, `false`:
    /// Background); `None` when neither is given.
    pub propagation: Option<Propagation>,
}

/// A `propagationPolicy`: what happens to the dependents (objects whose `ownerReferences` name the
/// deleted object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents keep running; the garbage collector removes their reference to the owner.
    Orphan,
    /// The owner goes at once; the garbage collector deletes the dependents afterwards.
    Background,
    /// The owner stays (marked, `foregroundDeletion` finalizer) until its blocking dependents
    /// are gone.
    Foreground,
}

/// Kubernetes' finalizer for [`Propagation::Orphan`].
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Kubernetes' finalizer for [`Propagation::Foreground`].
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// The finalizers `obj` must carry for a DELETE with `propagation`, when they differ from the
/// ones it has (`None`: no change). Both garbage-collector finalizers are removed, then the one
/// the policy asks for is appended, so a repeated DELETE never duplicates one; other finalizers
/// keep their order. `None` as policy keeps what the object has.
pub fn gc_finalizers(obj: &Value, propagation: Option<Propagation>) -> Option<Vec<Value>> {
    let propagation = propagation?;
    let current: Vec<Value> = obj
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut new: Vec<Value> = current
        .iter()
        .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
        .cloned()
        .collect();
    match propagation {
        Propagation::Orphan => new.push(json!(FINALIZER_ORPHAN)),
        Propagation::Foreground => new.push(json!(FINALIZER_FOREGROUND)),
        Propagation::Background => {}
    }
    (new != current).then_some(new)
}

impl DeleteOptions {
    /// Reads a DELETE's options from its body (of `content_type`) and query. An empty body and a
    /// protobuf body (`kubectl drain` sends one) are ignored; a JSON or YAML `DeleteOptions`
    /// contributes its fields.
    ///
    /// # Errors
    /// - 400 BadRequest for a body that does not parse, is not an object, has another `kind`
    ///   than `DeleteOptions`, or has a field of the wrong type.
    /// - 422 Invalid (field `propagationPolicy`) for a policy other than Orphan, Background or
    ///   Foreground.
    pub fn parse(
        body: &[u8],
        content_type: Option<&str>,
        params: &Params,
    ) -> Result<DeleteOptions, ApiError> {
        let opts = body_options(body, content_type)?;
        let pre = opts.get("preconditions");
        Ok(DeleteOptions {
            grace_period_seconds: opts
                .get("gracePeriodSeconds")
                .and_then(Value::as_i64)
                .or_else(|| {
                    params
                        .grace_period_seconds
                        .map(|g| i64::try_from(g).unwrap_or(i64::MAX))
                }),
            expected_uid: pre
                .and_then(|p| p.get("uid"))
                .and_then(Value::as_str)
                .map(str::to_string),
            expected_rv: pre
                .and_then(|p| p.get("resourceVersion"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok()),
            dry_run: params.dry_run
                || opts
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "All")),
            propagation: match opts.get("propagationPolicy").and_then(Value::as_str) {
                Some("Orphan") => Some(Propagation::Orphan),
                Some("Foreground") => Some(Propagation::Foreground),
                Some("Background") => Some(Propagation::Background),
                _ => opts
                    .get("orphanDependents")
                    .and_then(Value::as_bool)
                    .map(|o| {
                        if o {
                            Propagation::Orphan
                        } else {
                            Propagation::Background
                        }
                    }),
            },
        })
    }
}

/// The propagation policies Kubernetes accepts.
const PROPAGATION_POLICIES: &[&str] = &["Orphan", "Background", "Foreground"];

/// The checked JSON object of a DELETE body (`Null` for an empty or protobuf body).
fn body_options(body: &[u8], content_type: Option<&str>) -> Result<Value, ApiError> {
    let protobuf = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("protobuf"));
    if protobuf || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let opts = decode::parse_body(body, content_type)?.value;
    let Some(map) = opts.as_object() else {
        if opts.is_null() {
            return Ok(Value::Null);
        }
        return Err(ApiError::bad_request(
            "error decoding DeleteOptions: the body is not an object",
        ));
    };
    let wrong_type = |field: &str, expected: &str| {
        ApiError::bad_request(format!(
            "error decoding DeleteOptions: {field}: expected {expected}"
        ))
    };
    if let Some(kind) = map.get("kind").filter(|k| !k.is_null()) {
        match kind.as_str() {
            Some("DeleteOptions" | "") => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the body of a DELETE must be a DeleteOptions, not a {other}"
                )));
            }
            None => return Err(wrong_type("kind", "a string")),
        }
    }
    for (field, ok, expected) in [
        (
            "gracePeriodSeconds",
            map.get("gracePeriodSeconds")
                .is_none_or(|v| v.is_null() || v.is_i64()),
            "an integer",
        ),
        (
            "orphanDependents",
            map.get("orphanDependents")
                .is_none_or(|v| v.is_null() || v.is_boolean()),
            "a boolean",
        ),
        (
            "propagationPolicy",
            map.get("propagationPolicy")
                .is_none_or(|v| v.is_null() || v.is_string()),
            "a string",
        ),
        (
            "apiVersion",
            map.get("apiVersion")
                .is_none_or(|v| v.is_null() || v.is_string()),
            "a string",
        ),
        (
            "dryRun",
            map.get("dryRun").is_none_or(|v| {
                v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }),
            "a list of strings",
        ),
        (
            "preconditions",
            map.get("preconditions").is_none_or(|v| {
                v.is_null()
                    || v.as_object().is_some_and(|p| {
                        ["uid", "resourceVersion"]
                            .iter()
                            .all(|f| p.get(*f).is_none_or(|x| x.is_null() || x.is_string()))
                    })
            }),
            "an object with string uid and resourceVersion",
        ),
    ] {
        if !ok {
            return Err(wrong_type(field, expected));
        }
    }
    if let Some(policy) = map.get("propagationPolicy").and_then(Value::as_str)
        && !PROPAGATION_POLICIES.contains(&policy)
    {
        return Err(Status::invalid(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            vec![StatusCause {
                reason: "FieldValueNotSupported".into(),
                message: format!(
                    "Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
                field: "propagationPolicy".into(),
            }],
        )
        .into());
    }
    Ok(opts)
}

/// What a DELETE does to an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Remove it from the store now.
    Remove,
    /// Store this marked object (deletion timestamp and grace period set or shortened).
    Mark(Value),
    /// Nothing: it is already being deleted at least as soon.
    Unchanged,
}

/// Decides what a DELETE with `requested` grace seconds does to `obj` of kind `kind` at `now`.
pub fn plan(kind: &str, obj: &Value, requested: Option<i64>, now: Timestamp) -> Plan {
    let md = obj.get("metadata");
    let finalizers = md
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let grace = if kind == "Pod" {
        pod_grace(obj, requested)
    } else {
        0
    };
    let deadline = now
        .checked_add(SignedDuration::from_secs(grace))
        .unwrap_or(now);
    let marked = md
        .and_then(|m| m.get("deletionTimestamp"))
        .and_then(Value::as_str);
    if grace == 0 && !finalizers {
        return Plan::Remove;
    }
    let mut new = obj.clone();
    match marked {
        Some(ts) => {
            let current_grace = md
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if grace >= current_grace {
                return Plan::Unchanged;
            }
            let earlier = match ts.parse::<Timestamp>() {
                Ok(existing) if existing < deadline => existing,
                _ => deadline,
            };
            meta::set(&mut new, "deletionTimestamp", json!(rfc3339(earlier)));
        }
        None => {
            let generation = md
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta::set(&mut new, "deletionTimestamp", json!(rfc3339(deadline)));
            meta::set(&mut new, "generation", json!(generation + 1));
        }
    }
    meta::set(&mut new, "deletionGracePeriodSeconds", json!(grace));
    meta::remove(&mut new, "resourceVersion");
    Plan::Mark(new)
}

/// A pod's grace period for a DELETE: `requested`, else `spec.terminationGracePeriodSeconds`, else
/// 30 (negative values count as 1); 0 when the pod is not bound to a node or is terminal
/// (`Succeeded`/`Failed`): no kubelet has containers to stop.
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let spec = pod.get("spec");
    let bound = spec
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let terminal = matches!(
        pod.get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || terminal {
        return 0;
    }
    let grace = requested
        .or_else(|| {
            spec.and_then(|s| s.get("terminationGracePeriodSeconds"))
                .and_then(Value::as_i64)
        })
        .unwrap_or(DEFAULT_TERMINATION_GRACE_SECONDS);
    if grace < 0 { 1 } else { grace }
}

/// `true` when an update from `old` to `new` must remove the object instead (Kubernetes'
/// `ShouldDeleteDuringUpdate`): it empties the finalizers of an object marked for deletion whose
/// grace period is over (`deletionGracePeriodSeconds: 0`).
pub fn delete_on_update(old: &Value, new: &Value) -> bool {
    let finalizers = |v: &Value| {
        v.get("metadata")
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let old_md = old.get("metadata");
    finalizers(new) == 0
        && finalizers(old) > 0
        && old_md.and_then(|m| m.get("deletionTimestamp")).is_some()
        && old_md
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            == Some(0)
}

/// Deletes (or marks) the object `r` per [`plan`]; answers the removed, marked or unchanged object.
///
/// # Errors
/// 404 when it does not exist; 409 Conflict when a precondition fails; 503 when the store is
/// unavailable.
pub async fn delete(state: &ApiState, r: &ObjRef, opts: &DeleteOptions) -> Result<Bytes, ApiError> {
    for attempt in 0..WRITE_RETRIES {
        let retry = attempt + 1 < WRITE_RETRIES;
        let cur = state
            .store
            .get(&r.key())
            .ok_or_else(|| ApiError::not_found(r.resource, &r.name))?;
        let mut value = parse_stored(&cur)?;
        let finalizers = gc_finalizers(&value, opts.propagation);
        if let Some(f) = &finalizers {
            meta::set(&mut value, "finalizers", json!(f));
        }
        let uid_ok = opts
            .expected_uid
            .as_deref()
            .is_none_or(|u| meta::str_field(&value, "uid") == Some(u));
        if !uid_ok
            || opts
                .expected_rv
                .is_some_and(|rv| rv != cur.resource_version)
        {
            return Err(ApiError::from_store(
                StoreError::Conflict,
                r.resource,
                &r.name,
            ));
        }
        let planned = match plan(
            r.resource.kind,
            &value,
            opts.grace_period_seconds,
            Timestamp::now(),
        ) {
            Plan::Unchanged if finalizers.is_some() => {
                meta::remove(&mut value, "resourceVersion");
                Plan::Mark(value.clone())
            }
            p => p,
        };
        match planned {
            Plan::Unchanged => return Ok(respond::shared_json(&cur.json)),
            Plan::Mark(new) if opts.dry_run => {
                return Ok(Bytes::from(serde_json::to_vec(&new).unwrap_or_default()));
            }
            Plan::Remove if opts.dry_run => return Ok(respond::shared_json(&cur.json)),
            Plan::Mark(new) => {
                let op = WriteOp::Update {
                    key: r.key(),
                    object: (&new).into(),
                    expected_rv: Some(cur.resource_version),
                };
                match state.store.write(op).await {
                    Ok(stored) => return Ok(respond::shared_json(&stored.json)),
                    Err(StoreError::Conflict) if retry => continue,
                    Err(e) => return Err(ApiError::from_store(e, r.resource, &r.name)),
                }
            }
            Plan::Remove => match remove(state, r, &value, Some(cur.resource_version)).await {
                Ok(gone) => return Ok(gone),
                Err(StoreError::Conflict) if retry => continue,
                Err(e) => return Err(ApiError::from_store(e, r.resource, &r.name)),
            },
        }
    }
    Err(ApiError::from_store(
        StoreError::Conflict,
        r.resource,
        &r.name,
    ))
}

/// Removes `r` (whose current state is `value`) from the store and releases the Service addresses
/// it held (for a Namespace: those of its Services). Answers the removed object.
///
/// # Errors
/// The store's error.
pub async fn remove(
    state: &ApiState,
    r: &ObjRef,
    value: &Value,
    expected_rv: Option<u64>,
) -> Result<Bytes, StoreError> {
    let services = match r.resource.kind {
        "Service" => vec![value.clone()],
        "Namespace" => resource::by_plural("", "v1", "services")
            .map(|svc| {
                let (list, _) = state
                    .store
                    .list(&format!("{}{}/", svc.key_prefix(), r.name));
                list.iter()
                    .filter_map(|o| serde_json::from_str(&o.json).ok())
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let deleted = state
        .store
        .write(WriteOp::Delete {
            key: r.key(),
            expected_rv,
            expected_uid: None,
        })
        .await?;
    for svc in &services {
        state.services.release_service(&state.store, svc);
    }
    Ok(respond::shared_json(&deleted.json))
}

/// `t` in the RFC 3339 second-precision form of Kubernetes' `metav1.Time`.
fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    fn bound_pod() -> Value {
        json!({"metadata": {"name": "p", "generation": 1}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30}, "status": {"phase": "Running"}})
    }

    #[test]
    fn plan_should_mark_a_bound_pod_with_its_grace_period() {
        let Plan::Mark(m) = plan("Pod", &bound_pod(), None, now()) else {
            panic!("not marked")
        };
        assert_eq!(m["metadata"]["deletionTimestamp"], "2026-01-01T00:00:30Z");
        assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 30);
        assert_eq!(m["metadata"]["generation"], 2);
        let Plan::Mark(shorter) = plan("Pod", &m, Some(5), now()) else {
            panic!("not shortened")
        };
        assert_eq!(
            shorter["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(plan("Pod", &shorter, Some(10), now()), Plan::Unchanged);
        assert_eq!(plan("Pod", &shorter, Some(0), now()), Plan::Remove);
    }

    #[test]
    fn plan_should_remove_unbound_terminal_and_plain_objects() {
        let mut unbound = bound_pod();
        unbound["spec"]["nodeName"] = json!("");
        assert_eq!(plan("Pod", &unbound, None, now()), Plan::Remove);
        let mut done = bound_pod();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(plan("Pod", &done, None, now()), Plan::Remove);
        assert_eq!(
            plan("ConfigMap", &json!({"metadata": {}}), Some(30), now()),
            Plan::Remove
        );
    }

    #[test]
    fn gc_finalizers_should_follow_the_policy_without_duplicates() {
        let obj = json!({"metadata": {"finalizers": ["x/y"]}});
        let fg = gc_finalizers(&obj, Some(Propagation::Foreground)).expect("changed");
        assert_eq!(fg, vec![json!("x/y"), json!("foregroundDeletion")]);
        let marked = json!({"metadata": {"finalizers": fg}});
        assert_eq!(gc_finalizers(&marked, Some(Propagation::Foreground)), None);
        assert_eq!(
            gc_finalizers(&marked, Some(Propagation::Orphan)),
            Some(vec![json!("x/y"), json!("orphan")])
        );
        assert_eq!(
            gc_finalizers(&marked, Some(Propagation::Background)),
            Some(vec![json!("x/y")])
        );
        assert_eq!(gc_finalizers(&marked, None), None);
        assert_eq!(
            gc_finalizers(&json!({}), Some(Propagation::Background)),
            None
        );
    }

    #[test]
    fn plan_should_only_mark_objects_with_finalizers() {
        let obj = json!({"metadata": {"name": "s", "finalizers": ["x/y"]}});
        let Plan::Mark(m) = plan("Service", &obj, None, now()) else {
            panic!("not marked")
        };
        assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(m["metadata"]["finalizers"], json!(["x/y"]));
        assert_eq!(plan("Service", &m, None, now()), Plan::Unchanged);
        let mut cleared = m.clone();
        cleared["metadata"]["finalizers"] = json!([]);
        assert!(delete_on_update(&m, &cleared));
        assert!(!delete_on_update(&obj, &cleared));
    }
}
