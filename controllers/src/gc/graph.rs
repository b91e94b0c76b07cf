//! The garbage collector's view of ownership (Kubernetes' `GraphBuilder`, simplified): every
//! watched object by `uid`, with its owners and whether it is being deleted, and for each owner
//! `uid` the objects that name it. Fed by the watch events of every collected kind, it also says
//! which objects an event concerns ([`Graph::apply`], [`Graph::delete`]).

use crate::reflector::ObjectRef;
use mock_k8_schemas::meta;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One owner reference, as the collector needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `apiVersion` of the owner.
    pub api_version: String,
    /// `kind` of the owner.
    pub kind: String,
    /// `name` of the owner (in the dependent's namespace, or cluster-scoped).
    pub name: String,
    /// `uid` of the owner: the reference holds only while this uid exists.
    pub uid: String,
    /// `blockOwnerDeletion`: a foreground deletion of the owner waits for this dependent.
    pub block: bool,
}

/// The owner references of `obj`.
pub fn owners(obj: &Value) -> Vec<Owner> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Owner {
                api_version: s("apiVersion")?,
                kind: s("kind")?,
                name: s("name")?,
                uid: s("uid")?,
                block: r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true),
            })
        })
        .collect()
}

/// `true` when `obj` is marked for deletion and carries `finalizer`.
pub fn deleting_with(obj: &Value, finalizer: &str) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
        && obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// What the graph knows of one object.
#[derive(Debug, Clone)]
pub struct Node {
    /// Index of its kind in the collector's kind list.
    pub kind: usize,
    /// Its key.
    pub key: ObjectRef,
    /// Its owners.
    pub owners: Vec<Owner>,
    /// Marked for deletion with the `foregroundDeletion` finalizer: waiting for its dependents.
    pub foreground: bool,
    /// Marked for deletion with the `orphan` finalizer.
    pub orphan: bool,
}

/// Objects by uid, and dependents by owner uid.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

/// A key of one kind to reconcile.
pub type Trigger = (usize, ObjectRef);

impl Graph {
    /// The object with `uid`, if the graph has seen it.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The objects naming `uid` as an owner.
    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// `true` when some object names `uid` as an owner.
    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents.get(uid).is_some_and(|d| !d.is_empty())
    }

    fn unlink(&mut self, uid: &str, owners: &[Owner]) {
        for o in owners {
            if let Some(set) = self.dependents.get_mut(&o.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
    }

    /// Records `obj` (of kind index `kind`) as added or changed; returns the objects to
    /// reconcile: its dependents when it just started a foreground or orphan deletion, and its
    /// owners when its owner list changed (a foreground owner may be waiting for it).
    pub fn apply(&mut self, kind: usize, obj: &Value) -> Vec<Trigger> {
        let Some(uid) = meta::str_field(obj, "uid").map(str::to_string) else {
            return Vec::new();
        };
        let node = Node {
            kind,
            key: ObjectRef::from_value(obj),
            owners: owners(obj),
            foreground: deleting_with(obj, super::FINALIZER_FOREGROUND),
            orphan: deleting_with(obj, super::FINALIZER_ORPHAN),
        };
        let mut out = Vec::new();
        let old = self.nodes.remove(&uid);
        if let Some(old) = &old {
            self.unlink(&uid, &old.owners);
            if old.owners != node.owners {
                out.extend(self.owner_triggers(&old.owners));
            }
        }
        let started = (node.foreground && !old.as_ref().is_some_and(|o| o.foreground))
            || (node.orphan && !old.as_ref().is_some_and(|o| o.orphan));
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.nodes.insert(uid.clone(), node);
        if started {
            out.extend(self.dependent_triggers(&uid));
        }
        out
    }

    /// Records the deletion of `obj`; returns its dependents (their owner is gone) and its owners
    /// (one may be waiting for it).
    pub fn delete(&mut self, obj: &Value) -> Vec<Trigger> {
        let Some(uid) = meta::str_field(obj, "uid") else {
            return Vec::new();
        };
        let Some(old) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        self.unlink(uid, &old.owners);
        let mut out = self.dependent_triggers(uid);
        out.extend(self.owner_triggers(&old.owners));
        out
    }

    fn dependent_triggers(&self, uid: &str) -> Vec<Trigger> {
        self.dependents(uid)
            .into_iter()
            .map(|n| (n.kind, n.key.clone()))
            .collect()
    }

    fn owner_triggers(&self, owners: &[Owner]) -> Vec<Trigger> {
        owners
            .iter()
            .filter_map(|o| self.nodes.get(&o.uid))
            .map(|n| (n.kind, n.key.clone()))
            .collect()
    }
}
