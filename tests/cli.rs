//! The real `scimd` binary: first-start bootstrap, serving, graceful shutdown, the CLI and
//! configuration errors.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::common::http::http;

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("scimd-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn db_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.0.join("nested/scimd.db").display()
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scimd(db_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SCIMD_DATABASE_URL", db_url)
        .env("SCIMD_LOG", "warn");
    cmd
}

/// A running `scimd serve` whose stdout lines arrive on a channel.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(db_url: &str) -> Self {
        Self::start_with(db_url, &[])
    }

    fn start_with(db_url: &str, vars: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut child = scimd(db_url)
            .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let server = Self { child, port, lines };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/healthz", None, None).is_none() {
            assert!(Instant::now() < deadline, "scimd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Everything printed to stdout so far.
    fn output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "scimd did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn token_in(lines: &[String], prefix: &str) -> Option<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with(prefix))
        .map(str::to_owned)
}

fn wait_for_token(server: &Server, prefix: &str) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        seen.extend(server.output());
        if let Some(t) = token_in(&seen, prefix) {
            return (t, seen);
        }
        assert!(
            Instant::now() < deadline,
            "no {prefix} token printed: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn first_start_prints_keys_once_and_the_scim_key_works() {
    let dir = TempDir::new();
    let server = Server::start(&dir.db_url());
    // the admin key is printed after the SCIM key, in the same banner
    let (_admin_key, output) = wait_for_token(&server, "scimd_api_");
    let scim_key = token_in(&output, "scimd_scim_").expect("SCIM key printed");
    assert!(
        output.iter().any(|l| l.contains("SHOWN ONLY THIS TIME")),
        "{output:?}"
    );
    assert!(
        Path::new(&dir.0.join("nested/scimd.db")).exists(),
        "the data folder was created"
    );

    let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cli@example.com"}"#;
    let (status, created) = http(
        server.port,
        "POST",
        "/scim/v2/Users",
        Some(&scim_key),
        Some(body),
    )
    .unwrap();
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, got) = http(
        server.port,
        "GET",
        &format!("/scim/v2/Users/{id}"),
        Some(&scim_key),
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(got.contains("cli@example.com"));
    let (status, _) = http(server.port, "GET", "/scim/v2/Users", None, None).unwrap();
    assert_eq!(status, 401);
    assert!(server.stop().success(), "graceful shutdown exits 0");

    // a second start prints no secret, and the data is still there
    let server = Server::start(&dir.db_url());
    let (status, got) = http(
        server.port,
        "GET",
        &format!("/scim/v2/Users/{id}"),
        Some(&scim_key),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{got}");
    std::thread::sleep(Duration::from_millis(200));
    let output = server.output();
    assert!(output.iter().all(|l| !l.contains("scimd_")), "{output:?}");
    assert!(server.stop().success());
}

#[test]
fn bootstrap_can_be_switched_off() {
    let dir = TempDir::new();
    let port = free_port();
    let child = scimd(&dir.db_url())
        .env("SCIMD_BOOTSTRAP", "false")
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/readyz", None, None).is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("scimd_"));
}

#[test]
fn cli_creates_tenants_and_keys_and_reports_errors() {
    let dir = TempDir::new();
    let url = dir.db_url();
    let out = scimd(&url).args(["migrate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = scimd(&url)
        .args(["tenant", "create", "acme", "--admin-email", "it@acme.test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = scimd(&url)
        .args(["tenant", "create", "acme"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a duplicate tenant is refused");
    let out = scimd(&url)
        .args(["tenant", "create", "Not Valid"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid tenant id"));

    let out = scimd(&url)
        .args([
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "okta",
            "--scope",
            "on_premise",
            "--expires-in-days",
            "30",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        token.starts_with("scimd_onprem_") && token.len() == "scimd_onprem_".len() + 49,
        "{token}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&token),
        "the token goes to stdout only"
    );

    for args in [
        vec![
            "key", "create", "--tenant", "nope", "--name", "k", "--scope", "scim",
        ],
        vec![
            "key", "create", "--tenant", "acme", "--name", "okta", "--scope", "scim",
        ],
        vec![
            "key", "create", "--tenant", "acme", "--name", "bad name", "--scope", "scim",
        ],
        vec![
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k2",
            "--scope",
            "scim",
            "--expires-in-days",
            "400",
        ],
        vec![
            "key", "create", "--tenant", "acme", "--name", "k3", "--scope", "root",
        ],
        // No full-admin key by omission: a public_api key names its permissions.
        vec![
            "key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "k4",
            "--scope",
            "public_api",
        ],
    ] {
        let out = scimd(&url).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            String::from_utf8_lossy(&out.stdout).trim().is_empty(),
            "{args:?} printed a token"
        );
    }
}

#[test]
fn invalid_configuration_is_reported_all_at_once() {
    let out = Command::new(BIN)
        .env_clear()
        .env("SCIMD_LISTEN", "nowhere")
        .env("SCIMD_MAX_PAGE_SIZE", "zero")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SCIMD_LISTEN") && err.contains("SCIMD_MAX_PAGE_SIZE"),
        "{err}"
    );
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_write_everything() {
    let dir = TempDir::new();
    let server = Server::start(&dir.db_url());
    let (_, output) = wait_for_token(&server, "scimd_api_");
    let key = token_in(&output, "scimd_scim_").expect("SCIM key printed");
    // A bulk request long enough to be in flight when the signal comes.
    let ops: Vec<String> = (0..400)
        .map(|i| {
            format!(
                r#"{{"method":"POST","path":"/Users","bulkId":"b{i}","data":{{"userName":"drain{i}"}}}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{}]}}"#,
        ops.join(",")
    );
    let port = server.port;
    let k = key.clone();
    let request =
        std::thread::spawn(move || http(port, "POST", "/scim/v2/Bulk", Some(&k), Some(&body)));
    std::thread::sleep(Duration::from_millis(150));
    let status = server.stop();
    let (code, answer) = request
        .join()
        .unwrap()
        .expect("the request in flight was answered");
    assert!(status.success(), "graceful shutdown exits 0");
    assert_eq!(code, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let created = answer["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "201")
        .count();
    assert_eq!(
        created, 400,
        "every operation of the drained request completed"
    );
    // and it is all there after a restart
    let server = Server::start(&dir.db_url());
    let (code, list) = http(
        server.port,
        "GET",
        "/scim/v2/Users?count=0",
        Some(&key),
        None,
    )
    .unwrap();
    assert_eq!(code, 200);
    let total = serde_json::from_str::<serde_json::Value>(&list).unwrap()["totalResults"]
        .as_u64()
        .unwrap();
    assert_eq!(total, 400);
    assert!(server.stop().success());
}

#[test]
fn the_cli_refuses_what_the_admin_api_refuses() {
    // The same rules as POST /api/tenants and PUT settings/scim (tests/admin): both doors call
    // scim-service.
    let dir = TempDir::new();
    let url = dir.db_url();
    for (args, says) in [
        (vec!["tenant", "create", "docs"], "reserved"),
        (vec!["tenant", "create", "tenants"], "reserved"),
        (
            vec![
                "tenant",
                "create",
                "acme",
                "--admin-email",
                "not-an-address",
            ],
            "adminEmail must be an e-mail address",
        ),
        (
            vec!["tenant", "create", "acme", "--admin-email", "a@b"],
            "adminEmail must be an e-mail address",
        ),
    ] {
        let out = scimd(&url).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = scimd(&url)
        .args([
            "tenant",
            "create",
            "acme",
            "--admin-email",
            " it@acme.test ",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A custom attribute named like an enterprise one is refused here too.
    let schema = dir.0.join("schema.json");
    std::fs::write(
        &schema,
        r#"{"id": "urn:acme:2.0:User", "attributes": [{"name": "manager", "type": "string"}]}"#,
    )
    .unwrap();
    let out = scimd(&url)
        .args([
            "tenant",
            "custom-attributes",
            "--tenant",
            "acme",
            "--schema",
        ])
        .arg(&schema)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("enterprise User attribute"), "{err}");
}

#[test]
fn metrics_can_leave_the_public_port() {
    let dir = TempDir::new();
    let metrics_port = free_port();
    let server = Server::start_with(
        &dir.db_url(),
        &[("SCIMD_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))],
    );
    let public = |path: &str| http(server.port, "GET", path, None, None).unwrap();
    assert_eq!(public("/metrics").0, 404, "not on the public port");
    for open in ["/healthz", "/readyz", "/api/openapi.json", "/api/docs"] {
        assert_eq!(public(open).0, 200, "{open} stays public");
    }
    let metrics = http(metrics_port, "GET", "/metrics", None, None).unwrap();
    assert_eq!(metrics.0, 200);
    assert!(
        metrics
            .1
            .contains("scimd_http_requests_total{route=\"/healthz\""),
        "the public port's requests are counted: {}",
        metrics.1
    );
    assert_eq!(
        http(metrics_port, "GET", "/healthz", None, None).unwrap().0,
        404,
        "the metrics address serves /metrics only"
    );
    assert!(server.stop().success());
}

#[test]
fn tenants_and_machines_from_the_command_line() {
    let dir = TempDir::new();
    let url = dir.db_url();
    let run = |args: &[&str]| {
        let out = scimd(&url).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(run(&["tenant", "create", "acme"]).0);
    assert!(
        run(&[
            "tenant",
            "create",
            "globex",
            "--admin-email",
            "it@globex.test"
        ])
        .0
    );

    // list, as a table and as JSON
    let (ok, out, _) = run(&["tenant", "list"]);
    assert!(
        ok && out.contains("acme") && out.contains("undeliverable"),
        "{out}"
    );
    let (ok, out, _) = run(&["tenant", "list", "--json"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{out}");

    // update: the same rules as the admin API
    let (ok, out, err) = run(&[
        "tenant",
        "update",
        "acme",
        "--admin-email",
        "it@acme.test",
        "--locale",
        "fr",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("it@acme.test") && out.contains("fr"), "{out}");
    let (ok, _, err) = run(&["tenant", "update", "acme", "--locale", "de"]);
    assert!(!ok && err.contains("locale"), "{err}");
    let (ok, _, err) = run(&["tenant", "update", "acme", "--admin-email", "nope"]);
    assert!(!ok && err.contains("adminEmail"), "{err}");
    let (ok, out, _) = run(&["tenant", "update", "acme", "--clear-admin-email"]);
    assert!(ok && out.contains("(none)"), "{out}");

    // machines, and keys that name their machine by name
    let (ok, out, err) = run(&["machine", "create", "--tenant", "acme", "--name", "ad-sync"]);
    assert!(ok, "{err}");
    assert!(out.contains("ad-sync"), "{out}");
    let (ok, _, err) = run(&["machine", "create", "--tenant", "acme", "--name", " padded"]);
    assert!(!ok && err.contains("whitespace"), "{err}");
    let (ok, out, err) = run(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "onprem",
        "--scope",
        "on_premise",
        "--machine",
        "ad-sync",
    ]);
    assert!(ok, "{err}");
    let token = out.trim().to_owned();
    assert!(token.starts_with("scimd_onprem_"));
    let (ok, out, _) = run(&[
        "key",
        "list",
        "--tenant",
        "acme",
        "--machine",
        "ad-sync",
        "--json",
    ]);
    assert!(ok);
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys[0]["name"], "onprem", "{out}");
    assert!(
        !out.contains("scimd_onprem_") || out.contains("…"),
        "no token value: {out}"
    );
    let (ok, out, _) = run(&["machine", "list", "--tenant", "acme", "--json"]);
    assert!(ok);
    let machines: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(machines[0]["name"], "ad-sync");
    let (ok, _, err) = run(&["key", "list", "--tenant", "acme", "--machine", "nope"]);
    assert!(!ok && err.contains("no machine 'nope'"), "{err}");
    assert!(
        run(&[
            "machine",
            "delete",
            "--tenant",
            "acme",
            "--machine",
            "ad-sync"
        ])
        .0
    );
    let (_, out, _) = run(&["key", "list", "--tenant", "acme", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );

    // delete asks; without a terminal it needs --yes
    let (ok, _, err) = run(&["tenant", "delete", "globex"]);
    assert!(!ok && err.contains("--yes"), "{err}");
    assert!(run(&["tenant", "delete", "globex", "--yes"]).0);
    let (_, out, _) = run(&["tenant", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn first_keys_are_created_only_once_the_port_is_bound() {
    let dir = TempDir::new();
    let url = dir.db_url();
    // The address is taken: scimd says which, exits, and prints (and creates) no key.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = scimd(&url)
        .env("SCIMD_LISTEN", addr.to_string())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains("scimd_"), "no key printed: {stdout}");
    assert!(
        stderr.contains(&addr.to_string()),
        "the address is named: {stderr}"
    );
    drop(taken);
    // The next start prints them, and the first tenant has SCIMD_ADMIN_EMAIL.
    let server = Server::start_with(&url, &[("SCIMD_ADMIN_EMAIL", "it@acme.test".into())]);
    let (token, _) = wait_for_token(&server, "scimd_scim_");
    assert!(token.starts_with("scimd_scim_"));
    let out = scimd(&url)
        .args(["tenant", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["adminEmail"], "it@acme.test", "{list}");
    assert!(server.stop().success());
}

#[test]
fn healthcheck_succeeds_only_against_a_ready_service() {
    let dir = TempDir::new();
    let url = dir.db_url();
    // Nothing listens: the check fails and says where it looked.
    let port = free_port();
    let out = scimd(&url)
        .env("SCIMD_LISTEN", format!("0.0.0.0:{port}"))
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&port.to_string()));
    let server = Server::start(&url);
    for args in [
        vec!["healthcheck".to_owned()],
        vec![
            "healthcheck".to_owned(),
            "--url".to_owned(),
            format!("http://127.0.0.1:{}", server.port),
        ],
    ] {
        let out = scimd(&url)
            .env("SCIMD_LISTEN", format!("0.0.0.0:{}", server.port))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(server.stop().success());
}

#[test]
fn webhooks_and_event_streams_from_the_command_line() {
    let dir = TempDir::new();
    let url = dir.db_url();
    let run = |args: &[&str]| {
        let out = scimd(&url).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(run(&["tenant", "create", "acme"]).0);
    // The service's rules hold here too: https only, known types.
    let (ok, _, err) = run(&[
        "webhook",
        "create",
        "--tenant",
        "acme",
        "--url",
        "http://hooks.example.com/x",
    ]);
    assert!(!ok && err.contains("https"), "{err}");
    let (ok, _, err) = run(&[
        "webhook",
        "create",
        "--tenant",
        "acme",
        "--url",
        "https://hooks.example.com/x",
        "--events",
        "user.exploded",
    ]);
    assert!(!ok && err.contains("unknown event type"), "{err}");
    let (ok, out, err) = run(&[
        "webhook",
        "create",
        "--tenant",
        "acme",
        "--url",
        "https://hooks.example.com/x",
        "--events",
        "user.created,user.deleted",
    ]);
    assert!(ok, "{err}");
    let secret = out.trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{out}");
    let (ok, out, _) = run(&["webhook", "list", "--tenant", "acme", "--json"]);
    assert!(ok);
    let hooks: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        hooks[0]["eventTypes"],
        serde_json::json!(["user.created", "user.deleted"])
    );
    assert!(!out.contains(&secret), "the secret is shown once");
    let id = hooks[0]["id"].as_str().unwrap().to_owned();

    let (ok, out, err) = run(&[
        "stream",
        "create",
        "--tenant",
        "acme",
        "--delivery",
        "poll",
        "--audience",
        "https://rp.example",
    ]);
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("setpoll_"), "{out}");
    assert!(err.contains("/events/acme/streams/"), "{err}");
    let (ok, _, err) = run(&[
        "stream",
        "create",
        "--tenant",
        "acme",
        "--delivery",
        "push",
        "--audience",
        "x",
    ]);
    assert!(!ok && err.contains("endpointUrl"), "{err}");
    let (ok, out, _) = run(&["stream", "list", "--tenant", "acme", "--json"]);
    assert!(ok);
    let streams: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(streams.as_array().unwrap().len(), 1);
    assert_eq!(streams[0]["delivery"], "poll");
    let stream = streams[0]["id"].as_str().unwrap().to_owned();

    assert!(run(&["webhook", "delete", "--tenant", "acme", "--id", &id]).0);
    assert!(run(&["stream", "delete", "--tenant", "acme", "--id", &stream]).0);
    let (ok, _, err) = run(&["stream", "delete", "--tenant", "acme", "--id", &stream]);
    assert!(!ok && err.contains("no event stream"), "{err}");
    let (_, out, _) = run(&["webhook", "list", "--tenant", "acme", "--json"]);
    assert_eq!(out.trim(), "[]");
}

#[test]
fn activity_from_the_command_line_including_what_was_queued_at_shutdown() {
    let dir = TempDir::new();
    let url = dir.db_url();
    // The writer gathers for a minute: the records are still queued when SIGTERM comes, and
    // a graceful stop writes them.
    let server = Server::start_with(&url, &[("SCIMD_ACTIVITY_FLUSH_MS", "60000".into())]);
    let (_admin_key, output) = wait_for_token(&server, "scimd_api_");
    let scim_key = token_in(&output, "scimd_scim_").expect("SCIM key printed");
    let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"act@example.com"}"#;
    for expected in [201, 409] {
        let (status, got) = http(
            server.port,
            "POST",
            "/scim/v2/Users",
            Some(&scim_key),
            Some(body),
        )
        .unwrap();
        assert_eq!(status, expected, "{got}");
    }
    let (status, _) = http(server.port, "GET", "/scim/v2/Users", Some(&scim_key), None).unwrap();
    assert_eq!(status, 200);
    assert!(server.stop().success());

    let run = |args: &[&str]| {
        let out = scimd(&url).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["activity", "--tenant", "default"]);
    assert!(ok, "{err}");
    assert!(out.contains("create userName=act@example.com"), "{out}");
    assert!(
        out.contains("409") && out.contains("userName is already in use"),
        "{out}"
    );
    assert!(out.contains("list Users"), "{out}");
    let (ok, out, _) = run(&["activity", "--tenant", "default", "--errors"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "a header and the 409: {out}");
    assert!(out.contains("409"));
    let (ok, out, err) = run(&["activity", "--tenant", "default", "--since", "1h", "--json"]);
    assert!(ok, "{err}");
    let records: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 3, "{out}");
    assert_eq!(records[1]["hint"], "uniqueness", "{out}");
    let (ok, _, err) = run(&["activity", "--tenant", "default", "--since", "soon"]);
    assert!(!ok && err.contains("--since"), "{err}");
    let (ok, _, err) = run(&["activity", "--tenant", "nope"]);
    assert!(!ok && err.contains("no tenant"), "{err}");
}
