//! Workload identity federation (issue 19, RFC 7523): a SCIM key's federated credential over
//! the admin API, and client assertions at the token endpoint, verified against a JWKS that
//! this test serves on loopback with its own RSA and EC keys (tests/fixtures/federation).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use actix_web::{
    http::{Method, StatusCode},
    test::TestRequest,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{backends, spawn_with};

const RSA1: &[u8] = include_bytes!("fixtures/federation/rsa1.pem");
const RSA2: &[u8] = include_bytes!("fixtures/federation/rsa2.pem");
const EC1: &[u8] = include_bytes!("fixtures/federation/ec1.pem");
const JWKS: &str = include_str!("fixtures/federation/jwks.json");
const ISSUER: &str = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
const SUBJECT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const AUDIENCE: &str = "api://AzureADTokenExchange";
const ASSERTION_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

/// A JWKS server on loopback: serves the keys named in `published`, counts fetches, and can
/// be taken down (it then answers 503).
#[derive(Clone)]
struct JwksServer {
    port: u16,
    published: Arc<Mutex<Vec<&'static str>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl JwksServer {
    async fn start(published: &[&'static str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            port: listener.local_addr().unwrap().port(),
            published: Arc::new(Mutex::new(published.to_vec())),
            fetches: Arc::default(),
            down: Arc::default(),
        };
        let s = server.clone();
        actix_web::rt::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                actix_web::rt::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    let response = if s.down.load(Ordering::SeqCst) {
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                    } else {
                        let all: Value = serde_json::from_str(JWKS).unwrap();
                        let keys: Vec<Value> = s
                            .published
                            .lock()
                            .unwrap()
                            .iter()
                            .map(|name| all[*name].clone())
                            .collect();
                        let body = json!({"keys": keys}).to_string();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        server
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/keys", self.port)
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: &[&'static str]) {
        *self.published.lock().unwrap() = keys.to_vec();
    }
}

/// An assertion signed with `pem` (`alg`) under `kid`, with these claims over the defaults.
fn assertion(alg: Algorithm, pem: &[u8], kid: &str, overrides: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": ISSUER, "sub": SUBJECT, "aud": AUDIENCE,
        "iat": now, "nbf": now - 5, "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    for (k, v) in overrides.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn rs(kid: &str, overrides: Value) -> String {
    let pem = if kid == "r2" { RSA2 } else { RSA1 };
    assertion(Algorithm::RS256, pem, kid, overrides)
}

/// The app with a JWKS server allowed, a SCIM key `entra` carrying a credential for it.
macro_rules! federated_app {
    ($backend:expr, $server:expr) => {{
        let vars = HashMap::from([
            (
                "SCIMD_FEDERATION_JWKS_HOSTS".to_owned(),
                format!("login.microsoftonline.com, 127.0.0.1:{}", $server.port),
            ),
            (
                "SCIMD_FEDERATION_JWKS_MIN_REFRESH_SECS".to_owned(),
                "0".to_owned(),
            ),
            ("SCIMD_OAUTH_TOKENS_PER_MINUTE".to_owned(), "0".to_owned()),
        ]);
        let app = spawn_with($backend, vars).await;
        let admin = app.admin_token.clone();
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/apiKeys/entra/federation",
                Some(&admin),
                Some(json!({
                    "issuer": ISSUER, "jwksUri": $server.uri(), "subject": SUBJECT,
                    "audiences": [AUDIENCE, "api://5f1c0000-0000-0000-0000-000000000000"],
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let client_id = app
            .call(Method::GET, "/api/acme/admin/apiKeys/entra", Some(&admin), None)
            .await
            .body["clientId"]
            .as_str()
            .unwrap()
            .to_owned();
        (app, client_id)
    }};
}

/// A token request with a client assertion: status and body.
macro_rules! assert_with {
    ($app:expr, $client_id:expr, $jwt:expr) => {{
        let req = TestRequest::post()
            .uri("/oauth2/acme/token")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!(
                "grant_type=client_credentials&scope=scim&client_id={}&client_assertion_type={ASSERTION_TYPE}&client_assertion={}",
                $client_id, $jwt
            ));
        let (status, _, text) = $app.send(req).await;
        (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::Null))
    }};
}

#[actix_web::test]
async fn a_federated_credential_is_managed_over_the_admin_api() {
    for backend in backends() {
        let server = JwksServer::start(&["rsa1"]).await;
        let (app, _) = federated_app!(backend, server);
        let admin = app.admin_token.clone();
        let path = "/api/acme/admin/apiKeys/entra/federation";
        let r = app.call(Method::GET, path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["issuer"], ISSUER);
        assert_eq!(r.body["jwksUri"], server.uri());
        assert_eq!(r.body["audiences"][0], AUDIENCE);
        // Setting it fetches nothing.
        assert_eq!(server.fetches(), 0);
        // A host outside the allow-list is refused, and nothing is fetched from it.
        let evil = JwksServer::start(&["rsa1"]).await;
        for uri in [
            evil.uri(),
            "https://evil.example/keys".to_owned(),
            "ftp://login.microsoftonline.com/keys".to_owned(),
        ] {
            let r = app
                .call(
                    Method::PUT,
                    path,
                    Some(&admin),
                    Some(json!({"issuer": ISSUER, "jwksUri": uri, "subject": SUBJECT, "audiences": [AUDIENCE]})),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{uri}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], "jwksUri");
        }
        assert_eq!(evil.fetches(), 0);
        // Bad shapes.
        for body in [
            json!({"issuer": ISSUER, "jwksUri": server.uri(), "subject": SUBJECT, "audiences": []}),
            json!({"issuer": "", "jwksUri": server.uri(), "subject": SUBJECT, "audiences": [AUDIENCE]}),
            json!({"issuer": ISSUER, "jwksUri": server.uri(), "subject": SUBJECT}),
            json!({"issuer": ISSUER, "jwksUri": server.uri(), "subject": SUBJECT, "audiences": [AUDIENCE], "extra": 1}),
        ] {
            let r = app
                .call(Method::PUT, path, Some(&admin), Some(body.clone()))
                .await;
            assert!(r.status.is_client_error(), "{body}: {}", r.status);
        }
        // Only a scim key carries one.
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys",
                Some(&admin),
                Some(json!({"name": "ad", "scope": "on_premise"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/apiKeys/ad/federation",
                Some(&admin),
                Some(json!({"issuer": ISSUER, "jwksUri": server.uri(), "subject": SUBJECT, "audiences": [AUDIENCE]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/apiKeys/ad/federation",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // A SCIM key cannot manage it; another tenant's key neither.
        let r = app
            .call(Method::GET, path, Some(&app.scim_token.clone()), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Removed: audited, then 404.
        let r = app.call(Method::DELETE, path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = app.call(Method::DELETE, path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let audit = app
            .call(
                Method::GET,
                "/api/acme/admin/auditEvents?targetType=apiKey&targetId=entra",
                Some(&admin),
                None,
            )
            .await;
        let text = audit.body.to_string();
        assert!(
            text.contains("apiKey.federation.set") && text.contains("apiKey.federation.clear"),
            "{text}"
        );
    }
}

#[actix_web::test]
async fn only_good_assertions_get_tokens() {
    for backend in backends() {
        let server = JwksServer::start(&["rsa1", "ec1"]).await;
        let (app, client_id) = federated_app!(backend, server);
        // RS256 and ES256, aud as a string or in a list, a second accepted audience.
        for jwt in [
            rs("r1", json!({})),
            assertion(Algorithm::ES256, EC1, "e1", json!({})),
            rs("r1", json!({"aud": ["other", AUDIENCE]})),
            rs(
                "r1",
                json!({"aud": "api://5f1c0000-0000-0000-0000-000000000000"}),
            ),
            // Within the 5 minutes of skew.
            rs("r1", json!({"exp": chrono::Utc::now().timestamp() - 120})),
        ] {
            let (status, body) = assert_with!(app, client_id, jwt);
            assert_eq!(status, StatusCode::OK, "{body}");
            let token = body["access_token"].as_str().unwrap().to_owned();
            let r = app
                .call(Method::GET, "/scim/v2/Users", Some(&token), None)
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
        let now = chrono::Utc::now().timestamp();
        let bad = [
            (
                "wrong iss",
                rs(
                    "r1",
                    json!({"iss": "https://login.microsoftonline.com/other/v2.0"}),
                ),
            ),
            ("wrong sub", rs("r1", json!({"sub": "someone-else"}))),
            ("wrong aud", rs("r1", json!({"aud": "api://other"}))),
            ("no aud", rs("r1", json!({"aud": null}))),
            ("expired", rs("r1", json!({"exp": now - 400}))),
            (
                "not yet valid",
                rs("r1", json!({"nbf": now + 400, "exp": now + 1000})),
            ),
            // Signed by r2 but claiming r1's kid.
            (
                "bad signature",
                assertion(Algorithm::RS256, RSA2, "r1", json!({})),
            ),
            ("unsigned", {
                let jwt = rs("r1", json!({}));
                let mut parts = jwt.split('.');
                format!("{}.{}.", parts.next().unwrap(), parts.next().unwrap())
            }),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        let mut answers = Vec::new();
        for (why, jwt) in bad {
            let (status, body) = assert_with!(app, client_id, jwt);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
            answers.push(body);
        }
        // The right assertion under another key's client id (one without a credential).
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys",
                Some(&app.admin_token.clone()),
                Some(json!({"name": "other", "scope": "scim"})),
            )
            .await;
        let other_id = r.body["clientId"].as_str().unwrap().to_owned();
        let (status, body) = assert_with!(app, other_id, rs("r1", json!({})));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        answers.push(body);
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "no oracle: {answers:?}"
        );
        assert_eq!(answers[0]["error"], "invalid_client");
        // The reasons are in the audit trail, never in an answer.
        let audit = app
            .call(
                Method::GET,
                "/api/acme/admin/auditEvents?targetType=apiKey&targetId=entra&count=100",
                Some(&app.admin_token.clone()),
                None,
            )
            .await;
        let text = audit.body.to_string();
        for reason in [
            "iss is not",
            "sub is not",
            "aud names none",
            "expired",
            "not valid yet",
            "signature",
        ] {
            assert!(text.contains(reason), "{reason}: {text}");
        }
        // The key's value still works as a client secret beside the credential.
        let req = TestRequest::post()
            .uri("/oauth2/acme/token")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!(
                "grant_type=client_credentials&client_id={client_id}&client_secret={}",
                app.scim_token
            ));
        assert_eq!(app.send(req).await.0, StatusCode::OK);
        // An assertion beside a secret is refused as a malformed request.
        let req = TestRequest::post()
            .uri("/oauth2/acme/token")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!(
                "grant_type=client_credentials&client_id={client_id}&client_secret={}&client_assertion_type={ASSERTION_TYPE}&client_assertion={}",
                app.scim_token,
                rs("r1", json!({}))
            ));
        assert_eq!(app.send(req).await.0, StatusCode::BAD_REQUEST);
        // A federated token ends with a rotation past grace, like the secret's.
        let (_, body) = assert_with!(app, client_id, rs("r1", json!({})));
        let token = body["access_token"].as_str().unwrap().to_owned();
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys/entra/rotate",
                Some(&app.admin_token.clone()),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["clientId"], client_id.as_str(), "same client id");
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&token), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // The rotated key keeps its credential: a new assertion works.
        let (status, _) = assert_with!(app, client_id, rs("r1", json!({})));
        assert_eq!(status, StatusCode::OK);
    }
}

#[actix_web::test]
async fn a_stored_credential_whose_host_left_the_allow_list_fetches_nothing() {
    for backend in backends() {
        let server = JwksServer::start(&["rsa1"]).await;
        let (app, client_id) = federated_app!(backend, server);
        // A credential stored while another allow-list held (written below the service, which
        // would refuse it now): its JWKS is on a loopback port this process does not allow.
        let outside = JwksServer::start(&["rsa1"]).await;
        app.store
            .set_key_federation(
                &app.tenant,
                "entra",
                Some(json!({
                    "issuer": ISSUER, "jwksUri": outside.uri(), "subject": SUBJECT,
                    "audiences": [AUDIENCE],
                })),
                &scim_store::Actor::local("test"),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let (status, _) = assert_with!(app, client_id, rs("r1", json!({})));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            outside.fetches(),
            0,
            "nothing fetched from a host outside the list"
        );
        let audit = app
            .call(
                Method::GET,
                "/api/acme/admin/auditEvents?targetType=apiKey&targetId=entra",
                Some(&app.admin_token.clone()),
                None,
            )
            .await;
        assert!(
            audit
                .body
                .to_string()
                .contains("SCIMD_FEDERATION_JWKS_HOSTS"),
            "{}",
            audit.body
        );
    }
}

#[actix_web::test]
async fn the_jwks_is_fetched_again_for_a_new_kid_and_cached_keys_outlive_an_outage() {
    for backend in backends() {
        let server = JwksServer::start(&["rsa1"]).await;
        let (app, client_id) = federated_app!(backend, server);
        let n = app.processes();
        for _ in 0..n {
            let (status, body) = assert_with!(app, client_id, rs("r1", json!({})));
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let fetched = server.fetches();
        assert!((1..=n).contains(&fetched), "{fetched}");
        // Cached: more assertions, no more fetches.
        for _ in 0..n {
            assert_eq!(
                assert_with!(app, client_id, rs("r1", json!({}))).0,
                StatusCode::OK
            );
        }
        assert_eq!(server.fetches(), fetched);
        // The issuer rotates its keys: r2 appears, an assertion under r2 fetches again.
        let (status, _) = assert_with!(app, client_id, rs("r2", json!({})));
        assert_eq!(status, StatusCode::UNAUTHORIZED, "not published yet");
        server.publish(&["rsa1", "rsa2"]);
        for _ in 0..n {
            assert_eq!(
                assert_with!(app, client_id, rs("r2", json!({}))).0,
                StatusCode::OK
            );
        }
        // The JWKS goes down: cached keys keep working, a key never fetched does not.
        server.publish(&["rsa1", "rsa2", "ec1"]);
        server.down.store(true, Ordering::SeqCst);
        for _ in 0..n {
            assert_eq!(
                assert_with!(app, client_id, rs("r1", json!({}))).0,
                StatusCode::OK
            );
            assert_eq!(
                assert_with!(
                    app,
                    client_id,
                    assertion(Algorithm::ES256, EC1, "e1", json!({}))
                )
                .0,
                StatusCode::UNAUTHORIZED
            );
        }
        assert!(
            server.fetches() > fetched,
            "the unknown kids were fetched again"
        );
    }
}
