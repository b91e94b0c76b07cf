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
