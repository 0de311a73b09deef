//! Discovery endpoints: reachable without a key, consistent with what the server does.

use actix_web::http::{Method, StatusCode};

use crate::common::assert_scim_error;
use crate::on_each_backend;

on_each_backend!(
    service_provider_config_needs_no_key_and_tells_the_truth,
    |app| {
        let r = app
            .call(Method::GET, "/scim/v2/ServiceProviderConfig", None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
        );
        assert_eq!(r.body["patch"]["supported"], true);
        assert_eq!(r.body["sort"]["supported"], true);
        assert_eq!(r.body["bulk"]["supported"], true);
        assert_eq!(r.body["pagination"]["cursor"], true);
        assert_eq!(r.body["pagination"]["maxPageSize"], 1000);
        assert_eq!(r.body["filter"]["supported"], true);
        assert_eq!(r.body["filter"]["maxResults"], 1000);
        assert_eq!(r.body["etag"]["supported"], true);
        assert_eq!(
            r.body["authenticationSchemes"][0]["type"],
            "oauthbearertoken"
        );
        assert_eq!(
            r.body["meta"]["location"],
            "https://scim.example.test/scim/v2/ServiceProviderConfig"
        );
    }
);

on_each_backend!(resource_types_list_users_and_groups, |app| {
    let r = app
        .call(Method::GET, "/scim/v2/ResourceTypes", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 2);
    let user = &r.body["Resources"][0];
    assert_eq!(user["id"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let g = app
        .call(Method::GET, "/scim/v2/ResourceTypes/Group", None, None)
        .await;
    assert_eq!(
        g.body["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );
    assert_scim_error(
        &app.call(Method::GET, "/scim/v2/ResourceTypes/Robot", None, None)
            .await,
        404,
        None,
    );
});

on_each_backend!(schemas_serve_the_registry, |app| {
    let r = app.call(Method::GET, "/scim/v2/Schemas", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 3);
    let user = app
        .call(
            Method::GET,
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
            None,
        )
        .await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(
        user.body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:Schema"
    );
    let attrs = user.body["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
    assert_eq!(password["returned"], "never");
    assert_scim_error(
        &app.call(Method::GET, "/scim/v2/Schemas/urn:nope", None, None)
            .await,
        404,
        None,
    );
});

on_each_backend!(health_and_readiness, |app| {
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
});

on_each_backend!(metrics_count_requests_by_route_without_ids, |app| {
    let id = app.create_user("metered").await;
    app.get(&format!("/scim/v2/Users/{id}")).await;
    app.get("/scim/v2/Users/nope").await;
    // Each process counts what it served: add the counts of every process up.
    let scrapes = app.call_each(Method::GET, "/metrics").await;
    let mut texts = Vec::new();
    for r in &scrapes {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
        let text = r.body.as_str().expect("text body").to_owned();
        assert!(!text.contains(&id), "ids never become labels");
        assert!(text.contains("scimd_db_pool_connections"));
        texts.push(text);
    }
    let total = |series: &str| -> u64 {
        texts
            .iter()
            .flat_map(|t| t.lines())
            .filter_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .parse::<u64>()
                    .ok()
            })
            .sum()
    };
    let all = texts.join("\n");
    for series in [
        "scimd_http_requests_total{route=\"/scim/v2/Users/{id}\",method=\"GET\",status=\"200\"}",
        "scimd_http_requests_total{route=\"/scim/v2/Users/{id}\",method=\"GET\",status=\"404\"}",
        "scimd_http_requests_total{route=\"/scim/v2/Users\",method=\"POST\",status=\"201\"}",
    ] {
        assert_eq!(total(series), 1, "{series} in {all}");
    }
});
