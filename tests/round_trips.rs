//! The statements each of the benchmark's single-resource requests sends to the database (each
//! one a round trip on PostgreSQL), pinned per backend (issue 23, target 3): a change that adds
//! one fails here and says which request and how many. docs/ARCHITECTURE.md lists them.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::user_body;
use crate::on_each_backend;
use crate::users::urlencode;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// One request of the table: what it is, how it is sent, the status it must answer with, and
/// its statements on SQLite and on PostgreSQL.
struct Counted {
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    status: StatusCode,
    sqlite: u64,
    postgres: u64,
}

on_each_backend!(
    each_single_resource_request_sends_the_statements_it_needs,
    |app| {
        let token = app.scim_token.clone();
        // The first request of a key stamps lastUsedAt (at most once a minute): not counted.
        let member = app.create_user("member@contoso.com").await;
        let victim = app.create_user("leaver@contoso.com").await;
        let alone = app.create_user("alone@contoso.com").await;
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Counted", "members": [{"value": victim}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let group = r.body["id"].as_str().unwrap().to_owned();
        let user = format!("/scim/v2/Users/{member}");
        let lookup = |attr: &str, value: &str| {
            format!(
                "/scim/v2/Users?filter={}",
                urlencode(&format!("{attr} eq \"{value}\""))
            )
        };
        let table = [
            Counted {
                what: "create a user",
                method: Method::POST,
                path: "/scim/v2/Users".into(),
                body: Some(user_body("new@contoso.com")),
                status: StatusCode::CREATED,
                // the key's counter, the INSERT (on PostgreSQL with its event)
                sqlite: 5,
                postgres: 2,
            },
            Counted {
                what: "GET a user by id",
                method: Method::GET,
                path: user.clone(),
                body: None,
                status: StatusCode::OK,
                sqlite: 3,
                postgres: 2,
            },
            Counted {
                what: "look a user up by userName",
                method: Method::GET,
                path: lookup("userName", "member@contoso.com"),
                body: None,
                status: StatusCode::OK,
                sqlite: 3,
                postgres: 2,
            },
            Counted {
                what: "look a user up by externalId",
                method: Method::GET,
                path: lookup("externalId", "ext-member@contoso.com"),
                body: None,
                status: StatusCode::OK,
                sqlite: 3,
                postgres: 2,
            },
            Counted {
                what: "PATCH a user's displayName",
                method: Method::PATCH,
                path: user.clone(),
                body: Some(ops(
                    json!([{"op": "Replace", "path": "displayName", "value": "Counted"}]),
                )),
                status: StatusCode::OK,
                sqlite: 7,
                postgres: 3,
            },
            Counted {
                what: "deactivate a user",
                method: Method::PATCH,
                path: user.clone(),
                body: Some(ops(
                    json!([{"op": "Replace", "path": "active", "value": "False"}]),
                )),
                status: StatusCode::OK,
                sqlite: 7,
                postgres: 3,
            },
            Counted {
                what: "add one member to a group",
                method: Method::PATCH,
                path: format!("/scim/v2/Groups/{group}"),
                body: Some(ops(
                    json!([{"op": "Add", "path": "members", "value": [{"value": member}]}]),
                )),
                // answered with its members: the tests' limit is two
                status: StatusCode::OK,
                sqlite: 9,
                postgres: 8,
            },
            Counted {
                what: "GET a group without its members",
                method: Method::GET,
                path: format!("/scim/v2/Groups/{group}?excludedAttributes=members"),
                body: None,
                status: StatusCode::OK,
                sqlite: 2,
                postgres: 2,
            },
            Counted {
                what: "delete a user who is in a group",
                method: Method::DELETE,
                path: format!("/scim/v2/Users/{victim}"),
                body: None,
                status: StatusCode::NO_CONTENT,
                sqlite: 7,
                postgres: 5,
            },
            Counted {
                what: "delete a user in no group",
                method: Method::DELETE,
                path: format!("/scim/v2/Users/{alone}"),
                body: None,
                status: StatusCode::NO_CONTENT,
                sqlite: 6,
                postgres: 5,
            },
        ];
        let backend = app.store.backend_name();
        let mut wrong = Vec::new();
        for c in table {
            let (r, statements) = scim_store::count_statements(app.call(
                c.method.clone(),
                &c.path,
                Some(&token),
                c.body.clone(),
            ))
            .await;
            assert_eq!(r.status, c.status, "{}: {}", c.what, r.body);
            let expected = if backend == "postgres" {
                c.postgres
            } else {
                c.sqlite
            };
            if statements != expected {
                wrong.push(format!(
                    "{}: {statements} statements, expected {expected}",
                    c.what
                ));
            }
        }
        assert!(wrong.is_empty(), "{backend}: {}", wrong.join("; "));
    }
);
