//! PostgreSQL restarted under load: requests during the outage get `503` with `Retry-After`
//! within the configured timeout (never a hang, never a `500`), the service recovers without a
//! restart, and every write acknowledged before the outage is still there after it.
//!
//! The test makes its own throwaway cluster with `initdb` and `pg_ctl` on a free port (never the
//! machine's shared server) and stops and starts it itself.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::http::{http, request};

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

fn pg_bin(tool: &str) -> PathBuf {
    let dirs = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are needed for this test");
    let mut found: Vec<PathBuf> = dirs
        .filter_map(Result::ok)
        .map(|d| d.path().join("bin").join(tool))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("{tool} not found under /usr/lib/postgresql"))
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (PostgreSQL refuses root).
fn as_postgres(tool: &str, args: &[&str]) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut cmd = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_bin(tool));
        c
    } else {
        Command::new(pg_bin(tool))
    };
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn create() -> Self {
        let dir = std::env::temp_dir().join(format!("scimd-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status()
            .ok();
        let data = dir.join("data");
        let status = as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        )
        .status()
        .unwrap();
        assert!(status.success(), "initdb failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Self { dir, port };
        c.start();
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let status = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        )
        .status()
        .unwrap();
        assert!(status.success(), "pg_ctl start failed");
    }

    fn stop(&self) {
        let status = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
        .status()
        .unwrap();
        assert!(status.success(), "pg_ctl stop failed");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap_or(""),
                "-m",
                "immediate",
                "stop",
            ],
        )
        .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_scimd(url: &str, dir: &Path) -> (Server, u16, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.join("scimd.out");
    let child = Command::new(BIN)
        .env_clear()
        .env("SCIMD_DATABASE_URL", url)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_DB_TIMEOUT_SECS", "2")
        .env("SCIMD_LOG", "error")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(key) = text
            .split_whitespace()
            .find(|w| w.starts_with("scimd_scim_"))
        {
            if http(port, "GET", "/healthz", None, None).is_some() {
                return (server, port, key.to_owned());
            }
        }
        assert!(Instant::now() < deadline, "scimd did not start: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_user(port: u16, key: &str, name: &str) -> Option<(u16, String)> {
    let body = format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}"}}"#
    );
    http(port, "POST", "/scim/v2/Users", Some(key), Some(&body))
}

#[test]
fn postgres_restart_under_load_loses_no_acknowledged_write() {
    let cluster = Cluster::create();
    let (_server, port, key) = start_scimd(&cluster.url(), &cluster.dir);

    // Writes acknowledged before the outage.
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, body) = create_user(port, &key, &format!("before{i}")).unwrap();
        assert_eq!(status, 201, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        acknowledged.push(id);
    }

    cluster.stop();
    // During the outage: 503 with Retry-After, within the timeout, never a 500.
    let mut outage_statuses = Vec::new();
    for i in 0..6 {
        let started = Instant::now();
        let path = if i % 2 == 0 {
            "/scim/v2/Users?count=1".to_owned()
        } else {
            format!("/scim/v2/Users/{}", acknowledged[0])
        };
        let r = if i % 3 == 2 {
            let body = format!(r#"{{"userName":"during{i}"}}"#);
            request(port, "POST", "/scim/v2/Users", Some(&key), Some(&body))
        } else {
            request(port, "GET", &path, Some(&key), None)
        }
        .expect("scimd answers during the outage");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "request hung for {:?}",
            started.elapsed()
        );
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.header("retry-after").is_some(), "503 without Retry-After");
        assert!(
            !r.body.to_lowercase().contains("postgres") && !r.body.contains("sqlx"),
            "internals leaked: {}",
            r.body
        );
        outage_statuses.push(r.status);
    }
    let ready = request(port, "GET", "/readyz", None, None).unwrap();
    assert_eq!(ready.status, 503);

    cluster.start();
    // Recovery without restarting scimd.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match create_user(port, &key, "after") {
            Some((201, _)) => break,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "scimd did not recover: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    for id in &acknowledged {
        let (status, body) = http(
            port,
            "GET",
            &format!("/scim/v2/Users/{id}"),
            Some(&key),
            None,
        )
        .unwrap();
        assert_eq!(status, 200, "acknowledged write {id} lost: {body}");
    }
    assert_eq!(outage_statuses.len(), 6);
}
