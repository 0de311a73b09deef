//! Tenant isolation: a key of tenant A never reads or changes anything of tenant B.

use actix_web::http::{Method, StatusCode};
use chrono::Utc;
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::json;

use crate::common::{assert_scim_error, new_key, user_body};
use crate::on_each_backend;
use crate::users::urlencode;

on_each_backend!(
    a_tenant_never_sees_or_touches_another_tenants_resources,
    |app| {
        let other = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let other_token = new_key(&app.store, &other, "entra", Scope::Scim).await;

        // tenant B's user and group
        let r = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&other_token),
                Some(user_body("shared@example.com")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let b_user = r.body["id"].as_str().unwrap().to_owned();
        let r = app
            .call(
                Method::POST,
                "/scim/v2/Groups",
                Some(&other_token),
                Some(json!({"displayName": "Shared", "members": [{"value": b_user}]})),
            )
            .await;
        let b_group = r.body["id"].as_str().unwrap().to_owned();

        // the same userName and group name are free in tenant A: uniqueness is per tenant
        let a_user = app.create_user("shared@example.com").await;
        let r = app
            .post("/scim/v2/Groups", json!({"displayName": "Shared"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);

        // A cannot read, replace or delete B's resources: 404, as if they did not exist
        for path in [
            format!("/scim/v2/Users/{b_user}"),
            format!("/scim/v2/Groups/{b_group}"),
        ] {
            assert_scim_error(&app.get(&path).await, 404, None);
            assert_scim_error(&app.delete(&path).await, 404, None);
        }
        assert_scim_error(
            &app.put(&format!("/scim/v2/Users/{b_user}"), user_body("hijack"))
                .await,
            404,
            None,
        );
        assert_scim_error(
            &app.put(
                &format!("/scim/v2/Groups/{b_group}"),
                json!({"displayName": "hijack"}),
            )
            .await,
            404,
            None,
        );
        // A cannot add B's user to its own group
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({"displayName": "Steal", "members": [{"value": b_user}]}),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidValue"));

        // lists and filters only show A's resources
        let list = app.get("/scim/v2/Users").await;
        assert_eq!(list.body["totalResults"], 1);
        assert_eq!(list.body["Resources"][0]["id"], a_user.as_str());
        let by_id = app
            .get(&format!(
                "/scim/v2/Users?filter={}",
                urlencode(&format!("id eq \"{b_user}\""))
            ))
            .await;
        assert_eq!(by_id.body["totalResults"], 0);
        let groups = app.get("/scim/v2/Groups").await;
        assert_eq!(groups.body["totalResults"], 1);
        assert!(groups.body["Resources"][0].get("members").is_none());

        // and B's data is intact
        let r = app
            .call(
                Method::GET,
                &format!("/scim/v2/Users/{b_user}"),
                Some(&other_token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["userName"], "shared@example.com");
        let r = app
            .call(
                Method::GET,
                &format!("/scim/v2/Groups/{b_group}"),
                Some(&other_token),
                None,
            )
            .await;
        assert_eq!(r.body["displayName"], "Shared");
        assert_eq!(r.body["members"][0]["value"], b_user.as_str());
    }
);
