//! The expiry scheduler: warnings queued once per key and threshold, delivered over SMTP to a
//! real listener (including one that refuses first), given up loudly, purges 90 days after
//! expiry, the outbox in the admin API, and several processes on one PostgreSQL sending each
//! warning once. Time is passed in: no test sleeps for the calendar.

use std::{collections::HashMap, process::Command};

use actix_web::http::Method;
use chrono::{DateTime, Duration, Utc};
use scim_auth::Scope;
use scim_expiry::{
    deliver, sweep, DeliveryPolicy, DeliveryReport, ExpiryPolicy, SmtpMailer, SweepReport,
};
use scim_store::{AuditQuery, Store, TenantId};
use serde_json::Value;

use crate::{
    common::{backends, new_key, raw_key, smtp::SmtpServer, spawn},
    on_each_backend,
};

const BIN: &str = env!("CARGO_BIN_EXE_scimd");

fn mailer(smtp: &SmtpServer) -> SmtpMailer {
    SmtpMailer::new(
        &smtp.url(),
        "scimd <scimd@example.test>",
        std::time::Duration::from_secs(10),
    )
    .unwrap()
}

fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        console_url: Some("https://scim.example.test/console/".into()),
        ..DeliveryPolicy::default()
    }
}

async fn pass(
    store: &Store,
    mailer: &SmtpMailer,
    now: DateTime<Utc>,
) -> (SweepReport, DeliveryReport) {
    let s = sweep(store, &ExpiryPolicy::default(), now).await.unwrap();
    let d = deliver(store, mailer, &policy(), now).await.unwrap();
    (s, d)
}

fn expires_at(key: &Value) -> DateTime<Utc> {
    key["expiresAt"].as_str().unwrap().parse().unwrap()
}

on_each_backend!(
    a_key_walked_through_its_life_gets_exactly_the_right_mails,
    |app| {
        let smtp = SmtpServer::start();
        let mailer = mailer(&smtp);
        let admin = Some(app.admin_token.as_str());
        let key = app
            .call(Method::GET, "/api/acme/admin/apiKeys/entra", admin, None)
            .await
            .body;
        let hint = key["tokenHint"]
            .as_str()
            .unwrap()
            .trim_end_matches('…')
            .to_owned();
        // Tenant acme has two keys, `entra` and `admin`, created a moment apart: an hour of
        // margin puts both on the same side of every threshold.
        let t = expires_at(&key);
        let h = Duration::hours(1);
        let steps: [(&str, DateTime<Utc>, u64, &str); 8] = [
            ("T-31d", t - Duration::days(31) + h, 0, ""),
            ("T-30d", t - Duration::days(30) + h, 2, "expires in 30 days"),
            ("T-30d again", t - Duration::days(30) + h * 2, 0, ""),
            ("T-7d", t - Duration::days(7) + h, 2, "expires in 7 days"),
            ("T-1d", t - Duration::days(1) + h, 2, "expires in 1 day"),
            ("expiry", t + h, 2, "has expired"),
            ("T+89d", t + Duration::days(89), 0, ""),
            ("T+89d again", t + Duration::days(89) + h, 0, ""),
        ];
        for (label, now, expected, subject) in steps {
            let before = smtp.mails().len();
            let (s, d) = pass(&app.store, &mailer, now).await;
            assert_eq!(s.warnings_queued, expected, "{label}: {s:?}");
            assert_eq!(d.sent, expected, "{label}: {d:?}");
            assert_eq!(s.purged, 0, "{label}");
            let mails = smtp.mails();
            assert_eq!(mails.len() - before, expected as usize, "{label}");
            for m in &mails[before..] {
                assert_eq!(m.to, vec!["admin@acme.test".to_owned()], "{label}");
                assert_eq!(m.from, "scimd@example.test", "{label}");
                let subj = m.header("Subject").unwrap();
                assert!(subj.contains(subject), "{label}: {subj}");
                assert!(!m.data.contains(&app.scim_token), "{label}: token in mail");
                assert!(!m.data.contains(&app.admin_token), "{label}: token in mail");
                assert!(!m.data.contains(&hint), "{label}: hint in mail");
                assert!(
                    m.header("Message-ID").is_some_and(|id| id.contains('@')),
                    "{label}: Message-ID"
                );
            }
        }
        let names: Vec<String> = smtp
            .mails()
            .iter()
            .filter_map(|m| m.header("Subject"))
            .filter(|s| s.contains("\"entra\""))
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");

        // The key's listing tells which warnings were sent and when.
        let key = app
            .call(Method::GET, "/api/acme/admin/apiKeys/entra", admin, None)
            .await
            .body;
        let warnings = key["expiryWarnings"].as_array().unwrap();
        let thresholds: Vec<i64> = warnings
            .iter()
            .map(|w| w["thresholdDays"].as_i64().unwrap())
            .collect();
        assert_eq!(thresholds, vec![30, 7, 1, 0], "{key}");
        assert!(warnings
            .iter()
            .all(|w| w["status"] == "sent" && w["sentAt"].is_string()));
        assert_eq!(
            key["deletionScheduledAt"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            t + Duration::days(90)
        );

        // 90 days after expiry: purged, with an audit event each; a later pass does nothing.
        let (s, d) = pass(&app.store, &mailer, t + Duration::days(90) + h).await;
        assert_eq!((s.purged, s.warnings_queued, d.sent), (2, 0, 0), "{s:?}");
        assert!(app
            .store
            .list_api_keys(&app.tenant, None)
            .await
            .unwrap()
            .is_empty());
        let events = app
            .store
            .list_audit_events(
                &app.tenant,
                &AuditQuery {
                    target_id: Some("entra".into()),
                    limit: 100,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        let actions: Vec<&str> = events.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "apiKey.expiryWarningSent")
                .count(),
            4
        );
        assert_eq!(actions.first(), Some(&"apiKey.purge"), "{actions:?}");
        let (s, _) = pass(&app.store, &mailer, t + Duration::days(91)).await;
        assert_eq!(s, SweepReport::default());
        assert_eq!(smtp.mails().len(), 8);
    }
);

on_each_backend!(
    a_refusing_server_gets_retries_then_the_mail_and_a_dead_one_is_given_up,
    |app| {
        let smtp = SmtpServer::start();
        let mailer = mailer(&smtp);
        let t0 = Utc::now() + Duration::days(335) + Duration::hours(1);
        smtp.refuse_next(2);
        let (s, d) = pass(&app.store, &mailer, t0).await;
        assert_eq!(s.warnings_queued, 2);
        assert_eq!((d.sent, d.retried, d.gave_up), (0, 2, 0), "{d:?}");
        assert!(smtp.mails().is_empty());
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/expiryNotices?status=queued",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.body["totalResults"], 2, "{}", r.body);
        let n = &r.body["notices"][0];
        assert_eq!(n["attempts"], 1);
        assert!(n["lastError"].as_str().unwrap().contains("451"), "{n}");
        // Not due again before the back-off has passed; then delivered.
        let d = deliver(&app.store, &mailer, &policy(), t0 + Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(d, DeliveryReport::default());
        let d = deliver(&app.store, &mailer, &policy(), t0 + Duration::minutes(2))
            .await
            .unwrap();
        assert_eq!(d.sent, 2, "{d:?}");
        assert_eq!(smtp.mails().len(), 2);

        // A server that never takes the mail: given up after max_attempts, loudly.
        let dead = SmtpServer::start();
        dead.refuse_next(usize::MAX);
        let give_up = DeliveryPolicy {
            max_attempts: 2,
            ..policy()
        };
        let t1 = t0 + Duration::days(23);
        let s = sweep(&app.store, &ExpiryPolicy::default(), t1)
            .await
            .unwrap();
        assert_eq!(s.warnings_queued, 2);
        let dead_mailer = self::mailer(&dead);
        let d = deliver(&app.store, &dead_mailer, &give_up, t1)
            .await
            .unwrap();
        assert_eq!(d.retried, 2);
        let d = deliver(&app.store, &dead_mailer, &give_up, t1 + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!((d.gave_up, d.sent), (2, 0), "{d:?}");
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/expiryNotices?status=failed",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.body["totalResults"], 2, "{}", r.body);
        let events = app
            .store
            .list_audit_events(
                &app.tenant,
                &AuditQuery {
                    limit: 100,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            events
                .items
                .iter()
                .filter(|e| e.action == "apiKey.expiryWarningFailed")
                .count(),
            2
        );
        // Nothing is retried after giving up, and a server that cannot be reached counts as a
        // failure to retry, not a lost mail.
        let d = deliver(&app.store, &mailer, &policy(), t1 + Duration::days(1))
            .await
            .unwrap();
        assert_eq!(d, DeliveryReport::default());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let unreachable = SmtpMailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "scimd@example.test",
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let t2 = t0 + Duration::days(29) + Duration::hours(1);
        sweep(&app.store, &ExpiryPolicy::default(), t2)
            .await
            .unwrap();
        let d = deliver(&app.store, &unreachable, &policy(), t2)
            .await
            .unwrap();
        assert_eq!((d.retried, d.sent), (2, 0), "{d:?}");
        let d = deliver(&app.store, &mailer, &policy(), t2 + Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(d.sent, 2, "{d:?}");
    }
);

on_each_backend!(
    without_smtp_or_admin_email_nothing_is_lost_and_it_is_reported,
    |app| {
        // A tenant without an admin e-mail, with one key in the 30-day window.
        let other = TenantId::parse("noadmin").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let admin = new_key(&app.store, &other, "admin", Scope::PublicApi).await;
        raw_key(
            &app.store,
            &other,
            "soon",
            Scope::Scim,
            &["scim:read"],
            Duration::days(20),
        )
        .await;
        raw_key(
            &app.store,
            &app.tenant,
            "soon",
            Scope::Scim,
            &["scim:read"],
            Duration::days(20),
        )
        .await;
        // A revoked key gets no warning.
        raw_key(
            &app.store,
            &app.tenant,
            "gone",
            Scope::Scim,
            &["scim:read"],
            Duration::days(20),
        )
        .await;
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys/gone/revoke",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        let s = sweep(&app.store, &ExpiryPolicy::default(), Utc::now())
            .await
            .unwrap();
        assert_eq!((s.warnings_queued, s.undeliverable), (1, 1), "{s:?}");
        // No SMTP: the warning waits, visible.
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/expiryNotices",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        assert_eq!(r.body["notices"][0]["keyName"], "soon");
        assert_eq!(r.body["notices"][0]["status"], "queued");
        assert_eq!(r.body["notices"][0]["recipient"], "admin@acme.test");
        // No admin e-mail: reported in that tenant's outbox and audit trail, not in acme's.
        let r = app
            .call(
                Method::GET,
                "/api/noadmin/admin/expiryNotices?status=no_recipient",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        assert_eq!(r.body["notices"][0]["keyName"], "soon");
        let r = app
            .call(
                Method::GET,
                "/api/noadmin/admin/expiryNotices",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "acme's key cannot read noadmin's outbox");
        let events = app
            .store
            .list_audit_events(
                &other,
                &AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(events
            .items
            .iter()
            .any(|e| e.action == "apiKey.expiryWarningUndeliverable" && e.target_id == "soon"));
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/expiryNotices?status=bogus",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        // Idempotent: a second sweep adds nothing.
        let s = sweep(&app.store, &ExpiryPolicy::default(), Utc::now())
            .await
            .unwrap();
        assert_eq!(s, SweepReport::default());
        // Once SMTP exists, the queued warning goes out; a rotated key's old warning is
        // cancelled instead of sent.
        raw_key(
            &app.store,
            &app.tenant,
            "rotated",
            Scope::Scim,
            &["scim:read"],
            Duration::days(20),
        )
        .await;
        sweep(&app.store, &ExpiryPolicy::default(), Utc::now())
            .await
            .unwrap();
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/apiKeys/rotated/rotate",
                Some(&app.admin_token),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let smtp = SmtpServer::start();
        let d = deliver(&app.store, &mailer(&smtp), &policy(), Utc::now())
            .await
            .unwrap();
        assert_eq!(d.sent, 1, "{d:?}");
        assert!(smtp.mails()[0]
            .header("Subject")
            .unwrap()
            .contains("\"soon\""));
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/expiryNotices?status=cancelled",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(r.body["notices"][0]["keyName"], "rotated", "{}", r.body);
    }
);

/// `scimd expiry run --once --now ...` in three processes at once against one database
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time): every warning is
/// queued once and mailed once.
#[actix_web::test]
async fn several_processes_send_each_warning_once() {
    for backend in backends() {
        let label = format!("{backend:?}");
        let app = spawn(backend).await;
        const KEYS: usize = 300;
        for i in 0..KEYS {
            raw_key(
                &app.store,
                &app.tenant,
                &format!("k{i:04}"),
                Scope::Scim,
                &["scim:read"],
                Duration::days(20),
            )
            .await;
        }
        let smtp = SmtpServer::start();
        let now = (Utc::now() + Duration::hours(1)).to_rfc3339();
        let children: Vec<_> = (0..3)
            .map(|_| {
                Command::new(BIN)
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .env("SCIMD_DATABASE_URL", app.db_url())
                    .env("SCIMD_SMTP_URL", smtp.url())
                    .env("SCIMD_MAIL_FROM", "scimd@example.test")
                    .env("SCIMD_LOG", "warn")
                    .args(["expiry", "run", "--once", "--now", &now])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut outputs = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                out.status.success(),
                "{label}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            outputs.push(stdout);
        }
        let mails = smtp.mails();
        let mut per_key: HashMap<String, usize> = HashMap::new();
        for m in &mails {
            *per_key.entry(m.header("Subject").unwrap()).or_default() += 1;
        }
        assert_eq!(mails.len(), KEYS, "{label}: {outputs:?}");
        assert_eq!(per_key.len(), KEYS, "{label}");
        assert!(per_key.values().all(|n| *n == 1), "{label}");
        let field = |name: &str| -> usize {
            outputs
                .iter()
                .filter_map(|o| o.split(name).nth(1))
                .filter_map(|rest| rest.split(',').next()?.trim().parse::<usize>().ok())
                .sum()
        };
        assert_eq!(field("warnings queued: "), KEYS, "{label}: {outputs:?}");
        assert_eq!(field("mails sent: "), KEYS, "{label}: {outputs:?}");
        eprintln!("{label}: per-process output: {outputs:?}");
    }
}

on_each_backend!(a_gauge_counts_the_keys_about_to_expire, |app| {
    use scim_auth::Scope;
    let soon = crate::common::raw_key(
        &app.store,
        &app.tenant,
        "soon",
        Scope::Scim,
        &["scim:read"],
        chrono::Duration::hours(20),
    )
    .await;
    assert!(!soon.is_empty());
    crate::common::raw_key(
        &app.store,
        &app.tenant,
        "this-week",
        Scope::Scim,
        &["scim:read"],
        chrono::Duration::days(5),
    )
    .await;
    for m in app
        .call_each(actix_web::http::Method::GET, "/metrics")
        .await
    {
        let text = m.body.as_str().unwrap_or_default().to_owned();
        for (within, n) in [("30d", 2), ("7d", 2), ("1d", 1)] {
            let line =
                format!("scimd_api_keys_expiring{{tenant=\"acme\",within=\"{within}\"}} {n}");
            assert!(text.contains(&line), "{line} in:\n{text}");
        }
    }
});
