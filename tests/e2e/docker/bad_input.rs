//! What a newcomer gets wrong with `--runtime docker`, and what they are told: a missing sandbox
//! image stops `run` at start naming the flag; a command the engine cannot start ends the pod
//! `Failed` with `StartError` and a Warning Event; a memory limit Docker refuses is a Warning Event.

use std::time::Duration;

use serde_json::{Value, json};

use super::pods::{DockerCluster, PODS};
use super::support::require_docker;

/// The reason/message pairs of the Events about pod `name`.
async fn events_of(c: &DockerCluster, name: &str) -> Vec<(String, String)> {
    let path =
        format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{name}");
    let list = c.server.get(&path).await.1;
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("reason"), s("message"))
        })
        .collect()
}

async fn wait_event(c: &DockerCluster, name: &str, reason: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = events_of(c, name).await;
        if let Some((_, m)) = events
            .iter()
            .find(|(r, m)| r == reason && m.contains(needle))
        {
            return m.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {reason} event with {needle:?} for {name}: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_and_limits_are_reported_on_the_pod() {
    let Some(c) = DockerCluster::start("docker::bad_input::bad_commands_and_limits").await else {
        return;
    };
    let busybox = c.images.busybox.clone();
    c.create(
        "badcmd",
        json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": busybox,
               "command": ["/no/such/binary"]}]}),
    )
    .await;
    c.create(
        "tinymem",
        json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": busybox,
               "command": ["sleep", "3600"], "resources": {"limits": {"memory": "1Ki"}}}]}),
    )
    .await;
    let failed = c
        .wait(
            "badcmd",
            "phase Failed",
            Duration::from_secs(30),
            |p: &Value| p["status"]["phase"] == "Failed",
        )
        .await;
    let terminated = &failed["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(terminated["reason"], "StartError", "{failed:#}");
    assert_eq!(terminated["exitCode"], 127, "{failed:#}");
    assert!(
        terminated["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("docker://")),
        "{failed:#}"
    );
    wait_event(&c, "badcmd", "Failed", "/no/such/binary").await;
    wait_event(&c, "tinymem", "Failed", "Minimum memory limit").await;
    let (_, pod) = c.server.get(&format!("{PODS}/tinymem")).await;
    assert_eq!(pod["status"]["phase"], "Pending", "{pod:#}");
}

#[tokio::test]
async fn run_refuses_to_start_without_the_sandbox_image() {
    if require_docker("docker::bad_input::run_refuses_to_start_without_the_sandbox_image")
        .await
        .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(["run", "--runtime", "docker", "--api-addr", "127.0.0.1:0"])
        .args(["--sandbox-image", "mock-k8-no-such-image:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("MOCK_K8_NODE_NAME")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("run exits")
        .expect("run mock_k8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("mock-k8-no-such-image:0") && stderr.contains("--sandbox-image"),
        "{stderr}"
    );
}
