//! `GET pods/{name}/log` (`kubectl logs`): container logs as `text/plain`.
//!
//! Logs live with the node agent that runs the pod's containers, not in the store. The API server
//! checks the request (pod exists, container named or unique, pod bound to a node) and asks its
//! [`LogSource`]; without one it answers 404 NotFound explaining that the node agent does not
//! serve logs.

use super::Ctx;
use super::crud;
use super::error::ApiError;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use mock_k8_schemas::Status;
use serde_json::Value;

/// One log read, as the API server hands it to a [`LogSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's uid.
    pub uid: String,
    /// The node the pod is bound to.
    pub node: String,
    /// The container (named in the query, or the pod's only container).
    pub container: String,
    /// `tailLines`: only the last lines.
    pub tail_lines: Option<u64>,
    /// `previous`: the previous instance of a restarted container.
    pub previous: bool,
    /// `follow`: keep streaming as the container writes.
    pub follow: bool,
    /// The node's `status.daemonEndpoints.kubeletEndpoint.Port` (where its agent serves logs).
    pub kubelet_port: Option<i32>,
    /// The node's `InternalIP` in `status.addresses` (where a remote agent is dialed).
    pub node_address: Option<String>,
}

/// Where container logs come from (the node agents). Implemented by whoever runs them.
pub trait LogSource: Send + Sync {
    /// The log text of `req.container` as a response body (streamed with `follow`).
    ///
    /// # Errors
    /// An [`ApiError`] to answer as is (e.g. 400 when the container has not started).
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<Body, ApiError>>;
}

/// `GET .../pods/{name}/log`.
///
/// # Errors
/// 404 when the pod is missing or no log source is configured; 400 when the container is not named
/// (several containers), unknown, or the pod is not bound to a node yet.
pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let (r, stored) = crud::resolve(&ctx.state, &ctx.path)?;
    let pod = crud::parse_stored(&stored)?;
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let names: Vec<&str> = ["initContainers", "containers"]
        .iter()
        .flat_map(|l| spec.get(*l).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let app: Vec<&str> = spec
        .get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let container = match (ctx.params.container.as_deref(), app.as_slice()) {
        (Some(c), _) if names.contains(&c) => c.to_string(),
        (Some(c), _) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {}",
                r.name
            )));
        }
        (None, [only]) => (*only).to_string(),
        (None, _) => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {}, choose one of: [{}]",
                r.name,
                app.join(" ")
            )));
        }
    };
    let node = spec
        .get("nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: the pod is not scheduled to a node yet",
                r.name
            ))
        })?
        .to_string();
    if let Some(reason) = waiting_before_first_start(&pod, &container) {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{}\" is waiting to start: {reason}",
            r.name
        )));
    }
    let Some(source) = ctx.state.logs.clone() else {
        return Err(Status::new(
            404,
            "NotFound",
            format!(
                "logs of container \"{container}\" in pod \"{}\" come from the node agent of node \"{node}\", which does not serve logs",
                r.name
            ),
        )
        .with_object("", "pods/log", &r.name)
        .into());
    };
    let node_obj = mock_k8_schemas::resource::by_kind("v1", "Node")
        .and_then(|resource| {
            let path = super::routes::ResourcePath {
                resource,
                namespace: None,
                name: Some(node.clone()),
                subresource: None,
            };
            crud::resolve(&ctx.state, &path).ok()
        })
        .and_then(|(_, obj)| crud::parse_stored(&obj).ok())
        .unwrap_or(Value::Null);
    let node_status = &node_obj["status"];
    let kubelet_port = node_status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok());
    let node_address = node_status["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .map(str::to_string);
    let req = LogRequest {
        namespace: r.namespace.clone(),
        pod: r.name.clone(),
        uid: mock_k8_schemas::meta::str_field(&pod, "uid")
            .unwrap_or("")
            .to_string(),
        node,
        container,
        tail_lines: ctx.params.tail_lines,
        previous: ctx.params.previous,
        follow: ctx.params.follow,
        kubelet_port,
        node_address,
    };
    let body = source.logs(req).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
}

/// Why `container` of `pod` has no logs yet: its status is `waiting` and no container was ever
/// created for it (no `containerID`). As the kubelet words it: `image can't be pulled` for
/// `ErrImagePull` / `ImagePullBackOff`, else the waiting reason (e.g. `ContainerCreating`).
/// `None` once a container exists (its logs, or its last run's, can be read).
fn waiting_before_first_start(pod: &Value, container: &str) -> Option<String> {
    let status = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .flat_map(|l| pod["status"][*l].as_array().into_iter().flatten())
        .find(|c| c["name"] == container)?;
    if status["containerID"]
        .as_str()
        .is_some_and(|id| !id.is_empty())
    {
        return None;
    }
    let reason = status["state"]["waiting"]["reason"].as_str()?;
    Some(match reason {
        "ErrImagePull" | "ImagePullBackOff" => "image can't be pulled".to_string(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::waiting_before_first_start;
    use serde_json::json;

    #[test]
    fn waiting_reason_should_follow_the_kubelet_wording_until_a_container_exists() {
        let pod = |state: serde_json::Value, id: Option<&str>| json!({"status": {"containerStatuses": [{"name": "app", "state": state, "containerID": id}]}});
        let pulling = pod(json!({"waiting": {"reason": "ImagePullBackOff"}}), None);
        assert_eq!(
            waiting_before_first_start(&pulling, "app").as_deref(),
            Some("image can't be pulled")
        );
        let creating = pod(json!({"waiting": {"reason": "ContainerCreating"}}), None);
        assert_eq!(
            waiting_before_first_start(&creating, "app").as_deref(),
            Some("ContainerCreating")
        );
        let crashed = pod(
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            Some("mock://abc"),
        );
        assert_eq!(waiting_before_first_start(&crashed, "app"), None);
        assert_eq!(waiting_before_first_start(&pulling, "other"), None);
    }
}
