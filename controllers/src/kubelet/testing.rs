//! Test fixtures for the kubelet logic: small builders of pods, nodes and observations.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{
    Container, Node, NodeStatus, Pod, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::container::{ContainerKind, ContainerState};

use super::{ObservedContainer, PodObservation};

fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    (!pairs.is_empty()).then(|| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    })
}

/// A container with these requests and limits.
pub fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
    Container {
        name: name.into(),
        image: Some(format!("{name}-image")),
        resources: Some(ResourceRequirements {
            requests: list(requests),
            limits: list(limits),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod `default/p` (uid `uid-p`) with these containers.
pub fn pod_with(containers: Vec<Container>, init: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            uid: Some("uid-p".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            init_containers: (!init.is_empty()).then_some(init),
            ..Default::default()
        }),
        status: None,
    }
}

/// The same pod with another UID.
pub fn with_uid(mut pod: Pod, uid: &str) -> Pod {
    pod.metadata.uid = Some(uid.into());
    pod
}

/// The same pod with `status.phase` set.
pub fn with_phase(mut pod: Pod, phase: &str) -> Pod {
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        ..Default::default()
    });
    pod
}

/// The same pod with `spec.restartPolicy` set.
pub fn with_policy(mut pod: Pod, policy: &str) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.restart_policy = Some(policy.into());
    }
    pod
}

/// A node with this allocatable.
pub fn node(allocatable: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("n1".into()),
            ..Default::default()
        },
        spec: None,
        status: Some(NodeStatus {
            allocatable: list(allocatable),
            ..Default::default()
        }),
    }
}

/// A fixed instant: `t(s)` is `s` seconds after 2026-01-01T00:00:00Z.
pub fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + secs)
}

/// An observed container with its image pulled and a current instance in `state`.
pub fn observed(name: &str, kind: ContainerKind, state: ContainerState) -> ObservedContainer {
    ObservedContainer {
        image_id: Some("sha256:abc".into()),
        container_id: Some(format!("id-{name}")),
        state: Some(state),
        ..ObservedContainer::new(name, kind)
    }
}

/// Running since `t(started)`.
pub fn running(started: u64) -> ContainerState {
    ContainerState::Running {
        started_at: t(started),
    }
}

/// Exited with `code` at `t(finished)` after starting at `t(started)`.
pub fn exited(code: i32, started: u64, finished: u64) -> ContainerState {
    ContainerState::Exited {
        exit_code: code,
        reason: if code == 0 {
            "Completed".into()
        } else {
            "Error".into()
        },
        started_at: Some(t(started)),
        finished_at: t(finished),
    }
}

/// An observation of these containers.
pub fn obs(containers: Vec<ObservedContainer>) -> PodObservation {
    PodObservation {
        rejection: None,
        containers,
    }
}
