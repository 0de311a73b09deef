//! Bad requests: malformed JSON, wrong content types, oversized bodies, unknown routes and
//! methods. Each gets a SCIM error and writes nothing.

use actix_web::http::{Method, StatusCode};

use crate::common::{assert_scim_error, user_body};
use crate::on_each_backend;

on_each_backend!(malformed_json_is_invalid_syntax, |app| {
    let t = app.scim_token.clone();
    for body in [
        &b"{\"userName\": "[..],
        b"not json",
        b"[1,2",
        b"",
        b"\"just a string\"",
        b"[]",
    ] {
        let r = app
            .call_raw(
                Method::POST,
                "/scim/v2/Users",
                Some(&t),
                Some("application/scim+json"),
                Some(body.to_vec()),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidSyntax"));
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = app
        .call_raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&t),
            Some("application/json"),
            Some(deep.into_bytes()),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    assert_eq!(app.get("/scim/v2/Users").await.body["totalResults"], 0);
});

on_each_backend!(json_and_scim_json_are_accepted_other_types_are_415, |app| {
    let t = app.scim_token.clone();
    let body = serde_json::to_vec(&user_body("ct1")).unwrap();
    let r = app
        .call_raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&t),
            Some("application/json; charset=utf-8"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let body = serde_json::to_vec(&user_body("ct2")).unwrap();
    let r = app
        .call_raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&t),
            Some("text/plain"),
            Some(body),
        )
        .await;
    assert_scim_error(&r, 415, None);
});

on_each_backend!(oversized_bodies_are_413, |app| {
    let t = app.scim_token.clone();
    let mut body = user_body("big");
    body["title"] = serde_json::Value::String("x".repeat(2 << 20));
    let r = app
        .call_raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&t),
            Some("application/scim+json"),
            Some(body.to_string().into_bytes()),
        )
        .await;
    assert_scim_error(&r, 413, None);
    assert_eq!(app.get("/scim/v2/Users").await.body["totalResults"], 0);
});

on_each_backend!(unknown_endpoints_are_404_and_wrong_methods_405, |app| {
    let r = app.get("/scim/v2/Robots").await;
    assert_scim_error(&r, 404, None);
    let t = app.scim_token.clone();
    let r = app
        .call(Method::DELETE, "/scim/v2/Users", Some(&t), None)
        .await;
    assert_scim_error(&r, 405, None);
    let r = app
        .call(
            Method::POST,
            "/scim/v2/ServiceProviderConfig",
            Some(&t),
            None,
        )
        .await;
    assert_scim_error(&r, 405, None);
});
