//! Kubelet admission: does a pod bound to this node fit beside the pods already admitted there?
//!
//! Follows the kubelet's resource admission (`lifecycle.PredicateAdmitHandler` with the scheduler's
//! `NodeResourcesFit` arithmetic): a pod is rejected when the node's allocatable pod count, cpu, memory
//! or any other requested resource (ephemeral-storage, `nvidia.com/gpu`, …) would be exceeded. The
//! rejected pod ends `Failed` with reason `OutOf<resource>` (`OutOfcpu`, `OutOfmemory`, `OutOfpods`).

use k8s_openapi::api::core::v1::{Node, Pod};

use super::resources::{CPU, MEMORY, PODS, ResourceAmounts, node_allocatable, pod_requests};

/// Why the kubelet refused a pod: it becomes the pod's `status.reason` and `status.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `OutOf<resource>`, e.g. `OutOfcpu`, `OutOfmemory`, `OutOfpods`, `OutOfnvidia.com/gpu`.
    pub reason: String,
    /// Kubernetes' wording: `Pod was rejected: Node didn't have enough resource: cpu, requested: 2000,
    /// used: 3500, capacity: 4000` (cpu in millicores, other resources in base units).
    pub message: String,
}

/// Admits `pod` on `node` given the pods already admitted there.
///
/// `admitted` may contain `pod` itself and terminal pods (`Succeeded`/`Failed`): both are ignored.
/// Resources missing from the node's allocatable (or capacity) count as 0, except `pods`, which is
/// then unlimited.
///
/// # Errors
/// The [`Rejection`] for the first insufficient resource, checked in Kubernetes' order: `pods`, `cpu`,
/// `memory`, then the others by name.
pub fn admit<'a>(
    pod: &Pod,
    node: &Node,
    admitted: impl IntoIterator<Item = &'a Pod>,
) -> Result<(), Rejection> {
    let uid = pod.metadata.uid.as_deref();
    let others: Vec<AdmittedRequests> = admitted
        .into_iter()
        .filter(|p| !is_terminal(p))
        .filter(|p| uid.is_none() || p.metadata.uid.as_deref() != uid)
        .map(admitted_requests)
        .collect();
    admit_requests(pod, node, others.iter().map(|r| &r[..]))
}

/// What admission keeps of an admitted pod: its effective requests ([`pod_requests`]) as
/// `(resource, amount)` pairs, without the pod (a node agent holds one per running pod).
pub type AdmittedRequests = Box<[(String, i128)]>;

/// The [`AdmittedRequests`] of `pod`.
pub fn admitted_requests(pod: &Pod) -> AdmittedRequests {
    pod_requests(pod).into_iter().collect()
}

/// [`admit`] given the requests of the other non-terminal pods admitted on `node` (`pod` itself
/// not among them), as [`admitted_requests`] gives them.
///
/// # Errors
/// As [`admit`].
pub fn admit_requests<'a>(
    pod: &Pod,
    node: &Node,
    others: impl IntoIterator<Item = &'a [(String, i128)]>,
) -> Result<(), Rejection> {
    let allocatable = node_allocatable(node);
    let mut count: i128 = 0;
    let mut used = ResourceAmounts::new();
    for other in others {
        count += 1;
        for (name, v) in other {
            *used.entry(name.clone()).or_insert(0) += v;
        }
    }

    if let Some(&capacity) = allocatable.get(PODS)
        && count + 1 > capacity
    {
        return Err(rejection(PODS, 1, count, capacity));
    }

    let requested = pod_requests(pod);
    let mut names: Vec<&String> = requested.keys().filter(|n| n.as_str() != PODS).collect();
    names.sort_by_key(|n| (rank(n), n.as_str()));
    for name in names {
        let want = requested.get(name).copied().unwrap_or(0);
        if want <= 0 {
            continue;
        }
        let capacity = allocatable.get(name).copied().unwrap_or(0);
        let in_use = used.get(name).copied().unwrap_or(0);
        if in_use + want > capacity {
            return Err(rejection(name, want, in_use, capacity));
        }
    }
    Ok(())
}

fn rank(name: &str) -> u8 {
    match name {
        CPU => 0,
        MEMORY => 1,
        _ => 2,
    }
}

fn rejection(resource: &str, requested: i128, used: i128, capacity: i128) -> Rejection {
    Rejection {
        reason: format!("OutOf{resource}"),
        message: format!(
            "Pod was rejected: Node didn't have enough resource: {resource}, requested: {requested}, \
             used: {used}, capacity: {capacity}"
        ),
    }
}

/// True for pods in phase `Succeeded` or `Failed`: they hold no resources.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::testing::{container, node, pod_with, with_phase, with_uid};

    fn cpu_pod(uid: &str, cpu: &str) -> Pod {
        with_uid(
            pod_with(vec![container("c", &[("cpu", cpu)], &[])], vec![]),
            uid,
        )
    }

    #[test]
    fn admit_should_check_each_resource_with_kubernetes_wording() {
        let n = node(&[
            ("cpu", "4"),
            ("memory", "8Gi"),
            ("pods", "3"),
            ("nvidia.com/gpu", "1"),
        ]);
        let running = [cpu_pod("a", "2"), cpu_pod("b", "1500m")];
        let full = [cpu_pod("a", "1m"), cpu_pod("b", "1m"), cpu_pod("c", "1m")];
        let done_and_self = [
            with_phase(cpu_pod("a", "4"), "Succeeded"),
            cpu_pod("p", "2"),
        ];
        let gpu = |n: &str| {
            with_uid(
                pod_with(vec![container("c", &[], &[("nvidia.com/gpu", n)])], vec![]),
                "g",
            )
        };
        // (what, pod, admitted pods, Ok or Err((reason, message part)))
        type Row<'a> = (&'a str, Pod, &'a [Pod], Result<(), (&'a str, &'a str)>);
        let rows: Vec<Row> = vec![
            // 2000 + 1500 used, +500 = 4000 ≤ 4000
            ("fits exactly", cpu_pod("p", "500m"), &running, Ok(())),
            // 3500 used + 2000 > 4000
            (
                "cpu",
                cpu_pod("p", "2"),
                &running,
                Err((
                    "OutOfcpu",
                    "Node didn't have enough resource: cpu, requested: 2000, used: 3500, capacity: 4000",
                )),
            ),
            (
                "memory from limits",
                with_uid(
                    pod_with(vec![container("c", &[], &[("memory", "9Gi")])], vec![]),
                    "m",
                ),
                &[],
                Err((
                    "OutOfmemory",
                    "Node didn't have enough resource: memory, requested: 9663676416, used: 0, capacity: 8589934592",
                )),
            ),
            ("gpu fits", gpu("1"), &[], Ok(())),
            (
                "gpu",
                gpu("2"),
                &[],
                Err(("OutOfnvidia.com/gpu", "requested: 2, used: 0, capacity: 1")),
            ),
            (
                "pods",
                cpu_pod("p", "1m"),
                &full,
                Err((
                    "OutOfpods",
                    "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3",
                )),
            ),
            (
                "terminal pods and itself are not counted",
                cpu_pod("p", "2"),
                &done_and_self,
                Ok(()),
            ),
            (
                "unknown resource has capacity 0",
                with_uid(
                    pod_with(
                        vec![container("c", &[("example.com/foo", "1")], &[])],
                        vec![],
                    ),
                    "f",
                ),
                &[],
                Err(("OutOfexample.com/foo", "capacity: 0")),
            ),
        ];
        for (what, pod, admitted, want) in rows {
            match (admit(&pod, &n, admitted), want) {
                (Ok(()), Ok(())) => {}
                (Err(r), Err((reason, msg))) => {
                    assert_eq!(r.reason, reason, "{what}");
                    assert!(r.message.contains(msg), "{what}: {}", r.message);
                }
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }
}
