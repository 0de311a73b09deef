//! No issued token or hash ever appears in a response (except the one create or rotate
//! response that shows the new value, and the one token response that carries an access token)
//! or in a log line: API keys, client secrets and OAuth access tokens alike.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use actix_web::http::Method;
use base64::Engine;
use scim_auth::Token;
use serde_json::{json, Value};

use super::BASE;
use crate::common::user_body;

/// A log sink shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn no_token_or_hash_in_any_response_or_log_line() {
    for backend in crate::common::backends() {
        // In process mode the serving processes log everything too, to their own output.
        let vars = HashMap::from([("SCIMD_LOG".to_owned(), "trace".to_owned())]);
        let app = crate::common::spawn_with(backend, vars).await;
        let logs = Captured::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let admin = app.admin_token.clone();
        let mut tokens = vec![admin.clone(), app.scim_token.clone()];
        let mut responses: Vec<String> = Vec::new();
        let mut shown: Vec<(String, usize)> = Vec::new();
        macro_rules! call {
            ($token:expr, $method:expr, $path:expr, $body:expr) => {{
                let r = app.call($method, &$path, Some($token), $body).await;
                let mut text = format!("{} {:?} {}", r.status, r.headers, r.body);
                if let Some(t) = r.body.get("token").and_then(Value::as_str) {
                    // The one place a value may appear: remove it, remember it was shown here.
                    shown.push((t.to_owned(), responses.len()));
                    tokens.push(t.to_owned());
                    text = text.replace(t, "<shown once>");
                }
                responses.push(text);
                r
            }};
        }
        let a = admin.as_str();
        let k = |p: &str| format!("{BASE}{p}");
        call!(
            a,
            Method::POST,
            k("/apiKeys"),
            Some(json!({"name": "s", "scope": "scim"}))
        );
        call!(
            a,
            Method::POST,
            k("/apiKeys"),
            Some(json!({"name": "o", "scope": "on_premise"}))
        );
        call!(
            a,
            Method::POST,
            k("/apiKeys"),
            Some(json!({"name": "p", "permissions": ["tenant.apiKey:read"]}))
        );
        call!(
            a,
            Method::POST,
            k("/apiKeys"),
            Some(json!({"name": "s", "scope": "scim"}))
        );
        call!(
            a,
            Method::POST,
            k("/apiKeys"),
            Some(json!({"name": "bad name"}))
        );
        call!(
            a,
            Method::POST,
            k("/apiKeys/s/rotate"),
            Some(json!({"gracePeriodMinutes": 5}))
        );
        // OAuth: the rotated key `s` as a client, by Basic and by form, and with a wrong
        // secret; its access token used on SCIM and, wrongly, on the admin API.
        let client_id = call!(a, Method::GET, k("/apiKeys/s"), None).body["clientId"]
            .as_str()
            .unwrap()
            .to_owned();
        let secret = tokens.last().unwrap().clone();
        let mut access_tokens = Vec::new();
        for (authorization, form) in [
            (
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{client_id}:{secret}"))
                )),
                "grant_type=client_credentials".to_owned(),
            ),
            (
                None,
                format!(
                    "grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
                ),
            ),
            (
                None,
                format!(
                    "grant_type=client_credentials&client_id={client_id}&client_secret={admin}"
                ),
            ),
            // The fields swapped, as a hurried administrator might: the secret as client id.
            (
                None,
                format!(
                    "grant_type=client_credentials&client_id={secret}&client_secret={client_id}"
                ),
            ),
        ] {
            let mut req = actix_web::test::TestRequest::post()
                .uri("/oauth2/acme/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(form);
            if let Some(value) = authorization {
                req = req.insert_header(("Authorization", value));
            }
            let (status, headers, mut text) = app.send(req).await;
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let Some(t) = body["access_token"].as_str() {
                access_tokens.push(t.to_owned());
                text = text.replace(t, "<shown once>");
            }
            responses.push(format!("{status} {headers:?} {text}"));
        }
        assert_eq!(access_tokens.len(), 2, "two good token requests");
        // Credentials in the URL are refused, and the URL is not logged with them.
        let req = actix_web::test::TestRequest::post()
            .uri(&format!(
                "/oauth2/acme/token?client_id={client_id}&client_secret={secret}"
            ))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("grant_type=client_credentials");
        let (status, headers, text) = app.send(req).await;
        assert_eq!(status, actix_web::http::StatusCode::BAD_REQUEST, "{text}");
        responses.push(format!("{status} {headers:?} {text}"));
        for t in &access_tokens {
            call!(t, Method::GET, "/scim/v2/Users", None);
            call!(t, Method::GET, k("/apiKeys"), None);
        }
        call!(
            a,
            Method::PUT,
            k("/apiKeys/o"),
            Some(json!({"enabled": false, "label": "x"}))
        );
        call!(a, Method::GET, k("/apiKeys"), None);
        for name in ["s", "o", "p", "admin", "entra"] {
            call!(a, Method::GET, k(&format!("/apiKeys/{name}")), None);
        }
        let all: Vec<String> = tokens.clone();
        for t in &all {
            call!(t, Method::GET, "/scim/v2/Users", None);
            call!(
                t,
                Method::POST,
                "/scim/v2/Users",
                Some(user_body(&format!("u{}", t.len())))
            );
            call!(t, Method::GET, k("/apiKeys"), None);
            call!(t, Method::GET, "/api/tenants", None);
            let mistyped = format!("{}0", &t[..t.len() - 1]);
            call!(&mistyped, Method::GET, "/scim/v2/Users", None);
            call!(&mistyped, Method::GET, k("/apiKeys"), None);
        }
        call!(a, Method::POST, k("/apiKeys/s/revoke"), None);
        call!(a, Method::DELETE, k("/apiKeys/p"), None);
        call!(a, Method::GET, k("/auditEvents?count=500"), None);
        call!(a, Method::GET, k("/settings/scim"), None);
        call!(a, Method::GET, "/api/openapi.json", None);
        for t in &all {
            call!(t, Method::GET, "/scim/v2/Users", None);
        }
        // Event delivery: a webhook's signing secret and a poll stream's secret are shown once
        // (in their create answer, left out here), a push stream's token never.
        let push_token = format!("push-token-{}", uuid::Uuid::new_v4().simple());
        let mut event_secrets = vec![push_token.clone()];
        for (path, body) in [
            (
                "/webhooks",
                json!({"url": "https://hooks.example.com/x", "eventTypes": ["*"]}),
            ),
            (
                "/eventStreams",
                json!({"delivery": "poll", "audience": "https://rp.example.com"}),
            ),
            (
                "/eventStreams",
                json!({"delivery": "push", "audience": "https://rp.example.com",
                       "endpointUrl": "https://rp.example.com/events", "endpointToken": push_token}),
            ),
        ] {
            let r = app.call(Method::POST, &k(path), Some(a), Some(body)).await;
            assert_eq!(r.status, actix_web::http::StatusCode::CREATED, "{}", r.body);
            let mut text = format!("{} {:?} {}", r.status, r.headers, r.body);
            if let Some(secret) = r.body.get("secret").and_then(Value::as_str) {
                event_secrets.push(secret.to_owned());
                text = text.replace(secret, "<shown once>");
            }
            responses.push(text);
        }
        let stream = call!(a, Method::GET, k("/eventStreams"), None).body["eventStreams"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let poll_secret = event_secrets.last().unwrap().clone();
        let mistyped = format!("{}0", &poll_secret[..poll_secret.len() - 1]);
        for secret in [&poll_secret, &mistyped] {
            call!(
                secret,
                Method::POST,
                format!("/events/acme/streams/{stream}/poll"),
                Some(json!({"returnImmediately": true}))
            );
        }
        call!(a, Method::GET, k("/webhooks"), None);
        call!(a, Method::GET, k(&format!("/eventStreams/{stream}")), None);
        call!(a, Method::GET, k("/auditEvents?count=500"), None);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await; // last-used tasks

        let log_text =
            String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned() + &app.process_logs();
        assert!(
            log_text.contains("apiKey") || log_text.contains("tenant"),
            "logs were captured"
        );
        assert!(tokens.len() >= 6, "{tokens:?}");
        for t in &tokens {
            let hash = Token::parse(t).expect("a token of ours").hash();
            for (i, text) in responses.iter().enumerate() {
                assert!(!text.contains(t.as_str()), "token in response {i}: {text}");
                assert!(!text.contains(&hash), "hash in response {i}: {text}");
                assert!(!text.contains(&hash[..16]), "hash prefix in response {i}");
            }
            assert!(!log_text.contains(t.as_str()), "token in the logs");
            assert!(!log_text.contains(&hash), "hash in the logs");
        }
        for t in &access_tokens {
            let hash = scim_auth::AccessToken::parse(t)
                .expect("an access token of ours")
                .hash();
            for (i, text) in responses.iter().enumerate() {
                assert!(!text.contains(t.as_str()), "access token in response {i}");
                assert!(!text.contains(&hash), "access token hash in response {i}");
            }
            assert!(!log_text.contains(t.as_str()), "access token in the logs");
            assert!(!log_text.contains(&hash), "access token hash in the logs");
        }
        for secret in &event_secrets {
            let hash = scim_service::event_streams::hash_poll_secret(secret).0;
            for (i, text) in responses.iter().enumerate() {
                assert!(
                    !text.contains(secret.as_str()),
                    "event secret in response {i}: {text}"
                );
                assert!(!text.contains(&hash), "its hash in response {i}");
            }
            assert!(
                !log_text.contains(secret.as_str()),
                "event secret in the logs"
            );
            assert!(!log_text.contains(&hash), "its hash in the logs");
        }
        // The database: no token, access token or event secret in any table (the activity
        // records included), and a hash only in the table its lookups read.
        tokio::time::sleep(std::time::Duration::from_millis(800)).await; // the activity writer
        let dump = app.dump_database().await;
        assert!(
            dump.lines().any(|l| l.starts_with("activity_batches\t")),
            "the requests above were recorded"
        );
        let outside = |tables: &[&str]| {
            dump.lines()
                .filter(|l| !tables.iter().any(|t| l.starts_with(&format!("{t}\t"))))
                .collect::<Vec<_>>()
                .join("\n")
        };
        // A key's hash is its lookup (api_keys) and the value an access token was issued
        // under (access_tokens.secret_hash).
        let (not_keys, not_tokens, not_destinations) = (
            outside(&["api_keys", "access_tokens"]),
            outside(&["access_tokens"]),
            outside(&["webhook_endpoints"]),
        );
        for t in &tokens {
            let hash = Token::parse(t).expect("a token of ours").hash();
            let leak: Vec<&str> = dump.lines().filter(|l| l.contains(t.as_str())).collect();
            assert!(leak.is_empty(), "token in the database: {leak:?}");
            let leak: Vec<&str> = not_keys.lines().filter(|l| l.contains(&hash)).collect();
            assert!(leak.is_empty(), "a key's hash outside api_keys: {leak:?}");
        }
        for t in &access_tokens {
            let hash = scim_auth::AccessToken::parse(t)
                .expect("an access token of ours")
                .hash();
            assert!(!dump.contains(t.as_str()), "access token in the database");
            assert!(
                !not_tokens.contains(&hash),
                "access token hash outside access_tokens"
            );
        }
        for secret in &event_secrets {
            // A webhook's signing secret and a push stream's token are kept to be used (known
            // and documented); nowhere else.
            assert!(
                !not_destinations.contains(secret.as_str()),
                "event secret outside webhook_endpoints"
            );
        }
        // Each shown value was shown exactly once.
        for (t, _) in &shown {
            assert_eq!(shown.iter().filter(|(x, _)| x == t).count(), 1);
        }
        assert_eq!(
            shown.len(),
            4,
            "three creates and one rotation showed a value"
        );
    }
}
