//! `bench`: the benchmark harness (issue 7). Starts the real `mock_k8` binary (and etcd, for the
//! durable-writes comparison) as processes, drives them over HTTP, prints a results table and
//! writes the results as JSON. See BENCHMARKS.md for the scenarios and a full run.
//!
//! Run with:
//!   export CARGO_TARGET_DIR=target-release
//!   cargo build --release --locked --bin mock_k8 --example bench
//!   target-release/release/examples/bench            # full suite (≈15 min on 2 cores)
//!   target-release/release/examples/bench --quick    # every scenario at small sizes (< 1 min)

mod harness;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = harness::Options::parse();
    if let Err(e) = harness::check_writable(&options.json) {
        eprintln!("bench: cannot write --json {}: {e}", options.json.display());
        return std::process::ExitCode::from(2);
    }
    let report = match harness::run(&options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", harness::table(&report.rows));
    if let Err(e) = harness::save(&report, &options.json) {
        eprintln!("bench: writing {}: {e}", options.json.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!("results written to {}", options.json.display());
    if report.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        for (g, e) in &report.failures {
            eprintln!("bench: {g:?} failed: {e}");
        }
        std::process::ExitCode::FAILURE
    }
}
