//! Key states and their transitions: active ⇄ inactive, → revoked (for good), expired
//! (computed), rotation with and without a grace period.

use actix_web::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use scim_auth::{Scope, Token};
use scim_store::{Actor, KeyRotation};
use serde_json::json;

use super::{api, assert_error, create_key, scim_status};
use crate::{common::raw_key, on_each_backend};

on_each_backend!(disabled_then_re_enabled_works_with_the_same_value, |app| {
    let (_, token) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/k",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(r.body["status"], "inactive");
    assert_eq!(r.body["enabled"], false);
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/k",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
    let (_, off) = create_key(
        &app,
        json!({"name": "off", "scope": "scim", "enabled": false}),
    )
    .await;
    assert_eq!(scim_status(&app, &off).await, StatusCode::UNAUTHORIZED);
    let r = api(&app, Method::GET, "/apiKeys/off", None).await;
    assert_eq!(r.body["status"], "inactive");
});

on_each_backend!(revoked_is_permanent_and_stays_listed, |app| {
    let (_, token) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
    let r = api(&app, Method::POST, "/apiKeys/k/revoke", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "revoked");
    assert!(r.body["revokedAt"].is_string());
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/k",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_error(&r, 409, "invalid_state", None);
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_error(
        &api(&app, Method::POST, "/apiKeys/k/revoke", None).await,
        409,
        "invalid_state",
        None,
    );
    assert_error(
        &api(&app, Method::POST, "/apiKeys/k/rotate", None).await,
        409,
        "invalid_state",
        None,
    );
    assert_error(
        &api(&app, Method::POST, "/apiKeys/nope/revoke", None).await,
        404,
        "not_found",
        None,
    );
    let list = api(&app, Method::GET, "/apiKeys", None).await;
    let k = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "k")
        .cloned()
        .unwrap();
    assert_eq!(k["status"], "revoked");
    assert!(k["deletionScheduledAt"].is_string());
    // A revoked key can still be deleted.
    assert_eq!(
        api(&app, Method::DELETE, "/apiKeys/k", None).await.status,
        StatusCode::NO_CONTENT
    );
});

on_each_backend!(expired_keys_are_rejected_and_listed_as_expired, |app| {
    let token = raw_key(
        &app.store,
        &app.tenant,
        "old",
        Scope::Scim,
        &["scim:read", "scim:write"],
        Duration::seconds(-1),
    )
    .await;
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let r = api(&app, Method::GET, "/apiKeys/old", None).await;
    assert_eq!(r.body["status"], "expired");
    assert_eq!(r.body["enabled"], true, "expired is computed, not stored");
    assert_error(
        &api(&app, Method::POST, "/apiKeys/old/rotate", None).await,
        409,
        "invalid_state",
        None,
    );
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/old",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(
        r.body["status"], "expired",
        "enabling does not revive an expired key"
    );
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
});

on_each_backend!(rotation_without_grace_stops_the_old_value_at_once, |app| {
    let (before, old) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
    let r = api(&app, Method::POST, "/apiKeys/k/rotate", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("scimd_scim_"));
    assert_ne!(
        r.body["tokenHint"],
        before["tokenHint"].clone(),
        "hint follows the value (almost surely)"
    );
    assert_eq!(r.body["previousValueValidUntil"], serde_json::Value::Null);
    assert_eq!(scim_status(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &new).await, StatusCode::OK);
    let r = api(&app, Method::GET, "/apiKeys/k", None).await;
    assert!(r.body.get("token").is_none());
    for (body, field) in [
        (json!({"gracePeriodMinutes": -1}), "gracePeriodMinutes"),
        (json!({"gracePeriodMinutes": 10081}), "gracePeriodMinutes"),
        (json!({"expiresInDays": 0}), "expiresInDays"),
    ] {
        assert_error(
            &api(&app, Method::POST, "/apiKeys/k/rotate", Some(body)).await,
            422,
            "out_of_range",
            Some(field),
        );
    }
    assert_error(
        &api(
            &app,
            Method::POST,
            "/apiKeys/k/rotate",
            Some(json!({"grace": 1})),
        )
        .await,
        400,
        "invalid_body",
        None,
    );
    assert_error(
        &api(&app, Method::POST, "/apiKeys/nope/rotate", None).await,
        404,
        "not_found",
        None,
    );
});

on_each_backend!(
    rotated_old_value_works_during_grace_and_fails_after,
    |app| {
        let (_, old) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
        let r = api(
            &app,
            Method::POST,
            "/apiKeys/k/rotate",
            Some(json!({"gracePeriodMinutes": 5, "expiresInDays": 90})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let new = r.body["token"].as_str().unwrap().to_owned();
        assert!(r.body["previousValueValidUntil"].is_string());
        let expires: chrono::DateTime<Utc> = r.body["expiresAt"].as_str().unwrap().parse().unwrap();
        assert!(
            (expires - Utc::now() - Duration::days(90))
                .num_seconds()
                .abs()
                < 60
        );
        assert_eq!(
            scim_status(&app, &old).await,
            StatusCode::OK,
            "old value in grace"
        );
        assert_eq!(scim_status(&app, &new).await, StatusCode::OK);
        // Disabling stops both values, whatever the grace.
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": false})),
        )
        .await;
        assert_eq!(scim_status(&app, &old).await, StatusCode::UNAUTHORIZED);
        api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true})),
        )
        .await;
        assert_eq!(scim_status(&app, &old).await, StatusCode::OK);

        // A second rotation with a one-second grace: the first value is gone at once, the second
        // works for the second and then stops.
        let third = Token::generate(Scope::Scim);
        let now = Utc::now();
        app.store
            .rotate_api_key(
                &app.tenant,
                "k",
                KeyRotation {
                    token_hash: third.hash(),
                    token_hint: third.hint(),
                    grace_until: Some(now + Duration::seconds(1)),
                    expires_at: now + Duration::days(30),
                },
                &Actor::local("test"),
                now,
            )
            .await
            .unwrap();
        assert_eq!(scim_status(&app, &old).await, StatusCode::UNAUTHORIZED);
        assert_eq!(scim_status(&app, &new).await, StatusCode::OK);
        assert_eq!(scim_status(&app, third.expose()).await, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(
            scim_status(&app, &new).await,
            StatusCode::UNAUTHORIZED,
            "grace over"
        );
        assert_eq!(scim_status(&app, third.expose()).await, StatusCode::OK);

        // Revoking ends any grace at once.
        let r = api(
            &app,
            Method::POST,
            "/apiKeys/k/rotate",
            Some(json!({"gracePeriodMinutes": 60})),
        )
        .await;
        let fourth = r.body["token"].as_str().unwrap().to_owned();
        assert_eq!(scim_status(&app, third.expose()).await, StatusCode::OK);
        api(&app, Method::POST, "/apiKeys/k/revoke", None).await;
        assert_eq!(
            scim_status(&app, third.expose()).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(scim_status(&app, &fourth).await, StatusCode::UNAUTHORIZED);
    }
);
