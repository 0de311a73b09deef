//! Authentication and authorisation of `/scim/v2`: the same 401 for every bad key, 403 for a
//! good key without the permission, tokens never echoed.

use actix_web::http::{Method, StatusCode};
use chrono::Duration;
use scim_auth::Scope;
use serde_json::json;

use crate::common::{assert_scim_error, raw_key, user_body, TestApp};
use crate::on_each_backend;

on_each_backend!(every_bad_key_gets_the_same_401, |app| {
    let expired = raw_key(
        &app.store,
        &app.tenant,
        "old",
        Scope::Scim,
        &["scim:read", "scim:write"],
        Duration::seconds(-1),
    )
    .await;
    let good = app.scim_token.clone();
    let last = if good.ends_with('x') { 'y' } else { 'x' };
    let mistyped = format!("{}{last}", &good[..good.len() - 1]);
    let unknown = scim_auth::Token::generate(Scope::Scim).expose().to_owned();
    let mut bodies = Vec::new();
    for token in [
        None,
        Some("garbage"),
        Some(mistyped.as_str()),
        Some(unknown.as_str()),
        Some(expired.as_str()),
        Some(""),
    ] {
        let r = app.call(Method::GET, "/scim/v2/Users", token, None).await;
        assert_scim_error(&r, 401, None);
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scimd\""));
        bodies.push(r.body.clone());
        for t in token.into_iter().filter(|t| t.len() > 8) {
            assert!(!r.body.to_string().contains(t), "token echoed");
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "no oracle: {bodies:?}"
    );
});

on_each_backend!(other_auth_schemes_and_query_tokens_are_refused, |app| {
    let t = app.scim_token.clone();
    let r = app
        .call(
            Method::GET,
            &format!("/scim/v2/Users?access_token={t}"),
            None,
            None,
        )
        .await;
    assert_scim_error(&r, 401, None);
    let r = app
        .call_raw(Method::GET, "/scim/v2/Users", None, None, None)
        .await;
    assert_scim_error(&r, 401, None);
});

on_each_backend!(
    bearer_scheme_is_case_insensitive_and_basic_is_refused,
    |app| {
        let t = app.scim_token.clone();
        let r = app
            .get_with_authorization("/scim/v2/Users", &format!("bearer {t}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .get_with_authorization("/scim/v2/Users", &format!("Basic {t}"))
            .await;
        assert_scim_error(&r, 401, None);
    }
);

on_each_backend!(admin_keys_cannot_use_scim, |app| {
    let admin = app.admin_token.clone();
    let r = app
        .call(Method::GET, "/scim/v2/Users", Some(&admin), None)
        .await;
    assert_scim_error(&r, 403, None);
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&admin),
            Some(user_body("x")),
        )
        .await;
    assert_scim_error(&r, 403, None);
});

on_each_backend!(read_only_keys_read_but_cannot_write, |app| {
    let reader = raw_key(
        &app.store,
        &app.tenant,
        "reader",
        Scope::OnPremise,
        &["scim:read"],
        Duration::days(30),
    )
    .await;
    let r = app
        .call(Method::GET, "/scim/v2/Users", Some(&reader), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (method, body) in [
        (Method::POST, Some(user_body("w"))),
        (Method::DELETE, None),
        (Method::PUT, Some(user_body("w"))),
    ] {
        let path = if method == Method::POST {
            "/scim/v2/Users".to_owned()
        } else {
            "/scim/v2/Users/some-id".to_owned()
        };
        let r = app.call(method, &path, Some(&reader), body).await;
        assert_scim_error(&r, 403, None);
        assert!(r.body["detail"].as_str().unwrap().contains("scim:write"));
    }
    assert_eq!(app.get("/scim/v2/Users").await.body["totalResults"], 0);
});

on_each_backend!(write_only_keys_cannot_read, |app| {
    let pusher = raw_key(
        &app.store,
        &app.tenant,
        "pusher",
        Scope::OnPremise,
        &["scim:write"],
        Duration::days(30),
    )
    .await;
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&pusher),
            Some(user_body("p")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .call(Method::GET, "/scim/v2/Users", Some(&pusher), None)
        .await;
    assert_scim_error(&r, 403, None);
});

on_each_backend!(patch_needs_a_key_with_write_permission, |app| {
    let id = app.create_user("p").await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            None,
            Some(patch.clone()),
        )
        .await;
    assert_scim_error(&r, 401, None);
    let reader = raw_key(
        &app.store,
        &app.tenant,
        "reader",
        Scope::OnPremise,
        &["scim:read"],
        Duration::days(30),
    )
    .await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(&reader),
            Some(patch),
        )
        .await;
    assert_scim_error(&r, 403, None);
    assert!(app
        .get(&format!("/scim/v2/Users/{id}"))
        .await
        .body
        .get("title")
        .is_none());
});

// Every process keeps the keys it verified (issue 23), yet a change of a key reaches every
// process at its next request: through the admin API, and by hand in SQL (the counter is
// moved by triggers, not by the code that changes keys).
on_each_backend!(
    a_kept_key_is_refused_on_every_process_at_its_next_request,
    |app| {
        let token = app.scim_token.clone();
        let admin = app.admin_token.clone();
        let each = app.processes().max(1);
        // Each process verifies the key and keeps it.
        for _ in 0..2 {
            assert_eq!(statuses_on_each(&app, &token).await, vec![200; each]);
        }
        // Disabled through the admin API: refused by every process at once.
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/apiKeys/entra",
                Some(&admin),
                Some(json!({"enabled": false, "permissions": ["scim:read", "scim:write"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(statuses_on_each(&app, &token).await, vec![401; each]);
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/apiKeys/entra",
                Some(&admin),
                Some(json!({"enabled": true, "permissions": ["scim:read"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(statuses_on_each(&app, &token).await, vec![200; each]);
        // A permission taken away: a write is forbidden on every process at once.
        let create = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&token),
                Some(user_body("kept@example.com")),
            )
            .await;
        assert_scim_error(&create, 403, None);
        // Revoked by hand in SQL, as an operator might: the next request of every process sees it.
        app.store
            .execute_unprepared("UPDATE api_keys SET revoked_at = created_at WHERE name = 'entra'")
            .await
            .unwrap();
        assert_eq!(statuses_on_each(&app, &token).await, vec![401; each]);
    }
);

// The record of a key's use (once a minute) does not move the counter, or every request
// would read the key again; any other change of a key does.
on_each_backend!(only_a_change_of_a_key_moves_the_key_counter, |app| {
    let before = app.store.auth_epoch().await.unwrap();
    let token = app.scim_token.clone();
    let admin = app.admin_token.clone();
    for _ in 0..3 {
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&token), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // The use is recorded off the request's path: wait until it is.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = app
            .get_with_authorization(
                "/api/acme/admin/apiKeys/entra",
                &format!("Bearer {}", app.admin_token),
            )
            .await;
        if !r.body["lastUsedAt"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the use was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.store.auth_epoch().await.unwrap(), before);
    let r = app
        .call(
            Method::PUT,
            "/api/acme/admin/apiKeys/entra",
            Some(&admin),
            Some(json!({"enabled": true, "permissions": ["scim:read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(app.store.auth_epoch().await.unwrap() > before);
});

// Keys removed wholesale (PostgreSQL's `TRUNCATE` fires no row trigger, so it has one of its
// own): every process refuses them at its next request.
on_each_backend!(keys_removed_wholesale_are_refused_at_once, |app| {
    let token = app.scim_token.clone();
    let each = app.processes().max(1);
    assert_eq!(statuses_on_each(&app, &token).await, vec![200; each]);
    let sql = if app.db_url().starts_with("postgres") {
        "TRUNCATE api_keys CASCADE"
    } else {
        "DELETE FROM api_keys"
    };
    app.store.execute_unprepared(sql).await.unwrap();
    assert_eq!(statuses_on_each(&app, &token).await, vec![401; each]);
});

/// The status of `GET /scim/v2/Users` with `token` from every serving process.
async fn statuses_on_each<S, B>(app: &TestApp<S>, token: &str) -> Vec<u16>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    app.get_each("/scim/v2/Users", token)
        .await
        .into_iter()
        .map(|r| r.status.as_u16())
        .collect()
}
