//! Prometheus metrics at `/metrics`: requests by route, method and status, latency histograms by
//! route and method, and the database pool. Kept in this process (each scimd process is one
//! Prometheus target).

use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Duration};

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

/// The metrics of this process.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
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
        for (i, bound) in BOUNDS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
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
        out
    }
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
    }
}
