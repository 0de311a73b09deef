//! Provisioning events (issue 20): what each SCIM change emits, captured in the change's
//! transaction (a failed or no-op change emits nothing), and the events API that serves them
//! in order: cursors, replay, filters, retention, permission and tenant isolation. The poller
//! tests check the one guarantee readers build on: a cursor never skips an event, even one
//! whose change commits after later ones were read.

use std::collections::HashSet;

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{Method, StatusCode},
};
use chrono::{DateTime, Duration, Utc};
use scim_auth::Scope;
use scim_store::TenantId;
use serde_json::{json, Value};

use crate::common::{backends, new_key, raw_key, spawn, user_body, Backend, Resp, TestApp};
use crate::on_each_backend;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// `GET /api/acme/admin/events?<query>` with the admin key.
async fn read<S, B>(app: &TestApp<S>, query: &str) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let token = app.admin_token.clone();
    app.call(
        Method::GET,
        &format!("/api/acme/admin/events?{query}"),
        Some(&token),
        None,
    )
    .await
}

/// The events after `cursor` (all of them, page by page) and the cursor to poll with next.
async fn drain<S, B>(app: &TestApp<S>, cursor: Option<&str>) -> (Vec<Value>, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut all = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=50&after={}", urlencode(c)),
            None => "limit=50".to_owned(),
        };
        let r = read(app, &query).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let events = r.body["events"].as_array().unwrap().clone();
        let next = r.body["nextCursor"].as_str().unwrap().to_owned();
        let done = events.len() < 50;
        all.extend(events);
        cursor = Some(next);
        if done {
            return (all, cursor.unwrap_or_default());
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

on_each_backend!(every_change_emits_its_events_in_order, |app| {
    let r = app.post("/scim/v2/Users", user_body("ann@acme.test")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let ann = r.body["id"].as_str().unwrap().to_owned();
    let request_id = r.header("x-request-id").unwrap().to_owned();
    let (events, cursor) = drain(&app, None).await;
    assert_eq!(types(&events), ["user.created"]);
    let e = &events[0];
    assert_eq!(e["resourceType"], "User");
    assert_eq!(e["resourceId"], ann.as_str());
    assert_eq!(e["externalId"], "ext-ann@acme.test");
    assert_eq!(e["version"], "W/\"1\"");
    assert_eq!(e["actor"], json!({"type": "key", "name": "entra"}));
    assert_eq!(e["requestId"], request_id.as_str());
    let attrs: Vec<&str> = e["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        attrs.contains(&"userName") && attrs.contains(&"name.givenName"),
        "{attrs:?}"
    );
    assert!(!attrs.contains(&"schemas"));
    assert!(e["id"].as_str().is_some() && e["time"].as_str().is_some());

    // PATCH: an attribute, then a deactivation, then both, then nothing.
    let path = format!("/scim/v2/Users/{ann}");
    let token = app.scim_token.clone();
    let send = |body: Value| {
        let path = path.clone();
        let token = token.clone();
        let app = &app;
        async move {
            app.call(Method::PATCH, &path, Some(&token), Some(body))
                .await
        }
    };
    let r = send(patch(
        json!([{"op": "replace", "path": "title", "value": "CTO"}]),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(patch(
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(patch(json!([
        {"op": "replace", "path": "active", "value": true},
        {"op": "replace", "path": "name.familyName", "value": "Lee"}
    ])))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A PATCH that changes nothing emits nothing (and keeps the version).
    let r = send(patch(
        json!([{"op": "replace", "path": "title", "value": "CTO"}]),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["meta"]["version"], "W/\"4\"");
    let (events, cursor) = drain(&app, Some(&cursor)).await;
    assert_eq!(
        types(&events),
        [
            "user.updated",
            "user.deactivated",
            "user.updated",
            "user.activated"
        ]
    );
    assert_eq!(events[0]["attributes"], json!(["title"]));
    assert_eq!(events[0]["version"], "W/\"2\"");
    assert_eq!(events[1]["attributes"], json!(["active"]));
    assert_eq!(events[2]["attributes"], json!(["name.familyName"]));
    assert_eq!(events[2]["version"], events[3]["version"]);
    assert_eq!(events[3]["version"], "W/\"4\"");

    // PUT names what it changed.
    let mut body = user_body("ann@acme.test");
    body["displayName"] = json!("Ann Lee");
    let r = app.put(&path, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (events, cursor) = drain(&app, Some(&cursor)).await;
    assert_eq!(types(&events), ["user.updated"]);
    let attrs = events[0]["attributes"].as_array().unwrap();
    assert!(attrs.contains(&json!("displayName")), "{attrs:?}");
    assert!(
        attrs.contains(&json!("title")),
        "the PUT dropped title: {attrs:?}"
    );

    // Groups: create with a member, membership changes, a rename.
    let bob = app.create_user("bob@acme.test").await;
    let r = app
        .post(
            "/scim/v2/Groups",
            json!({"displayName": "Eng", "externalId": "g-eng", "members": [{"value": ann}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let eng = r.body["id"].as_str().unwrap().to_owned();
    let gpath = format!("/scim/v2/Groups/{eng}");
    let r = app
        .call(
            Method::PATCH,
            &gpath,
            Some(&token),
            Some(patch(json!([
                {"op": "add", "path": "members", "value": [{"value": bob}, {"value": ann}]},
                {"op": "remove", "path": format!("members[value eq \"{ann}\"]")}
            ]))),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &gpath,
            Some(&token),
            Some(patch(
                json!([{"op": "replace", "path": "displayName", "value": "Engineering"}]),
            )),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (events, cursor) = drain(&app, Some(&cursor)).await;
    assert_eq!(
        types(&events),
        [
            "user.created",
            "group.created",
            "group.members_added",
            "group.members_added",
            "group.members_removed",
            "group.updated"
        ]
    );
    assert_eq!(events[1]["externalId"], "g-eng");
    assert_eq!(events[2]["members"], json!([ann]));
    assert_eq!(events[3]["members"], json!([bob]));
    assert_eq!(events[4]["members"], json!([ann]));
    assert_eq!(events[5]["attributes"], json!(["displayName"]));
    assert!(events[5].get("members").is_none(), "{}", events[5]);

    // Deletes: the user names the groups it left; no membership events.
    let r = app.delete(&format!("/scim/v2/Users/{bob}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.delete(&gpath).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (events, _) = drain(&app, Some(&cursor)).await;
    assert_eq!(types(&events), ["user.deleted", "group.deleted"]);
    assert_eq!(events[0]["groups"], json!([eng]));
    assert_eq!(events[0]["externalId"], "ext-bob@acme.test");
    assert_eq!(events[1]["groups"], json!([]));

    // The whole stream: strictly increasing sequences, unique ids.
    let (all, _) = drain(&app, None).await;
    let sequences: Vec<i64> = all
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let ids: HashSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
});

on_each_backend!(a_failed_or_rolled_back_change_emits_nothing, |app| {
    let taken = app.create_user("taken@acme.test").await;
    let (_, cursor) = drain(&app, None).await;
    let r = app
        .post(
            "/scim/v2/Bulk",
            json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user_body("new@acme.test")},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user_body("TAKEN@acme.test")},
                {"method": "PATCH", "path": format!("/Users/{taken}"), "version": "W/\"7\"",
                 "data": patch(json!([{"op": "replace", "path": "title", "value": "x"}]))},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "nobody"}]}}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "409", "412", "400"]);
    // A conflicting PUT and a PATCH of an unknown member, outside Bulk.
    let r = app
        .put(
            &format!("/scim/v2/Users/{taken}"),
            user_body("new@acme.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let (events, _) = drain(&app, Some(&cursor)).await;
    assert_eq!(types(&events), ["user.created"], "{events:?}");
    assert_eq!(
        events[0]["attributes"].as_array().map(Vec::is_empty),
        Some(false)
    );
});

on_each_backend!(cursors_replay_filters_and_bad_queries, |app| {
    for i in 0..5 {
        app.create_user(&format!("u{i}@acme.test")).await;
    }
    let r = app
        .post("/scim/v2/Groups", json!({"displayName": "G"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Pages of 2 walk the stream; the last cursor polls again and finds new events.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=2&after={}", urlencode(c)),
            None => "limit=2".into(),
        };
        let r = read(&app, &q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let page = r.body["events"].as_array().unwrap().clone();
        cursor = Some(r.body["nextCursor"].as_str().unwrap().to_owned());
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    assert_eq!(seen.len(), 6);
    let tail = cursor.unwrap();
    let r = read(&app, &format!("after={}", urlencode(&tail))).await;
    assert_eq!(r.body["events"], json!([]));
    assert_eq!(
        r.body["nextCursor"],
        tail.as_str(),
        "an empty poll keeps its place"
    );
    app.create_user("late@acme.test").await;
    let (late, _) = drain(&app, Some(&tail)).await;
    assert_eq!(types(&late), ["user.created"]);

    // Filters: by resource type and by repeated type; a filtered poll moves past the rest.
    let r = read(&app, "resourceType=Group").await;
    assert_eq!(
        types(r.body["events"].as_array().unwrap()),
        ["group.created"]
    );
    let r = read(&app, "type=group.created&type=user.deleted&limit=1000").await;
    assert_eq!(
        types(r.body["events"].as_array().unwrap()),
        ["group.created"]
    );
    let filtered_cursor = r.body["nextCursor"].as_str().unwrap().to_owned();
    let r = read(&app, &format!("after={}", urlencode(&filtered_cursor))).await;
    assert_eq!(
        r.body["events"],
        json!([]),
        "the filtered poll's cursor is past every event"
    );

    // since: from a time.
    let r = read(&app, "since=2000-01-01T00:00:00Z").await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 7);
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let r = read(&app, &format!("since={}", urlencode(&future))).await;
    assert_eq!(r.body["events"], json!([]));

    // Bad queries: the field named, never a 500.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("resourceType=user", "resourceType"),
        ("type=user.exploded", "type"),
        ("since=yesterday", "since"),
        ("after=forged.1.abc", "after"),
    ] {
        let r = read(&app, query).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["field"], field, "{query}: {}", r.body);
    }
    let r = read(
        &app,
        &format!("after={}&since=2000-01-01T00:00:00Z", urlencode(&tail)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "conflicting_parameters");
});

on_each_backend!(
    since_starts_at_the_first_event_recorded_at_or_after_a_time,
    |app| {
        // Events with times apart, so that the splits below fall between them.
        for i in 0..23 {
            app.create_user(&format!("s{i}@acme.test")).await;
            if i % 4 == 0 {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(3)).await;
            }
        }
        let (all, _) = drain(&app, None).await;
        assert_eq!(all.len(), 23);
        let time = |e: &Value| {
            e["time"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        };
        // Every event's own time (shown to the millisecond), a millisecond before and after it,
        // and the ends.
        let mut splits: Vec<DateTime<Utc>> = Vec::new();
        for e in &all {
            let t = time(e);
            splits.extend([
                t,
                t - Duration::milliseconds(1),
                t + Duration::milliseconds(1),
            ]);
        }
        splits.extend([
            time(&all[0]) - Duration::days(1),
            Utc::now() + Duration::days(1),
        ]);
        for split in splits {
            // What `since` promises: from the first event, in sequence order, at or after it.
            let expected: Vec<&Value> = match all.iter().position(|e| time(e) >= split) {
                Some(first) => all[first..].iter().collect(),
                None => Vec::new(),
            };
            let r = read(
                &app,
                &format!("since={}&limit=1000", urlencode(&split.to_rfc3339())),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let got: Vec<&Value> = r.body["events"].as_array().unwrap().iter().collect();
            assert_eq!(
                got.iter().map(|e| &e["sequence"]).collect::<Vec<_>>(),
                expected.iter().map(|e| &e["sequence"]).collect::<Vec<_>>(),
                "since {split}"
            );
        }
    }
);

on_each_backend!(retention_purges_and_an_old_cursor_is_gone, |app| {
    let token = app.admin_token.clone();
    let r = app
        .call(
            Method::GET,
            "/api/acme/admin/settings/events",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"retentionDays": 30}));
    for bad in [
        json!({"retentionDays": 0}),
        json!({"retentionDays": 366}),
        json!({}),
    ] {
        let r = app
            .call(
                Method::PUT,
                "/api/acme/admin/settings/events",
                Some(&token),
                Some(bad),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    }
    let r = app
        .call(
            Method::PUT,
            "/api/acme/admin/settings/events",
            Some(&token),
            Some(json!({"retentionDays": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            Method::GET,
            "/api/acme/admin/auditEvents?targetId=events",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["events"][0]["changes"]["retentionDays"]["to"], 2);

    let (_, start) = drain(&app, None).await;
    app.create_user("a@acme.test").await;
    let (first, after_first) = drain(&app, Some(&start)).await;
    assert_eq!(first.len(), 1);
    app.create_user("b@acme.test").await;
    // A day later nothing is old enough; three days later both events are.
    let policy = scim_expiry::ExpiryPolicy::default();
    let s = scim_expiry::sweep(&app.store, &policy, Utc::now() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(s.events_purged, 0);
    let s = scim_expiry::sweep(&app.store, &policy, Utc::now() + Duration::days(3))
        .await
        .unwrap();
    assert_eq!(s.events_purged, 2);
    // A cursor before what was purged is refused, not silently past a gap; the newest cursor
    // still reads on.
    let r = read(&app, &format!("after={}", urlencode(&start))).await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "cursor_expired");
    let r = read(&app, &format!("after={}", urlencode(&after_first))).await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.body);
    let (rest, last) = drain(&app, None).await;
    assert!(rest.is_empty());
    app.create_user("c@acme.test").await;
    let (after, _) = drain(&app, Some(&last)).await;
    assert_eq!(types(&after), ["user.created"]);
    // Numbered above what was purged, though no event was left to number it from.
    assert_eq!(after[0]["sequence"], 3, "{after:?}");
});

on_each_backend!(
    events_need_their_permission_and_stay_in_their_tenant,
    |app| {
        app.create_user("a@acme.test").await;
        // A public_api key without tenant.events:read; a SCIM key.
        let audit_only = raw_key(
            &app.store,
            &app.tenant,
            "auditor",
            Scope::PublicApi,
            &["tenant.audit:read"],
            Duration::days(30),
        )
        .await;
        let reader = raw_key(
            &app.store,
            &app.tenant,
            "events-reader",
            Scope::PublicApi,
            &["tenant.events:read"],
            Duration::days(30),
        )
        .await;
        let r = app
            .call(
                Method::GET,
                "/api/acme/admin/events",
                Some(&audit_only),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let scim = app.scim_token.clone();
        let r = app
            .call(Method::GET, "/api/acme/admin/events", Some(&scim), None)
            .await;
        assert!(
            matches!(r.status.as_u16(), 401 | 403),
            "a SCIM key reads no events: {}",
            r.body
        );
        let r = app
            .call(Method::GET, "/api/acme/admin/events", Some(&reader), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let acme_cursor = r.body["nextCursor"].as_str().unwrap().to_owned();

        // Tenant B: its own events only; acme's cursor and path are not B's.
        let other = TenantId::parse("globex").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let b_scim = new_key(&app.store, &other, "okta", Scope::Scim).await;
        let b_admin = new_key(&app.store, &other, "admin", Scope::PublicApi).await;
        let r = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&b_scim),
                Some(user_body("b@globex.test")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = app
            .call(Method::GET, "/api/acme/admin/events", Some(&b_admin), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let r = app
            .call(
                Method::GET,
                "/api/globex/admin/events",
                Some(&b_admin),
                None,
            )
            .await;
        let b_events = r.body["events"].as_array().unwrap();
        assert_eq!(b_events.len(), 1);
        assert_eq!(b_events[0]["actor"]["name"], "okta");
        let r = app
            .call(
                Method::GET,
                &format!("/api/globex/admin/events?after={}", urlencode(&acme_cursor)),
                Some(&b_admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        let (acme, _) = drain(&app, None).await;
        assert!(
            acme.iter().all(|e| e["actor"]["name"] == "entra"),
            "{acme:?}"
        );
    }
);

/// Writers on several tasks while a poller reads: the poller sees every event exactly once, in
/// increasing sequence, whatever order the writers commit in.
#[actix_web::test]
async fn a_poller_misses_nothing_while_writers_commit() {
    for backend in backends() {
        let app = spawn(backend).await;
        let writers = 6;
        let per_writer = 15;
        let done = std::cell::Cell::new(false);
        let write = |w: usize| {
            let app = &app;
            async move {
                for i in 0..per_writer {
                    let r = app
                        .post("/scim/v2/Users", user_body(&format!("w{w}-{i}@acme.test")))
                        .await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                }
            }
        };
        let poll = async {
            let mut seen: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let finished = done.get();
                let (events, next) = drain(&app, cursor.as_deref()).await;
                seen.extend(events);
                cursor = Some(next);
                if finished {
                    return seen;
                }
                actix_web::rt::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        };
        let writes = async {
            futures_util::future::join_all((0..writers).map(write)).await;
            done.set(true);
        };
        let (seen, ()) = futures_util::future::join(poll, writes).await;
        assert_eq!(seen.len(), writers * per_writer);
        let sequences: Vec<i64> = seen
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
        let ids: HashSet<&str> = seen
            .iter()
            .map(|e| e["resourceId"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), writers * per_writer);
    }
}

/// PostgreSQL: a change that commits after later ones were read is served after them, never
/// skipped. A transaction holds an event open (as a slow writer would) while other writes
/// commit and are read; once it commits, the next poll from the cursor returns it.
#[actix_web::test]
async fn an_event_committed_late_is_not_skipped() {
    use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
    for backend in backends() {
        if matches!(backend, Backend::Sqlite) {
            // SQLite writers hold the one write lock until COMMIT: sequences commit in order.
            continue;
        }
        let app = spawn(backend).await;
        app.create_user("first@acme.test").await;
        let (_, cursor) = drain(&app, None).await;
        let db = Database::connect(app.db_url()).await.unwrap();
        let slow = db.begin().await.unwrap();
        slow.execute(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO events (id, tenant_id, time, event_type, resource_type, resource_id, \
             version, attributes, actor) VALUES ('00000000-0000-7000-8000-000000000001', 'acme', \
             now(), 'user.updated', 'User', 'slow', 2, '[\"title\"]', \
             '{\"type\": \"key\", \"name\": \"slow\"}')",
        ))
        .await
        .unwrap();
        app.create_user("second@acme.test").await;
        let (events, cursor) = drain(&app, Some(&cursor)).await;
        assert_eq!(types(&events), ["user.created"]);
        slow.commit().await.unwrap();
        let (events, _) = drain(&app, Some(&cursor)).await;
        assert_eq!(types(&events), ["user.updated"], "the late event is served");
        assert_eq!(events[0]["resourceId"], "slow");
    }
}
