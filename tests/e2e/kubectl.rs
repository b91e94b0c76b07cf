//! The real `kubectl` against the real binary: create, apply twice with a change, get in every
//! output form, get -w, label, patch in three forms, delete, describe.

use crate::support::{Kubectl, Server, require_kubectl};
use std::time::Duration;

const WEB_1: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels:
    app: web
spec:
  containers:
  - name: web
    image: nginx:1.27
"#;

fn web_2(image: &str, tier: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-2\n  labels:\n    app: web\n    tier: {tier}\n\
         spec:\n  containers:\n  - name: web\n    image: {image}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_should_drive_the_pod_lifecycle() {
    if !require_kubectl("kubectl_should_drive_the_pod_lifecycle") {
        return;
    }
    let server = Server::start().await;
    let k = Kubectl::new(&server);

    // --- create -f (a file) ---
    let file = k.scratch().join("web-1.yaml");
    std::fs::write(&file, WEB_1).unwrap();
    let file = file.to_str().unwrap();
    k.run(&["create", "-f", file])
        .await
        .ok()
        .stdout_has("pod/web-1 created");
    k.run(&["create", "-f", file])
        .await
        .failed()
        .stderr_has("AlreadyExists");

    // --- apply twice with a change, then unchanged ---
    k.run_stdin(&["apply", "-f", "-"], &web_2("nginx:1.27", "front"))
        .await
        .ok()
        .stdout_has("pod/web-2 created");
    let before = k.json(&["get", "pod", "web-2"]).await;
    k.run_stdin(&["apply", "-f", "-"], &web_2("nginx:1.28", "back"))
        .await
        .ok()
        .stdout_has("pod/web-2 configured");
    let after = k.json(&["get", "pod", "web-2"]).await;
    assert_eq!(
        after["spec"]["containers"][0]["image"], "nginx:1.28",
        "{after}"
    );
    assert_eq!(after["metadata"]["labels"]["tier"], "back", "{after}");
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert!(
        after["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .is_some_and(|s| s.contains("nginx:1.28") && s.ends_with('\n')),
        "last-applied-configuration must round-trip: {after}"
    );
    let rv_configured = after["metadata"]["resourceVersion"].clone();
    k.run_stdin(&["apply", "-f", "-"], &web_2("nginx:1.28", "back"))
        .await
        .ok()
        .stdout_has("pod/web-2 unchanged");
    let again = k.json(&["get", "pod", "web-2"]).await;
    assert_eq!(
        again["metadata"]["resourceVersion"], rv_configured,
        "an unchanged apply must not bump"
    );

    // --- get in every output form ---
    let table = k.run(&["get", "pods"]).await;
    table
        .ok()
        .stdout_has("NAME")
        .stdout_has("READY")
        .stdout_has("STATUS")
        .stdout_has("AGE");
    table.stdout_has("web-1").stdout_has("web-2");
    let wide = k.run(&["get", "pods", "-o", "wide"]).await;
    wide.ok()
        .stdout_has("NODE")
        .stdout_has("IP")
        .stdout_has("web-1");
    let yaml = k.run(&["get", "pod", "web-1", "-o", "yaml"]).await;
    yaml.ok()
        .stdout_has("kind: Pod")
        .stdout_has("name: web-1")
        .stdout_has("image: nginx:1.27");
    let json = k.json(&["get", "pod", "web-1"]).await;
    assert_eq!(json["kind"], "Pod");
    assert_eq!(json["apiVersion"], "v1");
    assert_eq!(json["metadata"]["name"], "web-1");
    assert_eq!(json["metadata"]["namespace"], "default");
    assert!(
        json["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{json}"
    );
    assert!(json["metadata"]["creationTimestamp"].is_string(), "{json}");
    let list = k.json(&["get", "pods"]).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");
    let names = k.run(&["get", "pods", "-o", "name"]).await;
    let mut lines: Vec<&str> = names.ok().stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["pod/web-1", "pod/web-2"], "{names}");
    let jp = k
        .run(&["get", "pod", "web-1", "-o", "jsonpath={.metadata.name}"])
        .await;
    assert_eq!(jp.ok().stdout, "web-1", "{jp}");
    let all_ns = k.run(&["get", "pods", "-A"]).await;
    all_ns.ok().stdout_has("NAMESPACE");
    assert!(
        all_ns
            .stdout
            .lines()
            .any(|l| l.starts_with("default") && l.contains("web-1")),
        "-A must show the namespace of each row:\n{all_ns}"
    );
    let labels = k.run(&["get", "pods", "--show-labels"]).await;
    labels.ok().stdout_has("LABELS");
    assert!(
        labels
            .stdout
            .lines()
            .any(|l| l.starts_with("web-2") && l.contains("app=web") && l.contains("tier=back")),
        "--show-labels must print each pod's labels:\n{labels}"
    );
    k.run(&["get", "pods", "-l", "tier=back", "-o", "name"])
        .await
        .ok()
        .stdout_has("pod/web-2");
    let none = k
        .run(&["get", "pods", "-l", "tier!=back", "-o", "name"])
        .await;
    assert_eq!(
        none.ok().stdout.trim(),
        "pod/web-1",
        "tier!=back matches pods without tier:\n{none}"
    );
    k.run(&["get", "pod", "nope"])
        .await
        .failed()
        .stderr_has("NotFound")
        .stderr_has("pods \"nope\" not found");

    // --- get -w streams changes ---
    let mut watch = k.spawn(&["get", "pods", "-w", "--output-watch-events"]);
    watch
        .wait_line("the initial web-2 row", Duration::from_secs(30), |l| {
            l.contains("web-2")
        })
        .await;
    k.run_stdin(&["apply", "-f", "-"], &WEB_1.replace("web-1", "watched"))
        .await
        .ok();
    watch
        .wait_line("ADDED watched", Duration::from_secs(20), |l| {
            l.contains("ADDED") && l.contains("watched")
        })
        .await;
    k.run(&["label", "pod", "watched", "seen=yes"])
        .await
        .ok()
        .stdout_has("pod/watched labeled");
    watch
        .wait_line("MODIFIED watched", Duration::from_secs(20), |l| {
            l.contains("MODIFIED") && l.contains("watched")
        })
        .await;
    k.run(&["delete", "pod", "watched"]).await.ok();
    watch
        .wait_line("DELETED watched", Duration::from_secs(20), |l| {
            l.contains("DELETED") && l.contains("watched")
        })
        .await;
    watch.kill().await;

    // --- label ---
    k.run(&["label", "pod", "web-1", "env=prod"])
        .await
        .ok()
        .stdout_has("pod/web-1 labeled");
    let got = k
        .run(&[
            "get",
            "pod",
            "web-1",
            "-o",
            "jsonpath={.metadata.labels.env}",
        ])
        .await;
    assert_eq!(got.ok().stdout, "prod", "{got}");
    let rv_labeled = k.json(&["get", "pod", "web-1"]).await["metadata"]["resourceVersion"].clone();
    k.run(&["label", "pod", "web-1", "env=prod"])
        .await
        .ok()
        .stdout_has("pod/web-1 not labeled");
    k.run(&["label", "pod", "web-1", "env=dev"])
        .await
        .failed()
        .stderr_has("already has a value");
    let rv_now = k.json(&["get", "pod", "web-1"]).await["metadata"]["resourceVersion"].clone();
    assert_eq!(
        rv_now, rv_labeled,
        "a label that is already set must not bump resourceVersion"
    );
    k.run(&["label", "pod", "web-1", "env-"])
        .await
        .ok()
        .stdout_has("pod/web-1 unlabeled");
    let labels = k.json(&["get", "pod", "web-1"]).await["metadata"]["labels"].clone();
    assert!(
        labels.get("env").is_none(),
        "env- removes the label: {labels}"
    );

    // --- patch in three forms ---
    k.run(&[
        "patch",
        "pod",
        "web-1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"annotations":{"note":"merged"}}}"#,
    ])
    .await
    .ok()
    .stdout_has("pod/web-1 patched");
    let p = k.json(&["get", "pod", "web-1"]).await;
    assert_eq!(p["metadata"]["annotations"]["note"], "merged", "{p}");
    k.run(&[
        "patch",
        "pod",
        "web-1",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.29"}]"#,
    ])
    .await
    .ok()
    .stdout_has("pod/web-1 patched");
    let p = k.json(&["get", "pod", "web-1"]).await;
    assert_eq!(p["spec"]["containers"][0]["image"], "nginx:1.29", "{p}");
    let smp = r#"{"spec":{"containers":[{"name":"web","image":"nginx:1.30"}]}}"#;
    k.run(&["patch", "pod", "web-1", "-p", smp])
        .await
        .ok()
        .stdout_has("pod/web-1 patched");
    let p = k.json(&["get", "pod", "web-1"]).await;
    let containers = p["spec"]["containers"].as_array().expect("containers");
    assert_eq!(
        containers.len(),
        1,
        "strategic merge patch merges containers by name: {p}"
    );
    assert_eq!(containers[0]["image"], "nginx:1.30", "{p}");
    let rv_patched = p["metadata"]["resourceVersion"].clone();
    k.run(&["patch", "pod", "web-1", "-p", smp])
        .await
        .ok()
        .stdout_has("pod/web-1 patched (no change)");
    let p = k.json(&["get", "pod", "web-1"]).await;
    assert_eq!(
        p["metadata"]["resourceVersion"], rv_patched,
        "a no-op patch must not bump resourceVersion"
    );
    k.run(&[
        "patch",
        "pod",
        "web-1",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/nope"}]"#,
    ])
    .await
    .failed();
    k.run(&["patch", "pod", "nope", "--type=merge", "-p", "{}"])
        .await
        .failed()
        .stderr_has("NotFound");

    // --- describe ---
    let d = k.run(&["describe", "pod", "web-1"]).await;
    d.ok()
        .stdout_has("Name:")
        .stdout_has("web-1")
        .stdout_has("Namespace:")
        .stdout_has("default");
    d.stdout_has("app=web")
        .stdout_has("nginx:1.30")
        .stdout_has("note: merged");

    // --- delete ---
    k.run(&["delete", "pod", "web-2"])
        .await
        .ok()
        .stdout_has("pod \"web-2\" deleted");
    k.run(&["get", "pod", "web-2"])
        .await
        .failed()
        .stderr_has("pods \"web-2\" not found");
    k.run(&["delete", "pod", "web-2"])
        .await
        .failed()
        .stderr_has("NotFound");
    k.run(&["delete", "pod", "web-2", "--ignore-not-found"])
        .await
        .ok();
    let names = k.run(&["get", "pods", "-o", "name"]).await;
    assert_eq!(names.ok().stdout.trim(), "pod/web-1", "{names}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_should_discover_resources_and_versions() {
    if !require_kubectl("kubectl_should_discover_resources_and_versions") {
        return;
    }
    let server = Server::start().await;
    let k = Kubectl::new(&server);
    let v = k.run(&["version"]).await;
    v.ok().stdout_has("Server Version: v1.32");
    let r = k.run(&["api-resources"]).await;
    r.ok();
    for (name, short) in [
        ("pods", "po"),
        ("services", "svc"),
        ("nodes", "no"),
        ("namespaces", "ns"),
    ] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(name) && l.split_whitespace().nth(1) == Some(short)),
            "api-resources lacks {name} ({short}):\n{r}"
        );
    }
    r.stdout_has("deployments")
        .stdout_has("replicasets")
        .stdout_has("leases")
        .stdout_has("endpoints");
    let ns = k.run(&["get", "ns", "-o", "name"]).await;
    ns.ok()
        .stdout_has("namespace/default")
        .stdout_has("namespace/kube-system")
        .stdout_has("namespace/kube-node-lease");
    // `kubectl create ns` sends protobuf: a clear 415, and the documented workaround works.
    k.run(&["create", "ns", "proto"])
        .await
        .failed()
        .stderr_has("UnsupportedMediaType");
    let yaml = k
        .run(&["create", "ns", "team-a", "--dry-run=client", "-o", "yaml"])
        .await;
    k.run_stdin(&["apply", "-f", "-"], &yaml.ok().stdout)
        .await
        .ok()
        .stdout_has("namespace/team-a created");
    k.run(&["get", "ns", "team-a"])
        .await
        .ok()
        .stdout_has("Active");
}
