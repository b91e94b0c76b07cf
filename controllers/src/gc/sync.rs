//! One garbage-collector reconcile of one object: finish its own foreground or orphan deletion,
//! then act on its owner references ([`super::plan`]).

use super::graph::{self, Owner, deleting_with};
use super::plan::{Decision, OwnerState, Policy, decide};
use super::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN, KindCtx, ObjectMetadata, Shared};
use crate::client::{ClientError, DeleteParams};
use crate::controller::Action;
use crate::reflector::ObjectRef;
use mock_k8_schemas::{ApiResource, meta};
use serde_json::{Value, json};
use std::sync::Arc;

/// Reconciles `obj` of the context's kind.
pub(super) async fn reconcile<K: ObjectMetadata>(
    obj: Arc<K>,
    ctx: Arc<KindCtx>,
) -> Result<Action, ClientError> {
    // The JSON form the helpers below read (`{"metadata": …}`): built per reconcile, not cached.
    let metadata =
        serde_json::to_value(obj.object_meta()).map_err(|e| ClientError::Decode(e.to_string()))?;
    let obj = json!({ "metadata": metadata });
    let shared = &ctx.shared;
    let resource = shared.kinds[ctx.kind];
    let mut requeue = None;
    if deleting_with(&obj, FINALIZER_ORPHAN) {
        orphan_dependents(shared, &obj).await?;
        remove_finalizer(shared, resource, &obj, FINALIZER_ORPHAN).await?;
        return Ok(Action::await_change());
    }
    if deleting_with(&obj, FINALIZER_FOREGROUND) {
        if delete_dependents(shared, &obj)? {
            requeue = Some(shared.config.foreground_poll);
        } else {
            remove_finalizer(shared, resource, &obj, FINALIZER_FOREGROUND).await?;
            return Ok(Action::await_change());
        }
    }
    let owners = graph::owners(&obj);
    if !owners.is_empty() {
        collect(shared, resource, &obj, &owners).await?;
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// How `owner` (referenced from namespace `ns`) resolves: from the graph when it knows the uid,
/// else from the live API.
async fn resolve(shared: &Shared, ns: &str, owner: &Owner) -> Result<OwnerState, ClientError> {
    if let Some(node) = shared
        .graph
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&owner.uid)
    {
        return Ok(if node.foreground {
            OwnerState::Waiting
        } else {
            OwnerState::Solid
        });
    }
    let Some(resource) = mock_k8_schemas::resource::by_kind(&owner.api_version, &owner.kind) else {
        return Ok(OwnerState::Solid); // a kind we do not serve: never collect on its account
    };
    let namespace = resource.namespaced.then_some(ns);
    match shared.client.get(resource, namespace, &owner.name).await {
        Ok(live) if meta::str_field(&live, "uid") == Some(owner.uid.as_str()) => {
            Ok(if deleting_with(&live, FINALIZER_FOREGROUND) {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            })
        }
        Ok(_) => Ok(OwnerState::Dangling),
        Err(e) if e.is_not_found() => Ok(OwnerState::Dangling),
        Err(e) => Err(e),
    }
}

/// Resolves `obj`'s owners and carries out the [`decide`] decision.
async fn collect(
    shared: &Shared,
    resource: &'static ApiResource,
    obj: &Value,
    owners: &[Owner],
) -> Result<(), ClientError> {
    let ns = meta::namespace(obj);
    let mut states = Vec::with_capacity(owners.len());
    for o in owners {
        states.push((o.uid.clone(), resolve(shared, ns, o).await?));
    }
    let uid = meta::str_field(obj, "uid").unwrap_or_default();
    let has_dependents = shared
        .graph
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .has_dependents(uid);
    let decision = decide(
        &states,
        has_dependents,
        deleting_with(obj, FINALIZER_ORPHAN),
        deleting_with(obj, FINALIZER_FOREGROUND),
    );
    match decision {
        Decision::Keep => Ok(()),
        Decision::RemoveRefs(uids) => {
            remove_refs(shared, resource, ns, meta::name(obj), &uids).await
        }
        Decision::Delete(policy) => {
            if obj.pointer("/metadata/deletionTimestamp").is_some() && policy == Policy::Background
            {
                return Ok(()); // already going
            }
            let params = DeleteParams {
                precondition_uid: Some(uid.to_string()),
                propagation_policy: Some(policy.as_str().to_string()),
                ..DeleteParams::default()
            };
            let namespace = resource.namespaced.then_some(ns);
            tracing::debug!(object = %ObjectRef::from_value(obj), kind = resource.kind, policy = policy.as_str(), "garbage collector: deleting");
            ignore_gone(
                shared
                    .client
                    .delete(resource, namespace, meta::name(obj), &params)
                    .await,
            )
        }
    }
}

/// `Ok` for success, 404 and 409 (the object is gone or was replaced: nothing to do).
fn ignore_gone<T>(r: Result<T, ClientError>) -> Result<(), ClientError> {
    match r {
        Ok(_) => Ok(()),
        Err(e)
            if e.is_not_found()
                || e.status()
                    .is_some_and(|s| s.code == 409 && s.reason != "Conflict") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Removes the references to `uids` from the live object `ns/name` of `resource`.
async fn remove_refs(
    shared: &Shared,
    resource: &'static ApiResource,
    ns: &str,
    name: &str,
    uids: &[String],
) -> Result<(), ClientError> {
    let namespace = resource.namespaced.then_some(ns);
    let live = match shared.client.get(resource, namespace, name).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let refs: Vec<Value> = live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rest: Vec<Value> = refs
        .iter()
        .filter(|r| {
            !r.get("uid")
                .and_then(Value::as_str)
                .is_some_and(|u| uids.iter().any(|x| x == u))
        })
        .cloned()
        .collect();
    if rest.len() == refs.len() {
        return Ok(());
    }
    let refs = if rest.is_empty() {
        Value::Null
    } else {
        json!(rest)
    };
    let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": meta::str_field(&live, "resourceVersion")}});
    ignore_gone(
        shared
            .client
            .patch(resource, namespace, name, None, patch)
            .await,
    )
}

/// Removes `finalizer` from `obj` (the API then removes the object if no finalizer is left). A
/// conflict (another controller wrote the object meanwhile) is retried on the live object.
async fn remove_finalizer(
    shared: &Shared,
    resource: &'static ApiResource,
    obj: &Value,
    finalizer: &str,
) -> Result<(), ClientError> {
    let namespace = resource.namespaced.then_some(meta::namespace(obj));
    let name = meta::name(obj);
    let mut current = obj.clone();
    for attempt in 0..3 {
        let rest: Vec<Value> = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect();
        let finalizers = if rest.is_empty() {
            Value::Null
        } else {
            json!(rest)
        };
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta::str_field(&current, "resourceVersion")}});
        match shared
            .client
            .patch(resource, namespace, name, None, patch)
            .await
        {
            Err(e) if e.is_conflict() && attempt < 2 => {
                current = match shared.client.get(resource, namespace, name).await {
                    Ok(live) if meta::str_field(&live, "uid") == meta::str_field(obj, "uid") => {
                        live
                    }
                    Ok(_) => return Ok(()),
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                };
            }
            r => return ignore_gone(r),
        }
    }
    Ok(())
}

/// Removes `obj`'s reference from each of its dependents (Orphan).
async fn orphan_dependents(shared: &Shared, obj: &Value) -> Result<(), ClientError> {
    let uid = meta::str_field(obj, "uid").unwrap_or_default().to_string();
    let deps: Vec<(usize, ObjectRef)> = shared
        .graph
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .dependents(&uid)
        .into_iter()
        .map(|n| (n.kind, n.key.clone()))
        .collect();
    for (kind, key) in deps {
        let resource = shared.kinds[kind];
        let ns = key.namespace.clone().unwrap_or_default();
        remove_refs(shared, resource, &ns, &key.name, std::slice::from_ref(&uid)).await?;
    }
    Ok(())
}

/// Triggers every dependent of `obj` (each deletes itself: its owner is waiting) and tells
/// whether blocking dependents (`blockOwnerDeletion: true`) are left.
fn delete_dependents(shared: &Shared, obj: &Value) -> Result<bool, ClientError> {
    let uid = meta::str_field(obj, "uid").unwrap_or_default();
    let g = shared.graph.lock().unwrap_or_else(|p| p.into_inner());
    let mut blocking = false;
    for dep in g.dependents(uid) {
        if dep.owners.iter().any(|o| o.uid == uid && o.block) {
            blocking = true;
        }
        if let Some(tx) = shared.triggers.get(dep.kind) {
            let _ = tx.try_send(dep.key.clone());
        }
    }
    Ok(blocking)
}
