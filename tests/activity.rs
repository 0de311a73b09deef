//! Provisioning activity (issue 21): every SCIM request attributable to a tenant is recorded
//! off the request's path (successes and each kind of failure, token requests too), read back
//! newest first with filters and a cursor, summarised per key or client (healthy / failing /
//! silent), purged after the tenant's retention, never holding a secret, never crossing
//! tenants; a full queue drops records and says so.

use std::collections::HashMap;

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{Method, StatusCode},
    test::TestRequest,
};
use chrono::{Duration, Utc};
use scim_auth::Scope;
use scim_store::{ActivityRecord, NewActivity, TenantId};
use serde_json::{json, Value};

use crate::common::{backends, new_key, raw_key, spawn_with, user_body, Resp, TestApp};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTRA_UA: &str = "Azure AD SCIM Client";

/// `GET /api/acme/admin/activity?<query>` with the admin key.
async fn read<S, B>(app: &TestApp<S>, query: &str) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let token = app.admin_token.clone();
    app.call(
        Method::GET,
        &format!("/api/acme/admin/activity?{query}"),
        Some(&token),
        None,
    )
    .await
}

/// The records, once at least `n` are written (the writer works a moment after the requests).
async fn wait_for<S, B>(app: &TestApp<S>, n: usize) -> Vec<Value>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut records = Vec::new();
    for _ in 0..100 {
        let r = read(app, "limit=500").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        records = r.body["records"].as_array().unwrap().clone();
        if records.len() >= n {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "fewer than {n} activity records after 5 s: {records:#?}; the processes said: {}",
        app.process_logs()
    );
}

/// A request with a key, a `User-Agent` and an optional JSON body.
async fn send<S, B>(
    app: &TestApp<S>,
    method: Method,
    path: &str,
    token: &str,
    agent: &str,
    body: Option<Value>,
) -> StatusCode
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("User-Agent", agent));
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    app.send(req).await.0
}

fn find<'a>(records: &'a [Value], summary_start: &str) -> &'a Value {
    records
        .iter()
        .find(|r| {
            r["summary"]
                .as_str()
                .unwrap_or("")
                .starts_with(summary_start)
        })
        .unwrap_or_else(|| panic!("no record '{summary_start}…' in {records:#?}"))
}

#[actix_web::test]
async fn successes_and_each_kind_of_failure_are_recorded() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let scim = app.scim_token.clone();
        let okta_ua = "Okta SCIM Client 1.0.0";
        // Successes: a create, a PATCH of a group with members, a lookup by filter, a delete.
        assert_eq!(
            send(
                &app,
                Method::POST,
                "/scim/v2/Users",
                &scim,
                ENTRA_UA,
                Some(user_body("alice@example.com"))
            )
            .await,
            StatusCode::CREATED
        );
        let alice = app
            .get("/scim/v2/Users?filter=userName%20eq%20%22alice%40example.com%22")
            .await
            .body["Resources"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bob = app.create_user("bob@example.com").await;
        let carol = app.create_user("carol@example.com").await;
        let group = app
            .post("/scim/v2/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"}))
            .await;
        assert_eq!(group.status, StatusCode::CREATED);
        let group = group.body["id"].as_str().unwrap().to_owned();
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Sales EMEA"},
            {"op": "add", "path": "members", "value": [{"value": alice}, {"value": bob}, {"value": carol}]}
        ]});
        assert_eq!(
            send(
                &app,
                Method::PATCH,
                &format!("/scim/v2/Groups/{group}"),
                &scim,
                okta_ua,
                Some(patch)
            )
            .await,
            StatusCode::NO_CONTENT
        );
        // Failures: a duplicate userName (409 uniqueness), a filter refused (400 invalidFilter),
        // an unknown id (404), an unknown member (400), a malformed body (400 invalidSyntax).
        assert_eq!(
            send(
                &app,
                Method::POST,
                "/scim/v2/Users",
                &scim,
                ENTRA_UA,
                Some(user_body("ALICE@example.com"))
            )
            .await,
            StatusCode::CONFLICT
        );
        assert_eq!(
            send(
                &app,
                Method::GET,
                "/scim/v2/Users?filter=nosuchattr%20eq%20%22x%22",
                &scim,
                ENTRA_UA,
                None
            )
            .await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            send(
                &app,
                Method::GET,
                "/scim/v2/Users/00000000-0000-0000-0000-000000000000",
                &scim,
                ENTRA_UA,
                None
            )
            .await,
            StatusCode::NOT_FOUND
        );
        let unknown_member = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "11111111-1111-1111-1111-111111111111"}]}
        ]});
        assert_eq!(
            send(
                &app,
                Method::PATCH,
                &format!("/scim/v2/Groups/{group}"),
                &scim,
                ENTRA_UA,
                Some(unknown_member)
            )
            .await,
            StatusCode::BAD_REQUEST
        );
        // A revoked key still names its tenant: recorded with why it was refused. A public_api
        // key on /scim/v2 is refused with 403. An unknown token is recorded nowhere.
        let revoked = raw_key(
            &app.store,
            &app.tenant,
            "old-entra",
            Scope::Scim,
            &["scim:read", "scim:write"],
            Duration::days(30),
        )
        .await;
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys/old-entra/revoke",
                Some(&app.admin_token.clone()),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            send(
                &app,
                Method::GET,
                "/scim/v2/Users",
                &revoked,
                ENTRA_UA,
                None
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
        let admin = app.admin_token.clone();
        assert_eq!(
            send(&app, Method::GET, "/scim/v2/Users", &admin, "curl/8", None).await,
            StatusCode::FORBIDDEN
        );
        let unknown = scim_auth::Token::generate(Scope::Scim).expose().to_owned();
        assert_eq!(
            send(
                &app,
                Method::GET,
                "/scim/v2/Users",
                &unknown,
                ENTRA_UA,
                None
            )
            .await,
            StatusCode::UNAUTHORIZED
        );

        // Requests so far: create alice, lookup, bob, carol, group, patch, 409, 400, 404, 400,
        // revoked 401, admin 403 = 12 (the revoke is an admin request, not SCIM).
        let records = wait_for(&app, 12).await;
        assert_eq!(records.len(), 12, "{records:#?}");
        // Newest first.
        let times: Vec<&str> = records
            .iter()
            .map(|r| r["time"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted);

        let create = find(&records, "create userName=alice@example.com");
        assert_eq!(create["status"], 201);
        assert_eq!(create["method"], "POST");
        assert_eq!(create["actor"], "entra");
        assert_eq!(create["actorType"], "key");
        assert_eq!(create["identityProvider"], "entra");
        assert_eq!(create["resourceType"], "User");
        assert_eq!(create["resourceId"], alice.as_str());
        // The edge's request id, as in the answer's X-Request-Id and the logs.
        assert_eq!(create["requestId"].as_str().unwrap().len(), 32);
        assert!(create["latencyMs"].as_u64().is_some());
        let attrs: Vec<&str> = create["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(attrs.contains(&"userName"), "{attrs:?}");
        assert!(!attrs.iter().any(|a| a.contains("password")), "{attrs:?}");

        let patched = find(&records, "PATCH replace displayName, add 3 members");
        // A group larger than SCIMD_GROUP_PATCH_MEMBER_LIMIT (2 in tests) is answered 204.
        assert_eq!(patched["status"], 204);
        assert_eq!(patched["identityProvider"], "okta");
        assert_eq!(patched["resourceId"], group.as_str());
        let attrs = patched["attributes"].as_array().unwrap();
        assert!(
            attrs.contains(&json!("displayName")) && attrs.contains(&json!("members")),
            "{attrs:?}"
        );

        let lookup = find(&records, "list Users filter=userName eq");
        assert_eq!(lookup["filter"], "userName eq \"alice@example.com\"");
        assert_eq!(lookup["identityProvider"], "other");

        let conflict = records.iter().find(|r| r["status"] == 409).unwrap();
        assert_eq!(conflict["scimType"], "uniqueness");
        assert_eq!(conflict["hint"]["code"], "uniqueness");
        let refused_filter = records
            .iter()
            .find(|r| r["scimType"] == "invalidFilter")
            .unwrap();
        assert_eq!(refused_filter["status"], 400);
        assert_eq!(refused_filter["hint"]["code"], "filter_refused");
        assert!(records
            .iter()
            .any(|r| r["status"] == 404 && r["summary"] == "get"));
        let member = records
            .iter()
            .find(|r| r["status"] == 400 && r["method"] == "PATCH")
            .unwrap();
        assert_eq!(member["hint"]["code"], "unknown_member", "{member}");
        let refused = records.iter().find(|r| r["actor"] == "old-entra").unwrap();
        assert_eq!(refused["status"], 401);
        assert_eq!(refused["detail"], "the key is revoked");
        assert_eq!(refused["hint"]["code"], "key_refused");
        let forbidden = records.iter().find(|r| r["status"] == 403).unwrap();
        assert_eq!(forbidden["actor"], "admin");
        assert_eq!(forbidden["hint"]["code"], "forbidden");

        // Filters.
        let count = |q: &'static str| {
            let app = &app;
            async move {
                let r = read(app, q).await;
                assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
                r.body["records"].as_array().unwrap().len()
            }
        };
        assert_eq!(count("status=2xx").await, 6);
        assert_eq!(count("status=4xx").await, 6);
        assert_eq!(count("status=409").await, 1);
        assert_eq!(count("status=5xx").await, 0);
        assert_eq!(count("method=PATCH").await, 2);
        assert_eq!(count("method=patch&status=2xx").await, 1);
        assert_eq!(count("key=old-entra").await, 1);
        assert_eq!(count("scimType=uniqueness").await, 1);
        let by_group = read(&app, &format!("resourceId={group}")).await;
        assert_eq!(
            by_group.body["records"].as_array().unwrap().len(),
            3,
            "{}",
            by_group.body
        );
        // Time bounds, to the millisecond (records are keyed by a UUIDv7 of their time).
        let ms = |r: &Value| {
            chrono::DateTime::parse_from_rfc3339(r["time"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        };
        let middle = &records[5];
        let bound = urlencode(middle["time"].as_str().unwrap());
        let r = read(&app, &format!("since={bound}")).await;
        let after = records.iter().filter(|r| ms(r) >= ms(middle)).count();
        assert_eq!(r.body["records"].as_array().unwrap().len(), after);
        let r = read(&app, &format!("until={bound}")).await;
        assert_eq!(r.body["records"].as_array().unwrap().len(), 12 - after);
        assert!(after >= 6);

        // A cursor walks every record once, newest first.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("limit=5&cursor={}", urlencode(c)),
                None => "limit=5".into(),
            };
            let r = read(&app, &q).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            for rec in r.body["records"].as_array().unwrap() {
                seen.push(rec["id"].as_str().unwrap().to_owned());
            }
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let ids: Vec<String> = records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, ids);

        // Bad queries: 422 naming the parameter.
        for (q, field) in [
            ("status=9xx", "status"),
            ("status=abc", "status"),
            ("method=TRACE", "method"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("since=yesterday", "since"),
            ("cursor=garbage", "cursor"),
        ] {
            let r = read(&app, q).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{q}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], field, "{q}");
        }

        // One record with its detail.
        let one = app
            .call(
                Method::GET,
                &format!(
                    "/api/acme/admin/activity/records/{}",
                    conflict["id"].as_str().unwrap()
                ),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert_eq!(one.body["status"], 409);
        assert_eq!(
            one.body["body"],
            Value::Null,
            "bodies are not kept by default"
        );
        let missing = app
            .call(
                Method::GET,
                "/api/acme/admin/activity/records/nope",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[actix_web::test]
async fn token_requests_are_the_clients_activity() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let admin = app.admin_token.clone();
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/apiKeys/entra",
                Some(&admin),
                None,
            )
            .await;
        let client = r.body["clientId"].as_str().unwrap().to_owned();
        let form = |secret: &str| {
            TestRequest::post()
                .uri("/oauth2/acme/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("User-Agent", ENTRA_UA))
                .set_payload(format!(
                    "grant_type=client_credentials&client_id={client}&client_secret={secret}"
                ))
        };
        let (status, _, text) = app.send(form(&app.scim_token.clone())).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let token: Value = serde_json::from_str(&text).unwrap();
        let access = token["access_token"].as_str().unwrap().to_owned();
        let wrong = scim_auth::Token::generate(Scope::Scim).expose().to_owned();
        let (status, _, _) = app.send(form(&wrong)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A guessed client id of no tenant's is recorded nowhere.
        let (status, _, _) = app
            .send(
                TestRequest::post()
                    .uri("/oauth2/acme/token")
                    .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                    .set_payload(format!(
                        "grant_type=client_credentials&client_id={}&client_secret={wrong}",
                        uuid::Uuid::new_v4()
                    )),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A SCIM request with the access token is the client's.
        assert_eq!(
            send(&app, Method::GET, "/scim/v2/Users", &access, ENTRA_UA, None).await,
            StatusCode::OK
        );
        let records = wait_for(&app, 3).await;
        assert_eq!(records.len(), 3, "{records:#?}");
        assert!(records
            .iter()
            .all(|r| r["actor"] == client.as_str() && r["actorType"] == "client"));
        let issued = find(&records, "access token issued");
        assert_eq!(issued["status"], 200);
        assert_eq!(issued["path"], "/oauth2/acme/token");
        let refused = find(&records, "token refused");
        assert_eq!(refused["status"], 401);
        assert_eq!(refused["hint"]["code"], "client_refused");
        assert_eq!(find(&records, "list Users")["status"], 200);
        // The summary names the key the client belongs to.
        let s = app
            .call(
                Method::GET,
                "/api/acme/admin/activity/summary",
                Some(&admin),
                None,
            )
            .await;
        let entry = s.body["actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["actor"] == client.as_str())
            .unwrap_or_else(|| panic!("{}", s.body));
        assert_eq!(entry["keyName"], "entra");
        assert_eq!(entry["lastHour"]["requests"], 3);
        assert_eq!(entry["lastHour"]["errors"], 1);
    }
}

#[actix_web::test]
async fn the_summary_tells_healthy_failing_and_silent_apart() {
    for backend in backends() {
        let vars = HashMap::from([("SCIMD_ACTIVITY_SILENT_SECS".to_owned(), "3".to_owned())]);
        let app = spawn_with(backend, vars).await;
        let admin = app.admin_token.clone();
        let _okta = new_key(&app.store, &app.tenant, "okta", Scope::Scim).await;
        let broken = raw_key(
            &app.store,
            &app.tenant,
            "broken",
            Scope::Scim,
            &["scim:read"],
            Duration::days(30),
        )
        .await;
        // entra: successes and one conflict (healthy); broken: a success, then its key is
        // disabled and every request is refused (failing); okta: never used (silent).
        app.create_user("a@example.com").await;
        app.create_user("b@example.com").await;
        assert_eq!(
            app.post("/scim/v2/Users", user_body("a@example.com"))
                .await
                .status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            send(&app, Method::GET, "/scim/v2/Users", &broken, ENTRA_UA, None).await,
            StatusCode::OK
        );
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/apiKeys/broken",
                Some(&admin),
                Some(json!({"enabled": false, "permissions": ["scim:read"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for _ in 0..2 {
            assert_eq!(
                send(&app, Method::GET, "/scim/v2/Users", &broken, ENTRA_UA, None).await,
                StatusCode::UNAUTHORIZED
            );
        }
        wait_for(&app, 6).await;
        let s = summary(&app).await;
        let state = |s: &Value, actor: &str| {
            s["actors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["actor"] == actor)
                .unwrap_or_else(|| panic!("{actor} missing from {s:#}"))
                .clone()
        };
        let entra = state(&s, "entra");
        assert_eq!(entra["state"], "healthy", "{entra:#}");
        assert_eq!(entra["lastHour"]["requests"], 3);
        assert_eq!(entra["lastHour"]["errors"], 1);
        assert_eq!(entra["lastDay"]["errorsByStatus"]["409"], 1);
        assert_eq!(entra["lastDay"]["errorsByScimType"]["uniqueness"], 1);
        assert_eq!(entra["lastSuccess"]["status"], 201);
        assert_eq!(entra["lastFailure"]["scimType"], "uniqueness");
        let b = state(&s, "broken");
        assert_eq!(b["state"], "failing", "{b:#}");
        assert_eq!(b["lastFailure"]["detail"], "the key is disabled");
        assert_eq!(b["lastSuccess"]["status"], 200);
        let okta = state(&s, "okta");
        assert_eq!(okta["state"], "silent");
        assert_eq!(okta["lastSuccess"], Value::Null);
        assert_eq!(s["actors"][0]["state"], "failing", "failing first");
        assert_eq!(s["droppedLastHour"], 0);
        // Past the provider's cycle (3 s here) without a request, entra is silent.
        tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
        let s = summary(&app).await;
        assert_eq!(state(&s, "entra")["state"], "silent");
        // A key without tenant.activity:read cannot read it.
        let reader = raw_key(
            &app.store,
            &app.tenant,
            "auditor",
            Scope::PublicApi,
            &["tenant.audit:read"],
            Duration::days(30),
        )
        .await;
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/activity/summary",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = app
            .call(Method::GET, "/api/acme/admin/activity", Some(&reader), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

/// `GET /api/acme/admin/activity/summary` with the admin key.
async fn summary<S, B>(app: &TestApp<S>) -> Value
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let admin = app.admin_token.clone();
    let r = app
        .call(
            Method::GET,
            "/api/acme/admin/activity/summary",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

#[actix_web::test]
async fn a_full_queue_drops_records_and_says_so() {
    for backend in backends() {
        // Two records wait at most; the writer gathers for 1.5 s before it writes.
        let vars = HashMap::from([
            ("SCIMD_ACTIVITY_QUEUE".to_owned(), "2".to_owned()),
            ("SCIMD_ACTIVITY_FLUSH_MS".to_owned(), "1500".to_owned()),
        ]);
        let app = spawn_with(backend, vars).await;
        for _ in 0..10 {
            assert_eq!(
                app.get("/scim/v2/Users").await.status,
                StatusCode::OK,
                "requests never wait"
            );
        }
        let admin = app.admin_token.clone();
        let mut last = Value::Null;
        for _ in 0..80 {
            let s = app
                .call(
                    Method::GET,
                    "/api/acme/admin/activity/summary",
                    Some(&admin),
                    None,
                )
                .await;
            let records = read(&app, "limit=500").await.body["records"]
                .as_array()
                .unwrap()
                .len() as u64;
            let dropped = s.body["droppedLastHour"].as_u64().unwrap();
            if records + dropped == 10 {
                // Each process admits two.
                assert_eq!(records, 2 * app.processes() as u64, "{}", s.body);
                assert_eq!(s.body["droppedLastDay"].as_u64(), Some(dropped));
                last = s.body;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            last.is_object(),
            "records and drops never added up to the 10 requests"
        );
        let metrics: u64 = app
            .call_each(Method::GET, "/metrics")
            .await
            .iter()
            .map(|r| {
                let text = r.body.as_str().unwrap_or_default().to_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("scimd_activity_records_dropped_total "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("no drop counter in {text}"))
            })
            .sum();
        assert_eq!(metrics, 10 - 2 * app.processes() as u64);
    }
}

#[actix_web::test]
async fn settings_retention_and_kept_bodies() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let admin = app.admin_token.clone();
        let path = "/api/acme/admin/settings/activity";
        let r = app.call(Method::GET, path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body,
            json!({"retentionDays": 30, "keepFailedBodies": false})
        );
        for (body, field) in [
            (
                json!({"retentionDays": 0, "keepFailedBodies": false}),
                "retentionDays",
            ),
            (
                json!({"retentionDays": 181, "keepFailedBodies": false}),
                "retentionDays",
            ),
            (json!({"keepFailedBodies": true}), "retentionDays"),
            (json!({"retentionDays": 30}), "keepFailedBodies"),
        ] {
            let r = app
                .call(Method::PUT, path, Some(&admin), Some(body.clone()))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], field);
        }
        let r = app
            .call(
                Method::PUT,
                path,
                Some(&admin),
                Some(json!({"retentionDays": 7, "keepFailedBodies": true})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let audit = app
            .call(
                Method::GET,
                "/api/acme/admin/auditEvents",
                Some(&admin),
                None,
            )
            .await;
        assert!(
            audit.body.to_string().contains("keepFailedBodies"),
            "{}",
            audit.body
        );

        // A failed request's body is kept, without its password; a good one's is not.
        let mut body = user_body("dup@example.com");
        body["password"] = json!("Tr0ub4dor&3-secret");
        assert_eq!(
            app.post("/scim/v2/Users", body.clone()).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            app.post("/scim/v2/Users", body).await.status,
            StatusCode::CONFLICT
        );
        let bad = app
            .call_raw(
                Method::POST,
                "/scim/v2/Users",
                Some(&app.scim_token.clone()),
                Some("application/scim+json"),
                Some(b"{\"userName\": \"x\",".to_vec()),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        // A filter naming the password (refused or not) is not kept either.
        let probe = app
            .get("/scim/v2/Users?filter=password%20eq%20%22Tr0ub4dor%263-secret%22")
            .await;
        assert!(probe.status.is_client_error() || probe.status.is_success());
        let records = wait_for(&app, 4).await;
        let probe = records.iter().find(|r| r["method"] == "GET").unwrap();
        assert_eq!(probe["filter"], "[not kept: the filter names password]");
        let conflict = records.iter().find(|r| r["status"] == 409).unwrap();
        assert_eq!(conflict["hasBody"], true);
        let created = records.iter().find(|r| r["status"] == 201).unwrap();
        assert_eq!(created["hasBody"], false);
        let id = conflict["id"].as_str().unwrap();
        let one = app
            .call(
                Method::GET,
                &format!("/api/acme/admin/activity/records/{id}"),
                Some(&admin),
                None,
            )
            .await;
        let kept = one.body["body"].as_str().unwrap();
        assert!(
            kept.contains("dup@example.com") && kept.contains("[removed]"),
            "{kept}"
        );
        assert!(
            !app.dump_database().await.contains("Tr0ub4dor"),
            "the password is nowhere in the database"
        );
        let syntax = records
            .iter()
            .find(|r| r["scimType"] == "invalidSyntax")
            .unwrap();
        assert_eq!(syntax["hasBody"], true);

        // Bodies go after 7 days, records after the tenant's retention (7 days here).
        let t = TenantId::parse("acme").unwrap();
        let old = |days: i64| NewActivity {
            tenant: t.clone(),
            record: ActivityRecord {
                id: scim_store::activity_id(Utc::now() - Duration::days(days)),
                time: Utc::now() - Duration::days(days),
                request_id: None,
                actor_kind: "key".into(),
                actor: "entra".into(),
                identity_provider: "entra".into(),
                method: "GET".into(),
                path: "/scim/v2/Users".into(),
                resource_type: Some("User".into()),
                resource_id: None,
                filter: None,
                status: 200,
                scim_type: None,
                detail: None,
                latency_ms: 3,
                summary: "list Users".into(),
                attributes: Vec::new(),
                has_body: false,
            },
            body: None,
        };
        let (eight, five) = (old(8), old(5));
        app.store
            .record_activity(&[eight.clone(), five.clone()], &[])
            .await
            .unwrap();
        let report = scim_expiry::sweep(
            &app.store,
            &Default::default(),
            Utc::now() + Duration::days(1) + Duration::hours(1),
        )
        .await
        .unwrap();
        assert!(report.activity_purged >= 1, "{report:?}");
        let ids: Vec<String> = read(&app, "limit=500").await.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!ids.contains(&eight.record.id), "8 days old: purged");
        assert!(ids.contains(&five.record.id), "5 days old: kept");
        // A week later (with a 30-day retention, so the records stay), the bodies are gone.
        let r = app
            .call(
                Method::PUT,
                path,
                Some(&admin),
                Some(json!({"retentionDays": 30, "keepFailedBodies": true})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        app.store
            .purge_old_activity(Utc::now() + Duration::days(7) + Duration::hours(1))
            .await
            .unwrap();
        let one = app
            .call(
                Method::GET,
                &format!("/api/acme/admin/activity/records/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(one.body["body"], Value::Null, "{}", one.body);
        assert_eq!(one.body["hasBody"], false);

        // Turning the switch off deletes the bodies kept.
        let r = app
            .post("/scim/v2/Users", user_body("dup@example.com"))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let with_body = wait_for(&app, 6)
            .await
            .into_iter()
            .filter(|r| r["hasBody"] == true)
            .count();
        assert_eq!(with_body, 1);
        let r = app
            .call(
                Method::PUT,
                path,
                Some(&admin),
                Some(json!({"retentionDays": 30, "keepFailedBodies": false})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let with_body = read(&app, "limit=500").await.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["hasBody"] == true)
            .count();
        assert_eq!(with_body, 0);
    }
}

#[actix_web::test]
async fn one_bad_record_loses_only_itself_and_nul_is_kept_readable() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let t = TenantId::parse("acme").unwrap();
        let record = |id: &str, path: &str| NewActivity {
            tenant: t.clone(),
            record: ActivityRecord {
                id: id.into(),
                time: Utc::now(),
                request_id: Some("r\0id".into()),
                actor_kind: "key".into(),
                actor: "entra".into(),
                identity_provider: "other".into(),
                method: "GET".into(),
                path: path.into(),
                resource_type: None,
                resource_id: None,
                filter: Some("userName eq \"a\0b\"".into()),
                status: 400,
                scim_type: Some("invalidFilter".into()),
                detail: Some("NUL \0 here".into()),
                latency_ms: 1,
                summary: "list Users".into(),
                attributes: vec!["a\0b".into()],
                has_body: false,
            },
            body: None,
        };
        // The same id twice in one batch: the batch is refused, then each record is tried
        // alone and only the duplicate is lost.
        let done = app
            .store
            .record_activity(
                &[
                    record("00000000-0000-7000-8000-00000000000a", "/scim/v2/Users"),
                    record("00000000-0000-7000-8000-00000000000b", "/scim/v2/Users"),
                    record("00000000-0000-7000-8000-00000000000b", "/scim/v2/Groups"),
                    record("00000000-0000-7000-8000-00000000000c", "/scim/v2/Users"),
                ],
                &[],
            )
            .await
            .unwrap();
        assert_eq!((done.written, done.rejected), (3, 1));
        let records = read(&app, "limit=500").await.body["records"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0]["filter"], "userName eq \"a\u{FFFD}b\"");
    }
}

#[actix_web::test]
async fn a_tenant_sees_only_its_own_activity() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let other = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let globex_scim = new_key(&app.store, &other, "entra", Scope::Scim).await;
        let globex_admin = new_key(&app.store, &other, "admin", Scope::PublicApi).await;
        app.create_user("acme-user@example.com").await;
        assert_eq!(
            send(
                &app,
                Method::GET,
                "/scim/v2/Users",
                &globex_scim,
                ENTRA_UA,
                None
            )
            .await,
            StatusCode::OK
        );
        let acme = wait_for(&app, 1).await;
        assert_eq!(acme.len(), 1, "{acme:#?}");
        let id = acme[0]["id"].as_str().unwrap().to_owned();
        // globex's admin key reads globex's record only, and cannot reach acme's.
        let mut mine = Vec::new();
        for _ in 0..100 {
            let r = app
                .call(
                    Method::GET,
                    "/api/globex/admin/activity",
                    Some(&globex_admin),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            mine = r.body["records"].as_array().unwrap().clone();
            if !mine.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(mine.len(), 1, "{mine:#?}");
        assert_eq!(mine[0]["summary"], "list Users");
        assert_ne!(mine[0]["id"], acme[0]["id"]);
        for path in [
            "/api/acme/admin/activity".to_owned(),
            "/api/acme/admin/activity/summary".to_owned(),
            format!("/api/acme/admin/activity/records/{id}"),
            "/api/acme/admin/settings/activity".to_owned(),
        ] {
            let r = app
                .call(Method::GET, &path, Some(&globex_admin), None)
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        }
        let r = app
            .call(
                Method::GET,
                &format!("/api/globex/admin/activity/records/{id}"),
                Some(&globex_admin),
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "acme's record through globex's path"
        );
        // A cursor of acme's is no cursor for globex.
        let page = read(&app, "limit=1").await;
        let cursor = page.body["nextCursor"]
            .as_str()
            .expect("a full page has a next cursor")
            .to_owned();
        let r = app
            .call(
                Method::GET,
                &format!("/api/globex/admin/activity?cursor={}", urlencode(&cursor)),
                Some(&globex_admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Deleting a tenant deletes its activity.
        let dump = app.dump_database().await;
        assert!(dump
            .lines()
            .any(|l| l.starts_with("activity_batches") && l.contains("globex")));
        app.store.delete_tenant(&other).await.unwrap();
        let dump = app.dump_database().await;
        assert!(!dump
            .lines()
            .any(|l| l.starts_with("activity_batches") && l.contains("globex")));
    }
}

#[actix_web::test]
async fn a_rate_limited_request_is_recorded_with_its_hint() {
    for backend in backends() {
        let vars = HashMap::from([
            ("SCIMD_RATE_LIMIT_PER_SECOND".to_owned(), "1".to_owned()),
            ("SCIMD_RATE_LIMIT_BURST".to_owned(), "1".to_owned()),
        ]);
        let app = spawn_with(backend, vars).await;
        // Each process has its own budget of one request.
        let mut limited = 0;
        for _ in 0..(2 * app.processes()) {
            if app.get("/scim/v2/Users").await.status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
            }
        }
        assert_eq!(limited, app.processes());
        let records = wait_for(&app, 2 * app.processes()).await;
        let r = records
            .iter()
            .find(|r| r["status"] == 429)
            .unwrap_or_else(|| panic!("{records:#?}"));
        assert_eq!(r["actor"], "entra");
        assert_eq!(r["hint"]["code"], "rate_limited");
        assert!(r["detail"].as_str().unwrap().contains("Too many requests"));
    }
}

#[actix_web::test]
async fn changed_attributes_are_recorded_when_no_events_are_captured() {
    for backend in backends() {
        let vars = HashMap::from([("SCIMD_EVENTS_CAPTURE".to_owned(), "false".to_owned())]);
        let app = spawn_with(backend, vars).await;
        let scim = app.scim_token.clone();
        let user = app.create_user("ann@acme.test").await;
        let path = format!("/scim/v2/Users/{user}");
        let rename = json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Ann"}]});
        assert_eq!(
            send(&app, Method::PATCH, &path, &scim, ENTRA_UA, Some(rename)).await,
            StatusCode::OK
        );
        let mut body = user_body("ann@acme.test");
        body["title"] = json!("Engineer");
        assert_eq!(
            send(&app, Method::PUT, &path, &scim, ENTRA_UA, Some(body)).await,
            StatusCode::OK
        );
        let records = wait_for(&app, 3).await;
        let attributes = |summary: &str| -> Vec<String> {
            find(&records, summary)["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        };
        assert!(attributes("create userName=").contains(&"userName".to_owned()));
        assert_eq!(attributes("PATCH replace displayName"), ["displayName"]);
        let replaced = attributes("replace ");
        assert!(replaced.contains(&"title".to_owned()), "{replaced:?}");
        // And no event was written.
        let token = app.admin_token.clone();
        let events = app
            .call(Method::GET, "/api/acme/admin/events", Some(&token), None)
            .await;
        assert_eq!(events.status, StatusCode::OK, "{}", events.body);
        assert_eq!(events.body["events"], json!([]));
    }
}

/// Migration 000170 moves the records written under the 19-column table into the packed one
/// (and the newest success and failure of each key into `activity_actors`); `down` moves them
/// back.
#[actix_web::test]
async fn records_written_before_the_packed_table_are_moved_over_and_back() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database};
    for backend in backends() {
        let db = crate::common::ScratchDb::create(&backend).await;
        let conn = Database::connect(db.url()).await.unwrap();
        let all = Migrator::migrations();
        let pack = all
            .iter()
            .position(|m| m.name().contains("pack_activity_records"))
            .unwrap();
        Migrator::up(&conn, Some(u32::try_from(pack).unwrap()))
            .await
            .unwrap();
        assert!(Migrator::get_pending_migrations(&conn)
            .await
            .unwrap()
            .iter()
            .any(|m| m.name().contains("pack_activity_records")));
        let postgres = matches!(backend, crate::common::Backend::Postgres(_));
        let (time, attributes) = if postgres {
            (
                "'2026-12-07T10:00:00.5+00:00'::timestamptz",
                "'[\"displayName\"]'::jsonb",
            )
        } else {
            ("'2026-12-07T10:00:00.5+00:00'", "'[\"displayName\"]'")
        };
        for (id, status, detail) in [
            ("0193a000-0000-7000-8000-000000000001", 200, "NULL"),
            (
                "0193a000-0000-7000-8000-000000000002",
                409,
                "'userName is taken'",
            ),
            ("0193a000-0000-7000-8000-000000000003", 201, "NULL"),
        ] {
            conn.execute_unprepared(&format!(
                "INSERT INTO \"activity_records\" (\"tenant_id\", \"id\", \"time\", \"request_id\", \
                 \"actor_kind\", \"actor\", \"identity_provider\", \"method\", \"path\", \
                 \"resource_type\", \"resource_id\", \"filter\", \"status\", \"scim_type\", \
                 \"detail\", \"latency_ms\", \"summary\", \"attributes\", \"has_body\") VALUES \
                 ('acme', '{id}', {time}, 'req-{status}', 'key', 'entra', 'entra', 'PATCH', \
                 '/scim/v2/Users/u1', 'User', 'u1', NULL, {status}, NULL, {detail}, 7, \
                 'PATCH replace displayName', {attributes}, FALSE)"
            ))
            .await
            .unwrap();
        }
        Migrator::up(&conn, None).await.unwrap();
        let store = scim_store::Store::connect(db.url(), &Default::default())
            .await
            .unwrap();
        let acme = TenantId::parse("acme").unwrap();
        let page = store
            .list_activity(
                &acme,
                &scim_store::ActivityQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.records.len(), 3);
        let newest = &page.records[0];
        assert_eq!(newest.id, "0193a000-0000-7000-8000-000000000003");
        assert_eq!(newest.status, 201);
        assert_eq!(newest.request_id.as_deref(), Some("req-201"));
        assert_eq!(newest.identity_provider, "entra");
        assert_eq!(newest.path, "/scim/v2/Users/u1");
        assert_eq!(newest.resource_type.as_deref(), Some("User"));
        assert_eq!(newest.latency_ms, 7);
        assert_eq!(newest.summary, "PATCH replace displayName");
        assert_eq!(newest.attributes, vec!["displayName".to_owned()]);
        assert_eq!(newest.time.to_rfc3339(), "2026-12-07T10:00:00.500+00:00");
        // Their counts were moved too (migration 000190 counts them per minute).
        let at = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .with_timezone(&Utc)
        };
        let mut counts: Vec<(u16, u64, u64)> = store
            .count_activity(
                &acme,
                at("2026-12-07T00:00:00Z"),
                at("2026-12-07T10:00:00Z"),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.status, c.day, c.hour))
            .collect();
        counts.sort_unstable();
        assert_eq!(counts, [(200, 1, 1), (201, 1, 1), (409, 1, 1)]);
        let later_hour = store
            .count_activity(
                &acme,
                at("2026-12-07T00:00:00Z"),
                at("2026-12-07T10:01:00Z"),
            )
            .await
            .unwrap();
        assert!(
            later_hour.iter().all(|c| c.day == 1 && c.hour == 0),
            "{later_hour:?}"
        );
        let failure = store
            .last_activity(&acme, "entra", true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failure.detail.as_deref(), Some("userName is taken"));
        let success = store
            .last_activity(&acme, "entra", false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(success.id, newest.id);
        // A record written after the move (its time as integer nanoseconds) goes back too.
        let mut later = newest.clone();
        later.id = "0193a000-0000-7000-8000-000000000004".into();
        later.time = chrono::DateTime::parse_from_rfc3339("2026-12-07T11:00:00.25Z")
            .unwrap()
            .with_timezone(&Utc);
        store
            .record_activity(
                &[NewActivity {
                    tenant: acme.clone(),
                    record: later,
                    body: None,
                }],
                &[],
            )
            .await
            .unwrap();
        store.close().await.unwrap();

        // Back to before the packed table (and the migrations after it).
        Migrator::down(&conn, Some(u32::try_from(all.len() - pack).unwrap()))
            .await
            .unwrap();
        let rows = conn
            .query_all(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT \"id\", \"detail\", \"latency_ms\", \"summary\" FROM \"activity_records\" \
                 ORDER BY \"id\"",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[1]
                .try_get::<Option<String>>("", "detail")
                .unwrap()
                .as_deref(),
            Some("userName is taken")
        );
        assert_eq!(rows[2].try_get::<i64>("", "latency_ms").unwrap(), 7);
        let later = conn
            .query_one(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT \"time\" FROM \"activity_records\" \
                 WHERE \"id\" = '0193a000-0000-7000-8000-000000000004'",
            ))
            .await
            .unwrap()
            .unwrap();
        let time: chrono::DateTime<Utc> = if postgres {
            later.try_get("", "time").unwrap()
        } else {
            let text: String = later.try_get("", "time").unwrap();
            chrono::DateTime::parse_from_rfc3339(&text)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(time.to_rfc3339(), "2026-12-07T11:00:00.250+00:00");
        Migrator::up(&conn, None).await.unwrap();
        conn.close().await.unwrap();
    }
}

/// A key's last success and last failure stay the newest records even when batches arrive out
/// of order (two processes flush on their own schedule).
#[actix_web::test]
async fn the_last_success_and_failure_survive_batches_written_out_of_order() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let t = TenantId::parse("acme").unwrap();
        let record = |id: &str, status: u16| NewActivity {
            tenant: t.clone(),
            record: ActivityRecord {
                id: id.into(),
                time: Utc::now(),
                request_id: None,
                actor_kind: "key".into(),
                actor: "okta".into(),
                identity_provider: "okta".into(),
                method: "GET".into(),
                path: "/scim/v2/Users".into(),
                resource_type: None,
                resource_id: None,
                filter: None,
                status,
                scim_type: None,
                detail: Some(format!("record {id}")),
                latency_ms: 1,
                summary: "list Users".into(),
                attributes: Vec::new(),
                has_body: false,
            },
            body: None,
        };
        let newer = "0193a000-0000-7000-8000-0000000000f0";
        let older = "0193a000-0000-7000-8000-00000000000f";
        app.store
            .record_activity(
                &[
                    record(newer, 200),
                    record(newer.replace("f0", "f1").as_str(), 500),
                ],
                &[],
            )
            .await
            .unwrap();
        app.store
            .record_activity(
                &[record(older, 200), record(&older.replace("0f", "0e"), 500)],
                &[],
            )
            .await
            .unwrap();
        let (success, failure) = last_success_and_failure(&app.store, &t).await;
        assert_eq!(success.id, newer);
        assert_eq!(failure.id, newer.replace("f0", "f1"));
        // A batch with only a newer success leaves the failure where it was.
        let newest = "0193a000-0000-7000-8000-0000000000ff";
        app.store
            .record_activity(&[record(newest, 204)], &[])
            .await
            .unwrap();
        let (success, failure) = last_success_and_failure(&app.store, &t).await;
        assert_eq!(success.id, newest);
        assert_eq!(
            failure.detail,
            Some(format!("record {}", newer.replace("f0", "f1")))
        );
    }
}

/// The last success and the last failure of the key `okta` in `tenant`.
async fn last_success_and_failure(
    store: &scim_store::Store,
    tenant: &TenantId,
) -> (ActivityRecord, ActivityRecord) {
    let last = |failed| store.last_activity(tenant, "okta", failed);
    (
        last(false).await.unwrap().unwrap(),
        last(true).await.unwrap().unwrap(),
    )
}

/// A record of key `actor` of `acme` at `time`.
fn made_at(
    time: chrono::DateTime<Utc>,
    actor: &str,
    method: &'static str,
    resource: &str,
) -> NewActivity {
    NewActivity {
        tenant: TenantId::parse("acme").unwrap(),
        record: ActivityRecord {
            id: scim_store::activity_id(time),
            time,
            request_id: None,
            actor_kind: "key".into(),
            actor: actor.into(),
            identity_provider: "other".into(),
            method: method.into(),
            path: format!("/scim/v2/Users/{resource}"),
            resource_type: Some("User".into()),
            resource_id: Some(resource.into()),
            filter: None,
            status: 200,
            scim_type: None,
            detail: None,
            latency_ms: 1,
            summary: "get".into(),
            attributes: Vec::new(),
            has_body: false,
        },
        body: None,
    }
}

/// Every record of a read, page after page of `limit`, with how many pages it took.
async fn walk<S, B>(app: &TestApp<S>, query: &str, limit: usize) -> (Vec<String>, usize)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let r = read(app, &q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        pages += 1;
        let records = r.body["records"].as_array().unwrap();
        assert!(records.len() <= limit);
        ids.extend(records.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (ids, pages),
        }
        assert!(pages < 1_000, "no end to the pages");
    }
}

/// Two processes flush on their own schedules, so their batches overlap in time: a read still
/// answers records newest first, page after page, whatever the filter, and a read that has
/// to decode many records without finding what it wants answers with a cursor where it
/// stopped instead of reading on.
#[actix_web::test]
async fn batches_that_overlap_in_time_are_read_in_order_and_long_scans_stop_with_a_cursor() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let t0 = Utc::now() - Duration::minutes(10);
        let at = |ms: i64| t0 + Duration::milliseconds(ms);
        // "Process" one writes even milliseconds, "process" two odd ones, each in two batches.
        let mut all = Vec::new();
        for (process, offsets) in [(0, [0, 2, 4, 6, 8, 10]), (1, [1, 3, 5, 7, 9, 11])] {
            let records: Vec<NewActivity> = offsets
                .iter()
                .map(|ms| {
                    let resource = if ms % 3 == 0 { "u3" } else { "ux" };
                    made_at(at(*ms), ["entra", "okta"][process], "GET", resource)
                })
                .collect();
            for half in records.chunks(3) {
                let done = app.store.record_activity(half, &[]).await.unwrap();
                assert_eq!(done.written, 3);
            }
            all.extend(records);
        }
        all.sort_by(|a, b| b.record.id.cmp(&a.record.id));
        let newest_first: Vec<String> = all.iter().map(|r| r.record.id.clone()).collect();
        for limit in [1, 2, 5, 12, 100] {
            let (ids, _) = walk(&app, "x=1", limit).await;
            assert_eq!(ids, newest_first, "limit {limit}");
        }
        let of = |keep: &dyn Fn(&NewActivity) -> bool| -> Vec<String> {
            all.iter()
                .filter(|r| keep(r))
                .map(|r| r.record.id.clone())
                .collect()
        };
        let (ids, _) = walk(&app, "key=okta", 2).await;
        assert_eq!(ids, of(&|r| r.record.actor == "okta"));
        let (ids, _) = walk(&app, "resourceId=u3", 1).await;
        assert_eq!(ids, of(&|r| r.record.resource_id.as_deref() == Some("u3")));
        let since = urlencode(&at(3).to_rfc3339());
        let until = urlencode(&at(9).to_rfc3339());
        let (ids, _) = walk(&app, &format!("since={since}&until={until}"), 2).await;
        assert_eq!(
            ids,
            of(&|r| r.record.time >= at(3) && r.record.time < at(9))
        );

        // 50,100 reads, then (older than all of them) one DELETE: a read of DELETEs decodes
        // 50,000 records, answers none and a cursor, and the next page finds it.
        let old = made_at(t0 - Duration::minutes(5), "entra", "DELETE", "gone");
        app.store
            .record_activity(std::slice::from_ref(&old), &[])
            .await
            .unwrap();
        let many: Vec<NewActivity> = (0..50_100)
            .map(|i| {
                made_at(
                    t0 - Duration::minutes(4) + Duration::microseconds(i * 10),
                    "entra",
                    "GET",
                    "ux",
                )
            })
            .collect();
        for chunk in many.chunks(500) {
            app.store.record_activity(chunk, &[]).await.unwrap();
        }
        let first = read(&app, "method=DELETE&limit=10").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(
            first.body["records"],
            json!([]),
            "the scan stopped before the DELETE"
        );
        assert!(first.body["nextCursor"].is_string(), "{}", first.body);
        let (ids, pages) = walk(&app, "method=DELETE", 10).await;
        assert_eq!(ids, vec![old.record.id.clone()]);
        assert_eq!(pages, 2);
    }
}
