//! The exact requests of Entra ID and of Microsoft's SCIM validation tests that scimd once
//! refused or mishandled (docs/COMPATIBILITY.md lists each with its test).

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin::api;
use crate::common::{assert_scim_error, user_body};
use crate::on_each_backend;
use crate::users::urlencode;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const UNDECLARED: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn filter_path(endpoint: &str, filter: &str) -> String {
    format!("/scim/v2/{endpoint}?filter={}", urlencode(filter))
}

/// The `id`s of a list response, sorted.
fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("a list response: {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

on_each_backend!(entra_work_email_matching_filter, |app| {
    // Entra ID's matching filter when the matching attribute is the work e-mail.
    let mut body = user_body("alice@contoso.com");
    body["emails"] = json!([
        {"type": "work", "value": "a@b.example", "primary": true},
        {"type": "home", "value": "home@b.example"}
    ]);
    let r = app.post("/scim/v2/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let alice = r.body["id"].as_str().unwrap().to_owned();
    // Another user has the address, but not as a work e-mail: no match.
    let mut body = user_body("bob@contoso.com");
    body["emails"] = json!([
        {"type": "home", "value": "a@b.example"},
        {"type": "work", "value": "bob@b.example"}
    ]);
    assert_eq!(
        app.post("/scim/v2/Users", body).await.status,
        StatusCode::CREATED
    );

    let r = app
        .get(&filter_path(
            "Users",
            r#"emails[type eq "work"].value eq "a@b.example""#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(ids(&r.body), vec![alice.clone()]);
    // It means `emails[type eq "work" and value eq "a@b.example"]`: the same answer.
    let same = app
        .get(&filter_path(
            "Users",
            r#"emails[type eq "work" and value eq "a@b.example"]"#,
        ))
        .await;
    assert_eq!(ids(&same.body), ids(&r.body));
    // Nothing matches: 200 with totalResults 0.
    let r = app
        .get(&filter_path(
            "Users",
            r#"emails[type eq "work"].value eq "home@b.example""#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 0);
    // In `.search` and combined with other terms too.
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users/.search",
            Some(&app.scim_token.clone()),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": r#"emails[type eq "work"].value pr and userName sw "alice""#
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r.body), vec![alice]);
});

on_each_backend!(manager_without_its_schema_urn, |app| {
    let manager = app.create_user("boss@contoso.com").await;
    let id = app.create_user("report@contoso.com").await;
    let other = app.create_user("other@contoso.com").await;
    // Microsoft's tutorial: PATCH `manager` without the enterprise URN.
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(&app.scim_token.clone()),
            Some(ops(
                json!([{"op": "Add", "path": "manager", "value": [{"value": manager}]}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENT]["manager"]["value"], manager.as_str());
    assert_eq!(
        r.body[ENT]["department"], "Engineering",
        "other enterprise attributes untouched"
    );
    // No-path, unqualified key too.
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{other}"),
            Some(&app.scim_token.clone()),
            Some(ops(
                json!([{"op": "Replace", "value": {"manager": manager, "department": "Sales"}}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENT]["manager"]["value"], manager.as_str());
    assert_eq!(r.body[ENT]["department"], "Sales");

    // The tutorial's filter, and the same with the URN, with and without `.value`.
    for filter in [
        format!(r#"id eq "{id}" and manager eq "{manager}""#),
        format!(r#"id eq "{id}" and manager.value eq "{manager}""#),
        format!(r#"id eq "{id}" and {ENT}:manager eq "{manager}""#),
        format!(r#"id eq "{id}" and {ENT}:manager.value eq "{manager}""#),
    ] {
        let r = app.get(&filter_path("Users", &filter)).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
        assert_eq!(ids(&r.body), vec![id.clone()], "{filter}");
    }
    let r = app
        .get(&filter_path("Users", &format!(r#"manager eq "{manager}""#)))
        .await;
    let mut both = vec![id.clone(), other.clone()];
    both.sort();
    assert_eq!(ids(&r.body), both);
    let r = app
        .get(&filter_path(
            "Users",
            &format!(r#"id eq "{id}" and manager eq "nobody""#),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 0);
    // Unqualified enterprise names work in `attributes`, `sortBy` and `remove` as well.
    let r = app
        .get(&format!(
            "/scim/v2/Users?attributes=department,manager&sortBy=department&filter={}",
            urlencode(r#"department eq "Sales""#)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r.body), vec![other.clone()]);
    assert_eq!(r.body["Resources"][0][ENT]["department"], "Sales");
    assert!(r.body["Resources"][0].get("userName").is_none());
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(&app.scim_token.clone()),
            Some(ops(json!([{"op": "Remove", "path": "manager"}]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body[ENT].get("manager").is_none(), "{}", r.body);

    // A custom attribute may not take an enterprise attribute's name, so the order
    // (core, enterprise, custom) never hides one.
    let r = api(
        &app,
        Method::PUT,
        "/settings/scim",
        Some(json!({"customAttributesEnabled": true, "customSchema": {
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "attributes": [{"name": "badge", "type": "string"}, {"name": "Manager", "type": "string"}]
        }})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "attribute_name_taken");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Manager"));
    // An unqualified custom attribute resolves once declared and switched on.
    let r = api(
        &app,
        Method::PUT,
        "/settings/scim",
        Some(json!({"customAttributesEnabled": true, "customSchema": {
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "attributes": [{"name": "badge", "type": "string"}]
        }})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(&app.scim_token.clone()),
            Some(ops(json!([{"op": "Add", "path": "badge", "value": "B-7"}]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:acme:2.0:User"]["badge"],
        "B-7"
    );
    let r = app.get(&filter_path("Users", r#"badge eq "B-7""#)).await;
    assert_eq!(ids(&r.body), vec![id]);
});

on_each_backend!(no_op_group_patch_keeps_the_version, |app| {
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Sales", "members": [{"value": alice}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let etag = r.header("etag").unwrap().to_owned();
    let modified = r.body["meta"]["lastModified"].clone();
    let group = format!("/scim/v2/Groups/{gid}");

    for (what, operations) in [
        (
            "add a member already there",
            json!([{"op": "Add", "path": "members", "value": [{"value": alice}]}]),
        ),
        (
            "remove a member not there",
            json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]}]),
        ),
        (
            "remove by filter a member not there",
            json!([{"op": "Remove", "path": format!("members[value eq \"{bob}\"]")}]),
        ),
        (
            "replace displayName with itself",
            json!([{"op": "Replace", "path": "displayName", "value": "Sales"}]),
        ),
    ] {
        let r = app
            .call_with_headers(
                Method::PATCH,
                &group,
                &[("If-Match", etag.as_str())],
                Some(ops(operations)),
            )
            .await;
        assert!(r.status.is_success(), "{what}: {} {}", r.status, r.body);
        let r = app.get(&group).await;
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{what}");
        assert_eq!(r.body["meta"]["lastModified"], modified, "{what}");
        assert_eq!(r.body["members"].as_array().unwrap().len(), 1, "{what}");
    }
    // The unchanged ETag still works for a real change, which moves it.
    let r = app
        .call_with_headers(
            Method::PATCH,
            &group,
            &[("If-Match", etag.as_str())],
            Some(ops(
                json!([{"op": "Add", "path": "members", "value": [{"value": bob}]}]),
            )),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let r = app.get(&group).await;
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
});

on_each_backend!(
    undeclared_extension_urn_on_patch_is_ignored_and_audited,
    |app| {
        let id = app.create_user("x@contoso.com").await;
        let before = app.get(&format!("/scim/v2/Users/{id}")).await;
        for operations in [
            // The exact request.
            json!([{"op": "Add", "path": format!("{UNDECLARED}:attrName"), "value": "x"}]),
            json!([{"op": "Replace", "value": {format!("{UNDECLARED}:attrName"): "y"}}]),
            json!([{"op": "Replace", "value": {UNDECLARED: {"otherAttr": "z"}}}]),
            json!([{"op": "Remove", "path": format!("{UNDECLARED}:attrName")}]),
        ] {
            let r = app
                .call(
                    Method::PATCH,
                    &format!("/scim/v2/Users/{id}"),
                    Some(&app.scim_token.clone()),
                    Some(ops(operations.clone())),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{operations}: {}", r.body);
            assert!(r.body.get(UNDECLARED).is_none());
            assert_eq!(
                r.body["meta"]["version"], before.body["meta"]["version"],
                "nothing changed"
            );
        }
        // As on POST.
        let mut body = user_body("y@contoso.com");
        body[UNDECLARED] = json!({"attrName": "x"});
        let r = app.post("/scim/v2/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body.get(UNDECLARED).is_none());

        // Audited once per key, attribute and day.
        let r = api(
            &app,
            Method::GET,
            "/auditEvents?targetType=apiKey&targetId=entra",
            None,
        )
        .await;
        let mut seen: Vec<(String, String)> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "scim.customAttribute.ignored")
            .map(|e| {
                (
                    e["changes"]["schema"].as_str().unwrap().to_owned(),
                    e["changes"]["attribute"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (UNDECLARED.to_owned(), "attrName".to_owned()),
                (UNDECLARED.to_owned(), "otherAttr".to_owned())
            ],
            "{}",
            r.body
        );
    }
);

on_each_backend!(external_id_is_in_the_schemas, |app| {
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    ] {
        let r = app.get(&format!("/scim/v2/Schemas/{urn}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let attr = r.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "externalId")
            .unwrap_or_else(|| panic!("{urn} lists externalId: {}", r.body))
            .clone();
        assert_eq!(attr["type"], "string");
        assert_eq!(attr["caseExact"], true);
        assert_eq!(attr["mutability"], "readWrite");
        assert_eq!(attr["required"], false);
        assert_eq!(attr["uniqueness"], "none");
    }
});

on_each_backend!(external_id_is_not_unique, |app| {
    // Entra ID maps mailNickname to externalId by default: not unique across a directory.
    let mut ids_made = Vec::new();
    for user_name in ["jdoe@contoso.com", "jdoe@fabrikam.com"] {
        let mut body = user_body(user_name);
        body["externalId"] = json!("jdoe");
        let r = app.post("/scim/v2/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids_made.push(r.body["id"].as_str().unwrap().to_owned());
    }
    ids_made.sort();
    let r = app
        .get(&filter_path("Users", r#"externalId eq "jdoe""#))
        .await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.body);
    assert_eq!(ids(&r.body), ids_made);
    // Case matters (caseExact).
    let r = app
        .get(&filter_path("Users", r#"externalId eq "JDOE""#))
        .await;
    assert_eq!(r.body["totalResults"], 0);
    // PUT and PATCH may give a third user the same externalId.
    let third = app.create_user("third@contoso.com").await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Users/{third}"),
            Some(&app.scim_token.clone()),
            Some(ops(
                json!([{"op": "Replace", "path": "externalId", "value": "jdoe"}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .get(&filter_path("Users", r#"externalId eq "jdoe""#))
        .await;
    assert_eq!(r.body["totalResults"], 3);
    // Groups likewise; displayName stays unique.
    for name in ["Sales", "Sales EU"] {
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": name, "externalId": "sales"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app
        .get(&filter_path("Groups", r#"externalId eq "sales""#))
        .await;
    assert_eq!(r.body["totalResults"], 2);
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "SALES", "externalId": "other"}),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
});

on_each_backend!(method_not_allowed_names_the_allowed_methods, |app| {
    let token = app.scim_token.clone();
    for (method, path, allow) in [
        (Method::POST, "/scim/v2/ServiceProviderConfig", "GET"),
        (Method::DELETE, "/scim/v2/Schemas", "GET"),
        (Method::PUT, "/scim/v2/ResourceTypes/User", "GET"),
        (Method::GET, "/scim/v2/Bulk", "POST"),
        (Method::GET, "/scim/v2/Users/.search", "POST"),
        (Method::DELETE, "/scim/v2/Users", "GET, POST"),
        (
            Method::POST,
            "/scim/v2/Groups/some-id",
            "GET, PUT, PATCH, DELETE",
        ),
    ] {
        let r = app.call(method.clone(), path, Some(&token), None).await;
        assert_scim_error(&r, 405, None);
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    // The admin API too.
    let tenant = app.tenant.as_str().to_owned();
    let admin = app.admin_token.clone();
    for (method, path, allow) in [
        (
            Method::PATCH,
            format!("/api/{tenant}/admin/apiKeys"),
            "GET, POST",
        ),
        (
            Method::GET,
            format!("/api/{tenant}/admin/apiKeys/entra/rotate"),
            "POST",
        ),
        (
            Method::POST,
            format!("/api/{tenant}/admin/settings/scim"),
            "GET, PUT",
        ),
    ] {
        let r = app.call(method.clone(), &path, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(r.body["error"]["code"], "method_not_allowed");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
});

on_each_backend!(unknown_member_ids_are_refused_naming_the_id, |app| {
    // Kept on purpose: a member that does not exist cannot be stored as a relation, and
    // accepting it silently would tell the identity provider the group is in sync when it
    // is not. Entra ID and Okta create users before they add them to groups.
    let alice = app.create_user("alice").await;
    let missing = "00000000-0000-0000-0000-00000000dead";
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Sales", "members": [{"value": alice}, {"value": missing}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains(missing),
        "{}",
        r.body
    );
    let r = app.get("/scim/v2/Groups").await;
    assert_eq!(r.body["totalResults"], 0, "nothing half-written");

    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Sales", "members": [{"value": alice}]}),
        )
        .await;
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::PATCH,
            &format!("/scim/v2/Groups/{gid}"),
            Some(&app.scim_token.clone()),
            Some(ops(
                json!([{"op": "Add", "path": "members", "value": [{"value": missing}]}]),
            )),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains(missing),
        "{}",
        r.body
    );
    let r = app.get(&format!("/scim/v2/Groups/{gid}")).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
});
