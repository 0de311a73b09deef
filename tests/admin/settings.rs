//! Tenant SCIM settings: the custom-attributes switch and the custom schema.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::{api, assert_error};
use crate::on_each_backend;

on_each_backend!(scim_settings_round_trip_and_are_validated, |app| {
    let r = api(&app, Method::GET, "/settings/scim", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["customAttributesEnabled"], false);
    assert_eq!(
        r.body["customSchema"]["id"],
        "urn:ietf:params:scim:schemas:extension:scimd:2.0:User"
    );
    assert_eq!(r.body["customSchema"]["attributes"], json!([]));

    let schema = json!({
        "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
        "name": "AcmeUser",
        "description": "Acme's own attributes",
        "attributes": [
            {"name": "badgeNumber", "type": "string", "multiValued": false, "description": "Badge"},
            {"name": "skills", "type": "string", "multiValued": true},
            {"name": "office", "type": "complex", "multiValued": false,
             "subAttributes": [{"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}]}
        ]
    });
    let r = api(
        &app,
        Method::PUT,
        "/settings/scim",
        Some(json!({"customAttributesEnabled": true, "customSchema": schema})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api(&app, Method::GET, "/settings/scim", None).await;
    assert_eq!(r.body["customAttributesEnabled"], true);
    assert_eq!(r.body["customSchema"], schema);

    for bad in [
        json!({"customSchema": schema}),
        json!({"customAttributesEnabled": true, "customSchema": {"attributes": []}}),
        json!({"customAttributesEnabled": true, "customSchema": {"id": "urn:x", "attributes": [{"name": "a", "type": "float"}]}}),
        json!({"customAttributesEnabled": true, "customSchema": "urn:x"}),
    ] {
        let r = api(&app, Method::PUT, "/settings/scim", Some(bad.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert!(r.body["error"]["field"].is_string());
    }
    assert_error(
        &api(
            &app,
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": "yes"})),
        )
        .await,
        400,
        "invalid_body",
        None,
    );
    let r = api(&app, Method::GET, "/settings/scim", None).await;
    assert_eq!(
        r.body["customSchema"], schema,
        "refused writes changed nothing"
    );

    // PUT replaces the whole object: no schema means the default again.
    let r = api(
        &app,
        Method::PUT,
        "/settings/scim",
        Some(json!({"customAttributesEnabled": false})),
    )
    .await;
    assert_eq!(r.body["customSchema"]["attributes"], json!([]));
    assert_eq!(r.body["customAttributesEnabled"], false);
});

on_each_backend!(
    the_tenant_s_admin_e_mail_and_locale_through_the_admin_api,
    |app| {
        let r = api(&app, Method::GET, "/settings/tenant", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body,
            serde_json::json!({"adminEmail": "admin@acme.test", "locale": "en"})
        );
        let r = api(
            &app,
            Method::PUT,
            "/settings/tenant",
            Some(serde_json::json!({"adminEmail": " it@acme.test ", "locale": "fr"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["adminEmail"], "it@acme.test");
        let r = api(&app, Method::GET, "/settings/tenant", None).await;
        assert_eq!(r.body["locale"], "fr");
        let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
        assert_eq!(tenant.admin_email.as_deref(), Some("it@acme.test"));
        for (body, field) in [
            (
                serde_json::json!({"adminEmail": "nope", "locale": "en"}),
                "adminEmail",
            ),
            (
                serde_json::json!({"adminEmail": null, "locale": "de"}),
                "locale",
            ),
            (serde_json::json!({"adminEmail": null}), "locale"),
        ] {
            let r = api(&app, Method::PUT, "/settings/tenant", Some(body.clone())).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], field, "{body}");
        }
        // null removes the address.
        let r = api(
            &app,
            Method::PUT,
            "/settings/tenant",
            Some(serde_json::json!({"adminEmail": null, "locale": "en"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body["adminEmail"].is_null());
        // Reading needs tenant.settings:read, writing tenant.settings:write.
        let (_, reader) = super::create_key(
            &app,
            serde_json::json!({"name": "reader", "permissions": ["tenant.settings:read"]}),
        )
        .await;
        let path = format!("{}/settings/tenant", super::BASE);
        let r = app.call(Method::GET, &path, Some(&reader), None).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .call(
                Method::PUT,
                &path,
                Some(&reader),
                Some(serde_json::json!({"adminEmail": null, "locale": "en"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
);
