//! Container validation (Kubernetes' `validateContainers` / `validateInitContainers` and their helpers):
//! names, images, ports, env, volume mounts, resources and probes.

use super::causes::{Causes, arr, get, int, s};
use super::names;
use crate::quantity::Quantity;
use serde_json::Value;
use std::collections::HashSet;

/// What a pod spec lends to the validation of each of its containers.
pub(crate) struct PodContext<'a> {
    /// Container and init container names seen so far (names must be unique across both lists).
    pub names: HashSet<String>,
    /// The pod's volume names (volume mounts must refer to one).
    pub volumes: HashSet<&'a str>,
    /// `spec.hostNetwork`: host ports must then equal container ports.
    pub host_network: bool,
    /// `hostPort/protocol` pairs seen so far (must be unique within the pod).
    pub host_ports: HashSet<String>,
}

/// Validates one container at `path` (`spec.containers[0]`).
pub(crate) fn validate_container(
    c: &mut Causes,
    ctr: &Value,
    path: &str,
    ctx: &mut PodContext<'_>,
) {
    let name = s(ctr, "name");
    if name.is_empty() {
        c.required(&format!("{path}.name"), "");
    } else {
        let errs = names::dns1123_label(name);
        if !errs.is_empty() {
            c.invalid_each(&format!("{path}.name"), name, errs);
        } else if !ctx.names.insert(name.to_string()) {
            c.duplicate(&format!("{path}.name"), name);
        }
    }
    let image = s(ctr, "image");
    if image.is_empty() {
        c.required(&format!("{path}.image"), "");
    } else if image.trim() != image {
        c.invalid(
            &format!("{path}.image"),
            image,
            "must not have leading or trailing whitespace",
        );
    }
    if let Some(policy) = ctr.get("imagePullPolicy").and_then(Value::as_str)
        && !["Always", "IfNotPresent", "Never"].contains(&policy)
    {
        c.not_supported(
            &format!("{path}.imagePullPolicy"),
            policy,
            &["Always", "IfNotPresent", "Never"],
        );
    }
    if let Some(policy) = ctr.get("terminationMessagePolicy").and_then(Value::as_str)
        && !["File", "FallbackToLogsOnError"].contains(&policy)
    {
        c.not_supported(
            &format!("{path}.terminationMessagePolicy"),
            policy,
            &["File", "FallbackToLogsOnError"],
        );
    }
    validate_ports(c, arr(ctr, "ports"), &format!("{path}.ports"), ctx);
    validate_env(c, arr(ctr, "env"), &format!("{path}.env"));
    validate_volume_mounts(
        c,
        arr(ctr, "volumeMounts"),
        &format!("{path}.volumeMounts"),
        &ctx.volumes,
    );
    validate_resources(c, get(ctr, "resources"), &format!("{path}.resources"));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = ctr.get(probe) {
            validate_probe(c, p, &format!("{path}.{probe}"));
        }
    }
}

/// Kubernetes' `validateContainerPorts` plus host-port checks (`hostNetwork`, conflicts within the pod).
fn validate_ports(c: &mut Causes, ports: &[Value], path: &str, ctx: &mut PodContext<'_>) {
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = s(port, "name");
        if !name.is_empty() {
            let errs = names::port_name(name);
            if !errs.is_empty() {
                c.invalid_each(&format!("{p}.name"), name, errs);
            } else if !port_names.insert(name) {
                c.duplicate(&format!("{p}.name"), name);
            }
        }
        let container_port = int(port, "containerPort").unwrap_or(0);
        if container_port == 0 {
            c.required(&format!("{p}.containerPort"), "");
        } else {
            for e in names::port_num(container_port) {
                c.invalid(&format!("{p}.containerPort"), container_port, &e);
            }
        }
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP");
        validate_protocol(c, protocol, &format!("{p}.protocol"));
        let host_port = int(port, "hostPort").unwrap_or(0);
        if host_port != 0 {
            for e in names::port_num(host_port) {
                c.invalid(&format!("{p}.hostPort"), host_port, &e);
            }
            if !ctx.host_ports.insert(format!("{host_port}/{protocol}")) {
                c.duplicate(&format!("{p}.hostPort"), format!("{host_port}/{protocol}"));
            }
        }
        if ctx.host_network && host_port != 0 && host_port != container_port {
            c.invalid(
                &format!("{p}.hostPort"),
                host_port,
                "must match `containerPort` when `hostNetwork` is true",
            );
        }
    }
}

/// A port protocol: `SCTP`, `TCP` or `UDP` (Kubernetes' `supportedPortProtocols`).
pub(crate) fn validate_protocol(c: &mut Causes, protocol: &str, path: &str) {
    const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
    if protocol.is_empty() {
        c.required(path, "");
    } else if !PROTOCOLS.contains(&protocol) {
        c.not_supported(path, protocol, PROTOCOLS);
    }
}

/// Kubernetes' `ValidateEnv`: names required, printable ASCII other than `=`; `value` xor `valueFrom`.
fn validate_env(c: &mut Causes, env: &[Value], path: &str) {
    for (i, e) in env.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = s(e, "name");
        if name.is_empty() {
            c.required(&format!("{p}.name"), "");
        } else if !name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
        {
            c.invalid(
                &format!("{p}.name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            );
        }
        if !s(e, "value").is_empty() && e.get("valueFrom").is_some() {
            c.invalid(
                &format!("{p}.valueFrom"),
                "",
                "may not be specified when `value` is not empty",
            );
        }
    }
}

/// Volume mounts: name required and naming a pod volume, mountPath required and unique.
fn validate_volume_mounts(c: &mut Causes, mounts: &[Value], path: &str, volumes: &HashSet<&str>) {
    let mut paths = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = s(m, "name");
        if name.is_empty() {
            c.required(&format!("{p}.name"), "");
        } else if !volumes.contains(name) {
            c.not_found(&format!("{p}.name"), name);
        }
        let mount_path = s(m, "mountPath");
        if mount_path.is_empty() {
            c.required(&format!("{p}.mountPath"), "");
        } else if !paths.insert(mount_path) {
            c.invalid(&format!("{p}.mountPath"), mount_path, "must be unique");
        }
    }
}

/// Kubernetes' `ValidateResourceRequirements`: resource names are qualified names, quantities are non-negative,
/// and each request is at most its limit (`requests: Invalid value: "2": must be less than or equal to cpu
/// limit of 1`). Quantities are compared exactly in thousandths ([`Quantity::millis`]).
pub(crate) fn validate_resources(c: &mut Causes, res: &Value, path: &str) {
    let mut parsed = |section: &str| -> Vec<(String, String, Option<Quantity>)> {
        let Some(map) = res.get(section).and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, q) in map {
            let p = format!("{path}.{section}[{name}]");
            c.invalid_each(&p, name, names::qualified_name(name));
            let text = match q {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    c.type_invalid(&p, other, "a quantity");
                    continue;
                }
            };
            match Quantity::parse(&text) {
                Ok(qty) => {
                    if qty.millis() < 0 {
                        c.invalid(&p, text.as_str(), "must be greater than or equal to 0");
                    }
                    out.push((name.clone(), text, Some(qty)));
                }
                Err(e) => {
                    c.invalid(&p, text.as_str(), &e.to_string());
                    out.push((name.clone(), text, None));
                }
            }
        }
        out
    };
    let limits = parsed("limits");
    let requests = parsed("requests");
    for (name, text, req) in &requests {
        let Some((_, limit_text, Some(limit))) = limits.iter().find(|(n, _, _)| n == name) else {
            continue;
        };
        if let Some(req) = req
            && req.millis() > limit.millis()
        {
            c.invalid(
                &format!("{path}.requests"),
                text.as_str(),
                &format!("must be less than or equal to {name} limit of {limit_text}"),
            );
        }
    }
}

/// Probes: exactly one handler (`exec`, `httpGet`, `tcpSocket`, `grpc`), valid ports, non-negative timings.
fn validate_probe(c: &mut Causes, probe: &Value, path: &str) {
    let handlers: Vec<&str> = ["exec", "httpGet", "tcpSocket", "grpc"]
        .into_iter()
        .filter(|h| probe.get(*h).is_some())
        .collect();
    match handlers.as_slice() {
        [] => c.required(path, "must specify a handler type"),
        [_] => {}
        [_, second, ..] => c.forbidden(
            &format!("{path}.{second}"),
            "may not specify more than 1 handler type",
        ),
    }
    for h in ["httpGet", "tcpSocket"] {
        if let Some(port) = probe.get(h).and_then(|v| v.get("port")) {
            validate_int_or_port_name(c, port, &format!("{path}.{h}.port"));
        }
    }
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        c.non_negative(&format!("{path}.{field}"), int(probe, field));
    }
}

/// An `IntOrString` port: a number in 1..=65535 or an IANA service name.
pub(crate) fn validate_int_or_port_name(c: &mut Causes, port: &Value, path: &str) {
    match port {
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(-1);
            for e in names::port_num(n) {
                c.invalid(path, n, &e);
            }
        }
        Value::String(name) => c.invalid_each(path, name, names::port_name(name)),
        other => c.type_invalid(path, other, "an integer or a port name"),
    }
}
