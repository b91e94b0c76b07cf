//! Start-up of a member: read the data directory, or initialize it (a new cluster, or a join).

use std::net::SocketAddr;
use std::path::Path;

use super::client;
use super::secrets::{self, Secrets};
use crate::config::{self, Config, Identity};

/// What a member starts with.
#[derive(Debug)]
pub struct Startup {
    /// The data directory's identity (node name, Raft node id, cluster id).
    pub identity: Identity,
    /// The join token and this member's key.
    pub secrets: Secrets,
    /// `host:port` the other members reach this one at.
    pub advertise: String,
    /// `true` when this member created the cluster (its store initializes it when empty).
    pub bootstrap: bool,
    /// The join token, when this start created the cluster (print it once).
    pub new_token: Option<String>,
}

/// The address other members and agents reach this member at: `--advertise-addr`, else the bound
/// address, with an unspecified IP (`0.0.0.0`) replaced by the host name.
pub fn advertise_addr(config: &Config, bound: SocketAddr) -> String {
    if let Some(a) = &config.advertise_addr {
        return a.clone();
    }
    if bound.ip().is_unspecified() {
        let host = config::host_name().unwrap_or_else(|| "localhost".into());
        return format!("{host}:{}", bound.port());
    }
    bound.to_string()
}

/// Reads `config.data_dir` or initializes it: with `--join` (and no identity yet) by joining the
/// cluster at that URL; otherwise as the first member of a new cluster, whose join token is
/// `--token` when given (16+ printable characters), else a new random one.
///
/// # Errors
/// Data directory failures, or a refused or failed join, as text.
pub async fn prepare(config: &Config, bound: SocketAddr) -> Result<Startup, String> {
    let dir = config.data_dir.as_path();
    let advertise = advertise_addr(config, bound);
    let initialized = config::identity_path(dir).exists();
    if !initialized && let Some(url) = &config.join {
        return join(config, dir, url, advertise).await;
    }
    if initialized && config.join.is_some() {
        tracing::info!("the data directory is initialized already: --join is ignored");
    }
    // The first member may be given the token (compose files share one): it must be hard to guess.
    let mut preset = false;
    if !initialized && let Some(t) = &config.token {
        if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("--token: a cluster token needs 16 or more printable characters".into());
        }
        if secrets::load(dir)?.is_none() {
            config::create_private_dir(dir).map_err(|e| e.to_string())?;
            let mut s = Secrets::generate()?;
            s.token = t.clone();
            secrets::store(dir, &s)?;
            preset = true;
        }
    }
    let identity =
        config::load_or_init(dir, config.node_name.as_deref()).map_err(|e| e.to_string())?;
    let (secrets, fresh) = secrets::load_or_create(dir)?;
    let fresh = fresh && !preset;
    Ok(Startup {
        identity,
        bootstrap: secrets.join_url.is_none(),
        new_token: fresh.then(|| secrets.token.clone()),
        secrets,
        advertise,
    })
}

async fn join(
    config: &Config,
    dir: &Path,
    url: &str,
    advertise: String,
) -> Result<Startup, String> {
    let token = config
        .token
        .as_deref()
        .ok_or("--join needs --token (MOCK_K8_TOKEN): the cluster's join token")?;
    if let Some(name) = config.node_name.as_deref() {
        config::validate_node_name(name).map_err(|r| format!("invalid node name {name:?}: {r}"))?;
    }
    let key = secrets::random_hex(32)?;
    let answer = client::join(url, token, &advertise, &key).await?;
    tracing::info!(member = answer.node_id, cluster = %answer.cluster_id, "joined the cluster");
    config::create_private_dir(dir).map_err(|e| e.to_string())?;
    // The secrets first: a crash before the identity is written leaves a directory that joins
    // again, never one that starts a cluster of its own.
    let secrets = Secrets {
        token: token.to_string(),
        member_key: key,
        join_url: Some(url.to_string()),
        seeds: answer.members,
    };
    secrets::store(dir, &secrets)?;
    let identity = config::init_data_dir_as(
        dir,
        config.node_name.as_deref(),
        answer.node_id,
        &answer.cluster_id,
    )
    .map_err(|e| e.to_string())?;
    Ok(Startup {
        identity,
        secrets,
        advertise,
        bootstrap: false,
        new_token: None,
    })
}
