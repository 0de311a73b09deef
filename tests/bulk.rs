//! `/Bulk`: bulkId references, failOnErrors, limits, per-operation errors.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::common::{assert_scim_error, user_body};
use crate::on_each_backend;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

on_each_backend!(bulk_creates_a_user_and_a_group_that_references_it, |app| {
    let r = app
        .post("/scim/v2/Bulk", json!({"schemas": [BULK], "Operations": [
            // the group comes first and refers forward to the user
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Bulk group", "members": [{"type": "User", "value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body("bulk@example.com")},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "title", "value": "Bulk"}]}}
        ]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert!(
        ops.iter()
            .all(|o| o["status"] == "201" || o["status"] == "200"),
        "{}",
        r.body
    );
    let user_loc = ops.iter().find(|o| o["bulkId"] == "u1").unwrap()["location"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_id = user_loc.rsplit('/').next().unwrap().to_owned();
    let group_loc = ops.iter().find(|o| o["bulkId"] == "g1").unwrap()["location"]
        .as_str()
        .unwrap()
        .to_owned();
    let group_id = group_loc.rsplit('/').next().unwrap();
    let g = app.get(&format!("/scim/v2/Groups/{group_id}")).await;
    assert_eq!(g.body["members"][0]["value"], user_id.as_str());
    let u = app.get(&format!("/scim/v2/Users/{user_id}")).await;
    assert_eq!(u.body["title"], "Bulk");
    assert_eq!(u.body["groups"][0]["value"], group_id);
});

on_each_backend!(
    bulk_errors_are_per_operation_and_fail_on_errors_stops,
    |app| {
        let id = app.create_user("existing").await;
        let r = app
        .post("/scim/v2/Bulk", json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("existing")},
            {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"9\"", "data": user_body("existing")},
            {"method": "DELETE", "path": "/Users/nope"},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("fresh")},
            {"method": "POST", "path": "/Groups", "bulkId": "c", "data": {"displayName": "x", "members": [{"value": "bulkId:missing"}]}}
        ]}))
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let statuses: Vec<&str> = r.body["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["409", "412", "404", "201", "409"]);
        assert_eq!(
            r.body["Operations"][0]["response"]["scimType"],
            "uniqueness"
        );

        let r = app
            .post(
                "/scim/v2/Bulk",
                json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                    {"method": "DELETE", "path": "/Users/nope"},
                    {"method": "POST", "path": "/Users", "bulkId": "z", "data": user_body("never")}
                ]}),
            )
            .await;
        assert_eq!(
            r.body["Operations"].as_array().unwrap().len(),
            1,
            "{}",
            r.body
        );
        let found = app
            .get("/scim/v2/Users?filter=userName%20eq%20%22never%22")
            .await;
        assert_eq!(found.body["totalResults"], 0);
    }
);

on_each_backend!(bulk_refuses_cycles_limits_and_bad_messages, |app| {
    let r = app
        .post("/scim/v2/Bulk", json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}}
        ]}))
        .await;
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["409", "409"], "{}", r.body);
    assert_eq!(app.get("/scim/v2/Groups").await.body["totalResults"], 0);

    let many: Vec<_> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    assert_scim_error(
        &app.post(
            "/scim/v2/Bulk",
            json!({"schemas": [BULK], "Operations": many}),
        )
        .await,
        413,
        None,
    );
    assert_scim_error(
        &app.post("/scim/v2/Bulk", json!({"Operations": "x"})).await,
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(
        &app.post(
            "/scim/v2/Bulk",
            json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    assert_scim_error(
        &app.post(
            "/scim/v2/Bulk",
            json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
        )
        .await,
        400,
        Some("invalidSyntax"),
    );
    let sp = app.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(
        sp.body["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576})
    );
});
