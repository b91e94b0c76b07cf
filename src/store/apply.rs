//! The meaning of a [`WriteOp`]: how one applied Raft entry changes the objects.
//!
//! Deterministic (the same on every member): it depends only on the current objects, the revision
//! and the op. Each op that changes something takes the next revision; a failing op takes none.
//! Changes accumulate in a [`Batch`] over the cache (which is not touched until the state machine
//! has persisted the batch).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use mock_k8_schemas::meta;
use mock_k8_schemas::resource::RESOURCES;
use mock_k8_schemas::watch::EventType;
use serde_json::Value;

use super::cache::Cache;
use super::object_text::ObjectText;
use super::types::OpResult;
use super::{StoreError, StoredObject, WatchRecord, WriteOp};

/// The key prefix of Namespace objects (cluster-scoped: empty namespace segment).
const NAMESPACE_PREFIX: &str = "core/namespaces//";

/// The changes of one apply call, on top of the cache.
pub struct Batch<'a> {
    cache: &'a Cache,
    /// Changed keys: `Some` = new value, `None` = removed.
    overlay: BTreeMap<String, Option<Arc<StoredObject>>>,
    records: Vec<Arc<WatchRecord>>,
    revision: u64,
}

/// What a batch produced: changed keys, watch records (in revision order) and the final revision.
pub struct Outcome {
    /// Changed keys in key order: `Some` = new value, `None` = removed.
    pub changes: Vec<(String, Option<Arc<StoredObject>>)>,
    /// One watch record per change, in revision order.
    pub records: Vec<Arc<WatchRecord>>,
    /// The revision after the batch (unchanged if nothing changed).
    pub revision: u64,
}

/// The namespace segment of `"{group}/{plural}/{namespace}/{name}"` (empty for cluster-scoped keys).
fn namespace_of(key: &str) -> &str {
    key.split('/').nth(2).unwrap_or("")
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("store: {e}"))
}

impl<'a> Batch<'a> {
    /// An empty batch over `cache`, whose last revision is `revision`.
    pub fn new(cache: &'a Cache, revision: u64) -> Batch<'a> {
        Batch {
            cache,
            overlay: BTreeMap::new(),
            records: Vec::new(),
            revision,
        }
    }

    /// The changes recorded so far, in revision order (for NKO records: the ones an op added are
    /// those past the count taken before it).
    pub fn records(&self) -> &[Arc<WatchRecord>] {
        &self.records
    }

    /// The batch's result.
    pub fn finish(self) -> Outcome {
        Outcome {
            changes: self.overlay.into_iter().collect(),
            records: self.records,
            revision: self.revision,
        }
    }

    fn current(&self, key: &str) -> Option<Arc<StoredObject>> {
        match self.overlay.get(key) {
            Some(v) => v.clone(),
            None => self.cache.get(key),
        }
    }

    /// Keys present (in cache or batch) starting with `prefix`, in order.
    fn present_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cache
            .keys(prefix)
            .into_iter()
            .filter(|k| !self.overlay.contains_key(k))
            .collect();
        let added = self
            .overlay
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone());
        keys.extend(added);
        keys.sort();
        keys
    }

    /// Stamps `object` with the next revision and records the change.
    fn put(
        &mut self,
        key: String,
        object: ObjectText,
        prev: Option<Arc<StoredObject>>,
    ) -> OpResult {
        let revision = self.revision + 1;
        let json: Arc<str> = object.stamp(revision).into();
        let stored = Arc::new(StoredObject::new(key.clone(), revision, json));
        let event_type = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.revision = revision;
        self.overlay.insert(key, Some(stored.clone()));
        self.records.push(Arc::new(WatchRecord::new(
            revision,
            event_type,
            stored.clone(),
            prev,
        )));
        Ok(stored)
    }

    /// Removes `old` with the next revision; returns it re-stamped with that revision.
    fn remove(&mut self, old: Arc<StoredObject>) -> OpResult {
        let revision = self.revision + 1;
        let mut object: Value = serde_json::from_str(&old.json).map_err(internal)?;
        meta::set(
            &mut object,
            "resourceVersion",
            Value::String(revision.to_string()),
        );
        let json: Arc<str> = serde_json::to_string(&object).map_err(internal)?.into();
        let stamped = Arc::new(StoredObject::new(old.key.clone(), revision, json));
        self.revision = revision;
        self.overlay.insert(old.key.clone(), None);
        let event_type = EventType::Deleted;
        self.records.push(Arc::new(WatchRecord::new(
            revision,
            event_type,
            stamped.clone(),
            Some(old),
        )));
        Ok(stamped)
    }

    /// Applies one op; see [`WriteOp`] for the preconditions.
    pub fn apply(&mut self, op: WriteOp) -> OpResult {
        match op {
            WriteOp::Create { key, object } => {
                if self.current(&key).is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                let ns = namespace_of(&key);
                if !ns.is_empty() && self.current(&format!("{NAMESPACE_PREFIX}{ns}")).is_none() {
                    return Err(StoreError::NamespaceNotFound(ns.to_string()));
                }
                self.put(key, object, None)
            }
            WriteOp::Update {
                key,
                object,
                expected_rv,
            } => {
                let old = self.current(&key).ok_or(StoreError::NotFound)?;
                if expected_rv.is_some_and(|rv| rv != old.resource_version) {
                    return Err(StoreError::Conflict);
                }
                self.put(key, object, Some(old))
            }
            WriteOp::Delete {
                key,
                expected_rv,
                expected_uid,
            } => {
                let old = self.current(&key).ok_or(StoreError::NotFound)?;
                if expected_rv.is_some_and(|rv| rv != old.resource_version) {
                    return Err(StoreError::Conflict);
                }
                if let Some(uid) = expected_uid {
                    let object: Value = serde_json::from_str(&old.json).map_err(internal)?;
                    if meta::str_field(&object, "uid") != Some(uid.as_str()) {
                        return Err(StoreError::Conflict);
                    }
                }
                if let Some(ns) = key.strip_prefix(NAMESPACE_PREFIX) {
                    self.delete_contents(ns)?;
                }
                self.remove(old)
            }
        }
    }

    /// Deletes every namespaced object in namespace `ns`, each with its own revision.
    fn delete_contents(&mut self, ns: &str) -> Result<(), StoreError> {
        for resource in RESOURCES.iter().filter(|r| r.namespaced) {
            for key in self.present_keys(&format!("{}{ns}/", resource.key_prefix())) {
                if let Some(old) = self.current(&key) {
                    self.remove(old)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cache::ObjectMap;
    use serde_json::json;

    fn create(key: &str, name: &str) -> WriteOp {
        WriteOp::Create {
            key: key.into(),
            object: json!({"metadata": {"name": name, "uid": format!("uid-{name}")}}).into(),
        }
    }

    #[test]
    fn batch_should_stamp_revisions_and_check_preconditions() {
        let cache = Cache::new(ObjectMap::new(), 10);
        let mut b = Batch::new(&cache, 10);
        assert_eq!(
            b.apply(create("core/pods/ns1/p", "p")),
            Err(StoreError::NamespaceNotFound("ns1".into()))
        );
        let ns = b.apply(create("core/namespaces//ns1", "ns1")).unwrap();
        assert_eq!(ns.resource_version, 11);
        assert!(ns.json.contains(r#""resourceVersion":"11""#));
        assert_eq!(
            b.apply(create("core/namespaces//ns1", "ns1")),
            Err(StoreError::AlreadyExists)
        );
        let pod = b.apply(create("core/pods/ns1/p", "p")).unwrap();
        assert_eq!(pod.resource_version, 12);
        let stale = WriteOp::Update {
            key: "core/pods/ns1/p".into(),
            object: json!({}).into(),
            expected_rv: Some(11),
        };
        assert_eq!(b.apply(stale), Err(StoreError::Conflict));
        let update = WriteOp::Update {
            key: "core/pods/ns1/p".into(),
            object: json!({"a": 1}).into(),
            expected_rv: Some(12),
        };
        assert_eq!(b.apply(update).unwrap().resource_version, 13);
        let missing = WriteOp::Update {
            key: "core/pods/ns1/q".into(),
            object: json!({}).into(),
            expected_rv: None,
        };
        assert_eq!(b.apply(missing), Err(StoreError::NotFound));
        let wrong_uid = WriteOp::Delete {
            key: "core/pods/ns1/p".into(),
            expected_rv: None,
            expected_uid: Some("x".into()),
        };
        assert_eq!(b.apply(wrong_uid), Err(StoreError::Conflict));
        let out = b.finish();
        assert_eq!(out.revision, 13);
        assert_eq!(
            out.records.iter().map(|r| r.revision).collect::<Vec<_>>(),
            vec![11, 12, 13]
        );
        assert_eq!(out.records[2].event_type, EventType::Modified);
    }

    #[test]
    fn batch_should_cascade_namespace_deletion() {
        let cache = Cache::new(ObjectMap::new(), 0);
        let mut b = Batch::new(&cache, 0);
        b.apply(create("core/namespaces//a", "a")).unwrap();
        b.apply(create("core/namespaces//ab", "ab")).unwrap();
        b.apply(create("core/pods/a/p1", "p1")).unwrap();
        b.apply(create("apps/deployments/a/d1", "d1")).unwrap();
        b.apply(create("core/pods/ab/p2", "p2")).unwrap();
        let out = b.finish();
        cache.commit(out.changes, out.revision);

        let mut b = Batch::new(&cache, out.revision);
        b.apply(create("core/services/a/s1", "s1")).unwrap();
        let del = WriteOp::Delete {
            key: "core/namespaces//a".into(),
            expected_rv: None,
            expected_uid: Some("uid-a".into()),
        };
        let ns = b.apply(del).unwrap();
        assert_eq!(ns.resource_version, 10);
        let out = b.finish();
        let deleted: Vec<_> = out
            .records
            .iter()
            .skip(1)
            .map(|r| (r.revision, r.event_type, r.object.key.as_str()))
            .collect();
        assert_eq!(
            deleted,
            vec![
                (7, EventType::Deleted, "core/pods/a/p1"),
                (8, EventType::Deleted, "core/services/a/s1"),
                (9, EventType::Deleted, "apps/deployments/a/d1"),
                (10, EventType::Deleted, "core/namespaces//a"),
            ]
        );
        assert!(
            out.records[1]
                .object
                .json
                .contains(r#""resourceVersion":"7""#)
        );
        cache.commit(out.changes, out.revision);
        assert_eq!(cache.keys("").len(), 2, "namespace ab and its pod stay");
    }
}
