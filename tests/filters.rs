//! The full filter grammar, evaluated by the database, on both backends.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::common::assert_scim_error;
use crate::on_each_backend;
use crate::users::urlencode;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn person(
    user_name: &str,
    title: &str,
    family: &str,
    emails: serde_json::Value,
    dept: &str,
    active: bool,
) -> serde_json::Value {
    json!({
        "userName": user_name, "title": title, "active": active,
        "name": {"familyName": family, "givenName": "G"},
        "emails": emails,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept, "employeeNumber": user_name},
    })
}

on_each_backend!(
    every_operator_and_combinator_is_evaluated_by_the_database,
    |app| {
        let mut ids = std::collections::HashMap::new();
        for (name, title, family, emails, dept, active) in [
            (
                "alice",
                "Engineer",
                "Anders",
                json!([{"value": "alice@work.example", "type": "work", "primary": true}, {"value": "alice@home.example", "type": "home"}]),
                "R&D",
                true,
            ),
            (
                "bob",
                "Senior Engineer",
                "Brown",
                json!([{"value": "bob@work.example", "type": "work"}]),
                "Sales",
                true,
            ),
            (
                "carol",
                "Manager",
                "Clark",
                json!([{"value": "carol@home.example", "type": "home"}]),
                "R&D",
                false,
            ),
            ("dave", "", "Davis", json!([]), "Ops", true),
        ] {
            let r = app
                .post(
                    "/scim/v2/Users",
                    person(name, title, family, emails, dept, active),
                )
                .await;
            assert_eq!(r.status.as_u16(), 201, "{}", r.body);
            ids.insert(name, r.body["id"].as_str().unwrap().to_owned());
        }
        let g = app.post("/scim/v2/Groups", json!({"displayName": "Team", "members": [{"value": ids["alice"]}, {"value": ids["carol"]}]})).await;
        let gid = g.body["id"].as_str().unwrap().to_owned();

        let cases: Vec<(String, Vec<&str>)> = vec![
            ("title eq \"engineer\"".into(), vec!["alice"]),
            ("title co \"ENGINEER\"".into(), vec!["alice", "bob"]),
            ("title sw \"Senior\"".into(), vec!["bob"]),
            ("title ew \"ger\"".into(), vec!["carol"]),
            ("title ne \"Engineer\"".into(), vec!["bob", "carol", "dave"]),
            ("title pr".into(), vec!["alice", "bob", "carol"]),
            ("not (title pr)".into(), vec!["dave"]),
            ("userName gt \"bob\"".into(), vec!["carol", "dave"]),
            ("userName le \"bob\"".into(), vec!["alice", "bob"]),
            ("name.familyName sw \"c\"".into(), vec!["carol"]),
            ("emails.value co \"@work\"".into(), vec!["alice", "bob"]),
            ("emails co \"home\"".into(), vec!["alice", "carol"]),
            (
                "emails[type eq \"work\" and value sw \"alice\"]".into(),
                vec!["alice"],
            ),
            (
                "emails[type eq \"home\"] and active eq true".into(),
                vec!["alice"],
            ),
            ("emails[primary eq true]".into(), vec!["alice"]),
            ("emails.type ne \"work\"".into(), vec!["carol", "dave"]),
            ("emails pr".into(), vec!["alice", "bob", "carol"]),
            ("active eq false".into(), vec!["carol"]),
            ("active eq \"False\"".into(), vec!["carol"]),
            (
                format!("{ENT}:department eq \"r&d\""),
                vec!["alice", "carol"],
            ),
            (format!("{ENT}:employeeNumber eq \"bob\""), vec!["bob"]),
            (
                "title eq \"Manager\" or userName eq \"dave\"".into(),
                vec!["carol", "dave"],
            ),
            (
                "(title co \"Eng\" or title eq \"Manager\") and not (userName eq \"bob\")".into(),
                vec!["alice", "carol"],
            ),
            (format!("groups.value eq \"{gid}\""), vec!["alice", "carol"]),
            (
                format!("groups eq \"{gid}\" and userName eq \"alice\""),
                vec!["alice"],
            ),
            (
                "meta.created gt \"2000-01-01T00:00:00Z\"".into(),
                vec!["alice", "bob", "carol", "dave"],
            ),
            (
                "meta.lastModified lt \"2000-01-01T00:00:00Z\"".into(),
                vec![],
            ),
            ("title eq null".into(), vec!["dave"]),
            ("userName eq \"ALICE\"".into(), vec!["alice"]),
        ];
        for (filter, want) in cases {
            let r = app
                .get(&format!(
                    "/scim/v2/Users?filter={}&count=100",
                    urlencode(&filter)
                ))
                .await;
            assert_eq!(r.status.as_u16(), 200, "{filter}: {}", r.body);
            let mut got: Vec<String> = r.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect();
            got.sort();
            assert_eq!(got, want, "{filter}");
            assert_eq!(r.body["totalResults"], want.len(), "{filter}");
        }

        // groups: members.value, displayName operators
        for (filter, want) in [
            (format!("members.value eq \"{}\"", ids["alice"]), 1),
            (format!("members[value eq \"{}\"]", ids["bob"]), 0),
            ("displayName sw \"te\"".to_owned(), 1),
            ("members pr".to_owned(), 1),
        ] {
            let r = app
                .get(&format!(
                    "/scim/v2/Groups?filter={}&excludedAttributes=members",
                    urlencode(&filter)
                ))
                .await;
            assert_eq!(r.status.as_u16(), 200, "{filter}: {}", r.body);
            assert_eq!(r.body["totalResults"], want, "{filter}");
        }
    }
);

on_each_backend!(injection_attempts_are_just_values, |app| {
    app.create_user("x").await;
    for filter in [
        "userName eq \"x' OR '1'='1\"",
        "userName eq \"x\\\" OR 1=1 --\"",
        "title co \"'); DROP TABLE users; --\"",
        "emails[value co \"%\" or value co \"_\"]",
    ] {
        let r = app
            .get(&format!("/scim/v2/Users?filter={}", urlencode(filter)))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{filter}: {}", r.body);
        assert_eq!(r.body["totalResults"], 0, "{filter}");
    }
    for sort in ["userName;DROP TABLE users", "name.familyName\"--"] {
        let r = app
            .get(&format!("/scim/v2/Users?sortBy={}", urlencode(sort)))
            .await;
        assert!(r.status.as_u16() == 400, "{sort}: {}", r.body);
    }
    assert_eq!(app.get("/scim/v2/Users").await.body["totalResults"], 1);
});

on_each_backend!(sorting_is_stable_with_missing_values_last, |app| {
    for (name, family) in [
        ("u1", Some("Zed")),
        ("u2", None),
        ("u3", Some("adams")),
        ("u4", Some("Miller")),
    ] {
        let mut body = json!({"userName": name});
        if let Some(f) = family {
            body["name"] = json!({"familyName": f});
        }
        app.post("/scim/v2/Users", body).await;
    }
    let names = |r: &crate::common::Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app.get("/scim/v2/Users?sortBy=name.familyName").await;
    assert_eq!(
        names(&r),
        ["u3", "u4", "u1", "u2"],
        "case-insensitive, missing last"
    );
    let r = app
        .get("/scim/v2/Users?sortBy=name.familyName&sortOrder=descending")
        .await;
    assert_eq!(names(&r), ["u1", "u4", "u3", "u2"]);
    let r = app
        .get("/scim/v2/Users?sortBy=userName&sortOrder=descending&count=2")
        .await;
    assert_eq!(names(&r), ["u4", "u3"]);
    assert_scim_error(
        &app.get("/scim/v2/Users?sortBy=userName&sortOrder=sideways")
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &app.get("/scim/v2/Users?sortBy=nosuch").await,
        400,
        Some("invalidFilter"),
    );
});

on_each_backend!(cursor_pagination_walks_every_resource_once, |app| {
    for i in 0..7 {
        app.create_user(&format!("c{i}")).await;
    }
    for sort in ["", "&sortBy=userName&sortOrder=descending"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..10 {
            let r = app
                .get(&format!(
                    "/scim/v2/Users?count=3&cursor={}{sort}",
                    urlencode(&cursor)
                ))
                .await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.body);
            assert_eq!(r.body["totalResults"], 7);
            for u in r.body["Resources"].as_array().unwrap() {
                seen.push(u["userName"].as_str().unwrap().to_owned());
            }
            match r.body.get("nextCursor").and_then(|c| c.as_str()) {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7, "{sort}: {seen:?}");
        assert_eq!(seen.len(), 7, "{sort}: {seen:?}");
    }
    assert_scim_error(
        &app.get("/scim/v2/Users?cursor=bogus").await,
        400,
        Some("invalidCursor"),
    );
    assert_scim_error(
        &app.get("/scim/v2/Users?cursor=&startIndex=2").await,
        400,
        Some("invalidValue"),
    );
});

on_each_backend!(search_by_post_takes_the_same_parameters, |app| {
    for i in 0..4 {
        app.create_user(&format!("s{i}")).await;
    }
    let r = app
        .post(
            "/scim/v2/Users/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"s\"", "sortBy": "userName", "sortOrder": "descending",
                "startIndex": 2, "count": 2, "attributes": ["userName"]
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 4);
    assert_eq!(
        r.body["Resources"],
        json!([
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": r.body["Resources"][0]["id"], "userName": "s2"},
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": r.body["Resources"][1]["id"], "userName": "s1"}
        ])
    );
    let r = app
        .post("/scim/v2/Users/.search", json!({"filter": "userName eq"}))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app
        .post("/scim/v2/Users/.search", json!({"count": "many"}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
});

on_each_backend!(root_search_spans_users_and_groups, |app| {
    app.create_user("rs-user1").await;
    app.create_user("rs-user2").await;
    app.post("/scim/v2/Groups", json!({"displayName": "rs-group"}))
        .await;
    let r = app
        .post("/scim/v2/.search", json!({"startIndex": 2, "count": 2}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    let kinds: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);
    // a filter only Users understand matches no group
    let r = app
        .post("/scim/v2/.search", json!({"filter": "userName sw \"rs-\""}))
        .await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.body);
    let r = app
        .post("/scim/v2/.search", json!({"filter": "nosuch eq \"x\""}))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app.post("/scim/v2/.search", json!({"cursor": ""})).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
});

on_each_backend!(repeated_point_lookups_find_each_their_own_resource, |app| {
    // The lookups an identity provider sends before each create run on SQL rendered once
    // per shape: each must still find exactly its own resource.
    let mut users = Vec::new();
    for name in ["Lookup.Alice@example.test", "lookup.bob@example.test"] {
        users.push((name, app.create_user(name).await));
    }
    for (name, id) in &users {
        for filter in [
            format!("userName eq \"{}\"", name.to_uppercase()),
            format!("externalId eq \"ext-{name}\""),
            format!("id eq \"{id}\""),
        ] {
            let r = app
                .get(&format!("/scim/v2/Users?filter={}", urlencode(&filter)))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
            assert_eq!(r.body["totalResults"], 1, "{filter}: {}", r.body);
            assert_eq!(r.body["Resources"][0]["id"], id.as_str(), "{filter}");
        }
    }
    let r = app
        .get(&format!(
            "/scim/v2/Users?filter={}",
            urlencode("userName eq \"nobody@example.test\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    // Past the first result, and with count=0: the general path, same answers.
    let filter = urlencode(&format!("userName eq \"{}\"", users[0].0));
    let r = app
        .get(&format!("/scim/v2/Users?filter={filter}&startIndex=2"))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(r.body["Resources"].as_array().map_or(0, Vec::len), 0);
    let r = app
        .get(&format!("/scim/v2/Users?filter={filter}&count=0"))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    // Groups by displayName (any case), externalId and id.
    for name in ["Lookup Team A", "Lookup Team B"] {
        let created = app
            .post(
                "/scim/v2/Groups",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "externalId": format!("gx-{name}"),
                }),
            )
            .await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        for filter in [
            format!("displayName eq \"{}\"", name.to_lowercase()),
            format!("externalId eq \"gx-{name}\""),
            format!("id eq \"{id}\""),
        ] {
            let r = app
                .get(&format!(
                    "/scim/v2/Groups?filter={}&excludedAttributes=members",
                    urlencode(&filter)
                ))
                .await;
            assert_eq!(r.body["totalResults"], 1, "{filter}: {}", r.body);
            assert_eq!(r.body["Resources"][0]["id"], id.as_str(), "{filter}");
        }
    }
});
