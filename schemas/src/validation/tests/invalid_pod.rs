//! Invalid metadata and pod specs: one invalid field per case, with Kubernetes' reasons.

use super::*;

/// `(case, object, expected field, expected reason)` for metadata and Pods: each object has exactly this one problem.
pub(super) fn pod_cases() -> Vec<Case> {
    vec![
        (
            "missing name",
            json!({"kind": "Pod", "metadata": {"namespace": "default"}, "spec": {"containers": [nginx()]}}),
            "metadata.name",
            "FieldValueRequired",
        ),
        (
            "upper-case name",
            json!({"kind": "Pod", "metadata": {"name": "Web", "namespace": "default"}, "spec": {"containers": [nginx()]}}),
            "metadata.name",
            "FieldValueInvalid",
        ),
        (
            "bad namespace",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "a.b"}, "spec": {"containers": [nginx()]}}),
            "metadata.namespace",
            "FieldValueInvalid",
        ),
        (
            "bad label key",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": {"-x": "y"}}, "spec": {"containers": [nginx()]}}),
            "metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "bad label value",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": {"x": "a b"}}, "spec": {"containers": [nginx()]}}),
            "metadata.labels",
            "FieldValueInvalid",
        ),
        (
            "bad annotation key",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "annotations": {"a/b/c": "y"}}, "spec": {"containers": [nginx()]}}),
            "metadata.annotations",
            "FieldValueInvalid",
        ),
        (
            "huge annotations",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "annotations": {"a": "x".repeat(262_144)}}, "spec": {"containers": [nginx()]}}),
            "metadata.annotations",
            "FieldValueTooLong",
        ),
        (
            "bad generateName",
            json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "d", "generateName": "Bad-"}, "spec": {"containers": [nginx()]}}),
            "metadata.generateName",
            "FieldValueInvalid",
        ),
        (
            "missing image",
            pod(json!({"containers": [{"name": "a"}]})),
            "spec.containers[0].image",
            "FieldValueRequired",
        ),
        (
            "bad container name",
            pod(json!({"containers": [{"name": "A_b", "image": "x"}]})),
            "spec.containers[0].name",
            "FieldValueInvalid",
        ),
        (
            "duplicate container",
            pod(json!({"containers": [nginx(), nginx()]})),
            "spec.containers[1].name",
            "FieldValueDuplicate",
        ),
        (
            "init duplicates container",
            pod(json!({"containers": [nginx()], "initContainers": [nginx()]})),
            "spec.initContainers[0].name",
            "FieldValueDuplicate",
        ),
        (
            "init missing image",
            pod(json!({"containers": [nginx()], "initContainers": [{"name": "init"}]})),
            "spec.initContainers[0].image",
            "FieldValueRequired",
        ),
        (
            "port zero",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 0}]}]}),
            ),
            "spec.containers[0].ports[0].containerPort",
            "FieldValueRequired",
        ),
        (
            "port too big",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}),
            ),
            "spec.containers[0].ports[0].containerPort",
            "FieldValueInvalid",
        ),
        (
            "bad hostPort",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": -1}]}]}),
            ),
            "spec.containers[0].ports[0].hostPort",
            "FieldValueInvalid",
        ),
        (
            "bad protocol",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "ICMP"}]}]}),
            ),
            "spec.containers[0].ports[0].protocol",
            "FieldValueNotSupported",
        ),
        (
            "bad port name",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "a--b"}]}]}),
            ),
            "spec.containers[0].ports[0].name",
            "FieldValueInvalid",
        ),
        (
            "duplicate port name",
            pod(json!({"containers": [{"name": "a", "image": "x",
            "ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]}]})),
            "spec.containers[0].ports[1].name",
            "FieldValueDuplicate",
        ),
        (
            "env without name",
            pod(json!({"containers": [{"name": "a", "image": "x", "env": [{"value": "1"}]}]})),
            "spec.containers[0].env[0].name",
            "FieldValueRequired",
        ),
        (
            "mount of unknown volume",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}),
            ),
            "spec.containers[0].volumeMounts[0].name",
            "FieldValueNotFound",
        ),
        (
            "duplicate volume",
            pod(
                json!({"containers": [nginx()], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}),
            ),
            "spec.volumes[1].name",
            "FieldValueDuplicate",
        ),
        (
            "bad restartPolicy",
            pod(json!({"containers": [nginx()], "restartPolicy": "Sometimes"})),
            "spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (
            "bad dnsPolicy",
            pod(json!({"containers": [nginx()], "dnsPolicy": "Google"})),
            "spec.dnsPolicy",
            "FieldValueNotSupported",
        ),
        (
            "dnsPolicy None without config",
            pod(json!({"containers": [nginx()], "dnsPolicy": "None"})),
            "spec.dnsConfig",
            "FieldValueRequired",
        ),
        (
            "bad nodeSelector",
            pod(json!({"containers": [nginx()], "nodeSelector": {"disk type": "ssd"}})),
            "spec.nodeSelector",
            "FieldValueInvalid",
        ),
        (
            "toleration Exists with value",
            pod(
                json!({"containers": [nginx()], "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}),
            ),
            "spec.tolerations[0].operator",
            "FieldValueInvalid",
        ),
        (
            "toleration empty key Equal",
            pod(
                json!({"containers": [nginx()], "tolerations": [{"operator": "Equal", "value": "v"}]}),
            ),
            "spec.tolerations[0].operator",
            "FieldValueInvalid",
        ),
        (
            "toleration bad operator",
            pod(
                json!({"containers": [nginx()], "tolerations": [{"key": "k", "operator": "Like"}]}),
            ),
            "spec.tolerations[0].operator",
            "FieldValueNotSupported",
        ),
        (
            "toleration bad effect",
            pod(json!({"containers": [nginx()], "tolerations": [{"key": "k", "effect": "Maybe"}]})),
            "spec.tolerations[0].effect",
            "FieldValueNotSupported",
        ),
        (
            "tolerationSeconds without NoExecute",
            pod(json!({"containers": [nginx()],
            "tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]})),
            "spec.tolerations[0].effect",
            "FieldValueInvalid",
        ),
        (
            "affinity In without values",
            pod(
                json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In"}]}]}}}}),
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueRequired",
        ),
        (
            "affinity Gt two values",
            pod(
                json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1", "2"]}]}]}}}}),
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueRequired",
        ),
        (
            "affinity Exists with values",
            pod(
                json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["1"]}]}]}}}}),
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "FieldValueForbidden",
        ),
        (
            "affinity bad operator",
            pod(
                json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Near"}]}]}}}}),
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            "FieldValueInvalid",
        ),
        (
            "affinity no terms",
            pod(
                json!({"containers": [nginx()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": []}}}}),
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
            "FieldValueRequired",
        ),
        (
            "negative grace period",
            pod(json!({"containers": [nginx()], "terminationGracePeriodSeconds": -1})),
            "spec.terminationGracePeriodSeconds",
            "FieldValueInvalid",
        ),
        (
            "zero active deadline",
            pod(json!({"containers": [nginx()], "activeDeadlineSeconds": 0})),
            "spec.activeDeadlineSeconds",
            "FieldValueInvalid",
        ),
        (
            "hostNetwork port mismatch",
            pod(
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}],
            "hostNetwork": true}),
            ),
            "spec.containers[0].ports[0].hostPort",
            "FieldValueInvalid",
        ),
    ]
}
