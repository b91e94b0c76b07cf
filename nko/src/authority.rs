//! Who may write what: the authority half of V (SPEC.md, "Authority").
//!
//! Users (requests the API server signs for) and the controller manager may write anything, as
//! without RBAC. A node agent `node:<name>` may write only what Kubernetes' NodeRestriction
//! admission plugin lets a kubelet write (kubernetes.io/docs/reference/access-authn-authz/
//! admission-controllers/#noderestriction), enforced here by signature instead of by credential:
//! - its own Node `core/nodes//<name>` (create and update, never delete);
//! - its Lease `coordination.k8s.io/leases/kube-node-lease/<name>`;
//! - Pods bound to it (`spec.nodeName == <name>` before the write; update and delete, no create,
//!   and an update may not move the pod);
//! - Events (create and update).
//!
//! A node's key is published in its Node object, annotation [`NODE_KEY_ANNOTATION`]. The agent
//! that creates its Node (or first writes a Node without the annotation) publishes its own key
//! there; after that, every write of `node:<name>` must be signed by the published key.

use serde_json::Value;

use crate::keys::PublicKey;
use crate::record::Op;

/// The Node annotation that publishes the node agent's key id.
pub const NODE_KEY_ANNOTATION: &str = "nko.mock-k8.io/public-key";

/// The storage key of Node `name`.
pub fn node_storage_key(name: &str) -> String {
    format!("core/nodes//{name}")
}

/// The key id a Node object publishes, if it has a well-formed one.
pub fn published_key(node: &Value) -> Option<PublicKey> {
    node.pointer("/metadata/annotations")
        .and_then(|a| a.get(NODE_KEY_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(PublicKey::from_id)
}

fn node_name_of(pod: Option<&Value>) -> Option<&str> {
    pod?.pointer("/spec/nodeName")?.as_str()
}

/// One write as authority sees it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The storage key written.
    pub key: &'a str,
    /// What happened to it.
    pub op: Op,
    /// The object before (None for a create).
    pub before: Option<&'a Value>,
    /// The object after (None for a delete; at admission of a patch, not yet known).
    pub after: Option<&'a Value>,
}

/// Whether node agent `name`, signing with `key`, may make the write `t`. `published` is the key
/// Node `name` publishes in the state before the write (None when it has none or does not exist).
///
/// # Errors
/// A sentence saying what the node may not do.
pub fn authorize_node(
    name: &str,
    key: &PublicKey,
    t: &Target<'_>,
    published: Option<PublicKey>,
) -> Result<(), String> {
    if t.key == node_storage_key(name) {
        let after_key = t.after.and_then(published_key);
        return match t.op {
            Op::Delete => Err(format!("node {name} may not delete its Node")),
            _ if published.is_some_and(|p| p != *key) => Err(format!(
                "node {name}'s Node publishes key {}, not the signing key {}",
                published.map(|p| p.id()).unwrap_or_default(),
                key.id()
            )),
            _ if t.after.is_some() && after_key != Some(*key) => Err(format!(
                "node {name}'s Node must publish the signing key in annotation {NODE_KEY_ANNOTATION}"
            )),
            _ => Ok(()),
        };
    }
    match published {
        None => {
            return Err(format!(
                "node {name} publishes no key (annotation {NODE_KEY_ANNOTATION})"
            ));
        }
        Some(p) if p != *key => {
            return Err(format!(
                "the signing key {} is not node {name}'s published key {}",
                key.id(),
                p.id()
            ));
        }
        Some(_) => {}
    }
    let lease = format!("coordination.k8s.io/leases/kube-node-lease/{name}");
    if t.key == lease || t.key.starts_with("core/events/") {
        return match t.op {
            Op::Delete => Err(format!("node {name} may not delete {}", t.key)),
            _ => Ok(()),
        };
    }
    if t.key.starts_with("core/pods/") {
        let bound = node_name_of(t.before);
        return match t.op {
            Op::Create => Err(format!("node {name} may not create pods")),
            _ if bound != Some(name) => Err(format!(
                "pod {} is bound to {}, not to node {name}",
                t.key,
                bound.unwrap_or("no node")
            )),
            Op::Update if t.after.is_some() && node_name_of(t.after) != Some(name) => Err(format!(
                "node {name} may not move pod {} to another node",
                t.key
            )),
            _ => Ok(()),
        };
    }
    Err(format!("node {name} may not write {}", t.key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use serde_json::json;

    fn node(key: &PublicKey) -> Value {
        json!({"metadata": {"name": "a", "annotations": {NODE_KEY_ANNOTATION: key.id()}}})
    }

    #[test]
    fn node_should_write_only_its_node_lease_events_and_bound_pods() {
        let a = SecretKey::from_seed(&[1; 32]).public();
        let b = SecretKey::from_seed(&[2; 32]).public();
        let n = node(&a);
        let create = Target {
            key: "core/nodes//a",
            op: Op::Create,
            before: None,
            after: Some(&n),
        };
        assert_eq!(authorize_node("a", &a, &create, None), Ok(()));
        assert!(
            authorize_node("a", &b, &create, None).is_err(),
            "must publish its own key"
        );
        let upd = Target {
            key: "core/nodes//a",
            op: Op::Update,
            before: Some(&n),
            after: Some(&n),
        };
        assert!(authorize_node("a", &b, &upd, Some(a)).is_err());
        let del = Target {
            key: "core/nodes//a",
            op: Op::Delete,
            before: Some(&n),
            after: None,
        };
        assert!(authorize_node("a", &a, &del, Some(a)).is_err());

        let on_a = json!({"spec": {"nodeName": "a"}});
        let on_b = json!({"spec": {"nodeName": "b"}});
        let status = |before| Target {
            key: "core/pods/ns/p",
            op: Op::Update,
            before: Some(before),
            after: None,
        };
        assert_eq!(authorize_node("a", &a, &status(&on_a), Some(a)), Ok(()));
        assert!(
            authorize_node("a", &a, &status(&on_b), Some(a))
                .unwrap_err()
                .contains("bound to b")
        );
        assert!(
            authorize_node("a", &b, &status(&on_a), Some(a)).is_err(),
            "wrong key"
        );
        assert!(
            authorize_node("a", &a, &status(&on_a), None).is_err(),
            "no published key"
        );
        let moved = Target {
            key: "core/pods/ns/p",
            op: Op::Update,
            before: Some(&on_a),
            after: Some(&on_b),
        };
        assert!(authorize_node("a", &a, &moved, Some(a)).is_err());
        let lease = Target {
            key: "coordination.k8s.io/leases/kube-node-lease/a",
            op: Op::Create,
            before: None,
            after: None,
        };
        assert_eq!(authorize_node("a", &a, &lease, Some(a)), Ok(()));
        let other_lease = Target {
            key: "coordination.k8s.io/leases/kube-node-lease/b",
            ..lease
        };
        assert!(authorize_node("a", &a, &other_lease, Some(a)).is_err());
        let svc = Target {
            key: "core/services/ns/s",
            op: Op::Create,
            before: None,
            after: None,
        };
        assert!(authorize_node("a", &a, &svc, Some(a)).is_err());
    }
}
