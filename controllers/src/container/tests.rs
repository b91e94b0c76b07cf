//! MockDocker tests, on tokio's paused clock (timers fire as soon as every task is idle).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::{Instant, advance, sleep};

use super::config::glob_match;
use super::*;

fn config(pod_uid: &str, name: &str, kind: ContainerKind, image: &str) -> ContainerConfig {
    ContainerConfig {
        pod_uid: pod_uid.into(),
        pod_namespace: "default".into(),
        pod_name: format!("pod-{pod_uid}"),
        container_name: name.into(),
        kind,
        image: image.into(),
        command: vec!["sleep".into()],
        args: vec!["3600".into()],
        env: vec![],
        working_dir: None,
        resources: ContainerResources::default(),
        restart_count: 0,
        labels: BTreeMap::new(),
        pod_annotations: BTreeMap::new(),
    }
}

fn fixed_delays() -> MockDockerConfig {
    MockDockerConfig {
        start_delay_ms: 100,
        start_jitter_ms: 0,
        seed: Some(7),
        ..Default::default()
    }
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sleeps `d` on the paused clock, then lets the tasks whose timers fired at the same instant run.
async fn settle(d: Duration) {
    sleep(d).await;
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

fn sandbox(pod_uid: &str) -> SandboxConfig {
    SandboxConfig {
        pod_uid: pod_uid.into(),
        pod_namespace: "default".into(),
        pod_name: format!("pod-{pod_uid}"),
        node_name: "node-0".into(),
        network: SandboxNetwork::Host,
        ports: vec![],
    }
}

async fn run(rt: &MockDocker, c: ContainerConfig) -> ContainerId {
    rt.pull_image(&c.image, &c.pod_annotations).await.unwrap();
    rt.run_sandbox(sandbox(&c.pod_uid)).await.unwrap();
    let id = rt.create(c).await.unwrap();
    rt.start(&id).await.unwrap();
    id
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_run_create_start_running_stop_exited_143() {
    let rt = MockDocker::new(fixed_delays());
    let id = run(&rt, config("u1", "app", ContainerKind::App, "nginx")).await;
    assert_eq!(
        rt.inspect(&id).await.unwrap(),
        ContainerState::Created,
        "still in its start delay"
    );
    settle(Duration::from_millis(100)).await;
    let ContainerState::Running { started_at } = rt.inspect(&id).await.unwrap() else {
        panic!("should be running after the start delay")
    };
    settle(Duration::from_secs(3600)).await;
    assert!(
        rt.inspect(&id).await.unwrap().is_running(),
        "app containers run until stopped"
    );
    rt.stop(&id, Duration::from_secs(30)).await.unwrap();
    match rt.inspect(&id).await.unwrap() {
        ContainerState::Exited {
            exit_code,
            reason,
            started_at: s,
            ..
        } => {
            assert_eq!(
                (exit_code, reason.as_str(), s),
                (143, "Error", Some(started_at))
            );
        }
        other => panic!("expected exited, got {other:?}"),
    }
    let logs = rt.logs(&id).await.unwrap();
    assert_eq!(logs.first().map(String::as_str), Some("created nginx"));
    assert_eq!(
        logs.get(1).map(String::as_str),
        Some("started nginx sleep 3600")
    );
    assert_eq!(logs.last().map(String::as_str), Some("exited 143"));
    rt.remove(&id).await.unwrap();
    assert_eq!(rt.inspect(&id).await, Err(RuntimeError::NotFound(id)));
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_exit_with_the_annotated_code_after_the_duration() {
    let rt = MockDocker::new(fixed_delays());
    let mut c = config("u1", "app", ContainerKind::App, "busybox");
    c.pod_annotations = annotations(&[
        ("mock-k8.io/exit-after-ms.app", "500"),
        ("mock-k8.io/exit-code.app", "3"),
        ("mock-k8.io/exit-code", "9"),
    ]);
    let t0 = Instant::now();
    let id = run(&rt, c).await;
    settle(Duration::from_millis(599)).await;
    assert!(rt.inspect(&id).await.unwrap().is_running());
    settle(Duration::from_millis(1)).await;
    match rt.inspect(&id).await.unwrap() {
        ContainerState::Exited {
            exit_code,
            reason,
            started_at: Some(s),
            finished_at,
        } => {
            assert_eq!(
                (exit_code, reason.as_str()),
                (3, "Error"),
                "per-container beats pod-wide"
            );
            assert_eq!(
                finished_at.duration_since(s).unwrap(),
                Duration::from_millis(500)
            );
        }
        other => panic!("expected exited, got {other:?}"),
    }
    assert_eq!(t0.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_exit_init_containers_zero_after_the_start_delay() {
    let rt = MockDocker::new(fixed_delays());
    let id = run(&rt, config("u1", "init", ContainerKind::Init, "busybox")).await;
    settle(Duration::from_millis(100)).await;
    match rt.inspect(&id).await.unwrap() {
        ContainerState::Exited {
            exit_code: 0,
            reason,
            ..
        } => assert_eq!(reason, "Completed"),
        other => panic!("expected Completed, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_crash_every_instance_of_a_crash_looping_image() {
    let cfg = MockDockerConfig::from_yaml(
        "start_delay_ms: 10\nstart_jitter_ms: 0\nrules:\n  - image: \"crash*\"\n    exit_after_ms: 200\n    exit_code: 2\n",
    )
    .unwrap();
    let rt = MockDocker::new(cfg);
    for restart in 0..3 {
        let mut c = config("u1", "app", ContainerKind::App, "crashy:1");
        c.restart_count = restart;
        let id = run(&rt, c).await;
        settle(Duration::from_millis(210)).await;
        assert!(
            matches!(
                rt.inspect(&id).await.unwrap(),
                ContainerState::Exited { exit_code: 2, .. }
            ),
            "instance {restart} should crash with 2"
        );
    }
    let rows = rt.list(Some("u1")).await;
    assert_eq!(
        rows.iter().map(|r| r.restart_count).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_fail_pulls_by_annotation_and_by_rule() {
    let cfg = MockDockerConfig {
        rules: vec![ImageRule {
            image: "registry.invalid/*".into(),
            image_pull_error: Some("manifest unknown".into()),
            ..Default::default()
        }],
        ..fixed_delays()
    };
    let rt = MockDocker::new(cfg);
    let none = BTreeMap::new();
    assert_eq!(
        rt.pull_image("registry.invalid/app:1", &none).await,
        Err(PullError::ErrImagePull {
            image: "registry.invalid/app:1".into(),
            message: "manifest unknown".into()
        })
    );
    let ann = annotations(&[("mock-k8.io/image-pull-error", "true")]);
    assert!(matches!(
        rt.pull_image("nginx", &ann).await,
        Err(PullError::ErrImagePull { .. })
    ));
    let id = rt.pull_image("nginx", &none).await.unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let c = config("u1", "app", ContainerKind::App, "never-pulled");
    assert!(matches!(
        rt.create(c).await,
        Err(RuntimeError::ImageNotPresent { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_list_containers_by_pod() {
    let rt = MockDocker::new(fixed_delays());
    let a = run(&rt, config("pod-a", "one", ContainerKind::App, "nginx")).await;
    let b = run(&rt, config("pod-b", "one", ContainerKind::App, "nginx")).await;
    let a2 = run(&rt, config("pod-a", "two", ContainerKind::App, "nginx")).await;
    let ids = |rows: Vec<ContainerSummary>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(rt.list(Some("pod-a")).await),
        vec![a.clone(), a2.clone()]
    );
    assert_eq!(ids(rt.list(Some("pod-b")).await), vec![b.clone()]);
    assert_eq!(ids(rt.list(None).await), vec![a, b, a2]);
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_emit_events_in_order() {
    let rt = MockDocker::new(fixed_delays());
    let mut events = rt.events();
    let id = run(&rt, config("u1", "app", ContainerKind::App, "nginx")).await;
    settle(Duration::from_millis(100)).await;
    rt.kill(&id).await.unwrap();
    rt.remove(&id).await.unwrap();
    let mut kinds = vec![];
    while let Ok(e) = events.try_recv() {
        assert_eq!(
            (e.id.as_str(), e.pod_uid.as_str(), e.container_name.as_str()),
            (id.as_str(), "u1", "app")
        );
        kinds.push(e.kind);
    }
    use ContainerEventKind::*;
    assert_eq!(
        kinds,
        vec![Created, Started, Died { exit_code: 137 }, Removed]
    );
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_kill_with_137_when_the_stop_delay_exceeds_the_grace_period() {
    let rt = MockDocker::new(fixed_delays());
    let mut c = config("u1", "app", ContainerKind::App, "nginx");
    c.pod_annotations = annotations(&[("mock-k8.io/stop-delay-ms", "5000")]);
    let id = run(&rt, c.clone()).await;
    settle(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    rt.stop(&id, Duration::from_secs(2)).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert!(matches!(
        rt.inspect(&id).await.unwrap(),
        ContainerState::Exited { exit_code: 137, .. }
    ));

    let id = run(&rt, c).await;
    settle(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    rt.stop(&id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(5),
        "honours SIGTERM after its stop delay"
    );
    assert!(matches!(
        rt.inspect(&id).await.unwrap(),
        ContainerState::Exited { exit_code: 143, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_refuse_invalid_transitions() {
    let rt = MockDocker::new(fixed_delays());
    let id = run(&rt, config("u1", "app", ContainerKind::App, "nginx")).await;
    let start_err = rt.start(&id).await;
    assert!(
        matches!(
            start_err,
            Err(RuntimeError::InvalidState {
                operation: "start",
                ..
            })
        ),
        "{start_err:?}"
    );
    settle(Duration::from_millis(100)).await;
    let remove_err = rt.remove(&id).await;
    assert!(
        matches!(
            remove_err,
            Err(RuntimeError::InvalidState {
                operation: "remove",
                state: "running",
                ..
            })
        ),
        "{remove_err:?}"
    );
    assert_eq!(
        rt.kill("nope").await,
        Err(RuntimeError::NotFound("nope".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_stop_or_remove_a_container_still_in_its_start_delay() {
    let rt = MockDocker::new(fixed_delays());
    let stopped = run(&rt, config("u1", "a", ContainerKind::App, "nginx")).await;
    let removed = run(&rt, config("u1", "b", ContainerKind::App, "nginx")).await;
    rt.stop(&stopped, Duration::ZERO).await.unwrap();
    let state = rt.inspect(&stopped).await.unwrap();
    assert!(
        matches!(
            state,
            ContainerState::Exited {
                exit_code: 143,
                started_at: None,
                ..
            }
        ),
        "{state:?}"
    );
    rt.remove(&removed).await.unwrap();
    settle(Duration::from_millis(500)).await;
    assert_eq!(
        rt.list(None).await.len(),
        1,
        "the removed one never comes back"
    );
    assert!(
        rt.inspect(&stopped).await.unwrap().is_exited(),
        "the stopped one never starts"
    );
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_add_jitter_within_bounds() {
    let cfg = MockDockerConfig {
        start_delay_ms: 100,
        start_jitter_ms: 50,
        seed: Some(1),
        ..Default::default()
    };
    let rt = MockDocker::new(cfg);
    let mut ids = vec![];
    for i in 0..20 {
        ids.push(
            run(
                &rt,
                config("u1", &format!("c{i}"), ContainerKind::App, "nginx"),
            )
            .await,
        );
    }
    advance(Duration::from_millis(99)).await;
    for id in &ids {
        assert_eq!(rt.inspect(id).await.unwrap(), ContainerState::Created);
    }
    settle(Duration::from_millis(51)).await;
    for id in &ids {
        let s = rt.inspect(id).await.unwrap();
        assert!(s.is_running(), "{s:?} at {:?}", tokio::time::Instant::now());
    }
}

#[tokio::test(start_paused = true)]
async fn mock_docker_should_refuse_work_after_shutdown() {
    let rt = MockDocker::new(fixed_delays());
    let id = run(&rt, config("u1", "app", ContainerKind::App, "nginx")).await;
    rt.shutdown().await;
    assert_eq!(rt.start(&id).await, Err(RuntimeError::ShuttingDown));
    assert_eq!(
        rt.pull_image("x", &BTreeMap::new()).await,
        Err(PullError::ShuttingDown)
    );
}

#[test]
fn config_should_resolve_by_precedence() {
    let cfg = MockDockerConfig::from_yaml(
        "start_delay_ms: 5\nrules:\n  - image: \"nginx:*\"\n    start_delay_ms: 50\n    exit_after_ms: 1000\n    oom_killed: true\n",
    )
    .unwrap();
    let none = BTreeMap::new();
    let b = cfg.behaviour(ContainerKind::App, "web", "nginx:1.27", &none);
    assert_eq!(b.start_delay, Duration::from_millis(50));
    assert_eq!(
        (b.exit_after, b.exit_code, b.oom_killed),
        (Some(Duration::from_secs(1)), 137, true)
    );
    let ann = annotations(&[
        ("mock-k8.io/start-delay-ms", "7"),
        ("mock-k8.io/exit-after-ms", "oops"),
    ]);
    let b = cfg.behaviour(ContainerKind::App, "web", "nginx:1.27", &ann);
    assert_eq!(
        b.start_delay,
        Duration::from_millis(7),
        "annotation beats rule"
    );
    assert_eq!(
        b.exit_after,
        Some(Duration::from_secs(1)),
        "unparsable annotation is ignored"
    );
    let b = cfg.behaviour(ContainerKind::Init, "setup", "busybox", &none);
    assert_eq!(
        (b.start_delay, b.exit_after, b.exit_code),
        (Duration::from_millis(5), Some(Duration::ZERO), 0)
    );
    assert_eq!(
        cfg.behaviour(ContainerKind::App, "a", "busybox", &none)
            .exit_after,
        None
    );
}

#[test]
fn config_should_reject_bad_files() {
    assert!(matches!(
        MockDockerConfig::from_yaml("bogus: 1"),
        Err(ConfigError::Parse { .. })
    ));
    assert!(matches!(
        MockDockerConfig::from_yaml("rules:\n  - image: x\n    exit_code: 300\n"),
        Err(ConfigError::Invalid(_))
    ));
    let dir = std::env::temp_dir().join(format!("mockdocker-{}.json", std::process::id()));
    std::fs::write(
        &dir,
        r#"{"start_delay_ms": 3, "rules": [{"image": "a", "exit_code": 1}]}"#,
    )
    .unwrap();
    let cfg = MockDockerConfig::from_file(&dir).unwrap();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!((cfg.start_delay_ms, cfg.rules.len()), (3, 1));
    assert!(matches!(
        MockDockerConfig::from_file("/nonexistent/x.yaml"),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn glob_match_should_follow_star_and_question_mark() {
    for (pattern, text, want) in [
        ("nginx", "nginx", true),
        ("nginx", "nginx:1", false),
        ("nginx*", "nginx:1.27", true),
        ("*/app:?", "registry.io/app:1", true),
        ("*/app:?", "registry.io/app:12", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("*", "", true),
    ] {
        assert_eq!(glob_match(pattern, text), want, "{pattern} vs {text}");
    }
}
