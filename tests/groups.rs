//! `/Groups`: members as a relation, user `groups`, uniqueness, replace and delete.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::common::assert_scim_error;
use crate::on_each_backend;
use crate::users::urlencode;

fn group_body(name: &str, members: &[&str]) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "externalId": format!("ext-{name}"),
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
    })
}

on_each_backend!(create_group_with_members_and_read_back, |app| {
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let r = app
        .post("/scim/v2/Groups", group_body("Admins", &[&alice, &bob]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("https://scim.example.test/scim/v2/Groups/{gid}").as_str())
    );
    assert_eq!(r.body["displayName"], "Admins");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    let members = r.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let alice_ref = members
        .iter()
        .find(|m| m["value"] == alice.as_str())
        .expect("alice");
    assert_eq!(alice_ref["type"], "User");
    assert!(
        alice_ref.get("display").is_none(),
        "members carry value, $ref and type"
    );
    assert_eq!(
        alice_ref["$ref"],
        format!("https://scim.example.test/scim/v2/Users/{alice}")
    );

    // the user's groups attribute is computed from the relation
    let u = app.get(&format!("/scim/v2/Users/{alice}")).await;
    assert_eq!(
        u.body["groups"],
        json!([{
            "value": gid, "$ref": format!("https://scim.example.test/scim/v2/Groups/{gid}"),
            "display": "Admins", "type": "direct"
        }])
    );
    // ... and the same on a lookup (one user) and on a page of several
    let found = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            urlencode("userName eq \"alice\"")
        ))
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    assert_eq!(found.body["Resources"][0]["groups"], u.body["groups"]);
    let page = app.get("/scim/v2/Users?count=10").await;
    let users = page.body["Resources"].as_array().expect("a page");
    assert_eq!(users.len(), 2, "{}", page.body);
    for user in users {
        assert_eq!(user["groups"], u.body["groups"], "{user}");
    }
});

on_each_backend!(nested_groups_are_members_too, |app| {
    let inner = app.post("/scim/v2/Groups", group_body("Inner", &[])).await;
    let inner_id = inner.body["id"].as_str().unwrap().to_owned();
    let outer = app
        .post(
            "/scim/v2/Groups",
            json!({"displayName": "Outer", "members": [{"value": inner_id, "type": "Group"}]}),
        )
        .await;
    assert_eq!(outer.status, StatusCode::CREATED, "{}", outer.body);
    assert_eq!(outer.body["members"][0]["type"], "Group");
});

on_each_backend!(unknown_member_is_refused_and_nothing_is_written, |app| {
    let alice = app.create_user("alice").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            group_body("Broken", &[&alice, "no-such-id"]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("no-such-id"));
    let list = app.get("/scim/v2/Groups").await;
    assert_eq!(
        list.body["totalResults"], 0,
        "the group row was rolled back"
    );
    let u = app.get(&format!("/scim/v2/Users/{alice}")).await;
    assert!(u.body.get("groups").is_none());
});

on_each_backend!(wrong_member_type_is_refused, |app| {
    let alice = app.create_user("alice").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"displayName": "G", "members": [{"value": alice, "type": "Group"}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"displayName": "G", "members": [{"value": alice, "type": "Robot"}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
});

on_each_backend!(
    display_name_is_required_and_unique_case_insensitively,
    |app| {
        assert_scim_error(
            &app.post("/scim/v2/Groups", json!({"members": []})).await,
            400,
            Some("invalidValue"),
        );
        assert_eq!(
            app.post("/scim/v2/Groups", group_body("Sales", &[]))
                .await
                .status,
            StatusCode::CREATED
        );
        let mut dup = group_body("SALES", &[]);
        dup["externalId"] = json!("another");
        assert_scim_error(
            &app.post("/scim/v2/Groups", dup).await,
            409,
            Some("uniqueness"),
        );
    }
);

on_each_backend!(put_replaces_the_member_list_atomically, |app| {
    let a = app.create_user("a").await;
    let b = app.create_user("b").await;
    let c = app.create_user("c").await;
    let g = app
        .post("/scim/v2/Groups", group_body("Team", &[&a, &b]))
        .await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let r = app
        .put(
            &format!("/scim/v2/Groups/{gid}"),
            group_body("Team 2", &[&b, &c]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Team 2");
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    let mut got: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    got.sort();
    let mut want = vec![b.as_str(), c.as_str()];
    want.sort();
    assert_eq!(got, want);

    // a failing PUT (unknown member) changes nothing
    let r = app
        .put(
            &format!("/scim/v2/Groups/{gid}"),
            group_body("Team 3", &[&a, "missing"]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let after = app.get(&format!("/scim/v2/Groups/{gid}")).await;
    assert_eq!(after.body["displayName"], "Team 2");
    assert_eq!(after.body["members"].as_array().unwrap().len(), 2);
});

on_each_backend!(a_group_cannot_contain_itself, |app| {
    let g = app.post("/scim/v2/Groups", group_body("Loop", &[])).await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let r = app
        .put(
            &format!("/scim/v2/Groups/{gid}"),
            group_body("Loop", &[&gid]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
});

on_each_backend!(
    deleting_a_user_removes_its_memberships_and_moves_the_group_version,
    |app| {
        let a = app.create_user("a").await;
        let b = app.create_user("b").await;
        let g = app
            .post("/scim/v2/Groups", group_body("Team", &[&a, &b]))
            .await;
        let gid = g.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.delete(&format!("/scim/v2/Users/{a}")).await.status,
            StatusCode::NO_CONTENT
        );
        let after = app.get(&format!("/scim/v2/Groups/{gid}")).await;
        let members = after.body["members"].as_array().unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0]["value"], b.as_str());
        assert_eq!(after.body["meta"]["version"], "W/\"2\"");
    }
);

on_each_backend!(
    deleting_a_group_leaves_users_and_clears_their_groups,
    |app| {
        let a = app.create_user("a").await;
        let g = app.post("/scim/v2/Groups", group_body("Team", &[&a])).await;
        let gid = g.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.delete(&format!("/scim/v2/Groups/{gid}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_scim_error(&app.get(&format!("/scim/v2/Groups/{gid}")).await, 404, None);
        let u = app.get(&format!("/scim/v2/Users/{a}")).await;
        assert_eq!(u.status, StatusCode::OK);
        assert!(u.body.get("groups").is_none());
    }
);

on_each_backend!(groups_filter_by_display_name_and_external_id, |app| {
    let g = app
        .post("/scim/v2/Groups", group_body("Finance Team", &[]))
        .await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    app.post("/scim/v2/Groups", group_body("Other", &[])).await;
    for filter in [
        "displayName eq \"finance team\"",
        "externalId eq \"ext-Finance Team\"",
        &format!("id eq \"{gid}\""),
    ] {
        let r = app
            .get(&format!("/scim/v2/Groups?filter={}", urlencode(filter)))
            .await;
        assert_eq!(r.body["totalResults"], 1, "{filter}: {}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], gid.as_str());
    }
    let r = app
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            urlencode("userName eq \"x\"")
        ))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app.get("/scim/v2/Groups?count=1").await;
    assert_eq!(r.body["totalResults"], 2);
    assert_eq!(r.body["itemsPerPage"], 1);
});

on_each_backend!(create_and_replace_answer_what_a_read_returns, |app| {
    let a = app.create_user("ans-a@example.test").await;
    let b = app.create_user("ans-b@example.test").await;
    let created = app
        .post(
            "/scim/v2/Groups",
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Answered",
                "members": [{"value": b}, {"value": a}, {"value": a}],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let read = app.get(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(
        created.body, read.body,
        "the create answer is the stored group"
    );
    let replaced = app
        .put(
            &format!("/scim/v2/Groups/{id}"),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Answered again",
                "members": [{"value": a}],
            }),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let read = app.get(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(
        replaced.body, read.body,
        "the replace answer is the stored group"
    );
    assert_eq!(read.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(read.body["meta"]["version"], "W/\"2\"");
});

/// Creates `n` users through `/Bulk` (1,000 operations a request) and returns their ids.
async fn bulk_users<S, B>(app: &crate::common::TestApp<S>, prefix: &str, n: usize) -> Vec<String>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let ops: Vec<_> = (start..n.min(start + 1000))
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                       "data": crate::common::user_body(&format!("{prefix}{i}@example.com"))})
            })
            .collect();
        let r = app
            .post(
                "/scim/v2/Bulk",
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                       "Operations": ops}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for op in r.body["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            ids.push(location.rsplit('/').next().unwrap().to_owned());
        }
    }
    ids
}

/// PATCHes group `gid` with `operations`; the PATCH must succeed.
async fn patch_group<S, B>(
    app: &crate::common::TestApp<S>,
    gid: &str,
    operations: serde_json::Value,
) where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = app
        .call(
            actix_web::http::Method::PATCH,
            &format!("/scim/v2/Groups/{gid}"),
            Some(&app.scim_token.clone()),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": operations}),
            ),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
}

/// Adds `members` (ids of `kind`) to group `gid`, 1,000 per PATCH.
async fn add_members<S, B>(
    app: &crate::common::TestApp<S>,
    gid: &str,
    members: &[String],
    kind: &str,
) where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    for chunk in members.chunks(1000) {
        let value: Vec<_> = chunk
            .iter()
            .map(|m| json!({"value": m, "type": kind}))
            .collect();
        patch_group(
            app,
            gid,
            json!([{"op": "add", "path": "members", "value": value}]),
        )
        .await;
    }
}

/// Checks that `body` lists exactly `expected` members, each once, in id order, each with the
/// `$ref` and `type` of its kind.
fn assert_all_members(body: &serde_json::Value, expected: &[(String, &str)]) {
    let members = body["members"].as_array().expect("members");
    let mut want: Vec<&(String, &str)> = expected.iter().collect();
    want.sort();
    assert_eq!(members.len(), want.len(), "member count");
    for (m, (id, kind)) in members.iter().zip(want) {
        assert_eq!(m["value"], id.as_str());
        assert_eq!(m["type"], *kind);
        assert_eq!(
            m["$ref"],
            format!("https://scim.example.test/scim/v2/{kind}s/{id}")
        );
    }
}

on_each_backend!(a_large_group_is_answered_in_full_in_parts, |app| {
    // More members than two chunks of the stream (scim_store::MEMBER_CHUNK), and a group of
    // exactly one chunk (its second read finds nothing).
    let chunk = usize::try_from(scim_store::MEMBER_CHUNK).unwrap();
    let users = bulk_users(&app, "big", 2 * chunk + 1).await;
    let inner = app.post("/scim/v2/Groups", group_body("Inner", &[])).await;
    let inner_id = inner.body["id"].as_str().unwrap().to_owned();
    let big = app.post("/scim/v2/Groups", group_body("Big", &[])).await;
    let big_id = big.body["id"].as_str().unwrap().to_owned();
    add_members(&app, &big_id, &users, "User").await;
    add_members(&app, &big_id, std::slice::from_ref(&inner_id), "Group").await;
    let one = app.post("/scim/v2/Groups", group_body("One", &[])).await;
    let one_id = one.body["id"].as_str().unwrap().to_owned();
    add_members(&app, &one_id, &users[..chunk], "User").await;

    let mut expected: Vec<(String, &str)> = users.iter().map(|u| (u.clone(), "User")).collect();
    expected.push((inner_id.clone(), "Group"));
    let r = app.get(&format!("/scim/v2/Groups/{big_id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_all_members(&r.body, &expected);
    assert_eq!(r.body["displayName"], "Big");
    assert_eq!(r.body["externalId"], "ext-Big");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(r.body["meta"]["version"], etag.as_str());
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert!(
        r.header("content-length").is_none(),
        "a group of several chunks is streamed"
    );

    let r = app.get(&format!("/scim/v2/Groups/{one_id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let first: Vec<(String, &str)> = users[..chunk].iter().map(|u| (u.clone(), "User")).collect();
    assert_all_members(&r.body, &first);

    // A projection shapes every member, as it shapes a small group's.
    let r = app
        .get(&format!(
            "/scim/v2/Groups/{big_id}?attributes=members.value"
        ))
        .await;
    let members = r.body["members"].as_array().unwrap();
    assert_eq!(members.len(), expected.len());
    assert!(members.iter().all(|m| m.as_object().unwrap().len() == 1));
    assert!(
        r.body.get("displayName").is_none(),
        "{}",
        r.body["displayName"]
    );
    let r = app
        .get(&format!(
            "/scim/v2/Groups/{big_id}?excludedAttributes=members.$ref,meta"
        ))
        .await;
    let members = r.body["members"].as_array().unwrap();
    assert_eq!(members.len(), expected.len());
    assert!(members
        .iter()
        .all(|m| m.get("$ref").is_none() && m["type"].is_string()));
    assert!(r.body.get("meta").is_none());

    // The version sent first still answers 304.
    let r = app
        .call_with_headers(
            actix_web::http::Method::GET,
            &format!("/scim/v2/Groups/{big_id}"),
            &[("If-None-Match", etag.as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);

    // A page of groups holds every member of each, as a group's GET does; an empty group has
    // no `members`, as before.
    let empty = app.post("/scim/v2/Groups", group_body("Empty", &[])).await;
    let empty_id = empty.body["id"].as_str().unwrap().to_owned();
    let r = app.get("/scim/v2/Groups?sortBy=displayName").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 4);
    assert_eq!(r.body["itemsPerPage"], 4);
    assert_eq!(r.body["startIndex"], 1);
    let page = r.body["Resources"].as_array().unwrap();
    let names: Vec<&str> = page
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Big", "Empty", "Inner", "One"]);
    assert_all_members(&page[0], &expected);
    assert_eq!(page[1]["id"], empty_id.as_str());
    assert!(page[1].get("members").is_none(), "{}", page[1]);
    assert!(page[2].get("members").is_none());
    assert_all_members(&page[3], &first);
    assert!(r.header("content-length").is_none(), "the page is streamed");
    // Cursor pages and .search with a projection go the same way.
    let r = app
        .get("/scim/v2/Groups?count=1&cursor=&attributes=members.value")
        .await;
    assert_eq!(r.body["itemsPerPage"], 1);
    assert!(r.body["nextCursor"].is_string(), "{}", r.body);
    let only = &r.body["Resources"][0];
    let members = only["members"].as_array().map_or(0, Vec::len);
    assert!(members == 0 || only["members"][0].as_object().unwrap().len() == 1);
    let r = app
        .post(
            "/scim/v2/Groups/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "displayName eq \"Big\"", "excludedAttributes": ["meta"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("meta").is_none());
    assert_all_members(&r.body["Resources"][0], &expected);

    // The members streamed are those of the version the answer began with, whatever is written
    // while it is read (in process only: there the body is read after the write).
    if let Some(started) = app
        .start_get("/scim/v2/Groups?filter=displayName%20eq%20%22Big%22")
        .await
    {
        assert_eq!(started.status(), StatusCode::OK);
        patch_group(
            &app,
            &big_id,
            json!([{"op": "remove", "path": "members", "value": [{"value": inner_id.as_str()}]}]),
        )
        .await;
        let bytes = actix_web::test::read_body(started).await;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_all_members(&body["Resources"][0], &expected);
        add_members(&app, &big_id, std::slice::from_ref(&inner_id), "Group").await;
    }
    let etag = app
        .get(&format!("/scim/v2/Groups/{big_id}"))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    // Answers dropped unread let their snapshots go: more of them than the test pool has
    // connections (4), then the service still answers at once.
    for _ in 0..6 {
        if let Some(started) = app.start_get(&format!("/scim/v2/Groups/{big_id}")).await {
            assert_eq!(started.status(), StatusCode::OK);
            drop(started);
        }
    }
    let r = app.get("/scim/v2/Users?count=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    if let Some(started) = app.start_get(&format!("/scim/v2/Groups/{big_id}")).await {
        assert_eq!(started.status(), StatusCode::OK);
        patch_group(&app, &big_id, json!([{"op": "remove", "path": "members"}])).await;
        let bytes = actix_web::test::read_body(started).await;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["meta"]["version"], etag.as_str());
        assert_all_members(&body, &expected);
        let r = app.get(&format!("/scim/v2/Groups/{big_id}")).await;
        assert!(r.body.get("members").is_none(), "{}", r.body);
        assert_ne!(r.header("etag"), Some(etag.as_str()));
    }
});
