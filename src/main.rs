//! The `mock_k8` binary: parses the command line and runs `run`, `init` or `version`.
//!
//! Exit codes: 0 success, 1 runtime error (start-up failure, I/O, an initialized directory for
//! `init`), 2 usage error (clap).

mod cli;

use clap::Parser;
use cli::{Cli, Command, MembersArgs, MembersCommand, ServerArgs};
use mock_k8::config::{self, ConfigError, Identity};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset: `info`, but openraft's start-up chatter only from `warn`.
const DEFAULT_LOG_FILTER: &str = "info,openraft=warn";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            print!("{}", cli::version_text());
            ExitCode::SUCCESS
        }
        Command::Init(args) => report(init(&args)),
        Command::Members(cmd) => report(members(cmd)),
        Command::Agent(args) => {
            init_logging();
            report(block_on(mock_k8::node_agent::run(
                args.to_options(),
                cancel_on_signal(),
            )))
        }
        Command::Run(args) => {
            init_logging();
            report(run(&args))
        }
    }
}

/// Prints an error to stderr and maps the outcome to the process exit code.
fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// Logs to stderr through tracing-subscriber's fmt layer; the filter comes from `RUST_LOG`
/// (default [`DEFAULT_LOG_FILTER`]). Colours only when stderr is a terminal.
fn init_logging() {
    use std::io::IsTerminal;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Runs `fut` on a new multi-threaded runtime.
fn block_on<F: std::future::Future<Output = Result<(), String>>>(fut: F) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(fut)
}

/// A token cancelled on Ctrl-C or SIGTERM (spawned on the current runtime when first polled).
fn cancel_on_signal() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let t = token.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(shutdown_signal());
        }
        t.cancel();
    });
    token
}

/// `mock_k8 members list|remove`.
fn members(cmd: MembersCommand) -> Result<(), String> {
    let token_of = |args: &MembersArgs| -> Result<String, String> {
        if let Some(t) = &args.token {
            return Ok(t.clone());
        }
        match mock_k8::cluster::secrets::load(&args.data_dir)? {
            Some(s) => Ok(s.token),
            None => Err(format!(
                "no --token given and no {} to read it from",
                mock_k8::cluster::secrets::secrets_path(&args.data_dir).display()
            )),
        }
    };
    match cmd {
        MembersCommand::List(args) => {
            let token = token_of(&args)?;
            let (cluster, members) =
                block_on_value(mock_k8::cluster::client::list_members(&args.server, &token))?;
            println!("cluster {cluster}");
            println!("{:<6} {:<28} {:<8} LEADER", "ID", "ADDRESS", "ROLE");
            for m in members {
                let leader = if m.leader { "*" } else { "" };
                println!("{:<6} {:<28} {:<8} {leader}", m.id, m.addr, m.role);
            }
            Ok(())
        }
        MembersCommand::Remove { id, args } => {
            let token = token_of(&args)?;
            block_on_value(mock_k8::cluster::client::remove_member(
                &args.server,
                &token,
                id,
            ))?;
            println!("member {id} removed");
            Ok(())
        }
    }
}

fn block_on_value<T, F: std::future::Future<Output = Result<T, String>>>(
    fut: F,
) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(fut)
}

/// `mock_k8 init`: creates the data directory, its identity and the cluster's join token (printed
/// once); fails on an initialized one.
fn init(args: &ServerArgs) -> Result<(), String> {
    match config::init_data_dir(&args.data_dir, args.node_name.as_deref()) {
        Ok(id) => {
            let (secrets, _) = mock_k8::cluster::secrets::load_or_create(&args.data_dir)?;
            println!(
                "initialized data directory {}: node {:?}, cluster {}",
                args.data_dir.display(),
                id.node_name,
                id.cluster_id
            );
            println!(
                "cluster join token (keep it secret; it is shown only once): {}",
                secrets.token
            );
            Ok(())
        }
        Err(ConfigError::AlreadyInitialized(dir)) => Err(format!(
            "data directory {} is already initialized ({} exists); refusing to overwrite it. \
             Use `mock_k8 run` to start from it, or choose another --data-dir",
            dir.display(),
            config::identity_path(&dir).display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `mock_k8 run`: initializes an empty data directory, then serves until Ctrl-C or SIGTERM. The
/// data directory is only read or initialized once the API port is bound (in
/// [`mock_k8::server::run`]), so a port in use leaves nothing behind.
fn run(args: &ServerArgs) -> Result<(), String> {
    let config = args.to_config();
    tracing::info!(
        data_dir = %config.data_dir.display(),
        version = env!("CARGO_PKG_VERSION"),
        "starting mock_k8"
    );
    let data_dir = config.data_dir.clone();
    let node_name = config.node_name.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(mock_k8::server::run(config, shutdown_signal(), |addr| {
        // The server has initialized the data directory by now: this only reads it.
        if let Ok(identity) = config::load_or_init(&data_dir, node_name.as_deref()) {
            warn_if_renamed(args, &identity);
            tracing::info!(
                node = %identity.node_name,
                cluster = %identity.cluster_id,
                "data directory loaded"
            );
        }
        println!("mock_k8 API listening on http://{addr}");
    }))
}

/// A restart never renames the node: say so when `--node-name` asks for another name.
fn warn_if_renamed(args: &ServerArgs, identity: &Identity) {
    if let Some(asked) = args.node_name.as_deref()
        && asked != identity.node_name
    {
        tracing::warn!(
            recorded = %identity.node_name,
            requested = %asked,
            "the data directory fixes the node name; ignoring --node-name / MOCK_K8_NODE_NAME"
        );
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}
