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

/// The `callerAddress` of the audit event of a machine created with `X-Forwarded-For: xff`
/// from 127.0.0.1.
async fn audited_address<S, B>(app: &crate::common::TestApp<S>, name: &str, xff: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let req = actix_web::test::TestRequest::post()
        .uri(&format!("{}/machines", crate::admin::BASE))
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .insert_header(("Authorization", format!("Bearer {}", app.admin_token)))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("X-Forwarded-For", xff))
        .insert_header(("X-Forwarded-Proto", "https"))
        .set_payload(serde_json::json!({ "name": name }).to_string());
    let (status, _, body) = app.send(req).await;
    assert_eq!(status.as_u16(), 201, "{body}");
    let r = crate::admin::api(
        app,
        actix_web::http::Method::GET,
        "/auditEvents?targetType=machine",
        None,
    )
    .await;
    // Newest first: the machine just created.
    let event = r.body["events"]
        .as_array()
        .and_then(|e| e.first())
        .unwrap_or_else(|| panic!("no machine event: {}", r.body));
    event["callerAddress"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

on_each_backend!(
    forwarding_headers_are_ignored_from_an_untrusted_peer,
    |app| {
        // No SCIMD_TRUSTED_PROXIES: anyone could write X-Forwarded-For, so it is not believed.
        assert_eq!(
            audited_address(&app, "m1", "203.0.113.9").await,
            "127.0.0.1"
        );
    }
);

#[actix_web::test]
async fn forwarding_headers_are_believed_from_a_trusted_proxy() {
    for backend in crate::common::backends() {
        let app = crate::common::spawn_with(
            backend,
            std::collections::HashMap::from([(
                "SCIMD_TRUSTED_PROXIES".to_owned(),
                "127.0.0.1/32, 10.0.0.0/8".to_owned(),
            )]),
        )
        .await;
        assert_eq!(
            audited_address(&app, "m1", "203.0.113.9").await,
            "203.0.113.9"
        );
        // What a client prepends does not count: the rightmost untrusted hop is the caller.
        assert_eq!(
            audited_address(&app, "m2", "6.6.6.6, 203.0.113.10, 10.1.2.3").await,
            "203.0.113.10"
        );
    }
}
