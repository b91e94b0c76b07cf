//! Wires the store and the API together and runs them until shutdown.
//! OWNER: helper api.

use crate::config::Config;
use std::future::Future;

/// Runs mock_k8 (store + API server) until `shutdown` completes, then shuts down in order: stop
/// accepting requests, end watches, stop Raft, flush storage.
///
/// `on_listening` is called with the bound address once the API accepts connections (useful with
/// port 0).
///
/// # Errors
/// Start-up failures (data directory, store, bind), as text.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(std::net::SocketAddr) + Send,
) -> Result<(), String> {
    let _ = (config, shutdown, on_listening);
    todo!("api")
}
