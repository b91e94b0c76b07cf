//! The benchmark harness's quick mode (`examples/bench --quick`), run here so CI proves that every
//! scenario completes and reports. It checks that the report covers all six scenarios and that
//! the work was really done (pods Running, writes acknowledged, events delivered), never a time.
//! etcd's column is filled when etcd is installed and carries an install note otherwise.

#[allow(dead_code)] // the test drives the harness through `run` and uses a subset of its items
#[path = "../../examples/bench/harness/mod.rs"]
mod harness;

use clap::Parser;
use serde_json::Value;

fn scenario<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["scenarios"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["scenario"] == name).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_quick_mode_should_run_and_report_every_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("results.json");
    let options = harness::Options::parse_from([
        "bench",
        "--quick",
        "--bin",
        env!("CARGO_BIN_EXE_mock_k8"),
        "--work-dir",
        dir.path().join("work").to_str().expect("utf-8 path"),
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    let report = harness::run(&options).await.expect("harness runs");
    let table = harness::table(&report.rows);
    println!("{table}");
    assert!(report.failures.is_empty(), "failed: {:?}", report.failures);
    for prefix in ["1 ", "2 ", "3 ", "4 ", "5 ", "6 "] {
        assert!(
            report.rows.iter().any(|r| r.scenario.starts_with(prefix)),
            "no row for scenario {prefix}in\n{table}"
        );
    }
    let r = &report.json;
    assert!(r["machine"]["cores"].as_u64().unwrap_or(0) >= 1, "{r}");
    assert!(r["machine"]["fsyncP50Ms"].as_f64().is_some(), "{r}");

    let e2e = scenario(r, "end-to-end");
    assert_eq!(e2e.len(), 2, "verification on and off: {r}");
    for run in &e2e {
        assert_eq!(run["running"], run["pods"], "every pod Running: {run}");
        assert_eq!(run["createFailed"], 0, "{run}");
    }
    let writes = &scenario(r, "durable-writes")[0];
    for step in writes["steps"].as_array().expect("steps") {
        assert!(step["mockK8"]["ok"].as_u64().unwrap_or(0) > 0, "{step}");
        assert_eq!(step["mockK8"]["failed"], 0, "{step}");
        if writes["etcdVersion"].is_null() {
            assert!(
                writes["note"]
                    .as_str()
                    .unwrap_or("")
                    .contains("etcd-server"),
                "{writes}"
            );
        } else {
            assert!(step["etcd"]["ok"].as_u64().unwrap_or(0) > 0, "{step}");
            assert!(step["ratio"].as_f64().is_some(), "{step}");
        }
    }
    let watch = &scenario(r, "watch-fan-out")[0];
    assert_eq!(
        watch["eventsDelivered"], watch["writes"],
        "one event per write: {watch}"
    );
    let scale = &scenario(r, "scale-and-memory")[0];
    assert!(
        scale["rssWithPodsBytes"].as_u64().unwrap_or(0) > 0,
        "{scale}"
    );
    let list = &scenario(r, "list")[0];
    assert_eq!(list["items"], 200, "{list}");
    let restart = &scenario(r, "restart")[0];
    assert_eq!(restart["pods"], 200, "{restart}");
    assert!(restart["readySeconds"].as_f64().is_some(), "{restart}");
    let latency = &scenario(r, "pod-start-latency")[0];
    let runtimes = latency["runtimes"].as_array().expect("runtimes");
    assert_eq!(runtimes[0]["runtime"], "mock", "{latency}");
    assert!(
        runtimes[0]["boundToRunningP50"].as_f64().unwrap_or(0.0) > 0.0,
        "{latency}"
    );
    // Docker is measured, or skipped with a note saying why.
    assert!(
        runtimes.len() == 2 || latency["dockerSkipped"].is_string(),
        "{latency}"
    );
    harness::save(&report, &json).expect("results written");
    let written: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("read results")).expect("JSON");
    // Floats may differ in the last digit after a round trip: compare the scenarios by name.
    let names = |v: &Value| -> Vec<String> {
        v["scenarios"]
            .as_array()
            .map(|a| a.iter().map(|s| s["scenario"].to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(names(&written), names(r));
    assert_eq!(names(r).len(), 8, "seven scenarios, end to end twice");
}

/// Zero sizes and rates are usage errors, `--help` is plain text, and an unwritable `--json` is
/// caught by the check `bench` makes before it runs anything.
#[test]
fn bench_flags_should_refuse_zero_sizes_and_plain_help() {
    for flag in [
        "--clients",
        "--write-clients",
        "--nodes",
        "--pods",
        "--off-pods",
        "--watchers",
        "--watch-rate",
        "--write-seconds",
        "--watch-seconds",
    ] {
        let err = harness::Options::try_parse_from(["bench", flag, "0"]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{flag}");
        assert!(err.to_string().contains(flag), "{flag}: {err}");
    }
    assert!(harness::Options::try_parse_from(["bench", "--write-clients", "1,0"]).is_err());
    assert!(harness::Options::try_parse_from(["bench", "--clients", "4"]).is_ok());
    let help = harness::Options::try_parse_from(["bench", "--help"])
        .unwrap_err()
        .to_string();
    assert!(!help.contains("[`"), "{help}");
    assert!(harness::check_writable(std::path::Path::new("/nonexistent/dir/x.json")).is_err());
}
