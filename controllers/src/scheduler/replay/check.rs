//! V itself: which transitions are bindings, the feasibility check of manual binds, and the
//! recomputation of a scheduling proof on the rolled-back view (`nko/SPEC.md` §8.1–8.2).

use super::*;

impl SchedulingReplay {
    /// V for the transition `rev` of pod `key` from `before` to `after` (JSON) with `proof` bytes,
    /// on the state before it. Not a binding (the pod was bound before, or is not after): accept.
    /// A binding by a controller must carry a [`SchedulingProof`]; any other binding is checked
    /// for feasibility (a [`BindingFeasibilityProof`], or none: the same check).
    pub fn check(
        &mut self,
        rev: u64,
        key: &str,
        before: Option<&str>,
        after: Option<&str>,
        proof: &[u8],
        by_controller: bool,
    ) -> Verdict {
        let Target::Pod(pod_key) = target(key) else {
            return Verdict::Accept;
        };
        let parse = |j: Option<&str>| j.and_then(|j| serde_json::from_str::<Pod>(j).ok());
        let (Some(before), Some(after)) = (parse(before), parse(after)) else {
            return Verdict::Accept;
        };
        let Some(node) = node_of(&after).map(str::to_owned) else {
            return Verdict::Accept;
        };
        if node_of(&before).is_some() {
            return Verdict::Accept;
        }
        match kind_of(proof).as_deref() {
            Some(kinds::SCHEDULING) => match serde_json::from_slice::<SchedulingProof>(proof) {
                Ok(p) => self.check_scheduling(rev, &pod_key, &after, &node, &p),
                Err(e) => Verdict::Reject(format!("scheduling proof does not parse: {e}")),
            },
            Some(kinds::BINDING_FEASIBILITY) if !by_controller => {
                match serde_json::from_slice::<BindingFeasibilityProof>(proof) {
                    Ok(p) if p.node == node => self.check_feasible(&before, &node),
                    Ok(p) => Verdict::Reject(format!(
                        "feasibility proof names node {:?}, the binding {node:?}",
                        p.node
                    )),
                    Err(e) => Verdict::Reject(format!("feasibility proof does not parse: {e}")),
                }
            }
            None if !by_controller => self.check_feasible(&before, &node),
            None => Verdict::Reject(format!(
                "binding of {pod_key} to {node:?} carries no scheduling proof"
            )),
            Some(other) => {
                Verdict::Reject(format!("a binding cannot carry a proof of kind {other:?}"))
            }
        }
    }

    /// A manual binding's V: the pod fits the node in the state it was committed on.
    fn check_feasible(&self, pod: &Pod, node: &str) -> Verdict {
        match self.fits(pod, node) {
            Ok(()) => Verdict::Accept,
            Err(why) => Verdict::RejectIfEnforced(format!("manual binding: {why}")),
        }
    }

    fn check_scheduling(
        &mut self,
        rev: u64,
        pod_key: &str,
        after: &Pod,
        node: &str,
        p: &SchedulingProof,
    ) -> Verdict {
        let reject = |why: String| Verdict::Reject(format!("scheduling proof: {why}"));
        if p.decision.node != node {
            return reject(format!(
                "decision picks {:?}, the binding is to {node:?}",
                p.decision.node
            ));
        }
        if p.decision.pod != pod_key {
            return reject(format!("decision is for pod {:?}", p.decision.pod));
        }
        if p.pod_uid.is_some() && p.pod_uid != after.metadata.uid {
            return reject("pod uid differs from the bound pod's".into());
        }
        for (what, r) in [
            ("nodes", p.nodes_revision),
            ("pods", p.pods_revision),
            ("pod", p.pod_resource_version),
        ] {
            if !Self::reaches(r, rev) {
                return reject(format!(
                    "{what} revision {r} is not within {WINDOW} revisions before {rev}"
                ));
            }
        }
        let Some(pod) = self.pod_version(pod_key, p.pod_resource_version) else {
            return reject(format!(
                "no version {} of pod {pod_key} in the history",
                p.pod_resource_version
            ));
        };
        let policy = match Policy::by_name(&p.decision.policy) {
            Ok(policy) => policy,
            Err(e) => return reject(format!("unknown policy: {e}")),
        };
        // An assumed pod may be newer than `podsRevision`: the scheduler's queue can see (and
        // bind) a pod before its cache's pod watch gets there. Such a pod is taken as it is just
        // before this record (its spec, and so its requests, cannot have changed), if it is
        // unbound there or bound to the node it was assumed on.
        let newer: HashMap<String, Arc<Pod>> = p
            .assumed
            .iter()
            .filter_map(|a| {
                let seen = self.pods.get(&a.pod)?;
                let on = node_of(seen);
                (on.is_none() || on == Some(a.node.as_str())).then(|| {
                    let mut unbound = Pod::clone(seen);
                    if let Some(spec) = unbound.spec.as_mut() {
                        spec.node_name = None;
                    }
                    (a.pod.clone(), Arc::new(unbound))
                })
            })
            .collect();
        // Roll back to the proof's revisions, count the assumed pods, recompute, roll forward.
        self.rolled_back(p.nodes_revision, p.pods_revision, |v| {
            v.recompute(&pod, p, &policy, &newer)
        })
    }

    /// Counts the assumed pods (as of the proof's revisions, or from `newer`), runs V of the
    /// decision, uncounts them.
    fn recompute(
        &mut self,
        pod: &Pod,
        p: &SchedulingProof,
        policy: &Policy,
        newer: &HashMap<String, Arc<Pod>>,
    ) -> Verdict {
        let mut counted = Vec::new();
        let mut verdict = Verdict::Accept;
        for a in &p.assumed {
            let Some(ap) = self
                .pods
                .get(&a.pod)
                .cloned()
                .or_else(|| newer.get(&a.pod).cloned())
            else {
                verdict = Verdict::Reject(format!(
                    "scheduling proof: assumed pod {} does not exist at revision {}",
                    a.pod, p.pods_revision
                ));
                break;
            };
            if node_of(&ap).is_some() || is_terminal(&ap) {
                verdict = Verdict::Reject(format!(
                    "scheduling proof: assumed pod {} is already bound or terminal at revision {}",
                    a.pod, p.pods_revision
                ));
                break;
            }
            if let Some(&i) = self.index.get(&a.node)
                && self.nodes[i].assume(&ap)
            {
                counted.push((i, a.pod.clone()));
            }
        }
        let mut decision = p.decision.clone();
        if decision.assumed_pods.is_empty() {
            decision.assumed_pods = p.assumed.iter().map(|a| a.pod.clone()).collect();
        }
        self.refresh_order();
        let nodes = NodesByName::with_order(&self.nodes, &self.order);
        if verdict == Verdict::Accept
            && let Err(why) = verify_summary_in(&decision, pod, &nodes, policy, &mut self.scratch)
        {
            verdict = Verdict::Reject(format!(
                "scheduling proof (state of nodes at revision {}, pods at {}): {why}",
                p.nodes_revision, p.pods_revision
            ));
        }
        for (i, key) in counted {
            self.nodes[i].forget(&key);
        }
        verdict
    }
}
