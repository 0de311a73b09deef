//! The black-box harness: the real app (`build_app`) on a fresh database per test, SQLite always
//! and PostgreSQL too when `SCIMD_TEST_DATABASE_URL` is set. Helpers return status, headers and
//! the JSON body.
//!
//! By default the app runs in the test process. With `SCIMD_TEST_PROCESSES=N` (N ≥ 1) each test
//! runs against N real `scimd serve` processes on its database instead, its requests sent to
//! them in turn (see `procs`).

pub mod http;
pub mod procs;
pub mod smtp;

use std::collections::HashMap;

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{header::HeaderMap, Method, StatusCode},
    test,
    web::Bytes,
};
use chrono::{Duration, Utc};
use scim_auth::{Scope, Token};
use scim_service::{issue_key, KeyRequest};
use scim_store::{NewApiKey, Store, TenantId};
use scimd::{build_app, config::Config, open_store, AppContext};
use serde_json::Value;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// SQLite, plus PostgreSQL when `SCIMD_TEST_DATABASE_URL` names a server. None, with a line on
/// the terminal saying why, for a test excluded in process mode (`procs::EXCLUDED`).
pub fn backends() -> Vec<Backend> {
    if procs::configured() > 0 {
        if let Some(reason) = procs::excluded() {
            procs::report_skip(reason);
            return Vec::new();
        }
    }
    let mut all = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("SCIMD_TEST_DATABASE_URL") {
        if !url.trim().is_empty() {
            all.push(Backend::Postgres(url));
        }
    }
    all
}

/// A database made for one test and removed after it.
struct TestDb {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    async fn create(backend: &Backend) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("scimd-test-{unique}.db"));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::File(path),
                }
            }
            Backend::Postgres(admin_url) => {
                let name = format!("scimd_test_{unique}");
                let admin = Store::connect(admin_url, &Default::default())
                    .await
                    .expect("connect to SCIMD_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.expect("close");
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                Self {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Database {
                        admin_url: admin_url.clone(),
                        name,
                    },
                }
            }
        }
    }
}

/// A database of its own for a test that drives the migrations itself; removed when dropped.
pub struct ScratchDb(TestDb);

impl ScratchDb {
    pub async fn create(backend: &Backend) -> Self {
        Self(TestDb::create(backend).await)
    }

    pub fn url(&self) -> &str {
        &self.0.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs outside async code: drop the database from a helper thread.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async move {
                        if let Ok(admin) = Store::connect(&admin_url, &Default::default()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A response: status, headers and body (JSON, or `Value::Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The app under test (in this process, or `scimd serve` processes in process mode), its store,
/// and a tenant `acme` with a SCIM key and an admin key.
pub struct TestApp<S> {
    svc: Option<S>,
    procs: Option<procs::Processes>,
    pub store: Store,
    pub tenant: TenantId,
    pub scim_token: String,
    pub admin_token: String,
    _db: TestDb,
}

pub async fn spawn(
    backend: Backend,
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    spawn_with(backend, HashMap::new()).await
}

pub async fn spawn_with(
    backend: Backend,
    mut vars: HashMap<String, String>,
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let db = TestDb::create(&backend).await;
    vars.insert("SCIMD_DATABASE_URL".into(), db.url.clone());
    // Many tests run at once, each with its own pool: keep pools small so that PostgreSQL's
    // connection limit (100 by default) is never the thing under test.
    vars.entry("SCIMD_DB_MAX_CONNECTIONS".into())
        .or_insert_with(|| "4".into());
    vars.entry("SCIMD_GROUP_PATCH_MEMBER_LIMIT".into())
        .or_insert_with(|| "2".into());
    vars.entry("SCIMD_PUBLIC_URL".into())
        .or_insert_with(|| "https://scim.example.test".into());
    let (config, _) = Config::from_vars(vars.clone()).expect("test config");
    let store = open_store(&config).await.expect("open store");
    let tenant = TenantId::parse("acme").expect("id");
    store
        .create_tenant(&tenant, Some("admin@acme.test"), Utc::now())
        .await
        .expect("tenant");
    let scim_token = new_key(&store, &tenant, "entra", Scope::Scim).await;
    let admin_token = new_key(&store, &tenant, "admin", Scope::PublicApi).await;
    let (svc, procs) = match procs::configured() {
        0 => {
            let ctx = AppContext::new(store.clone(), &config).expect("context");
            (Some(test::init_service(build_app(ctx)).await), None)
        }
        n => (None, Some(procs::Processes::start(n, &vars).await)),
    };
    TestApp {
        svc,
        procs,
        store,
        tenant,
        scim_token,
        admin_token,
        _db: db,
    }
}

/// Issues a key through the same code as the CLI and returns its token.
pub async fn new_key(store: &Store, tenant: &TenantId, name: &str, scope: Scope) -> String {
    // An admin key holds every permission, written out as the service asks.
    let permissions = (scope == Scope::PublicApi).then(|| vec!["*".to_owned()]);
    let request = KeyRequest {
        name: name.into(),
        label: None,
        scope,
        permissions,
        expires_in_days: None,
    };
    let (_, token) = issue_key(store, tenant, request, Utc::now())
        .await
        .expect("key");
    token.expose().to_owned()
}

/// Stores a key with explicit state (permissions, expiry) and returns its token.
pub async fn raw_key(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    scope: Scope,
    permissions: &[&str],
    expires_in: Duration,
) -> String {
    let token = Token::generate(scope);
    store
        .insert_api_key(
            tenant,
            NewApiKey {
                name: name.into(),
                label: None,
                scope: scope.as_str().into(),
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                token_hash: token.hash(),
                token_hint: token.hint(),
                enabled: true,
                expires_at: Utc::now() + expires_in,
                client_id: scim_service::oauth::new_client_id(scope),
            },
            Utc::now() - Duration::days(1),
        )
        .await
        .expect("raw key");
    token.expose().to_owned()
}

impl<S> TestApp<S> {
    /// The URL of this test's database (for processes started by the test).
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    /// The file of this test's SQLite database (`None` on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<String> {
        let rest = self._db.url.strip_prefix("sqlite://")?;
        Some(rest.split('?').next().unwrap_or(rest).to_owned())
    }

    /// How many processes serve the requests: 1 in-process, N with `SCIMD_TEST_PROCESSES=N`.
    /// State that each process keeps for itself (rate limits, failed-authentication budgets,
    /// metrics) is N times as large across them.
    pub fn processes(&self) -> usize {
        self.procs.as_ref().map_or(1, procs::Processes::count)
    }

    /// What the serving processes logged so far (empty in-process: there the test's own
    /// subscriber sees the app's events).
    pub fn process_logs(&self) -> String {
        self.procs
            .as_ref()
            .map(procs::Processes::logs)
            .unwrap_or_default()
    }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, path, token, Some("application/scim+json"), bytes)
            .await
    }

    /// Sends a request to the app (in-process), or to the next process (process mode).
    async fn dispatch(&self, req: test::TestRequest) -> (StatusCode, HeaderMap, Bytes) {
        match (&self.svc, &self.procs) {
            (_, Some(procs)) => procs.send(req.to_request()).await,
            (Some(svc), None) => {
                let res = test::call_service(svc, req.to_request()).await;
                let status = res.status();
                let headers = res.headers().clone();
                (status, headers, test::read_body(res).await)
            }
            (None, None) => unreachable!("a TestApp has an app or processes"),
        }
    }

    /// Sends a copy of the request to every serving process (once in-process), for state that
    /// each process keeps for itself, such as `/metrics`.
    pub async fn call_each(&self, method: Method, path: &str) -> Vec<Resp> {
        let req = || {
            test::TestRequest::default()
                .method(method.clone())
                .uri(path)
        };
        let answers = match &self.procs {
            Some(procs) => procs.send_each(req().to_request()).await,
            None => vec![self.dispatch(req()).await],
        };
        answers.into_iter().map(to_resp).collect()
    }

    /// A `GET` with bearer `token`, sent to every serving process (once in-process): for
    /// what each process may keep for itself, such as the keys it has verified.
    pub async fn get_each(&self, path: &str, token: &str) -> Vec<Resp> {
        let req = || {
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {token}")))
        };
        let answers = match &self.procs {
            Some(procs) => procs.send_each(req().to_request()).await,
            None => vec![self.dispatch(req()).await],
        };
        answers.into_iter().map(to_resp).collect()
    }

    /// In process only (`None` in process mode): the answer to a `GET` with the tenant's SCIM
    /// key, its body not read yet (a streamed body is produced as it is read, so a test can
    /// write between the answer's start and its end).
    pub async fn start_get(&self, path: &str) -> Option<ServiceResponse<B>> {
        let svc = self.svc.as_ref()?;
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", self.scim_token)));
        Some(test::call_service(svc, req.to_request()).await)
    }

    /// Sends a prepared request; returns status, headers and the body as text.
    pub async fn send(&self, req: test::TestRequest) -> (StatusCode, HeaderMap, String) {
        let (status, headers, bytes) = self.dispatch(req).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Sends raw bytes with the given content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(b) = body {
            if let Some(ct) = content_type {
                req = req.insert_header(("Content-Type", ct));
            }
            req = req.set_payload(b);
        }
        to_resp(self.dispatch(req).await)
    }

    /// A request with the tenant's SCIM key and extra headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let mut req = test::TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", self.scim_token)));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        if let Some(b) = body {
            req = req
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(b.to_string());
        }
        json_resp(self.dispatch(req).await)
    }

    /// `GET` from client address `peer` with an optional bearer token.
    pub async fn get_from(&self, peer: &str, path: &str, token: Option<&str>) -> Resp {
        let mut req = test::TestRequest::get()
            .uri(path)
            .peer_addr(peer.parse().expect("socket address"));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        json_resp(self.dispatch(req).await)
    }

    /// `GET` with a hand-written `Authorization` header.
    pub async fn get_with_authorization(&self, path: &str, authorization: &str) -> Resp {
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", authorization));
        json_resp(self.dispatch(req).await)
    }

    /// `GET` with the tenant's SCIM key.
    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&self.scim_token.clone()), None)
            .await
    }

    /// `POST` with the tenant's SCIM key.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(
            Method::POST,
            path,
            Some(&self.scim_token.clone()),
            Some(body),
        )
        .await
    }

    /// `PUT` with the tenant's SCIM key.
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(
            Method::PUT,
            path,
            Some(&self.scim_token.clone()),
            Some(body),
        )
        .await
    }

    /// `DELETE` with the tenant's SCIM key.
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Some(&self.scim_token.clone()), None)
            .await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self.post("/scim/v2/Users", user_body(user_name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }
}

/// A response with its body as JSON, as text when it is not JSON, `Value::Null` when empty.
fn to_resp((status, headers, bytes): (StatusCode, HeaderMap, Bytes)) -> Resp {
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// A response with its body as JSON, `Value::Null` when it is not JSON.
fn json_resp((status, headers, bytes): (StatusCode, HeaderMap, Bytes)) -> Resp {
    Resp {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A user body as Microsoft Entra ID sends it.
pub fn user_body(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("Display {user_name}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Engineering", "employeeNumber": "42"
        }
    })
}

/// Asserts a SCIM error response.
pub fn assert_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{}",
        r.body
    );
    assert_eq!(r.body["status"], status.to_string(), "{}", r.body);
    match scim_type {
        Some(t) => assert_eq!(r.body["scimType"], t, "{}", r.body),
        None => assert!(r.body.get("scimType").is_none(), "{}", r.body),
    }
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
}

/// Runs a test body once per backend, each on a fresh database.
#[macro_export]
macro_rules! on_each_backend {
    ($(#[$meta:meta])* $name:ident, |$app:ident| $body:block) => {
        $(#[$meta])*
        #[actix_web::test]
        async fn $name() {
            for backend in $crate::common::backends() {
                let $app = $crate::common::spawn(backend).await;
                $body
            }
        }
    };
}

impl<S> TestApp<S> {
    /// Every row of every table of this test's database as text, one line per row prefixed
    /// with its table's name: what the secret scans read, besides responses and logs.
    pub async fn dump_database(&self) -> String {
        match self.sqlite_path() {
            Some(path) => dump_sqlite(&path),
            None => dump_postgres(self.db_url()).await,
        }
    }
}

fn dump_sqlite(path: &str) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the test database");
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("tables");
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))
        .expect("tables")
        .map(|n| n.expect("name"))
        .collect();
    let mut out = String::new();
    for table in names {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select");
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            out.push_str(&table);
            for i in 0..columns {
                let text = match row.get_ref(i).expect("value") {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Real(x) => x.to_string(),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                };
                out.push('\t');
                out.push_str(&text);
            }
            out.push('\n');
        }
    }
    out
}

async fn dump_postgres(url: &str) -> String {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.expect("connect");
    let backend = db.get_database_backend();
    let tables = db
        .query_all(Statement::from_string(
            backend,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        ))
        .await
        .expect("tables");
    let mut out = String::new();
    for t in tables {
        let table: String = t.try_get("", "name").expect("name");
        let rows = db
            .query_all(Statement::from_string(
                backend,
                format!("SELECT row_to_json(t)::text AS row FROM \"{table}\" t"),
            ))
            .await
            .expect("rows");
        for r in rows {
            let row: String = r.try_get("", "row").expect("row");
            out.push_str(&table);
            out.push('\t');
            out.push_str(&row);
            out.push('\n');
        }
    }
    let _ = db.close().await;
    out
}
