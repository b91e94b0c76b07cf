//! The Pod printer: `Name, Ready, Status, Restarts, Age | IP, Node, Nominated Node, Readiness Gates`,
//! following kube-apiserver's `printPod`.

use super::{AGE, Column, NAME, age, col, creation_age, items, or, text, wide};
use serde_json::Value;

/// Pod columns.
pub(super) const COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "string", "The IP address assigned to the pod."),
    wide(
        "Node",
        "string",
        "The name of the node where the pod is running.",
    ),
    wide(
        "Nominated Node",
        "string",
        "The node the scheduler nominated for this pod during preemption.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "The readiness gates of this pod that are true, over all of them.",
    ),
];

/// Counters gathered while walking container statuses.
#[derive(Default)]
struct Restarts {
    count: i64,
    /// Latest `lastState.terminated.finishedAt`, Unix seconds.
    last_at: Option<i64>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += status
            .get("restartCount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let finished = status
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str);
        if let Some(t) = finished.and_then(age::parse_unix_seconds) {
            self.last_at = Some(self.last_at.map_or(t, |l| l.max(t)));
        }
    }
}

/// True when a condition of `conditions` has `type_` and status `"True"`.
fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| text(c, "/type") == type_ && text(c, "/status") == "True")
}

/// The reason of a terminated state without a `reason`: `Signal:N` or `ExitCode:N`.
fn exit_reason(terminated: &Value) -> String {
    let signal = terminated
        .get("signal")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!(
            "ExitCode:{}",
            terminated
                .get("exitCode")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        )
    }
}

/// The cells of one pod row.
pub(super) fn cells(pod: &Value, now: i64) -> Vec<Value> {
    let conditions = items(pod, "/status/conditions");
    let init_specs = items(pod, "/spec/initContainers");
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
    };
    let total = items(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| text(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0usize;
    let phase = or(text(pod, "/status/phase"), "Pending");
    let mut reason = or(text(pod, "/status/reason"), phase).to_string();
    if conditions
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut all = Restarts::default();
    let mut sidecars = Restarts::default();
    let mut initializing = false;
    for (i, status) in items(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        all.add(status);
        let name = text(status, "/name");
        if restartable(name) {
            sidecars.add(status);
        }
        let terminated = status.pointer("/state/terminated");
        let waiting_reason = text(status, "/state/waiting/reason");
        if terminated.is_some_and(|t| t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) == 0) {
            continue;
        }
        if restartable(name) && status.get("started").and_then(Value::as_bool) == Some(true) {
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = match terminated {
            Some(t) if !text(t, "/reason").is_empty() => format!("Init:{}", text(t, "/reason")),
            Some(t) => format!("Init:{}", exit_reason(t)),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    let mut restarts = all;
    if !initializing || condition_true(conditions, "Initialized") {
        restarts = sidecars;
        let mut has_running = false;
        for status in items(pod, "/status/containerStatuses").iter().rev() {
            restarts.add(status);
            let waiting_reason = text(status, "/state/waiting/reason");
            let terminated = status.pointer("/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = or(text(t, "/reason"), &exit_reason(t)).to_string();
            } else if status.get("ready").and_then(Value::as_bool) == Some(true)
                && status.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && text(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell: Value = match restarts.last_at {
        Some(at) if restarts.count != 0 => format!(
            "{} ({} ago)",
            restarts.count,
            age::human_duration(now.saturating_sub(at))
        )
        .into(),
        _ => restarts.count.into(),
    };

    let ip = items(pod, "/status/podIPs")
        .first()
        .map_or("", |p| text(p, "/ip"));
    let ip = or(or(ip, text(pod, "/status/podIP")), "<none>");
    let gates = items(pod, "/spec/readinessGates");
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = text(g, "/conditionType");
                conditions
                    .iter()
                    .find(|c| text(c, "/type") == t)
                    .is_some_and(|c| text(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        text(pod, "/metadata/name").into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell,
        creation_age(pod, now).into(),
        ip.into(),
        or(text(pod, "/spec/nodeName"), "<none>").into(),
        or(text(pod, "/status/nominatedNodeName"), "<none>").into(),
        gates_cell.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CREATED: &str = "2026-11-29T09:00:00Z";

    fn now() -> i64 {
        age::parse_unix_seconds(CREATED).expect("valid") + 330 // 5m30s later
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "web-1", "creationTimestamp": CREATED}, "spec": spec, "status": status})
    }

    fn running(name: &str, restarts: i64) -> Value {
        json!({"name": name, "ready": true, "restartCount": restarts, "state": {"running": {"startedAt": CREATED}}})
    }

    #[test]
    fn cells_should_print_pods_like_kube_apiserver() {
        let two = json!({"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"});
        let cases: Vec<(&str, Value, Vec<Value>)> = vec![
            (
                "pending, unscheduled",
                pod(json!({"containers": [{"name": "a"}]}), json!({})),
                vec![
                    json!("web-1"),
                    json!("0/1"),
                    json!("Pending"),
                    json!(0),
                    json!("5m30s"),
                    json!("<none>"),
                    json!("<none>"),
                    json!("<none>"),
                    json!("<none>"),
                ],
            ),
            (
                "running, one of two ready",
                pod(
                    two.clone(),
                    json!({"phase": "Running", "podIP": "10.244.1.4",
                    "containerStatuses": [running("a", 0), {"name": "b", "ready": false, "restartCount": 0,
                                          "state": {"running": {}}}]}),
                ),
                vec![
                    json!("web-1"),
                    json!("1/2"),
                    json!("Running"),
                    json!(0),
                    json!("5m30s"),
                    json!("10.244.1.4"),
                    json!("n1"),
                    json!("<none>"),
                    json!("<none>"),
                ],
            ),
            (
                "crash loop with a restart time",
                pod(
                    two.clone(),
                    json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.9"}],
                    "containerStatuses": [running("a", 1), {"name": "b", "ready": false, "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-29T09:05:00Z"}}}]}),
                ),
                vec![
                    json!("web-1"),
                    json!("1/2"),
                    json!("CrashLoopBackOff"),
                    json!("5 (30s ago)"),
                    json!("5m30s"),
                    json!("10.0.0.9"),
                    json!("n1"),
                    json!("<none>"),
                    json!("<none>"),
                ],
            ),
        ];
        for (what, obj, want) in cases {
            assert_eq!(cells(&obj, now()), want, "{what}");
        }
    }

    #[test]
    fn cells_should_report_init_and_termination_states() {
        let spec = json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]});
        let done =
            json!({"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let status_of = |ready: Value| {
            cells(
                &pod(
                    spec.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [done.clone(), ready]}),
                ),
                now(),
            )
        };
        let cases: &[(Value, &str)] = &[
            (json!({"name": "i2", "state": {"running": {}}}), "Init:1/2"),
            (
                json!({"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}),
                "Init:1/2",
            ),
            (
                json!({"name": "i2", "state": {"waiting": {"reason": "ErrImagePull"}}}),
                "Init:ErrImagePull",
            ),
            (
                json!({"name": "i2", "state": {"terminated": {"exitCode": 3}}}),
                "Init:ExitCode:3",
            ),
            (
                json!({"name": "i2", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}),
                "Init:OOMKilled",
            ),
        ];
        for (second, want) in cases {
            assert_eq!(status_of(second.clone())[2], json!(want), "{second}");
        }

        let one = json!({"containers": [{"name": "a"}]});
        let completed = pod(
            one.clone(),
            json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(cells(&completed, now())[2], "Completed");
        let errored = pod(
            one.clone(),
            json!({"phase": "Failed", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 2}}}]}),
        );
        assert_eq!(cells(&errored, now())[2], "ExitCode:2");

        let mut terminating = pod(
            one,
            json!({"phase": "Running", "containerStatuses": [running("a", 0)]}),
        );
        terminating["metadata"]["deletionTimestamp"] = json!("2026-11-29T09:05:00Z");
        let row = cells(&terminating, now());
        assert_eq!(
            (row[1].clone(), row[2].clone()),
            (json!("1/1"), json!("Terminating"))
        );
    }

    #[test]
    fn cells_should_count_sidecars_and_readiness_gates() {
        let spec = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                          "containers": [{"name": "a"}],
                          "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]});
        let status = json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "example.com/lb", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 0, "state": {"running": {}}}],
            "containerStatuses": [running("a", 0)]});
        let row = cells(&pod(spec, status), now());
        assert_eq!(row[1], "2/2");
        assert_eq!(row[2], "Running");
        assert_eq!(row[8], "1/2");
    }
}
