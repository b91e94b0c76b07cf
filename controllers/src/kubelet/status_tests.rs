//! Tests of `pod_status`: the phase table, conditions, container statuses, IPs and QoS.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use crate::kubelet::testing::*;
use crate::kubelet::{PullFailure, Rejection};

use ContainerKind::{App, Init};

fn two_apps() -> Pod {
    pod_with(
        vec![container("a", &[], &[]), container("b", &[], &[])],
        vec![],
    )
}

fn with_init() -> Pod {
    pod_with(
        vec![container("app", &[], &[])],
        vec![container("init", &[], &[])],
    )
}

fn status_of(pod: &Pod, o: &PodObservation, now: u64) -> PodStatus {
    pod_status(
        pod,
        o,
        t(now),
        Some("10.244.3.2"),
        Some("192.168.1.10"),
        &CrashLoopBackoff::default(),
        "mock",
    )
}

fn condition<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .expect("condition present")
}

fn deleting(mut pod: Pod) -> Pod {
    pod.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    pod
}

#[test]
fn pod_status_should_compute_the_phase_by_kubernetes_rules() {
    let rows: Vec<(&str, Pod, Vec<ObservedContainer>, &str)> = vec![
        ("nothing observed", two_apps(), vec![], "Pending"),
        (
            "one running, one creating",
            two_apps(),
            vec![
                observed("a", App, running(0)),
                observed("b", App, ContainerState::Created),
            ],
            "Pending",
        ),
        (
            "all running",
            two_apps(),
            vec![
                observed("a", App, running(0)),
                observed("b", App, running(0)),
            ],
            "Running",
        ),
        (
            "one exited, one running (Never)",
            with_policy(two_apps(), "Never"),
            vec![
                observed("a", App, exited(1, 0, 1)),
                observed("b", App, running(0)),
            ],
            "Running",
        ),
        (
            "all exited 0 (Never)",
            with_policy(two_apps(), "Never"),
            vec![
                observed("a", App, exited(0, 0, 1)),
                observed("b", App, exited(0, 0, 1)),
            ],
            "Succeeded",
        ),
        (
            "all exited 0 (OnFailure)",
            with_policy(two_apps(), "OnFailure"),
            vec![
                observed("a", App, exited(0, 0, 1)),
                observed("b", App, exited(0, 0, 1)),
            ],
            "Succeeded",
        ),
        (
            "all exited 0 (Always restarts)",
            two_apps(),
            vec![
                observed("a", App, exited(0, 0, 1)),
                observed("b", App, exited(0, 0, 1)),
            ],
            "Running",
        ),
        (
            "one failed (Never)",
            with_policy(two_apps(), "Never"),
            vec![
                observed("a", App, exited(0, 0, 1)),
                observed("b", App, exited(2, 0, 1)),
            ],
            "Failed",
        ),
        (
            "one failed (OnFailure restarts)",
            with_policy(two_apps(), "OnFailure"),
            vec![
                observed("a", App, exited(0, 0, 1)),
                observed("b", App, exited(2, 0, 1)),
            ],
            "Running",
        ),
        (
            "init running",
            with_init(),
            vec![observed("init", Init, running(0))],
            "Pending",
        ),
        (
            "init failed (Always retries)",
            with_init(),
            vec![observed("init", Init, exited(1, 0, 1))],
            "Pending",
        ),
        (
            "init failed (Never)",
            with_policy(with_init(), "Never"),
            vec![observed("init", Init, exited(1, 0, 1))],
            "Failed",
        ),
        (
            "init done, app running",
            with_init(),
            vec![
                observed("init", Init, exited(0, 0, 1)),
                observed("app", App, running(1)),
            ],
            "Running",
        ),
        (
            "deleted, stopped by SIGTERM",
            deleting(two_apps()),
            vec![
                observed("a", App, exited(143, 0, 9)),
                observed("b", App, exited(143, 0, 9)),
            ],
            "Failed",
        ),
        (
            "terminal phase is final",
            with_phase(two_apps(), "Succeeded"),
            vec![
                observed("a", App, running(0)),
                observed("b", App, running(0)),
            ],
            "Succeeded",
        ),
    ];
    for (what, pod, containers, want) in rows {
        let s = status_of(&pod, &obs(containers), 10);
        assert_eq!(s.phase.as_deref(), Some(want), "{what}");
    }
}

#[test]
fn pod_status_should_report_running_containers_ready_with_ids_and_times() {
    let pod = two_apps();
    let mut a = observed("a", App, running(5));
    a.image_id = Some("sha256:1".into());
    let s = status_of(&pod, &obs(vec![a, observed("b", App, running(6))]), 10);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v["containerStatuses"][0],
        json!({"name": "a", "image": "a-image", "imageID": "sha256:1", "containerID": "mock://id-a",
               "ready": true, "started": true, "restartCount": 0, "lastState": {},
               "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}})
    );
    assert_eq!(
        (v["podIP"].clone(), v["podIPs"].clone()),
        (json!("10.244.3.2"), json!([{"ip": "10.244.3.2"}]))
    );
    assert_eq!(
        (v["hostIP"].clone(), v["qosClass"].clone()),
        (json!("192.168.1.10"), json!("BestEffort"))
    );
    assert_eq!(v["startTime"], json!("2026-01-01T00:00:10Z"));
    let types: Vec<(&str, &str)> = s
        .conditions
        .iter()
        .flatten()
        .map(|c| (c.type_.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("Initialized", "True"),
            ("Ready", "True"),
            ("ContainersReady", "True"),
            ("PodScheduled", "True")
        ]
    );
}

#[test]
fn pod_status_should_show_crash_loop_back_off_with_last_state() {
    let mut a = observed("a", App, exited(1, 90, 100));
    a.restart_count = 2;
    a.backoff_exponent = 2;
    let s = status_of(
        &two_apps(),
        &obs(vec![a, observed("b", App, running(0))]),
        110,
    );
    let v = serde_json::to_value(&s.container_statuses.clone().unwrap()[0]).unwrap();
    assert_eq!(
        v["state"],
        json!({"waiting": {"reason": "CrashLoopBackOff",
               "message": "back-off 40s restarting failed container=a pod=p_default(uid-p)"}})
    );
    assert_eq!(
        v["lastState"],
        json!({"terminated": {"exitCode": 1, "reason": "Error", "containerID": "mock://id-a",
               "startedAt": "2026-01-01T00:01:30Z", "finishedAt": "2026-01-01T00:01:40Z"}})
    );
    assert_eq!(
        (v["restartCount"].clone(), v["ready"].clone()),
        (json!(2), json!(false))
    );
    let ready = condition(&s, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("ContainersNotReady"))
    );
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [a]")
    );
}

#[test]
fn pod_status_should_show_terminated_when_no_restart_follows() {
    let s = status_of(
        &with_policy(two_apps(), "Never"),
        &obs(vec![
            observed("a", App, exited(0, 1, 2)),
            observed("b", App, exited(0, 1, 3)),
        ]),
        10,
    );
    let v = serde_json::to_value(&s.container_statuses.unwrap()[1]).unwrap();
    assert_eq!(v["state"]["terminated"]["reason"], json!("Completed"));
    assert_eq!(
        v["state"]["terminated"]["finishedAt"],
        json!("2026-01-01T00:00:03Z")
    );
}

#[test]
fn pod_status_should_report_waiting_reasons() {
    let failure = |attempts| ObservedContainer {
        pull_failure: Some(PullFailure {
            message: "not found".into(),
            attempts,
            last_attempt: t(1),
        }),
        ..ObservedContainer::new("app", App)
    };
    let reason = |pod: &Pod, containers: Vec<ObservedContainer>, kind: &str, i: usize| {
        let s = status_of(pod, &obs(containers), 10);
        let v = serde_json::to_value(&s).unwrap();
        v[kind][i]["state"]["waiting"]["reason"]
            .as_str()
            .map(str::to_string)
    };
    let init = with_init();
    assert_eq!(
        reason(&init, vec![], "initContainerStatuses", 0).as_deref(),
        Some("PodInitializing")
    );
    assert_eq!(
        reason(&init, vec![], "containerStatuses", 0).as_deref(),
        Some("PodInitializing")
    );
    let done = || observed("init", Init, exited(0, 0, 1));
    assert_eq!(
        reason(&init, vec![done()], "containerStatuses", 0).as_deref(),
        Some("ContainerCreating")
    );
    assert_eq!(
        reason(&init, vec![done(), failure(1)], "containerStatuses", 0).as_deref(),
        Some("ErrImagePull")
    );
    assert_eq!(
        reason(&init, vec![done(), failure(2)], "containerStatuses", 0).as_deref(),
        Some("ImagePullBackOff")
    );
    let s = status_of(&init, &obs(vec![observed("init", Init, running(0))]), 10);
    let c = condition(&s, "Initialized");
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some("ContainersNotInitialized"))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("containers with incomplete status: [init]")
    );
}

#[test]
fn pod_status_should_keep_transition_times_when_unchanged() {
    let mut pod = two_apps();
    let both = || {
        obs(vec![
            observed("a", App, running(0)),
            observed("b", App, running(0)),
        ])
    };
    pod.status = Some(status_of(&pod, &obs(vec![]), 10));
    assert_eq!(
        condition(pod.status.as_ref().unwrap(), "Initialized").last_transition_time,
        Some(time(t(10)))
    );
    let s = status_of(&pod, &both(), 20);
    assert_eq!(
        condition(&s, "Initialized").last_transition_time,
        Some(time(t(10))),
        "unchanged"
    );
    assert_eq!(
        condition(&s, "Ready").last_transition_time,
        Some(time(t(20))),
        "False → True"
    );
    assert_eq!(s.start_time, Some(time(t(10))), "startTime is kept");
    assert_eq!(
        condition(&s, "PodScheduled").last_transition_time,
        Some(time(t(10)))
    );
}

#[test]
fn pod_status_should_fail_rejected_pods_with_the_reason() {
    let o = PodObservation {
        rejection: Some(Rejection {
            reason: "OutOfcpu".into(),
            message: "Pod was rejected: …".into(),
        }),
        containers: vec![],
    };
    let s = status_of(&two_apps(), &o, 10);
    assert_eq!(
        (s.phase.as_deref(), s.reason.as_deref()),
        (Some("Failed"), Some("OutOfcpu"))
    );
    assert_eq!(s.pod_ip, None);
}

#[test]
fn pod_status_should_mark_succeeded_pods_completed() {
    let s = status_of(
        &with_policy(with_init(), "OnFailure"),
        &obs(vec![
            observed("init", Init, exited(0, 0, 1)),
            observed("app", App, exited(0, 1, 2)),
        ]),
        10,
    );
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
    let ready = condition(&s, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("PodCompleted"))
    );
    let init = &s.init_container_statuses.unwrap()[0];
    assert!(init.ready, "a completed init container is ready");
}

#[test]
fn pod_status_should_prefix_container_ids_with_the_runtime_scheme() {
    let mut a = observed("a", App, exited(1, 90, 100));
    a.restart_count = 1;
    a.last_termination = a.termination();
    a.state = Some(running(105));
    a.container_id = Some("id-a2".into());
    let s = pod_status(
        &two_apps(),
        &obs(vec![a, observed("b", App, running(0))]),
        t(110),
        None,
        None,
        &CrashLoopBackoff::default(),
        "docker",
    );
    let v = serde_json::to_value(&s.container_statuses.clone().unwrap()[0]).unwrap();
    assert_eq!(v["containerID"], json!("docker://id-a2"));
    assert_eq!(
        v["lastState"]["terminated"]["containerID"],
        json!("docker://id-a")
    );
}
