//! The API key endpoints: create, list, get, update, delete; validation errors.

use actix_web::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{api, assert_error, assert_no_secret_fields, create_key, scim_status};
use crate::on_each_backend;

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().expect("time").parse().expect("rfc3339")
}

on_each_backend!(create_returns_the_value_once_and_lists_never_do, |app| {
    let (view, token) = create_key(
        &app,
        json!({"name": "entra-prod", "scope": "scim", "label": "Entra"}),
    )
    .await;
    assert!(token.starts_with("scimd_scim_") && token.len() == "scimd_scim_".len() + 49);
    assert_eq!(view["status"], "active");
    assert_eq!(view["enabled"], true);
    assert_eq!(view["permissions"], json!(["scim:read", "scim:write"]));
    assert_eq!(view["options"], json!({"scimCustomAttributes": false}));
    assert_eq!(view["label"], "Entra");
    assert!(view["tokenHint"]
        .as_str()
        .unwrap()
        .starts_with("scimd_scim_"));
    let hint = view["tokenHint"].as_str().unwrap();
    assert!(hint.ends_with('…') && token.starts_with(hint.trim_end_matches('…')));
    let created = time(&view["createdAt"]);
    let expires = time(&view["expiresAt"]);
    assert_eq!(expires - created, Duration::days(365));
    assert_eq!(
        time(&view["deletionScheduledAt"]) - expires,
        Duration::days(90)
    );
    assert_eq!(scim_status(&app, &token).await, StatusCode::OK);

    let list = api(&app, Method::GET, "/apiKeys", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["entra", "admin", "entra-prod"]);
    for k in list.body.as_array().unwrap() {
        assert_no_secret_fields(k);
    }
    assert!(!list.body.to_string().contains(&token));
    let one = api(&app, Method::GET, "/apiKeys/entra-prod", None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_no_secret_fields(&one.body);
    assert_eq!(one.body["name"], "entra-prod");
    assert_error(
        &api(&app, Method::GET, "/apiKeys/nope", None).await,
        404,
        "not_found",
        None,
    );
    // Wrong method on a route: 405; no such route: 404; both in the admin JSON shape.
    let t = app.admin_token.clone();
    for (method, path, status, code) in [
        (
            Method::PATCH,
            "/api/acme/admin/apiKeys/entra-prod",
            405,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/acme/admin/apiKeys/entra-prod/revoke",
            405,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            "/api/acme/admin/settings/scim",
            405,
            "method_not_allowed",
        ),
        (Method::PUT, "/api/tenants", 405, "method_not_allowed"),
        (
            Method::GET,
            "/api/acme/admin/nothing-here",
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/api/acme/admin/apiKeys/a/b/c",
            404,
            "not_found",
        ),
        (Method::GET, "/api/whatever", 404, "not_found"),
    ] {
        let r = app.call(method, path, Some(&t), None).await;
        assert_error(&r, status, code, None);
    }
});

on_each_backend!(
    scope_defaults_to_public_api_and_star_means_everything_the_scope_allows,
    |app| {
        let (view, token) = create_key(
            &app,
            json!({"name": "automation", "permissions": ["tenant.apiKey:read"]}),
        )
        .await;
        assert_eq!(view["scope"], "public_api");
        assert!(token.starts_with("scimd_api_"));
        assert_eq!(view["options"], json!({}));
        let r = super::call_as(&app, &token, Method::GET, "/api/acme/admin/apiKeys", None).await;
        assert_eq!(r.status, StatusCode::OK);
        let (view, token) = create_key(
            &app,
            json!({"name": "all-scim", "scope": "scim", "permissions": ["*"]}),
        )
        .await;
        assert_eq!(view["permissions"], json!(["*"]));
        assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
        let (view, _) = create_key(
            &app,
            json!({"name": "short", "scope": "scim", "expiresInDays": 30}),
        )
        .await;
        assert_eq!(
            time(&view["expiresAt"]) - time(&view["createdAt"]),
            Duration::days(30)
        );
    }
);

on_each_backend!(invalid_create_requests_name_their_field, |app| {
    let cases = [
        (json!({"scope": "scim"}), 422, "missing_field", Some("name")),
        (
            json!({"name": "bad name"}),
            422,
            "invalid_name",
            Some("name"),
        ),
        (json!({"name": ""}), 422, "invalid_name", Some("name")),
        (
            json!({"name": "x".repeat(65)}),
            422,
            "invalid_name",
            Some("name"),
        ),
        (
            json!({"name": "k", "scope": "root"}),
            422,
            "unknown_scope",
            Some("scope"),
        ),
        (
            json!({"name": "k", "permissions": ["tenant.everything"]}),
            422,
            "unknown_permission",
            Some("permissions"),
        ),
        (
            json!({"name": "k", "scope": "scim", "permissions": ["tenant.apiKey:read"]}),
            422,
            "permission_not_allowed",
            Some("permissions"),
        ),
        (
            json!({"name": "k", "permissions": ["scim:read"]}),
            422,
            "permission_not_allowed",
            Some("permissions"),
        ),
        (
            json!({"name": "k", "permissions": ["tenant.apiKey:read"], "options": {"push": true}}),
            422,
            "option_not_allowed",
            Some("options"),
        ),
        (
            json!({"name": "k", "scope": "scim", "options": {"retrieve": true}}),
            422,
            "option_not_allowed",
            Some("options"),
        ),
        (
            json!({"name": "k", "scope": "on_premise", "options": {"push": "yes"}}),
            422,
            "invalid_type",
            Some("options"),
        ),
        (
            json!({"name": "k", "expiresInDays": 0}),
            422,
            "out_of_range",
            Some("expiresInDays"),
        ),
        (
            json!({"name": "k", "expiresInDays": 366}),
            422,
            "out_of_range",
            Some("expiresInDays"),
        ),
        (
            json!({"name": "k", "scope": "scim", "machine": "no-such-machine"}),
            422,
            "unknown_machine",
            Some("machine"),
        ),
        (
            json!({"name": "k", "enabled": "yes"}),
            400,
            "invalid_body",
            None,
        ),
        (
            json!({"name": "k", "colour": "red"}),
            400,
            "invalid_body",
            None,
        ),
        (json!(["not", "an", "object"]), 400, "invalid_body", None),
        (
            json!({"name": "admin", "scope": "scim"}),
            409,
            "conflict",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let r = api(&app, Method::POST, "/apiKeys", Some(body.clone())).await;
        assert_error(&r, status, code, field);
        if code == "unknown_permission" {
            assert!(r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tenant.everything"));
        }
    }
    let token = app.admin_token.clone();
    let r = app
        .call_raw(
            Method::POST,
            "/api/acme/admin/apiKeys",
            Some(&token),
            Some("application/json"),
            Some(b"{\"name\": ".to_vec()),
        )
        .await;
    assert_error(&r, 400, "invalid_body", None);
    let big = json!({"name": "big", "label": "x".repeat(300 * 1024)});
    let r = api(&app, Method::POST, "/apiKeys", Some(big)).await;
    assert_error(&r, 413, "payload_too_large", None);
    let list = api(&app, Method::GET, "/apiKeys", None).await;
    assert_eq!(
        list.body.as_array().unwrap().len(),
        2,
        "nothing was created"
    );
});

on_each_backend!(
    put_replaces_enabled_and_permissions_and_keeps_the_value,
    |app| {
        let (_, token) =
            create_key(&app, json!({"name": "k", "scope": "scim", "label": "one"})).await;
        let r = api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "permissions": ["scim:read"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["permissions"], json!(["scim:read"]));
        assert_eq!(r.body["label"], "one", "label kept when absent");
        assert_no_secret_fields(&r.body);
        assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
        let write = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&token),
                Some(crate::common::user_body("u")),
            )
            .await;
        assert_eq!(write.status, StatusCode::FORBIDDEN);
        let r = api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "label": "two"})),
        )
        .await;
        assert_eq!(r.body["label"], "two");
        assert_eq!(
            r.body["permissions"],
            json!(["scim:read"]),
            "permissions kept when absent"
        );
        let r = api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "label": null})),
        )
        .await;
        assert_eq!(r.body["label"], serde_json::Value::Null);
        assert_eq!(
            scim_status(&app, &token).await,
            StatusCode::OK,
            "same value after edits"
        );

        assert_error(
            &api(&app, Method::PUT, "/apiKeys/k", Some(json!({"label": "x"}))).await,
            422,
            "missing_field",
            Some("enabled"),
        );
        assert_error(
            &api(
                &app,
                Method::PUT,
                "/apiKeys/k",
                Some(json!({"enabled": true, "name": "other"})),
            )
            .await,
            422,
            "immutable_field",
            Some("name"),
        );
        assert_error(
            &api(
                &app,
                Method::PUT,
                "/apiKeys/k",
                Some(json!({"enabled": true, "scope": "public_api"})),
            )
            .await,
            422,
            "immutable_field",
            Some("scope"),
        );
        assert_error(
            &api(
                &app,
                Method::PUT,
                "/apiKeys/k",
                Some(json!({"enabled": true, "permissions": ["nope"]})),
            )
            .await,
            422,
            "unknown_permission",
            Some("permissions"),
        );
        assert_error(
            &api(
                &app,
                Method::PUT,
                "/apiKeys/k",
                Some(json!({"enabled": true, "options": {"push": true}})),
            )
            .await,
            422,
            "option_not_allowed",
            Some("options"),
        );
        assert_error(
            &api(
                &app,
                Method::PUT,
                "/apiKeys/nope",
                Some(json!({"enabled": true})),
            )
            .await,
            404,
            "not_found",
            None,
        );
        let r = api(
            &app,
            Method::PUT,
            "/apiKeys/k",
            Some(json!({"enabled": true, "name": "k", "scope": "scim"})),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "unchanged name and scope are accepted"
        );
    }
);

on_each_backend!(delete_stops_the_key_at_once, |app| {
    let (_, token) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
    assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
    let r = api(&app, Method::DELETE, "/apiKeys/k", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_error(
        &api(&app, Method::GET, "/apiKeys/k", None).await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &api(&app, Method::DELETE, "/apiKeys/k", None).await,
        404,
        "not_found",
        None,
    );
    let (_, again) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
    assert_ne!(again, token, "the name is free again, with a new value");
});

on_each_backend!(on_premise_options_are_the_scim_permissions, |app| {
    let (view, token) = create_key(&app, json!({"name": "script", "scope": "on_premise", "options": {"retrieve": true, "push": false}})).await;
    assert!(token.starts_with("scimd_onprem_"));
    assert_eq!(view["permissions"], json!(["scim:read"]));
    assert_eq!(view["options"], json!({"retrieve": true, "push": false}));
    assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
    let w = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&token),
            Some(crate::common::user_body("a")),
        )
        .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/script",
        Some(json!({"enabled": true, "options": {"push": true}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["options"], json!({"retrieve": true, "push": true}));
    assert_eq!(r.body["permissions"], json!(["scim:read", "scim:write"]));
    let w = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&token),
            Some(crate::common::user_body("a")),
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED);
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/script",
        Some(json!({"enabled": true, "options": {"retrieve": false}})),
    )
    .await;
    assert_eq!(r.body["options"], json!({"retrieve": false, "push": true}));
    assert_eq!(scim_status(&app, &token).await, StatusCode::FORBIDDEN);
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/script",
        Some(json!({"enabled": true, "options": {"retrieve": true}, "permissions": ["scim:read"]})),
    )
    .await;
    assert_error(&r, 422, "options_conflict", Some("options"));
    let (view, _) = create_key(&app, json!({"name": "both", "scope": "on_premise"})).await;
    assert_eq!(view["options"], json!({"retrieve": true, "push": true}));
});

on_each_backend!(
    the_scim_custom_attributes_switch_is_one_value_for_all_scim_keys,
    |app| {
        let (_, _) = create_key(&app, json!({"name": "a", "scope": "scim"})).await;
        let (view, _) = create_key(
            &app,
            json!({"name": "b", "scope": "scim", "options": {"scimCustomAttributes": true}}),
        )
        .await;
        assert_eq!(view["options"]["scimCustomAttributes"], true);
        let a = api(&app, Method::GET, "/apiKeys/a", None).await;
        assert_eq!(
            a.body["options"]["scimCustomAttributes"], true,
            "creating b flipped it for a"
        );
        let entra = api(&app, Method::GET, "/apiKeys/entra", None).await;
        assert_eq!(entra.body["options"]["scimCustomAttributes"], true);
        let r = api(
            &app,
            Method::PUT,
            "/apiKeys/a",
            Some(json!({"enabled": true, "options": {"scimCustomAttributes": false}})),
        )
        .await;
        assert_eq!(r.body["options"]["scimCustomAttributes"], false);
        let b = api(&app, Method::GET, "/apiKeys/b", None).await;
        assert_eq!(
            b.body["options"]["scimCustomAttributes"], false,
            "flipping through a flips b"
        );
        let s = api(&app, Method::GET, "/settings/scim", None).await;
        assert_eq!(s.body["customAttributesEnabled"], false);
        let s = api(
            &app,
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": true})),
        )
        .await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.body);
        let list = api(&app, Method::GET, "/apiKeys", None).await;
        for k in list.body.as_array().unwrap() {
            if k["scope"] == "scim" {
                assert_eq!(k["options"]["scimCustomAttributes"], true, "{k}");
            } else {
                assert!(k["options"].get("scimCustomAttributes").is_none(), "{k}");
            }
        }
    }
);

on_each_backend!(
    last_used_is_recorded_off_the_request_and_at_most_once_a_minute,
    |app| {
        let (view, token) = create_key(&app, json!({"name": "k", "scope": "scim"})).await;
        assert_eq!(view["lastUsedAt"], serde_json::Value::Null);
        assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
        let mut first = serde_json::Value::Null;
        for _ in 0..50 {
            first = api(&app, Method::GET, "/apiKeys/k", None).await.body["lastUsedAt"].clone();
            if !first.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!first.is_null(), "lastUsedAt recorded");
        assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let second = api(&app, Method::GET, "/apiKeys/k", None).await.body["lastUsedAt"].clone();
        assert_eq!(first, second, "not written again within a minute");
        // The store enforces the minute too, whatever the caller believes.
        let key = app.store.get_api_key(&app.tenant, "k").await.unwrap();
        let now = Utc::now();
        assert!(!app.store.touch_api_key(&key.id, None, now).await.unwrap());
        assert!(app
            .store
            .touch_api_key(&key.id, Some("10.0.0.1"), now + Duration::seconds(61))
            .await
            .unwrap());
        let r = api(&app, Method::GET, "/apiKeys/k", None).await;
        assert_eq!(r.body["lastUsedAddress"], "10.0.0.1");
    }
);

on_each_backend!(no_full_admin_key_by_omission, |app| {
    // Neither scope nor permissions: 422 naming the field, nothing created.
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "only-a-name"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "scope");
    // A public_api key must list its permissions; `*` only when written out.
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "no-perms", "scope": "public_api"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "permissions");
    let r = api(&app, Method::GET, "/apiKeys", None).await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"only-a-name") && !names.contains(&"no-perms"),
        "{names:?}"
    );
    // The reference's shape still works: permissions without scope is a public_api key.
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "reader", "permissions": ["tenant.apiKey:read"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["scope"], "public_api");
    assert_eq!(r.body["permissions"], json!(["tenant.apiKey:read"]));
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "full", "scope": "public_api", "permissions": ["*"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // SCIM keys keep their defaults.
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "entra2", "scope": "scim"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["permissions"], json!(["scim:read", "scim:write"]));
});
