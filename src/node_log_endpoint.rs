//! The container log endpoint of an out-of-process `mock_k8 agent` (see [`crate::node_logs`]):
//! where it listens (`--log-addr`), and what it publishes in its Node status so that the API
//! server can reach it: `status.daemonEndpoints.kubeletEndpoint.Port` (the bound port) and an
//! `InternalIP` in `status.addresses` (`--node-ip`, by default the bound address, or, when bound to
//! all interfaces, the local address the host uses to reach the first `--server`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{DaemonEndpoint, NodeAddress, NodeDaemonEndpoints};
use mock_k8_controllers::agent::NodeSpec;
use mock_k8_controllers::container::ContainerRuntime;
use tokio_util::sync::CancellationToken;

use crate::node_logs::NodeLogServer;
use crate::node_logs_auth::LogKey;

/// The agent's bound log listener and the address it publishes.
pub struct AgentLogEndpoint {
    listener: tokio::net::TcpListener,
    /// The address published as the node's `InternalIP`.
    pub ip: IpAddr,
    /// The bound port, published as `kubeletEndpoint.Port`.
    pub port: u16,
}

impl AgentLogEndpoint {
    /// Binds `addr` (port 0: any free port) and picks the published address: `node_ip`, else
    /// `addr`'s IP unless it is unspecified (`0.0.0.0`, `::`), else the local address of the route
    /// to the first of `servers` (`http://host:port`), else `127.0.0.1`.
    ///
    /// # Errors
    /// The address cannot be bound (in use, not local), or `node_ip` is unspecified, as text.
    pub async fn bind(
        addr: SocketAddr,
        node_ip: Option<IpAddr>,
        servers: &[String],
    ) -> Result<AgentLogEndpoint, String> {
        if node_ip.is_some_and(|ip| ip.is_unspecified()) {
            return Err(
                "--node-ip must be an address the API server can reach, not 0.0.0.0 or ::".into(),
            );
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("binding the node log endpoint on {addr} (--log-addr): {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("binding the node log endpoint on {addr}: {e}"))?
            .port();
        let ip = match node_ip {
            Some(ip) => ip,
            None if !addr.ip().is_unspecified() => addr.ip(),
            None => match servers.first() {
                Some(server) => route_source(server).await,
                None => None,
            }
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        Ok(AgentLogEndpoint { listener, ip, port })
    }

    /// Sets the node's `InternalIP` and `kubeletEndpoint.Port` to this endpoint's.
    pub fn publish(&self, node: &mut NodeSpec) {
        let status = node.node.status.get_or_insert_with(Default::default);
        let addresses = status.addresses.get_or_insert_with(Vec::new);
        addresses.retain(|a| a.type_ != "InternalIP");
        addresses.insert(
            0,
            NodeAddress {
                type_: "InternalIP".into(),
                address: self.ip.to_string(),
            },
        );
        status.daemon_endpoints = Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(self.port),
            }),
        });
    }

    /// Serves the logs of `runtime`'s containers for node `node` until `shutdown` is cancelled,
    /// accepting requests signed with `key`.
    pub async fn serve(
        self,
        runtime: Arc<dyn ContainerRuntime>,
        key: LogKey,
        node: String,
        shutdown: CancellationToken,
    ) {
        tracing::info!(ip = %self.ip, port = self.port, "node log endpoint listening");
        NodeLogServer::new(runtime, key, [node])
            .serve(self.listener, shutdown)
            .await;
    }
}

/// The local address of the route to `server`'s host (a connected UDP socket; nothing is sent).
async fn route_source(server: &str) -> Option<IpAddr> {
    let uri: axum::http::Uri = server.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let target = tokio::net::lookup_host((host, port)).await.ok()?.next()?;
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(local).await.ok()?;
    socket.connect(target).await.ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bind_should_publish_the_bound_address_or_the_route_to_the_server() {
        let loopback = "127.0.0.1:0".parse().expect("addr");
        let e = AgentLogEndpoint::bind(loopback, None, &[])
            .await
            .expect("bind");
        assert_eq!(e.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(e.port, 0);
        let any = "0.0.0.0:0".parse().expect("addr");
        let servers = ["http://127.0.0.1:8080".to_string()];
        let e = AgentLogEndpoint::bind(any, None, &servers)
            .await
            .expect("bind");
        assert_eq!(e.ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let given = Some("10.1.2.3".parse().expect("ip"));
        let e = AgentLogEndpoint::bind(any, given, &servers)
            .await
            .expect("bind");
        assert_eq!(e.ip.to_string(), "10.1.2.3");
        let mut node = NodeSpec::new("n1", 3).expect("node");
        e.publish(&mut node);
        assert_eq!(node.internal_ip(), "10.1.2.3");
        let status = node.node.status.expect("status");
        assert_eq!(
            status.daemon_endpoints.and_then(|d| d.kubelet_endpoint),
            Some(DaemonEndpoint {
                port: i32::from(e.port)
            })
        );
        let unspecified = Some("0.0.0.0".parse().expect("ip"));
        assert!(AgentLogEndpoint::bind(any, unspecified, &[]).await.is_err());
    }

    #[tokio::test]
    async fn bind_should_say_which_flag_when_the_port_is_taken() {
        let first = AgentLogEndpoint::bind("127.0.0.1:0".parse().expect("addr"), None, &[])
            .await
            .expect("bind");
        let taken = SocketAddr::from((Ipv4Addr::LOCALHOST, first.port));
        let err = AgentLogEndpoint::bind(taken, None, &[])
            .await
            .err()
            .expect("in use");
        assert!(err.contains("--log-addr"), "{err}");
    }
}
