//! Binding feasibility at admission (`nko/SPEC.md` §4): with verification enabled, a Binding whose
//! pod no longer fits its node — requests beyond allocatable, or the node at its pod limit — is
//! refused (403) before it is proposed.
//!
//! The check must stay cheap at 10,000s of pods, so it reads a [`Ledger`]: the nodes with the pods
//! bound to them ([`SchedulingReplay`] without history), built from one LIST on first use and then
//! caught up from store watches on each check, without a task of its own: whatever changes are
//! already committed are applied (never awaited), so a check sees every commit before it began
//! except those still in flight. Two bindings racing to the last room of a node can both pass —
//! the verifier's replay then reports the second as infeasible (a manual binding) or not optimal.

use std::sync::Mutex;

use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;
use mock_k8_controllers::scheduler::replay::SchedulingReplay;

use crate::store::watch::WatchReceiver;
use crate::store::{Store, StoreError};

const PODS: &str = "core/pods/";
const NODES: &str = "core/nodes/";

struct State {
    view: SchedulingReplay,
    pods: WatchReceiver,
    nodes: WatchReceiver,
}

/// The lazily built node-and-pods view; see the module docs.
#[derive(Default)]
pub struct Ledger {
    state: Mutex<Option<State>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

fn build(store: &Store) -> Result<State, StoreError> {
    let mut view = SchedulingReplay::without_history();
    let (nodes, nodes_rev) = store.list(NODES);
    let (pods, pods_rev) = store.list(PODS);
    for o in nodes.iter().chain(pods.iter()) {
        view.load(&o.key, &o.json);
    }
    Ok(State {
        view,
        pods: store.watch(PODS, pods_rev)?,
        nodes: store.watch(NODES, nodes_rev)?,
    })
}

/// Applies every change `rx` has ready; `Err` when the watch failed (fell behind).
fn drain(view: &mut SchedulingReplay, rx: &mut WatchReceiver) -> Result<(), StoreError> {
    while let Some(next) = rx.recv().now_or_never() {
        let rec = next?;
        let after = match rec.event_type {
            mock_k8_schemas::watch::EventType::Deleted => None,
            _ => Some(&*rec.object.json),
        };
        view.apply(rec.revision, &rec.object.key, after);
    }
    Ok(())
}

impl Ledger {
    /// Whether pod (JSON) fits `node` in the committed state.
    ///
    /// # Errors
    /// The message of the 403: which resource is short, or the pod limit. A store that cannot be
    /// listed or watched lets the binding through (the check is best effort; V still checks).
    pub fn check(&self, store: &Store, pod: &serde_json::Value, node: &str) -> Result<(), String> {
        let Ok(pod) = serde_json::from_value::<Pod>(pod.clone()) else {
            return Ok(());
        };
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = build(store).ok();
        }
        let Some(s) = guard.as_mut() else {
            return Ok(());
        };
        if drain(&mut s.view, &mut s.nodes)
            .and_then(|()| drain(&mut s.view, &mut s.pods))
            .is_err()
        {
            // Fell behind the watch history: rebuild from a fresh list.
            *guard = build(store).ok();
        }
        match guard.as_ref() {
            Some(s) => s.view.fits(&pod, node),
            None => Ok(()),
        }
    }
}
