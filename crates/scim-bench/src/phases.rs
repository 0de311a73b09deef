//! The six phases of issue 9, shaped the way Microsoft Entra ID provisions a directory.
//!
//! Every request is one operation; every answer is checked (status, and the ids it carries) and a
//! failed check counts as an error of its phase.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{json, Value};

use crate::http::{encode, fail, BenchResult, Recorder, Scim};
use crate::phase::{self, PhaseResult, Probe};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What one run does.
/// The time limit of the phases that build what later phases use (1 and 4a).
const BUILD_LIMIT: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Plan {
    pub users: usize,
    pub members: usize,
    pub concurrency: usize,
    /// Single-member add/remove operations and group GETs in phase 4.
    pub single_ops: usize,
    pub phase_limit: Duration,
    pub prefix: String,
    pub probe: Probe,
    /// Phases to run (1..=6); later phases need the users of phase 1.
    pub phases: Vec<u8>,
    /// Send RFC 7644 shapes where Entra ID's differ (manager as `{value}`, member removal by a
    /// `members[value eq ...]` path), for servers that refuse Entra's.
    pub rfc_shapes: bool,
}

struct Ctx {
    scim: Scim,
    prefix: String,
    ids: Vec<OnceLock<String>>,
    group: OnceLock<String>,
    rfc_shapes: bool,
}

impl Ctx {
    fn user_name(&self, i: usize) -> String {
        format!("u{i}.{}@bench.example", self.prefix)
    }

    fn external_id(&self, i: usize) -> String {
        format!("ext-{}-{i}", self.prefix)
    }

    fn id(&self, i: usize) -> BenchResult<&str> {
        self.ids
            .get(i)
            .and_then(|c| c.get())
            .map(String::as_str)
            .ok_or_else(|| fail(format!("user {i} was not created")))
    }

    fn created(&self) -> usize {
        self.ids.iter().filter(|c| c.get().is_some()).count()
    }

    /// The body Entra ID sends to create a user (attribute mapping of a default gallery app).
    fn user_body(&self, i: usize) -> Value {
        let mut enterprise = json!({
            "employeeNumber": format!("{i}"),
            "department": format!("Department {}", i % 50),
            "costCenter": format!("CC-{}", i % 20),
            "organization": "Bench Corp",
        });
        // Managers are the first user of each block of 100 (when already created).
        if let Some(manager) = self.ids.get(i / 100 * 100).and_then(|c| c.get()) {
            if i % 100 != 0 {
                enterprise["manager"] = json!({ "value": manager });
            }
        }
        json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": self.external_id(i),
            "userName": self.user_name(i),
            "active": true,
            "displayName": format!("Bench User {i}"),
            "title": "Engineer",
            "preferredLanguage": "en-US",
            "name": {
                "formatted": format!("Given{i} Family{i}"),
                "familyName": format!("Family{i}"),
                "givenName": format!("Given{i}"),
            },
            "emails": [{ "primary": true, "type": "work", "value": self.user_name(i) }],
            "phoneNumbers": [
                { "type": "work", "value": format!("+1 555 {:07}", i) },
                { "type": "mobile", "value": format!("+1 556 {:07}", i) },
            ],
            "addresses": [{
                "type": "work",
                "streetAddress": format!("{} Main Street", i % 1000),
                "locality": "Redmond",
                "region": "WA",
                "postalCode": "98052",
                "country": "US",
            }],
            "meta": { "resourceType": "User" },
            ENTERPRISE: enterprise,
        })
    }
}

fn check_id(body: &Value, expected: &str) -> BenchResult<()> {
    match body.get("id").and_then(Value::as_str) {
        Some(id) if id == expected => Ok(()),
        other => Err(fail(format!("id {other:?}, expected {expected}"))),
    }
}

/// A list answer must hold exactly the one resource `expected`.
fn check_single(body: &Value, expected: &str) -> BenchResult<()> {
    if body.get("totalResults").and_then(Value::as_u64) != Some(1) {
        return Err(fail(format!(
            "totalResults {:?}, expected 1",
            body.get("totalResults")
        )));
    }
    let first = body
        .get("Resources")
        .and_then(|r| r.get(0))
        .ok_or_else(|| fail("no Resources"))?;
    check_id(first, expected)
}

fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

/// Runs the planned phases against `scim`, returning one result per row.
pub async fn run(scim: Scim, plan: &Plan) -> Vec<PhaseResult> {
    let ctx = Arc::new(Ctx {
        scim,
        prefix: plan.prefix.clone(),
        ids: (0..plan.users).map(|_| OnceLock::new()).collect(),
        group: OnceLock::new(),
        rfc_shapes: plan.rfc_shapes,
    });
    let (n, c, limit, probe) = (plan.users, plan.concurrency, plan.phase_limit, plan.probe);
    let mut out = Vec::new();
    // Phase 1 creates the users every later phase uses: it is never cut short.
    let wants = |p: u8| plan.phases.contains(&p);

    if wants(1) {
        eprintln!("phase 1: initial sync of {n} users");
        out.push(
            phase::run("1 sync: lookup + create", n, c, BUILD_LIMIT, probe, {
                let ctx = ctx.clone();
                move |i, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let filter = encode(&format!("userName eq \"{}\"", ctx.user_name(i)));
                        let found = ctx
                            .scim
                            .send(&rec, Method::GET, &format!("/Users?filter={filter}"), None)
                            .await?
                            .expect(&[200])?
                            .json()?;
                        if found.get("totalResults").and_then(Value::as_u64) != Some(0) {
                            return Err(fail("lookup before create found a user"));
                        }
                        let created = ctx
                            .scim
                            .send(&rec, Method::POST, "/Users", Some(&ctx.user_body(i)))
                            .await?
                            .expect(&[201])?
                            .json()?;
                        let id = created
                            .get("id")
                            .and_then(Value::as_str)
                            .ok_or_else(|| fail("created user has no id"))?;
                        if created.get("userName").and_then(Value::as_str)
                            != Some(ctx.user_name(i).as_str())
                        {
                            return Err(fail("created user has another userName"));
                        }
                        let _ = ctx.ids[i].set(id.to_owned());
                        Ok(())
                    }
                }
            })
            .await,
        );
    }

    if wants(2) {
        eprintln!("phase 2: lookups");
        for (name, by_external) in [
            ("2a lookup by userName", false),
            ("2b lookup by externalId", true),
        ] {
            out.push(
                phase::run(name, n, c, limit, probe, {
                    let ctx = ctx.clone();
                    move |i, rec| {
                        let ctx = ctx.clone();
                        async move {
                            let id = ctx.id(i)?;
                            let filter = if by_external {
                                format!("externalId eq \"{}\"", ctx.external_id(i))
                            } else {
                                format!("userName eq \"{}\"", ctx.user_name(i))
                            };
                            let path = format!("/Users?filter={}", encode(&filter));
                            let body = ctx.scim.send(&rec, Method::GET, &path, None).await?;
                            check_single(&body.expect(&[200])?.json()?, id)
                        }
                    }
                })
                .await,
            );
        }
        out.push(
            phase::run("2c GET /Users/{id}", n, c, limit, probe, {
                let ctx = ctx.clone();
                move |i, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let id = ctx.id(i)?;
                        let path = format!("/Users/{id}");
                        let body = ctx.scim.send(&rec, Method::GET, &path, None).await?;
                        check_id(&body.expect(&[200])?.json()?, id)
                    }
                }
            })
            .await,
        );
    }

    if wants(3) {
        eprintln!("phase 3: Entra PATCHes");
        out.push(
            phase::run("3 PATCH user (Entra shape)", n, c, limit, probe, {
                let ctx = ctx.clone();
                move |i, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let id = ctx.id(i)?;
                        let manager = ctx.id(i.saturating_sub(1)).unwrap_or(id).to_owned();
                        // Entra sends the manager as a plain id.
                        let manager = if ctx.rfc_shapes {
                            json!({ "value": manager })
                        } else {
                            json!(manager)
                        };
                        let body = patch(json!([
                            { "op": "Replace", "path": "displayName", "value": format!("Bench User {i} (moved)") },
                            { "op": "Replace", "path": "name.familyName", "value": format!("Family{i}b") },
                            { "op": "Replace", "path": "title", "value": "Senior Engineer" },
                            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": ctx.user_name(i) },
                            { "op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Department X" },
                            { "op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager },
                        ]));
                        let path = format!("/Users/{id}");
                        let reply = ctx.scim.send(&rec, Method::PATCH, &path, Some(&body)).await?;
                        let reply = reply.expect(&[200, 204])?;
                        if reply.status.as_u16() == 200 {
                            check_id(&reply.json()?, id)?;
                        }
                        Ok(())
                    }
                }
            })
            .await,
        );
    }

    if wants(4) {
        eprintln!("phase 4: a group of {} members", plan.members);
        out.extend(group_phases(&ctx, plan).await);
    }

    if wants(5) {
        eprintln!("phase 5: list all users by pages of 100");
        let created = ctx.created();
        let pages = created.div_ceil(100);
        out.push(
            phase::run(
                "5a list, startIndex pages",
                pages,
                c,
                limit,
                probe,
                start_index_page(&ctx, created),
            )
            .await,
        );
        out.push(cursor_phase(&ctx, created, limit, probe).await);
        // What an import that pages by startIndex does (Okta's): one page after the other.
        out.push(
            phase::run(
                "5c list, startIndex walk (C=1)",
                pages,
                1,
                limit,
                probe,
                start_index_page(&ctx, created),
            )
            .await,
        );
    }

    if wants(6) {
        eprintln!("phase 6: deactivate and delete {n} users");
        out.push(
            phase::run("6a deactivate (active \"False\")", n, c, limit, probe, {
                let ctx = ctx.clone();
                move |i, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let id = ctx.id(i)?;
                        let body =
                            patch(json!([{ "op": "Replace", "path": "active", "value": "False" }]));
                        let reply = ctx
                            .scim
                            .send(&rec, Method::PATCH, &format!("/Users/{id}"), Some(&body))
                            .await?
                            .expect(&[200, 204])?;
                        if reply.status.as_u16() == 200 {
                            let user = reply.json()?;
                            check_id(&user, id)?;
                            if user.get("active") != Some(&Value::Bool(false)) {
                                return Err(fail("user still active"));
                            }
                        }
                        Ok(())
                    }
                }
            })
            .await,
        );
        out.push(
            phase::run("6b delete", n, c, limit, probe, {
                let ctx = ctx.clone();
                move |i, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let id = ctx.id(i)?;
                        ctx.scim
                            .send(&rec, Method::DELETE, &format!("/Users/{id}"), None)
                            .await?
                            .expect(&[204])?;
                        Ok(())
                    }
                }
            })
            .await,
        );
    }
    out
}

async fn group_phases(ctx: &Arc<Ctx>, plan: &Plan) -> Vec<PhaseResult> {
    let (c, limit, probe) = (plan.concurrency, plan.phase_limit, plan.probe);
    let m = plan.members.min(plan.users);
    let mut out = Vec::new();
    let rec = Recorder::default();
    let body = json!({
        "schemas": [GROUP],
        "displayName": format!("Bench group {}", ctx.prefix),
        "externalId": format!("grp-{}", ctx.prefix),
    });
    let created = async {
        ctx.scim
            .send(&rec, Method::POST, "/Groups", Some(&body))
            .await?
            .expect(&[201])?
            .json()
    }
    .await;
    let group = match created.and_then(|g| {
        g.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail("created group has no id"))
    }) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("  cannot create the group: {e}");
            return out;
        }
    };
    let _ = ctx.group.set(group);

    out.push(
        phase::run(
            "4a group: add members, 100 per PATCH",
            m.div_ceil(100),
            c,
            // It builds the group phases 4b and 4c use: never cut short.
            BUILD_LIMIT,
            probe,
            {
                let ctx = ctx.clone();
                move |b, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let group = ctx.group.get().ok_or_else(|| fail("no group"))?;
                        let mut members = Vec::with_capacity(100);
                        for i in b * 100..((b + 1) * 100).min(m) {
                            members.push(json!({ "value": ctx.id(i)? }));
                        }
                        let body =
                            patch(json!([{ "op": "Add", "path": "members", "value": members }]));
                        ctx.scim
                            .send(
                                &rec,
                                Method::PATCH,
                                &format!("/Groups/{group}"),
                                Some(&body),
                            )
                            .await?
                            .expect(&[200, 204])?;
                        Ok(())
                    }
                }
            },
        )
        .await,
    );

    // Remove one member then add it back (two requests), on distinct members.
    let pairs = (plan.single_ops / 2).min(m);
    out.push(
        phase::run(
            "4b group: single-member remove/add",
            pairs,
            c,
            limit,
            probe,
            {
                let ctx = ctx.clone();
                move |j, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let group = ctx.group.get().ok_or_else(|| fail("no group"))?;
                        let path = format!("/Groups/{group}");
                        let id = ctx.id(j)?;
                        let member = json!([{ "value": id }]);
                        // Entra removes by a value list; RFC 7644 by a filtered path.
                        let remove = if ctx.rfc_shapes {
                            json!({ "op": "Remove", "path": format!("members[value eq \"{id}\"]") })
                        } else {
                            json!({ "op": "Remove", "path": "members", "value": member })
                        };
                        let add = json!({ "op": "Add", "path": "members", "value": member });
                        for op in [remove, add] {
                            let body = patch(json!([op]));
                            ctx.scim
                                .send(&rec, Method::PATCH, &path, Some(&body))
                                .await?
                                .expect(&[200, 204])?;
                        }
                        Ok(())
                    }
                }
            },
        )
        .await,
    );

    out.push(
        phase::run(
            "4c GET group, excludedAttributes=members",
            plan.single_ops,
            c,
            limit,
            probe,
            {
                let ctx = ctx.clone();
                move |_, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let group = ctx.group.get().ok_or_else(|| fail("no group"))?;
                        let path = format!("/Groups/{group}?excludedAttributes=members");
                        let body = ctx.scim.send(&rec, Method::GET, &path, None).await?;
                        let body = body.expect(&[200])?.json()?;
                        check_id(&body, group)?;
                        if body
                            .get("members")
                            .and_then(Value::as_array)
                            .is_some_and(|a| !a.is_empty())
                        {
                            return Err(fail("members returned despite excludedAttributes"));
                        }
                        Ok(())
                    }
                }
            },
        )
        .await,
    );

    // The group in full: every member, as a client that reads a whole group asks for it. The
    // answer is checked without building a JSON tree of it (at 1M members that would cost the
    // client seconds and gigabytes per GET): the members are counted.
    #[derive(serde::Deserialize)]
    struct Counted {
        id: String,
        #[serde(default)]
        members: Vec<serde::de::IgnoredAny>,
    }
    out.push(
        phase::run(
            "4d GET group with all its members",
            (plan.single_ops / 50).max(1),
            c.min(4),
            limit,
            probe,
            {
                let ctx = ctx.clone();
                move |_, rec| {
                    let ctx = ctx.clone();
                    async move {
                        let group = ctx.group.get().ok_or_else(|| fail("no group"))?;
                        let path = format!("/Groups/{group}");
                        let reply = ctx.scim.send(&rec, Method::GET, &path, None).await?;
                        let reply = reply.expect(&[200])?;
                        let body: Counted = serde_json::from_slice(&reply.body)
                            .map_err(|e| fail(format!("the group is not JSON: {e}")))?;
                        if body.id != *group || body.members.len() != m {
                            return Err(fail(format!(
                                "the group has {} members, expected {m}",
                                body.members.len()
                            )));
                        }
                        Ok(())
                    }
                }
            },
        )
        .await,
    );
    out
}

/// Follows `nextCursor` from `cursor=` to the end (sequential by nature). A server that answers
/// the first page without `nextCursor` although more users exist does not support cursors.
async fn cursor_phase(
    ctx: &Arc<Ctx>,
    created: usize,
    limit: Duration,
    probe: Probe,
) -> PhaseResult {
    const NAME: &str = "5b list, cursor pages (C=1)";
    let probe_rec = Recorder::default();
    let first = ctx
        .scim
        .send(&probe_rec, Method::GET, "/Users?count=100&cursor=", None)
        .await;
    let supported = match first {
        Ok(r) if r.status.as_u16() == 200 => r
            .json()
            .map(|b| b.get("nextCursor").is_some() || created <= 100)
            .unwrap_or(false),
        _ => false,
    };
    if !supported {
        eprintln!("  {NAME}: not supported by this server");
        return PhaseResult::unsupported(NAME);
    }
    let max_pages = created / 100 + 2;
    phase::run(NAME, 1, 1, limit, probe, {
        let ctx = ctx.clone();
        move |_, rec| {
            let ctx = ctx.clone();
            async move {
                let started = Instant::now();
                let mut cursor = String::new();
                let mut seen = 0usize;
                for _ in 0..max_pages {
                    if started.elapsed() > limit {
                        return Err(fail("cursor paging hit the phase time limit"));
                    }
                    let path = format!("/Users?count=100&cursor={}", encode(&cursor));
                    let body = ctx.scim.send(&rec, Method::GET, &path, None).await?;
                    let body = body.expect(&[200])?.json()?;
                    seen += body
                        .get("Resources")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    match body.get("nextCursor").and_then(Value::as_str) {
                        Some(next) if !next.is_empty() => cursor = next.to_owned(),
                        _ => break,
                    }
                }
                if seen == created {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "cursor paging saw {seen} users, expected {created}"
                    )))
                }
            }
        }
    })
    .await
}

/// Request `p`: the `p`-th `startIndex` page of 100 users, checked for its total and its size.
fn start_index_page(
    ctx: &Arc<Ctx>,
    created: usize,
) -> impl Fn(
    usize,
    Arc<Recorder>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = BenchResult<()>> + Send>>
       + Send
       + Sync
       + 'static {
    let ctx = ctx.clone();
    move |p, rec| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let path = format!("/Users?startIndex={}&count=100", p * 100 + 1);
            let body = ctx.scim.send(&rec, Method::GET, &path, None).await?;
            let body = body.expect(&[200])?.json()?;
            let total = body.get("totalResults").and_then(Value::as_u64);
            if total != Some(created as u64) {
                return Err(fail(format!("totalResults {total:?}, expected {created}")));
            }
            let got = body
                .get("Resources")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let want = (created - p * 100).min(100);
            if got != want {
                return Err(fail(format!("page {p}: {got} resources, expected {want}")));
            }
            Ok(())
        })
    }
}
