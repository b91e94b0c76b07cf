//! Discovery, CRUD, the seed's paths and error Status shapes.

use super::*;

#[tokio::test]
async fn discovery_should_serve_kubectls_documents() {
    let h = Harness::start().await;
    let api = h.get("/api?timeout=32s").await;
    assert_eq!(
        (
            api.code,
            api.body["kind"].clone(),
            api.body["versions"].clone()
        ),
        (StatusCode::OK, json!("APIVersions"), json!(["v1"]))
    );
    assert_eq!(api.headers["content-type"], "application/json");
    let apis = h.get("/apis").await;
    assert!(
        apis.body["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["name"] == "apps")
    );
    let core = h.get("/api/v1").await;
    let pods = core.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "pods")
        .cloned()
        .expect("pods");
    assert_eq!(pods["shortNames"], json!(["po"]));
    let apps = h.get("/apis/apps/v1").await;
    assert_eq!(apps.body["groupVersion"], "apps/v1");
    let v = h.get("/version?timeout=5s").await;
    assert_eq!(v.body["minor"], "32");
    assert_status(&h.get("/api/v1/widgets").await, 404, "NotFound");
    assert_status(&h.get("/nothing/here").await, 404, "NotFound");
    assert_eq!(h.get("/livez").await.body, json!("ok"));
    assert_eq!(h.get("/readyz").await.code, StatusCode::OK);
    let ns = h.get("/api/v1/namespaces").await;
    let names: Vec<&str> = ns.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    for want in crate::server::SYSTEM_NAMESPACES {
        assert!(names.contains(want), "{names:?}");
    }
    h.shutdown();
}

#[tokio::test]
async fn openapi_should_serve_v3_documents_and_a_v2_stub() {
    let h = Harness::start().await;
    let root = h.get("/openapi/v3?timeout=32s").await;
    let url = root.body["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .expect("api/v1 entry")
        .to_string();
    let doc = h.get(&format!("{url}&timeout=32s")).await;
    assert_eq!(doc.code, StatusCode::OK);
    assert!(
        doc.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc.body["openapi"]
    );
    assert_status(&h.get("/openapi/v3/apis/nope/v1").await, 404, "NotFound");
    let v2 = h
        .send(
            Method::GET,
            "/openapi/v2?timeout=32s",
            None,
            None,
            Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
        )
        .await;
    assert_eq!(
        (v2.code, v2.headers["content-type"].to_str().ok()),
        (StatusCode::OK, Some("application/octet-stream"))
    );
    assert_eq!(h.get("/openapi/v2").await.body["swagger"], "2.0");
    h.shutdown();
}

#[tokio::test]
async fn create_get_list_update_delete_should_follow_kubernetes() {
    let h = Harness::start().await;
    let created = h
        .post(
            "/api/v1/namespaces/default/pods?fieldManager=kubectl-create&fieldValidation=Strict",
            &pod("web", json!({"app": "web"})),
        )
        .await;
    assert_eq!(created.code, StatusCode::CREATED, "{}", created.body);
    let c = &created.body;
    assert_eq!(
        (c["kind"].clone(), c["apiVersion"].clone()),
        (json!("Pod"), json!("v1"))
    );
    assert_eq!(c["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert_eq!(c["metadata"]["generation"], 1);
    assert!(
        c["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_status(
        &h.post("/api/v1/namespaces/default/pods", &pod("web", json!({})))
            .await,
        409,
        "AlreadyExists",
    );

    let got = h.get("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(got.body, created.body);
    h.post(
        "/api/v1/namespaces/default/pods",
        &pod("db", json!({"app": "db"})),
    )
    .await;
    let list = h.get("/api/v1/namespaces/default/pods?limit=500").await;
    assert_eq!(list.body["kind"], "PodList");
    assert!(rv(&list.body) >= rv(&created.body));
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
    let sel = h.get("/api/v1/pods?labelSelector=app+in+%28web%29").await;
    assert_eq!(sel.body["items"].as_array().map(Vec::len), Some(1));
    let field = h
        .get("/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Ddb")
        .await;
    assert_eq!(field.body["items"][0]["metadata"]["name"], "db");
    assert_status(
        &h.get("/api/v1/pods?fieldSelector=spec.bogus%3Dx").await,
        400,
        "BadRequest",
    );
    let page = h.get("/api/v1/namespaces/default/pods?limit=1").await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    let token = page.body["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_string();
    let next = h
        .get(&format!(
            "/api/v1/namespaces/default/pods?limit=1&continue={}",
            token.replace('/', "%2F")
        ))
        .await;
    assert_eq!(next.body["items"][0]["metadata"]["name"], "web");

    // Conditional update: fresh rv works and bumps generation on a spec change; stale rv is 409.
    let mut changed = created.body.clone();
    changed["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    let updated = h
        .put(
            "/api/v1/namespaces/default/pods/web?fieldValidation=Strict",
            &changed,
        )
        .await;
    assert_eq!(updated.code, StatusCode::OK, "{}", updated.body);
    assert!(rv(&updated.body) > rv(&created.body));
    assert_eq!(updated.body["metadata"]["generation"], 2);
    assert_eq!(
        updated.body["metadata"]["uid"],
        created.body["metadata"]["uid"]
    );
    assert_status(
        &h.put("/api/v1/namespaces/default/pods/web", &changed).await,
        409,
        "Conflict",
    );
    let mut renamed = updated.body.clone();
    renamed["metadata"]["name"] = json!("other");
    assert_status(
        &h.put("/api/v1/namespaces/default/pods/web", &renamed).await,
        400,
        "BadRequest",
    );

    let deleted = h.delete("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(
        (deleted.code, deleted.body["metadata"]["name"].clone()),
        (StatusCode::OK, json!("web"))
    );
    assert_status(
        &h.get("/api/v1/namespaces/default/pods/web").await,
        404,
        "NotFound",
    );
    assert_eq!(
        h.get("/api/v1/namespaces/default/pods/web").await.body["message"],
        "pods \"web\" not found"
    );
    // DELETE tolerates a protobuf body.
    let proto = h
        .send(
            Method::DELETE,
            "/api/v1/namespaces/default/pods/db",
            Some("application/vnd.kubernetes.protobuf"),
            Some("k8s\0junk".into()),
            None,
        )
        .await;
    assert_eq!(proto.code, StatusCode::OK);
    h.shutdown();
}

#[tokio::test]
async fn seed_paths_should_address_pods_by_uid_or_default_name() {
    let h = Harness::start().await;
    let created = h.post("/api/v1/pods", &pod("seed", json!({}))).await;
    assert_eq!(created.code, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["metadata"]["namespace"], "default");
    let uid = created.body["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    assert_eq!(
        h.get(&format!("/api/v1/pods/{uid}")).await.body["metadata"]["name"],
        "seed"
    );
    assert_eq!(
        h.get("/api/v1/pods/seed").await.body["metadata"]["uid"],
        json!(uid)
    );
    assert_eq!(
        h.get("/api/v1/pods").await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
    let s = h.post("/api/v1/services", &svc).await;
    assert_eq!(s.code, StatusCode::CREATED, "{}", s.body);
    assert_eq!(
        h.delete(&format!(
            "/api/v1/services/{}",
            s.body["metadata"]["uid"].as_str().expect("uid")
        ))
        .await
        .code,
        StatusCode::OK
    );
    assert_eq!(
        h.delete(&format!("/api/v1/pods/{uid}")).await.code,
        StatusCode::OK
    );
    assert_status(
        &h.get(&format!("/api/v1/pods/{uid}")).await,
        404,
        "NotFound",
    );

    // Nodes: create, then PUT status changes only the status.
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"a": "b"}}, "spec": {}, "status": {"phase": "Running"}});
    let n = h.post("/api/v1/nodes", &node).await;
    assert_eq!(n.code, StatusCode::CREATED, "{}", n.body);
    let mut status = node.clone();
    status["metadata"]["labels"] = json!({"changed": "yes"});
    status["spec"] = json!({"unschedulable": true});
    status["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    let put = h.put("/api/v1/nodes/n1/status", &status).await;
    assert_eq!(put.code, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(put.body["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(put.body["spec"].get("unschedulable"), None);
    let by_uid = h
        .get(&format!(
            "/api/v1/nodes/{}",
            n.body["metadata"]["uid"].as_str().expect("uid")
        ))
        .await;
    assert_eq!(by_uid.body["metadata"]["name"], "n1");
    h.shutdown();
}

#[tokio::test]
async fn bad_requests_should_get_status_answers() {
    let h = Harness::start().await;
    // Namespace mismatch, missing namespace.
    let mut p = pod("x", json!({}));
    p["metadata"]["namespace"] = json!("other");
    let mismatch = h.post("/api/v1/namespaces/default/pods", &p).await;
    assert_status(&mismatch, 400, "BadRequest");
    assert_eq!(
        mismatch.body["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    let missing = h
        .post("/api/v1/namespaces/nope/pods", &pod("x", json!({})))
        .await;
    assert_status(&missing, 404, "NotFound");
    assert!(
        missing.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nope"))
    );
    // Strict unknown field → 400; Warn → 201 with a Warning header; Ignore → 201 silently.
    let mut unknown = pod("u", json!({}));
    unknown["spec"]["containerz"] = json!([]);
    let strict = h
        .post(
            "/api/v1/namespaces/default/pods?fieldValidation=Strict",
            &unknown,
        )
        .await;
    assert_status(&strict, 400, "BadRequest");
    assert_eq!(
        strict.body["message"],
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containerz\""
    );
    let warn = h
        .post(
            "/api/v1/namespaces/default/pods?fieldValidation=Warn",
            &unknown,
        )
        .await;
    assert_eq!(warn.code, StatusCode::CREATED, "{}", warn.body);
    assert_eq!(
        warn.headers["warning"],
        r#"299 - "unknown field \"spec.containerz\"""#
    );
    assert_eq!(warn.body["spec"].get("containerz"), None);
    // 422 with causes, 415 protobuf, 413 too large, 400 undecodable.
    let invalid = h.post("/api/v1/namespaces/default/pods", &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-containers"}, "spec": {}})).await;
    assert_status(&invalid, 422, "Invalid");
    assert_eq!(
        invalid.body["details"]["causes"][0]["field"],
        "spec.containers"
    );
    let proto = h
        .send(
            Method::POST,
            "/api/v1/namespaces",
            Some("application/vnd.kubernetes.protobuf"),
            Some("k8s\0x".into()),
            None,
        )
        .await;
    assert_status(&proto, 415, "UnsupportedMediaType");
    let huge = "x".repeat(4 * 1024 * 1024);
    assert_status(
        &h.send(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            Some("application/json"),
            Some(huge),
            None,
        )
        .await,
        413,
        "RequestEntityTooLarge",
    );
    assert_status(
        &h.send(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            Some("application/json"),
            Some("{not json".into()),
            None,
        )
        .await,
        400,
        "BadRequest",
    );
    let quantity = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {"containers": [{"name": "a", "image": "i", "resources": {"requests": {"memory": "512mi"}}}]}});
    assert_status(
        &h.post("/api/v1/namespaces/default/pods", &quantity).await,
        400,
        "BadRequest",
    );
    assert_status(
        &h.send(
            Method::PUT,
            "/api/v1/namespaces/default/pods",
            Some("application/json"),
            Some("{}".into()),
            None,
        )
        .await,
        405,
        "MethodNotAllowed",
    );
    assert_status(
        &h.delete("/api/v1/namespaces/default").await,
        403,
        "Forbidden",
    );
    // Nothing above was stored but the Warn pod.
    let list = h.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    h.shutdown();
}

#[tokio::test]
async fn create_should_honour_generate_name_dry_run_and_namespaces() {
    let h = Harness::start().await;
    let generated = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "testing-"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let a = h.post("/api/v1/namespaces/default/pods", &generated).await;
    assert_eq!(a.code, StatusCode::CREATED, "{}", a.body);
    let name = a.body["metadata"]["name"].as_str().expect("name");
    assert!(name.starts_with("testing-") && name.len() == 13, "{name}");
    let dry = h
        .post(
            "/api/v1/namespaces/default/pods?dryRun=All",
            &pod("dry", json!({})),
        )
        .await;
    assert_eq!(dry.code, StatusCode::CREATED);
    assert_status(
        &h.get("/api/v1/namespaces/default/pods/dry").await,
        404,
        "NotFound",
    );
    // A namespace, then a pod in it; deleting the namespace deletes the pod.
    let ns = h
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        )
        .await;
    assert_eq!(
        (ns.code, ns.body["status"]["phase"].clone()),
        (StatusCode::CREATED, json!("Active"))
    );
    assert_eq!(
        h.post("/api/v1/namespaces/team-a/pods", &pod("p", json!({})))
            .await
            .code,
        StatusCode::CREATED
    );
    assert_eq!(
        h.delete("/api/v1/namespaces/team-a").await.code,
        StatusCode::OK
    );
    assert_status(
        &h.get("/api/v1/namespaces/team-a/pods/p").await,
        404,
        "NotFound",
    );
    // PUT creates a missing Lease (create-on-update kinds); a second identical PUT changes nothing.
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
    let lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1";
    let l1 = h.put(lease_path, &lease).await;
    assert_eq!(l1.code, StatusCode::CREATED, "{}", l1.body);
    let l2 = h.put(lease_path, &lease).await;
    assert_eq!((l2.code, rv(&l2.body)), (StatusCode::OK, rv(&l1.body)));
    assert_status(
        &h.put(
            "/api/v1/namespaces/default/pods/absent",
            &pod("absent", json!({})),
        )
        .await,
        404,
        "NotFound",
    );
    h.shutdown();
}

#[tokio::test]
async fn table_output_should_carry_columns_and_row_objects() {
    let h = Harness::start().await;
    h.post(
        "/api/v1/namespaces/default/pods",
        &pod("web", json!({"app": "web"})),
    )
    .await;
    let t = h
        .send(
            Method::GET,
            "/api/v1/pods?limit=500",
            None,
            None,
            Some(TABLE_ACCEPT),
        )
        .await;
    assert_eq!(
        (t.body["kind"].clone(), t.body["apiVersion"].clone()),
        (json!("Table"), json!("meta.k8s.io/v1"))
    );
    assert!(t.body["metadata"]["resourceVersion"].is_string());
    assert!(
        t.body["columnDefinitions"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    let row = &t.body["rows"][0];
    assert_eq!(row["cells"][0], "web");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["labels"]["app"], "web");
    let full = h
        .send(
            Method::GET,
            "/api/v1/namespaces/default/pods?includeObject=Object",
            None,
            None,
            Some(TABLE_ACCEPT),
        )
        .await;
    assert_eq!(full.body["rows"][0]["object"]["kind"], "Pod");
    let one = h
        .send(
            Method::GET,
            "/api/v1/namespaces/default/pods/web",
            None,
            None,
            Some(TABLE_ACCEPT),
        )
        .await;
    assert_eq!(one.body["rows"].as_array().map(Vec::len), Some(1));
    let empty = h
        .send(
            Method::GET,
            "/api/v1/namespaces/kube-public/pods",
            None,
            None,
            Some(TABLE_ACCEPT),
        )
        .await;
    assert_eq!(empty.body["rows"], json!([]));
    h.shutdown();
}

#[tokio::test]
async fn metrics_should_count_requests_by_verb_and_resource() {
    let h = Harness::start().await;
    h.get("/api/v1/namespaces/default/pods").await;
    let m = h.send(Method::GET, "/metrics", None, None, None).await;
    let text = m.body.as_str().expect("text");
    assert!(
        text.contains(r#"apiserver_request_total{verb="LIST",resource="pods",code="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("mock_k8_store_revision"));
    assert!(
        text.contains(r#"apiserver_storage_objects{resource="namespaces"} 4"#),
        "{text}"
    );
    h.shutdown();
}

#[tokio::test]
async fn metrics_should_be_served_as_openmetrics_text() {
    let h = Harness::start().await;
    h.get("/api/v1/namespaces/default/pods").await;
    let m = h.send(Method::GET, "/metrics", None, None, None).await;
    assert_eq!(m.code, StatusCode::OK);
    assert_eq!(
        m.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = m.body.as_str().expect("text");
    assert!(text.contains("# TYPE apiserver_request counter"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    h.shutdown();
}
