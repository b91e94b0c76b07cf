//! Tests for `D(S, E)`: fixtures are fluent builders over k8s-openapi types.

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointAddress, Endpoints, Pod, PodCondition, PodSpec, PodStatus,
    Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::*;

/// A pod builder: `pod("a").labels(..).ip(..).ready(true)`.
pub(super) struct PodB(Pod);

pub(super) fn pod(name: &str) -> PodB {
    PodB(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "c".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    })
}

impl PodB {
    pub(super) fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    pub(super) fn ns(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }
    pub(super) fn ip(mut self, ip: &str) -> Self {
        self.0.status.as_mut().unwrap().pod_ip = Some(ip.into());
        self
    }
    pub(super) fn ready(mut self, ready: bool) -> Self {
        self.0.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]);
        self
    }
    pub(super) fn phase(mut self, phase: &str) -> Self {
        self.0.status.as_mut().unwrap().phase = Some(phase.into());
        self
    }
    pub(super) fn terminating(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        self
    }
    pub(super) fn named_port(mut self, name: &str, port: i32) -> Self {
        let c = &mut self.0.spec.as_mut().unwrap().containers[0];
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            name: Some(name.into()),
            container_port: port,
            ..Default::default()
        });
        self
    }
    pub(super) fn build(self) -> Pod {
        self.0
    }
}

/// A service selecting `app=web` with one port 80 → `target`.
pub(super) fn service(target: Option<IntOrString>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            labels: Some([("tier".to_string(), "front".to_string())].into()),
            uid: Some("svc-uid".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some([("app".to_string(), "web".to_string())].into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: target,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn ips(addrs: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
    addrs.iter().flatten().map(|a| a.ip.as_str()).collect()
}

fn subsets(e: &Endpoints) -> &[k8s_openapi::api::core::v1::EndpointSubset] {
    e.subsets.as_deref().unwrap_or_default()
}

const METEOR_POD: &str = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"mongo","labels":{"name":"mongo","role":"mongo"}},
 "spec":{"containers":[{"name":"mongo","image":"mongo:latest","ports":[{"name":"mongo","containerPort":27017}]}]}}"#;
const METEOR_SERVICE: &str = r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"mongo","labels":{"name":"mongo"}},
 "spec":{"ports":[{"port":27017,"targetPort":"mongo"}],"selector":{"name":"mongo","role":"mongo"}}}"#;

#[test]
fn compute_endpoints_should_resolve_meteor_mongo_named_target_port() {
    // /work/shared/manifests/meteor-mongo-{pod,service}.json, the pod as the node agent would run it.
    let mut mongo: Pod = serde_json::from_str(METEOR_POD).unwrap();
    let svc: Service = serde_json::from_str(METEOR_SERVICE).unwrap();
    mongo.spec.as_mut().unwrap().node_name = Some("node-7".into());
    mongo.status = pod("x").ip("10.244.3.5").ready(true).build().status;

    let ep = compute_endpoints(&svc, &[mongo]).unwrap();
    assert_eq!(ep.metadata.name.as_deref(), Some("mongo"));
    assert_eq!(ep.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(ep.metadata.labels.as_ref().unwrap()["name"], "mongo");
    let s = subsets(&ep);
    assert_eq!(s.len(), 1);
    assert_eq!(ips(&s[0].addresses), ["10.244.3.5"]);
    let addr = &s[0].addresses.as_ref().unwrap()[0];
    assert_eq!(addr.node_name.as_deref(), Some("node-7"));
    let target = addr.target_ref.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_deref(), target.name.as_deref()),
        (Some("Pod"), Some("mongo"))
    );
    let port = &s[0].ports.as_ref().unwrap()[0];
    assert_eq!((port.port, port.protocol.as_deref()), (27017, Some("TCP")));
    assert_eq!(port.name, None);
}

#[test]
fn compute_endpoints_should_split_ready_and_not_ready() {
    let svc = service(Some(IntOrString::Int(8080)));
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.10")
            .ready(true)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.9")
            .ready(false)
            .build(),
        pod("c")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(true)
            .build(),
        pod("other")
            .label("app", "db")
            .ip("10.0.0.3")
            .ready(true)
            .build(),
        pod("elsewhere")
            .label("app", "web")
            .ns("prod")
            .ip("10.0.0.4")
            .ready(true)
            .build(),
        pod("no-ip").label("app", "web").ready(true).build(),
        pod("done")
            .label("app", "web")
            .ip("10.0.0.5")
            .phase("Succeeded")
            .build(),
        pod("failed")
            .label("app", "web")
            .ip("10.0.0.6")
            .phase("Failed")
            .ready(true)
            .build(),
    ];
    let ep = compute_endpoints(&svc, &pods).unwrap();
    let s = subsets(&ep);
    assert_eq!(s.len(), 1);
    // Numeric IP order: .2 before .10.
    assert_eq!(ips(&s[0].addresses), ["10.0.0.2", "10.0.0.10"]);
    assert_eq!(ips(&s[0].not_ready_addresses), ["10.0.0.9"]);
    assert_eq!(s[0].ports.as_ref().unwrap()[0].port, 8080);
    assert_eq!(
        s[0].ports.as_ref().unwrap()[0].name.as_deref(),
        Some("http")
    );
}

#[test]
fn compute_endpoints_should_exclude_terminating_pods_unless_publish_not_ready() {
    let mut svc = service(None);
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.1")
            .ready(true)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(true)
            .terminating()
            .build(),
        pod("c")
            .label("app", "web")
            .ip("10.0.0.3")
            .ready(false)
            .build(),
    ];
    let ep = compute_endpoints(&svc, &pods).unwrap();
    assert_eq!(ips(&subsets(&ep)[0].addresses), ["10.0.0.1"]);
    assert_eq!(ips(&subsets(&ep)[0].not_ready_addresses), ["10.0.0.3"]);
    // targetPort absent → port.
    assert_eq!(subsets(&ep)[0].ports.as_ref().unwrap()[0].port, 80);

    svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    let ep = compute_endpoints(&svc, &pods).unwrap();
    assert_eq!(
        ips(&subsets(&ep)[0].addresses),
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    );
    assert!(subsets(&ep)[0].not_ready_addresses.is_none());
}

#[test]
fn compute_endpoints_should_leave_selectorless_and_external_name_services_alone() {
    let mut svc = service(None);
    svc.spec.as_mut().unwrap().selector = None;
    let pods = [pod("a")
        .label("app", "web")
        .ip("10.0.0.1")
        .ready(true)
        .build()];
    assert!(compute_endpoints(&svc, &pods).is_none());
    assert!(compute_endpoint_slices(&svc, &pods).is_none());
    svc.spec.as_mut().unwrap().selector = Some(Default::default());
    assert!(compute_endpoints(&svc, &pods).is_none());

    let mut ext = service(None);
    ext.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
    assert!(compute_endpoints(&ext, &pods).is_none());
}

#[test]
fn compute_endpoints_should_group_pods_by_resolved_port_numbers() {
    let svc = service(Some(IntOrString::String("web".into())));
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.1")
            .ready(true)
            .named_port("web", 8080)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(true)
            .named_port("web", 9090)
            .build(),
        pod("c")
            .label("app", "web")
            .ip("10.0.0.3")
            .ready(false)
            .named_port("web", 8080)
            .build(),
        // Lacks the named port: left out.
        pod("d")
            .label("app", "web")
            .ip("10.0.0.4")
            .ready(true)
            .build(),
    ];
    let ep = compute_endpoints(&svc, &pods).unwrap();
    let s = subsets(&ep);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].ports.as_ref().unwrap()[0].port, 8080);
    assert_eq!(ips(&s[0].addresses), ["10.0.0.1"]);
    assert_eq!(ips(&s[0].not_ready_addresses), ["10.0.0.3"]);
    assert_eq!(s[1].ports.as_ref().unwrap()[0].port, 9090);
    assert_eq!(ips(&s[1].addresses), ["10.0.0.2"]);

    let slices = compute_endpoint_slices(&svc, &pods).unwrap();
    let names: Vec<_> = slices
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["web-mk8", "web-mk8-1"]);
    assert_eq!(slices[0].endpoints.len(), 2);
    assert_eq!(slices[1].ports.as_ref().unwrap()[0].port, Some(9090));
}

#[test]
fn compute_endpoints_should_keep_a_pod_in_the_ports_it_resolves() {
    let mut svc = service(Some(IntOrString::String("web".into())));
    svc.spec
        .as_mut()
        .unwrap()
        .ports
        .as_mut()
        .unwrap()
        .push(ServicePort {
            name: Some("metrics".into()),
            port: 9100,
            ..Default::default()
        });
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.1")
            .ready(true)
            .named_port("web", 8080)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(true)
            .build(),
    ];
    let ep = compute_endpoints(&svc, &pods).unwrap();
    let s = subsets(&ep);
    assert_eq!(s.len(), 2);
    let port_sets: Vec<Vec<i32>> = s
        .iter()
        .map(|s| s.ports.iter().flatten().map(|p| p.port).collect())
        .collect();
    assert_eq!(port_sets, [vec![8080, 9100], vec![9100]]);
    assert_eq!(ips(&s[0].addresses), ["10.0.0.1"]);
    assert_eq!(ips(&s[1].addresses), ["10.0.0.2"]);
}

#[test]
fn compute_endpoints_should_be_deterministic_under_shuffling() {
    let svc = service(Some(IntOrString::String("web".into())));
    let mut pods: Vec<Pod> = (0..12)
        .map(|i| {
            pod(&format!("p{i}"))
                .label("app", "web")
                .ip(&format!("10.0.{}.{}", i % 3, 20 - i))
                .ready(i % 4 != 0)
                .named_port("web", 8000 + (i % 2))
                .build()
        })
        .collect();
    let expected = serde_json::to_string(&compute_endpoints(&svc, &pods)).unwrap();
    let expected_slices = serde_json::to_string(&compute_endpoint_slices(&svc, &pods)).unwrap();
    // A fixed permutation sequence (no RNG needed): rotate and reverse.
    for k in 0..pods.len() {
        pods.rotate_left(k);
        if k % 2 == 0 {
            pods.reverse();
        }
        assert_eq!(
            serde_json::to_string(&compute_endpoints(&svc, &pods)).unwrap(),
            expected
        );
        assert_eq!(
            serde_json::to_string(&compute_endpoint_slices(&svc, &pods)).unwrap(),
            expected_slices
        );
    }
}

#[test]
fn compute_endpoints_should_give_no_subsets_when_nothing_matches() {
    let svc = service(None);
    let ep = compute_endpoints(&svc, &[]).unwrap();
    assert!(ep.subsets.is_none());
    let json = serde_json::to_value(&ep).unwrap();
    assert!(json.get("subsets").is_none());
    // EndpointSlice: one empty placeholder.
    let slices = compute_endpoint_slices(&svc, &[]).unwrap();
    assert_eq!(slices.len(), 1);
    assert!(slices[0].endpoints.is_empty());
}

#[test]
fn compute_endpoints_should_list_headless_pods_without_ports() {
    let mut svc = service(None);
    let spec = svc.spec.as_mut().unwrap();
    spec.cluster_ip = Some("None".into());
    spec.ports = None;
    let mut p = pod("minio-0")
        .label("app", "web")
        .ip("10.0.0.7")
        .ready(true)
        .build();
    let ps = p.spec.as_mut().unwrap();
    ps.hostname = Some("minio-0".into());
    ps.subdomain = Some("web".into());
    let ep = compute_endpoints(&svc, &[p]).unwrap();
    assert_eq!(ep.metadata.labels.as_ref().unwrap()[LABEL_HEADLESS], "");
    let s = subsets(&ep);
    assert!(s[0].ports.is_none());
    let addr = &s[0].addresses.as_ref().unwrap()[0];
    assert_eq!(addr.hostname.as_deref(), Some("minio-0"));
}

#[test]
fn endpoints_equal_should_ignore_metadata_noise_and_order() {
    let svc = service(None);
    let pods = [
        pod("a")
            .label("app", "web")
            .ip("10.0.0.1")
            .ready(true)
            .build(),
        pod("b")
            .label("app", "web")
            .ip("10.0.0.2")
            .ready(true)
            .build(),
    ];
    let a = compute_endpoints(&svc, &pods).unwrap();
    let mut b = a.clone();
    b.metadata.resource_version = Some("42".into());
    b.metadata.uid = Some("x".into());
    b.subsets.as_mut().unwrap()[0]
        .addresses
        .as_mut()
        .unwrap()
        .reverse();
    assert!(endpoints_equal(&a, &b));
    b.subsets.as_mut().unwrap()[0]
        .addresses
        .as_mut()
        .unwrap()
        .pop();
    assert!(!endpoints_equal(&a, &b));

    let empty = compute_endpoints(&svc, &[]).unwrap();
    let mut empty_list = empty.clone();
    empty_list.subsets = Some(vec![]);
    assert!(endpoints_equal(&empty, &empty_list));
    let mut relabelled = empty.clone();
    relabelled.metadata.labels = None;
    assert!(!endpoints_equal(&empty, &relabelled));
}
