//! SCIM custom attributes: the tenant-wide switch, end to end (issue 6, DESIGN §5), with
//! requests shaped as Microsoft Entra ID sends them.

use actix_web::http::{Method, StatusCode};
use chrono::Utc;
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::{json, Value};

use crate::admin::api;
use crate::common::{assert_scim_error, new_key};
use crate::on_each_backend;
use crate::users::urlencode;

const URN: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn declaration() -> Value {
    json!({
        "id": URN,
        "name": "AcmeUser",
        "description": "Acme's own attributes",
        "attributes": [
            {"name": "badgeNumber", "type": "string", "description": "Badge on the door"},
            {"name": "clearance", "type": "integer"},
            {"name": "contractor", "type": "boolean"},
            {"name": "rate", "type": "decimal"},
            {"name": "hiredAt", "type": "dateTime"},
            {"name": "homepage", "type": "reference", "referenceTypes": ["external"]},
            {"name": "skills", "type": "string", "multiValued": true},
            {"name": "office", "type": "complex",
             "subAttributes": [{"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}]}
        ]
    })
}

/// An Entra-shaped create with the custom extension mapped.
fn entra_user(user_name: &str, badge: &str, clearance: i64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT, URN],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("Display {user_name}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        ENT: {"department": "Engineering"},
        URN: {
            "badgeNumber": badge, "clearance": clearance, "contractor": "False",
            "skills": ["rust", "sql"], "office": {"building": "B1", "floor": 3}
        }
    })
}

async fn settings<S, B>(
    app: &crate::common::TestApp<S>,
    enabled: bool,
    schema: Option<Value>,
) -> Value
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut body = json!({"customAttributesEnabled": enabled});
    if let Some(s) = schema {
        body["customSchema"] = s;
    }
    let r = api(app, Method::PUT, "/settings/scim", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

on_each_backend!(on_off_on_keeps_values_and_every_write_form_works, |app| {
    settings(&app, true, Some(declaration())).await;
    let r = app
        .post("/scim/v2/Users", entra_user("ada@acme.test", "B-1", 2))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.body["schemas"].as_array().unwrap().contains(&json!(URN)));
    assert_eq!(
        r.body[URN],
        json!({"badgeNumber": "B-1", "clearance": 2, "contractor": false,
               "skills": ["rust", "sql"], "office": {"building": "B1", "floor": 3}})
    );
    let user = format!("/scim/v2/Users/{id}");

    // PATCH in every form Entra uses: URN-qualified path, no-path with URN-qualified key,
    // no-path with the extension object, sub-attribute path, remove.
    let r = app
        .call(
            Method::PATCH,
            &user,
            Some(&app.scim_token.clone()),
            Some(patch(json!([
                {"op": "Replace", "path": format!("{URN}:clearance"), "value": "5"},
                {"op": "Add", "path": format!("{URN}:hiredAt"), "value": "2026-01-02T03:04:05+01:00"},
                {"op": "Replace", "value": {format!("{URN}:badgeNumber"): "B-2", "displayName": "Ada"}},
                {"op": "Add", "value": {URN: {"rate": 12.5}}},
                {"op": "Replace", "path": format!("{URN}:office.floor"), "value": 4},
                {"op": "Remove", "path": format!("{URN}:skills")}
            ]))),
        )
        .await;
    // "5" is not an integer: the whole PATCH is refused, naming the attribute.
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("clearance"),
        "{}",
        r.body
    );
    let r = app
        .call(
            Method::PATCH,
            &user,
            Some(&app.scim_token.clone()),
            Some(patch(json!([
                {"op": "Replace", "path": format!("{URN}:clearance"), "value": 5},
                {"op": "Add", "path": format!("{URN}:hiredAt"), "value": "2026-01-02T03:04:05+01:00"},
                {"op": "Replace", "value": {format!("{URN}:badgeNumber"): "B-2", "displayName": "Ada"}},
                {"op": "Add", "value": {URN: {"rate": 12.5}}},
                {"op": "Replace", "path": format!("{URN}:office.floor"), "value": 4},
                {"op": "Remove", "path": format!("{URN}:skills")}
            ]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let expected = json!({"badgeNumber": "B-2", "clearance": 5, "contractor": false,
        "office": {"building": "B1", "floor": 4}, "hiredAt": "2026-01-02T02:04:05.000Z", "rate": 12.5});
    assert_eq!(r.body[URN], expected);
    assert_eq!(r.body["displayName"], "Ada");

    // attributes / excludedAttributes.
    let r = app
        .get(&format!(
            "{user}?attributes={}",
            urlencode(&format!("{URN}:badgeNumber"))
        ))
        .await;
    assert_eq!(r.body[URN], json!({"badgeNumber": "B-2"}), "{}", r.body);
    assert!(r.body.get("displayName").is_none());
    let r = app
        .get(&format!("{user}?excludedAttributes={}", urlencode(URN)))
        .await;
    assert!(r.body.get(URN).is_none(), "{}", r.body);
    assert!(!r.body["schemas"].as_array().unwrap().contains(&json!(URN)));

    // OFF: not returned, not advertised; writes naming the extension succeed and change
    // nothing about it.
    settings(&app, false, Some(declaration())).await;
    let r = app.get(&user).await;
    assert!(r.body.get(URN).is_none(), "{}", r.body);
    assert!(!r.body["schemas"].as_array().unwrap().contains(&json!(URN)));
    for ops in [
        json!([{"op": "Replace", "path": format!("{URN}:clearance"), "value": "not a number"}]),
        json!([{"op": "Remove", "path": URN}]),
        json!([{"op": "Replace", "value": {format!("{URN}:badgeNumber"): "X", URN: {"clearance": 9}}}]),
        json!([{"op": "Add", "path": format!("{URN}:skills[value eq \"go\"]"), "value": {"value": "go"}}]),
    ] {
        let r = app
            .call(
                Method::PATCH,
                &user,
                Some(&app.scim_token.clone()),
                Some(patch(ops.clone())),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ops}: {}", r.body);
        assert!(r.body.get(URN).is_none());
    }
    // PUT without (or with a wrong) extension keeps the stored values.
    let mut body = entra_user("ada@acme.test", "IGNORED", 0);
    body[URN]["clearance"] = json!("wrong type, ignored while off");
    body["displayName"] = json!("Ada L.");
    let r = app.put(&user, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Ada L.");
    // A new user while off gets nothing stored.
    let r = app
        .post("/scim/v2/Users", entra_user("bob@acme.test", "B-9", 1))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bob = r.body["id"].as_str().unwrap().to_owned();

    // ON again: the values stored before are back, untouched.
    settings(&app, true, Some(declaration())).await;
    let r = app.get(&user).await;
    assert_eq!(r.body[URN], expected, "{}", r.body);
    assert_eq!(r.body["displayName"], "Ada L.");
    let r = app.get(&format!("/scim/v2/Users/{bob}")).await;
    assert!(
        r.body.get(URN).is_none(),
        "nothing stored while off: {}",
        r.body
    );

    // PUT while on replaces the extension like any attribute.
    let r = app.put(&user, entra_user("ada@acme.test", "B-3", 1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[URN]["badgeNumber"], "B-3");
    assert!(r.body[URN].get("rate").is_none());
});

on_each_backend!(type_errors_name_the_attribute, |app| {
    settings(&app, true, Some(declaration())).await;
    for (attr, value) in [
        ("clearance", json!("high")),
        ("clearance", json!(1.5)),
        ("contractor", json!("maybe")),
        ("rate", json!("12")),
        ("hiredAt", json!("yesterday")),
        ("skills", json!("rust")),
        ("office", json!("B1")),
        ("badgeNumber", json!(7)),
    ] {
        let mut body = entra_user("t@acme.test", "B", 1);
        body[URN][attr] = value.clone();
        let r = app.post("/scim/v2/Users", body).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(attr), "{attr}={value}: {detail}");
    }
    // Required attributes are enforced when declared.
    let mut decl = declaration();
    decl["attributes"][0]["required"] = json!(true);
    settings(&app, true, Some(decl)).await;
    let mut body = entra_user("t@acme.test", "B", 1);
    body[URN].as_object_mut().unwrap().remove("badgeNumber");
    let r = app.post("/scim/v2/Users", body).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("badgeNumber"));
});

on_each_backend!(
    filters_and_sorts_on_custom_attributes_run_in_the_database,
    |app| {
        settings(&app, true, Some(declaration())).await;
        for (name, badge, clearance, skills, hired, contractor) in [
            (
                "a@acme.test",
                "Alpha-1",
                3,
                json!(["rust", "go"]),
                "2024-05-01T00:00:00Z",
                true,
            ),
            (
                "b@acme.test",
                "bravo-2",
                1,
                json!(["sql"]),
                "2025-05-01T00:00:00Z",
                false,
            ),
            (
                "c@acme.test",
                "Charlie-3",
                2,
                json!(["rust"]),
                "2023-05-01T00:00:00Z",
                false,
            ),
        ] {
            let mut body = entra_user(name, badge, clearance);
            body[URN]["skills"] = skills;
            body[URN]["hiredAt"] = json!(hired);
            body[URN]["contractor"] = json!(contractor);
            body[URN]["office"]["floor"] = json!(clearance * 10);
            let r = app.post("/scim/v2/Users", body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        // One user without the extension at all.
        let r = app
            .post("/scim/v2/Users", json!({"userName": "d@acme.test"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);

        let names = |body: &Value| -> Vec<String> {
            body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect()
        };
        for (filter, expected) in [
            (
                format!("{URN}:badgeNumber eq \"ALPHA-1\""),
                vec!["a@acme.test"],
            ),
            (format!("{URN}:badgeNumber sw \"b\""), vec!["b@acme.test"]),
            (
                format!("{URN}:clearance gt 1"),
                vec!["a@acme.test", "c@acme.test"],
            ),
            (format!("{URN}:clearance le 1"), vec!["b@acme.test"]),
            (format!("{URN}:contractor eq true"), vec!["a@acme.test"]),
            (
                format!("{URN}:hiredAt lt \"2024-06-01T00:00:00Z\""),
                vec!["a@acme.test", "c@acme.test"],
            ),
            (
                format!("{URN}:skills eq \"rust\""),
                vec!["a@acme.test", "c@acme.test"],
            ),
            (
                format!("{URN}:office.floor ge 20"),
                vec!["a@acme.test", "c@acme.test"],
            ),
            (
                format!("{URN}:badgeNumber pr"),
                vec!["a@acme.test", "b@acme.test", "c@acme.test"],
            ),
            (format!("not ({URN}:badgeNumber pr)"), vec!["d@acme.test"]),
            (
                format!("{URN}:clearance eq 2 and userName sw \"c\""),
                vec!["c@acme.test"],
            ),
        ] {
            let r = app
                .get(&format!(
                    "/scim/v2/Users?filter={}&sortBy=userName",
                    urlencode(&filter)
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
            assert_eq!(names(&r.body), expected, "{filter}");
        }
        // Sorting: missing values last in both directions.
        for (sort, order, expected) in [
            (
                "clearance",
                "ascending",
                ["b@acme.test", "c@acme.test", "a@acme.test", "d@acme.test"],
            ),
            (
                "clearance",
                "descending",
                ["a@acme.test", "c@acme.test", "b@acme.test", "d@acme.test"],
            ),
            (
                "badgeNumber",
                "ascending",
                ["a@acme.test", "b@acme.test", "c@acme.test", "d@acme.test"],
            ),
            (
                "hiredAt",
                "descending",
                ["b@acme.test", "a@acme.test", "c@acme.test", "d@acme.test"],
            ),
        ] {
            let r = app
                .get(&format!(
                    "/scim/v2/Users?sortBy={}&sortOrder={order}",
                    urlencode(&format!("{URN}:{sort}"))
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{sort}: {}", r.body);
            assert_eq!(names(&r.body), expected, "{sort} {order}");
        }
        // .search takes the same filters.
        let r = app
            .post(
                "/scim/v2/Users/.search",
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": format!("{URN}:clearance eq 3")}),
            )
            .await;
        assert_eq!(names(&r.body), vec!["a@acme.test"], "{}", r.body);

        // Off: a filter on them is invalidFilter, never "everything".
        settings(&app, false, Some(declaration())).await;
        let r = app
            .get(&format!(
                "/scim/v2/Users?filter={}",
                urlencode(&format!("{URN}:clearance gt 1"))
            ))
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
);

on_each_backend!(
    schemas_and_resource_types_follow_the_switch_per_tenant,
    |app| {
        let other = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let other_token = new_key(&app.store, &other, "entra", Scope::Scim).await;
        let ids = |body: &Value| -> Vec<String> {
            body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let r = app.get("/scim/v2/Schemas").await;
        assert_eq!(r.body["totalResults"], 3, "{}", r.body);
        assert!(!ids(&r.body).contains(&URN.to_owned()));

        settings(&app, true, Some(declaration())).await;
        let r = app.get("/scim/v2/Schemas").await;
        assert_eq!(r.body["totalResults"], 4, "{}", r.body);
        assert!(ids(&r.body).contains(&URN.to_owned()));
        let r = app.get(&format!("/scim/v2/Schemas/{URN}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["name"], "AcmeUser");
        let clearance = r.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "clearance")
            .unwrap();
        assert_eq!(clearance["type"], "integer");
        assert_eq!(clearance["mutability"], "readWrite");
        assert_eq!(clearance["multiValued"], false);
        let r = app.get("/scim/v2/ResourceTypes/User").await;
        let exts: Vec<&Value> = r.body["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["schema"])
            .collect();
        assert_eq!(exts, vec![&json!(ENT), &json!(URN)]);

        // Never in another tenant, nor without a key.
        for token in [Some(other_token.as_str()), None] {
            let r = app.call(Method::GET, "/scim/v2/Schemas", token, None).await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(!ids(&r.body).contains(&URN.to_owned()), "{token:?}");
            let r = app
                .call(Method::GET, &format!("/scim/v2/Schemas/{URN}"), token, None)
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            let r = app
                .call(Method::GET, "/scim/v2/ResourceTypes/User", token, None)
                .await;
            assert_eq!(r.body["schemaExtensions"].as_array().unwrap().len(), 1);
        }
        // The other tenant cannot write or filter on acme's extension.
        let r = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&other_token),
                Some(entra_user("x@globex.test", "G", 1)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body.get(URN).is_none());
        let r = app
            .call(
                Method::GET,
                &format!(
                    "/scim/v2/Users?filter={}",
                    urlencode(&format!("{URN}:clearance eq 1"))
                ),
                Some(&other_token),
                None,
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));

        settings(&app, false, Some(declaration())).await;
        let r = app.get("/scim/v2/Schemas").await;
        assert_eq!(r.body["totalResults"], 3, "{}", r.body);
        let r = app.get("/scim/v2/ResourceTypes/User").await;
        assert_eq!(r.body["schemaExtensions"].as_array().unwrap().len(), 1);
    }
);

on_each_backend!(flip_through_key_a_holds_for_key_b_at_once, |app| {
    settings(&app, false, Some(declaration())).await;
    // Key B: an on-premise key, created after the declaration.
    let r = api(
        &app,
        Method::POST,
        "/apiKeys",
        Some(json!({"name": "onprem", "scope": "on_premise"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let b = r.body["token"].as_str().unwrap().to_owned();
    let create = |n: &str| entra_user(n, "B-7", 7);
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&b),
            Some(create("b1@acme.test")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get(URN).is_none());

    // Flip through key A's settings (the Entra SCIM key).
    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/entra",
        Some(json!({"enabled": true, "options": {"scimCustomAttributes": true}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            Method::POST,
            "/scim/v2/Users",
            Some(&b),
            Some(create("b2@acme.test")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[URN]["clearance"], 7, "{}", r.body);
    let r = app
        .call(Method::GET, "/scim/v2/Schemas", Some(&b), None)
        .await;
    assert_eq!(r.body["totalResults"], 4);

    let r = api(
        &app,
        Method::PUT,
        "/apiKeys/entra",
        Some(json!({"enabled": true, "options": {"scimCustomAttributes": false}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::GET,
            &format!(
                "/scim/v2/Users?filter={}",
                urlencode("userName eq \"b2@acme.test\"")
            ),
            Some(&b),
            None,
        )
        .await;
    assert!(r.body["Resources"][0].get(URN).is_none(), "{}", r.body);
});

on_each_backend!(
    undeclared_custom_attributes_are_ignored_and_audited_once_a_day,
    |app| {
        settings(&app, true, Some(declaration())).await;
        let mut body = entra_user("u@acme.test", "B", 1);
        body[URN]["shoeSize"] = json!(44);
        let r = app.post("/scim/v2/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body[URN].get("shoeSize").is_none());
        let id = r.body["id"].as_str().unwrap().to_owned();
        for ops in [
            json!([{"op": "Add", "path": format!("{URN}:shoeSize"), "value": 45}]),
            json!([{"op": "Replace", "value": {format!("{URN}:favouriteColour"): "teal"}}]),
            json!([{"op": "Replace", "value": {URN: {"shoeSize": 46}}}]),
        ] {
            let r = app
                .call(
                    Method::PATCH,
                    &format!("/scim/v2/Users/{id}"),
                    Some(&app.scim_token.clone()),
                    Some(patch(ops.clone())),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{ops}: {}", r.body);
            assert!(r.body[URN].get("shoeSize").is_none());
        }
        let r = api(
            &app,
            Method::GET,
            "/auditEvents?targetType=apiKey&targetId=entra",
            None,
        )
        .await;
        let events: Vec<&Value> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "scim.customAttribute.ignored")
            .collect();
        let mut attrs: Vec<&str> = events
            .iter()
            .map(|e| e["changes"]["attribute"].as_str().unwrap())
            .collect();
        attrs.sort();
        assert_eq!(attrs, vec!["favouriteColour", "shoeSize"], "{}", r.body);
        assert!(events.iter().all(|e| e["changes"]["schema"] == URN));

        // Once a day also across processes: a write of another process (whose own cache has
        // not seen the attribute) carries the same note; the store writes no second event for
        // the same key, schema, name and day, and writes one on the next day.
        let key = app.store.get_api_key(&app.tenant, "entra").await.unwrap();
        let registry = scim_model::SchemaRegistry::core().unwrap();
        let write_with_note = |user_name: &'static str, at: chrono::DateTime<Utc>| {
            let store = app.store.clone();
            let tenant = app.tenant.clone();
            let note = scim_store::IgnoredNote {
                key_id: key.id.clone(),
                key_name: "entra".into(),
                schema: URN.into(),
                name: "shoeSize".into(),
            };
            let input = scim_model::validate_resource(
                &registry,
                scim_model::ResourceKind::User,
                &json!({"userName": user_name}),
            )
            .unwrap();
            async move {
                store
                    .create_resource(
                        &tenant,
                        scim_model::ResourceKind::User,
                        &input,
                        &[note],
                        None,
                        at,
                    )
                    .await
                    .unwrap();
            }
        };
        let shoe_size_events = || async {
            let r = api(
                &app,
                Method::GET,
                "/auditEvents?targetType=apiKey&targetId=entra",
                None,
            )
            .await;
            r.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["changes"]["attribute"] == "shoeSize")
                .count()
        };
        write_with_note("other-process@acme.test", Utc::now()).await;
        assert_eq!(shoe_size_events().await, 1, "already recorded today");
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        write_with_note("tomorrow@acme.test", tomorrow).await;
        assert_eq!(shoe_size_events().await, 2, "a new day");
    }
);

on_each_backend!(
    declaration_changes_are_checked_against_stored_values,
    |app| {
        settings(&app, true, Some(declaration())).await;
        let r = app
            .post("/scim/v2/Users", entra_user("v@acme.test", "B-1", 2))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);

        // clearance integer → string: stored 2 does not fit.
        let mut changed = declaration();
        changed["attributes"][1]["type"] = json!("string");
        let r = api(
            &app,
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": true, "customSchema": changed})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "declaration_conflicts_with_data");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("clearance") && msg.contains("v@acme.test"),
            "{msg}"
        );
        // Nothing changed.
        let r = api(&app, Method::GET, "/settings/scim", None).await;
        assert_eq!(r.body["customSchema"], declaration());

        // A change the data fits (integer → decimal, a description, a new attribute) is fine,
        // and so is dropping an attribute (its values are kept, hidden).
        let mut fits = declaration();
        fits["attributes"][1]["type"] = json!("decimal");
        fits["attributes"][0]["description"] = json!("New text");
        fits["attributes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "nickname", "type": "string"}));
        fits["attributes"].as_array_mut().unwrap().remove(6); // skills
        settings(&app, true, Some(fits)).await;
        let r = app
            .get(&format!(
                "/scim/v2/Users?filter={}",
                urlencode("userName eq \"v@acme.test\"")
            ))
            .await;
        let user = &r.body["Resources"][0];
        assert_eq!(user[URN]["clearance"], 2);
        assert!(user[URN].get("skills").is_none());
        // Declared again, the hidden values are back.
        settings(&app, true, Some(declaration())).await;
        let r = app
            .get(&format!(
                "/scim/v2/Users?filter={}",
                urlencode("userName eq \"v@acme.test\"")
            ))
            .await;
        assert_eq!(
            r.body["Resources"][0][URN]["skills"],
            json!(["rust", "sql"])
        );

        // The default URN, and any valid URN, are accepted; invalid ones are named.
        let r = api(
            &app,
            Method::PUT,
            "/settings/scim",
            Some(json!({"customAttributesEnabled": true, "customSchema": {
            "id": "urn:acme:hr", "attributes": [{"name": "x", "type": "float"}]}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attributes[0].type"));
    }
);

/// Measures what reading the tenant switch on every request costs: the key lookup alone, the
/// key lookup joined with the tenant's switch and declaration tag (what SCIM requests do), a
/// separate read of the settings with the declaration (the alternative), and a whole `GET /Users/{id}` in the same harness. Run with
/// `xcargo test --test blackbox -- --ignored --nocapture measure_` (add `--release` for
/// optimised numbers).
#[actix_web::test]
#[ignore = "a measurement, not a check"]
async fn measure_the_per_request_settings_read() {
    use std::time::{Duration, Instant};
    for backend in crate::common::backends() {
        // No rate limit in the way of a tight loop.
        let vars = [
            ("SCIMD_RATE_LIMIT_PER_SECOND", "1000000"),
            ("SCIMD_RATE_LIMIT_BURST", "10000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let app = crate::common::spawn_with(backend.clone(), vars).await;
        settings(&app, true, Some(declaration())).await;
        let id = app.create_user("m@acme.test").await;
        let hash = scim_auth::Token::parse(&app.scim_token).unwrap().hash();
        let n = 2000u32;
        let mut key_only = Vec::new();
        let mut joined = Vec::new();
        let mut separate = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            assert!(app
                .store
                .find_api_key_by_hash(&hash)
                .await
                .unwrap()
                .is_some());
            key_only.push(t.elapsed());
            let t = Instant::now();
            let (_, s) = app
                .store
                .find_api_key_and_scim_switch(&hash)
                .await
                .unwrap()
                .unwrap();
            joined.push(t.elapsed());
            assert!(s.custom_attributes_enabled && s.custom_schema_tag.is_some());
            let t = Instant::now();
            app.store.get_scim_settings(&app.tenant).await.unwrap();
            separate.push(t.elapsed());
            let t = Instant::now();
            let r = app.get(&format!("/scim/v2/Users/{id}")).await;
            requests.push(t.elapsed());
            assert_eq!(r.status, StatusCode::OK);
        }
        let p50 = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (k, j, s, r) = (
            p50(&mut key_only),
            p50(&mut joined),
            p50(&mut separate),
            p50(&mut requests),
        );
        println!(
            "{backend:?} p50: key lookup {k:?}; key+switch joined {j:?}; separate settings read {s:?}; \
             GET /Users/{{id}} {r:?}; join adds {:?} ({:.1}% of a GET), a separate read would add {:.1}%",
            j.saturating_sub(k),
            100.0 * j.saturating_sub(k).as_secs_f64() / r.as_secs_f64(),
            100.0 * s.as_secs_f64() / r.as_secs_f64()
        );
    }
}

/// `scimd tenant custom-attributes`: declare from a file, switch, refuse what does not fit.
#[actix_web::test]
async fn the_cli_declares_and_switches() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("scimd-custom-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("scimd.db").display());
    let scimd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scimd"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SCIMD_DATABASE_URL", &url)
            .env("SCIMD_LOG", "warn")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(scimd(&["tenant", "create", "acme"]).status.success());
    let file = dir.join("schema.json");
    std::fs::write(&file, declaration().to_string()).unwrap();
    let out = scimd(&[
        "tenant",
        "custom-attributes",
        "--tenant",
        "acme",
        "--schema",
        file.to_str().unwrap(),
        "--enable",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["customAttributesEnabled"], true);
    assert_eq!(shown["customSchema"], declaration());

    // Stored through the same store the server reads.
    let store = scim_store::Store::connect(&url, &Default::default())
        .await
        .unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let s = store.get_scim_settings(&tenant).await.unwrap();
    assert!(s.custom_attributes_enabled);
    store.close().await.unwrap();

    // Off, keeping the schema; then a bad file is refused with the property named.
    let out = scimd(&[
        "tenant",
        "custom-attributes",
        "--tenant",
        "acme",
        "--disable",
    ]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["customAttributesEnabled"], false);
    assert_eq!(shown["customSchema"]["id"], URN);
    std::fs::write(
        &file,
        r#"{"id": "urn:acme:hr", "attributes": [{"name": "x", "type": "float"}]}"#,
    )
    .unwrap();
    let out = scimd(&[
        "tenant",
        "custom-attributes",
        "--tenant",
        "acme",
        "--schema",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("attributes[0].type"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
