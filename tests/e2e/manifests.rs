//! Every file in `../shared/manifests` does what `EXPECTED.md` says, at the API level: applied or
//! created with the real kubectl, read back with the right fields; the `invalid/` ones rejected
//! over plain HTTP with the documented code, reason and field, and nothing stored.

use crate::support::{Kubectl, Server, manifest, manifests_dir, require_kubectl, yaml_docs};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NAMESPACES: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cpu-example\n---\n\
                          apiVersion: v1\nkind: Namespace\nmetadata:\n  name: spark-cluster\n---\n\
                          apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tolerations\n";

fn path(name: &str) -> String {
    manifests_dir()
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_manifests_should_do_what_expected_md_says() {
    if !require_kubectl("shared_manifests_should_do_what_expected_md_says") {
        return;
    }
    let server = Server::start().await;
    let k = Kubectl::new(&server);
    let apply = |file: &'static str| {
        let k = &k;
        async move {
            let out = k.run(&["apply", "-f", &path(file)]).await;
            out.ok();
            out
        }
    };

    k.run_stdin(&["apply", "-f", "-"], NAMESPACES)
        .await
        .ok()
        .stdout_has("namespace/cpu-example created")
        .stdout_has("namespace/spark-cluster created");

    // Service `hello`: ClusterIP allocated, targetPort kept as a name.
    apply("backend-service-targetport-name-docend.yaml")
        .await
        .stdout_has("service/hello created");
    let svc = k.json(&["get", "svc", "hello"]).await;
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(
        !ip.is_empty() && ip != "None",
        "a ClusterIP must be allocated: {svc}"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http", "{svc}");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/name"], "hello",
        "{svc}"
    );

    // Pod `command-demo` (flow style).
    apply("commands-onfailure-flowstyle.yaml")
        .await
        .stdout_has("pod/command-demo created");
    let pod = k.json(&["get", "pod", "command-demo"]).await;
    assert_eq!(pod["spec"]["restartPolicy"], "OnFailure", "{pod}");
    assert_eq!(
        pod["spec"]["containers"][0]["command"],
        json!(["printenv"]),
        "{pod}"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["args"],
        json!(["HOSTNAME", "KUBERNETES_PORT"]),
        "{pod}"
    );
    assert_eq!(
        pod["metadata"]["labels"]["purpose"], "demonstrate-command",
        "{pod}"
    );

    // Pod `exclusive-1`: `cpu: 1` (a YAML integer) reads back "1", `memory: 256M` stays "256M".
    apply("cpu-manager-exclusive-1.yaml")
        .await
        .stdout_has("pod/exclusive-1 created");
    let pod = k.json(&["get", "pod", "exclusive-1"]).await;
    let res = &pod["spec"]["containers"][0]["resources"];
    for side in ["requests", "limits"] {
        assert_eq!(res[side]["cpu"], "1", "{side}: {res}");
        assert_eq!(res[side]["memory"], "256M", "{side}: {res}");
    }

    // Pod `cpu-demo` in `cpu-example`: cpu "0.5" reads back "500m".
    apply("cpu-request-limit-flowstyle.yaml")
        .await
        .stdout_has("pod/cpu-demo created");
    let pod = k
        .json(&["get", "pod", "cpu-demo", "-n", "cpu-example"])
        .await;
    assert_eq!(pod["metadata"]["namespace"], "cpu-example");
    let res = &pod["spec"]["containers"][0]["resources"];
    assert_eq!(res["limits"]["cpu"], "1", "{res}");
    assert_eq!(res["requests"]["cpu"], "500m", "{res}");
    assert_eq!(
        pod["spec"]["containers"][0]["args"],
        json!(["-cpus", "2"]),
        "{pod}"
    );

    // Node `fake-node` with its taint, labels and annotations.
    apply("fake-node-tainted.yaml")
        .await
        .stdout_has("node/fake-node created");
    let node = k.json(&["get", "node", "fake-node"]).await;
    assert_eq!(
        node["spec"]["taints"],
        json!([{"effect": "NoSchedule", "key": "kwok-controller/provider", "value": "fake"}]),
        "{node}"
    );
    assert_eq!(
        node["metadata"]["labels"]["node-role.kubernetes.io/agent"], "",
        "{node}"
    );
    assert_eq!(
        node["metadata"]["labels"]["type"], "kwok-controller",
        "{node}"
    );
    assert_eq!(
        node["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"], "0",
        "{node}"
    );
    assert!(
        node["metadata"]
            .get("namespace")
            .is_none_or(|n| n.as_str() == Some("")),
        "{node}"
    );

    // Endpoints in `spark-cluster`, stored exactly as posted.
    apply("glusterfs-endpoints.yaml")
        .await
        .stdout_has("endpoints/glusterfs-cluster created");
    let ep = k
        .json(&[
            "get",
            "endpoints",
            "glusterfs-cluster",
            "-n",
            "spark-cluster",
        ])
        .await;
    let posted = &yaml_docs(&manifest("glusterfs-endpoints.yaml"))[0];
    assert_eq!(
        ep["subsets"], posted["subsets"],
        "Endpoints must be stored exactly as posted"
    );

    // Service without selector.
    apply("glusterfs-service-no-selector.yaml")
        .await
        .stdout_has("service/glusterfs-cluster created");
    let svc = k.json(&["get", "svc", "glusterfs-cluster"]).await;
    assert!(
        svc["spec"].get("selector").is_none_or(Value::is_null),
        "no selector: {svc}"
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], 1, "{svc}");

    // Pod `init-demo` with an init container.
    apply("init-containers-flowstyle.yaml")
        .await
        .stdout_has("pod/init-demo created");
    let pod = k.json(&["get", "pod", "init-demo"]).await;
    assert_eq!(pod["spec"]["initContainers"][0]["name"], "install", "{pod}");
    assert_eq!(
        pod["spec"]["initContainers"][0]["command"][0], "wget",
        "{pod}"
    );
    assert_eq!(pod["spec"]["dnsPolicy"], "Default", "{pod}");
    assert_eq!(
        pod["spec"]["volumes"][0],
        json!({"name": "workdir", "emptyDir": {}}),
        "{pod}"
    );

    // `kind: List`: a Service and a Deployment.
    apply("list-yaml.yaml")
        .await
        .stdout_has("service/list-service-test created")
        .stdout_has("deployment.apps/list-deployment-test created");
    k.json(&["get", "svc", "list-service-test"]).await;
    let deploy = k.json(&["get", "deployment", "list-deployment-test"]).await;
    assert_eq!(deploy["apiVersion"], "apps/v1", "{deploy}");
    assert_eq!(deploy["spec"]["replicas"], 1, "{deploy}");
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"], "nginx",
        "{deploy}"
    );

    // JSON manifests: Pod `mongo` (gcePersistentDisk kept) and Service `mongo` (named targetPort).
    apply("meteor-mongo-pod.json")
        .await
        .stdout_has("pod/mongo created");
    apply("meteor-mongo-service.json")
        .await
        .stdout_has("service/mongo created");
    let pod = k.json(&["get", "pod", "mongo"]).await;
    assert_eq!(
        pod["spec"]["volumes"][0]["gcePersistentDisk"],
        json!({"pdName": "mongo-disk", "fsType": "ext4"})
    );
    assert_eq!(
        pod["spec"]["containers"][0]["ports"][0]["containerPort"], 27017,
        "{pod}"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["ports"][0]["name"], "mongo",
        "{pod}"
    );
    let svc = k.json(&["get", "svc", "mongo"]).await;
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "mongo", "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["port"], 27017, "{svc}");

    // Headless Service: no ClusterIP allocated.
    apply("minio-headless-service.yaml")
        .await
        .stdout_has("service/minio created");
    let svc = k.json(&["get", "svc", "minio"]).await;
    assert_eq!(svc["spec"]["clusterIP"], "None", "{svc}");

    // Two Pods with limits only: requests default to limits.
    apply("multi-pod.yaml")
        .await
        .stdout_has("pod/redis-master created")
        .stdout_has("pod/valid-pod created");
    let master = k.json(&["get", "pod", "redis-master"]).await;
    let res = &master["spec"]["containers"][0]["resources"];
    assert_eq!(res["limits"]["cpu"], "500m", "{res}");
    assert_eq!(
        res["requests"]["cpu"], "500m",
        "requests default to limits: {res}"
    );
    assert_eq!(
        master["metadata"]["labels"]["redis-sentinel"], "true",
        "{master}"
    );
    let valid = k.json(&["get", "pod", "valid-pod"]).await;
    let res = &valid["spec"]["containers"][0]["resources"];
    assert_eq!(
        res["requests"],
        json!({"cpu": "1", "memory": "512Mi"}),
        "requests default to limits: {res}"
    );

    // generateName: `kubectl create -f` makes `testing-` + 5 random characters.
    let out = k
        .run(&["create", "-f", &path("pod-generate-name.yaml")])
        .await;
    let line = out.ok().stdout.trim().to_string();
    let name = line
        .strip_prefix("pod/")
        .and_then(|s| s.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("unexpected output: {out}"));
    let suffix = name
        .strip_prefix("testing-")
        .unwrap_or_else(|| panic!("name {name} lacks the prefix"));
    assert!(
        suffix.len() == 5
            && suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "generated suffix {suffix:?} must be 5 lower-case alphanumerics"
    );
    let pod = k.json(&["get", "pod", name]).await;
    assert_eq!(pod["metadata"]["generateName"], "testing-", "{pod}");

    // Pod `nginx` with a nodeSelector ...
    apply("pod-nginx-nodeselector-flowstyle.yaml")
        .await
        .stdout_has("pod/nginx created");
    let pod = k.json(&["get", "pod", "nginx"]).await;
    assert_eq!(
        pod["spec"]["nodeSelector"],
        json!({"disktype": "ssd"}),
        "{pod}"
    );
    let rv = pod["metadata"]["resourceVersion"].clone();
    // ... then the toleration file over it: removing nodeSelector is a forbidden pod update (422).
    let out = k
        .run(&["apply", "-f", &path("pod-with-toleration-flowstyle.yaml")])
        .await;
    out.failed();
    assert!(
        out.stderr.contains("Invalid")
            || out.stderr.contains("is invalid")
            || out.stderr.contains("Forbidden"),
        "expected a 422 Invalid/Forbidden message:\n{out}"
    );
    let pod = k.json(&["get", "pod", "nginx"]).await;
    assert_eq!(
        pod["metadata"]["resourceVersion"], rv,
        "the rejected update must change nothing: {pod}"
    );
    assert_eq!(
        pod["spec"]["nodeSelector"],
        json!({"disktype": "ssd"}),
        "{pod}"
    );
    // In a namespace of its own it is created.
    k.run(&[
        "apply",
        "-n",
        "tolerations",
        "-f",
        &path("pod-with-toleration-flowstyle.yaml"),
    ])
    .await
    .ok()
    .stdout_has("pod/nginx created");
    let pod = k.json(&["get", "pod", "nginx", "-n", "tolerations"]).await;
    // The manifest's toleration, then the two DefaultTolerationSeconds admission adds.
    assert_eq!(
        pod["spec"]["tolerations"],
        json!([
            {"key": "example-key", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]),
        "{pod}"
    );

    // invalid/*: `kubectl create -f` fails and stores nothing.
    for (file, name) in [
        ("invalid/invalid-pod-empty-container-name.yaml", "test"),
        ("invalid/pod-without-containers.yaml", "no-containers"),
    ] {
        let out = k.run(&["create", "-f", &path(file)]).await;
        out.failed();
        assert!(
            out.stderr.contains("invalid") || out.stderr.contains("Invalid"),
            "{file}:\n{out}"
        );
        k.run(&["get", "pod", name])
            .await
            .failed()
            .stderr_has("NotFound");
    }
    k.run(&["create", "-f", &path("invalid/bad-quantities.yaml")])
        .await
        .failed();
}

/// What one invalid document must produce.
struct Rejection {
    code: u16,
    reason: &'static str,
    /// `(field, cause type)` that `details.causes` must contain (422 only).
    cause: Option<(&'static str, &'static str)>,
    /// A fragment the message must contain.
    message: &'static str,
}

const QUANTITY_MESSAGE: &str = "quantities must match the regular expression";

async fn assert_rejected(server: &Server, what: &str, doc: &Value, want: &Rejection) {
    let name = doc["metadata"]["name"]
        .as_str()
        .expect("the invalid documents have names");
    for content in ["json", "yaml"] {
        let req = server
            .http()
            .post(server.url("/api/v1/namespaces/default/pods"));
        let req = if content == "json" {
            req.json(doc)
        } else {
            let yaml = serde_saphyr::to_string(doc).expect("to yaml");
            req.header("content-type", "application/yaml").body(yaml)
        };
        let (status, body) = server.send(req).await;
        assert_eq!(status.as_u16(), want.code, "{what} ({content}): {body}");
        assert_eq!(body["kind"], "Status", "{what} ({content}): {body}");
        assert_eq!(body["status"], "Failure", "{what} ({content}): {body}");
        assert_eq!(body["code"], want.code, "{what} ({content}): {body}");
        assert_eq!(body["reason"], want.reason, "{what} ({content}): {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(want.message),
            "{what} ({content}): message {message:?} lacks {:?}",
            want.message
        );
        if let Some((field, kind)) = want.cause {
            let causes = body["details"]["causes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                causes
                    .iter()
                    .any(|c| c["field"] == field && c["reason"] == kind),
                "{what} ({content}): no cause {field} {kind} in {body}"
            );
        }
        let (status, body) = server
            .get(&format!("/api/v1/namespaces/default/pods/{name}"))
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{what} ({content}): nothing may be stored: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_manifests_should_be_rejected_over_http() {
    let server = Server::start().await;

    let docs = yaml_docs(&manifest("invalid/bad-quantities.yaml"));
    assert_eq!(docs.len(), 3, "bad-quantities.yaml holds three documents");
    let bad_quantity = Rejection {
        code: 400,
        reason: "BadRequest",
        cause: None,
        message: QUANTITY_MESSAGE,
    };
    for doc in &docs {
        let what = format!("bad-quantities.yaml/{}", doc["metadata"]["name"]);
        assert_rejected(&server, &what, doc, &bad_quantity).await;
    }

    let empty_name = &yaml_docs(&manifest("invalid/invalid-pod-empty-container-name.yaml"))[0];
    let invalid_name = Rejection {
        code: 422,
        reason: "Invalid",
        cause: Some(("spec.containers[0].name", "FieldValueRequired")),
        message: "Required value",
    };
    assert_rejected(
        &server,
        "invalid-pod-empty-container-name.yaml",
        empty_name,
        &invalid_name,
    )
    .await;

    let no_containers = yaml_docs(&manifest("invalid/pod-without-containers.yaml")).remove(0);
    let required = Rejection {
        code: 422,
        reason: "Invalid",
        cause: Some(("spec.containers", "FieldValueRequired")),
        message: "Required value",
    };
    assert_rejected(
        &server,
        "pod-without-containers.yaml",
        &no_containers,
        &required,
    )
    .await;
    let mut empty_list = no_containers.clone();
    empty_list["spec"] = json!({"containers": []});
    assert_rejected(
        &server,
        "pod-without-containers.yaml (containers: [])",
        &empty_list,
        &required,
    )
    .await;

    // The contrast cases of bad-quantities.yaml are accepted, in canonical form.
    for (i, (given, canonical)) in [
        ("512Mi", "512Mi"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("1e3", "1e3"),
        ("1G", "1G"),
        ("256M", "256M"),
        ("1Ti", "1Ti"),
        ("1.5Gi", "1536Mi"),
        ("1.441", "1441m"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut pod =
            crate::support::pod(&format!("quantity-{i}"), &[], "registry.k8s.io/pause:3.9");
        pod["spec"]["containers"][0]["resources"] = json!({"requests": {"memory": given}});
        let created = server.create("/api/v1/namespaces/default/pods", &pod).await;
        assert_eq!(
            created["spec"]["containers"][0]["resources"]["requests"]["memory"], canonical,
            "{given} must be accepted and read back as {canonical}"
        );
    }
}
