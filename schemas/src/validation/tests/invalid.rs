//! Invalid objects of every kind but Pod (one invalid field per case), edge cases that must pass, and
//! Kubernetes' messages.

use super::invalid_pod;
use super::*;

/// `(case, object, expected field, expected reason)`: each object has exactly this one problem.
/// `(case, object, expected field, expected reason)` for the other kinds: each object has exactly this one problem.
fn other_cases() -> Vec<Case> {
    vec![
        (
            "service without ports",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {}}),
            "spec.ports",
            "FieldValueRequired",
        ),
        (
            "service name not DNS-1035",
            json!({"kind": "Service", "metadata": {"name": "1s", "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}),
            "metadata.name",
            "FieldValueInvalid",
        ),
        (
            "service port zero",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"ports": [{"port": 0}]}}),
            "spec.ports[0].port",
            "FieldValueInvalid",
        ),
        (
            "service unnamed ports",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81}]}}),
            "spec.ports[1].name",
            "FieldValueRequired",
        ),
        (
            "service duplicate port names",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}}),
            "spec.ports[1].name",
            "FieldValueDuplicate",
        ),
        (
            "service bad targetPort",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "targetPort": "Web_1"}]}}),
            "spec.ports[0].targetPort",
            "FieldValueInvalid",
        ),
        (
            "service nodePort out of range",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}}),
            "spec.ports[0].nodePort",
            "FieldValueInvalid",
        ),
        (
            "service nodePort on ClusterIP",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80, "nodePort": 30080}]}}),
            "spec.ports[0].nodePort",
            "FieldValueForbidden",
        ),
        (
            "service bad type",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "Magic", "ports": [{"port": 80}]}}),
            "spec.type",
            "FieldValueNotSupported",
        ),
        (
            "service bad clusterIP",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"clusterIP": "10.0.0", "ports": [{"port": 80}]}}),
            "spec.clusterIP",
            "FieldValueInvalid",
        ),
        (
            "service bad selector",
            json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"selector": {"app": "a b"}, "ports": [{"port": 80}]}}),
            "spec.selector",
            "FieldValueInvalid",
        ),
        (
            "node taint without key",
            json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"effect": "NoSchedule"}]}}),
            "spec.taints[0].key",
            "FieldValueRequired",
        ),
        (
            "node taint without effect",
            json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"key": "k"}]}}),
            "spec.taints[0].effect",
            "FieldValueRequired",
        ),
        (
            "node duplicate taint",
            json!({"kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
            "spec.taints[1]",
            "FieldValueDuplicate",
        ),
        (
            "node bad podCIDR",
            json!({"kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/40"}}),
            "spec.podCIDR",
            "FieldValueInvalid",
        ),
        (
            "node with namespace",
            json!({"kind": "Node", "metadata": {"name": "n", "namespace": "d"}}),
            "metadata.namespace",
            "FieldValueForbidden",
        ),
        (
            "namespace with dot",
            json!({"kind": "Namespace", "metadata": {"name": "a.b"}}),
            "metadata.name",
            "FieldValueInvalid",
        ),
        (
            "endpoints without ip",
            json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{}], "ports": [{"port": 1}]}]}),
            "subsets[0].addresses[0].ip",
            "FieldValueRequired",
        ),
        (
            "endpoints loopback ip",
            json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"notReadyAddresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 1}]}]}),
            "subsets[0].notReadyAddresses[0].ip",
            "FieldValueInvalid",
        ),
        (
            "endpoints bad port",
            json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 70000}]}]}),
            "subsets[0].ports[0].port",
            "FieldValueInvalid",
        ),
        (
            "endpoints bad protocol",
            json!({"kind": "Endpoints", "metadata": {"name": "e", "namespace": "d"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 1, "protocol": "tcp"}]}]}),
            "subsets[0].ports[0].protocol",
            "FieldValueNotSupported",
        ),
        (
            "slice without addressType",
            json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"}, "endpoints": []}),
            "addressType",
            "FieldValueRequired",
        ),
        (
            "slice endpoint without addresses",
            json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": []}]}),
            "endpoints[0].addresses",
            "FieldValueRequired",
        ),
        (
            "slice IPv6 in IPv4",
            json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}),
            "endpoints[0].addresses[0]",
            "FieldValueInvalid",
        ),
        (
            "lease zero duration",
            json!({"kind": "Lease", "metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}),
            "spec.leaseDurationSeconds",
            "FieldValueInvalid",
        ),
        (
            "lease negative transitions",
            json!({"kind": "Lease", "metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseTransitions": -1}}),
            "spec.leaseTransitions",
            "FieldValueInvalid",
        ),
        (
            "event namespace mismatch",
            json!({"kind": "Event", "metadata": {"name": "e.1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}}),
            "involvedObject.namespace",
            "FieldValueInvalid",
        ),
        (
            "rs without selector",
            rs(json!({"template": template("web", json!([nginx()]))})),
            "spec.selector",
            "FieldValueRequired",
        ),
        (
            "rs empty selector",
            rs(json!({"selector": {}, "template": template("web", json!([nginx()]))})),
            "spec.selector",
            "FieldValueInvalid",
        ),
        (
            "rs selector mismatch",
            rs(
                json!({"selector": {"matchLabels": {"app": "db"}}, "template": template("web", json!([nginx()]))}),
            ),
            "spec.template.metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "rs negative replicas",
            rs(
                json!({"replicas": -1, "selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([nginx()]))}),
            ),
            "spec.replicas",
            "FieldValueInvalid",
        ),
        (
            "rs template without containers",
            rs(
                json!({"selector": {"matchLabels": {"app": "web"}}, "template": template("web", json!([]))}),
            ),
            "spec.template.spec.containers",
            "FieldValueRequired",
        ),
        (
            "rs template restartPolicy",
            rs(json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [nginx()], "restartPolicy": "Never"}}})),
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (
            "rs bad selector operator",
            rs(
                json!({"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Has"}]},
            "template": template("web", json!([nginx()]))}),
            ),
            "spec.selector.matchExpressions[0].operator",
            "FieldValueInvalid",
        ),
        (
            "deploy bad strategy",
            deploy(json!({"type": "Blue"})),
            "spec.strategy.type",
            "FieldValueNotSupported",
        ),
        (
            "deploy both zero",
            deploy(json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
        ),
        (
            "deploy bad percent",
            deploy(json!({"rollingUpdate": {"maxSurge": "x%"}})),
            "spec.strategy.rollingUpdate.maxSurge",
            "FieldValueInvalid",
        ),
        (
            "deploy unavailable over 100%",
            deploy(json!({"rollingUpdate": {"maxUnavailable": "150%"}})),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
        ),
        (
            "deploy recreate with rollingUpdate",
            deploy(json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})),
            "spec.strategy.rollingUpdate",
            "FieldValueForbidden",
        ),
    ]
}

#[test]
fn validate_create_should_report_each_invalid_field() {
    for (case, obj, field, reason) in invalid_pod::pod_cases().into_iter().chain(other_cases()) {
        let got = fields(&create(&obj));
        assert_eq!(
            got,
            vec![(field.to_string(), reason.to_string())],
            "case {case:?}"
        );
    }
}

#[test]
fn validate_create_should_accept_edge_cases() {
    let ok = [
        pod(json!({"containers": [nginx()], "tolerations": [{"operator": "Exists"}]})),
        pod(
            json!({"containers": [nginx()], "tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 30}]}),
        ),
        pod(
            json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["2"]}]}]}}}}),
        ),
        pod(
            json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}], "hostNetwork": true}),
        ),
        json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
        json!({"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080, "targetPort": 8080}]}}),
        json!({"kind": "EndpointSlice", "metadata": {"name": "e", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}),
        json!({"kind": "Lease", "metadata": {"name": "n", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n", "leaseDurationSeconds": 40, "leaseTransitions": 0}}),
        json!({"kind": "Event", "metadata": {"name": "p.17a", "namespace": "d"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
            "reason": "Scheduled", "message": "ok", "type": "Normal"}),
        deploy(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        ),
    ];
    for obj in ok {
        let causes = create(&obj);
        assert!(causes.is_empty(), "{obj}: {causes:?}");
    }
}

#[test]
fn validate_create_should_use_kubernetes_messages() {
    let causes = create(&pod(
        json!({"containers": [nginx()], "restartPolicy": "Sometimes"}),
    ));
    assert_eq!(
        causes[0].message,
        r#"Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#
    );
    let causes = create(&pod(json!({"containers": [nginx(), nginx()]})));
    assert_eq!(causes[0].message, r#"Duplicate value: "nginx""#);
    let causes = create(&pod(
        json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}),
    ));
    assert_eq!(
        causes[0].message,
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    );
    let causes = create(&rs(
        json!({"selector": {"matchLabels": {"app": "db"}}, "template": template("web", json!([nginx()]))}),
    ));
    assert!(
        causes[0]
            .message
            .ends_with("`selector` does not match template `labels`"),
        "{}",
        causes[0].message
    );
    let causes = create(&json!({"kind": "Namespace", "metadata": {"name": "a.b"}}));
    assert!(
        causes[0]
            .message
            .starts_with(r#"Invalid value: "a.b": a lowercase RFC 1123 label"#),
        "{}",
        causes[0].message
    );
}

#[test]
fn validate_create_should_reject_request_above_limit_needs_quantity() {
    let obj = pod(json!({"containers": [{"name": "a", "image": "x",
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}]}));
    let causes = create(&obj);
    assert_eq!(
        fields(&causes),
        vec![(
            "spec.containers[0].resources.requests".to_string(),
            "FieldValueInvalid".to_string()
        )]
    );
    assert_eq!(
        causes[0].message,
        r#"Invalid value: "2": must be less than or equal to cpu limit of 1"#
    );
    let ok = pod(json!({"containers": [{"name": "a", "image": "x",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}));
    assert!(create(&ok).is_empty());
}
