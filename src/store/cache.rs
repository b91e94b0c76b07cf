//! The in-memory copy of every stored object, which serves all reads.
//!
//! A `std::sync::RwLock` guards the map: reads never await and hold the lock only for a lookup or a
//! range scan. Only the state machine writes, once per applied batch. The revision is kept twice:
//! inside the lock (so `list` returns objects and revision from the same instant) and in an
//! `AtomicU64` (so `revision()` takes no lock).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::StoredObject;

/// Objects by storage key.
pub type ObjectMap = BTreeMap<String, Arc<StoredObject>>;

/// The object cache.
pub struct Cache {
    inner: RwLock<Inner>,
    revision: AtomicU64,
}

struct Inner {
    objects: ObjectMap,
    /// Object count per `"{group}/{plural}"`.
    counts: BTreeMap<String, u64>,
    revision: u64,
}

/// `"{group}/{plural}"` of a key `"{group}/{plural}/{namespace}/{name}"`.
pub fn resource_of(key: &str) -> &str {
    match key.match_indices('/').nth(1) {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

fn count_all(objects: &ObjectMap) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for key in objects.keys() {
        *counts.entry(resource_of(key).to_string()).or_insert(0) += 1;
    }
    counts
}

fn scan<'a>(
    objects: &'a ObjectMap,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Arc<StoredObject>)> {
    objects
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

impl Cache {
    /// A cache holding `objects` at `revision`.
    pub fn new(objects: ObjectMap, revision: u64) -> Cache {
        let counts = count_all(&objects);
        Cache {
            inner: RwLock::new(Inner {
                objects,
                counts,
                revision,
            }),
            revision: AtomicU64::new(revision),
        }
    }

    // A panic while holding the lock cannot leave the map half-updated (every update is a set of
    // single inserts/removes), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The object at `key`.
    pub fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        self.read().objects.get(key).cloned()
    }

    /// Objects whose key starts with `prefix`, in key order, with the revision they are current at.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, u64) {
        let inner = self.read();
        (
            scan(&inner.objects, prefix)
                .map(|(_, v)| v.clone())
                .collect(),
            inner.revision,
        )
    }

    /// Keys starting with `prefix`, in order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        scan(&self.read().objects, prefix)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The revision of the last applied change.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Object counts per `"{group}/{plural}"`, in key order.
    pub fn counts(&self) -> Vec<(String, u64)> {
        self.read()
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// All objects and the revision, for a snapshot (clones pointers, not objects).
    pub fn snapshot(&self) -> (ObjectMap, u64) {
        let inner = self.read();
        (inner.objects.clone(), inner.revision)
    }

    /// Applies `changes` (`None` = removed) and moves to `revision`, atomically for readers.
    pub fn commit(&self, changes: Vec<(String, Option<Arc<StoredObject>>)>, revision: u64) {
        let mut inner = self.write();
        for (key, value) in changes {
            let resource = resource_of(&key).to_string();
            let inserting = value.is_some();
            let existed = match value {
                Some(v) => inner.objects.insert(key, v).is_some(),
                None => inner.objects.remove(&key).is_some(),
            };
            match (existed, inserting) {
                (false, true) => *inner.counts.entry(resource).or_insert(0) += 1,
                (true, false) => {
                    if let Some(n) = inner.counts.get_mut(&resource) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            inner.counts.remove(&resource);
                        }
                    }
                }
                _ => {}
            }
        }
        inner.revision = revision;
        self.revision.store(revision, Ordering::Release);
    }

    /// Replaces everything (snapshot install).
    pub fn replace(&self, objects: ObjectMap, revision: u64) {
        let mut inner = self.write();
        inner.counts = count_all(&objects);
        inner.objects = objects;
        inner.revision = revision;
        self.revision.store(revision, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, rv: u64) -> Arc<StoredObject> {
        Arc::new(StoredObject::new(key.into(), rv, "{}".into()))
    }

    #[test]
    fn cache_should_list_by_prefix_and_count_per_resource() {
        let cache = Cache::new(ObjectMap::new(), 0);
        cache.commit(
            vec![
                ("core/pods/a/p1".into(), Some(obj("core/pods/a/p1", 1))),
                ("core/pods/b/p2".into(), Some(obj("core/pods/b/p2", 2))),
                ("core/podsx/a/p".into(), Some(obj("core/podsx/a/p", 3))),
            ],
            3,
        );
        let (items, rev) = cache.list("core/pods/");
        assert_eq!((items.len(), rev), (2, 3));
        assert_eq!(cache.list("core/pods/a/").0.len(), 1);
        assert_eq!(
            cache.counts(),
            vec![("core/pods".to_string(), 2), ("core/podsx".to_string(), 1)]
        );
        cache.commit(
            vec![
                ("core/pods/a/p1".into(), None),
                ("core/pods/b/p2".into(), Some(obj("core/pods/b/p2", 4))),
            ],
            4,
        );
        assert_eq!(
            cache.counts(),
            vec![("core/pods".to_string(), 1), ("core/podsx".to_string(), 1)]
        );
        assert_eq!(cache.revision(), 4);
        assert_eq!(
            cache.get("core/pods/b/p2").map(|o| o.resource_version),
            Some(4)
        );
        assert_eq!(resource_of("apps/deployments/ns/d"), "apps/deployments");
    }
}
