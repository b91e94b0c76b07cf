//! Tests of the schema module: drift of the checked-in files, unknown fields, OpenAPI documents.

use super::*;
use crate::resource::by_kind;
use std::path::PathBuf;

fn json_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json")
}

#[test]
fn checked_in_schemas_should_match_generated() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    let mut expected: Vec<(String, String)> = RESOURCES
        .iter()
        .map(|r| {
            (
                generate::file_name(r),
                generate::render(
                    &generate::generate(r).unwrap_or_else(|| panic!("{} has a schema", r.kind)),
                ),
            )
        })
        .collect();
    expected.push((
        generate::META_FILE.to_string(),
        generate::render(&generate::generate_meta()),
    ));
    let mut drifted = Vec::new();
    for (name, text) in &expected {
        let path = json_dir().join(name);
        if update {
            std::fs::write(&path, text).expect("write schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            drifted.push(name.clone());
        }
    }
    assert!(
        drifted.is_empty(),
        "checked-in schemas differ from the generated ones: {drifted:?}\nrun `UPDATE_SCHEMAS=1 cargo test -p mock_k8_schemas checked_in_schemas` to rewrite schemas/json/"
    );
    // Every embedded file is one of these and parses.
    for (group, kind, text) in FILES {
        let r = RESOURCES
            .iter()
            .find(|r| r.group == *group && r.kind == *kind)
            .expect("served kind");
        let (_, want) = expected
            .iter()
            .find(|(n, _)| *n == generate::file_name(r))
            .expect("generated");
        if !update {
            assert_eq!(text, want, "{kind}: rebuild after updating the files");
        }
        assert!(schema(r).is_some(), "{kind} loads");
    }
}

#[test]
fn unknown_fields_should_report_strict_decoding_paths() {
    let pod = by_kind("v1", "Pod").expect("served");
    let obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "foo": 1, "labels": {"a": "b"}, "managedFields": [{"fieldsV1": {"f:spec": {}}}]},
        "spec": {
            "containerz": [],
            "containers": [{"name": "a", "image": "x", "imagez": "y", "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "portz": 1}]}],
            "nodeSelector": {"disktype": "ssd"}
        },
        "status": {"phase": "Running"}
    });
    assert_eq!(
        unknown_fields(pod, &obj),
        vec![
            "metadata.foo",
            "spec.containerz",
            "spec.containers[0].imagez",
            "spec.containers[0].ports[0].portz"
        ]
    );
    let mut pruned = obj.clone();
    prune_unknown(pod, &mut pruned);
    assert!(unknown_fields(pod, &pruned).is_empty());
    assert!(pruned["spec"].get("containerz").is_none());
    assert_eq!(pruned["spec"]["containers"][0]["image"], "x");
    assert_eq!(pruned["metadata"]["labels"]["a"], "b");
}

#[test]
fn unknown_fields_should_accept_every_valid_shared_manifest() {
    let dir = std::path::Path::new("/work/shared/manifests");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read(&p).expect("readable");
        let v = crate::decode::parse_body(&text, None)
            .expect("parses")
            .value;
        let r = by_kind(
            v["apiVersion"].as_str().unwrap_or(""),
            v["kind"].as_str().unwrap_or(""),
        )
        .expect("served");
        assert!(
            unknown_fields(r, &v).is_empty(),
            "{}: {:?}",
            p.display(),
            unknown_fields(r, &v)
        );
    }
    let deploy = by_kind("apps/v1", "Deployment").expect("served");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "n", "image": "nginx"}]}}}});
    assert!(unknown_fields(deploy, &d).is_empty());
}

/// Every `$ref` in `v`, recursively.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|c| refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

#[test]
fn openapi_documents_should_have_patch_with_field_validation_for_every_kind() {
    let root = openapi_v3_root();
    let paths = root["paths"].as_object().expect("paths");
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        vec![
            "api/v1",
            "apis/coordination.k8s.io/v1",
            "apis/apps/v1",
            "apis/discovery.k8s.io/v1"
        ]
    );
    for (gv, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().expect("url");
        let hash = openapi_v3_hash(gv).expect("hash");
        assert_eq!(url, format!("/openapi/v3/{gv}?hash={hash}"));
        let doc = openapi_v3_document(&format!("/{gv}")).expect("document");
        assert_eq!(openapi_v3_document(gv).as_ref(), Some(&doc));
        assert_eq!(doc["openapi"], "3.0.0");
        assert_eq!(
            doc["info"],
            json!({"title": "Kubernetes", "version": "v1.32.0"})
        );
        assert_eq!(
            openapi_v3_document_bytes(gv).map(|b| serde_json::from_slice::<Value>(b).ok()),
            Some(Some(doc.clone()))
        );
        for r in RESOURCES
            .iter()
            .filter(|r| openapi::group_version_path(r.group, r.version) == *gv)
        {
            let want = json!({"group": r.group, "version": r.version, "kind": r.kind});
            let found = doc["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|p| p.get("patch"))
                .any(|op| {
                    op["x-kubernetes-group-version-kind"] == want
                        && op["parameters"].as_array().is_some_and(|ps| {
                            ps.iter()
                                .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                        })
                });
            assert!(found, "{gv}: no PATCH with fieldValidation for {}", r.kind);
            let collection = r.collection_path(Some("{namespace}"));
            assert!(
                doc["paths"][&collection]["post"].is_object(),
                "{collection}"
            );
            assert_eq!(
                doc["paths"][format!("{collection}/{{name}}")]["delete"]["x-kubernetes-action"],
                "delete"
            );
        }
        // Every reference resolves, and no JSON Schema leftovers remain.
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{gv}: foreign ref {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{gv}: unresolved {r}"
            );
        }
        let text =
            String::from_utf8_lossy(openapi_v3_document_bytes(gv).expect("bytes")).to_string();
        assert!(
            !text.contains("$defs") && !text.contains("\"$schema\""),
            "{gv}: JSON Schema leftovers"
        );
    }
    assert!(openapi_v3_document("apis/batch/v1").is_none());
    assert!(openapi_v3_document("api/v2").is_none());
}

#[test]
fn openapi_component_should_describe_the_kind_for_explain() {
    let doc = openapi_v3_document("api/v1").expect("core");
    let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "version": "v1", "kind": "Pod"}])
    );
    assert_eq!(
        pod["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    );
    assert!(
        doc["components"]["schemas"]["io.k8s.api.core.v1.PodList"]["properties"]["items"]
            .is_object()
    );
}

#[test]
fn to_openapi_schema_should_convert_json_schema_2020_12() {
    let s = json!({"$schema": "x", "title": "T", "type": ["string", "null"], "const": "a",
        "properties": {"type": {"$ref": "#/$defs/X"}, "$ref": {"type": "integer"}}, "$defs": {"X": {}}});
    assert_eq!(
        openapi::to_openapi_schema(&s),
        json!({"type": "string", "nullable": true, "enum": ["a"], "properties": {"type": {"$ref": "#/components/schemas/X"}, "$ref": {"type": "integer"}}})
    );
}

#[test]
fn fnv1a_should_be_stable() {
    assert_eq!(openapi::fnv1a_hex(b""), "CBF29CE484222325");
    assert_eq!(openapi::fnv1a_hex(b"a"), "AF63DC4C8601EC8C");
}

#[test]
fn openapi_v3_document_should_carry_strategic_merge_keys() {
    let doc = openapi_v3_document("api/v1").expect("core document");
    let schemas = &doc["components"]["schemas"];
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let ports = &schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "port");
}
