//! Percentiles, and the machine description every report starts with (cores, CPU model, the
//! disk's fsync latency as measured here).

use super::Res;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Percentiles of a sample, in the sample's unit (seconds throughout the harness).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarizes `values` (nearest-rank percentiles; all NaN when empty).
    pub fn of(mut values: Vec<f64>) -> Summary {
        values.sort_by(f64::total_cmp);
        Summary {
            count: values.len(),
            p50: percentile(&values, 50.0),
            p99: percentile(&values, 99.0),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of ascending `sorted`; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

/// fsync latency of the disk holding `dir`: `n` times, append 4 KiB to a file and `fdatasync` it.
/// Returns the latencies' summary in seconds.
///
/// # Errors
/// I/O errors creating or syncing the probe file.
pub fn fsync_latency(dir: &Path, n: usize) -> Res<Summary> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_secs_f64());
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(Summary::of(lat))
}

/// The machine: cores, CPU model, kernel, memory, and the fsync latency of `dir`'s disk.
pub fn machine(dir: &Path, fsyncs: usize) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let fsync = fsync_latency(dir, fsyncs).ok();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpuModel": model,
        "kernel": kernel,
        "memoryGiB": (mem_kib as f64 / 1048576.0 * 10.0).round() / 10.0,
        "fsyncP50Ms": fsync.map(|s| s.p50 * 1e3),
        "fsyncP99Ms": fsync.map(|s| s.p99 * 1e3),
        "fsyncSamples": fsyncs,
    })
}
