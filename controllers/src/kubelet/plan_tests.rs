//! One test row per row of the transition table in `plan.rs` (same ids).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

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
        vec![container("i1", &[], &[]), container("i2", &[], &[])],
    )
}

fn deleting(mut pod: Pod, grace_secs: i64) -> Pod {
    pod.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    pod.metadata.deletion_grace_period_seconds = Some(grace_secs);
    pod
}

fn pull(name: &str, kind: ContainerKind) -> Action {
    Action::Pull {
        container: name.into(),
        kind,
        image: format!("{name}-image"),
    }
}

fn start(name: &str, kind: ContainerKind, restart_count: u32, backoff_exponent: u32) -> Action {
    Action::CreateAndStart {
        container: name.into(),
        kind,
        restart_count,
        backoff_exponent,
    }
}

fn pulled(name: &str, kind: ContainerKind) -> ObservedContainer {
    ObservedContainer {
        image_id: Some("sha256:abc".into()),
        ..ObservedContainer::new(name, kind)
    }
}

fn failed_pull(name: &str, attempts: u32, at: u64) -> ObservedContainer {
    ObservedContainer {
        pull_failure: Some(PullFailure {
            message: "not found".into(),
            attempts,
            last_attempt: t(at),
        }),
        ..ObservedContainer::new(name, App)
    }
}

fn restarted(
    mut c: ObservedContainer,
    restart_count: u32,
    backoff_exponent: u32,
) -> ObservedContainer {
    c.restart_count = restart_count;
    c.backoff_exponent = backoff_exponent;
    c
}

#[test]
fn next_actions_should_follow_the_transition_table() {
    let b = CrashLoopBackoff::default(); // 10 s doubling to 300 s, reset after 600 s
    let stop = |name: &str, secs| Action::Stop {
        container: name.into(),
        container_id: format!("id-{name}"),
        grace: Duration::from_secs(secs),
    };
    let remove = |name: &str| Action::Remove {
        container: name.into(),
        container_id: format!("id-{name}"),
    };
    let rows: Vec<(&str, Pod, PodObservation, u64, Vec<Action>)> = vec![
        (
            "D1 deleting with running containers: stop them with the grace period",
            deleting(two_apps(), 5),
            obs(vec![
                observed("a", App, running(0)),
                observed("b", App, exited(1, 0, 3)),
            ]),
            100,
            vec![stop("a", 5)],
        ),
        (
            "D2 deleting, nothing running: remove every instance",
            deleting(two_apps(), 5),
            obs(vec![
                observed("a", App, exited(143, 0, 3)),
                observed("b", App, ContainerState::Created),
            ]),
            100,
            vec![remove("a"), remove("b")],
        ),
        (
            "D3 deleting, nothing left",
            deleting(two_apps(), 5),
            obs(vec![pulled("a", App)]),
            100,
            vec![Action::DeletionComplete],
        ),
        (
            "R1 rejected by admission",
            two_apps(),
            PodObservation {
                rejection: Some(Rejection {
                    reason: "OutOfcpu".into(),
                    message: "m".into(),
                }),
                containers: vec![],
            },
            0,
            vec![],
        ),
        (
            "T1 terminal phase",
            with_phase(two_apps(), "Succeeded"),
            obs(vec![]),
            0,
            vec![],
        ),
        (
            "C1 nothing pulled: pull every app image",
            two_apps(),
            obs(vec![]),
            0,
            vec![pull("a", App), pull("b", App)],
        ),
        (
            "C2 pull failed twice at t=50: wait 10 s × 2^1",
            two_apps(),
            obs(vec![
                failed_pull("a", 2, 50),
                observed("b", App, running(1)),
            ]),
            60,
            vec![Action::WaitUntil(t(70))],
        ),
        (
            "C3 pull back-off over: pull again",
            two_apps(),
            obs(vec![
                failed_pull("a", 2, 50),
                observed("b", App, running(1)),
            ]),
            70,
            vec![pull("a", App)],
        ),
        (
            "C4 pulled, not created: create and start",
            two_apps(),
            obs(vec![pulled("a", App), pulled("b", App)]),
            0,
            vec![start("a", App, 0, 0), start("b", App, 0, 0)],
        ),
        (
            "C5 created or running: wait for events",
            two_apps(),
            obs(vec![
                observed("a", App, ContainerState::Created),
                observed("b", App, running(0)),
            ]),
            0,
            vec![],
        ),
        (
            "init: only the first init container is pulled",
            with_init(),
            obs(vec![]),
            0,
            vec![pull("i1", Init)],
        ),
        (
            "init: first init running, nothing else",
            with_init(),
            obs(vec![observed("i1", Init, running(0))]),
            5,
            vec![],
        ),
        (
            "I1 first init done: second init next",
            with_init(),
            obs(vec![observed("i1", Init, exited(0, 0, 1))]),
            5,
            vec![pull("i2", Init)],
        ),
        (
            "I1 all init done: app containers",
            with_init(),
            obs(vec![
                observed("i1", Init, exited(0, 0, 1)),
                observed("i2", Init, exited(0, 1, 2)),
            ]),
            5,
            vec![pull("app", App)],
        ),
        (
            "I2 init failed under Never: nothing (pod Failed)",
            with_policy(with_init(), "Never"),
            obs(vec![observed("i1", Init, exited(1, 0, 1))]),
            500,
            vec![],
        ),
        (
            "X1 init failed under Always: back-off 10 s from t=1",
            with_init(),
            obs(vec![observed("i1", Init, exited(1, 0, 1))]),
            5,
            vec![Action::WaitUntil(t(11))],
        ),
        (
            "X2 init failed, back-off over: restart it",
            with_init(),
            obs(vec![observed("i1", Init, exited(1, 0, 1))]),
            11,
            vec![remove("i1"), start("i1", Init, 1, 1)],
        ),
        (
            "X1 third crash (exponent 2) at t=100: wait 40 s",
            two_apps(),
            obs(vec![
                restarted(observed("a", App, exited(2, 95, 100)), 2, 2),
                observed("b", App, running(0)),
            ]),
            120,
            vec![Action::WaitUntil(t(140))],
        ),
        (
            "X2 back-off over: restart with count + 1 and exponent + 1",
            two_apps(),
            obs(vec![
                restarted(observed("a", App, exited(2, 95, 100)), 2, 2),
                observed("b", App, running(0)),
            ]),
            140,
            vec![remove("a"), start("a", App, 3, 3)],
        ),
        (
            "X2 a run of 600 s resets the back-off to 10 s",
            two_apps(),
            obs(vec![
                restarted(observed("a", App, exited(2, 0, 600)), 7, 5),
                observed("b", App, running(0)),
            ]),
            610,
            vec![remove("a"), start("a", App, 8, 1)],
        ),
        (
            "X1 Always restarts even exit 0; earliest wait wins",
            two_apps(),
            obs(vec![
                observed("a", App, exited(0, 0, 30)),
                observed("b", App, exited(0, 0, 20)),
            ]),
            21,
            vec![Action::WaitUntil(t(30))],
        ),
        (
            "X3 OnFailure does not restart exit 0",
            with_policy(two_apps(), "OnFailure"),
            obs(vec![
                observed("a", App, exited(0, 0, 30)),
                observed("b", App, exited(3, 0, 20)),
            ]),
            31,
            vec![remove("b"), start("b", App, 1, 1)],
        ),
        (
            "X3 Never restarts nothing",
            with_policy(two_apps(), "Never"),
            obs(vec![
                observed("a", App, exited(0, 0, 30)),
                observed("b", App, exited(3, 0, 20)),
            ]),
            1000,
            vec![],
        ),
    ];
    for (row, pod, observation, now, want) in rows {
        assert_eq!(next_actions(&pod, &observation, t(now), &b), want, "{row}");
    }
}

#[test]
fn grace_period_should_prefer_deletion_then_spec_then_30s() {
    let mut pod = two_apps();
    assert_eq!(grace_period(&pod), Duration::from_secs(30));
    if let Some(spec) = pod.spec.as_mut() {
        spec.termination_grace_period_seconds = Some(7);
    }
    assert_eq!(grace_period(&pod), Duration::from_secs(7));
    assert_eq!(
        grace_period(&deleting(pod.clone(), 2)),
        Duration::from_secs(2)
    );
    assert_eq!(grace_period(&deleting(pod, -1)), Duration::ZERO);
}
