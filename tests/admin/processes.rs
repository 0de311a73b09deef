//! Two `scimd serve` processes on one database: disabling, revoking or deleting a key through
//! one stops it on the other at the next request (no process keeps verified keys).

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::OPERATOR;

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str) -> Proc {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SCIMD_DATABASE_URL", url)
        .env("SCIMD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIMD_BOOTSTRAP", "false")
        .env("SCIMD_OPERATOR_TOKEN", OPERATOR)
        .env("SCIMD_WORKERS", "1")
        .env("SCIMD_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/healthz", None, None).0 != 200 {
        assert!(Instant::now() < deadline, "scimd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

/// A minimal HTTP/1.1 exchange: status and JSON body (status 0 when nothing listens).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Value::Null);
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = raw
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn scenario(url: &str) {
    let a = start(url);
    let b = start(url);
    let (s, _) = http(
        a.port,
        "POST",
        "/api/tenants",
        Some(OPERATOR),
        Some(json!({"id": "acme"})),
    );
    assert_eq!(s, 201);
    let (s, key) = http(
        a.port,
        "POST",
        "/api/acme/admin/apiKeys",
        Some(OPERATOR),
        Some(json!({"name": "entra", "scope": "scim"})),
    );
    assert_eq!(s, 201, "{key}");
    let token = key["token"].as_str().unwrap().to_owned();
    let users = |p: &Proc| http(p.port, "GET", "/scim/v2/Users", Some(&token), None).0;
    let admin = |p: &Proc, m: &str, path: &str, body: Option<Value>| {
        let (s, v) = http(
            p.port,
            m,
            &format!("/api/acme/admin/apiKeys/entra{path}"),
            Some(OPERATOR),
            body,
        );
        assert!(s < 300, "{m} {path}: {s} {v}");
    };
    assert_eq!((users(&a), users(&b)), (200, 200));
    // The last use and the caller's address are recorded (from a background task).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, k) = http(
            b.port,
            "GET",
            "/api/acme/admin/apiKeys/entra",
            Some(OPERATOR),
            None,
        );
        if k["lastUsedAt"].is_string() {
            assert_eq!(k["lastUsedAddress"], "127.0.0.1", "{k}");
            break;
        }
        assert!(Instant::now() < deadline, "lastUsedAt never recorded: {k}");
        std::thread::sleep(Duration::from_millis(50));
    }
    custom_attributes_switch(&a, &b, &token);
    admin(&a, "PUT", "", Some(json!({"enabled": false})));
    assert_eq!(users(&b), 401, "disabled on A, refused on B at once");
    admin(&b, "PUT", "", Some(json!({"enabled": true})));
    assert_eq!(users(&a), 200, "re-enabled on B, accepted on A");
    admin(&a, "POST", "/revoke", None);
    assert_eq!((users(&a), users(&b)), (401, 401), "revoked everywhere");
    let (s, key) = http(
        b.port,
        "POST",
        "/api/acme/admin/apiKeys",
        Some(OPERATOR),
        Some(json!({"name": "okta", "scope": "scim"})),
    );
    assert_eq!(s, 201);
    let okta = key["token"].as_str().unwrap().to_owned();
    assert_eq!(
        http(a.port, "GET", "/scim/v2/Users", Some(&okta), None).0,
        200
    );
    let (s, _) = http(
        b.port,
        "DELETE",
        "/api/acme/admin/apiKeys/okta",
        Some(OPERATOR),
        None,
    );
    assert_eq!(s, 204);
    assert_eq!(
        http(a.port, "GET", "/scim/v2/Users", Some(&okta), None).0,
        401,
        "deleted on B, refused on A"
    );
}

/// The tenant-wide custom-attributes switch flipped through process A holds on process B at its
/// next request (B has served the tenant before, so any cache of B's would show).
fn custom_attributes_switch(a: &Proc, b: &Proc, token: &str) {
    const URN: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
    let settings = |p: &Proc, on: bool| {
        let (s, v) = http(
            p.port,
            "PUT",
            "/api/acme/admin/settings/scim",
            Some(OPERATOR),
            Some(json!({"customAttributesEnabled": on, "customSchema": {
                "id": URN, "attributes": [{"name": "badge", "type": "string"}]}})),
        );
        assert_eq!(s, 200, "{v}");
    };
    let schemas = |p: &Proc| {
        let (_, v) = http(p.port, "GET", "/scim/v2/Schemas", Some(token), None);
        v["totalResults"].as_u64().unwrap()
    };
    settings(a, false);
    assert_eq!(schemas(b), 3);
    let (s, user) = http(
        b.port,
        "POST",
        "/scim/v2/Users",
        Some(token),
        Some(json!({"userName": "two-proc", URN: {"badge": "B1"}})),
    );
    assert_eq!(s, 201, "{user}");
    assert!(user.get(URN).is_none());
    let id = user["id"].as_str().unwrap().to_owned();
    settings(a, true);
    assert_eq!(
        schemas(b),
        4,
        "switched on through A, advertised by B at once"
    );
    let (s, user) = http(
        b.port,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(token),
        Some(json!({"userName": "two-proc", URN: {"badge": "B2"}})),
    );
    assert_eq!(s, 200, "{user}");
    assert_eq!(user[URN]["badge"], "B2");
    settings(b, false);
    let (_, user) = http(
        a.port,
        "GET",
        &format!("/scim/v2/Users/{id}"),
        Some(token),
        None,
    );
    assert!(
        user.get(URN).is_none(),
        "switched off through B, hidden by A at once"
    );
    let (s, _) = http(
        b.port,
        "DELETE",
        &format!("/scim/v2/Users/{id}"),
        Some(token),
        None,
    );
    assert_eq!(s, 204);
}

#[test]
fn revocation_is_immediate_across_processes_on_sqlite() {
    let path =
        std::env::temp_dir().join(format!("scimd-2proc-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // Create and migrate the file once, so the two servers do not race to migrate it.
    let out = Command::new(BIN)
        .env_clear()
        .env("SCIMD_DATABASE_URL", &url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success());
    scenario(&url);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[actix_web::test]
async fn revocation_is_immediate_across_processes_on_postgres() {
    let Ok(admin_url) = std::env::var("SCIMD_TEST_DATABASE_URL") else {
        return; // PostgreSQL not configured: the SQLite variant above still runs.
    };
    let name = format!("scimd_2proc_{}", uuid::Uuid::new_v4().simple());
    let admin = scim_store::Store::connect(&admin_url, &Default::default())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let out = Command::new(BIN)
        .env_clear()
        .env("SCIMD_DATABASE_URL", &url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = std::panic::catch_unwind(|| scenario(&url));
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
