//! OAuth 2.0 for identity providers (issue 19): the token endpoint with each client
//! authentication, its errors (the same bytes for every bad client), access tokens on
//! `/scim/v2` and their end with their key, the tenant's token lifetime, the RFC 8414 metadata
//! and `/ServiceProviderConfig`. In process mode (`SCIMD_TEST_PROCESSES=2`) consecutive
//! requests go to different processes, so "refused on the next request" holds across them.

use std::collections::HashMap;

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{header::HeaderMap, Method, StatusCode},
    test::TestRequest,
};
use base64::Engine;
use chrono::Duration;
use scim_auth::Scope;
use serde_json::{json, Value};

use crate::common::{backends, raw_key, spawn_with, user_body, TestApp};
use crate::on_each_backend;

const FORM: &str = "application/x-www-form-urlencoded";

/// A token endpoint answer: status, headers, body text and body JSON.
struct TokenResp {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    body: Value,
}

impl TokenResp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn access_token(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.body["access_token"].as_str().unwrap().to_owned()
    }
}

fn basic(id: &str, secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

async fn post_token<S, B>(
    app: &TestApp<S>,
    path: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: &str,
) -> TokenResp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", content_type))
        .set_payload(body.to_owned());
    if let Some(a) = authorization {
        req = req.insert_header(("Authorization", a));
    }
    let (status, headers, text) = app.send(req).await;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    TokenResp {
        status,
        headers,
        text,
        body,
    }
}

/// `client_secret_basic` at acme's token endpoint.
async fn token_basic<S, B>(app: &TestApp<S>, id: &str, secret: &str) -> TokenResp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    post_token(
        app,
        "/oauth2/acme/token",
        Some(&basic(id, secret)),
        FORM,
        "grant_type=client_credentials",
    )
    .await
}

/// `client_secret_post` at acme's token endpoint.
async fn token_post<S, B>(app: &TestApp<S>, id: &str, secret: &str) -> TokenResp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    post_token(
        app,
        "/oauth2/acme/token",
        None,
        FORM,
        &format!("grant_type=client_credentials&scope=scim&client_id={id}&client_secret={secret}"),
    )
    .await
}

/// The client id of key `name` of acme, from the admin API.
async fn client_id<S, B>(app: &TestApp<S>, name: &str) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = app
        .call(
            Method::GET,
            &format!("/api/acme/admin/apiKeys/{name}"),
            Some(&app.admin_token.clone()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["clientId"].as_str().expect("clientId").to_owned()
}

on_each_backend!(
    each_client_authentication_gets_a_token_that_works_on_scim,
    |app| {
        let id = client_id(&app, "entra").await;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let secret = app.scim_token.clone();
        let both = post_token(
            &app,
            "/oauth2/acme/token",
            Some(&basic(&id, &secret)),
            FORM,
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        )
        .await;
        for r in [
            token_basic(&app, &id, &secret).await,
            token_post(&app, &id, &secret).await,
            both,
        ] {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert_eq!(r.header("pragma"), Some("no-cache"));
            assert_eq!(r.body["token_type"], "Bearer");
            assert_eq!(r.body["expires_in"], 3600);
            let token = r.access_token();
            assert!(token.starts_with("scimd_at_"), "{token}");
            assert!(!r.text.contains(&secret), "the secret is never echoed");
            // The token works where the key works, and carries its tenant.
            let created = app
                .call(
                    Method::POST,
                    "/scim/v2/Users",
                    Some(&token),
                    Some(user_body(&format!("oauth-{}@acme.test", &token[9..15]))),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            let listed = app
                .call(Method::GET, "/scim/v2/Users", Some(&token), None)
                .await;
            assert_eq!(listed.status, StatusCode::OK);
            // Never on the admin API.
            let admin = app
                .call(Method::GET, "/api/acme/admin/apiKeys", Some(&token), None)
                .await;
            assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
        }
        // The client id is stable across a rotation; the new value is the new secret, the
        // old one still works during the grace period.
        let rotated = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys/entra/rotate",
                Some(&app.admin_token.clone()),
                Some(json!({"gracePeriodMinutes": 60})),
            )
            .await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
        assert_eq!(rotated.body["clientId"], id.as_str());
        let new_secret = rotated.body["token"].as_str().unwrap().to_owned();
        assert_eq!(
            token_basic(&app, &id, &new_secret).await.status,
            StatusCode::OK
        );
        assert_eq!(token_basic(&app, &id, &secret).await.status, StatusCode::OK);
    }
);

on_each_backend!(every_bad_client_gets_the_same_answer, |app| {
    let id = client_id(&app, "entra").await;
    let admin = app.admin_token.clone();
    // Keys of each unusable kind, each with its own client id.
    let expired = raw_key(
        &app.store,
        &app.tenant,
        "expired",
        Scope::Scim,
        &["scim:read", "scim:write"],
        Duration::seconds(-1),
    )
    .await;
    let mut unusable = vec![(client_id(&app, "expired").await, expired)];
    for (name, action) in [("disabled", "disable"), ("revoked", "revoke")] {
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys",
                Some(&admin),
                Some(json!({"name": name, "scope": "scim"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let secret = r.body["token"].as_str().unwrap().to_owned();
        let changed = match action {
            "disable" => {
                app.call(
                    Method::PUT,
                    &format!("/api/acme/admin/apiKeys/{name}"),
                    Some(&admin),
                    Some(json!({"enabled": false, "permissions": ["*"]})),
                )
                .await
            }
            _ => {
                app.call(
                    Method::POST,
                    &format!("/api/acme/admin/apiKeys/{name}/revoke"),
                    Some(&admin),
                    None,
                )
                .await
            }
        };
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        unusable.push((r.body["clientId"].as_str().unwrap().to_owned(), secret));
    }
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let good = app.scim_token.clone();
    // The last character changed (to one it is not: a token ending in `x` stayed valid).
    let last = if good.ends_with('x') { 'y' } else { 'x' };
    let mistyped = format!("{}{last}", &good[..good.len() - 1]);
    let mut cases: Vec<(String, String, String)> = vec![
        ("wrong secret".into(), id.clone(), admin.clone()),
        ("mistyped secret".into(), id.clone(), mistyped),
        ("unknown client".into(), unknown_id, good.clone()),
        ("not a uuid".into(), "entra".into(), good.clone()),
    ];
    for (cid, secret) in unusable {
        cases.push(("unusable key".into(), cid, secret));
    }
    let mut answers = Vec::new();
    for (why, cid, secret) in &cases {
        let r = token_basic(&app, cid, secret).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.text);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"scimd\""),
            "{why}"
        );
        answers.push(r.text.clone());
        let r = token_post(&app, cid, secret).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.text);
        assert_eq!(r.header("www-authenticate"), None, "{why}");
        answers.push(r.text);
    }
    // A good client at another (or no) tenant's endpoint: the same answer.
    for path in ["/oauth2/globex/token", "/oauth2/NOT%20A%20TENANT/token"] {
        let r = post_token(
            &app,
            path,
            Some(&basic(&id, &good)),
            FORM,
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text);
        answers.push(r.text);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "no oracle: {answers:?}"
    );
    let body: Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(body["error"], "invalid_client");
});

on_each_backend!(bad_grants_scopes_and_request_shapes, |app| {
    let id = client_id(&app, "entra").await;
    let secret = app.scim_token.clone();
    let auth = basic(&id, &secret);
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("no grant", FORM, "scope=scim", 400, "invalid_request"),
        (
            "password grant",
            FORM,
            "grant_type=password&username=a&password=b",
            400,
            "unsupported_grant_type",
        ),
        (
            "authorization code",
            FORM,
            "grant_type=authorization_code&code=x",
            400,
            "unsupported_grant_type",
        ),
        (
            "another scope",
            FORM,
            "grant_type=client_credentials&scope=admin",
            400,
            "invalid_scope",
        ),
        (
            "a Microsoft scope",
            FORM,
            "grant_type=client_credentials&scope=api%3A%2F%2Fx%2F.default",
            400,
            "invalid_scope",
        ),
        (
            "JSON body",
            "application/json",
            "{\"grant_type\":\"client_credentials\"}",
            400,
            "invalid_request",
        ),
        (
            "repeated parameter",
            FORM,
            "grant_type=client_credentials&grant_type=client_credentials",
            400,
            "invalid_request",
        ),
        (
            "body and header disagree",
            FORM,
            "grant_type=client_credentials&client_id=other",
            400,
            "invalid_request",
        ),
    ];
    for (why, content_type, body, status, error) in cases {
        let r = post_token(&app, "/oauth2/acme/token", Some(&auth), content_type, body).await;
        assert_eq!(r.status.as_u16(), *status, "{why}: {}", r.text);
        assert_eq!(r.body["error"], *error, "{why}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{why}");
    }
    // Credentials in the URL are refused, even when the body is right.
    let r = post_token(
        &app,
        &format!("/oauth2/acme/token?client_secret={secret}"),
        None,
        FORM,
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_request");
    // A bearer key is not client authentication.
    let r = post_token(
        &app,
        "/oauth2/acme/token",
        Some(&format!("Bearer {secret}")),
        FORM,
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // A body past 16 KiB.
    let big = format!("grant_type=client_credentials&pad={}", "x".repeat(20_000));
    let r = post_token(&app, "/oauth2/acme/token", Some(&auth), FORM, &big).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Only POST.
    let r = app
        .call(Method::GET, "/oauth2/acme/token", None, None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // The good request still works after all that.
    assert_eq!(token_basic(&app, &id, &secret).await.status, StatusCode::OK);
});

on_each_backend!(an_access_token_ends_with_its_key, |app| {
    let admin = app.admin_token.clone();
    // One key per way to end it: its token works, then the change, then the next request
    // (on the other process, in process mode) is refused.
    for (name, change) in [
        ("k-disable", "disable"),
        ("k-revoke", "revoke"),
        ("k-delete", "delete"),
        ("k-rotate", "rotate"),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys",
                Some(&admin),
                Some(json!({"name": name, "scope": "on_premise"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["clientId"].as_str().unwrap().to_owned();
        let secret = r.body["token"].as_str().unwrap().to_owned();
        let token = token_basic(&app, &id, &secret).await.access_token();
        let ok = app
            .call(Method::GET, "/scim/v2/Users", Some(&token), None)
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{name}");
        let path = format!("/api/acme/admin/apiKeys/{name}");
        let done = match change {
            "disable" => {
                app.call(
                    Method::PUT,
                    &path,
                    Some(&admin),
                    Some(json!({"enabled": false, "permissions": ["*"]})),
                )
                .await
            }
            "revoke" => {
                app.call(Method::POST, &format!("{path}/revoke"), Some(&admin), None)
                    .await
            }
            "delete" => app.call(Method::DELETE, &path, Some(&admin), None).await,
            // No grace: the old value, and the tokens issued under it, end now.
            _ => {
                app.call(
                    Method::POST,
                    &format!("{path}/rotate"),
                    Some(&admin),
                    Some(json!({})),
                )
                .await
            }
        };
        assert!(done.status.is_success(), "{name}: {}", done.body);
        for _ in 0..app.processes() {
            let r = app
                .call(Method::GET, "/scim/v2/Users", Some(&token), None)
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{change}: {}", r.body);
        }
        if change == "rotate" {
            // The new value gets a new token under the same client id.
            let new_secret = done.body["token"].as_str().unwrap().to_owned();
            let fresh = token_basic(&app, &id, &new_secret).await.access_token();
            let r = app
                .call(Method::GET, "/scim/v2/Users", Some(&fresh), None)
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
        if change == "disable" {
            // Enabled again, the key's tokens work again (disable is reversible).
            let r = app
                .call(
                    Method::PUT,
                    &path,
                    Some(&admin),
                    Some(json!({"enabled": true, "permissions": ["*"]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            let r = app
                .call(Method::GET, "/scim/v2/Users", Some(&token), None)
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
    }
    // A token never outlives its key: a key expiring in 2 s gets a token of at most 2 s,
    // refused once the key has expired.
    let short = raw_key(
        &app.store,
        &app.tenant,
        "short",
        Scope::Scim,
        &["scim:read"],
        Duration::seconds(2),
    )
    .await;
    let id = client_id(&app, "short").await;
    let r = token_post(&app, &id, &short).await;
    let expires_in = r.body["expires_in"].as_i64().unwrap();
    assert!((1..=2).contains(&expires_in), "{expires_in}");
    let token = r.access_token();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = app
        .call(Method::GET, "/scim/v2/Users", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A forged or mistyped access token is refused like a bad key.
    let forged = scim_auth::AccessToken::generate();
    let r = app
        .call(Method::GET, "/scim/v2/Users", Some(forged.expose()), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

on_each_backend!(the_token_lifetime_is_a_tenant_setting, |app| {
    let admin = app.admin_token.clone();
    let r = app
        .call(
            Method::GET,
            "/api/acme/admin/settings/oauth",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"accessTokenLifetimeSeconds": 3600}));
    for bad in [
        json!({"accessTokenLifetimeSeconds": 3599}),
        json!({"accessTokenLifetimeSeconds": 21601}),
        json!({"accessTokenLifetimeSeconds": -1}),
        json!({"accessTokenLifetimeSeconds": 1e20}),
        json!({}),
    ] {
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/settings/oauth",
                Some(&admin),
                Some(bad.clone()),
            )
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
            "{bad}: {} {}",
            r.status,
            r.body
        );
    }
    let r = app
        .call(
            Method::PUT,
            "/api/acme/admin/settings/oauth",
            Some(&admin),
            Some(json!({"accessTokenLifetimeSeconds": 21600})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["accessTokenLifetimeSeconds"], 21600);
    let id = client_id(&app, "entra").await;
    let r = token_basic(&app, &id, &app.scim_token.clone()).await;
    assert_eq!(r.body["expires_in"], 21600, "{}", r.text);
    // Audited, and not the SCIM settings.
    let audit = app
        .call(
            Method::GET,
            "/api/acme/admin/auditEvents?targetType=settings",
            Some(&admin),
            None,
        )
        .await;
    assert!(
        audit
            .body
            .to_string()
            .contains("accessTokenLifetimeSeconds"),
        "{}",
        audit.body
    );
    let scim = app
        .call(
            Method::GET,
            "/api/acme/admin/settings/scim",
            Some(&admin),
            None,
        )
        .await;
    assert!(scim.body.get("accessTokenLifetimeSeconds").is_none());
    // A SCIM key cannot read them (a valid key of the wrong scope: 403).
    let r = app
        .call(
            Method::GET,
            "/api/acme/admin/settings/oauth",
            Some(&app.scim_token.clone()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
});

on_each_backend!(
    metadata_and_service_provider_config_advertise_oauth,
    |app| {
        let r = app
            .call(
                Method::GET,
                "/.well-known/oauth-authorization-server/oauth2/acme",
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["issuer"], "https://scim.example.test/oauth2/acme");
        assert_eq!(
            r.body["token_endpoint"],
            "https://scim.example.test/oauth2/acme/token"
        );
        assert_eq!(
            r.body["grant_types_supported"],
            json!(["client_credentials"])
        );
        let methods = r.body["token_endpoint_auth_methods_supported"].to_string();
        for m in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ] {
            assert!(methods.contains(m), "{m}");
        }
        assert_eq!(r.body["scopes_supported"], json!(["scim"]));
        let r = app
            .call(
                Method::GET,
                "/.well-known/oauth-authorization-server/oauth2/globex",
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let spc = app.get("/scim/v2/ServiceProviderConfig").await;
        let schemes = spc.body["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 2, "{schemes:?}");
        assert!(schemes.iter().any(
            |s| s["type"] == "oauthbearertoken" && s["name"] == "OAuth 2.0 client credentials"
        ));
        // public_api keys are no OAuth clients.
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/apiKeys/admin",
                Some(&app.admin_token.clone()),
                None,
            )
            .await;
        assert_eq!(r.body["clientId"], Value::Null);
    }
);

#[actix_web::test]
async fn tokens_are_rate_limited_per_client_and_failures_per_client_id() {
    for backend in backends() {
        let vars = HashMap::from([
            ("SCIMD_OAUTH_TOKENS_PER_MINUTE".to_owned(), "2".to_owned()),
            ("SCIMD_AUTH_FAILURE_BURST".to_owned(), "3".to_owned()),
            ("SCIMD_AUTH_FAILURES_PER_MINUTE".to_owned(), "1".to_owned()),
        ]);
        let app = spawn_with(backend, vars).await;
        let n = app.processes();
        let id = client_id(&app, "entra").await;
        let secret = app.scim_token.clone();
        // Failures for this client id, from any address: 401 until the budget is spent...
        let wrong = app.admin_token.clone();
        let mut throttled = None;
        for _ in 0..(3 * n + 1) {
            let r = token_post(&app, &id, &wrong).await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                throttled = Some(r);
                break;
            }
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        }
        let throttled = throttled.expect("failures are throttled");
        assert!(throttled.header("retry-after").is_some());
        // ...but the correct secret is still admitted.
        for _ in 0..n {
            assert_eq!(token_post(&app, &id, &secret).await.status, StatusCode::OK);
        }
        // Two tokens a minute per client (per process): the next is 429 with Retry-After.
        let mut limited = None;
        for _ in 0..(2 * n + 1) {
            let r = token_basic(&app, &id, &secret).await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(r);
                break;
            }
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        let limited = limited.expect("token issuance is limited per client");
        assert!(limited.header("retry-after").is_some());
        assert_eq!(limited.body["error"], "temporarily_unavailable");
    }
}

#[actix_web::test]
async fn a_key_keeps_at_most_100_live_tokens() {
    for backend in backends() {
        let vars = HashMap::from([("SCIMD_OAUTH_TOKENS_PER_MINUTE".to_owned(), "0".to_owned())]);
        let app = spawn_with(backend, vars).await;
        let id = client_id(&app, "entra").await;
        let secret = app.scim_token.clone();
        let first = token_basic(&app, &id, &secret).await.access_token();
        let mut last = String::new();
        for _ in 0..100 {
            last = token_basic(&app, &id, &secret).await.access_token();
        }
        let key = app.store.get_api_key(&app.tenant, "entra").await.unwrap();
        let live = app
            .store
            .count_live_access_tokens(&key.id, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(live, 100);
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&first), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the oldest went first");
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&last), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // Expired tokens are purged by the sweep.
        let report = scim_expiry::sweep(
            &app.store,
            &scim_expiry::ExpiryPolicy::default(),
            chrono::Utc::now() + Duration::hours(2),
        )
        .await
        .unwrap();
        assert_eq!(report.access_tokens_purged, 100);
    }
}
