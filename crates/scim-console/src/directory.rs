//! The read-only directory pages: what the identity provider sent. Users and groups, searched
//! by `userName`/`displayName`, a user with its groups, a group with its members paged (the
//! page costs what it shows, whatever the group's size). Directory data is personal data: every
//! page asks for `tenant.directory:read`, which `*` includes.

use actix_web::{web, HttpResponse};
use scim_auth::admin::DirectoryRead;
use scim_filter_parser::{AttrPath, CompValue, CompareOp, Filter};
use scim_model::{list::Paging, schema::SchemaRegistry, Resource, ResourceKind};
use scim_store::{ListQuery, Pagination, SortOrder, Store};
use serde_json::Value;

use crate::{
    html::{self, esc, url_enc, when, Nav},
    session::{ConsoleError, Ctx},
    text::T,
};

/// Rows per page of a list, members per page of a group.
const PAGE: u64 = 50;
/// Longest search text taken (longer is cut, never an error).
const MAX_SEARCH: usize = 256;

type Query = web::Query<std::collections::HashMap<String, String>>;

fn ok_html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The search text of `?q=`, trimmed and bounded.
fn search_text(query: &Query) -> String {
    let q = query.get("q").map(|q| q.trim()).unwrap_or_default();
    q.chars().filter(|c| *c != '\0').take(MAX_SEARCH).collect()
}

/// The 1-based page of `?page=`, 1 when absent or out of range.
fn page_number(query: &Query) -> u64 {
    query
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| {
            *p >= 1
                && p.checked_mul(PAGE)
                    .is_some_and(|o| i64::try_from(o).is_ok())
        })
        .unwrap_or(1)
}

fn contains(attribute: &str, text: &str) -> Filter {
    Filter::Compare {
        path: AttrPath::new(attribute),
        op: CompareOp::Co,
        value: CompValue::String(text.to_owned()),
    }
}

/// The search form of a list page.
fn search_form(ctx: &Ctx, action: &str, label: &str, q: &str) -> String {
    let l = ctx.lang;
    format!(
        r#"<form method="get" action="{action}" class="search" role="search"><label for="q">{label}</label> <input type="search" id="q" name="q" value="{q}" maxlength="{MAX_SEARCH}"> <button type="submit" class="btn">{search}</button></form>"#,
        label = esc(label),
        q = esc(q),
        search = T::Search.get(l),
    )
}

/// Previous/next links of a list page.
fn pager(ctx: &Ctx, base: &str, q: &str, page: u64, total: u64) -> String {
    let l = ctx.lang;
    let pages = total.div_ceil(PAGE).max(1);
    let link = |p: u64| {
        if q.is_empty() {
            format!("{base}?page={p}")
        } else {
            format!("{base}?q={}&amp;page={p}", url_enc(q))
        }
    };
    let mut nav = format!(
        r#"<nav class="pager" aria-label="{}"><span>{} {page} / {pages}</span>"#,
        T::Page.get(l),
        T::Page.get(l)
    );
    if page > 1 {
        nav.push_str(&format!(
            r#" <a href="{}" rel="prev">{}</a>"#,
            link(page - 1),
            T::Previous.get(l)
        ));
    }
    if page < pages {
        nav.push_str(&format!(
            r#" <a href="{}" rel="next">{}</a>"#,
            link(page + 1),
            T::Next.get(l)
        ));
    }
    nav.push_str("</nav>");
    nav
}

/// One page of `kind` matching `filter`, sorted by `sort`.
async fn list(
    ctx: &Ctx,
    store: &Store,
    kind: ResourceKind,
    filter: Option<&Filter>,
    sort: &str,
    page: u64,
) -> Result<scim_store::ListPage, ConsoleError> {
    let registry = SchemaRegistry::core().map_err(|_| ConsoleError::Unavailable(ctx.lang))?;
    let sort = AttrPath::new(sort);
    let query = ListQuery {
        filter,
        sort: Some((&sort, SortOrder::Ascending)),
        pagination: Pagination::Index(Paging {
            start_index: (page - 1) * PAGE + 1,
            count: PAGE,
        }),
        with_relations: false,
    };
    store
        .list_resources(&ctx.tenant, kind, &registry, &query)
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

fn text_attr<'a>(res: &'a Resource, name: &str) -> &'a str {
    res.attributes
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `GET /console/users?q=&page=`: users whose `userName` or `displayName` contains `q`.
pub async fn list_users(
    ctx: Ctx,
    store: web::Data<Store>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<DirectoryRead>()?;
    let l = ctx.lang;
    let q = search_text(&query);
    let page = page_number(&query);
    let filter =
        (!q.is_empty()).then(|| Filter::or(contains("userName", &q), contains("displayName", &q)));
    let found = list(
        &ctx,
        &store,
        ResourceKind::User,
        filter.as_ref(),
        "userName",
        page,
    )
    .await?;
    let mut body = search_form(&ctx, "/console/users", T::SearchUsers.get(l), &q);
    body.push_str(&format!(
        r#"<p class="count">{}</p>"#,
        T::Found.get(l).replace("{n}", &found.total.to_string())
    ));
    if found.items.is_empty() {
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, T::NoUsers.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table class="directory"><thead><tr><th scope="col">userName</th><th scope="col">displayName</th><th scope="col">externalId</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            T::Active.get(l),
            T::LastModified.get(l),
        ));
        for u in &found.items {
            let active = u.attributes.get("active").and_then(Value::as_bool);
            body.push_str(&format!(
                r#"<tr><td><a href="/console/users/{}">{}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>"#,
                url_enc(&u.id),
                esc(text_attr(u, "userName")),
                esc(text_attr(u, "displayName")),
                esc(text_attr(u, "externalId")),
                match active {
                    Some(false) => T::No.get(l),
                    _ => T::Yes.get(l),
                },
                when(u.last_modified),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(&pager(&ctx, "/console/users", &q, page, found.total));
    Ok(ok_html(html::page(
        &ctx,
        Nav::Users,
        T::Users.get(l),
        None,
        &body,
    )))
}

/// The attributes of a resource as a definition list (scalars) and the whole of it as JSON,
/// without a password (only a hash is ever stored; it is not shown either).
fn attributes(ctx: &Ctx, res: &Resource) -> String {
    let l = ctx.lang;
    let mut dl = String::from(r#"<dl class="attributes">"#);
    dl.push_str(&format!(
        "<dt>id</dt><dd><code>{}</code></dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
        esc(&res.id),
        T::Created.get(l),
        when(res.created),
        T::LastModified.get(l),
        when(res.last_modified),
    ));
    for (name, value) in &res.attributes {
        let shown = match value {
            Value::String(s) => esc(s),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if name == "password" {
            continue;
        }
        dl.push_str(&format!("<dt>{}</dt><dd>{shown}</dd>", esc(name)));
    }
    dl.push_str("</dl>");
    let mut all = res.attributes.clone();
    all.remove("password");
    let json = serde_json::to_string_pretty(&Value::Object(all)).unwrap_or_default();
    format!(
        r#"<section class="card" aria-labelledby="attrs-title"><h2 id="attrs-title">{}</h2>{dl}<details><summary>{}</summary><pre class="json">{}</pre></details></section>"#,
        T::Attributes.get(l),
        T::AsSent.get(l),
        esc(&json),
    )
}

/// `GET /console/users/{id}`: one user, its attributes and its groups.
pub async fn show_user(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<DirectoryRead>()?;
    let l = ctx.lang;
    let user = store
        .get_resource(&ctx.tenant, ResourceKind::User, &path, true)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let mut body = attributes(&ctx, &user);
    let groups = user.groups.clone().unwrap_or_default();
    body.push_str(&format!(
        r#"<section class="card" aria-labelledby="groups-title"><h2 id="groups-title">{} ({})</h2>"#,
        T::Groups.get(l),
        groups.len()
    ));
    if groups.is_empty() {
        body.push_str(&format!(
            r#"<p class="empty">{}</p>"#,
            T::NoGroupsOfUser.get(l)
        ));
    } else {
        body.push_str(r#"<ul class="memberships">"#);
        for g in &groups {
            body.push_str(&format!(
                r#"<li><a href="/console/groups/{}">{}</a></li>"#,
                url_enc(&g.value),
                esc(g.display.as_deref().unwrap_or(&g.value)),
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("</section>");
    let title = text_attr(&user, "userName").to_owned();
    Ok(ok_html(html::page(&ctx, Nav::Users, &title, None, &body)))
}

/// `GET /console/groups?q=&page=`: groups whose `displayName` contains `q`.
pub async fn list_groups(
    ctx: Ctx,
    store: web::Data<Store>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<DirectoryRead>()?;
    let l = ctx.lang;
    let q = search_text(&query);
    let page = page_number(&query);
    let filter = (!q.is_empty()).then(|| contains("displayName", &q));
    let found = list(
        &ctx,
        &store,
        ResourceKind::Group,
        filter.as_ref(),
        "displayName",
        page,
    )
    .await?;
    let mut body = search_form(&ctx, "/console/groups", T::SearchGroups.get(l), &q);
    body.push_str(&format!(
        r#"<p class="count">{}</p>"#,
        T::Found.get(l).replace("{n}", &found.total.to_string())
    ));
    if found.items.is_empty() {
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, T::NoGroups.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table class="directory"><thead><tr><th scope="col">displayName</th><th scope="col">externalId</th><th scope="col">{}</th></tr></thead><tbody>"#,
            T::LastModified.get(l),
        ));
        for g in &found.items {
            body.push_str(&format!(
                r#"<tr><td><a href="/console/groups/{}">{}</a></td><td><code>{}</code></td><td>{}</td></tr>"#,
                url_enc(&g.id),
                esc(text_attr(g, "displayName")),
                esc(text_attr(g, "externalId")),
                when(g.last_modified),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(&pager(&ctx, "/console/groups", &q, page, found.total));
    Ok(ok_html(html::page(
        &ctx,
        Nav::Groups,
        T::Groups.get(l),
        None,
        &body,
    )))
}

/// `GET /console/groups/{id}?after=`: one group and a page of its members, in id order.
pub async fn show_group(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<DirectoryRead>()?;
    let l = ctx.lang;
    let group = store
        .get_resource(&ctx.tenant, ResourceKind::Group, &path, false)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let after = query
        .get("after")
        .map(String::as_str)
        .filter(|a| !a.is_empty());
    let (count, members) = store
        .group_members_page(&ctx.tenant, &group.id, after, PAGE)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let mut body = attributes(&ctx, &group);
    body.push_str(&format!(
        r#"<section class="card" aria-labelledby="members-title"><h2 id="members-title">{} ({count})</h2>"#,
        T::Members.get(l),
    ));
    if members.is_empty() {
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, T::NoMembers.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table class="directory"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">id</th></tr></thead><tbody>"#,
            T::Name.get(l),
            T::Kind.get(l),
        ));
        for m in &members {
            let href = match m.kind {
                ResourceKind::User => "/console/users/",
                ResourceKind::Group => "/console/groups/",
            };
            body.push_str(&format!(
                r#"<tr><td><a href="{href}{}">{}</a></td><td>{}</td><td><code>{}</code></td></tr>"#,
                url_enc(&m.id),
                esc(&m.name),
                m.kind.name(),
                esc(&m.id),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    let mut nav = format!(r#"<nav class="pager" aria-label="{}">"#, T::Page.get(l));
    if after.is_some() {
        nav.push_str(&format!(
            r#"<a href="/console/groups/{}">{}</a> "#,
            url_enc(&group.id),
            T::First.get(l)
        ));
    }
    if let (true, Some(last)) = (members.len() as u64 == PAGE, members.last()) {
        nav.push_str(&format!(
            r#"<a href="/console/groups/{}?after={}" rel="next">{}</a>"#,
            url_enc(&group.id),
            url_enc(&last.id),
            T::Next.get(l)
        ));
    }
    nav.push_str("</nav>");
    body.push_str(&nav);
    body.push_str("</section>");
    let title = text_attr(&group, "displayName").to_owned();
    Ok(ok_html(html::page(&ctx, Nav::Groups, &title, None, &body)))
}
