//! Running one phase: `ops` operations on `concurrency` workers, bounded in time, while a sampler
//! reads the server's RSS and CPU time from `/proc/<pid>`; then the figures of the phase.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::http::{BenchResult, Recorder};

/// The figures of one phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseResult {
    pub phase: String,
    /// HTTP requests made (each is one operation).
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    /// Concurrency the phase ran at (cursor paging is sequential by nature).
    pub concurrency: usize,
    /// Peak server RSS seen during the phase, MiB (0 when no pid was given).
    pub server_rss_mib: f64,
    /// Server CPU time (user + system) per operation, milliseconds.
    pub server_cpu_ms_per_op: f64,
    /// CPU of the database's processes per operation (children of `--db-parent-pid`).
    pub db_cpu_ms_per_op: Option<f64>,
    /// The phase stopped at its time limit before doing every operation.
    pub truncated: bool,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Not supported by this server; no figures.
    pub unsupported: bool,
}

impl PhaseResult {
    pub fn unsupported(phase: &str) -> Self {
        Self {
            phase: phase.to_owned(),
            ops: 0,
            seconds: 0.0,
            ops_per_sec: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            errors: 0,
            concurrency: 0,
            server_rss_mib: 0.0,
            server_cpu_ms_per_op: 0.0,
            db_cpu_ms_per_op: None,
            truncated: false,
            first_error: None,
            unsupported: true,
        }
    }
}

/// Where to read the server's resource use.
#[derive(Clone, Copy, Default)]
pub struct Probe {
    pub server_pid: Option<u32>,
    pub db_parent_pid: Option<u32>,
}

/// Clock ticks per second of `/proc/<pid>/stat` times: 100 on every Linux configuration in use
/// (`USER_HZ`), which is what `getconf CLK_TCK` answers.
const TICKS_PER_SEC: f64 = 100.0;

fn read_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 is state, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn read_ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// CPU ticks of every process whose parent is `parent` (PostgreSQL's backends).
fn children_cpu_ticks(parent: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| read_ppid(*pid) == Some(parent))
        .filter_map(read_cpu_ticks)
        .sum()
}

/// Resident set size of `pid` in KiB.
pub fn read_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `op(i)` for i in `0..count` on `concurrency` workers, stopping early at `limit`.
/// Each operation records the latency of the requests it makes into the recorder it is given.
pub async fn run<F, Fut>(
    name: &str,
    count: usize,
    concurrency: usize,
    limit: Duration,
    probe: Probe,
    op: F,
) -> PhaseResult
where
    F: Fn(usize, Arc<Recorder>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let recorder = Arc::new(Recorder::default());
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let truncated = Arc::new(AtomicBool::new(false));
    let op = Arc::new(op);

    let cpu_before = probe.server_pid.and_then(read_cpu_ticks);
    let db_before = probe.db_parent_pid.map(children_cpu_ticks);
    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = probe.server_pid.map(|pid| {
        let done = done.clone();
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            // Bounded: stops when the phase ends (the phase itself is bounded by `limit`).
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = read_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });

    let started = Instant::now();
    let deadline = started + limit;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, errors, first_error, truncated, op, recorder) = (
                next.clone(),
                errors.clone(),
                first_error.clone(),
                truncated.clone(),
                op.clone(),
                recorder.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    if Instant::now() >= deadline {
                        truncated.store(true, Ordering::Relaxed);
                        break;
                    }
                    if let Err(e) = op(i, recorder.clone()).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut first) = first_error.lock() {
                            first.get_or_insert(e.0);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        if w.await.is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    if let Some(kib) = probe.server_pid.and_then(read_rss_kib) {
        peak_rss.fetch_max(kib, Ordering::Relaxed);
    }

    let mut samples = recorder.take();
    samples.sort_unstable();
    let ops = samples.len() as u64;
    let pct = |p: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let idx = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        f64::from(samples[idx]) / 1000.0
    };
    let per_op = |ticks: u64| {
        if ops == 0 {
            0.0
        } else {
            ticks as f64 / TICKS_PER_SEC * 1000.0 / ops as f64
        }
    };
    let cpu = match (cpu_before, probe.server_pid.and_then(read_cpu_ticks)) {
        (Some(a), Some(b)) => per_op(b.saturating_sub(a)),
        _ => 0.0,
    };
    let db_cpu = match (db_before, probe.db_parent_pid) {
        (Some(a), Some(parent)) => Some(per_op(children_cpu_ticks(parent).saturating_sub(a))),
        _ => None,
    };
    let result = PhaseResult {
        phase: name.to_owned(),
        ops,
        seconds,
        ops_per_sec: if seconds > 0.0 {
            ops as f64 / seconds
        } else {
            0.0
        },
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: samples.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        errors: errors.load(Ordering::Relaxed),
        concurrency,
        server_rss_mib: peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        server_cpu_ms_per_op: cpu,
        db_cpu_ms_per_op: db_cpu,
        truncated: truncated.load(Ordering::Relaxed),
        first_error: first_error.lock().ok().and_then(|f| f.clone()),
        unsupported: false,
    };
    eprintln!(
        "  {:<34} {:>8} ops {:>8.1} s {:>9.0} ops/s p50 {:>7.2} ms p99 {:>7.2} ms errors {}{}",
        result.phase,
        result.ops,
        result.seconds,
        result.ops_per_sec,
        result.p50_ms,
        result.p99_ms,
        result.errors,
        result
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {})", e.chars().take(200).collect::<String>()))
            .unwrap_or_default()
    );
    result
}
