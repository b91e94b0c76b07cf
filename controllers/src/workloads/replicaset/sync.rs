//! One sync of a ReplicaSet (Kubernetes' `syncReplicaSet`): claim pods, scale, write status.

use super::super::{
    controller_ref, is_deleting, is_pod_active, is_pod_available, is_pod_failed, labels,
    new_controller_ref, selector_of,
};
use super::{Ctx, rank, status};
use crate::builtin::namespace_and_name;
use crate::client::{Api, ClientError, DeleteParams};
use crate::controller::Action;
use crate::events::{EventSpec, Regarding};
use crate::reflector::ObjectRef;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Reconciles one ReplicaSet; see the module docs of [`super`].
pub(super) async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action, ClientError> {
    if ctx.pods.wait_until_ready().await.is_err() {
        return Ok(Action::await_change());
    }
    let (ns, name) = namespace_and_name(&rs.metadata);
    let key = format!("{ns}/{name}");
    let (Some(uid), Some(spec)) = (rs.metadata.uid.as_deref(), rs.spec.as_ref()) else {
        return Ok(Action::await_change());
    };
    let Some(selector) = selector_of(&spec.selector) else {
        return Ok(Action::await_change());
    };
    let deleting = is_deleting(&rs.metadata);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned: Vec<Arc<Pod>> = Vec::new();
    for pod in ctx.pods.by_namespace(&ns) {
        let matches = selector.matches(&labels(&pod.metadata));
        match controller_ref(&pod.metadata) {
            Some(r) if r.uid == uid => {
                if matches || deleting {
                    owned.push(pod);
                } else {
                    release(&api, &pod, uid).await?;
                }
            }
            Some(_) => {}
            None if matches && !deleting && !is_deleting(&pod.metadata) => {
                if let Some(adopted) = adopt(&api, &pod, &rs.metadata).await? {
                    owned.push(Arc::new(adopted));
                }
            }
            None => {}
        }
    }
    let active: Vec<Arc<Pod>> = owned.iter().filter(|p| is_pod_active(p)).cloned().collect();
    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut requeue: Option<Duration> = None;
    let mut failure: Option<ClientError> = None;
    if !deleting {
        let timeout = ctx.config.expectations_timeout;
        let satisfied = ctx
            .expectations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .satisfied(&key, timeout, |pod_name| {
                ctx.pods
                    .get(&ObjectRef::new(pod_name).within(&ns))
                    .map(|p| {
                        (
                            p.metadata.uid.clone().unwrap_or_default(),
                            is_deleting(&p.metadata),
                        )
                    })
            });
        if satisfied {
            let failed = owned.iter().filter(|p| is_pod_failed(p)).count();
            let all_available = active.iter().all(|p| is_pod_available(p, min_ready, now));
            let wait = {
                let mut b = ctx.backoff.lock().unwrap_or_else(|p| p.into_inner());
                b.observe(&key, failed, all_available);
                b.wait(&key)
            };
            let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
            if active.len() < want {
                match wait {
                    Some(w) => requeue = Some(w),
                    None => {
                        let n = (want - active.len()).min(ctx.config.burst_replicas);
                        failure = create_pods(&ctx, &rs, &key, &ns, n).await.err();
                    }
                }
            } else if active.len() > want {
                let n = (active.len() - want).min(ctx.config.burst_replicas);
                let victims = rank::pods_to_delete(&active, n);
                failure = delete_pods(&ctx, &rs, &key, &api, &victims).await.err();
            }
        } else {
            requeue = Some(timeout);
        }
    }
    let message = failure.as_ref().map(ToString::to_string);
    let computed = status::compute(&rs, &active, message.as_deref(), now);
    if !status::same_status(rs.status.as_ref(), &computed.status) {
        let sets: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = json!({"status": computed.status});
        match sets.patch_status(&name, &patch).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(at) = computed.recheck_at {
        let left = at.duration_since(now);
        let left = Duration::try_from(left).unwrap_or_default() + Duration::from_millis(100);
        requeue = Some(requeue.map_or(left, |r| r.min(left)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Removes `rs_uid`'s reference from `pod` (it no longer matches the selector).
async fn release(api: &Api<Pod>, pod: &Pod, rs_uid: &str) -> Result<(), ClientError> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let rest: Vec<_> = pod
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != rs_uid)
        .collect();
    let refs = if rest.is_empty() {
        Value::Null
    } else {
        json!(rest)
    };
    let patch = json!({"metadata": {"ownerReferences": refs,
        "resourceVersion": pod.metadata.resource_version}});
    match api.patch(name, None, &patch).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Adds a controller reference to `owner` to the orphan `pod`; the adopted pod, or `None` when
/// it vanished meanwhile.
async fn adopt(api: &Api<Pod>, pod: &Pod, owner: &ObjectMeta) -> Result<Option<Pod>, ClientError> {
    let Some(r) = new_controller_ref(owner, "apps/v1", "ReplicaSet") else {
        return Ok(None);
    };
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let mut refs = pod.metadata.owner_references.clone().unwrap_or_default();
    refs.push(r);
    let patch = json!({"metadata": {"ownerReferences": refs,
        "resourceVersion": pod.metadata.resource_version}});
    match api.patch(name, None, &patch).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A new pod of `rs`'s template, owned by it, named by the server from `<rs>-`.
fn pod_from_template(rs: &ReplicaSet, ns: &str) -> Option<Pod> {
    let template = rs.spec.as_ref()?.template.clone()?;
    let tm = template.metadata.unwrap_or_default();
    let owner = new_controller_ref(&rs.metadata, "apps/v1", "ReplicaSet")?;
    Some(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.metadata.name.as_deref()?)),
            namespace: Some(ns.to_string()),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    })
}

/// Publishes `ev` about `rs`, logging (not failing) when the Event cannot be written.
async fn event(ctx: &Ctx, rs: &ReplicaSet, ev: EventSpec) {
    if let Err(e) = ctx.recorder.publish(&Regarding::from_obj(rs), &ev).await {
        tracing::debug!(error = %e, "replicaset: event not recorded");
    }
}

/// Whether `rs` is still wanted as last observed: present in the set cache with the same uid and
/// not being deleted. A slow-start creation checks it before every batch after the first, so a
/// set deleted mid-creation stops creating pods (its garbage collector would only delete them).
fn still_wanted(ctx: &Ctx, rs: &ReplicaSet) -> bool {
    ctx.sets
        .get(&ObjectRef::from_obj(rs))
        .is_some_and(|seen| seen.metadata.uid == rs.metadata.uid && !is_deleting(&seen.metadata))
}

/// Creates `n` pods in slow-start batches (1, 2, 4, …), stopping at the first failed batch and
/// before any batch once the set is gone or being deleted ([`still_wanted`]).
pub(super) async fn create_pods(
    ctx: &Ctx,
    rs: &ReplicaSet,
    key: &str,
    ns: &str,
    n: usize,
) -> Result<(), ClientError> {
    let Some(pod) = pod_from_template(rs, ns) else {
        return Ok(());
    };
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let (mut done, mut batch) = (0, 1);
    while done < n {
        if done > 0 && !still_wanted(ctx, rs) {
            tracing::debug!(
                set = key,
                "replicaset: set deleted during creation; stopping"
            );
            return Ok(());
        }
        let size = batch.min(n - done);
        let results = join_all((0..size).map(|_| api.create(&pod))).await;
        let mut created = Vec::new();
        let mut first_err = None;
        for r in results {
            match r {
                Ok(p) => created.push(p.metadata.name.unwrap_or_default()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        ctx.expectations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expect(key, created.clone(), Vec::new());
        join_all(created.iter().map(|name| {
            event(
                ctx,
                rs,
                EventSpec::normal("SuccessfulCreate", format!("Created pod: {name}")),
            )
        }))
        .await;
        if let Some(e) = first_err {
            event(
                ctx,
                rs,
                EventSpec::warning("FailedCreate", format!("Error creating: {e}")),
            )
            .await;
            return Err(e);
        }
        done += size;
        batch *= 2;
    }
    Ok(())
}

/// Deletes `victims` (gracefully, with a uid precondition).
async fn delete_pods(
    ctx: &Ctx,
    rs: &ReplicaSet,
    key: &str,
    api: &Api<Pod>,
    victims: &[Arc<Pod>],
) -> Result<(), ClientError> {
    let results = join_all(victims.iter().map(|p| async move {
        let name = p.metadata.name.clone().unwrap_or_default();
        let uid = p.metadata.uid.clone().unwrap_or_default();
        let params = DeleteParams {
            precondition_uid: Some(uid.clone()),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok((name, uid)),
            Err(e) if e.is_not_found() => Ok((name, uid)),
            Err(e) => Err(e),
        }
    }))
    .await;
    let mut deleted = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(d) => deleted.push(d),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    join_all(deleted.iter().map(|(name, _)| {
        event(
            ctx,
            rs,
            EventSpec::normal("SuccessfulDelete", format!("Deleted pod: {name}")),
        )
    }))
    .await;
    ctx.expectations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .expect(key, Vec::new(), deleted);
    match first_err {
        Some(e) => {
            event(
                ctx,
                rs,
                EventSpec::warning("FailedDelete", format!("Error deleting: {e}")),
            )
            .await;
            Err(e)
        }
        None => Ok(()),
    }
}
