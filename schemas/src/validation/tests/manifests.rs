//! The shared manifests: valid shapes yield no causes, `invalid/` ones the documented causes.

use super::*;

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
        assert!(
            causes.is_empty(),
            "{} {}: {causes:?}",
            m["kind"],
            m["metadata"]["name"]
        );
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
    assert_eq!(
        fields(&causes),
        vec![(
            "spec.containers[0].name".to_string(),
            "FieldValueRequired".to_string()
        )]
    );
    assert_eq!(causes[0].message, "Required value");
}

#[test]
fn validate_create_should_reject_pod_without_containers() {
    // invalid/pod-without-containers.yaml (`spec: {}`), and the `containers: []` variant.
    for spec in [json!({}), json!({"containers": []})] {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-containers", "namespace": "default"}, "spec": spec});
        let causes = create(&obj);
        assert_eq!(
            fields(&causes),
            vec![(
                "spec.containers".to_string(),
                "FieldValueRequired".to_string()
            )]
        );
    }
}
