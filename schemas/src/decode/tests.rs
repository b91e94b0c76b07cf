//! Tests of [`super::parse_body`], including every shared manifest.

use super::*;
use crate::resource::by_kind;
use serde_json::json;
use std::path::Path;

const MANIFESTS: &str = "/work/shared/manifests";

/// The documents of a manifest file, split on `---` lines (a leading one yields no document).
fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(d) = docs.last_mut() {
            d.push_str(line);
            d.push('\n');
        }
    }
    docs.into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .collect()
}

/// Every manifest file under `dir` as (name, text).
fn manifests(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("yaml" | "json")
        ) {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("readable manifest"),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn parse_body_should_read_every_shared_manifest() {
    let dir = Path::new(MANIFESTS);
    if !dir.exists() {
        eprintln!("{MANIFESTS} missing; skipping");
        return;
    }
    let mut files = manifests(dir);
    files.extend(manifests(&dir.join("invalid")));
    assert!(files.len() >= 15, "found {} manifests", files.len());
    for (name, text) in files {
        let docs = documents(&text);
        let whole = parse_body(text.as_bytes(), Some("application/yaml"));
        if docs.len() == 1 {
            let v = whole.unwrap_or_else(|e| panic!("{name}: {e}")).value;
            assert!(v["kind"].is_string(), "{name}: {v}");
            assert!(v["apiVersion"].is_string(), "{name}");
        } else {
            assert_eq!(
                whole.map(|_| ()).map_err(|e| e.code),
                Err(400),
                "{name}: several documents in one body"
            );
        }
        for doc in docs {
            let v = parse_body(doc.as_bytes(), None)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .value;
            let kind = v["kind"].as_str().unwrap_or_default().to_string();
            if kind == "List" {
                continue;
            }
            let api_version = v["apiVersion"].as_str().unwrap_or_default();
            let resource =
                by_kind(api_version, &kind).unwrap_or_else(|| panic!("{name}: {kind} served"));
            let normalized = normalize(resource, v);
            if name.contains("bad-quantities") {
                assert_eq!(normalized.map(drop).map_err(|e| e.code), Err(400), "{name}");
            } else {
                let v = normalized.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    crate::schema::unknown_fields(resource, &v),
                    Vec::<String>::new(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn parse_body_should_read_flow_style_yaml_with_comments() {
    let body = "---\n{\n  apiVersion: \"v1\",\n  kind: \"Pod\", # a comment\n  metadata: {name: \"x\",},\n  spec: {containers: [{name: a, image: b,}],},\n}\n...\n";
    let v = parse_body(body.as_bytes(), Some("application/yaml"))
        .expect("flow style")
        .value;
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "image": "b"}]}})
    );
}

#[test]
fn parse_body_should_keep_yaml_1_2_booleans_as_strings() {
    let v = parse_body(
        b"a: NO\nb: yes\nc: true\nd: 1\ne: 0.5\n",
        Some("application/yaml"),
    )
    .expect("yaml")
    .value;
    assert_eq!(
        v,
        json!({"a": "NO", "b": "yes", "c": true, "d": 1, "e": 0.5})
    );
}

#[test]
fn parse_body_should_reject_duplicate_yaml_keys_naming_the_key() {
    let err = parse_body(
        b"metadata:\n  name: a\n  name: b\n",
        Some("application/yaml"),
    )
    .expect_err("duplicate key");
    assert_eq!(err.code, 400);
    assert_eq!(err.reason, "BadRequest");
    assert!(err.message.contains("name"), "{}", err.message);
}

#[test]
fn parse_body_should_report_duplicate_json_fields() {
    let body = br#"{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"image":"x","image":"y"}]}}"#;
    for ct in [
        Some("application/json"),
        None,
        Some("application/apply-patch+yaml"),
        Some("application/merge-patch+json; charset=utf-8"),
    ] {
        let parsed = parse_body(body, ct).expect("json");
        assert_eq!(
            parsed.duplicate_fields,
            vec!["metadata.name", "spec.containers[0].image"]
        );
        assert_eq!(parsed.value["metadata"]["name"], "b");
    }
}

#[test]
fn parse_body_should_refuse_protobuf_with_415() {
    let err =
        parse_body(b"k8s\0", Some("application/vnd.kubernetes.protobuf")).expect_err("protobuf");
    assert_eq!(err.code, 415);
    assert_eq!(err.reason, "UnsupportedMediaType");
    assert!(err.message.contains("application/json"), "{}", err.message);
}

#[test]
fn parse_body_should_answer_400_for_undecodable_bodies() {
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"{\"a\":", Some("application/json")),
        (b"a: b\n", Some("application/json")),
        (b"a: [\n", Some("application/yaml")),
        (b"a: 1\n---\nb: 2\n", Some("application/yaml")),
        (b"a: 1\n---\nb: 2\n", None),
        (b"", None),
        (b"  \n", Some("application/json")),
        (b"\xff\xfe", None),
        (b"{{{{", None),
    ];
    for (body, ct) in cases {
        let err = parse_body(body, *ct).expect_err("undecodable");
        assert_eq!(
            (err.code, err.reason.as_str()),
            (400, "BadRequest"),
            "{body:?} {ct:?}: {err}"
        );
    }
}

#[test]
fn parse_body_should_read_json_patches_and_yaml_without_content_type() {
    let v = parse_body(
        br#"[{"op":"remove","path":"/spec/nodeSelector"}]"#,
        Some("application/json-patch+json"),
    )
    .expect("patch")
    .value;
    assert!(v.is_array());
    let v = parse_body(b"kind: Pod\napiVersion: v1\n", None)
        .expect("yaml sniffed")
        .value;
    assert_eq!(v["kind"], "Pod");
}
