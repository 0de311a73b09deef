//! Who may call the admin API: the same 401 for every bad credential, 403 for a missing
//! permission or a wrong scope, no privilege escalation, tenant isolation, the operator token.

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::{json, Value};

use super::{api, assert_error, call_as, create_key, scim_status, BASE, OPERATOR};
use crate::{
    common::{new_key, raw_key},
    on_each_backend,
};

on_each_backend!(every_bad_credential_gets_the_same_401, |app| {
    let (_, disabled) = create_key(
        &app,
        json!({"name": "disabled", "enabled": false, "permissions": ["*"]}),
    )
    .await;
    let (_, revoked) = create_key(&app, json!({"name": "revoked", "permissions": ["*"]})).await;
    api(&app, Method::POST, "/apiKeys/revoked/revoke", None).await;
    let (_, deleted) = create_key(&app, json!({"name": "deleted", "permissions": ["*"]})).await;
    api(&app, Method::DELETE, "/apiKeys/deleted", None).await;
    let expired = raw_key(
        &app.store,
        &app.tenant,
        "expired",
        Scope::PublicApi,
        &["*"],
        Duration::seconds(-1),
    )
    .await;
    let unknown = scim_auth::Token::generate(Scope::PublicApi)
        .expose()
        .to_owned();
    let good = app.admin_token.clone();
    let last = if good.ends_with('x') { 'y' } else { 'x' };
    let mistyped = format!("{}{last}", &good[..good.len() - 1]);
    let mut bodies: Vec<Value> = Vec::new();
    for token in [
        None,
        Some("garbage"),
        Some(""),
        Some(mistyped.as_str()),
        Some(unknown.as_str()),
        Some(expired.as_str()),
        Some(disabled.as_str()),
        Some(revoked.as_str()),
        Some(deleted.as_str()),
        Some(OPERATOR),
    ] {
        for (method, path) in [
            (Method::GET, format!("{BASE}/apiKeys")),
            (Method::POST, format!("{BASE}/apiKeys/x/rotate")),
            (Method::GET, "/api/tenants".to_owned()),
        ] {
            let r = app.call(method, &path, token, None).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{token:?} {path}: {}",
                r.body
            );
            assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scimd\""));
            if let Some(t) = token.filter(|t| t.len() > 8) {
                assert!(!r.body.to_string().contains(t));
            }
            bodies.push(r.body);
        }
    }
    assert_error(
        &app.call(Method::GET, &format!("{BASE}/apiKeys"), None, None)
            .await,
        401,
        "unauthorized",
        None,
    );
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "no oracle: {bodies:?}"
    );
    // Keys are accepted only in the Authorization header.
    let r = app
        .call(
            Method::GET,
            &format!("{BASE}/apiKeys?access_token={good}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

on_each_backend!(each_route_needs_its_permission, |app| {
    let scim = app.scim_token.clone();
    let r = call_as(&app, &scim, Method::GET, &format!("{BASE}/apiKeys"), None).await;
    assert_error(&r, 403, "forbidden", None);
    let (_, reader) = create_key(
        &app,
        json!({"name": "reader", "permissions": ["tenant.apiKey:read"]}),
    )
    .await;
    let (_, none) = create_key(&app, json!({"name": "none", "permissions": []})).await;
    let routes: Vec<(Method, &str, Option<Value>, &str)> = vec![
        (Method::GET, "/apiKeys", None, "tenant.apiKey:read"),
        (
            Method::POST,
            "/apiKeys",
            Some(json!({"name": "n"})),
            "tenant.apiKey:write",
        ),
        (Method::GET, "/apiKeys/admin", None, "tenant.apiKey:read"),
        (
            Method::PUT,
            "/apiKeys/admin",
            Some(json!({"enabled": false})),
            "tenant.apiKey:write",
        ),
        (
            Method::DELETE,
            "/apiKeys/admin",
            None,
            "tenant.apiKey:write",
        ),
        (
            Method::POST,
            "/apiKeys/admin/revoke",
            None,
            "tenant.apiKey:write",
        ),
        (
            Method::POST,
            "/apiKeys/admin/rotate",
            None,
            "tenant.apiKey:write",
        ),
        (Method::GET, "/machines", None, "tenant.machine:read"),
        (
            Method::POST,
            "/machines",
            Some(json!({"name": "m"})),
            "tenant.machine:write",
        ),
        (Method::GET, "/machines/x", None, "tenant.machine:read"),
        (
            Method::PATCH,
            "/machines/x",
            Some(json!({"name": "m"})),
            "tenant.machine:write",
        ),
        (Method::DELETE, "/machines/x", None, "tenant.machine:write"),
        (
            Method::GET,
            "/machines/x/apiKeys",
            None,
            "tenant.apiKey:read",
        ),
        (Method::GET, "/settings/scim", None, "tenant.settings:read"),
        (
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": true})),
            "tenant.settings:write",
        ),
        (Method::GET, "/auditEvents", None, "tenant.audit:read"),
    ];
    for (method, path, body, needed) in routes {
        let r = call_as(
            &app,
            &none,
            method.clone(),
            &format!("{BASE}{path}"),
            body.clone(),
        )
        .await;
        assert_error(&r, 403, "forbidden", None);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needed),
            "{path}: {}",
            r.body
        );
        let r = call_as(
            &app,
            &reader,
            method.clone(),
            &format!("{BASE}{path}"),
            body,
        )
        .await;
        if needed == "tenant.apiKey:read" {
            assert_ne!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        } else {
            assert_error(&r, 403, "forbidden", None);
        }
    }
    // Nothing changed: the admin key still works.
    assert_eq!(
        api(&app, Method::GET, "/apiKeys/admin", None).await.body["status"],
        "active"
    );
});

on_each_backend!(a_caller_never_grants_more_than_it_holds, |app| {
    let (_, keyadmin) = create_key(
        &app,
        json!({"name": "keyadmin", "permissions": ["tenant.apiKey:read", "tenant.apiKey:write"]}),
    )
    .await;
    let post = |body: Value| {
        let t = keyadmin.clone();
        let app = &app;
        async move {
            call_as(
                app,
                &t,
                Method::POST,
                &format!("{BASE}/apiKeys"),
                Some(body),
            )
            .await
        }
    };
    for body in [
        json!({"name": "e1", "permissions": ["*"]}),
        json!({"name": "e2", "permissions": ["tenant.machine:write"]}),
        json!({"name": "e3", "permissions": ["tenant.apiKey:read", "tenant.settings:write"]}),
        json!({"name": "e4", "scope": "public_api", "permissions": ["*"]}),
        json!({"name": "e5", "scope": "scim"}),
        json!({"name": "e6", "scope": "on_premise", "options": {"retrieve": true, "push": false}}),
    ] {
        let r = post(body.clone()).await;
        assert_error(&r, 403, "forbidden", None);
    }
    let r = post(json!({"name": "ok", "permissions": ["tenant.apiKey:read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Raising a key's permissions beyond one's own.
    let put = call_as(
        &app,
        &keyadmin,
        Method::PUT,
        &format!("{BASE}/apiKeys/ok"),
        Some(json!({"enabled": true, "permissions": ["*"]})),
    )
    .await;
    assert_error(&put, 403, "forbidden", None);
    let put = call_as(&app, &keyadmin, Method::PUT, &format!("{BASE}/apiKeys/keyadmin"), Some(json!({"enabled": true, "permissions": ["tenant.apiKey:read", "tenant.apiKey:write", "tenant.audit:read"]}))).await;
    assert_error(&put, 403, "forbidden", None);
    let put = call_as(
        &app,
        &keyadmin,
        Method::PUT,
        &format!("{BASE}/apiKeys/entra"),
        Some(json!({"enabled": true, "options": {"scimCustomAttributes": true}})),
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::OK,
        "options of a scim key are no permission: {}",
        put.body
    );
    // Lowering is fine.
    let put = call_as(
        &app,
        &keyadmin,
        Method::PUT,
        &format!("{BASE}/apiKeys/ok"),
        Some(json!({"enabled": true, "permissions": []})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    // Rotating a more powerful key would hand its power to the caller.
    let r = call_as(
        &app,
        &keyadmin,
        Method::POST,
        &format!("{BASE}/apiKeys/admin/rotate"),
        None,
    )
    .await;
    assert_error(&r, 403, "forbidden", None);
    let r = call_as(
        &app,
        &keyadmin,
        Method::POST,
        &format!("{BASE}/apiKeys/entra/rotate"),
        None,
    )
    .await;
    assert_error(&r, 403, "forbidden", None);
    let r = call_as(
        &app,
        &keyadmin,
        Method::POST,
        &format!("{BASE}/apiKeys/ok/rotate"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The admin key is untouched and still the only `*` key.
    let list = api(&app, Method::GET, "/apiKeys", None).await;
    let stars = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["permissions"] == json!(["*"]))
        .count();
    assert_eq!(stars, 1, "{}", list.body);
});

on_each_backend!(tenants_are_isolated_in_the_admin_api, |app| {
    let other = TenantId::parse("other").unwrap();
    app.store
        .create_tenant(&other, None, Utc::now())
        .await
        .unwrap();
    let other_admin = new_key(&app.store, &other, "admin", Scope::PublicApi).await;
    let other_scim = new_key(&app.store, &other, "entra", Scope::Scim).await;
    let mine = app.admin_token.clone();
    let mut bodies = Vec::new();
    for (method, path, body) in [
        (Method::GET, "/api/other/admin/apiKeys", None),
        (Method::GET, "/api/other/admin/apiKeys/admin", None),
        (
            Method::POST,
            "/api/other/admin/apiKeys",
            Some(json!({"name": "intruder"})),
        ),
        (
            Method::PUT,
            "/api/other/admin/apiKeys/admin",
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, "/api/other/admin/apiKeys/entra", None),
        (Method::POST, "/api/other/admin/apiKeys/entra/revoke", None),
        (Method::POST, "/api/other/admin/apiKeys/entra/rotate", None),
        (Method::GET, "/api/other/admin/machines", None),
        (
            Method::PUT,
            "/api/other/admin/settings/scim",
            Some(json!({"customAttributesEnabled": true})),
        ),
        (Method::GET, "/api/other/admin/auditEvents", None),
        (Method::GET, "/api/no-such-tenant/admin/apiKeys", None),
        (Method::GET, "/api/Not_Valid/admin/apiKeys", None),
    ] {
        let r = call_as(&app, &mine, method, path, body).await;
        assert_error(&r, 404, "not_found", None);
        bodies.push(r.body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "same 404 whether the tenant exists: {bodies:?}"
    );
    // The other tenant is untouched.
    assert_eq!(scim_status(&app, &other_scim).await, StatusCode::OK);
    let r = call_as(
        &app,
        &other_admin,
        Method::GET,
        "/api/other/admin/apiKeys",
        None,
    )
    .await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "entra"]);
    let s = call_as(
        &app,
        &other_admin,
        Method::GET,
        "/api/other/admin/settings/scim",
        None,
    )
    .await;
    assert_eq!(s.body["customAttributesEnabled"], false);
    let r = call_as(
        &app,
        &other_admin,
        Method::GET,
        &format!("{BASE}/apiKeys"),
        None,
    )
    .await;
    assert_error(&r, 404, "not_found", None);
    let r = call_as(
        &app,
        &other_admin,
        Method::GET,
        "/api/other/admin/auditEvents",
        None,
    )
    .await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        2,
        "only other's own two key creations: {}",
        r.body
    );
    assert!(events.iter().all(|e| e["actor"] == "system"), "{}", r.body);
});

#[actix_web::test]
async fn the_operator_token_manages_tenants_and_any_tenant() {
    for backend in crate::common::backends() {
        let vars = HashMap::from([("SCIMD_OPERATOR_TOKEN".to_owned(), OPERATOR.to_owned())]);
        let app = crate::common::spawn_with(backend, vars).await;
        let op = |m: Method, p: &str, b: Option<Value>| {
            let app = &app;
            let p = p.to_owned();
            async move { call_as(app, OPERATOR, m, &p, b).await }
        };
        let r = op(
            Method::POST,
            "/api/tenants",
            Some(json!({"id": "beta", "adminEmail": "it@beta.example"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["adminEmail"], "it@beta.example");
        assert_error(
            &op(Method::POST, "/api/tenants", Some(json!({"id": "beta"}))).await,
            409,
            "conflict",
            None,
        );
        assert_error(
            &op(Method::POST, "/api/tenants", Some(json!({"id": "Bad Id"}))).await,
            422,
            "invalid_id",
            Some("id"),
        );
        assert_error(
            &op(Method::POST, "/api/tenants", Some(json!({}))).await,
            422,
            "missing_field",
            Some("id"),
        );
        assert_error(
            &op(
                Method::POST,
                "/api/tenants",
                Some(json!({"id": "c", "adminEmail": "nope"})),
            )
            .await,
            422,
            "invalid_email",
            Some("adminEmail"),
        );
        let r = op(Method::GET, "/api/tenants", None).await;
        let ids: Vec<&str> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["acme", "beta"]);
        let r = op(
            Method::PATCH,
            "/api/tenants/beta",
            Some(json!({"adminEmail": "sec@beta.example"})),
        )
        .await;
        assert_eq!(r.body["adminEmail"], "sec@beta.example");
        assert_eq!(
            op(Method::GET, "/api/tenants/beta", None).await.body["adminEmail"],
            "sec@beta.example"
        );
        assert_error(
            &op(Method::GET, "/api/tenants/nope", None).await,
            404,
            "not_found",
            None,
        );

        // The operator works in any tenant's admin API; it is recorded as `operator`.
        let r = op(
            Method::POST,
            "/api/beta/admin/apiKeys",
            Some(json!({"name": "first-admin", "permissions": ["*"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let beta_admin = r.body["token"].as_str().unwrap().to_owned();
        let r = call_as(
            &app,
            &beta_admin,
            Method::GET,
            "/api/beta/admin/auditEvents",
            None,
        )
        .await;
        assert_eq!(r.body["events"][0]["actor"], "operator", "{}", r.body);
        assert_error(
            &op(Method::GET, "/api/nope/admin/apiKeys", None).await,
            404,
            "not_found",
            None,
        );

        // Keys, even `*` ones, are not the operator.
        let admin = app.admin_token.clone();
        assert_error(
            &call_as(&app, &admin, Method::GET, "/api/tenants", None).await,
            403,
            "forbidden",
            None,
        );
        assert_error(
            &call_as(&app, &admin, Method::DELETE, "/api/tenants/beta", None).await,
            403,
            "forbidden",
            None,
        );

        // Deleting a tenant stops its keys at once.
        assert_eq!(
            call_as(
                &app,
                &beta_admin,
                Method::GET,
                "/api/beta/admin/apiKeys",
                None
            )
            .await
            .status,
            StatusCode::OK
        );
        assert_eq!(
            op(Method::DELETE, "/api/tenants/beta", None).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call_as(
                &app,
                &beta_admin,
                Method::GET,
                "/api/beta/admin/apiKeys",
                None
            )
            .await
            .status,
            StatusCode::UNAUTHORIZED
        );
        assert_error(
            &op(Method::DELETE, "/api/tenants/beta", None).await,
            404,
            "not_found",
            None,
        );
    }
}
