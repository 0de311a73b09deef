//! The process mode of the harness: with `SCIMD_TEST_PROCESSES=N` every black-box test runs
//! against N real `scimd serve` processes on the test's database, and each request goes to the
//! next process in turn (round-robin, no sticky routing), as behind a plain load balancer.
//!
//! The processes get the variables the in-process app is configured with, plus
//! `SCIMD_LISTEN` on a free port, `SCIMD_BOOTSTRAP=false`, one worker each and the expiry
//! scheduler off (the in-process app has none either) unless the test sets them. They are killed
//! when the `TestApp` holding them drops. Requests are sent over HTTP/1.1, one connection each;
//! a request with a faked client address (`TestRequest::peer_addr`) is sent from a loopback
//! address derived from it, so that the server sees distinct clients.

use std::{
    collections::HashMap,
    io::Write,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use actix_http::Request;
use actix_web::{
    http::{
        header::{HeaderMap, HeaderName, HeaderValue},
        StatusCode,
    },
    web::Bytes,
};
use futures_util::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

/// How long one request may take before the harness gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How many processes each test runs against (`SCIMD_TEST_PROCESSES`); 0 means in-process.
pub fn configured() -> usize {
    match std::env::var("SCIMD_TEST_PROCESSES") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("SCIMD_TEST_PROCESSES={v} is not a number")),
        _ => 0,
    }
}

/// Tests that cannot run against several processes, with the reason. In process mode they are
/// skipped with a line on the terminal (never silently passed); everything else runs.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "patch::a_user_patch_is_one_transaction_with_nothing_read_after_it",
        "it counts the statements the request's own task sends, which needs the app in-process",
    ),
    (
        "round_trips::each_single_resource_request_sends_the_statements_it_needs",
        "it counts the statements the request's own task sends, which needs the app in-process",
    ),
];

/// The reason the current test is excluded in process mode, if it is (libtest names each test's
/// thread after the test).
pub fn excluded() -> Option<&'static str> {
    let thread = std::thread::current();
    let name = thread.name()?;
    EXCLUDED
        .iter()
        .find(|(test, _)| *test == name)
        .map(|(_, why)| *why)
}

/// Says, past libtest's output capture, that a test was skipped in process mode and why.
pub fn report_skip(reason: &str) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("?");
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED in process mode (SCIMD_TEST_PROCESSES): {name}: {reason}"
    );
}

struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// N `scimd serve` processes on one database.
pub struct Processes {
    procs: Vec<Proc>,
    next: AtomicUsize,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
            let _ = std::fs::remove_file(&p.log);
        }
    }
}

/// The port a process reports in its "scimd listening" line, once it has bound one.
///
/// Processes listen on port 0 and the system picks a free port as it binds: a port chosen
/// beforehand by the harness could be taken (by any outgoing connection) before the process
/// binds it, which failed a CI run once with "Address already in use".
fn bound_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("scimd listening"))?;
    let addr = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("listen="))?;
    addr.rsplit(':').next()?.parse().ok()
}

impl Processes {
    /// Starts `n` processes with `vars` (which name the database) and waits until each answers.
    pub async fn start(n: usize, vars: &HashMap<String, String>) -> Self {
        let mut procs = Vec::with_capacity(n);
        for _ in 0..n {
            let log = std::env::temp_dir()
                .join(format!("scimd-test-{}.log", uuid::Uuid::new_v4().simple()));
            let mut cmd = Command::new(BIN);
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("SCIMD_WORKERS", "1")
                .env("SCIMD_EXPIRY_INTERVAL", "0")
                .envs(vars)
                .env("SCIMD_LISTEN", "127.0.0.1:0")
                .env("SCIMD_BOOTSTRAP", "false")
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"));
            let child = cmd.spawn().expect("start scimd serve");
            procs.push(Proc {
                child,
                port: 0,
                log,
            });
        }
        let mut started = Self {
            procs,
            next: AtomicUsize::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        for p in &mut started.procs {
            loop {
                if let Ok(Some(status)) = p.child.try_wait() {
                    panic!(
                        "scimd serve on port {} exited ({status}): {}",
                        p.port,
                        std::fs::read_to_string(&p.log).unwrap_or_default()
                    );
                }
                if p.port == 0 {
                    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                    match bound_port(&log) {
                        Some(port) => p.port = port,
                        None => {
                            assert!(
                                Instant::now() < deadline,
                                "scimd did not report its port: {log}"
                            );
                            tokio::time::sleep(Duration::from_millis(25)).await;
                            continue;
                        }
                    }
                }
                let probe =
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                if let Ok(raw) = exchange(p.port, None, probe.to_vec()).await {
                    if raw.starts_with(b"HTTP/1.1 200") {
                        break;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "scimd on port {} did not start: {}",
                    p.port,
                    std::fs::read_to_string(&p.log).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        started
    }

    /// Kills process `i` with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(p) = self.procs.get_mut(i) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    /// How many processes serve.
    pub fn count(&self) -> usize {
        self.procs.len()
    }

    /// Sends a request to the next process in turn.
    pub async fn send(&self, req: Request) -> (StatusCode, HeaderMap, Bytes) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.procs.len();
        self.send_to(i, req).await
    }

    /// Sends a copy of the request to every process, in order.
    pub async fn send_each(&self, mut req: Request) -> Vec<(StatusCode, HeaderMap, Bytes)> {
        let (head, body) = encode_parts(&mut req).await;
        let peer = req.peer_addr();
        let mut out = Vec::new();
        for i in 0..self.procs.len() {
            out.push(self.exchange_parsed(i, peer, &head, &body).await);
        }
        out
    }

    /// What the processes have logged so far (their standard error).
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| std::fs::read_to_string(&p.log).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn send_to(&self, i: usize, mut req: Request) -> (StatusCode, HeaderMap, Bytes) {
        let (head, body) = encode_parts(&mut req).await;
        self.exchange_parsed(i, req.peer_addr(), &head, &body).await
    }

    async fn exchange_parsed(
        &self,
        i: usize,
        peer: Option<SocketAddr>,
        head: &[u8],
        body: &[u8],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let p = &self.procs[i];
        let mut raw = head.to_vec();
        raw.extend_from_slice(format!("Host: 127.0.0.1:{}\r\n\r\n", p.port).as_bytes());
        raw.extend_from_slice(body);
        let source = peer.map(|a| loopback_for(a.ip()));
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, exchange(p.port, source, raw))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "process {i} (port {}) did not answer within {REQUEST_TIMEOUT:?}; its log:\n{}",
                    p.port,
                    std::fs::read_to_string(&p.log).unwrap_or_default()
                )
            })
            .unwrap_or_else(|e| panic!("process {i} (port {}): {e}", p.port));
        parse(&answer).unwrap_or_else(|| {
            panic!(
                "process {i} (port {}): not an HTTP response: {}; its log:\n{}",
                p.port,
                String::from_utf8_lossy(&answer),
                std::fs::read_to_string(&p.log).unwrap_or_default()
            )
        })
    }
}

/// The request line and headers (without `Host` and the final blank line) and the body.
async fn encode_parts(req: &mut Request) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk.expect("request body"));
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nConnection: close\r\n",
        req.method()
    )
    .into_bytes();
    let mut has_length = false;
    for (name, value) in req.head().headers().iter() {
        if name == "host" || name == "connection" {
            continue;
        }
        has_length |= name == "content-length";
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if !has_length && !body.is_empty() {
        head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    (head, body)
}

/// The loopback address a faked client address is sent from: 127 and the address's last three
/// bytes (IPv4), or the last three bytes of an IPv6 address. Distinct test addresses stay
/// distinct as long as they differ there, which the tests' documentation addresses do.
fn loopback_for(ip: IpAddr) -> IpAddr {
    let o = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let n = o.len();
    match (o[n - 3], o[n - 2], o[n - 1]) {
        // 127.0.0.0 is not a host address.
        (0, 0, 0) => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        (a, b, c) => IpAddr::V4(Ipv4Addr::new(127, a, b, c)),
    }
}

/// One HTTP exchange on a fresh connection: writes `request` while reading the answer to the
/// end (a server that answers early, e.g. 413 to a body it will not read, is still heard).
async fn exchange(port: u16, source: Option<IpAddr>, request: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = match source {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let write = async move {
        // The server may close before reading everything; its answer is what matters.
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    };
    let read = async move {
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A reset after the answer (unread request bytes) ends the exchange.
                Err(_) if !raw.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(raw)
    };
    let (_writer, raw) = tokio::join!(write, read);
    raw
}

/// Status, headers and (de-chunked) body of a raw HTTP/1.1 response.
fn parse(raw: &[u8]) -> Option<(StatusCode, HeaderMap, Bytes)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let rest = &raw[split + 4..];
    let mut lines = raw[..split].split(|b| *b == b'\n').map(|l| l.trim_ascii());
    let status_line = std::str::from_utf8(lines.next()?).ok()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let colon = line.iter().position(|b| *b == b':')?;
        headers.append(
            HeaderName::from_bytes(line[..colon].trim_ascii()).ok()?,
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?,
        );
    }
    let chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        // A HEAD answer announces a length it does not send.
        rest.get(..len).unwrap_or(rest).to_vec()
    } else {
        rest.to_vec()
    };
    Some((
        StatusCode::from_u16(status).ok()?,
        headers,
        Bytes::from(body),
    ))
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
