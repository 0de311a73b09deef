//! The audit trail: every change writes an event; filters by target and time; paging.

use actix_web::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::{api, assert_error, create_key};
use crate::on_each_backend;

fn actions(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["targetId"].as_str().unwrap()
            )
        })
        .collect()
}

on_each_backend!(
    every_change_is_audited_with_actor_target_and_fields,
    |app| {
        let start = Utc::now();
        create_key(
            &app,
            json!({"name": "k", "scope": "scim", "permissions": ["*"]}),
        )
        .await;
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": false})),
        )
        .await;
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true})),
        )
        .await;
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "label": "L", "permissions": ["scim:read"]})),
        )
        .await;
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "label": "L"})),
        )
        .await; // no change, no event
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "options": {"scimCustomAttributes": true}})),
        )
        .await;
        api(
            &app,
            Method::POST,
            "/apiKeys/k/rotate",
            Some(json!({"gracePeriodMinutes": 1})),
        )
        .await;
        api(&app, Method::POST, "/apiKeys/k/revoke", None).await;
        api(&app, Method::DELETE, "/apiKeys/k", None).await;
        let m = api(&app, Method::POST, "/machines", Some(json!({"name": "m"}))).await;
        let mid = m.body["id"].as_str().unwrap().to_owned();
        api(
            &app,
            Method::PATCH,
            &format!("/machines/{mid}"),
            Some(json!({"name": "m2"})),
        )
        .await;
        api(&app, Method::DELETE, &format!("/machines/{mid}"), None).await;
        api(
            &app,
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": false})),
        )
        .await;

        let all = api(
            &app,
            Method::GET,
            &format!(
                "/auditEvents?from={}",
                start.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            ),
            None,
        )
        .await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        let mut got = actions(&all.body);
        got.reverse();
        let m = |a: &str| format!("{a} {mid}");
        assert_eq!(
            got,
            [
                "apiKey.create k".to_owned(),
                "apiKey.disable k".into(),
                "apiKey.enable k".into(),
                "apiKey.update k".into(),
                "settings.update scim".into(),
                "apiKey.rotate k".into(),
                "apiKey.revoke k".into(),
                "apiKey.delete k".into(),
                m("machine.create"),
                m("machine.update"),
                m("machine.delete"),
                "settings.update scim".into(),
            ]
        );
        assert_eq!(all.body["totalResults"], 12);
        let events = all.body["events"].as_array().unwrap();
        let create = events.last().unwrap();
        assert_eq!(create["actor"], "key:admin");
        assert_eq!(create["targetType"], "apiKey");
        assert_eq!(
            create["changes"]["permissions"],
            json!(["*"]),
            "`*` is recorded as such"
        );
        assert_eq!(create["changes"]["scope"], "scim");
        let update = &events[events.len() - 4];
        assert_eq!(
            update["changes"]["permissions"],
            json!({"from": ["*"], "to": ["scim:read"]})
        );
        assert_eq!(update["changes"]["label"], json!({"from": null, "to": "L"}));
        let at: chrono::DateTime<Utc> = create["at"].as_str().unwrap().parse().unwrap();
        assert!(at >= start - Duration::seconds(1) && at <= Utc::now());

        // Filters and paging.
        let r = api(
            &app,
            Method::GET,
            "/auditEvents?targetType=apiKey&targetId=k",
            None,
        )
        .await;
        assert_eq!(r.body["totalResults"], 7);
        let r = api(&app, Method::GET, "/auditEvents?targetType=machine", None).await;
        assert_eq!(r.body["totalResults"], 3);
        let r = api(&app, Method::GET, "/auditEvents?count=2&startIndex=2", None).await;
        assert_eq!(
            r.body["totalResults"], 14,
            "with the two keys made at set-up"
        );
        assert_eq!(r.body["itemsPerPage"], 2);
        assert_eq!(r.body["startIndex"], 2);
        assert_eq!(actions(&r.body), actions(&all.body)[1..3].to_vec());
        let future =
            (Utc::now() + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let past = (start - Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let r = api(
            &app,
            Method::GET,
            &format!("/auditEvents?from={future}"),
            None,
        )
        .await;
        assert_eq!(r.body["totalResults"], 0);
        let r = api(
            &app,
            Method::GET,
            &format!("/auditEvents?from={past}&to={future}"),
            None,
        )
        .await;
        assert_eq!(r.body["totalResults"], 14);
        let r = api(&app, Method::GET, &format!("/auditEvents?to={past}"), None).await;
        assert_eq!(r.body["totalResults"], 0);
        assert_error(
            &api(
                &app,
                Method::GET,
                &format!("/auditEvents?from={future}&to={past}"),
                None,
            )
            .await,
            422,
            "invalid_range",
            Some("from"),
        );
        assert_error(
            &api(&app, Method::GET, "/auditEvents?from=yesterday", None).await,
            400,
            "invalid_body",
            None,
        );
        assert_error(
            &api(&app, Method::GET, "/auditEvents?bogus=1", None).await,
            400,
            "invalid_body",
            None,
        );
    }
);
