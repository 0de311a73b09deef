//! The HTTP side of the load generator: one pooled hyper 1 client (HTTP/1.1 keep-alive, no TLS —
//! the benchmark runs on loopback), a bearer token, and a latency recorder per phase.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// One failed request or verification, as text for the error sample.
#[derive(Debug)]
pub struct BenchError(pub String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type BenchResult<T> = Result<T, BenchError>;

/// Builds a [`BenchError`] from anything printable.
pub fn fail(msg: impl Into<String>) -> BenchError {
    BenchError(msg.into())
}

/// Latencies (µs) of every request of a phase, shared by its workers.
#[derive(Default)]
pub struct Recorder {
    samples: Mutex<Vec<u32>>,
}

impl Recorder {
    pub fn record(&self, elapsed: Duration) {
        let micros = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
        if let Ok(mut s) = self.samples.lock() {
            s.push(micros);
        }
    }

    pub fn take(&self) -> Vec<u32> {
        self.samples
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

/// A SCIM endpoint: base URL (`http://host:port/scim/v2`) and bearer token.
pub struct Scim {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    authorization: String,
    timeout: Duration,
}

/// A response: status and body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (an error if it is not).
    pub fn json(&self) -> BenchResult<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            fail(format!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            ))
        })
    }

    /// Fails unless the status is one of `expected`.
    pub fn expect(self, expected: &[u16]) -> BenchResult<Self> {
        if expected.contains(&self.status.as_u16()) {
            Ok(self)
        } else {
            Err(fail(format!(
                "status {} (expected {expected:?}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )))
        }
    }
}

impl Scim {
    pub fn new(base: &str, token: &str, pool: usize, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
            timeout,
        }
    }

    /// Sends one request, records its latency, and reads the whole body.
    pub async fn send(
        &self,
        rec: &Recorder,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> BenchResult<Reply> {
        let uri = format!("{}{}", self.base, path);
        let mut builder = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::ACCEPT, "application/scim+json");
        let payload = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
                Bytes::from(serde_json::to_vec(v).map_err(|e| fail(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(payload))
            .map_err(|e| fail(format!("bad request {uri}: {e}")))?;
        let started = Instant::now();
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(format!("{uri}: {e}")))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(format!("{uri}: reading body: {e}")))?
                .to_bytes();
            Ok::<_, BenchError>(Reply { status, body })
        };
        let reply = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| fail(format!("{uri}: no answer within {:?}", self.timeout)))?;
        rec.record(started.elapsed());
        reply
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_filters() {
        assert_eq!(
            super::encode(r#"userName eq "a@b.c""#),
            "userName%20eq%20%22a%40b.c%22"
        );
    }
}
