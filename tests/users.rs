//! `/Users`: create, read, replace, delete, list, filter, uniqueness.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::common::{assert_scim_error, user_body};
use crate::on_each_backend;

on_each_backend!(
    create_returns_201_with_location_etag_and_full_resource,
    |app| {
        let r = app
            .post("/scim/v2/Users", user_body("bjensen@example.com"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().expect("id");
        let location = format!("https://scim.example.test/scim/v2/Users/{id}");
        assert_eq!(r.header("location"), Some(location.as_str()));
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(r.header("etag"), Some("W/\"1\""));
        assert_eq!(r.body["userName"], "bjensen@example.com");
        assert_eq!(r.body["externalId"], "ext-bjensen@example.com");
        assert_eq!(r.body["name"]["givenName"], "Given");
        assert_eq!(r.body["emails"][0]["value"], "bjensen@example.com");
        assert_eq!(
            r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Engineering"
        );
        assert_eq!(
            r.body["schemas"],
            json!([
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ])
        );
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert_eq!(r.body["meta"]["location"], location);
        assert_eq!(r.body["meta"]["version"], "W/\"1\"");
        assert!(r.body["meta"]["created"].as_str().is_some());

        let got = app.get(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body, r.body);
    }
);

on_each_backend!(password_is_accepted_but_never_returned, |app| {
    let mut body = user_body("pw");
    body["password"] = json!("t0p-s3cret!");
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.body.get("password").is_none());
    let got = app
        .get(&format!(
            "/scim/v2/Users/{}",
            r.body["id"].as_str().unwrap()
        ))
        .await;
    assert!(!got.body.to_string().contains("t0p-s3cret!"));
});

on_each_backend!(read_only_and_unknown_attributes_are_ignored, |app| {
    let mut body = user_body("ro");
    body["id"] = json!("chosen-by-client");
    body["meta"] = json!({"version": "W/\"99\""});
    body["groups"] = json!([{"value": "x"}]);
    body["favouriteColour"] = json!("blue");
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.body["id"], "chosen-by-client");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert!(r.body.get("groups").is_none());
    assert!(r.body.get("favouriteColour").is_none());
});

on_each_backend!(entra_string_booleans_are_accepted, |app| {
    let mut body = user_body("bool");
    body["active"] = json!("False");
    body["emails"][0]["primary"] = json!("True");
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["emails"][0]["primary"], true);
});

on_each_backend!(user_name_is_unique_case_insensitively, |app| {
    app.create_user("Alice@Example.com").await;
    let mut body = user_body("alice@example.COM");
    body["externalId"] = json!("other");
    let r = app.post("/scim/v2/Users", body).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    let list = app.get("/scim/v2/Users").await;
    assert_eq!(list.body["totalResults"], 1, "nothing half-written");
});

on_each_backend!(missing_user_name_and_wrong_types_are_invalid_value, |app| {
    let r = app
        .post("/scim/v2/Users", json!({"displayName": "nobody"}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.post("/scim/v2/Users", json!({"userName": "  "})).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    for bad in [
        json!({"userName": 12}),
        json!({"userName": "x", "active": "maybe"}),
        json!({"userName": "x", "emails": "x@y"}),
        json!({"userName": "x", "name": ["a"]}),
        json!({"userName": "x", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
    ] {
        let r = app.post("/scim/v2/Users", bad.clone()).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    assert_eq!(app.get("/scim/v2/Users").await.body["totalResults"], 0);
});

on_each_backend!(put_replaces_attributes_and_bumps_version, |app| {
    let id = app.create_user("put@example.com").await;
    let r = app
        .put(
            &format!("/scim/v2/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "renamed@example.com", "active": false, "title": "Boss"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["userName"], "renamed@example.com");
    assert_eq!(r.body["title"], "Boss");
    assert_eq!(r.body["active"], false);
    assert!(
        r.body.get("name").is_none(),
        "PUT replaces: attributes left out are cleared"
    );
    assert!(r.body.get("externalId").is_none());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let by_name = app
        .get("/scim/v2/Users?filter=userName%20eq%20%22RENAMED%40example.com%22")
        .await;
    assert_eq!(by_name.body["totalResults"], 1);
});

on_each_backend!(
    put_to_a_taken_user_name_is_a_conflict_and_changes_nothing,
    |app| {
        app.create_user("taken").await;
        let id = app.create_user("mine").await;
        let r = app
            .put(
                &format!("/scim/v2/Users/{id}"),
                json!({"userName": "TAKEN"}),
            )
            .await;
        assert_scim_error(&r, 409, Some("uniqueness"));
        let got = app.get(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(got.body["userName"], "mine");
        assert_eq!(got.body["meta"]["version"], "W/\"1\"");
    }
);

on_each_backend!(unknown_ids_are_404_for_every_verb, |app| {
    let path = "/scim/v2/Users/00000000-0000-0000-0000-000000000000";
    assert_scim_error(&app.get(path).await, 404, None);
    assert_scim_error(&app.put(path, user_body("x")).await, 404, None);
    assert_scim_error(&app.delete(path).await, 404, None);
    assert_scim_error(&app.get("/scim/v2/Users/not-even-a-uuid").await, 404, None);
});

on_each_backend!(delete_returns_204_and_the_user_is_gone, |app| {
    let id = app.create_user("gone").await;
    let r = app.delete(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, serde_json::Value::Null);
    assert_scim_error(&app.get(&format!("/scim/v2/Users/{id}")).await, 404, None);
    assert_scim_error(
        &app.delete(&format!("/scim/v2/Users/{id}")).await,
        404,
        None,
    );
    // the userName is free again
    app.create_user("gone").await;
});

on_each_backend!(list_pages_with_start_index_and_count, |app| {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.create_user(&format!("user{i}")).await);
    }
    let r = app.get("/scim/v2/Users?startIndex=3&count=2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["startIndex"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    let got: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        vec![ids[2].as_str(), ids[3].as_str()],
        "stable creation order"
    );

    let r = app.get("/scim/v2/Users?count=0").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["Resources"], json!([]));

    // The last page (its total follows from its position, without a count), and a page
    // after a cursor (counted), give the same total.
    let r = app.get("/scim/v2/Users?startIndex=6&count=5").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 2);
    let r = app.get("/scim/v2/Users?cursor=&count=4").await;
    assert_eq!(r.body["totalResults"], 7);
    let next = r.body["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("/scim/v2/Users?cursor={next}&count=4"))
        .await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 3);
    let r = app
        .get("/scim/v2/Users?filter=userName%20eq%20%22nobody%22")
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let r = app
        .get("/scim/v2/Users?filter=userName%20eq%20%22user3%22")
        .await;
    assert_eq!(r.body["totalResults"], 1);

    let r = app.get("/scim/v2/Users?startIndex=-4&count=-1").await;
    assert_eq!(r.body["startIndex"], 1, "clamped");
    assert_eq!(r.body["itemsPerPage"], 0);

    let r = app.get("/scim/v2/Users?startIndex=100").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0);

    let r = app.get("/scim/v2/Users?count=100000").await;
    assert_eq!(
        r.body["itemsPerPage"], 7,
        "clamped to the maximum page size"
    );

    assert_scim_error(
        &app.get("/scim/v2/Users?count=ten").await,
        400,
        Some("invalidValue"),
    );
});

on_each_backend!(filters_on_lookup_attributes, |app| {
    let id = app.create_user("Jane.Doe@example.com").await;
    app.create_user("other@example.com").await;
    for filter in [
        "userName eq \"jane.doe@example.com\"",
        "USERNAME Eq \"JANE.DOE@EXAMPLE.COM\"",
        "externalId eq \"ext-Jane.Doe@example.com\"",
        &format!("id eq \"{id}\""),
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"jane.doe@example.com\"",
    ] {
        let r = app
            .get(&format!("/scim/v2/Users?filter={}", urlencode(filter)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{filter}");
        assert_eq!(r.body["Resources"][0]["id"], id.as_str(), "{filter}");
    }
    // externalId is caseExact
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            urlencode("externalId eq \"EXT-jane.doe@example.com\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0);
    // Entra's probe before creating: no match is 200 with zero results
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            urlencode("userName eq \"nobody@example.com\"")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
});

// A lookup by a non-unique attribute with more matches than its page: the matches are counted
// (the prepared lookup reads one row more than asked and counts only then).
on_each_backend!(lookups_with_more_matches_than_the_page_count_them, |app| {
    let mut ids = Vec::new();
    for name in [
        "shared-a@example.com",
        "shared-b@example.com",
        "shared-c@example.com",
    ] {
        let r = app
            .post(
                "/scim/v2/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "externalId": "shared-ext",
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap_or_default().to_owned());
    }
    ids.sort();
    let filter = urlencode("externalId eq \"shared-ext\"");
    for (query, total, page) in [
        ("count=1", 3, vec![ids[0].clone()]),
        ("count=2", 3, vec![ids[0].clone(), ids[1].clone()]),
        ("count=3", 3, ids.clone()),
        ("", 3, ids.clone()),
        ("startIndex=3&count=1", 3, vec![ids[2].clone()]),
        ("count=0", 3, vec![]),
    ] {
        let r = app
            .get(&format!("/scim/v2/Users?filter={filter}&{query}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
        assert_eq!(r.body["totalResults"], total, "{query}: {}", r.body);
        let got: Vec<&str> = r.body["Resources"]
            .as_array()
            .map(|a| a.iter().filter_map(|u| u["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(got, page, "{query}");
    }
});

on_each_backend!(malformed_or_unevaluable_filters_are_invalid_filter, |app| {
    app.create_user("someone").await;
    for filter in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "nosuchattr eq \"x\"",
        "name eq \"x\"",
        "userName.sub eq \"x\"",
        "active gt true",
        "active eq \"maybe\"",
        "userName gt 5",
        "emails[type eq \"work\"",
        "urn:example:unknown:1.0:User:x eq \"y\"",
        "meta.created gt \"yesterday\"",
        "groups.display eq \"x\"",
    ] {
        let r = app
            .get(&format!("/scim/v2/Users?filter={}", urlencode(filter)))
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
});

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_each_backend!(a_patched_password_is_stored_only_as_a_hash, |app| {
    use actix_web::http::Method;
    let id = app.create_user("pw@contoso.com").await;
    for (ops, clear) in [
        (
            json!([{"op": "Replace", "path": "password", "value": "n3w-s3cret!"}]),
            "n3w-s3cret!",
        ),
        (
            json!([{"op": "Replace", "value": {"password": "other-s3cret!", "displayName": "P"}}]),
            "other-s3cret!",
        ),
    ] {
        let r = app
            .call(
                Method::PATCH,
                &format!("/scim/v2/Users/{id}"),
                Some(&app.scim_token.clone()),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": ops}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("password").is_none());
        let stored = app
            .store
            .get_resource(&app.tenant, scim_model::ResourceKind::User, &id, false)
            .await
            .unwrap();
        let hash = stored.attributes["password"].as_str().unwrap().to_owned();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains(clear));
    }
});
