//! Machines (service accounts) and their keys.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::{api, assert_error, create_key, scim_status};
use crate::on_each_backend;

on_each_backend!(machines_crud_and_their_keys, |app| {
    let r = api(
        &app,
        Method::POST,
        "/machines",
        Some(json!({"name": "ad-sync", "description": "On-premise AD sync"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["name"], "ad-sync");
    let keys_path = format!("/machines/{id}/apiKeys");
    let r = api(&app, Method::GET, &keys_path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([]), "no keys: an empty list, not 404");

    let (view, token) = create_key(&app, json!({"name": "sync-key", "scope": "on_premise", "machine": id, "label": "Clé production"})).await;
    assert_eq!(view["machine"], id.as_str());
    let r = api(&app, Method::GET, &keys_path, None).await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sync-key"]);
    assert!(r.body[0].get("token").is_none());

    let r = api(&app, Method::GET, "/machines", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = api(&app, Method::GET, &format!("/machines/{id}"), None).await;
    assert_eq!(r.body["description"], "On-premise AD sync");
    let r = api(
        &app,
        Method::PATCH,
        &format!("/machines/{id}"),
        Some(json!({"name": "ad-sync-2"})),
    )
    .await;
    assert_eq!(r.body["name"], "ad-sync-2");
    assert_eq!(
        r.body["description"], "On-premise AD sync",
        "absent field kept"
    );
    let r = api(
        &app,
        Method::PATCH,
        &format!("/machines/{id}"),
        Some(json!({"description": null})),
    )
    .await;
    assert_eq!(r.body["description"], serde_json::Value::Null);

    assert_error(
        &api(
            &app,
            Method::POST,
            "/machines",
            Some(json!({"name": "ad-sync-2"})),
        )
        .await,
        409,
        "conflict",
        None,
    );
    assert_error(
        &api(&app, Method::POST, "/machines", Some(json!({"name": "  "}))).await,
        422,
        "invalid_name",
        Some("name"),
    );
    assert_error(
        &api(&app, Method::POST, "/machines", Some(json!({}))).await,
        422,
        "missing_field",
        Some("name"),
    );
    assert_error(
        &api(
            &app,
            Method::PATCH,
            &format!("/machines/{id}"),
            Some(json!({"name": ""})),
        )
        .await,
        422,
        "invalid_name",
        Some("name"),
    );
    assert_error(
        &api(&app, Method::GET, "/machines/nope", None).await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &api(&app, Method::GET, "/machines/nope/apiKeys", None).await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &api(
            &app,
            Method::PATCH,
            "/machines/nope",
            Some(json!({"name": "x"})),
        )
        .await,
        404,
        "not_found",
        None,
    );

    // Deleting the machine deletes its keys: they stop working at once.
    assert_eq!(scim_status(&app, &token).await, StatusCode::OK);
    assert_eq!(
        api(&app, Method::DELETE, &format!("/machines/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_error(
        &api(&app, Method::GET, "/apiKeys/sync-key", None).await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &api(&app, Method::DELETE, &format!("/machines/{id}"), None).await,
        404,
        "not_found",
        None,
    );
    assert_eq!(
        scim_status(&app, &app.scim_token.clone()).await,
        StatusCode::OK,
        "other keys untouched"
    );
});
