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
