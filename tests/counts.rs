//! `totalResults` of an unfiltered list comes from the tenant's counters (kept by triggers),
//! not from a `COUNT(*)` of its rows: it must stay exactly the number of rows whatever writes
//! run at once, and start from zero for a tenant made again.

use actix_web::http::{Method, StatusCode};
use chrono::Utc;
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::json;

use crate::common::{new_key, user_body};
use crate::on_each_backend;

/// The unfiltered total (counters) and a filtered one that matches every row (`COUNT(*)`).
async fn totals<S, B>(app: &crate::common::TestApp<S>, what: &str, token: &str) -> (u64, u64)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let every = match what {
        "Users" => "userName%20pr",
        _ => "displayName%20pr",
    };
    let mut out = [0u64; 2];
    for (i, path) in [
        format!("/scim/v2/{what}?count=0"),
        format!("/scim/v2/{what}?count=0&filter={every}"),
    ]
    .iter()
    .enumerate()
    {
        let r = app.call(Method::GET, path, Some(token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        out[i] = r.body["totalResults"].as_u64().unwrap();
    }
    (out[0], out[1])
}

on_each_backend!(
    unfiltered_totals_stay_exact_under_concurrent_writes,
    |app| {
        let token = app.scim_token.clone();
        // Concurrent creates, then creates and deletes at once (each its own transaction, on
        // PostgreSQL on connections of their own).
        let first: Vec<String> = futures_util::future::join_all((0..30).map(|i| {
            app.post(
                "/scim/v2/Users",
                user_body(&format!("first{i}@example.com")),
            )
        }))
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
        assert_eq!(totals(&app, "Users", &token).await, (30, 30));
        let creates = (0..20).map(|i| {
            app.call(
                Method::POST,
                "/scim/v2/Users",
                Some(&token),
                Some(user_body(&format!("second{i}@example.com"))),
            )
        });
        let delete_paths: Vec<String> = first[..12]
            .iter()
            .map(|id| format!("/scim/v2/Users/{id}"))
            .collect();
        let deletes = delete_paths
            .iter()
            .map(|path| app.call(Method::DELETE, path, Some(&token), None));
        let (created, deleted) = futures_util::future::join(
            futures_util::future::join_all(creates),
            futures_util::future::join_all(deletes),
        )
        .await;
        assert!(created.iter().all(|r| r.status == StatusCode::CREATED));
        assert!(deleted.iter().all(|r| r.status == StatusCode::NO_CONTENT));
        assert_eq!(totals(&app, "Users", &token).await, (38, 38));

        // A delete of a user that is gone, and a refused create, count nothing.
        let r = app
            .call(
                Method::DELETE,
                &format!("/scim/v2/Users/{}", first[0]),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .post("/scim/v2/Users", user_body("first20@example.com"))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(totals(&app, "Users", &token).await, (38, 38));

        // Groups are counted apart; /Bulk goes the same way.
        let r = app
        .post(
            "/scim/v2/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A"}},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B"}},
                {"method": "POST", "path": "/Groups", "bulkId": "c", "data": {"displayName": "C"}},
                {"method": "DELETE", "path": format!("/Users/{}", first[20])}
            ]}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let group = r.body["Operations"][0]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let r = app
            .call(
                Method::DELETE,
                &format!("/scim/v2/Groups/{group}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(totals(&app, "Groups", &token).await, (2, 2));
        assert_eq!(totals(&app, "Users", &token).await, (37, 37));
        // A page reports the same total as a count-only request.
        let r = app.get("/scim/v2/Users?startIndex=30&count=5").await;
        assert_eq!(r.body["totalResults"], 37);
        assert_eq!(r.body["itemsPerPage"], 5);

        // Another tenant's counts are its own, and a tenant made again starts from zero.
        let beta = TenantId::parse("beta").unwrap();
        app.store
            .create_tenant(&beta, None, Utc::now())
            .await
            .unwrap();
        let beta_token = new_key(&app.store, &beta, "entra", Scope::Scim).await;
        for i in 0..3 {
            let r = app
                .call(
                    Method::POST,
                    "/scim/v2/Users",
                    Some(&beta_token),
                    Some(user_body(&format!("beta{i}@example.com"))),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        assert_eq!(totals(&app, "Users", &beta_token).await, (3, 3));
        assert_eq!(totals(&app, "Users", &token).await, (37, 37));
        app.store.delete_tenant(&beta).await.unwrap();
        app.store
            .create_tenant(&beta, None, Utc::now())
            .await
            .unwrap();
        let beta_token = new_key(&app.store, &beta, "entra2", Scope::Scim).await;
        assert_eq!(totals(&app, "Users", &beta_token).await, (0, 0));
        assert_eq!(totals(&app, "Groups", &beta_token).await, (0, 0));
    }
);

/// Ids of a page's `Resources`.
fn page_ids(body: &serde_json::Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

on_each_backend!(deep_start_index_pages_are_the_pages_offset_gives, |app| {
    // 12,346 users, most copied by SQL from one made through the API (the counting triggers
    // run for them as for any insert): deep pages start from a sparse index of positions
    // (scim_store positions, deeper than 10,000).
    let template = app.create_user("template@example.com").await;
    let copies = 12_345;
    let random_id = if app.sqlite_path().is_some() {
        "lower(hex(randomblob(16)))"
    } else {
        "md5(random()::text || i::text)"
    };
    let series = if app.sqlite_path().is_some() {
        format!("(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {copies}) SELECT i FROM n)")
    } else {
        format!("(SELECT generate_series(1, {copies}) AS i)")
    };
    app.store
        .execute_unprepared(&format!(
            "INSERT INTO users (id, tenant_id, user_name, user_name_lower, external_id, \
             display_name, active, attributes, version, created_at, last_modified) \
             SELECT {random_id}, tenant_id, 'copy' || i || '@example.com', \
             'copy' || i || '@example.com', NULL, display_name, active, attributes, version, \
             created_at, last_modified FROM users, {series} s WHERE id = '{template}'"
        ))
        .await
        .unwrap();
    let total = copies + 1;
    // Each page equals the page of a filtered list that matches every user (which steps over
    // its rows: no index), with the same total.
    let check = |start: usize| {
        let app = &app;
        async move {
            let deep = app
                .get(&format!(
                    "/scim/v2/Users?startIndex={start}&count=100&attributes=id"
                ))
                .await;
            let reference = app
                .get(&format!(
                    "/scim/v2/Users?startIndex={start}&count=100&attributes=id&filter=userName%20pr"
                ))
                .await;
            assert_eq!(deep.status, StatusCode::OK, "{}", deep.body);
            assert_eq!(deep.body["totalResults"], reference.body["totalResults"]);
            assert_eq!(
                page_ids(&deep.body),
                page_ids(&reference.body),
                "startIndex={start}"
            );
            page_ids(&deep.body).len()
        }
    };
    for start in [10_001, 10_500, 11_000, 11_001, 11_999, 12_200] {
        assert_eq!(check(start).await, 100);
    }
    assert_eq!(check(total - 40).await, 41, "the last page");
    assert_eq!(check(total + 10).await, 0, "past the end");

    // Rows added and removed before the page move it: the index of the earlier state is not
    // used for the new one.
    for i in 0..3 {
        app.create_user(&format!("later{i}@example.com")).await;
    }
    let first_page = app.get("/scim/v2/Users?count=5&attributes=id").await;
    for id in page_ids(&first_page.body).iter().take(2) {
        let r = app
            .call(
                Method::DELETE,
                &format!("/scim/v2/Users/{id}"),
                Some(&app.scim_token.clone()),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    for start in [10_001, 11_001, 12_200] {
        assert_eq!(check(start).await, 100);
    }
    let r = app.get("/scim/v2/Users?count=0").await;
    assert_eq!(r.body["totalResults"], total + 3 - 2);
});
