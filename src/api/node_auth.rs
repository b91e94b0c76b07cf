//! Who may register and renew nodes: a write to a Node, or to a Lease in `kube-node-lease`, from
//! another host needs the cluster's join token, or the signature of a node whose key was
//! registered with it.
//!
//! Kubernetes admits kubelets with a bootstrap token and then their own credentials
//! (NodeRestriction). Here, as the API has no user authentication, the same steps are:
//! - a request from a loopback address (the member's own host) is admitted, as kube-apiserver's
//!   former insecure port on localhost admitted everything. This keeps `kubectl apply` of a Node
//!   working on one machine: kubectl (client-go) sends no bearer token over plain HTTP;
//! - `Authorization: Bearer <join token>` (what `mock_k8 agent --token` sends; `curl -H` for
//!   users) admits any create, update or patch of Nodes and node Leases;
//! - a request signed as `node:<n>` (NKO, `nko/SPEC.md` §4, verified by admission) is admitted
//!   without the token when Node `<n>` exists and publishes the signing key (annotation
//!   `nko.mock-k8.io/public-key`): its key was registered by a write that had the token. NKO
//!   admission confines such a request to the node's own Node, Lease, Events and pods.
//!
//! Reads, deletes and every other resource stay open. The check is off when the state carries no
//! token ([`super::ApiState::with_node_token`]): the in-process controllers and node agents of a
//! member call an API router without one, as do the API's unit tests.

use axum::http::{HeaderMap, header};
use mock_k8_nko::authority;
use mock_k8_schemas::Status;

use super::Ctx;
use super::error::ApiError;
use crate::nko::admission::Admission;
use crate::store::membership::constant_time_eq;

/// The namespace of node heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Whether a write to `ctx`'s path registers or renews a node: a Node (any subresource) or a
/// Lease in [`NODE_LEASE_NAMESPACE`].
pub fn is_node_write(ctx: &Ctx) -> bool {
    let r = ctx.path.resource;
    match (r.group, r.plural) {
        ("", "nodes") => true,
        ("coordination.k8s.io", "leases") => {
            ctx.path.namespace.as_deref() == Some(NODE_LEASE_NAMESPACE)
        }
        _ => false,
    }
}

/// Checks a create, update or patch of a Node or node Lease (see the module docs) once NKO
/// admission has run; other writes pass.
///
/// # Errors
/// 401 Unauthorized without the token or a registered node's signature; 403 Forbidden with a
/// bearer credential that is not the join token.
pub fn check(ctx: &Ctx, admission: &Admission) -> Result<(), ApiError> {
    let Some(token) = ctx.state.node_token.as_deref() else {
        return Ok(());
    };
    if !is_node_write(ctx)
        || ctx
            .peer
            .is_some_and(|p| p.ip().to_canonical().is_loopback())
    {
        return Ok(());
    }
    match bearer(&ctx.headers) {
        Some(given) if constant_time_eq(given, token) => return Ok(()),
        Some(_) => {
            return Err(Status::new(
                403,
                "Forbidden",
                "registering or updating Nodes and node Leases: the bearer token is not this \
                 cluster's join token",
            )
            .into());
        }
        None => {}
    }
    if registered_node(ctx, admission) {
        return Ok(());
    }
    Err(Status::new(
        401,
        "Unauthorized",
        "registering or updating Nodes and node Leases from another host needs the cluster \
         join token (Authorization: Bearer <token>), or the signature of a node whose key was \
         registered with it",
    )
    .into())
}

/// Whether the request is signed (and verified) as `node:<n>` with the key Node `<n>` publishes.
fn registered_node(ctx: &Ctx, admission: &Admission) -> bool {
    if !admission.enforced || admission.actor_sig.is_none() {
        return false;
    }
    let Some(node) = admission.claim.actor.strip_prefix("node:") else {
        return false;
    };
    let Some(stored) = ctx.state.store.get(&authority::node_storage_key(node)) else {
        return false;
    };
    let Ok(object) = super::crud::parse_stored(&stored) else {
        return false;
    };
    authority::published_key(&object) == Some(admission.claim.key)
}

/// The credential of an `Authorization: Bearer <credential>` header (RFC 6750 §2.1), if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}
