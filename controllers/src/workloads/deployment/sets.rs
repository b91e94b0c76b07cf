//! A Deployment's ReplicaSets: reading them (cache plus this controller's own unobserved
//! writes), claiming, creating, scaling and deleting them, and their annotations.

use super::super::{controller_ref, is_deleting, labels, new_controller_ref, selector_of};
use super::Ctx;
use super::hash::{POD_TEMPLATE_HASH, equal_ignore_hash, template_hash};
use crate::client::{Api, ClientError, DeleteParams};
use crate::events::{EventSpec, Regarding};
use crate::reflector::ObjectRef;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mock_k8_schemas::meta;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The revision annotation (on sets and on the Deployment).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The Deployment's `spec.replicas` when the set was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `replicas + maxSurge` when the set was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

fn rv(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// An annotation of `rs` parsed as an integer.
pub fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i64> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// `spec.replicas` of a set (0 when unset).
pub fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// `status.availableReplicas` of a set.
pub fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

impl Ctx {
    /// The ReplicaSets of namespace `ns`: the cache, with this controller's newer writes.
    pub(super) fn sets_in(&self, ns: &str) -> Vec<Arc<ReplicaSet>> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: BTreeMap<String, Arc<ReplicaSet>> = self
            .sets
            .by_namespace(ns)
            .into_iter()
            .map(|rs| (rs.metadata.name.clone().unwrap_or_default(), rs))
            .collect();
        written.retain(|key, w| {
            let name = w.metadata.name.clone().unwrap_or_default();
            match self.sets.get(key) {
                Some(cached) if rv(&cached.metadata) >= rv(&w.metadata) => false,
                _ => {
                    if key.namespace.as_deref() == Some(ns) {
                        out.insert(name, w.clone());
                    }
                    true
                }
            }
        });
        out.into_values().collect()
    }

    /// Records a set this controller just wrote.
    fn remember(&self, rs: ReplicaSet) -> Arc<ReplicaSet> {
        let rs = Arc::new(rs);
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ObjectRef::from_obj(rs.as_ref()), rs.clone());
        rs
    }

    /// Forgets a set this controller deleted.
    fn forget(&self, rs: &ReplicaSet) {
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ObjectRef::from_obj(rs));
    }

    /// Publishes `ev` about `d`, logging (not failing) when the Event cannot be written.
    pub(super) async fn event(&self, d: &Deployment, ev: EventSpec) {
        if let Err(e) = self.recorder.publish(&Regarding::from_obj(d), &ev).await {
            tracing::debug!(error = %e, "deployment: event not recorded");
        }
    }
}

/// The sets `d` owns after claiming: adopts matching orphans, releases owned sets that stopped
/// matching (not while `d` is being deleted).
pub(super) async fn claim(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
) -> Result<Vec<Arc<ReplicaSet>>, ClientError> {
    let (Some(uid), Some(spec)) = (d.metadata.uid.as_deref(), d.spec.as_ref()) else {
        return Ok(Vec::new());
    };
    let Some(selector) = selector_of(&spec.selector) else {
        return Ok(Vec::new());
    };
    let deleting = is_deleting(&d.metadata);
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
    let mut owned = Vec::new();
    for rs in ctx.sets_in(ns) {
        let matches = selector.matches(&labels(&rs.metadata));
        let name = rs.metadata.name.clone().unwrap_or_default();
        match controller_ref(&rs.metadata) {
            Some(r) if r.uid == uid => {
                if matches || deleting {
                    owned.push(rs);
                    continue;
                }
                let rest: Vec<_> = rs
                    .metadata
                    .owner_references
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.uid != uid)
                    .collect();
                let refs = if rest.is_empty() {
                    Value::Null
                } else {
                    json!(rest)
                };
                let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": rs.metadata.resource_version}});
                ignore_not_found(
                    api.patch(&name, None, &patch)
                        .await
                        .map(|rs| ctx.remember(rs)),
                )?;
            }
            Some(_) => {}
            None if matches && !deleting && !is_deleting(&rs.metadata) => {
                let Some(r) = new_controller_ref(&d.metadata, "apps/v1", "Deployment") else {
                    continue;
                };
                let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
                refs.push(r);
                let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": rs.metadata.resource_version}});
                match api.patch(&name, None, &patch).await {
                    Ok(adopted) => owned.push(ctx.remember(adopted)),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            None => {}
        }
    }
    Ok(owned)
}

fn ignore_not_found<T>(r: Result<T, ClientError>) -> Result<(), ClientError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The set running `d`'s current template (the oldest one if several do).
pub(super) fn find_new(d: &Deployment, owned: &[Arc<ReplicaSet>]) -> Option<Arc<ReplicaSet>> {
    let template = d.spec.as_ref()?.template.clone();
    let mut candidates: Vec<&Arc<ReplicaSet>> = owned
        .iter()
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &template))
        })
        .collect();
    candidates.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    candidates.first().map(|rs| (*rs).clone())
}

/// The highest revision among `sets`.
pub(super) fn max_revision(sets: &[Arc<ReplicaSet>]) -> i64 {
    sets.iter()
        .filter_map(|rs| int_annotation(rs, REVISION))
        .max()
        .unwrap_or(0)
}

/// Sets `rs`'s `spec.replicas` to `n` and its replica annotations to `d`'s (`desired`,
/// `max_total`) — and its revision to `revision` when given — when any differs; returns the set
/// as now stored. Records a `ScalingReplicaSet` Event when the size changed.
pub(super) async fn scale(
    ctx: &Ctx,
    d: &Deployment,
    rs: &Arc<ReplicaSet>,
    n: i32,
    desired: i32,
    max_total: i32,
    revision: Option<i64>,
) -> Result<Arc<ReplicaSet>, ClientError> {
    let old = replicas(rs);
    let same_annotations = int_annotation(rs, DESIRED_REPLICAS) == Some(i64::from(desired))
        && int_annotation(rs, MAX_REPLICAS) == Some(i64::from(max_total))
        && revision.is_none_or(|r| int_annotation(rs, REVISION) == Some(r));
    if old == n && same_annotations {
        return Ok(rs.clone());
    }
    let mut annotations =
        json!({DESIRED_REPLICAS: desired.to_string(), MAX_REPLICAS: max_total.to_string()});
    if let Some(r) = revision {
        annotations[REVISION] = json!(r.to_string());
    }
    let patch = json!({"metadata": {"resourceVersion": rs.metadata.resource_version, "annotations": annotations},
        "spec": {"replicas": n}});
    let ns = rs.metadata.namespace.as_deref().unwrap_or("default");
    let name = rs.metadata.name.as_deref().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
    let updated = ctx.remember(api.patch(name, None, &patch).await?);
    if old != n {
        let dir = if n > old { "up" } else { "down" };
        let msg = format!("Scaled {dir} replica set {name} from {old} to {n}");
        ctx.event(d, EventSpec::normal("ScalingReplicaSet", &msg))
            .await;
    }
    Ok(updated)
}

/// What creating the new set came to.
pub(super) enum Created {
    /// The set (created now, or found with the same template and owner).
    Set(Arc<ReplicaSet>),
    /// Its name is taken by another template: `status.collisionCount` was bumped; sync again.
    Collision,
}

/// Creates the set of `d`'s template with `n` replicas and revision `revision`.
pub(super) async fn create_new(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
    n: i32,
    max_total: i32,
    revision: i64,
) -> Result<Created, ClientError> {
    let Some(spec) = d.spec.as_ref() else {
        return Ok(Created::Collision);
    };
    let collisions = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&spec.template, collisions);
    let name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or_default());
    let mut template = spec.template.clone();
    let tm = template.metadata.get_or_insert_with(ObjectMeta::default);
    tm.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH.into(), hash.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH.into(), hash);
    let annotations = BTreeMap::from([
        (REVISION.to_string(), revision.to_string()),
        (
            DESIRED_REPLICAS.to_string(),
            spec.replicas.unwrap_or(1).to_string(),
        ),
        (MAX_REPLICAS.to_string(), max_total.to_string()),
    ]);
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.to_string()),
            labels: tm.labels.clone(),
            annotations: Some(annotations),
            owner_references: new_controller_ref(&d.metadata, "apps/v1", "Deployment")
                .map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(n),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    };
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
    match api.create(&rs).await {
        Ok(created) => {
            let msg = format!("Scaled up replica set {name} from 0 to {n}");
            ctx.event(d, EventSpec::normal("ScalingReplicaSet", &msg))
                .await;
            Ok(Created::Set(ctx.remember(created)))
        }
        Err(e) if e.is_already_exists() => {
            let existing = api.get(&name).await?;
            let ours = controller_ref(&existing.metadata)
                .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
            let same = existing
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &spec.template));
            if ours && same {
                return Ok(Created::Set(ctx.remember(existing)));
            }
            let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
            let patch = json!({"status": {"collisionCount": collisions.unwrap_or(0) + 1}});
            deployments
                .patch_status(d.metadata.name.as_deref().unwrap_or_default(), &patch)
                .await?;
            Ok(Created::Collision)
        }
        Err(e) => Err(e),
    }
}

/// Deletes old sets scaled to 0 beyond `revisionHistoryLimit`, oldest revision first.
pub(super) async fn cleanup(
    ctx: &Ctx,
    d: &Deployment,
    old: &[Arc<ReplicaSet>],
) -> Result<(), ClientError> {
    let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
        return Ok(());
    };
    let mut cleanable: Vec<&Arc<ReplicaSet>> = old
        .iter()
        .filter(|rs| {
            let st = rs.status.clone().unwrap_or_default();
            replicas(rs) == 0
                && st.replicas == 0
                && !is_deleting(&rs.metadata)
                && rs.metadata.generation <= st.observed_generation
        })
        .collect();
    let excess = cleanable
        .len()
        .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    cleanable.sort_by_key(|rs| {
        (
            int_annotation(rs, REVISION).unwrap_or(0),
            rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        )
    });
    for rs in cleanable.into_iter().take(excess) {
        let ns = rs.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
        let params = DeleteParams {
            precondition_uid: rs.metadata.uid.clone(),
            ..DeleteParams::default()
        };
        ignore_not_found(
            api.delete(rs.metadata.name.as_deref().unwrap_or_default(), &params)
                .await,
        )?;
        ctx.forget(rs);
    }
    Ok(())
}

/// Sets the Deployment's revision annotation to `revision` when it differs.
pub(super) async fn sync_revision(
    ctx: &Ctx,
    d: &Deployment,
    ns: &str,
    revision: i64,
) -> Result<(), ClientError> {
    let current = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|s| s.parse::<i64>().ok());
    if current == Some(revision) {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), ns);
    let patch = json!({"metadata": {"annotations": {REVISION: revision.to_string()}}});
    ignore_not_found(
        api.patch(d.metadata.name.as_deref().unwrap_or_default(), None, &patch)
            .await,
    )
}

/// `true` when the value is a pod of one of `uids` that has not terminated (Recreate waits for
/// none to be left).
pub(super) fn is_running_pod_of(pod: &Value, uids: &[String]) -> bool {
    let owned = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| {
            r.get("controller") == Some(&json!(true))
                && r.get("uid")
                    .and_then(Value::as_str)
                    .is_some_and(|u| uids.iter().any(|x| x == u))
        });
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    owned && !matches!(phase, Some("Succeeded" | "Failed")) && !meta::name(pod).is_empty()
}
