//! The `mock_k8` binary: parses the command line and runs `run`, `init` or `version`.
//!
//! Exit codes: 0 success, 1 runtime error (start-up failure, I/O, an initialized directory for
//! `init`), 2 usage error (clap).

mod cli;

use clap::Parser;
use cli::{Cli, Command, MembersArgs, MembersCommand, ServerArgs, VerifyArgs};
use mock_k8::config::{self, ConfigError, Identity};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The allocator of the whole process: mimalloc. Under concurrent writes glibc's malloc cost about
/// a third of the server's CPU (`malloc_consolidate`, `unlink_chunk`, `_int_free` in `perf`); see
/// BENCHMARKS.md, "Performance work". The `system-alloc` feature keeps the system allocator, for
/// heap profilers that interpose `malloc` (heaptrack, valgrind).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The log filter when `RUST_LOG` is unset: `info`, but openraft's start-up chatter only from `warn`.
const DEFAULT_LOG_FILTER: &str = "info,openraft=warn";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err((sub, message)) = cli.check_flag_relations() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        cmd.build();
        let cmd = cmd.find_subcommand_mut(sub).cloned().unwrap_or(cmd);
        cmd.bin_name(format!("mock_k8 {sub}"))
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    match cli.command {
        Command::Version => {
            print!("{}", cli::version_text());
            ExitCode::SUCCESS
        }
        Command::Init(args) => report(init(&args)),
        Command::Verify(args) => report(verify(&args)),
        Command::Pause => report(pause()),
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

/// `mock_k8 pause`: the pod sandbox's process. Waits for SIGTERM or SIGINT, then exits 0.
fn pause() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(shutdown_signal());
    Ok(())
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

/// `mock_k8 verify`: replays the history and prints a summary; any bad transition is an error
/// naming its revision and what failed (exit code 1).
fn verify(args: &VerifyArgs) -> Result<(), String> {
    use mock_k8::nko::audit;
    let mut trust = Vec::new();
    for id in &args.trust {
        trust.push(
            mock_k8_nko::keys::PublicKey::from_id(id)
                .ok_or_else(|| format!("--trust {id:?} is not a key id (64 hex digits)"))?,
        );
    }
    if args.from_checkpoint && args.data_dir.is_none() {
        return Err("--from-checkpoint needs --data-dir (a stopped member's store)".into());
    }
    let quiet = args.quiet;
    let mut last = std::time::Instant::now();
    let progress = move |rev: u64| {
        if !quiet && last.elapsed() >= std::time::Duration::from_secs(1) {
            eprintln!("verified through revision {rev}...");
            last = std::time::Instant::now();
        }
    };
    let report = match (&args.data_dir, &args.server) {
        (Some(dir), _) => audit::verify_data_dir(dir, &trust, args.from_checkpoint, progress),
        (None, Some(url)) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the runtime: {e}"))?;
            rt.block_on(audit::verify_server(url, &trust, progress))
        }
        (None, None) => return Err("one of --data-dir and --server is required".into()),
    }
    .map_err(|e| e.to_string())?;
    print!("{}", report.render());
    println!("OK");
    Ok(())
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
            for name in [
                mock_k8::nko::keyfiles::MEMBER,
                mock_k8::nko::keyfiles::CONTROLLERS,
            ] {
                mock_k8::nko::keyfiles::load_or_create(&args.data_dir, name)
                    .map_err(|e| format!("creating the {name} key: {e}"))?;
            }
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
