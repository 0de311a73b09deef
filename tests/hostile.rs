//! Hostile input: numbers out of range, forged cursors, NUL characters. Each answer is the
//! right 4xx in the door's error shape, the same on SQLite and PostgreSQL, never a 5xx, a
//! dropped connection or a write.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin::api;
use crate::common::{assert_scim_error, new_key, user_body};
use crate::on_each_backend;
use crate::users::urlencode;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

on_each_backend!(forged_and_foreign_cursors_are_invalid_cursor, |app| {
    for name in ["a", "b", "c", "d", "e"] {
        app.create_user(name).await;
    }
    for cursor in [
        "o.18446744073709551615",
        "o.9223372036854775808",
        "o.2",
        "i.x",
        "bogus",
        "o.1.00000000000000000000000000000000",
    ] {
        for sort in ["&sortBy=userName", ""] {
            let r = app
                .get(&format!(
                    "/scim/v2/Users?count=2&cursor={}{sort}",
                    urlencode(cursor)
                ))
                .await;
            assert_scim_error(&r, 400, Some("invalidCursor"));
        }
    }
    // A real cursor works, and only for the query it was issued for.
    let r = app
        .get("/scim/v2/Users?count=2&cursor=&sortBy=userName")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let next = r.body["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!(
            "/scim/v2/Users?count=2&cursor={next}&sortBy=userName"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["userName"], "c");
    for other in [
        format!("/scim/v2/Users?count=2&cursor={next}&sortBy=userName&sortOrder=descending"),
        format!("/scim/v2/Users?count=2&cursor={next}&sortBy=displayName"),
        format!(
            "/scim/v2/Users?count=2&cursor={next}&sortBy=userName&filter={}",
            urlencode(r#"userName pr"#)
        ),
        format!("/scim/v2/Groups?count=2&cursor={next}&sortBy=displayName"),
    ] {
        assert_scim_error(&app.get(&other).await, 400, Some("invalidCursor"));
    }
    // Another tenant's key cannot use it.
    let other_tenant = scim_store::TenantId::parse("other").unwrap();
    app.store
        .create_tenant(&other_tenant, None, chrono::Utc::now())
        .await
        .unwrap();
    let foreign = new_key(&app.store, &other_tenant, "entra", scim_auth::Scope::Scim).await;
    let r = app
        .call(
            Method::GET,
            &format!("/scim/v2/Users?count=2&cursor={next}&sortBy=userName"),
            Some(&foreign),
            None,
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidCursor"));
});

on_each_backend!(admin_page_numbers_out_of_range_are_422, |app| {
    for path in ["/auditEvents", "/expiryNotices"] {
        for query in [
            "startIndex=18446744073709551615",
            "startIndex=18446744073709551616",
            "startIndex=9223372036854775808",
            "startIndex=0",
            "startIndex=-1",
            "startIndex=abc",
            "count=501",
            "count=-1",
            "count=18446744073709551615",
        ] {
            let r = api(&app, Method::GET, &format!("{path}?{query}"), None).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}?{query}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["code"], "invalid_range");
        }
        // The largest startIndex is a page past the end.
        let r = api(
            &app,
            Method::GET,
            &format!("{path}?startIndex=9223372036854775807&count=500"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body["itemsPerPage"], 0);
    }
    // SCIM: startIndex beyond i64 is 400, never a panic.
    for query in [
        "startIndex=18446744073709551615",
        "startIndex=9223372036854775808",
        "count=18446744073709551615",
    ] {
        let r = app.get(&format!("/scim/v2/Users?{query}")).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    let r = app
        .get("/scim/v2/Users?startIndex=9223372036854775807&sortBy=userName")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
});

fn nul_user() -> Value {
    let mut body = user_body("nul@contoso.com");
    body["userName"] = json!("nul\u{0}@contoso.com");
    body
}

on_each_backend!(nul_characters_are_refused_naming_the_attribute, |app| {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut in_extension = user_body("ext@contoso.com");
    in_extension[ent]["department"] = json!("Eng\u{0}");
    let mut in_email = user_body("mail@contoso.com");
    in_email["emails"][0]["value"] = json!("a\u{0}@b.example");
    for (body, named) in [
        (nul_user(), "userName"),
        (in_extension, "department"),
        (in_email, "emails[0].value"),
    ] {
        let r = app.post("/scim/v2/Users", body).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(
            r.body["detail"].as_str().unwrap().contains(named),
            "{named}: {}",
            r.body
        );
    }
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Sales\u{0}"}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("displayName"));

    let id = app.create_user("ok@contoso.com").await;
    let user = format!("/scim/v2/Users/{id}");
    let r = app
        .call(
            Method::PATCH,
            &user,
            Some(&app.scim_token.clone()),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "displayName", "value": "x\u{0}y"}]})),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app
        .put(&user, {
            let mut b = user_body("ok@contoso.com");
            b["nickName"] = json!("\u{0}");
            b
        })
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    // Bulk carries the same check.
    let r = app
        .post(
            "/scim/v2/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": nul_user()}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));

    // In a path id: 404. In a filter: 400 invalidFilter (escaped or raw).
    for path in ["/scim/v2/Users/%00", "/scim/v2/Groups/a%00b"] {
        assert_scim_error(&app.get(path).await, 404, None);
        let r = app.delete(path).await;
        assert_scim_error(&r, 404, None);
    }
    for filter in [r#"userName eq "\u0000""#, "userName eq \"a\u{0}\""] {
        let r = app
            .get(&format!("/scim/v2/Users?filter={}", urlencode(filter)))
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users/.search",
            Some(&app.scim_token.clone()),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": r#"displayName eq "\u0000""#}),
            ),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app.get("/scim/v2/Users?attributes=userName%00").await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);

    // Nothing was written.
    let r = app.get("/scim/v2/Users").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = app.get("/scim/v2/Groups").await;
    assert_eq!(r.body["totalResults"], 0);
    let r = app.get(&user).await;
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");

    // Admin API: 422 naming the field, 404 for a path id, 422 for a query parameter.
    for (method, path, body) in [
        (
            Method::POST,
            "/machines",
            json!({"name": "ad-sync", "description": "On\u{0}-premise"}),
        ),
        (
            Method::POST,
            "/apiKeys",
            json!({"name": "k1", "label": "L\u{0}", "scope": "scim"}),
        ),
        (
            Method::PUT,
            "/settings/scim",
            json!({"customAttributesEnabled": true, "customSchema": {
                "id": "urn:acme:2.0:User", "attributes": [{"name": "a", "type": "string", "description": "\u{0}"}]}}),
        ),
    ] {
        let r = api(&app, method.clone(), path, Some(body)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], "invalid_character");
    }
    let r = api(&app, Method::GET, "/machines", None).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(0), "{}", r.body);
    for path in ["/apiKeys/%00", "/machines/%00", "/machines/a%00/apiKeys"] {
        let r = api(&app, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "not_found");
    }
    let admin = app.admin_token.clone();
    let r = app
        .call(Method::GET, "/api/%00/admin/apiKeys", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for query in ["targetId=%00", "targetType=a%00", "from=%00"] {
        let r = api(&app, Method::GET, &format!("/auditEvents?{query}"), None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.body
        );
    }
    let r = api(&app, Method::GET, "/expiryNotices?keyName=%00", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
});

on_each_backend!(every_answer_carries_a_request_id, |app| {
    let ok = app.get("/scim/v2/Users").await;
    let bad = app.get("/scim/v2/Users?filter=bad%20filter").await;
    let missing = app.get("/scim/v2/Users/none").await;
    let ids: Vec<&str> = [&ok, &bad, &missing]
        .iter()
        .map(|r| r.header("x-request-id").expect("X-Request-Id"))
        .collect();
    assert!(ids.iter().all(|id| id.len() == 32), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    let metrics = app.call_each(Method::GET, "/metrics").await;
    assert!(metrics
        .iter()
        .all(|m| m.body.as_str().unwrap().contains("scimd_panics_total 0")));
});

/// Values a client could put in a query parameter, hostile or not: any text (NUL, control
/// characters, astral planes), numbers at and beyond every integer width, and fragments of the
/// grammars scimd parses.
fn hostile_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        any::<i128>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "0",
            "-1",
            "1e309",
            "NaN",
            "",
            " ",
            "\u{0}",
            "o.18446744073709551615",
            "i.\u{0}",
            "userName eq \"\\u0000\"",
            "emails[type eq \"work\"].value eq \"a\"",
            "((((((((((a pr))))))))))",
            "urn:x:y:z:a.b.c",
            "meta.lastModified gt \"99999-99-99T99:99:99Z\"",
            "members[value eq \"x\"].display",
            "2026-13-45T25:61:61Z",
        ])
        .prop_map(str::to_owned),
    ]
}

on_each_backend!(arbitrary_query_parameters_never_answer_5xx, |app| {
    use proptest::strategy::{Strategy, ValueTree};
    let user = app.create_user("probe@contoso.com").await;
    let target = scimd::probe::Target {
        tenant: app.tenant.as_str().to_owned(),
        user,
        scim_key: app.scim_token.clone(),
        admin_key: app.admin_token.clone(),
    };
    // Deterministic: the same cases every run; each case names its parameter and value.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (0..scimd::probe::QUERY_PARAMETERS.len(), hostile_value());
    let cases: Vec<(usize, String)> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .chain((0..scimd::probe::QUERY_PARAMETERS.len()).map(|i| (i, "\u{0}".to_owned())))
        .collect();
    for (selector, value) in cases {
        let (p, req) = scimd::probe::request(&target, selector, &value);
        let (status, _, body) = app.send(req).await;
        assert!(
            status.as_u16() < 500,
            "GET {}?{}={value:?} answered {status}: {body}",
            p.path,
            p.name
        );
    }
});
