//! Wires the store, the API and the reconcile loops together and runs them until shutdown.

use crate::api::{self, ApiOptions, ApiState};
use crate::cluster::{self, ClusterState};
use crate::config::{Config, raft_dir};
use crate::inproc;
use crate::manager::Reconcilers;
use crate::store::network::Credentials;
use crate::store::{Store, StoreConfig};
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for the reconcile loops, then for open requests, before it stops
/// them anyway (seconds, each).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Namespaces that exist in every cluster (Kubernetes creates the same four at start-up).
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The API's options from the configuration.
fn api_options(config: &Config) -> ApiOptions {
    let settings = &config.controllers;
    ApiOptions {
        max_body_bytes: config.max_body_bytes,
        default_not_ready_toleration_seconds: settings.default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds: settings.default_unreachable_toleration_seconds,
        service_cluster_ip_range: settings.service_cluster_ip_range.clone(),
        service_node_port_range: settings.service_node_port_range.clone(),
        scheduler_policy: settings.scheduler_policy.clone(),
        ..ApiOptions::default()
    }
}

/// The store's open error, said plainly when another process holds the data directory's lock
/// (sled's "could not acquire lock", or the WAL's `flock` failing with `WouldBlock`).
fn store_open_error(data_dir: &std::path::Path, error: &str) -> String {
    if error.contains("could not acquire lock") || error.contains("WouldBlock") {
        format!(
            "data dir {} is in use by another mock_k8 process (lock held on {})",
            data_dir.display(),
            raft_dir(data_dir).display()
        )
    } else {
        format!("opening the store: {error}")
    }
}

/// Runs mock_k8 (store + API server) until `shutdown` completes, then shuts down in order: stop
/// accepting requests, end watches, stop Raft, flush storage.
///
/// Start-up: checks the flags and files ([`ApiOptions::validate`],
/// [`crate::manager::load_settings_files`]), binds `config.api_addr` (so neither a bad flag nor a
/// port in use leaves anything written), reads
/// the data directory or initializes it (a new cluster, or with `--join` a member of an existing
/// one: [`cluster::start::prepare`]), opens the store under `<data-dir>/raft` (recording the
/// advertised address in the Raft membership), creates the system namespaces if missing (when it
/// leads at once), then serves the API and the cluster routes ([`cluster::router`]). A joined
/// member asks the leader to make it a voter in the background.
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
    // Flags and files first, then the port: neither a bad flag nor a port in use may leave an
    // initialized data directory (and a join token printed once) behind.
    let options = api_options(&config);
    options.validate()?;
    if config.controllers.enabled {
        crate::manager::load_settings_files(&config.controllers)?;
    }
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on --api-addr {}: {e} (is another server using the port?)",
                config.api_addr
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("reading the bound address: {e}"))?;
    let startup = cluster::start::prepare(&config, addr).await?;
    if let Some(token) = &startup.new_token {
        // Shown once: it stays in <data-dir>/cluster.json, readable by the owner only.
        println!("cluster join token (keep it secret; it is shown only once): {token}");
    }
    let identity = startup.identity;
    let key = |name| {
        crate::nko::keyfiles::load_or_create(&config.data_dir, name)
            .map_err(|e| format!("loading the NKO {name} key: {e}"))
    };
    let member_key = key(crate::nko::keyfiles::MEMBER)?;
    let controller_key = key(crate::nko::keyfiles::CONTROLLERS)?;
    let agents_key = key(crate::nko::keyfiles::AGENTS)?;
    let store = Store::open(StoreConfig {
        member_key: Some(member_key),
        dir: raft_dir(&config.data_dir),
        node_id: identity.node_id,
        advertise_addr: startup.advertise.clone(),
        watch_history: config.watch_history,
        max_batch: config.max_batch,
        rpc_key: startup.secrets.member_key.clone(),
        bootstrap: startup.bootstrap,
        raft: config.raft.clone(),
    })
    .await
    .map_err(|e| store_open_error(&config.data_dir, &e.to_string()))?;
    store.seed_members(startup.secrets.seeds.clone());
    let token = CancellationToken::new();
    let policy = crate::nko::admission::Policy {
        enforced: config.verification_enabled,
        controllers: [controller_key.public()].into(),
        ..Default::default()
    };
    let mut state = ApiState::new(store.clone(), options, token.clone()).with_nko_policy(policy);
    // Node agents serve container logs; the API server proxies `pods/{name}/log` to them, signed
    // with the key derived from the join token (see `node_logs_auth`). The agents `run` starts are
    // dialed on loopback.
    let log_key = crate::node_logs_auth::LogKey::from_cluster_token(&startup.secrets.token);
    let local_nodes = crate::node_logs::LocalNodes::default();
    if config.controllers.enabled {
        let proxy = crate::node_logs::NodeLogProxy::new(log_key.clone(), local_nodes.clone());
        state = state.with_log_source(Arc::new(proxy));
    }
    let signers = crate::manager::Signers {
        router: api::router(state.clone()),
        controllers: controller_key,
        agents: agents_key,
    };
    // A single-member cluster leads by now and creates what is missing; in a larger cluster the
    // namespaces were created when it was founded.
    if store.is_leader() {
        for ns in SYSTEM_NAMESPACES {
            if let Err(e) = api::crud::ensure_namespace(&state, ns).await {
                store.shutdown().await;
                return Err(format!("creating namespace {ns}: {e}"));
            }
        }
    }
    let creds = Credentials {
        id: identity.node_id,
        key: startup.secrets.member_key.clone(),
    };
    let promotion = tokio::spawn(cluster::client::promote_loop(
        store.clone(),
        creds,
        startup.advertise.clone(),
        token.child_token(),
    ));
    let reconcilers = if config.controllers.enabled {
        let client = inproc::in_process_client(api::router(state.clone()));
        let started = Reconcilers::start(
            client,
            &identity.node_name,
            &config.controllers,
            Some(store.clone()),
            crate::manager::LogEndpoint {
                key: log_key,
                local_nodes,
            },
            &token,
            Some(signers),
        )
        .await;
        match started {
            Ok(r) => Some(r),
            Err(e) => {
                token.cancel();
                let _ = promotion.await;
                store.shutdown().await;
                return Err(format!("starting the reconcile loops: {e}"));
            }
        }
    } else {
        None
    };
    tracing::info!(%addr, node = %identity.node_name, member = identity.node_id, "mock_k8 API listening");
    on_listening(addr);
    let stop = token.clone();
    let cluster_state =
        ClusterState::new(store.clone(), &startup.secrets.token, &identity.cluster_id);
    // Served requests (not the in-process controllers and agents above) need the join token to
    // register or renew nodes.
    let state = state.with_node_token(&startup.secrets.token);
    let app = api::router(state).merge(cluster::router(cluster_state));
    // Handlers see the peer address (`ConnectInfo`): node writes from loopback need no token.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let draining = token.clone();
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        // Shutdown order: stop the reconcile loops (they write through the store), then end
        // the watch streams so graceful shutdown can finish their connections.
        if let Some(r) = reconcilers
            && tokio::time::timeout(SHUTDOWN_GRACE, r.stop()).await.is_err()
        {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconcile loops still running; stopping anyway");
        }
        stop.cancel();
    });
    // A request that hangs (a write waiting on a leader that is gone) must not hold the process:
    // connections still open `SHUTDOWN_GRACE` after the watch streams ended are dropped.
    let served = tokio::select! {
        r = serving => r,
        () = async {
            draining.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still open after shutdown; closing them");
            Ok(())
        }
    };
    token.cancel();
    let _ = promotion.await;
    store.shutdown().await;
    tracing::info!("mock_k8 stopped");
    served.map_err(|e| format!("serving: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(dir: &std::path::Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            api_addr: "127.0.0.1:0".parse().expect("addr"),
            node_name: Some("node-a".into()),
            verification_enabled: false,
            watch_history: 100,
            max_batch: 16,
            max_body_bytes: 1024 * 1024,
            controllers: crate::config::ControllerSettings::default(),
            join: None,
            token: None,
            advertise_addr: None,
            raft: Default::default(),
        }
    }

    /// Starts `run` and returns its bound address, the shutdown trigger and the task.
    async fn start(
        dir: &std::path::Path,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), String>>,
    ) {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(
            config(dir),
            async move {
                let _ = stop_rx.await;
            },
            move |addr| {
                let _ = addr_tx.send(addr);
            },
        ));
        let addr = tokio::time::timeout(Duration::from_secs(20), addr_rx)
            .await
            .expect("listening in time")
            .expect("address sent");
        (addr, stop_tx, task)
    }

    #[tokio::test]
    async fn run_should_serve_system_namespaces_and_keep_objects_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let client = reqwest::Client::new();
        let (addr, stop, task) = start(dir.path()).await;
        let ns: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/namespaces"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let names: Vec<&str> = ns["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names.len(), SYSTEM_NAMESPACES.len(), "{names:?}");
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kept"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let created = client
            .post(format!("http://{addr}/api/v1/pods"))
            .json(&pod)
            .send()
            .await
            .expect("create");
        assert_eq!(created.status().as_u16(), 201);
        // An open watch must not hold up shutdown.
        let watch = client
            .get(format!("http://{addr}/api/v1/pods?watch=true"))
            .send()
            .await
            .expect("watch");
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("shut down in time")
            .expect("task")
            .expect("clean exit");
        drop(watch);

        let (addr, stop, task) = start(dir.path()).await;
        let got = client
            .get(format!("http://{addr}/api/v1/namespaces/default/pods/kept"))
            .send()
            .await
            .expect("get");
        assert_eq!(got.status().as_u16(), 200);
        let _ = stop.send(());
        task.await.expect("task").expect("clean exit");
    }

    #[tokio::test]
    async fn run_should_fail_on_a_taken_port_without_creating_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut cfg = config(&data);
        cfg.api_addr = taken.local_addr().expect("addr");
        let result = run(cfg, async {}, |_| panic!("must not listen")).await;
        let err = result.expect_err("the port is taken");
        assert!(err.starts_with("cannot listen on --api-addr"), "{err}");
        assert!(!data.exists(), "the data directory was created");
    }
}
