//! Results files (JSON) and the Markdown tables made from them.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::phase::PhaseResult;

/// One run of the generator against one server.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub label: String,
    pub users: usize,
    pub members: usize,
    pub concurrency: usize,
    pub phases: Vec<PhaseResult>,
}

fn num(v: f64) -> String {
    // Thousands separators for whole numbers, as the rest of docs/PERFORMANCE.md writes them.
    let whole = v.round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if whole < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The Markdown table of one run.
pub fn table(run: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| phase | ops | s | ops/s | p50 ms | p99 ms | max ms | errors | server RSS MiB | server CPU ms/op | db CPU ms/op |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for p in &run.phases {
        if p.unsupported {
            let _ = writeln!(
                s,
                "| {} | not supported by this server | | | | | | | | | |",
                p.phase
            );
            continue;
        }
        let db = p
            .db_cpu_ms_per_op
            .map_or("—".to_owned(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "| {}{} | {} | {:.1} | {} | {:.2} | {:.2} | {:.1} | {} | {:.0} | {:.3} | {} |",
            p.phase,
            if p.truncated { " (time limit)" } else { "" },
            num(p.ops as f64),
            p.seconds,
            num(p.ops_per_sec),
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.errors,
            p.server_rss_mib,
            p.server_cpu_ms_per_op,
            db
        );
    }
    for p in run.phases.iter().filter(|p| p.errors > 0) {
        let _ = writeln!(
            s,
            "\nFirst error of `{}`: `{}`",
            p.phase,
            p.first_error
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(240)
                .collect::<String>()
                .replace('`', "'")
        );
    }
    s
}

/// Side-by-side table: ops/s and p99 of `ours` and of the peer, and their ratio, per phase.
/// With several peer runs (e.g. at different concurrencies) each phase takes the peer's best.
pub fn compare(ours: &RunResult, peers: &[RunResult], ceiling: Option<&RunResult>) -> String {
    let mut s = String::new();
    let b = peers.first().map_or("peer", |p| p.label.as_str());
    let _ = writeln!(
        s,
        "| phase | {a} ops/s (C) | {b} ops/s (C) | ratio {a} / {b} | {a} p99 ms | {b} p99 ms | {b} errors |",
        a = ours.label,
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for p in &ours.phases {
        let other = peers
            .iter()
            .filter_map(|r| {
                r.phases
                    .iter()
                    .find(|q| q.phase == p.phase && !q.unsupported)
            })
            .max_by(|x, y| x.ops_per_sec.total_cmp(&y.ops_per_sec));
        match other {
            Some(q) if q.ops_per_sec > 0.0 => {
                let _ = writeln!(
                    s,
                    "| {} | {} ({}) | {} ({}){} | {:.1}× | {:.2} | {:.2} | {} |",
                    p.phase,
                    num(p.ops_per_sec),
                    p.concurrency,
                    num(q.ops_per_sec),
                    q.concurrency,
                    if q.truncated { ", time limit" } else { "" },
                    p.ops_per_sec / q.ops_per_sec,
                    p.p99_ms,
                    q.p99_ms,
                    q.errors
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "| {} | {} | not supported | — | {:.2} | — | — |",
                    p.phase,
                    num(p.ops_per_sec),
                    p.p99_ms
                );
            }
        }
    }
    if let Some(c) = ceiling.and_then(|c| c.phases.first()) {
        let _ = writeln!(
            s,
            "| generator ceiling (static responder, GET) | {} ({}) | | | {:.2} | | |",
            num(c.ops_per_sec),
            c.concurrency,
            c.p99_ms
        );
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::num(1234567.4), "1,234,567");
        assert_eq!(super::num(12.0), "12");
        assert_eq!(super::num(999.6), "1,000");
    }
}
