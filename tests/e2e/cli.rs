//! The command line itself: `version`, `init` (and its refusal to overwrite), usage errors.

use std::process::Command;

fn mock_k8(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mock_k8"))
        .args(args)
        .env_remove("MOCK_K8_DATA_DIR")
        .env_remove("MOCK_K8_NODE_NAME")
        .env_remove("MOCK_K8_API_ADDR")
        .output()
        .expect("run mock_k8")
}

#[test]
fn version_should_print_product_and_kubernetes_versions() {
    let out = mock_k8(&["version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")) && text.contains("v1.32"),
        "{text}"
    );
    for group in [
        "core/v1",
        "apps/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
    ] {
        assert!(text.contains(group), "{group}: {text}");
    }
}

#[test]
fn init_should_refuse_an_initialized_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir = dir.to_str().unwrap();
    let first = mock_k8(&["init", "--data-dir", dir, "--node-name", "n-1"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let id: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("data/identity.json")).unwrap())
            .unwrap();
    assert_eq!(id["node_name"], "n-1");
    let again = mock_k8(&["init", "--data-dir", dir, "--node-name", "n-2"]);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already initialized"), "{err}");
    let id2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("data/identity.json")).unwrap())
            .unwrap();
    assert_eq!(id2, id, "a refused init leaves the identity untouched");
}

#[test]
fn usage_errors_should_exit_with_2() {
    for args in [
        &["run", "--api-addr", "not-an-address"][..],
        &["bogus"],
        &[],
    ] {
        let out = mock_k8(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let help = mock_k8(&["help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in ["run", "init", "version", "help"] {
        assert!(text.contains(sub), "help lists {sub}: {text}");
    }
}

/// Zero or out-of-range durations and counts are usage errors (exit 2) naming the flag and the
/// allowed range, before anything touches the data directory.
#[test]
fn nonsense_durations_and_counts_should_be_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir = dir.to_str().unwrap();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--node-lease-renew-interval", "0s"],
            "--node-lease-renew-interval",
            "from 1ms to 1day",
        ),
        (
            &["--node-monitor-period", "0s"],
            "--node-monitor-period",
            "from 1ms",
        ),
        (
            &["--raft-heartbeat-interval", "0ms"],
            "--raft-heartbeat-interval",
            "from 1ms",
        ),
        (
            &["--raft-election-timeout", "0s"],
            "--raft-election-timeout",
            "from 1ms",
        ),
        (
            &["--image-pull-timeout", "lots"],
            "--image-pull-timeout",
            "e.g. 10s",
        ),
        (
            &["--crash-loop-backoff-initial", "10m"],
            "--crash-loop-backoff-initial",
            "--crash-loop-backoff-max (5m)",
        ),
        (
            &["--raft-election-timeout", "100ms"],
            "--raft-election-timeout",
            "--raft-heartbeat-interval (300ms)",
        ),
        (&["--watch-history", "-1"], "--watch-history", "at least 1"),
        (
            &["--snapshot-keep-logs", "-1"],
            "--snapshot-keep-logs",
            "at least 0",
        ),
        (
            &["--default-not-ready-toleration-seconds", "-1"],
            "--default-not-ready-toleration-seconds",
            "at least 0",
        ),
    ];
    for (flags, flag, range) in cases {
        let mut args = vec!["run", "--data-dir", dir];
        args.extend_from_slice(flags);
        let out = mock_k8(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(range),
            "{flags:?}: {err}"
        );
        assert!(!err.contains("invalid digit"), "{flags:?}: {err}");
    }
    let agent = mock_k8(&[
        "agent",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "t",
        "--node-name",
        "n",
        "--node-lease-renew-interval",
        "0s",
    ]);
    assert_eq!(agent.status.code(), Some(2));
    assert!(
        !tmp.path().join("data").exists(),
        "a usage error leaves no data dir"
    );
}
