//! Prometheus metrics at `/metrics`: requests by route, method and status, latency histograms by
//! route and method, the database pool, and the expiry scheduler's warnings (queued, sent,
//! retried, given up, undeliverable) and purges. Kept in this process (each scimd process is one
//! Prometheus target).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

/// Upper bounds of the latency buckets, in seconds.
const BOUNDS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BOUNDS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// Counters of the expiry scheduler, in the order they are rendered.
const EXPIRY_COUNTERS: [(&str, &str); 6] = [
    (
        "scimd_expiry_warnings_queued_total",
        "Expiry warnings queued by this process's sweeps.",
    ),
    (
        "scimd_expiry_warnings_undeliverable_total",
        "Expiry warnings for tenants without an admin e-mail.",
    ),
    (
        "scimd_expiry_warnings_sent_total",
        "Expiry warnings accepted by the SMTP server.",
    ),
    (
        "scimd_expiry_warnings_retried_total",
        "Failed expiry warning deliveries that will be retried.",
    ),
    (
        "scimd_expiry_warnings_failed_total",
        "Expiry warnings given up after the last try.",
    ),
    (
        "scimd_api_keys_purged_total",
        "Keys deleted 90 days after their expiry.",
    ),
];

/// The metrics of this process.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    expiry: [AtomicU64; EXPIRY_COUNTERS.len()],
    panics: AtomicU64,
    timeouts: AtomicU64,
}

impl Metrics {
    /// Records one answered request. `route` is the matched pattern (`/scim/v2/Users/{id}`), never
    /// the raw path, so ids do not multiply the series.
    pub fn record(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let mut inner = match self.inner.lock() {
            Ok(i) => i,
            Err(poisoned) => poisoned.into_inner(),
        };
        *inner
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let h = inner
            .latency
            .entry((route.to_owned(), method.to_owned()))
            .or_default();
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in h.buckets.iter_mut().zip(BOUNDS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts a request given up at its deadline (answered 503).
    pub fn record_timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request whose handler panicked (answered 500).
    pub fn record_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what one expiry sweep did.
    pub fn record_sweep(&self, report: &scim_expiry::SweepReport) {
        self.expiry[0].fetch_add(report.warnings_queued, Ordering::Relaxed);
        self.expiry[1].fetch_add(report.undeliverable, Ordering::Relaxed);
        self.expiry[5].fetch_add(report.purged, Ordering::Relaxed);
    }

    /// Counts what one delivery pass did.
    pub fn record_delivery(&self, report: &scim_expiry::DeliveryReport) {
        self.expiry[2].fetch_add(report.sent, Ordering::Relaxed);
        self.expiry[3].fetch_add(report.retried, Ordering::Relaxed);
        self.expiry[4].fetch_add(report.gave_up, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4), with the pool's `(size, idle)`.
    pub fn render(&self, pool: Option<(u32, u32)>) -> String {
        let inner = match self.inner.lock() {
            Ok(i) => i,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out = String::new();
        out.push_str(
            "# HELP scimd_http_requests_total Requests answered, by route, method and status.\n",
        );
        out.push_str("# TYPE scimd_http_requests_total counter\n");
        for ((route, method, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "scimd_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP scimd_http_request_duration_seconds Time to answer, by route and method.\n",
        );
        out.push_str("# TYPE scimd_http_request_duration_seconds histogram\n");
        for ((route, method), h) in &inner.latency {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            for (bound, n) in BOUNDS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "scimd_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scimd_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        if let Some((size, idle)) = pool {
            out.push_str(
                "# HELP scimd_db_pool_connections Database connections open in the pool.\n",
            );
            out.push_str("# TYPE scimd_db_pool_connections gauge\n");
            let _ = writeln!(out, "scimd_db_pool_connections {size}");
            out.push_str("# HELP scimd_db_pool_idle_connections Open connections not in use.\n");
            out.push_str("# TYPE scimd_db_pool_idle_connections gauge\n");
            let _ = writeln!(out, "scimd_db_pool_idle_connections {idle}");
        }
        out.push_str(
            "# HELP scimd_panics_total Requests whose handler panicked (answered 500).\n\
             # TYPE scimd_panics_total counter\n",
        );
        let _ = writeln!(
            out,
            "scimd_panics_total {}",
            self.panics.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP scimd_request_timeouts_total Requests given up at SCIMD_REQUEST_TIMEOUT_SECS \
             before any write began (answered 503).\n\
             # TYPE scimd_request_timeouts_total counter\n",
        );
        let _ = writeln!(
            out,
            "scimd_request_timeouts_total {}",
            self.timeouts.load(Ordering::Relaxed)
        );
        for ((name, help), n) in EXPIRY_COUNTERS.iter().zip(&self.expiry) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", n.load(Ordering::Relaxed));
        }
        out
    }
}

/// The `process_*` metrics Prometheus client libraries expose, from Linux's `/proc/self`
/// (nothing elsewhere): resident and virtual memory, CPU seconds, open file descriptors,
/// start time.
pub fn render_process() -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let Some(rss) = kb("VmRSS:") {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                rss * 1024.0,
            );
        }
        if let Some(vm) = kb("VmSize:") {
            gauge(
                &mut out,
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                vm * 1024.0,
            );
        }
    }
    // utime and stime (fields 14 and 15) and starttime (22) are in clock ticks of USER_HZ,
    // which Linux fixes at 100 for user space.
    const TICKS: f64 = 100.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The command name (field 2) may hold spaces: count from the closing parenthesis.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            gauge(
                &mut out,
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (utime + stime) / TICKS,
            );
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(start), Some(boot)) = (field(22), boot) {
            gauge(
                &mut out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                boot + start / TICKS,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let n = fds.count();
        gauge(
            &mut out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            n as f64,
        );
    }
    out
}

/// `scimd_api_keys_expiring{tenant, within}`: usable keys expiring within 30, 7 and 1 day(s),
/// cumulative (a key within 1 day counts in all three), from the expiry times of each tenant's
/// keys due within 30 days.
pub fn render_expiring(
    expiring: &[(scim_store::TenantId, Vec<chrono::DateTime<chrono::Utc>>)],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut out = String::from(
        "# HELP scimd_api_keys_expiring Usable API keys expiring within 30, 7 and 1 day(s), by tenant (cumulative).\n\
         # TYPE scimd_api_keys_expiring gauge\n",
    );
    for (tenant, times) in expiring {
        for (within, days) in [("30d", 30), ("7d", 7), ("1d", 1)] {
            let limit = now + chrono::Duration::days(days);
            let n = times.iter().filter(|t| **t <= limit).count();
            let _ = writeln!(
                out,
                "scimd_api_keys_expiring{{tenant=\"{}\",within=\"{within}\"}} {n}",
                escape(tenant.as_str())
            );
        }
    }
    out
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn process_metrics_come_from_proc() {
        let text = render_process();
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            let value: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .parse()
                .unwrap();
            // A test process may not have used a whole clock tick of CPU yet.
            let least = if name == "process_cpu_seconds_total" {
                0.0
            } else {
                f64::MIN_POSITIVE
            };
            assert!(value >= least, "{name} = {value}");
        }
    }

    #[test]
    fn renders_counters_histograms_and_pool() {
        let m = Metrics::default();
        m.record("/scim/v2/Users/{id}", "GET", 200, Duration::from_millis(3));
        m.record("/scim/v2/Users/{id}", "GET", 200, Duration::from_millis(30));
        m.record("/scim/v2/Users", "POST", 429, Duration::from_millis(1));
        let text = m.render(Some((4, 3)));
        assert!(text.contains("scimd_http_requests_total{route=\"/scim/v2/Users/{id}\",method=\"GET\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("status=\"429\"} 1"));
        assert!(text.contains("scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users/{id}\",method=\"GET\",le=\"0.005\"} 1"));
        assert!(text.contains("scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users/{id}\",method=\"GET\",le=\"0.05\"} 2"));
        assert!(text.contains("scimd_http_request_duration_seconds_count{route=\"/scim/v2/Users/{id}\",method=\"GET\"} 2"));
        assert!(text.contains("scimd_db_pool_connections 4"));
        m.record_delivery(&scim_expiry::DeliveryReport {
            sent: 2,
            retried: 1,
            gave_up: 1,
        });
        let text = m.render(None);
        assert!(
            text.contains("scimd_expiry_warnings_sent_total 2"),
            "{text}"
        );
        assert!(
            text.contains("scimd_expiry_warnings_failed_total 1"),
            "{text}"
        );
        assert!(
            text.contains("scimd_expiry_warnings_queued_total 0"),
            "{text}"
        );
    }
}
