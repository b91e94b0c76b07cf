//! The `ContainerRuntime` contract, one suite run against both runtimes: every scenario below runs
//! once on MockDocker (`mock_…`) and once on the Docker runtime over the real engine (`docker_…`,
//! skipped without an engine unless `MOCK_K8_REQUIRE_DOCKER=1`).
//!
//! A scenario describes each container's behaviour once; the [`Fixture`] gives it to both runtimes
//! in their own terms: a busybox `sh -c` script for Docker, `mock-k8.io/*` annotations for
//! MockDocker (each runtime ignores the other's).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_k8_controllers::container::{
    ContainerConfig, ContainerEventKind, ContainerKind, ContainerResources, ContainerRuntime,
    ContainerState, DockerConfig, DockerRuntime, ImageRule, MockDocker, MockDockerConfig,
    PullError, RuntimeError, SandboxConfig, SandboxNetwork,
};

use super::support::{DockerLock, remove_node_objects, require_docker, unique};

/// An image no registry serves and no test builds.
const MISSING_IMAGE: &str = "mock-k8-test/never-built:1";
/// The pull timeout both fixtures use.
const PULL_TIMEOUT: Duration = Duration::from_secs(3);
/// The podCIDR of the conformance node.
const POD_CIDR: &str = "10.244.200.0/24";

/// How a test container behaves.
#[derive(Debug, Clone, Copy)]
enum Proc {
    /// Runs until stopped; exits 143 on SIGTERM.
    Serve,
    /// Runs until killed: ignores SIGTERM (so a stop takes the whole grace period, then 137).
    IgnoreTerm,
    /// Exits with `code` about `ms` milliseconds after it started.
    Exit { ms: u64, code: i32 },
}

struct Fixture {
    rt: Arc<dyn ContainerRuntime>,
    docker: bool,
    image: String,
    sandbox_image: String,
    node: String,
    _lock: Option<DockerLock>,
}

impl Fixture {
    async fn mock() -> Fixture {
        let config = MockDockerConfig {
            start_delay_ms: 50,
            start_jitter_ms: 0,
            rules: vec![ImageRule {
                image: "mock-k8-test/never-built*".into(),
                image_pull_error: Some(format!(
                    "pull access denied for {MISSING_IMAGE}, repository does not exist"
                )),
                ..Default::default()
            }],
            ..Default::default()
        };
        Fixture {
            rt: Arc::new(MockDocker::new(config)),
            docker: false,
            image: "busybox:1.36".into(),
            sandbox_image: String::new(),
            node: unique("conf"),
            _lock: None,
        }
    }

    async fn docker(test: &str) -> Option<Fixture> {
        let (lock, images) = require_docker(test).await?;
        let node = unique("conf");
        let rt = Self::connect(&node, &images.sandbox).await;
        Some(Fixture {
            rt,
            docker: true,
            image: images.busybox,
            sandbox_image: images.sandbox,
            node,
            _lock: Some(lock),
        })
    }

    async fn connect(node: &str, sandbox: &str) -> Arc<dyn ContainerRuntime> {
        let config = DockerConfig {
            sandbox_image: sandbox.into(),
            pull_timeout: PULL_TIMEOUT,
            nodes: vec![node.into()],
            ..DockerConfig::default()
        };
        Arc::new(
            DockerRuntime::connect(config)
                .await
                .expect("connect to docker"),
        )
    }

    /// The runtime a restarted agent would get: a fresh Docker connection (it knows nothing but
    /// what the engine's labels say); MockDocker lives in the agent's process, so the same one.
    async fn restarted(&self) -> Arc<dyn ContainerRuntime> {
        if !self.docker {
            return self.rt.clone();
        }
        Self::connect(&self.node, &self.sandbox_image).await
    }

    fn sandbox(&self, uid: &str, host: u8) -> SandboxConfig {
        SandboxConfig {
            pod_uid: uid.into(),
            pod_namespace: "conformance".into(),
            pod_name: format!("pod-{uid}"),
            node_name: self.node.clone(),
            network: SandboxNetwork::Pod {
                pod_cidr: POD_CIDR.into(),
                ip: format!("10.244.200.{host}").parse().expect("ip"),
            },
            ports: vec![],
        }
    }

    fn container(&self, uid: &str, name: &str, restart_count: u32, p: Proc) -> ContainerConfig {
        let (script, annotations): (String, Vec<(String, String)>) = match p {
            Proc::Serve => (
                "trap 'exit 143' TERM; while true; do sleep 0.1; done".into(),
                vec![],
            ),
            Proc::IgnoreTerm => (
                "exec sleep 3600".into(),
                vec![("mock-k8.io/stop-delay-ms".into(), "3600000".into())],
            ),
            Proc::Exit { ms, code } => (
                format!("sleep {}; exit {code}", ms as f64 / 1000.0),
                vec![
                    ("mock-k8.io/exit-after-ms".into(), ms.to_string()),
                    ("mock-k8.io/exit-code".into(), code.to_string()),
                ],
            ),
        };
        ContainerConfig {
            pod_uid: uid.into(),
            pod_namespace: "conformance".into(),
            pod_name: format!("pod-{uid}"),
            container_name: name.into(),
            kind: ContainerKind::App,
            image: self.image.clone(),
            command: vec!["sh".into(), "-c".into(), script],
            args: vec![],
            env: vec![("GREETING".into(), "hello".into())],
            working_dir: None,
            resources: ContainerResources::default(),
            restart_count,
            labels: BTreeMap::new(),
            pod_annotations: annotations.into_iter().collect(),
        }
    }

    /// Sandbox, pull, create and start: the container's ID.
    async fn run(&self, c: ContainerConfig, host: u8) -> String {
        self.rt
            .run_sandbox(self.sandbox(&c.pod_uid, host))
            .await
            .expect("run sandbox");
        self.rt
            .pull_image(&c.image, &c.pod_annotations)
            .await
            .expect("pull");
        let id = self.rt.create(c).await.expect("create");
        self.rt.start(&id).await.expect("start");
        id
    }

    async fn wait_for(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&ContainerState) -> bool,
    ) -> ContainerState {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let state = self.rt.inspect(id).await.expect("inspect");
            if pred(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "{what}: still {state:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.docker {
            remove_node_objects(&self.node);
        }
    }
}

fn uid() -> String {
    unique("uid")
}

async fn lifecycle(f: Fixture) {
    let mut events = f.rt.events();
    let uid = uid();
    let c = f.container(&uid, "app", 0, Proc::Serve);
    let id = f.run(c, 10).await;
    f.wait_for(&id, "running after start", ContainerState::is_running)
        .await;
    let rows = f.rt.list(Some(&uid)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        (
            row.id.as_str(),
            row.container_name.as_str(),
            row.pod_name.as_str(),
            row.pod_namespace.as_str(),
            row.restart_count,
            row.kind
        ),
        (
            id.as_str(),
            "app",
            format!("pod-{uid}").as_str(),
            "conformance",
            0,
            ContainerKind::App
        )
    );
    let began = Instant::now();
    f.rt.stop(&id, Duration::from_secs(10)).await.expect("stop");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "a process honouring SIGTERM stops well within the grace period"
    );
    let ContainerState::Exited {
        exit_code,
        reason,
        started_at,
        finished_at,
    } = f.rt.inspect(&id).await.expect("inspect")
    else {
        panic!("stop resolves once the container exited");
    };
    assert_eq!((exit_code, reason.as_str()), (143, "Error"));
    assert!(started_at.is_some_and(|s| s <= finished_at));
    f.rt.stop(&id, Duration::from_secs(1))
        .await
        .expect("stop of an exited container is a no-op");
    f.rt.remove(&id).await.expect("remove");
    assert!(matches!(
        f.rt.inspect(&id).await,
        Err(RuntimeError::NotFound(_))
    ));
    assert!(f.rt.list(Some(&uid)).await.is_empty());
    assert!(f.rt.list_sandboxes().await.contains(&uid));
    f.rt.remove_sandbox(&uid).await.expect("remove sandbox");
    assert!(!f.rt.list_sandboxes().await.contains(&uid));

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(&ContainerEventKind::Removed) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
            Ok(Ok(ev)) if ev.id == id => {
                assert_eq!(
                    (ev.pod_uid.as_str(), ev.container_name.as_str()),
                    (uid.as_str(), "app")
                );
                seen.push(ev.kind);
            }
            _ => {}
        }
    }
    assert_eq!(
        seen,
        vec![
            ContainerEventKind::Created,
            ContainerEventKind::Started,
            ContainerEventKind::Died { exit_code: 143 },
            ContainerEventKind::Removed
        ]
    );
}

async fn exit_codes(f: Fixture) {
    let uid = uid();
    f.rt.run_sandbox(f.sandbox(&uid, 11))
        .await
        .expect("sandbox");
    let ok = f
        .run(
            f.container(&uid, "ok", 0, Proc::Exit { ms: 200, code: 0 }),
            11,
        )
        .await;
    let bad = f
        .run(
            f.container(&uid, "bad", 0, Proc::Exit { ms: 200, code: 3 }),
            11,
        )
        .await;
    for (id, code, reason) in [(ok, 0, "Completed"), (bad, 3, "Error")] {
        match f
            .wait_for(&id, "exits by itself", ContainerState::is_exited)
            .await
        {
            ContainerState::Exited {
                exit_code,
                reason: r,
                started_at,
                finished_at,
            } => {
                assert_eq!((exit_code, r.as_str()), (code, reason));
                let ran = finished_at
                    .duration_since(started_at.expect("it ran"))
                    .unwrap_or_default();
                assert!(ran >= Duration::from_millis(150), "ran {ran:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}

async fn restarts_keep_instances_apart(f: Fixture) {
    let uid = uid();
    let first = f
        .run(
            f.container(&uid, "app", 0, Proc::Exit { ms: 100, code: 1 }),
            12,
        )
        .await;
    f.wait_for(&first, "crashes", ContainerState::is_exited)
        .await;
    let second = f.run(f.container(&uid, "app", 1, Proc::Serve), 12).await;
    f.wait_for(
        &second,
        "restarted instance runs",
        ContainerState::is_running,
    )
    .await;
    let rows = f.rt.list(Some(&uid)).await;
    let got: Vec<(&str, u32, bool)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.restart_count, r.state.is_running()))
        .collect();
    assert_eq!(
        got,
        vec![(first.as_str(), 0, false), (second.as_str(), 1, true)]
    );
    f.rt.kill(&second).await.expect("kill");
}

async fn stop_honours_the_grace_period(f: Fixture) {
    let uid = uid();
    let stubborn = f
        .run(f.container(&uid, "stubborn", 0, Proc::IgnoreTerm), 13)
        .await;
    let other = f.run(f.container(&uid, "other", 0, Proc::Serve), 13).await;
    f.wait_for(&stubborn, "running", ContainerState::is_running)
        .await;
    f.wait_for(&other, "running", ContainerState::is_running)
        .await;
    let began = Instant::now();
    f.rt.stop(&stubborn, Duration::from_secs(1))
        .await
        .expect("stop");
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "SIGKILL comes after the grace period: took {took:?}"
    );
    assert!(matches!(
        f.rt.inspect(&stubborn).await.expect("inspect"),
        ContainerState::Exited { exit_code: 137, .. }
    ));
    let began = Instant::now();
    f.rt.kill(&other).await.expect("kill");
    let state = f
        .wait_for(&other, "killed", ContainerState::is_exited)
        .await;
    assert!(began.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(state, ContainerState::Exited { exit_code: 137, .. }),
        "{state:?}"
    );
    f.rt.kill(&other)
        .await
        .expect("kill of an exited container is a no-op");
}

async fn refuses_invalid_operations(f: Fixture) {
    let uid = uid();
    let orphan = f.container(&uid, "app", 0, Proc::Serve);
    f.rt.pull_image(&orphan.image, &orphan.pod_annotations)
        .await
        .expect("pull");
    assert!(
        matches!(f.rt.create(orphan).await, Err(RuntimeError::NoSandbox(_))),
        "a container needs its pod's sandbox"
    );
    let id = f.run(f.container(&uid, "app", 0, Proc::Serve), 14).await;
    f.wait_for(&id, "running", ContainerState::is_running).await;
    assert!(matches!(
        f.rt.start(&id).await,
        Err(RuntimeError::InvalidState { .. })
    ));
    assert!(matches!(
        f.rt.remove(&id).await,
        Err(RuntimeError::InvalidState { .. })
    ));
    let mut missing = f.container(&uid, "missing", 0, Proc::Serve);
    missing.image = MISSING_IMAGE.into();
    assert!(matches!(
        f.rt.create(missing).await,
        Err(RuntimeError::ImageNotPresent { .. })
    ));
    let unknown = "0".repeat(64);
    assert!(matches!(
        f.rt.inspect(&unknown).await,
        Err(RuntimeError::NotFound(_))
    ));
    assert!(matches!(
        f.rt.remove(&unknown).await,
        Err(RuntimeError::NotFound(_))
    ));
    assert!(matches!(
        f.rt.logs(&unknown).await,
        Err(RuntimeError::NotFound(_))
    ));
    f.rt.kill(&id).await.expect("kill");
}

async fn missing_image_fails_the_pull(f: Fixture) {
    let began = Instant::now();
    let r = f.rt.pull_image(MISSING_IMAGE, &BTreeMap::new()).await;
    assert!(
        matches!(&r, Err(PullError::ErrImagePull { image, .. }) if image == MISSING_IMAGE),
        "{r:?}"
    );
    assert!(began.elapsed() < PULL_TIMEOUT + Duration::from_secs(2));
}

async fn restarted_agent_adopts(f: Fixture) {
    let uid = uid();
    let id = f.run(f.container(&uid, "app", 0, Proc::Serve), 15).await;
    f.wait_for(&id, "running", ContainerState::is_running).await;
    let sandbox =
        f.rt.run_sandbox(f.sandbox(&uid, 15))
            .await
            .expect("sandbox");
    let rt = f.restarted().await;
    let rows = rt.list(Some(&uid)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].id.as_str(), rows[0].state.is_running()),
        (id.as_str(), true)
    );
    assert_eq!(
        rt.list(None)
            .await
            .iter()
            .filter(|r| r.pod_uid == uid)
            .count(),
        1
    );
    assert!(rt.list_sandboxes().await.contains(&uid));
    let again = rt
        .run_sandbox(f.sandbox(&uid, 15))
        .await
        .expect("sandbox again");
    assert_eq!(
        again, sandbox,
        "the running sandbox is adopted, not replaced"
    );
    assert_eq!(again.ip, Some("10.244.200.15".parse().expect("ip")));
    rt.kill(&id).await.expect("kill");
}

/// One `mock_<scenario>` and one `docker_<scenario>` test per scenario.
macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod mock {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::Fixture::mock().await).await;
                }
            )*
        }
        mod docker {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let test = concat!("docker::conformance::docker::", stringify!($scenario));
                    if let Some(f) = super::Fixture::docker(test).await {
                        super::$scenario(f).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    lifecycle,
    exit_codes,
    restarts_keep_instances_apart,
    stop_honours_the_grace_period,
    refuses_invalid_operations,
    missing_image_fails_the_pull,
    restarted_agent_adopts,
);
