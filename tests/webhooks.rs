//! Webhooks (issue 20): registration through the admin API (secret shown once, URLs and types
//! checked, tenant isolation), and delivery to a receiver on loopback that fails, times out and
//! recovers: every event arrives, in order, signed as Standard Webhooks signs (checked here in
//! Rust, and by the Python and JavaScript snippets of docs/EVENTS.md), every attempt recorded.
//! Delivery passes are driven by the test (`scim_webhooks::pass`), with the clock moved past
//! each back-off instead of sleeping through it; in process mode the serving processes deliver
//! too, and claims keep them from sending one endpoint's events at the same time.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{Method, StatusCode},
    web, App, HttpRequest, HttpResponse, HttpServer,
};
use chrono::{Duration, Utc};
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::{json, Value};

use crate::common::{backends, new_key, spawn_with, Resp, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// How the receiver answers the next requests, in order (then 204).
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Answers after this long (longer than the sender's timeout).
    Slow(u64),
    /// Acknowledges after this long (shorter than the sender's timeout).
    Delay(u64),
}

#[derive(Default)]
pub struct Receiver {
    script: Vec<Answer>,
    pub got: Vec<Received>,
    /// The ids answered 2xx, in order.
    pub acknowledged: Vec<String>,
}

async fn receive(
    state: web::Data<Mutex<Receiver>>,
    req: HttpRequest,
    body: String,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect::<HashMap<_, _>>();
    let id = headers.get("webhook-id").cloned().unwrap_or_default();
    let answer = {
        let mut r = state.lock().unwrap();
        r.got.push(Received { headers, body });
        if r.script.is_empty() {
            None
        } else {
            Some(r.script.remove(0))
        }
    };
    match answer {
        Some(Answer::Status(code)) => {
            HttpResponse::build(StatusCode::from_u16(code).unwrap()).finish()
        }
        Some(Answer::Slow(ms)) => {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(ms)).await;
            HttpResponse::NoContent().finish()
        }
        Some(Answer::Delay(ms)) => {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(ms)).await;
            state.lock().unwrap().acknowledged.push(id);
            HttpResponse::NoContent().finish()
        }
        None => {
            state.lock().unwrap().acknowledged.push(id);
            HttpResponse::NoContent().finish()
        }
    }
}

/// A receiver on a loopback port: its URL and its state.
pub fn start_receiver(script: Vec<Answer>) -> (String, Arc<Mutex<Receiver>>) {
    let state = web::Data::new(Mutex::new(Receiver {
        script,
        ..Receiver::default()
    }));
    let shared = state.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hook"), shared)
}

pub fn vars() -> HashMap<String, String> {
    [
        ("SCIMD_WEBHOOK_ALLOW_HTTP", "1"),
        ("SCIMD_WEBHOOK_ALLOW_PRIVATE", "1"),
        ("SCIMD_WEBHOOK_RETRY_BASE_SECS", "1"),
        ("SCIMD_WEBHOOK_TIMEOUT_SECS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn admin<S, B>(app: &TestApp<S>, method: Method, path: &str, body: Option<Value>) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let token = app.admin_token.clone();
    app.call(
        method,
        &format!("/api/acme/admin{path}"),
        Some(&token),
        body,
    )
    .await
}

/// The sender and settings the test's passes use (those of the serving processes).
pub fn delivery() -> (scim_webhooks::Sender, scim_webhooks::DeliveryConfig) {
    let config = scim_webhooks::DeliveryConfig {
        policy: scim_service::webhooks::OutboundPolicy {
            allow_http: true,
            allow_private: true,
        },
        retry_base: Duration::seconds(1),
        timeout: std::time::Duration::from_secs(1),
        ..scim_webhooks::DeliveryConfig::default()
    };
    let sender = scim_webhooks::Sender::new(config.policy, config.timeout).unwrap();
    (sender, config)
}

/// The SET signer of the delivery passes a test drives (pushed streams; webhooks need none).
pub fn set_issuer(store: &scim_store::Store) -> scim_service::event_streams::SetIssuer {
    scim_service::event_streams::SetIssuer::new(
        store.clone(),
        Arc::new(scim_model::SchemaRegistry::core().unwrap()),
        Some("https://scim.example.test".into()),
    )
}

/// Checks the Standard Webhooks signature of `r` with `secret`.
/// Checks that `arrived` (ids in arrival order, repeats allowed) holds every event of
/// `expected` ((id, resource id) in sequence order) and nothing else, and that each resource's
/// events first arrived in their order: what delivery promises (in order per resource).
pub fn assert_in_order_per_resource(arrived: &[String], expected: &[(String, String)]) {
    let mut first_seen: Vec<&String> = Vec::new();
    for id in arrived {
        if !first_seen.contains(&id) {
            first_seen.push(id);
        }
    }
    let mut wanted: Vec<&String> = expected.iter().map(|(id, _)| id).collect();
    let mut got = first_seen.clone();
    wanted.sort();
    got.sort();
    assert_eq!(got, wanted, "every event, nothing else: {arrived:?}");
    let resource_of = |id: &String| &expected.iter().find(|(e, _)| e == id).unwrap().1;
    for (_, resource) in expected {
        let order = |ids: Vec<&String>| -> Vec<String> {
            ids.into_iter()
                .filter(|id| resource_of(id) == resource)
                .cloned()
                .collect()
        };
        assert_eq!(
            order(first_seen.clone()),
            order(expected.iter().map(|(id, _)| id).collect()),
            "the events of {resource} in order: {arrived:?}"
        );
    }
}

fn signed(r: &Received, secret: &str) -> bool {
    let id = &r.headers["webhook-id"];
    let ts: i64 = r.headers["webhook-timestamp"].parse().unwrap();
    let expected = scim_service::webhooks::signature(secret, id, ts, r.body.as_bytes()).unwrap();
    r.headers["webhook-signature"] == expected
}

#[actix_web::test]
async fn endpoints_are_checked_and_their_secret_shown_once() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        // Strict defaults: https and public addresses only.
        for (url, field) in [
            ("http://hooks.example.com/x", "url"),
            ("https://127.0.0.1/x", "url"),
            ("https://10.0.0.8/x", "url"),
            ("https://localhost/x", "url"),
            ("https://user:pw@hooks.example.com/x", "url"),
            ("nonsense", "url"),
        ] {
            let r = admin(
                &app,
                Method::POST,
                "/webhooks",
                Some(json!({"url": url, "eventTypes": ["*"]})),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{url}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], field, "{url}");
        }
        for types in [
            json!([]),
            json!(["user.exploded"]),
            json!(["*", "user.created"]),
        ] {
            let r = admin(
                &app,
                Method::POST,
                "/webhooks",
                Some(json!({"url": "https://hooks.example.com/x", "eventTypes": types})),
            )
            .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{types}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], "eventTypes");
        }
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": "https://hooks.example.com/x", "eventTypes": ["user.created", "user.deleted"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(r.body["state"], "healthy");
        let id = r.body["id"].as_str().unwrap().to_owned();
        // Never again: not in get, list, or the audit trail.
        let got = admin(&app, Method::GET, &format!("/webhooks/{id}"), None).await;
        assert_eq!(got.status, StatusCode::OK);
        assert!(got.body.get("secret").is_none());
        let list = admin(&app, Method::GET, "/webhooks", None).await;
        assert_eq!(list.body["webhooks"].as_array().unwrap().len(), 1);
        let audit = admin(&app, Method::GET, "/auditEvents?targetType=webhook", None).await;
        assert_eq!(audit.body["events"][0]["action"], "webhook.create");
        for body in [&got.body, &list.body, &audit.body] {
            assert!(!body.to_string().contains(&secret[6..]), "{body}");
        }
        // PUT replaces; disable; delete.
        let r = admin(
            &app,
            Method::PUT,
            &format!("/webhooks/{id}"),
            Some(json!({"url": "https://hooks.example.com/y", "eventTypes": ["*"], "enabled": false})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["state"], "disabled");
        assert_eq!(r.body["eventTypes"], json!(["*"]));

        // Another tenant sees none of it.
        let other = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let b_admin = new_key(&app.store, &other, "admin", Scope::PublicApi).await;
        for (method, path) in [
            (Method::GET, format!("/api/globex/admin/webhooks/{id}")),
            (Method::PUT, format!("/api/globex/admin/webhooks/{id}")),
            (Method::DELETE, format!("/api/globex/admin/webhooks/{id}")),
            (
                Method::GET,
                format!("/api/globex/admin/webhooks/{id}/attempts"),
            ),
            (Method::GET, format!("/api/acme/admin/webhooks/{id}")),
        ] {
            let body = (method == Method::PUT)
                .then(|| json!({"url": "https://evil.example.com/", "eventTypes": ["*"]}));
            let r = app.call(method.clone(), &path, Some(&b_admin), body).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.body
            );
        }
        let r = app
            .call(
                Method::GET,
                "/api/globex/admin/webhooks",
                Some(&b_admin),
                None,
            )
            .await;
        assert_eq!(r.body["webhooks"], json!([]));

        let r = admin(&app, Method::DELETE, &format!("/webhooks/{id}"), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = admin(&app, Method::GET, &format!("/webhooks/{id}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

#[actix_web::test]
async fn every_event_arrives_in_order_through_failures_and_a_timeout() {
    for backend in backends() {
        let app = spawn_with(backend, vars()).await;
        // Two failures, a timeout, then the receiver answers.
        let (url, receiver) = start_receiver(vec![
            Answer::Status(500),
            Answer::Status(503),
            Answer::Slow(2500),
        ]);
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["*"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        // A user created, changed and deleted; a group with a member.
        let user = app.create_user("ann@acme.test").await;
        let r = app
            .call(
                Method::PATCH,
                &format!("/scim/v2/Users/{user}"),
                Some(&app.scim_token.clone()),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({"displayName": "Eng", "members": [{"value": user}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{user}")).await.status,
            StatusCode::NO_CONTENT
        );
        let token = app.admin_token.clone();
        let events: Vec<(String, String)> = {
            let r = app
                .call(Method::GET, "/api/acme/admin/events", Some(&token), None)
                .await;
            r.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap().to_owned(),
                        e["resourceId"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        let expected: Vec<String> = events.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(
            expected.len(),
            5,
            "created, deactivated, group created, member added, user deleted: {expected:?}"
        );

        // Passes with the clock past each back-off, until everything is acknowledged.
        let (sender, config) = delivery();
        let mut later = Utc::now();
        for _ in 0..40 {
            if receiver.lock().unwrap().acknowledged.len() >= expected.len() {
                break;
            }
            later += Duration::minutes(5);
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "test",
                later,
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (acknowledged, got) = {
            let r = receiver.lock().unwrap();
            (r.acknowledged.clone(), r.got.clone())
        };
        // Once each, a resource's events in order (the user's and the group's travel on
        // lanes of their own after the first, which went alone while the endpoint failed).
        assert_eq!(
            acknowledged.len(),
            expected.len(),
            "once each: {acknowledged:?}"
        );
        assert_in_order_per_resource(&acknowledged, &events);
        assert_eq!(acknowledged[0], expected[0], "the failed event first");
        // The first event was sent four times (500, 503, timeout, 204), each signed.
        assert!(got.len() >= expected.len() + 3, "{}", got.len());
        assert!(got.iter().all(|g| signed(g, &secret)), "signatures");
        let first: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(first["type"], "user.created");
        assert_eq!(first["data"]["resourceId"], user.as_str());
        assert_eq!(first["data"]["id"], expected[0].as_str());
        assert!(first["timestamp"].as_str().is_some());
        assert_eq!(got[0].headers["content-type"], "application/json");
        let delivered: Vec<Value> = got
            .iter()
            .map(|g| serde_json::from_str(&g.body).unwrap())
            .collect();
        // Each retry is the same event (same webhook-id and body).
        assert_eq!(delivered[0], delivered[1]);
        assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);

        // Every attempt is recorded, newest first; the endpoint is healthy again.
        let attempts = admin(&app, Method::GET, &format!("/webhooks/{id}/attempts"), None).await;
        let attempts = attempts.body["attempts"].as_array().unwrap().clone();
        assert!(attempts.len() >= expected.len() + 3, "{attempts:?}");
        let oldest: Vec<&Value> = attempts.iter().rev().take(3).collect();
        assert_eq!(oldest[0]["statusCode"], 500);
        assert_eq!(oldest[1]["statusCode"], 503);
        assert!(oldest[2]["statusCode"].is_null(), "{}", oldest[2]);
        assert!(
            oldest[2]["error"].as_str().unwrap().contains("timeout"),
            "{}",
            oldest[2]
        );
        assert!(attempts[0]["error"].is_null());
        let w = admin(&app, Method::GET, &format!("/webhooks/{id}"), None).await;
        assert_eq!(w.body["state"], "healthy", "{}", w.body);
        assert!(w.body["lastError"].is_null());

        // Two passes at once (two processes) never send one event twice.
        app.create_user("bob@acme.test").await;
        app.create_user("cy@acme.test").await;
        let later = later + Duration::minutes(5);
        let (a, b) = futures_util::future::join(
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "one",
                later,
            ),
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "two",
                later,
            ),
        )
        .await;
        a.unwrap();
        b.unwrap();
        for _ in 0..40 {
            if receiver.lock().unwrap().acknowledged.len() >= expected.len() + 2 {
                break;
            }
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "three",
                later,
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let acknowledged = receiver.lock().unwrap().acknowledged.clone();
        assert_eq!(acknowledged.len(), expected.len() + 2, "{acknowledged:?}");
        let unique: HashSet<&String> = acknowledged.iter().collect();
        assert_eq!(
            unique.len(),
            acknowledged.len(),
            "no event acknowledged twice"
        );
    }
}

#[actix_web::test]
async fn only_the_types_asked_for_are_sent_and_the_snippets_verify_a_delivery() {
    for backend in backends() {
        let app = spawn_with(backend, vars()).await;
        let (url, receiver) = start_receiver(Vec::new());
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["user.deleted"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        let a = app.create_user("a@acme.test").await;
        app.create_user("b@acme.test").await;
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{a}")).await.status,
            StatusCode::NO_CONTENT
        );
        let (sender, config) = delivery();
        for _ in 0..40 {
            if !receiver.lock().unwrap().acknowledged.is_empty() {
                break;
            }
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "test",
                Utc::now(),
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let got = receiver.lock().unwrap().got.clone();
        assert_eq!(got.len(), 1, "{got:?}");
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["type"], "user.deleted");
        assert_eq!(body["data"]["resourceId"], a.as_str());

        // docs/EVENTS.md's Python and JavaScript checks accept this delivery, and refuse it
        // with one byte of the body changed.
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/EVENTS.md"))
            .unwrap();
        let snippet = |lang: &str| {
            let start = docs.find(&format!("```{lang} verify")).unwrap();
            let rest = &docs[start..];
            let code_start = rest.find('\n').unwrap() + 1;
            let end = rest[code_start..].find("```").unwrap();
            rest[code_start..code_start + end].to_owned()
        };
        let dir = std::env::temp_dir().join(format!("scimd-webhook-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |program: &str, code: &str, ext: &str, body: &str| {
            let file = dir.join(format!("verify.{ext}"));
            std::fs::write(&file, code).unwrap();
            let out = std::process::Command::new(program)
                .arg(&file)
                .env("WEBHOOK_SECRET", &secret)
                .env("WEBHOOK_ID", &got[0].headers["webhook-id"])
                .env("WEBHOOK_TIMESTAMP", &got[0].headers["webhook-timestamp"])
                .env("WEBHOOK_SIGNATURE", &got[0].headers["webhook-signature"])
                .env("WEBHOOK_BODY", body)
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let tampered = got[0].body.replacen("user.deleted", "user.deleteD", 1);
        assert_eq!(
            run("python3", &snippet("python"), "py", &got[0].body),
            "valid"
        );
        assert_eq!(
            run("python3", &snippet("python"), "py", &tampered),
            "invalid"
        );
        assert_eq!(
            run("node", &snippet("javascript"), "js", &got[0].body),
            "valid"
        );
        assert_eq!(
            run("node", &snippet("javascript"), "js", &tampered),
            "invalid"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[actix_web::test]
async fn an_admin_can_send_events_again_and_test_an_endpoint() {
    for backend in backends() {
        let app = spawn_with(backend, vars()).await;
        let (url, receiver) = start_receiver(Vec::new());
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["user.created"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        let start = Utc::now() - Duration::seconds(1);
        for name in ["a@acme.test", "b@acme.test", "c@acme.test"] {
            app.create_user(name).await;
        }
        let token = app.admin_token.clone();
        let events = app
            .call(Method::GET, "/api/acme/admin/events", Some(&token), None)
            .await;
        let ids: Vec<String> = events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 3);
        let (sender, config) = delivery();
        let drive = |until: usize| {
            let app = &app;
            let (sender, config, receiver) = (&sender, &config, &receiver);
            async move {
                for _ in 0..40 {
                    if receiver.lock().unwrap().acknowledged.len() >= until {
                        return;
                    }
                    scim_webhooks::pass(
                        &app.store,
                        sender,
                        &set_issuer(&app.store),
                        config,
                        "test",
                        Utc::now(),
                    )
                    .await
                    .unwrap();
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        };
        drive(3).await;
        // Three users: the first alone, the other two side by side (lanes by resource).
        let mut first = receiver.lock().unwrap().acknowledged.clone();
        assert_eq!(first[0], ids[0], "{first:?}");
        first.sort();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(first, sorted);

        // The test button: a signed webhook.test, answered at once, recorded, position kept.
        let r = admin(&app, Method::POST, &format!("/webhooks/{id}/test"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["delivered"], json!(true));
        assert_eq!(r.body["statusCode"], json!(204));
        let test = receiver.lock().unwrap().got.last().cloned().unwrap();
        assert!(signed(&test, &secret));
        let body: Value = serde_json::from_str(&test.body).unwrap();
        assert_eq!(body["type"], json!("webhook.test"));
        let attempts = admin(&app, Method::GET, &format!("/webhooks/{id}/attempts"), None).await;
        assert_eq!(attempts.body["attempts"][0]["sequence"], json!(0));

        // Send one event again, then a time range: sent again in order, with their own ids.
        let r = admin(
            &app,
            Method::POST,
            &format!("/webhooks/{id}/resend"),
            Some(json!({"eventId": ids[1]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert_eq!(r.body["queued"], json!(1));
        // (The receiver acknowledged the test event too: it is fourth.)
        drive(5).await;
        let r = admin(
            &app,
            Method::POST,
            &format!("/webhooks/{id}/resend"),
            Some(json!({"since": start, "until": Utc::now() + Duration::seconds(1)})),
        )
        .await;
        assert_eq!(r.body["queued"], json!(3), "{}", r.body);
        drive(8).await;
        let acknowledged = receiver.lock().unwrap().acknowledged.clone();
        // In process mode the serving processes deliver too; a resend is still sent once per
        // request, in order.
        assert!(!ids.contains(&acknowledged[3]), "{acknowledged:?}");
        let again: Vec<&String> = acknowledged.iter().skip(5).collect();
        assert_eq!(acknowledged.get(4), Some(&ids[1]), "{acknowledged:?}");
        assert_eq!(again, [&ids[0], &ids[1], &ids[2]], "{acknowledged:?}");
        let w = admin(&app, Method::GET, &format!("/webhooks/{id}"), None).await;
        assert_eq!(w.body["state"], "healthy", "{}", w.body);

        // Refused: no selection, an unknown event, another tenant's endpoint.
        for (body, status) in [
            (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
            (
                json!({"since": Utc::now(), "until": start}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (json!({"eventId": "nope"}), StatusCode::NOT_FOUND),
        ] {
            let r = admin(
                &app,
                Method::POST,
                &format!("/webhooks/{id}/resend"),
                Some(body.clone()),
            )
            .await;
            assert_eq!(r.status, status, "{body} {}", r.body);
        }
        let globex = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&globex, None, Utc::now())
            .await
            .unwrap();
        let other = new_key(&app.store, &globex, "admin", Scope::PublicApi).await;
        for path in [
            format!("/api/acme/admin/webhooks/{id}/test"),
            format!("/api/globex/admin/webhooks/{id}/test"),
            format!("/api/globex/admin/webhooks/{id}/resend"),
        ] {
            let r = app
                .call(
                    Method::POST,
                    &path,
                    Some(&other),
                    Some(json!({"eventId": ids[0]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} {}", r.body);
        }
    }
}

#[actix_web::test]
async fn the_admin_is_mailed_once_when_an_endpoint_fails_for_a_day() {
    use crate::common::smtp::SmtpServer;
    for backend in backends() {
        let app = spawn_with(backend, vars()).await;
        let (url, receiver) = start_receiver(vec![Answer::Status(500); 8]);
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["*"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        app.create_user("a@acme.test").await;
        let (sender, config) = delivery();
        for _ in 0..40 {
            if !receiver.lock().unwrap().got.is_empty() {
                break;
            }
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "t",
                Utc::now(),
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let w = app.store.get_webhook(&app.tenant, &id).await.unwrap();
        let since = w.failing_since.expect("failing");

        // A day later the sweep queues one mail; the mailer delivers it over SMTP.
        let smtp = SmtpServer::start();
        let mailer = scim_expiry::SmtpMailer::new(
            &smtp.url(),
            "scimd <scimd@example.test>",
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let policy = scim_expiry::ExpiryPolicy::default();
        let early = scim_expiry::sweep(&app.store, &policy, since + Duration::hours(23))
            .await
            .unwrap();
        assert_eq!(early.failing_destinations_notified, 0);
        let day = since + Duration::hours(25);
        let swept = scim_expiry::sweep(&app.store, &policy, day).await.unwrap();
        assert_eq!(swept.failing_destinations_notified, 1);
        let again = scim_expiry::sweep(&app.store, &policy, day + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            again.failing_destinations_notified, 0,
            "once per run of failures"
        );
        let delivered = scim_expiry::deliver(
            &app.store,
            &mailer,
            &scim_expiry::DeliveryPolicy::default(),
            day,
        )
        .await
        .unwrap();
        assert_eq!(delivered.sent, 1);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, ["admin@acme.test"]);
        assert!(
            mails[0].data.contains("has been failing since"),
            "{}",
            mails[0].data
        );
        assert!(mails[0].data.contains(&url), "{}", mails[0].data);
        // Not an expiry notice of a key.
        let notices = admin(&app, Method::GET, "/expiryNotices", None).await;
        assert_eq!(notices.body["totalResults"], json!(0), "{}", notices.body);
        // The recovery ends the run: a later run of failures is reported again.
        receiver.lock().unwrap().script.clear();
        for _ in 0..40 {
            if !receiver.lock().unwrap().acknowledged.is_empty() {
                break;
            }
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "t",
                day,
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let w = app.store.get_webhook(&app.tenant, &id).await.unwrap();
        assert!(
            w.failing_since.is_none() && w.failure_notified_at.is_none(),
            "{w:?}"
        );
    }
}

#[actix_web::test]
async fn a_delivery_process_killed_mid_batch_loses_nothing() {
    for backend in backends() {
        // The app under test delivers nothing itself: one `scimd serve` started here does,
        // and is killed with SIGKILL while it sends.
        let mut quiet = vars();
        quiet.insert("SCIMD_WEBHOOK_POLL_MS".into(), "0".into());
        let app = spawn_with(backend, quiet).await;
        let (url, receiver) = start_receiver(vec![Answer::Delay(150); 200]);
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["user.created"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let mut names = Vec::new();
        for i in 0..12 {
            let name = format!("u{i}@acme.test");
            app.create_user(&name).await;
            names.push(name);
        }
        let token = app.admin_token.clone();
        let events = app
            .call(
                Method::GET,
                "/api/acme/admin/events?limit=50",
                Some(&token),
                None,
            )
            .await;
        let events: Vec<(String, String)> = events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap().to_owned(),
                    e["resourceId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<String> = events.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(expected.len(), 12);

        let mut delivering = vars();
        delivering.insert("SCIMD_DATABASE_URL".into(), app.db_url().to_owned());
        delivering.insert("SCIMD_WEBHOOK_POLL_MS".into(), "50".into());
        delivering.insert(
            "SCIMD_PUBLIC_URL".into(),
            "https://scim.example.test".into(),
        );
        let mut process = crate::common::procs::Processes::start(1, &delivering).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while receiver.lock().unwrap().got.len() < 4 {
            assert!(std::time::Instant::now() < deadline, "{}", process.logs());
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        process.kill(0);
        let at_kill = receiver.lock().unwrap().got.len();
        assert!(at_kill < 12, "killed mid-batch: {at_kill} sent");

        // Its claim ends with its lease; another delivery takes over from the last event
        // recorded as acknowledged.
        let (sender, config) = delivery();
        let later = Utc::now() + Duration::minutes(2);
        for _ in 0..100 {
            let acknowledged: HashSet<String> = receiver
                .lock()
                .unwrap()
                .acknowledged
                .iter()
                .cloned()
                .collect();
            if expected.iter().all(|e| acknowledged.contains(e)) {
                break;
            }
            scim_webhooks::pass(
                &app.store,
                &sender,
                &set_issuer(&app.store),
                &config,
                "heir",
                later,
            )
            .await
            .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let acknowledged = receiver.lock().unwrap().acknowledged.clone();
        assert_in_order_per_resource(&acknowledged, &events);
        // A wave's deliveries are recorded before the next wave starts, and while each event
        // takes 150 ms waves stay at 4 to 8 events: the killed process can have acknowledged,
        // unrecorded, at most the wave it was sending.
        assert!(
            acknowledged.len() <= expected.len() + 8,
            "at most what was unrecorded or in flight is sent twice: {acknowledged:?}"
        );
    }
}

#[actix_web::test]
async fn deliveries_then_a_failure_are_recorded_together_and_the_failure_retried() {
    for backend in backends() {
        let mut quiet = vars();
        quiet.insert("SCIMD_WEBHOOK_POLL_MS".into(), "0".into());
        let app = spawn_with(backend, quiet).await;
        let (url, receiver) = start_receiver(vec![
            Answer::Delay(0),
            Answer::Delay(0),
            Answer::Status(500),
        ]);
        let r = admin(
            &app,
            Method::POST,
            "/webhooks",
            Some(json!({"url": url, "eventTypes": ["user.created"]})),
        )
        .await;
        let id = r.body["id"].as_str().unwrap().to_owned();
        for name in ["a@acme.test", "b@acme.test", "c@acme.test"] {
            app.create_user(name).await;
        }
        let (sender, config) = delivery();
        // One pass: two acknowledged, then a failure, recorded in one transaction.
        let report = scim_webhooks::pass(
            &app.store,
            &sender,
            &set_issuer(&app.store),
            &config,
            "t",
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!((report.delivered, report.failed), (2, 1));
        let w = app.store.get_webhook(&app.tenant, &id).await.unwrap();
        assert_eq!(w.attempts, 1, "a new run of failures: {w:?}");
        assert!(
            w.failing_since.is_some() && w.last_success_at.is_some(),
            "{w:?}"
        );
        let attempts = app
            .store
            .list_webhook_attempts(&app.tenant, &id, 10)
            .await
            .unwrap();
        assert_eq!(attempts.len(), 3);
        // The first went alone; the other two side by side (either may have met the 500).
        assert_eq!(attempts[2].status_code, Some(204), "{attempts:?}");
        assert_eq!(
            attempts
                .iter()
                .filter(|a| a.status_code == Some(500))
                .count(),
            1,
            "{attempts:?}"
        );
        // After the back-off, the third is delivered.
        scim_webhooks::pass(
            &app.store,
            &sender,
            &set_issuer(&app.store),
            &config,
            "t",
            Utc::now() + Duration::minutes(5),
        )
        .await
        .unwrap();
        // Each event arrives; the one after the failure comes twice only when it was
        // acknowledged out of turn (its lane ran ahead of the failed one).
        let acknowledged = receiver.lock().unwrap().acknowledged.clone();
        let unique: HashSet<&String> = acknowledged.iter().collect();
        assert_eq!(unique.len(), 3, "{acknowledged:?}");
        assert!(acknowledged.len() <= 4, "{acknowledged:?}");
        let w = app.store.get_webhook(&app.tenant, &id).await.unwrap();
        assert!(w.failing_since.is_none() && w.attempts == 0, "{w:?}");
    }
}
