//! The pure parts of the Docker runtime: the pod → Docker mapping and Docker → runtime states.
//! (The engine-facing behaviour is checked by the conformance suite in `tests/e2e/docker`.)

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use bollard::models::{ContainerStateStatusEnum, EventActor, EventMessage};

use super::convert::{container_event, container_state, parse_time};
use super::spec::{self, LABEL_NODE, LABEL_POD_UID, LABEL_RESTART_COUNT, LABEL_ROLE};
use crate::container::{
    ContainerConfig, ContainerEventKind, ContainerKind, ContainerResources, ContainerState,
    SandboxConfig, SandboxNetwork, SandboxPort,
};

fn container() -> ContainerConfig {
    ContainerConfig {
        pod_uid: "u1".into(),
        pod_namespace: "default".into(),
        pod_name: "web".into(),
        container_name: "app".into(),
        kind: ContainerKind::Init,
        image: "busybox".into(),
        command: vec!["sh".into()],
        args: vec![],
        env: vec![("A".into(), "1".into())],
        working_dir: Some("/srv".into()),
        resources: ContainerResources {
            cpu_request_millis: Some(250),
            cpu_limit_millis: Some(500),
            memory_limit_bytes: Some(64 << 20),
        },
        restart_count: 3,
        labels: BTreeMap::new(),
        pod_annotations: BTreeMap::new(),
    }
}

#[test]
fn container_body_should_clamp_a_tiny_cpu_limit_to_the_kernel_minimum_quota() {
    let mut c = container();
    c.resources.cpu_limit_millis = Some(1);
    let host = spec::container_body(&c, "node-a", "sbx")
        .host_config
        .unwrap();
    assert_eq!(
        host.nano_cpus,
        Some(10_000_000),
        "1m → 10m: a 1 ms quota per 100 ms"
    );
}

#[test]
fn container_body_should_join_the_sandbox_and_map_the_spec() {
    let body = spec::container_body(&container(), "node-a", "sbx");
    let host = body.host_config.expect("host config");
    assert_eq!(host.network_mode.as_deref(), Some("container:sbx"));
    assert_eq!(host.nano_cpus, Some(500_000_000), "0.5 CPU");
    assert_eq!(host.cpu_shares, Some(256), "250m → 256 shares");
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(body.entrypoint, Some(vec!["sh".to_string()]));
    assert_eq!(
        body.cmd, None,
        "an entrypoint without args drops the image's command"
    );
    assert_eq!(body.env, Some(vec!["A=1".to_string()]));
    assert_eq!(body.working_dir.as_deref(), Some("/srv"));
    let labels = body.labels.expect("labels");
    assert_eq!(labels[LABEL_RESTART_COUNT], "3");
    assert_eq!(labels[LABEL_NODE], "node-a");
    assert_eq!(labels[LABEL_ROLE], "container");
    assert_eq!(labels[spec::LABEL_KIND], "init");
    assert_eq!(
        spec::container_name(&container()),
        "k8s_app_web_default_u1_3"
    );
}

#[test]
fn sandbox_body_should_take_the_pod_ip_and_expose_the_ports() {
    let config = SandboxConfig {
        pod_uid: "u1".into(),
        pod_namespace: "default".into(),
        pod_name: "web".into(),
        node_name: "node-a".into(),
        network: SandboxNetwork::Pod {
            pod_cidr: "10.244.3.0/24".into(),
            ip: "10.244.3.7".parse().expect("ip"),
        },
        ports: vec![SandboxPort {
            container_port: 80,
            host_port: Some(8080),
            protocol: "tcp".into(),
        }],
    };
    let body = spec::sandbox_body(&config, "mock-k8:latest");
    assert_eq!(body.cmd, Some(vec!["pause".to_string()]));
    assert_eq!(body.exposed_ports, Some(vec!["80/tcp".to_string()]));
    let host = body.host_config.expect("host config");
    assert_eq!(host.network_mode.as_deref(), Some("mock-k8-node-a"));
    let bindings = host.port_bindings.expect("bindings");
    assert_eq!(
        bindings["80/tcp"].as_ref().expect("binding")[0]
            .host_port
            .as_deref(),
        Some("8080")
    );
    let endpoints = body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .expect("endpoints");
    let ipam = endpoints["mock-k8-node-a"]
        .ipam_config
        .clone()
        .expect("ipam");
    assert_eq!(ipam.ipv4_address.as_deref(), Some("10.244.3.7"));

    let net = spec::network_request("node-a", "10.244.3.0/24").expect("request");
    let cfg = &net.ipam.expect("ipam").config.expect("config")[0];
    assert_eq!(cfg.subnet.as_deref(), Some("10.244.3.0/24"));
    assert_eq!(cfg.gateway.as_deref(), Some("10.244.3.1"));
    assert!(spec::network_request("node-a", "nonsense").is_err());
}

#[test]
fn container_state_should_follow_docker_inspect() {
    let state = |status, code, oom| bollard::models::ContainerState {
        status: Some(status),
        exit_code: Some(code),
        oom_killed: Some(oom),
        started_at: Some("2026-11-29T10:00:00.5Z".into()),
        finished_at: Some("2026-11-29T10:00:02Z".into()),
        ..Default::default()
    };
    let started = parse_time(Some("2026-11-29T10:00:00.5Z")).expect("time");
    assert_eq!(
        container_state(Some(&state(ContainerStateStatusEnum::CREATED, 0, false))),
        ContainerState::Created
    );
    assert_eq!(
        container_state(Some(&state(ContainerStateStatusEnum::RUNNING, 0, false))),
        ContainerState::Running {
            started_at: started
        }
    );
    assert_eq!(
        container_state(Some(&state(ContainerStateStatusEnum::EXITED, 137, true))),
        ContainerState::Exited {
            exit_code: 137,
            reason: "OOMKilled".into(),
            started_at: Some(started),
            finished_at: started + Duration::from_millis(1500),
        }
    );
    let refused = bollard::models::ContainerState {
        error: Some("exec: \"/no/such/binary\": no such file or directory".into()),
        started_at: Some("0001-01-01T00:00:00Z".into()),
        finished_at: Some("0001-01-01T00:00:00Z".into()),
        ..state(ContainerStateStatusEnum::CREATED, 127, false)
    };
    assert_eq!(
        container_state(Some(&refused)),
        ContainerState::Exited {
            exit_code: 127,
            reason: "StartError".into(),
            started_at: None,
            finished_at: std::time::SystemTime::UNIX_EPOCH,
        }
    );
    let ContainerState::Exited { reason, .. } =
        container_state(Some(&state(ContainerStateStatusEnum::EXITED, 0, false)))
    else {
        panic!("exited");
    };
    assert_eq!(reason, "Completed");
    assert_eq!(
        parse_time(Some("0001-01-01T00:00:00Z")),
        None,
        "Docker's zero time is never"
    );
}

#[test]
fn engine_events_should_become_runtime_events_of_served_nodes_only() {
    let event = |action: &str, node: &str, role: &str| EventMessage {
        action: Some(action.into()),
        time_nano: Some(1_000_000_000),
        actor: Some(EventActor {
            id: Some("c1".into()),
            attributes: Some(HashMap::from([
                (LABEL_ROLE.to_string(), role.to_string()),
                (LABEL_NODE.to_string(), node.to_string()),
                (LABEL_POD_UID.to_string(), "u1".to_string()),
                (spec::LABEL_CONTAINER_NAME.to_string(), "app".to_string()),
                ("exitCode".to_string(), "3".to_string()),
            ])),
        }),
        ..Default::default()
    };
    let nodes = vec!["n1".to_string()];
    let died = container_event(&event("die", "n1", "container"), &nodes).expect("event");
    assert_eq!(died.kind, ContainerEventKind::Died { exit_code: 3 });
    assert_eq!((died.id.as_str(), died.pod_uid.as_str()), ("c1", "u1"));
    assert_eq!(died.at, SystemTime::UNIX_EPOCH + Duration::from_secs(1));
    assert_eq!(
        container_event(&event("start", "n1", "container"), &nodes).map(|e| e.kind),
        Some(ContainerEventKind::Started)
    );
    assert!(container_event(&event("die", "n2", "container"), &nodes).is_none());
    assert!(container_event(&event("die", "n1", "sandbox"), &nodes).is_none());
    assert!(container_event(&event("exec_start", "n1", "container"), &nodes).is_none());
}
