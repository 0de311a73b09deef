//! Prometheus metrics at `/metrics`: requests by route, method and status, latency histograms by
//! route and method, the database pool, the expiry scheduler's warnings (queued, sent, retried,
//! given up, undeliverable) and purges, keys about to expire, and the `process_*` metrics. Kept
//! in this process (each scimd process is one Prometheus target).
//!
//! Instrumented with `prometheus-client` (the Prometheus project's Rust client) and exposed in
//! the Prometheus text format 0.0.4 under the names scimd always had: counters are registered
//! without their `_total`, which the encoder appends.

use std::time::Duration;

use prometheus_client::{
    encoding::{prometheus_text::encode, EncodeLabel, EncodeLabelSet, LabelSetEncoder},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
    },
    registry::Registry,
};

/// Upper bounds of the latency buckets, in seconds.
const BOUNDS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Labels of a series, in order (`route`, `method`, ...).
/// The labels of a latency series: route pattern and method. A struct, not a list of owned
/// strings: recording a request allocates no label and hashes only what differs.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// The labels of a request counter: route, method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RequestLabels {
    of: RouteLabels,
    status: u16,
}

impl EncodeLabelSet for RouteLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        ("route", self.route.as_str()).encode(encoder.encode_label())?;
        ("method", self.method).encode(encoder.encode_label())
    }
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.of.encode(encoder)?;
        ("status", self.status).encode(encoder.encode_label())
    }
}

/// The method's name as a static string (the label set keeps no copy of it).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(BOUNDS)
}

/// The expiry scheduler's counters (names without `_total`), in the order they are registered.
const EXPIRY_COUNTERS: [(&str, &str); 6] = [
    (
        "scimd_expiry_warnings_queued",
        "Expiry warnings queued by this process's sweeps",
    ),
    (
        "scimd_expiry_warnings_undeliverable",
        "Expiry warnings for tenants without an admin e-mail",
    ),
    (
        "scimd_expiry_warnings_sent",
        "Expiry warnings accepted by the SMTP server",
    ),
    (
        "scimd_expiry_warnings_retried",
        "Failed expiry warning deliveries that will be retried",
    ),
    (
        "scimd_expiry_warnings_failed",
        "Expiry warnings given up after the last try",
    ),
    (
        "scimd_api_keys_purged",
        "Keys deleted 90 days after their expiry",
    ),
];

/// The metrics of this process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    expiry: [Counter; EXPIRY_COUNTERS.len()],
    panics: Counter,
    timeouts: Counter,
    webhook_delivered: Counter,
    webhook_failed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "scimd_http_requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "scimd_http_request_duration_seconds",
            "Time to answer, by route and method",
            latency.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "scimd_panics",
            "Requests whose handler panicked (answered 500)",
            panics.clone(),
        );
        let timeouts = Counter::default();
        registry.register(
            "scimd_request_timeouts",
            "Requests given up at SCIMD_REQUEST_TIMEOUT_SECS before any write began (answered 503)",
            timeouts.clone(),
        );
        let webhook_delivered = Counter::default();
        registry.register(
            "scimd_webhook_deliveries",
            "Provisioning events acknowledged by a webhook endpoint (this process's deliveries)",
            webhook_delivered.clone(),
        );
        let webhook_failed = Counter::default();
        registry.register(
            "scimd_webhook_failed_attempts",
            "Webhook delivery attempts that failed and will be retried",
            webhook_failed.clone(),
        );
        let expiry: [Counter; EXPIRY_COUNTERS.len()] = Default::default();
        for ((name, help), counter) in EXPIRY_COUNTERS.iter().zip(&expiry) {
            registry.register(*name, *help, counter.clone());
        }
        Self {
            registry,
            requests,
            latency,
            expiry,
            panics,
            timeouts,
            webhook_delivered,
            webhook_failed,
        }
    }
}

impl Metrics {
    /// Records one answered request. `route` is the matched pattern (`/scim/v2/Users/{id}`), never
    /// the raw path, so ids do not multiply the series.
    pub fn record(&self, route: String, method: &str, status: u16, elapsed: Duration) {
        let of = RouteLabels {
            route,
            method: method_label(method),
        };
        self.latency
            .get_or_create(&of)
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels { of, status })
            .inc();
    }

    pub fn record_timeout(&self) {
        self.timeouts.inc();
    }

    /// Counts a request whose handler panicked (answered 500).
    pub fn record_panic(&self) {
        self.panics.inc();
    }

    /// Counts what one expiry sweep did.
    pub fn record_sweep(&self, report: &scim_expiry::SweepReport) {
        self.expiry[0].inc_by(report.warnings_queued);
        self.expiry[1].inc_by(report.undeliverable);
        self.expiry[5].inc_by(report.purged);
    }

    /// Counts what one webhook delivery pass did.
    pub fn record_webhook_pass(&self, report: &scim_webhooks::PassReport) {
        self.webhook_delivered.inc_by(report.delivered);
        self.webhook_failed.inc_by(report.failed);
    }

    /// Counts what one delivery pass did.
    pub fn record_delivery(&self, report: &scim_expiry::DeliveryReport) {
        self.expiry[2].inc_by(report.sent);
        self.expiry[3].inc_by(report.retried);
        self.expiry[4].inc_by(report.gave_up);
    }

    /// The Prometheus text exposition (version 0.0.4), with the pool's `(size, idle)`.
    pub fn render(&self, pool: Option<(u32, u32)>) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics: encoding failed");
        }
        if let Some((size, idle)) = pool {
            let mut scrape = Registry::default();
            scrape.register(
                "scimd_db_pool_connections",
                "Database connections open in the pool",
                ConstGauge::new(i64::from(size)),
            );
            scrape.register(
                "scimd_db_pool_idle_connections",
                "Open connections not in use",
                ConstGauge::new(i64::from(idle)),
            );
            append(&mut out, &scrape);
        }
        out
    }
}

/// Appends the exposition of `registry` to `out`.
fn append(out: &mut String, registry: &Registry) {
    if encode(out, registry).is_err() {
        tracing::error!("metrics: encoding failed");
    }
}

/// The `process_*` metrics Prometheus client libraries expose, from Linux's `/proc/self`
/// (nothing elsewhere): resident and virtual memory, CPU seconds, open file descriptors,
/// start time. Read at each scrape.
pub fn render_process() -> String {
    let mut scrape = Registry::default();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let Some(rss) = kb("VmRSS:") {
            scrape.register(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                ConstGauge::new(rss * 1024.0),
            );
        }
        if let Some(vm) = kb("VmSize:") {
            scrape.register(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                ConstGauge::new(vm * 1024.0),
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
            scrape.register(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                ConstCounter::new((utime + stime) / TICKS),
            );
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(start), Some(boot)) = (field(22), boot) {
            scrape.register(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                ConstGauge::new(boot + start / TICKS),
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let n = i64::try_from(fds.count()).unwrap_or(i64::MAX);
        scrape.register(
            "process_open_fds",
            "Number of open file descriptors",
            ConstGauge::new(n),
        );
    }
    let mut out = String::new();
    append(&mut out, &scrape);
    out
}

/// `scimd_api_keys_expiring{tenant, within}`: usable keys expiring within 30, 7 and 1 day(s),
/// cumulative (a key within 1 day counts in all three), from the expiry times of each tenant's
/// keys due within 30 days.
pub fn render_expiring(
    expiring: &[(scim_store::TenantId, Vec<chrono::DateTime<chrono::Utc>>)],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let family = Family::<Vec<(&'static str, String)>, Gauge>::default();
    for (tenant, times) in expiring {
        for (within, days) in [("30d", 30), ("7d", 7), ("1d", 1)] {
            let limit = now + chrono::Duration::days(days);
            let n = times.iter().filter(|t| **t <= limit).count();
            family
                .get_or_create(&vec![
                    ("tenant", tenant.as_str().to_owned()),
                    ("within", within.to_owned()),
                ])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    let mut scrape = Registry::default();
    scrape.register(
        "scimd_api_keys_expiring",
        "Usable API keys expiring within 30, 7 and 1 day(s), by tenant (cumulative)",
        family,
    );
    let mut out = String::new();
    append(&mut out, &scrape);
    out
}

/// The event delivery gauges of a scrape (read from the database, the same on every
/// process): events captured, the age of the oldest event a destination has not had, and the
/// failing destinations, by tenant.
pub fn render_backlogs(
    backlogs: &[scim_store::DeliveryBacklog],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let captured = Family::<Vec<(&'static str, String)>, Gauge>::default();
    let age = Family::<Vec<(&'static str, String)>, Gauge>::default();
    let failing = Family::<Vec<(&'static str, String)>, Gauge>::default();
    for b in backlogs {
        let label = vec![("tenant", b.tenant.as_str().to_owned())];
        captured.get_or_create(&label).set(b.top_sequence);
        age.get_or_create(&label).set(
            b.oldest_undelivered
                .map_or(0, |t| (now - t).num_seconds().max(0)),
        );
        failing
            .get_or_create(&label)
            .set(i64::try_from(b.failing).unwrap_or(i64::MAX));
    }
    let mut scrape = Registry::default();
    scrape.register(
        "scimd_events_sequence",
        "The last event sequence given: provisioning events captured, by tenant with a delivery destination",
        captured,
    );
    scrape.register(
        "scimd_events_oldest_undelivered_seconds",
        "Age of the oldest event an enabled webhook endpoint or event stream has not had yet (0: none waits), by tenant",
        age,
    );
    scrape.register(
        "scimd_event_destinations_failing",
        "Enabled webhook endpoints and event streams whose deliveries are failing, by tenant",
        failing,
    );
    let mut out = String::new();
    append(&mut out, &scrape);
    out
}

/// The activity recorder's counters (issue 21): records written, dropped because the queue was
/// full, and lost to the database.
pub fn render_activity(counters: &scim_service::activity::ActivityCounters) -> String {
    use std::sync::atomic::Ordering;
    let mut scrape = Registry::default();
    scrape.register(
        "scimd_activity_records_written",
        "Provisioning activity records written",
        ConstCounter::new(counters.written.load(Ordering::Relaxed)),
    );
    scrape.register(
        "scimd_activity_records_dropped",
        "Provisioning activity records dropped because the recorder's queue was full",
        ConstCounter::new(counters.dropped.load(Ordering::Relaxed)),
    );
    scrape.register(
        "scimd_activity_records_failed",
        "Provisioning activity records the database refused or could not take",
        ConstCounter::new(counters.failed.load(Ordering::Relaxed)),
    );
    let mut out = String::new();
    append(&mut out, &scrape);
    out
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
        m.record(
            "/scim/v2/Users/{id}".into(),
            "GET",
            200,
            Duration::from_millis(3),
        );
        m.record(
            "/scim/v2/Users/{id}".into(),
            "GET",
            200,
            Duration::from_millis(30),
        );
        m.record(
            "/scim/v2/Users".into(),
            "POST",
            429,
            Duration::from_millis(1),
        );
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
