//! Authentication and authorisation of `/scim/v2`: the same 401 for every bad key, 403 for a
//! good key without the permission, tokens never echoed.

use actix_web::http::{Method, StatusCode};
use chrono::Duration;
use scim_auth::Scope;
use serde_json::json;

use crate::common::{assert_scim_error, raw_key, user_body};
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
