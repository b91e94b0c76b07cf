//! `mock_k8 run` start-up checks: bad flags and files fail before the data directory is touched
//! (no identity, no join token printed), with a message naming the problem.

use crate::support::Server;
use std::process::Command;

/// Runs `mock_k8 run --api-only --api-addr 127.0.0.1:0 --data-dir <dir> <extra>` to completion.
fn run_with(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(["run", "--api-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("MOCK_K8_DATA_DIR")
        .env_remove("MOCK_K8_API_ADDR")
        .output()
        .expect("run mock_k8")
}

#[test]
fn bad_flags_and_files_should_fail_before_the_data_dir_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("node.yaml");
    std::fs::write(
        &template,
        "apiVersion: v1\nkind: Node\nmetadata: {name: t}\nstatus:\n  capacity:\n    cpu: lots\n",
    )
    .unwrap();
    let template = template.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--service-node-port-range", "5-1"],
            "invalid node port range",
        ),
        (
            &["--service-cluster-ip-range", "10.0.0.0/40"],
            "invalid service CIDR",
        ),
        (
            &["--node-template", "/nonexistent/node.yaml"],
            "cannot read node template",
        ),
        (
            &["--runtime-config", "/nonexistent/rt.yaml"],
            "cannot read runtime config",
        ),
        (&["--node-template", template], "status.capacity.cpu"),
    ];
    let dir = tmp.path().join("data");
    for (flags, want) in cases {
        let out = run_with(&dir, flags);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(stderr.contains(want), "{flags:?}: {stderr}");
        assert!(!stdout.contains("join token"), "{flags:?}: {stdout}");
        assert!(!dir.exists(), "{flags:?} left a data dir behind");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_should_say_it_is_in_use() {
    let server = Server::start().await;
    let out = run_with(server.data_dir(), &["--api-only"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is in use by another mock_k8 process (lock held on"),
        "{stderr}"
    );
    assert!(!stderr.contains("WouldBlock"), "{stderr}");
}
