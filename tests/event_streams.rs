//! RFC 9967 event streams (issue 20): streams managed over the admin API (checked, audited,
//! isolated, secrets shown once), SETs polled by RFC 8936 with acknowledgements and long
//! polls, SETs pushed by RFC 8935 to a receiver on loopback that fails then recovers, full
//! streams carrying the resource after each change, every SET verified with the tenant's
//! published JWKS, and `/ServiceProviderConfig` advertising `securityEvents`.

use std::collections::{HashMap, HashSet};

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{Method, StatusCode},
};
use chrono::{Duration, Utc};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::{json, Value};

use crate::common::{backends, new_key, raw_key, spawn_with, user_body, Resp, TestApp};
use crate::webhooks::{delivery, set_issuer, start_receiver, vars, Answer};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ISSUER: &str = "https://scim.example.test/events/acme";
const PROV: &str = "urn:ietf:params:scim:event:prov:";

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

async fn scim<S, B>(app: &TestApp<S>, method: Method, path: &str, body: Option<Value>) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let token = app.scim_token.clone();
    app.call(method, &format!("/scim/v2{path}"), Some(&token), body)
        .await
}

/// Creates a poll stream; returns its id and secret.
async fn poll_stream<S, B>(app: &TestApp<S>, format: &str) -> (String, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = admin(
        app,
        Method::POST,
        "/eventStreams",
        Some(json!({"delivery": "poll", "audience": "https://rp.example", "format": format})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["pollUrl"],
        json!(format!("{ISSUER}/streams/{id}/poll"))
    );
    (id, r.body["secret"].as_str().unwrap().to_owned())
}

/// One poll: status and body.
async fn poll<S, B>(app: &TestApp<S>, stream: &str, secret: &str, body: Value) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    app.call_raw(
        Method::POST,
        &format!("/events/acme/streams/{stream}/poll"),
        Some(secret),
        Some("application/json"),
        Some(body.to_string().into_bytes()),
    )
    .await
}

/// The tenant's published keys.
async fn jwks<S, B>(app: &TestApp<S>) -> JwkSet
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = app
        .call(Method::GET, "/events/acme/jwks.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    serde_json::from_value(r.body).unwrap()
}

/// The claims of `set`, after checking its header and ES256 signature against `keys`, and its
/// issuer and audience.
fn verified(set: &str, keys: &JwkSet, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(set).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    let kid = header.kid.expect("kid");
    let jwk = keys.find(&kid).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(set, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

/// `(jti, claims)` of a poll answer's SETs, in event order.
fn sets_of(r: &Resp, keys: &JwkSet) -> Vec<(String, Value)> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut sets: Vec<(String, Value)> = r.body["sets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(jti, set)| {
            let claims = verified(set.as_str().unwrap(), keys, "https://rp.example");
            assert_eq!(claims["jti"], json!(jti));
            (jti.clone(), claims)
        })
        .collect();
    sets.sort_by_key(|(jti, _)| jti.split('.').next().unwrap().parse::<i64>().unwrap());
    sets
}

/// The one event URI of a SET.
fn uri(claims: &Value) -> String {
    let events = claims["events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "{claims}");
    events.keys().next().unwrap().clone()
}

#[actix_web::test]
async fn a_polled_stream_serves_signed_sets_until_they_are_acknowledged() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let (stream, secret) = poll_stream(&app, "notice").await;
        let keys = jwks(&app).await;

        let r = scim(&app, Method::POST, "/Users", Some(user_body("bjensen"))).await;
        assert_eq!(r.status, StatusCode::CREATED);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Barbara"},
                {"op": "replace", "path": "active", "value": false},
            ]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = scim(&app, Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);

        // Everything, signed, in order.
        let r = poll(&app, &stream, &secret, json!({"returnImmediately": true})).await;
        let sets = sets_of(&r, &keys);
        assert_eq!(r.body["moreAvailable"], json!(false));
        let uris: Vec<String> = sets.iter().map(|(_, c)| uri(c)).collect();
        assert_eq!(
            uris,
            [
                format!("{PROV}create:notice"),
                format!("{PROV}patch:notice"),
                format!("{PROV}deactivate"),
                format!("{PROV}delete"),
            ]
        );
        let (_, created) = &sets[0];
        assert_eq!(created["sub_id"]["format"], json!("scim"));
        assert_eq!(created["sub_id"]["uri"], json!(format!("/Users/{id}")));
        assert_eq!(created["iss"], json!(ISSUER));
        assert!(created["txn"].as_str().is_some_and(|t| !t.is_empty()));
        let patched = &sets[1].1["events"][format!("{PROV}patch:notice")];
        assert_eq!(patched["attributes"], json!(["displayName"]));
        assert_eq!(patched["version"], json!("W/\"2\""));

        // Unacknowledged SETs come again; acknowledged ones do not, even out of order.
        let jtis: Vec<String> = sets.iter().map(|(j, _)| j.clone()).collect();
        let r = poll(
            &app,
            &stream,
            &secret,
            json!({"ack": [jtis[1], jtis[0]], "returnImmediately": true, "maxEvents": 1}),
        )
        .await;
        let again = sets_of(&r, &keys);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].0, jtis[2]);
        assert_eq!(r.body["moreAvailable"], json!(true));
        // The fourth acknowledged before the third: the third still comes, alone.
        let r = poll(
            &app,
            &stream,
            &secret,
            json!({"ack": [jtis[3]], "returnImmediately": true}),
        )
        .await;
        let again = sets_of(&r, &keys);
        assert_eq!(again.iter().map(|(j, _)| j).collect::<Vec<_>>(), [&jtis[2]]);
        // A refused SET counts as received, and its error is shown to the admin.
        let mut errs = serde_json::Map::new();
        errs.insert(
            jtis[2].clone(),
            json!({"err": "invalid_key", "description": "unknown kid"}),
        );
        let r = poll(
            &app,
            &stream,
            &secret,
            json!({"setErrs": errs, "returnImmediately": true}),
        )
        .await;
        assert!(sets_of(&r, &keys).is_empty(), "{}", r.body);
        assert_eq!(r.body["moreAvailable"], json!(false));
        let view = admin(&app, Method::GET, &format!("/eventStreams/{stream}"), None).await;
        assert!(
            view.body["lastError"]
                .as_str()
                .unwrap()
                .contains("invalid_key"),
            "{}",
            view.body
        );
        assert!(view.body["position"].as_i64().unwrap() > 0);

        // A long poll waits for the next change and returns its SET.
        let waiting = poll(&app, &stream, &secret, json!({}));
        let change = async {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(400)).await;
            scim(&app, Method::POST, "/Users", Some(user_body("later"))).await
        };
        let (r, created) = tokio::join!(waiting, change);
        assert_eq!(created.status, StatusCode::CREATED);
        let sets = sets_of(&r, &keys);
        assert_eq!(sets.len(), 1, "{}", r.body);
        assert_eq!(uri(&sets[0].1), format!("{PROV}create:notice"));

        // Wrong secrets, wrong streams, wrong tenants: one answer.
        for (path_tenant, path_stream, token) in [
            ("acme", stream.as_str(), "setpoll_wrong"),
            (
                "acme",
                "00000000-0000-0000-0000-000000000000",
                secret.as_str(),
            ),
            ("globex", stream.as_str(), secret.as_str()),
            ("acme", stream.as_str(), app.admin_token.as_str()),
        ] {
            let r = app
                .call_raw(
                    Method::POST,
                    &format!("/events/{path_tenant}/streams/{path_stream}/poll"),
                    Some(token),
                    Some("application/json"),
                    Some(b"{}".to_vec()),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{path_tenant} {path_stream}"
            );
            assert_eq!(r.body["err"], json!("authentication_failed"));
        }
        let r = poll(&app, &stream, &secret, json!({"maxEvents": "ten"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body["err"], json!("invalid_request"));
    }
}

#[actix_web::test]
async fn a_full_stream_carries_the_resource_after_each_change() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        let (stream, secret) = poll_stream(&app, "full").await;
        let keys = jwks(&app).await;

        let mut body = user_body("bjensen");
        body["password"] = json!("t1meMa$heen-Secret");
        let r = scim(&app, Method::POST, "/Users", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::CREATED);
        let id = r.body["id"].as_str().unwrap().to_owned();
        body["displayName"] = json!("Barbara Jensen");
        let r = scim(&app, Method::PUT, &format!("/Users/{id}"), Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "name.givenName", "value": "Babs"},
            ]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = scim(
            &app,
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Staff",
                "members": [{"value": id}],
            })),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        let r = poll(&app, &stream, &secret, json!({"returnImmediately": true})).await;
        let sets = sets_of(&r, &keys);
        let uris: Vec<String> = sets.iter().map(|(_, c)| uri(c)).collect();
        assert_eq!(
            uris,
            [
                format!("{PROV}create:full"),
                format!("{PROV}put:full"),
                format!("{PROV}patch:full"),
                format!("{PROV}create:full"),
                format!("{PROV}patch:full"),
            ],
            "{sets:?}"
        );
        let created = &sets[0].1["events"][format!("{PROV}create:full")];
        assert_eq!(created["data"]["userName"], json!("bjensen"));
        assert_eq!(created["data"]["id"], json!(id));
        assert_eq!(created["version"], json!("W/\"1\""));
        let text = r.body.to_string();
        assert!(
            !text.contains("t1meMa") && !text.contains("argon2"),
            "no password in a SET"
        );
        for (_, set) in &sets {
            assert!(!set.to_string().contains("password"), "{set}");
        }
        let put = &sets[1].1["events"][format!("{PROV}put:full")];
        assert_eq!(put["data"]["displayName"], json!("Barbara Jensen"));
        let patch = &sets[2].1["events"][format!("{PROV}patch:full")];
        assert_eq!(patch["data"]["schemas"], json!([PATCH_OP]));
        assert_eq!(patch["data"]["Operations"][0]["op"], json!("replace"));
        assert_eq!(patch["data"]["Operations"][0]["path"], json!("name"));
        assert_eq!(
            patch["data"]["Operations"][0]["value"]["givenName"],
            json!("Babs")
        );
        let members = &sets[4].1["events"][format!("{PROV}patch:full")]["data"]["Operations"][0];
        assert_eq!(members["op"], json!("add"));
        assert_eq!(members["value"], json!([{"value": id}]));

        // Once no stream is full, events stop keeping the resource: a new stream of the same
        // events gets notices.
        let r = admin(
            &app,
            Method::DELETE,
            &format!("/eventStreams/{stream}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let (notice, secret) = poll_stream(&app, "full").await;
        let r = admin(
            &app,
            Method::PUT,
            &format!("/eventStreams/{notice}"),
            Some(json!({"audience": "https://rp.example", "format": "notice"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        scim(&app, Method::POST, "/Users", Some(user_body("plain"))).await;
        let r = poll(&app, &notice, &secret, json!({"returnImmediately": true})).await;
        let sets = sets_of(&r, &keys);
        assert_eq!(uri(&sets[0].1), format!("{PROV}create:notice"));
        let kept: Vec<Option<Value>> = app
            .store
            .recent_events(&app.tenant, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.data)
            .collect();
        assert_eq!(kept, [None], "no full stream: no resource kept");
    }
}

#[actix_web::test]
async fn a_pushed_stream_is_delivered_in_order_and_verifies_against_the_jwks() {
    for backend in backends() {
        let app = spawn_with(backend, vars()).await;
        let (url, receiver) = start_receiver(vec![
            Answer::Status(503),
            Answer::Slow(1500),
            Answer::Status(400),
        ]);
        let r = admin(
            &app,
            Method::POST,
            "/eventStreams",
            Some(json!({
                "delivery": "push",
                "endpointUrl": url,
                "endpointToken": "receiver-token-123",
                "audience": "https://rp.example",
                "eventTypes": ["user.created", "user.deleted"],
            })),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(
            r.body.get("secret").is_none(),
            "a push stream has no poll secret"
        );
        assert!(!r.body.to_string().contains("receiver-token-123"));
        assert_eq!(r.body["hasEndpointToken"], json!(true));
        let stream = r.body["id"].as_str().unwrap().to_owned();
        let keys = jwks(&app).await;

        let mut ids = Vec::new();
        for name in ["a", "b", "c"] {
            let r = scim(&app, Method::POST, "/Users", Some(user_body(name))).await;
            ids.push(r.body["id"].as_str().unwrap().to_owned());
        }
        // Not wanted by the stream: a PATCH.
        let r = scim(
            &app,
            Method::PATCH,
            &format!("/Users/{}", ids[0]),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "A"}]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = scim(&app, Method::DELETE, &format!("/Users/{}", ids[1]), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);

        // Waiting: the backlog shows in /metrics (read from the database on every process).
        let metric = |text: &str, name: &str| -> Option<i64> {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}{{tenant=\"acme\"}} ")))
                .map(|v| v.trim().parse().unwrap())
        };
        let scrape = app.call(Method::GET, "/metrics", None, None).await;
        let text = scrape.body.as_str().unwrap().to_owned();
        assert_eq!(metric(&text, "scimd_events_sequence"), Some(5), "{text}");
        assert!(metric(&text, "scimd_events_oldest_undelivered_seconds").is_some());

        let (sender, config) = delivery();
        let issuer = set_issuer(&app.store);
        let mut later = Utc::now();
        let delivered = |r: &crate::webhooks::Receiver| r.got.len().saturating_sub(3);
        for _ in 0..40 {
            if delivered(&receiver.lock().unwrap()) >= 4 {
                break;
            }
            later += Duration::minutes(5);
            scim_webhooks::pass(&app.store, &sender, &issuer, &config, "test", later)
                .await
                .unwrap();
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let got = receiver.lock().unwrap().got.clone();
        // Three failures (503, a timeout, a 400) then the four SETs; in process mode the serving
        // processes deliver too, so a SET may come twice, never out of order for its resource.
        let mut seen: Vec<(String, String)> = Vec::new();
        for request in &got {
            assert_eq!(request.headers["content-type"], "application/secevent+jwt");
            assert_eq!(request.headers["accept"], "application/json");
            assert_eq!(
                request.headers["authorization"],
                "Bearer receiver-token-123"
            );
            let claims = verified(&request.body, &keys, "https://rp.example");
            let entry = (
                uri(&claims),
                claims["sub_id"]["uri"].as_str().unwrap().to_owned(),
            );
            if !seen.contains(&entry) {
                seen.push(entry);
            }
        }
        // Each SET, in order per resource: the first alone (it was refused first), the others
        // on lanes by resource, so the second user's create comes before its delete.
        let expected = [
            (format!("{PROV}create:notice"), format!("/Users/{}", ids[0])),
            (format!("{PROV}create:notice"), format!("/Users/{}", ids[1])),
            (format!("{PROV}create:notice"), format!("/Users/{}", ids[2])),
            (format!("{PROV}delete"), format!("/Users/{}", ids[1])),
        ];
        assert_eq!(seen[0], expected[0], "{seen:?}");
        let mut sorted = seen.clone();
        sorted.sort();
        let mut wanted = expected.to_vec();
        wanted.sort();
        assert_eq!(sorted, wanted, "{seen:?}");
        let at = |e: &(String, String)| seen.iter().position(|s| s == e).unwrap();
        assert!(at(&expected[1]) < at(&expected[3]), "{seen:?}");
        let attempts = admin(
            &app,
            Method::GET,
            &format!("/eventStreams/{stream}/attempts"),
            None,
        )
        .await;
        assert_eq!(attempts.status, StatusCode::OK);
        let statuses: Vec<Value> = attempts.body["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["statusCode"].clone())
            .collect();
        assert!(
            statuses.contains(&json!(503)) && statuses.contains(&json!(400)),
            "{statuses:?}"
        );
        let view = admin(&app, Method::GET, &format!("/eventStreams/{stream}"), None).await;
        assert_eq!(view.body["state"], json!("healthy"), "{}", view.body);
        let scrape = app.call(Method::GET, "/metrics", None, None).await;
        let text = scrape.body.as_str().unwrap().to_owned();
        assert_eq!(
            metric(&text, "scimd_events_oldest_undelivered_seconds"),
            Some(0),
            "{text}"
        );
        assert_eq!(
            metric(&text, "scimd_event_destinations_failing"),
            Some(0),
            "{text}"
        );
        assert!(
            app.store
                .list_webhooks(&app.tenant)
                .await
                .unwrap()
                .is_empty(),
            "streams are not webhooks"
        );
    }
}

#[actix_web::test]
async fn streams_are_checked_isolated_and_their_secrets_never_shown_again() {
    for backend in backends() {
        let app = spawn_with(backend, HashMap::new()).await;
        for (body, field) in [
            (json!({"audience": "x"}), "delivery"),
            (
                json!({"delivery": "carrier-pigeon", "audience": "x"}),
                "delivery",
            ),
            (json!({"delivery": "poll"}), "audience"),
            (json!({"delivery": "push", "audience": "x"}), "endpointUrl"),
            (
                json!({"delivery": "push", "audience": "x", "endpointUrl": "https://10.0.0.1/e"}),
                "endpointUrl",
            ),
            (
                json!({"delivery": "poll", "audience": "x", "endpointUrl": "https://rp.example/e"}),
                "endpointUrl",
            ),
            (
                json!({"delivery": "poll", "audience": "x", "format": "verbose"}),
                "format",
            ),
            (
                json!({"delivery": "poll", "audience": "x", "eventTypes": []}),
                "eventTypes",
            ),
        ] {
            let r = admin(&app, Method::POST, "/eventStreams", Some(body.clone())).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body} {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], json!(field), "{body} {}", r.body);
        }
        let (stream, secret) = poll_stream(&app, "notice").await;
        for r in [
            admin(&app, Method::GET, "/eventStreams", None).await,
            admin(&app, Method::GET, &format!("/eventStreams/{stream}"), None).await,
        ] {
            assert_eq!(r.status, StatusCode::OK);
            assert!(!r.body.to_string().contains(&secret), "{}", r.body);
        }
        // A stream keeps its delivery method.
        let r = admin(
            &app,
            Method::PUT,
            &format!("/eventStreams/{stream}"),
            Some(
                json!({"delivery": "push", "audience": "x", "endpointUrl": "https://rp.example/e"}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

        // Permissions: reading needs tenant.events:read, changing tenant.events:write.
        let reader = raw_key(
            &app.store,
            &app.tenant,
            "reader",
            Scope::PublicApi,
            &["tenant.events:read"],
            Duration::days(30),
        )
        .await;
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/eventStreams",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .call(
                Method::DELETE,
                &format!("/api/acme/admin/eventStreams/{stream}"),
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // The audit names the change, never the secret.
        let audit = admin(
            &app,
            Method::GET,
            "/auditEvents?targetType=event_stream",
            None,
        )
        .await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
        assert!(
            audit.body.to_string().contains("event_stream.create"),
            "{}",
            audit.body
        );
        assert!(!audit.body.to_string().contains(&secret));

        // Another tenant sees none of it.
        let globex = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&globex, None, Utc::now())
            .await
            .unwrap();
        let other = new_key(&app.store, &globex, "admin", Scope::PublicApi).await;
        for (method, path) in [
            (
                Method::GET,
                format!("/api/acme/admin/eventStreams/{stream}"),
            ),
            (Method::GET, "/api/acme/admin/eventStreams".to_owned()),
            (
                Method::DELETE,
                format!("/api/acme/admin/eventStreams/{stream}"),
            ),
            (
                Method::GET,
                format!("/api/globex/admin/eventStreams/{stream}"),
            ),
        ] {
            let r = app.call(method.clone(), &path, Some(&other), None).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path} {}",
                r.body
            );
        }
        let r = app
            .call(
                Method::GET,
                "/api/globex/admin/eventStreams",
                Some(&other),
                None,
            )
            .await;
        assert_eq!(r.body["eventStreams"], json!([]));
        // Each tenant has its own signing key; an unknown tenant has none.
        let acme = jwks(&app).await;
        let r = app
            .call(Method::GET, "/events/globex/jwks.json", None, None)
            .await;
        let globex_keys: JwkSet = serde_json::from_value(r.body).unwrap();
        assert_ne!(
            acme.keys[0].common.key_id,
            globex_keys.keys[0].common.key_id
        );
        let r = app
            .call(Method::GET, "/events/nobody/jwks.json", None, None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // Discovery names the events scimd emits, to a tenant that has event streams.
        let r = scim(&app, Method::GET, "/ServiceProviderConfig", None).await;
        let uris = r.body["securityEvents"]["eventUris"].as_array().unwrap();
        assert!(uris.contains(&json!(format!("{PROV}create:full"))));
        assert!(uris.contains(&json!(format!("{PROV}deactivate"))));
        assert_eq!(r.body["securityEvents"]["asyncRequest"], json!("none"));

        // A polled stream is not pushed again: its receiver polls what it has not acknowledged.
        let r = admin(
            &app,
            Method::POST,
            &format!("/eventStreams/{stream}/resend"),
            Some(json!({"eventId": "x"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

        // Deleted: its secret polls nothing.
        let r = admin(
            &app,
            Method::DELETE,
            &format!("/eventStreams/{stream}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = poll(&app, &stream, &secret, json!({})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}
