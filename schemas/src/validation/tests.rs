//! Table-driven tests of [`validate_create`] and [`validate_update`], including the shared manifests in
//! `/work/shared/manifests` (translated by hand into JSON as the decoder would hand them over: nulls removed,
//! namespace filled in, generated names set).

use super::*;
use crate::resource::RESOURCES;
use serde_json::{Value, json};

fn res(kind: &str) -> &'static ApiResource {
    RESOURCES.iter().find(|r| r.kind == kind).unwrap_or_else(|| panic!("no resource {kind}"))
}

/// `(field, reason)` of each cause.
fn fields(causes: &[StatusCause]) -> Vec<(String, String)> {
    causes.iter().map(|c| (c.field.clone(), c.reason.clone())).collect()
}

fn create(obj: &Value) -> Vec<StatusCause> {
    let kind = obj["kind"].as_str().expect("test objects carry a kind");
    validate_create(res(kind), obj)
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

fn nginx() -> Value {
    json!({"name": "nginx", "image": "nginx"})
}

/// Valid shared manifests without resource quantities.
fn valid_manifests() -> Vec<Value> {
    vec![
        // backend-service-targetport-name-docend.yaml
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"selector": {"app.kubernetes.io/name": "hello", "tier": "backend"},
                "ports": [{"protocol": "TCP", "port": 80, "targetPort": "http"}]}}),
        // commands-onfailure-flowstyle.yaml
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "command-demo", "namespace": "default", "labels": {"purpose": "demonstrate-command"}},
            "spec": {"containers": [{"name": "command-demo-container", "image": "debian", "command": ["printenv"],
                "args": ["HOSTNAME", "KUBERNETES_PORT"]}], "restartPolicy": "OnFailure"}}),
        // fake-node-tainted.yaml
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fake-node",
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "fake-node", "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent", "node-role.kubernetes.io/agent": "", "type": "kwok-controller"}},
            "spec": {"taints": [{"effect": "NoSchedule", "key": "kwok-controller/provider", "value": "fake"}]}}),
        // glusterfs-endpoints.yaml
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "glusterfs-cluster", "namespace": "spark-cluster"},
            "subsets": [{"addresses": [{"ip": "192.168.30.104"}], "ports": [{"port": 1}]},
                {"addresses": [{"ip": "192.168.30.105"}], "ports": [{"port": 1}]}]}),
        // glusterfs-service-no-selector.yaml
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "glusterfs-cluster", "namespace": "default"},
            "spec": {"ports": [{"port": 1}]}}),
        // init-containers-flowstyle.yaml
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "init-demo", "namespace": "default"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                    "volumeMounts": [{"name": "workdir", "mountPath": "/usr/share/nginx/html"}]}],
                "initContainers": [{"name": "install", "image": "busybox:1.28",
                    "command": ["wget", "-O", "/work-dir/index.html", "http://info.cern.ch"],
                    "volumeMounts": [{"name": "workdir", "mountPath": "/work-dir"}]}],
                "dnsPolicy": "Default", "volumes": [{"name": "workdir", "emptyDir": {}}]}}),
        // list-yaml.yaml, both items
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "list-service-test", "namespace": "default"},
            "spec": {"ports": [{"protocol": "TCP", "port": 80}], "selector": {"app": "list-deployment-test"}}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "list-deployment-test", "namespace": "default", "labels": {"app": "list-deployment-test"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "list-deployment-test"}},
                "template": {"metadata": {"labels": {"app": "list-deployment-test"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}),
        // meteor-mongo-pod.json
        json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "mongo", "namespace": "default", "labels": {"name": "mongo", "role": "mongo"}},
            "spec": {"volumes": [{"name": "mongo-disk", "gcePersistentDisk": {"pdName": "mongo-disk", "fsType": "ext4"}}],
                "containers": [{"name": "mongo", "image": "mongo:latest", "ports": [{"name": "mongo", "containerPort": 27017}],
                    "volumeMounts": [{"name": "mongo-disk", "mountPath": "/data/db"}]}]}}),
        // meteor-mongo-service.json
        json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "mongo", "namespace": "default", "labels": {"name": "mongo"}},
            "spec": {"ports": [{"port": 27017, "targetPort": "mongo"}], "selector": {"name": "mongo", "role": "mongo"}}}),
        // minio-headless-service.yaml
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "minio", "namespace": "default", "labels": {"app": "minio"}},
            "spec": {"clusterIP": "None", "ports": [{"port": 9000, "name": "minio"}], "selector": {"app": "minio"}}}),
        // pod-generate-name.yaml, after the API generated the name
        json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"generateName": "testing-", "name": "testing-x7k2q", "namespace": "default"},
            "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}}),
        // pod-nginx-nodeselector-flowstyle.yaml
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "default", "labels": {"env": "test"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "IfNotPresent"}],
                "nodeSelector": {"disktype": "ssd"}}}),
        // pod-with-toleration-flowstyle.yaml
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "default", "labels": {"env": "test"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "IfNotPresent"}],
                "tolerations": [{"key": "example-key", "operator": "Exists", "effect": "NoSchedule"}]}}),
        // A Namespace manifest (cpu-request-limit-flowstyle.yaml needs `cpu-example`).
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cpu-example"}}),
    ]
}

#[test]
fn validate_create_should_accept_every_shared_valid_manifest() {
    for m in valid_manifests() {
        let causes = create(&m);
        assert!(causes.is_empty(), "{} {}: {causes:?}", m["kind"], m["metadata"]["name"]);
    }
}

#[test]
fn validate_create_should_accept_shared_manifests_with_quantities_needs_quantity() {
    let manifests = [
        // cpu-manager-exclusive-1.yaml (quantities canonical: `cpu: 1` → "1")
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "exclusive-1", "namespace": "default"},
            "spec": {"containers": [{"image": "quay.io/connordoyle/cpuset-visualizer", "name": "exclusive-1",
                "resources": {"requests": {"cpu": "1", "memory": "256M"}, "limits": {"cpu": "1", "memory": "256M"}}}]}}),
        // cpu-request-limit-flowstyle.yaml (`0.5` → "500m")
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cpu-demo", "namespace": "cpu-example"},
            "spec": {"containers": [{"name": "cpu-demo-ctr", "image": "vish/stress",
                "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}}, "args": ["-cpus", "2"]}]}}),
        // multi-pod.yaml, first document
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "redis-master", "namespace": "default", "labels": {"name": "redis", "redis-sentinel": "true", "role": "master"}},
            "spec": {"containers": [
                {"name": "master", "image": "k8s.gcr.io/e2e-test-images/redis:1.0", "env": [{"name": "MASTER", "value": "true"}],
                    "ports": [{"containerPort": 6379}], "resources": {"limits": {"cpu": "500m"}},
                    "volumeMounts": [{"mountPath": "/redis-master-data", "name": "data"}]},
                {"name": "sentinel", "image": "k8s.gcr.io/e2e-test-images/redis:1.0", "env": [{"name": "SENTINEL", "value": "true"}],
                    "ports": [{"containerPort": 26379}]}],
                "volumes": [{"name": "data", "emptyDir": {}}]}}),
        // multi-pod.yaml, second document
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "valid-pod", "namespace": "default", "labels": {"name": "valid-pod"}},
            "spec": {"containers": [{"name": "kubernetes-serve-hostname", "image": "k8s.gcr.io/e2e-test-images/serve-hostname:1.0",
                "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}]}}),
    ];
    for m in manifests {
        let causes = create(&m);
        assert!(causes.is_empty(), "{}: {causes:?}", m["metadata"]["name"]);
    }
}

#[test]
fn validate_create_should_reject_invalid_pod_empty_container_name() {
    // invalid/invalid-pod-empty-container-name.yaml: `name:` is null, removed by normalization.
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test", "namespace": "default"},
        "spec": {"containers": [{"image": "nginx"}]}});
    let causes = create(&obj);
    assert_eq!(fields(&causes), vec![("spec.containers[0].name".to_string(), "FieldValueRequired".to_string())]);
    assert_eq!(causes[0].message, "Required value");
}

#[test]
fn validate_create_should_reject_pod_without_containers() {
    // invalid/pod-without-containers.yaml (`spec: {}`), and the `containers: []` variant.
    for spec in [json!({}), json!({"containers": []})] {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-containers", "namespace": "default"}, "spec": spec});
        let causes = create(&obj);
        assert_eq!(fields(&causes), vec![("spec.containers".to_string(), "FieldValueRequired".to_string())]);
    }
}

/// `(case, object, expected field, expected reason)`: each object has exactly this one problem.
fn invalid_cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    vec![
        ("missing name", json!({"kind": "Pod", "metadata": {"namespace": "default"}, "spec": {"containers": [nginx()]}}),
            "metadata.name", "FieldValueRequired"),
        ("upper-case name", json!({"kind": "Pod", "metadata": {"name": "Web", "namespace": "default"}, "spec": {"containers": [nginx()]}}),
            "metadata.name", "FieldValueInvalid"),
        ("bad namespace", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "a.b"}, "spec": {"containers": [nginx()]}}),
            "metadata.namespace", "FieldValueInvalid"),
        ("bad label key", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": {"-x": "y"}}, "spec": {"containers": [nginx()]}}),
            "metadata.labels", "FieldValueInvalid"),
        ("bad label value", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": {"x": "a b"}}, "spec": {"containers": [nginx()]}}),
            "metadata.labels", "FieldValueInvalid"),
        ("bad annotation key", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "annotations": {"a/b/c": "y"}}, "spec": {"containers": [nginx()]}}),
            "metadata.annotations", "FieldValueInvalid"),
        ("huge annotations", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "annotations": {"a": "x".repeat(262_144)}}, "spec": {"containers": [nginx()]}}),
            "metadata.annotations", "FieldValueTooLong"),
        ("bad generateName", json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "generateName": "Bad-"}, "spec": {"containers": [nginx()]}}),
            "metadata.generateName", "FieldValueInvalid"),
        ("missing image", pod(json!({"containers": [{"name": "a"}]})), "spec.containers[0].image", "FieldValueRequired"),
        ("bad container name", pod(json!({"containers": [{"name": "A_b", "image": "x"}]})), "spec.containers[0].name", "FieldValueInvalid"),
        ("duplicate container", pod(json!({"containers": [nginx(), nginx()]})), "spec.containers[1].name", "FieldValueDuplicate"),
        ("init duplicates container", pod(json!({"containers": [nginx()], "initContainers": [nginx()]})),
            "spec.initContainers[0].name", "FieldValueDuplicate"),
        ("init missing image", pod(json!({"containers": [nginx()], "initContainers": [{"name": "init"}]})),
            "spec.initContainers[0].image", "FieldValueRequired"),
        ("port zero", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 0}]}]})),
            "spec.containers[0].ports[0].containerPort", "FieldValueRequired"),
        ("port too big", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]})),
            "spec.containers[0].ports[0].containerPort", "FieldValueInvalid"),
        ("bad hostPort", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": -1}]}]})),
            "spec.containers[0].ports[0].hostPort", "FieldValueInvalid"),
        ("bad protocol", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "ICMP"}]}]})),
            "spec.containers[0].ports[0].protocol", "FieldValueNotSupported"),
        ("bad port name", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "a--b"}]}]})),
            "spec.containers[0].ports[0].name", "FieldValueInvalid"),
        ("duplicate port name", pod(json!({"containers": [{"name": "a", "image": "x",
            "ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]}]})),
            "spec.containers[0].ports[1].name", "FieldValueDuplicate"),
        ("env without name", pod(json!({"containers": [{"name": "a", "image": "x", "env": [{"value": "1"}]}]})),
            "spec.containers[0].env[0].name", "FieldValueRequired"),
        ("mount of unknown volume", pod(json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]})),
            "spec.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
        ("duplicate volume", pod(json!({"containers": [nginx()], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]})),
            "spec.volumes[1].name", "FieldValueDuplicate"),
        ("bad restartPolicy", pod(json!({"containers": [nginx()], "restartPolicy": "Sometimes"})), "spec.restartPolicy", "FieldValueNotSupported"),
        ("bad dnsPolicy", pod(json!({"containers": [nginx()], "dnsPolicy": "Google"})), "spec.dnsPolicy", "FieldValueNotSupported"),
        ("dnsPolicy None without config", pod(json!({"containers": [nginx()], "dnsPolicy": "None"})), "spec.dnsConfig", "FieldValueRequired"),
        ("bad nodeSelector", pod(json!({"containers": [nginx()], "nodeSelector": {"disk type": "ssd"}})), "spec.nodeSelector", "FieldValueInvalid"),
        ("toleration Exists with value", pod(json!({"containers": [nginx()], "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]})),
            "spec.tolerations[0].operator", "FieldValueInvalid"),
        ("toleration empty key Equal", pod(json!({"containers": [nginx()], "tolerations": [{"operator": "Equal", "value": "v"}]})),
            "spec.tolerations[0].operator", "FieldValueInvalid"),
        ("toleration bad operator", pod(json!({"containers": [nginx()], "tolerations": [{"key": "k", "operator": "Like"}]})),
            "spec.tolerations[0].operator", "FieldValueNotSupported"),
        ("toleration bad effect", pod(json!({"containers": [nginx()], "tolerations": [{"key": "k", "effect": "Maybe"}]})),
            "spec.tolerations[0].effect", "FieldValueNotSupported"),
        ("tolerationSeconds without NoExecute", pod(json!({"containers": [nginx()],
            "tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]})),
            "spec.tolerations[0].effect", "FieldValueInvalid"),
        ("affinity In without values", pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In"}]}]}}}})),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueRequired"),
        ("affinity Gt two values", pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1", "2"]}]}]}}}})),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueRequired"),
        ("affinity Exists with values", pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["1"]}]}]}}}})),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueForbidden"),
        ("affinity bad operator", pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Near"}]}]}}}})),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            "FieldValueInvalid"),
        ("affinity no terms", pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": []}}}})),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", "FieldValueRequired"),
        ("negative grace period", pod(json!({"containers": [nginx()], "terminationGracePeriodSeconds": -1})),
            "spec.terminationGracePeriodSeconds", "FieldValueInvalid"),
        ("zero active deadline", pod(json!({"containers": [nginx()], "activeDeadlineSeconds": 0})),
            "spec.activeDeadlineSeconds", "FieldValueInvalid"),
        ("hostNetwork port mismatch", pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}],
            "hostNetwork": true})), "spec.containers[0].ports[0].hostPort", "FieldValueInvalid"),
        ("service without ports", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {}}), "spec.ports", "FieldValueRequired"),
        ("service name not DNS-1035", json!({"kind": "Service", "metadata": {"name": "1s", "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}),
            "metadata.name", "FieldValueInvalid"),
        ("service port zero", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"ports": [{"port": 0}]}}),
            "spec.ports[0].port", "FieldValueInvalid"),
        ("service unnamed ports", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81}]}}), "spec.ports[1].name", "FieldValueRequired"),
        ("service duplicate port names", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}}), "spec.ports[1].name", "FieldValueDuplicate"),
        ("service bad targetPort", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "targetPort": "Web_1"}]}}), "spec.ports[0].targetPort", "FieldValueInvalid"),
        ("service nodePort out of range", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}}), "spec.ports[0].nodePort", "FieldValueInvalid"),
        ("service nodePort on ClusterIP", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "nodePort": 30080}]}}), "spec.ports[0].nodePort", "FieldValueForbidden"),
        ("service bad type", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "Magic", "ports": [{"port": 80}]}}), "spec.type", "FieldValueNotSupported"),
        ("service bad clusterIP", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"clusterIP": "10.0.0", "ports": [{"port": 80}]}}), "spec.clusterIP", "FieldValueInvalid"),
        ("service bad selector", json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"selector": {"app": "a b"}, "ports": [{"port": 80}]}}), "spec.selector", "FieldValueInvalid"),
        ("node taint without key", json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"effect": "NoSchedule"}]}}),
            "spec.taints[0].key", "FieldValueRequired"),
        ("node taint without effect", json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"key": "k"}]}}),
            "spec.taints[0].effect", "FieldValueRequired"),
        ("node duplicate taint", json!({"kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
            "spec.taints[1]", "FieldValueDuplicate"),
        ("node bad podCIDR", json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/40"}}), "spec.podCIDR", "FieldValueInvalid"),
        ("node with namespace", json!({"kind": "Node", "metadata": {"name": "n", "namespace": "d"}}), "metadata.namespace", "FieldValueForbidden"),
        ("namespace with dot", json!({"kind": "Namespace", "metadata": {"name": "a.b"}}), "metadata.name", "FieldValueInvalid"),
        ("endpoints without ip", json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{}], "ports": [{"port": 1}]}]}), "subsets[0].addresses[0].ip", "FieldValueRequired"),
        ("endpoints loopback ip", json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"notReadyAddresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 1}]}]}),
            "subsets[0].notReadyAddresses[0].ip", "FieldValueInvalid"),
        ("endpoints bad port", json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 70000}]}]}), "subsets[0].ports[0].port", "FieldValueInvalid"),
        ("endpoints bad protocol", json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 1, "protocol": "tcp"}]}]}),
            "subsets[0].ports[0].protocol", "FieldValueNotSupported"),
        ("slice without addressType", json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"}, "endpoints": []}),
            "addressType", "FieldValueRequired"),
        ("slice endpoint without addresses", json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": []}]}), "endpoints[0].addresses", "FieldValueRequired"),
        ("slice IPv6 in IPv4", json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}), "endpoints[0].addresses[0]", "FieldValueInvalid"),
        ("lease zero duration", json!({"kind": "Lease", "metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}),
            "spec.leaseDurationSeconds", "FieldValueInvalid"),
        ("lease negative transitions", json!({"kind": "Lease", "metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseTransitions": -1}}),
            "spec.leaseTransitions", "FieldValueInvalid"),
        ("event namespace mismatch", json!({"kind": "Event", "metadata": {"name": "e.1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}}), "involvedObject.namespace", "FieldValueInvalid"),
        ("rs without selector", rs(json!({"template": template("web", json!([nginx()]))})), "spec.selector", "FieldValueRequired"),
        ("rs empty selector", rs(json!({"selector": {}, "template": template("web", json!([nginx()]))})), "spec.selector", "FieldValueInvalid"),
        ("rs selector mismatch", rs(json!({"selector": {"matchLabels": {"app": "db"}}, "template": template("web", json!([nginx()]))})),
            "spec.template.metadata.labels", "FieldValueInvalid"),
        ("rs negative replicas", rs(json!({"replicas": -1, "selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([nginx()]))})),
            "spec.replicas", "FieldValueInvalid"),
        ("rs template without containers", rs(json!({"selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([]))})),
            "spec.template.spec.containers", "FieldValueRequired"),
        ("rs template restartPolicy", rs(json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [nginx()], "restartPolicy": "Never"}}})),
            "spec.template.spec.restartPolicy", "FieldValueNotSupported"),
        ("rs bad selector operator", rs(json!({"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Has"}]},
            "template": template("web", json!([nginx()]))})), "spec.selector.matchExpressions[0].operator", "FieldValueInvalid"),
        ("deploy bad strategy", deploy(json!({"type": "Blue"})), "spec.strategy.type", "FieldValueNotSupported"),
        ("deploy both zero", deploy(json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})),
            "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid"),
        ("deploy bad percent", deploy(json!({"rollingUpdate": {"maxSurge": "x%"}})), "spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid"),
        ("deploy unavailable over 100%", deploy(json!({"rollingUpdate": {"maxUnavailable": "150%"}})),
            "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid"),
        ("deploy recreate with rollingUpdate", deploy(json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})),
            "spec.strategy.rollingUpdate", "FieldValueForbidden"),
    ]
}

fn template(app: &str, containers: Value) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}})
}

fn rs(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r", "namespace": "d"}, "spec": spec})
}

fn deploy(strategy: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([nginx()])), "strategy": strategy}})
}

#[test]
fn validate_create_should_report_each_invalid_field() {
    for (case, obj, field, reason) in invalid_cases() {
        let got = fields(&create(&obj));
        assert_eq!(got, vec![(field.to_string(), reason.to_string())], "case {case:?}");
    }
}

#[test]
fn validate_create_should_accept_edge_cases() {
    let ok = [
        pod(json!({"containers": [nginx()], "tolerations": [{"operator": "Exists"}]})),
        pod(json!({"containers": [nginx()], "tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 30}]})),
        pod(json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["2"]}]}]}}}})),
        pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}], "hostNetwork": true})),
        json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
        json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "targetPort": 8080}]}}),
        json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}),
        json!({"kind": "Lease", "metadata": {"name": "n", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n", "leaseDurationSeconds": 40, "leaseTransitions": 0}}),
        json!({"kind": "Event", "metadata": {"name": "p.17a", "namespace": "d"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
            "reason": "Scheduled", "message": "ok", "type": "Normal"}),
        deploy(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})),
    ];
    for obj in ok {
        let causes = create(&obj);
        assert!(causes.is_empty(), "{obj}: {causes:?}");
    }
}

#[test]
fn validate_create_should_use_kubernetes_messages() {
    let causes = create(&pod(json!({"containers": [nginx()], "restartPolicy": "Sometimes"})));
    assert_eq!(causes[0].message, r#"Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#);
    let causes = create(&pod(json!({"containers": [nginx(), nginx()]})));
    assert_eq!(causes[0].message, r#"Duplicate value: "nginx""#);
    let causes = create(&pod(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]})));
    assert_eq!(causes[0].message, "Invalid value: 70000: must be between 1 and 65535, inclusive");
    let causes = create(&rs(json!({"selector": {"matchLabels": {"app": "db"}}, "template": template("web", json!([nginx()]))})));
    assert!(causes[0].message.ends_with("`selector` does not match template `labels`"), "{}", causes[0].message);
    let causes = create(&json!({"kind": "Namespace", "metadata": {"name": "a.b"}}));
    assert!(causes[0].message.starts_with(r#"Invalid value: "a.b": a lowercase RFC 1123 label"#), "{}", causes[0].message);
}

#[test]
fn validate_create_should_reject_request_above_limit_needs_quantity() {
    let obj = pod(json!({"containers": [{"name": "a", "image": "x",
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}]}));
    let causes = create(&obj);
    assert_eq!(fields(&causes), vec![("spec.containers[0].resources.requests".to_string(), "FieldValueInvalid".to_string())]);
    assert_eq!(causes[0].message, r#"Invalid value: "2": must be less than or equal to cpu limit of 1"#);
    let ok = pod(json!({"containers": [{"name": "a", "image": "x",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}));
    assert!(create(&ok).is_empty());
}

fn update(old: &Value, new: &Value) -> Vec<(String, String)> {
    let kind = new["kind"].as_str().expect("kind");
    fields(&validate_update(res(kind), old, new))
}

#[test]
fn validate_update_should_enforce_pod_spec_immutability() {
    let base = json!({"kind": "Pod", "metadata": {"name": "nginx", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "IfNotPresent"}],
            "nodeSelector": {"disktype": "ssd"}, "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100}});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let forbidden = vec![("spec".to_string(), "FieldValueForbidden".to_string())];
    // (case, new object, expected causes)
    let cases: Vec<(&str, Value, Vec<(String, String)>)> = vec![
        ("unchanged", base.clone(), vec![]),
        ("image change", with(&|v| v["spec"]["containers"][0]["image"] = json!("nginx:1.27")), vec![]),
        ("toleration added", with(&|v| v["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}])), vec![]),
        ("deadline lowered", with(&|v| v["spec"]["activeDeadlineSeconds"] = json!(50)), vec![]),
        ("status change", with(&|v| v["status"] = json!({"phase": "Running"})), vec![]),
        ("label change", with(&|v| v["metadata"]["labels"] = json!({"a": "b"})), vec![]),
        // kubectl apply of pod-with-toleration-flowstyle.yaml over pod-nginx-nodeselector-flowstyle.yaml
        ("nodeSelector removed", with(&|v| {
            v["spec"].as_object_mut().expect("spec").remove("nodeSelector");
        }), forbidden.clone()),
        ("toleration removed", with(&|v| v["spec"]["tolerations"] = json!([])), forbidden.clone()),
        ("nodeName set", with(&|v| v["spec"]["nodeName"] = json!("node-1")), forbidden.clone()),
        ("container added", with(&|v| v["spec"]["containers"] = json!([nginx(), {"name": "b", "image": "b"}])), forbidden.clone()),
        ("grace period changed", with(&|v| v["spec"]["terminationGracePeriodSeconds"] = json!(5)), forbidden.clone()),
        ("deadline raised", with(&|v| v["spec"]["activeDeadlineSeconds"] = json!(500)),
            vec![("spec.activeDeadlineSeconds".to_string(), "FieldValueInvalid".to_string())]),
        ("uid changed", with(&|v| v["metadata"]["uid"] = json!("u2")), vec![("metadata.uid".to_string(), "FieldValueInvalid".to_string())]),
    ];
    for (case, new, want) in cases {
        assert_eq!(update(&base, &new), want, "case {case:?}");
    }
    let causes = validate_update(res("Pod"), &base, &with(&|v| v["spec"]["nodeName"] = json!("n")));
    assert_eq!(causes[0].message, format!("Forbidden: {}", pod_update::POD_UPDATE_FORBIDDEN));
}

#[test]
fn validate_update_should_keep_service_cluster_ip_and_workload_selectors() {
    let svc = json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}});
    let mut moved = svc.clone();
    moved["spec"]["clusterIP"] = json!("10.96.0.6");
    assert_eq!(update(&svc, &moved), vec![("spec.clusterIP".to_string(), "FieldValueInvalid".to_string())]);
    let mut ports = svc.clone();
    ports["spec"]["ports"] = json!([{"port": 81}]);
    assert!(update(&svc, &ports).is_empty());

    let d = deploy(json!({}));
    let mut changed = d.clone();
    changed["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
    changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "x"});
    assert_eq!(update(&d, &changed), vec![("spec.selector".to_string(), "FieldValueInvalid".to_string())]);
    let mut scaled = d.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(update(&d, &scaled).is_empty());
}
