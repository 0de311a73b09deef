//! The read-only directory pages: what the identity provider sent. Users and groups, searched
//! by `userName`/`displayName`, a user with its groups, a group with its members paged (the
//! page costs what it shows, whatever the group's size). Directory data is personal data: every
//! page asks for `tenant.directory:read`, which `*` includes. Markup through maud templates
//! (every value escaped).

use actix_web::{web, HttpResponse};
use scim_auth::admin::DirectoryRead;
use scim_filter_parser::{AttrPath, CompValue, CompareOp, Filter};
use scim_model::{list::Paging, schema::SchemaRegistry, Resource, ResourceKind};
use scim_store::{ListQuery, Pagination, SortOrder, Store};
use serde_json::Value;

use maud::{html, Markup};

use crate::{
    html::{self, url_enc, when, Nav},
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
fn search_form(ctx: &Ctx, action: &str, label: &str, q: &str) -> Markup {
    html! {
        form.search method="get" action=(action) role="search" {
            label for="q" { (label) }
            " "
            input type="search" id="q" name="q" value=(q) maxlength=(MAX_SEARCH);
            " "
            button.btn type="submit" { (T::Search.get(ctx.lang)) }
        }
    }
}

/// Previous/next links of a list page.
fn pager(ctx: &Ctx, base: &str, q: &str, page: u64, total: u64) -> Markup {
    let l = ctx.lang;
    let pages = total.div_ceil(PAGE).max(1);
    let link = |p: u64| {
        if q.is_empty() {
            format!("{base}?page={p}")
        } else {
            format!("{base}?q={}&page={p}", url_enc(q))
        }
    };
    html! {
        nav.pager aria-label=(T::Page.get(l)) {
            span { (T::Page.get(l)) " " (page) " / " (pages) }
            @if page > 1 { " " a href=(link(page - 1)) rel="prev" { (T::Previous.get(l)) } }
            @if page < pages { " " a href=(link(page + 1)) rel="next" { (T::Next.get(l)) } }
        }
    }
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

/// Where a member's own page is.
fn member_page(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "/console/users/",
        ResourceKind::Group => "/console/groups/",
    }
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
    let body = html! {
        (search_form(&ctx, "/console/users", T::SearchUsers.get(l), &q))
        p.count { (T::Found.get(l).replace("{n}", &found.total.to_string())) }
        @if found.items.is_empty() {
            p.empty { (T::NoUsers.get(l)) }
        } @else {
            div.table-wrap { table.directory {
                thead { tr {
                    th scope="col" { "userName" } th scope="col" { "displayName" }
                    th scope="col" { "externalId" } th scope="col" { (T::Active.get(l)) }
                    th scope="col" { (T::LastModified.get(l)) }
                } }
                tbody { @for u in &found.items { tr {
                    td { a href={ "/console/users/" (url_enc(&u.id)) } { (text_attr(u, "userName")) } }
                    td { (text_attr(u, "displayName")) }
                    td { code { (text_attr(u, "externalId")) } }
                    td { @if u.attributes.get("active").and_then(Value::as_bool) == Some(false) {
                        (T::No.get(l)) } @else { (T::Yes.get(l)) } }
                    td { (when(u.last_modified)) }
                } } }
            } }
        }
        (pager(&ctx, "/console/users", &q, page, found.total))
    };
    Ok(ok_html(html::page(
        &ctx,
        Nav::Users,
        T::Users.get(l),
        None,
        body,
    )))
}

/// The attributes of a resource as a definition list (scalars) and the whole of it as JSON,
/// without a password (only a hash is ever stored; it is not shown either).
fn attributes(ctx: &Ctx, res: &Resource) -> Markup {
    let l = ctx.lang;
    let mut all = res.attributes.clone();
    all.remove("password");
    let json = serde_json::to_string_pretty(&Value::Object(all.clone())).unwrap_or_default();
    html! {
        section.card aria-labelledby="attrs-title" {
            h2 #attrs-title { (T::Attributes.get(l)) }
            dl.attributes {
                dt { "id" } dd { code { (res.id) } }
                dt { (T::Created.get(l)) } dd { (when(res.created)) }
                dt { (T::LastModified.get(l)) } dd { (when(res.last_modified)) }
                @for (name, value) in &all {
                    @match value {
                        Value::String(s) => { dt { (name) } dd { (s) } }
                        Value::Bool(b) => { dt { (name) } dd { (b) } }
                        Value::Number(n) => { dt { (name) } dd { (n.to_string()) } }
                        _ => {}
                    }
                }
            }
            details {
                summary { (T::AsSent.get(l)) }
                pre.json { (json) }
            }
        }
    }
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
    let groups = user.groups.clone().unwrap_or_default();
    let body = html! {
        (attributes(&ctx, &user))
        section.card aria-labelledby="groups-title" {
            h2 #groups-title { (T::Groups.get(l)) " (" (groups.len()) ")" }
            @if groups.is_empty() {
                p.empty { (T::NoGroupsOfUser.get(l)) }
            } @else {
                ul.memberships { @for g in &groups {
                    li { a href={ "/console/groups/" (url_enc(&g.value)) } {
                        (g.display.as_deref().unwrap_or(&g.value)) } }
                } }
            }
        }
    };
    let title = text_attr(&user, "userName").to_owned();
    Ok(ok_html(html::page(&ctx, Nav::Users, &title, None, body)))
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
    let body = html! {
        (search_form(&ctx, "/console/groups", T::SearchGroups.get(l), &q))
        p.count { (T::Found.get(l).replace("{n}", &found.total.to_string())) }
        @if found.items.is_empty() {
            p.empty { (T::NoGroups.get(l)) }
        } @else {
            div.table-wrap { table.directory {
                thead { tr {
                    th scope="col" { "displayName" } th scope="col" { "externalId" }
                    th scope="col" { (T::LastModified.get(l)) }
                } }
                tbody { @for g in &found.items { tr {
                    td { a href={ "/console/groups/" (url_enc(&g.id)) } { (text_attr(g, "displayName")) } }
                    td { code { (text_attr(g, "externalId")) } }
                    td { (when(g.last_modified)) }
                } } }
            } }
        }
        (pager(&ctx, "/console/groups", &q, page, found.total))
    };
    Ok(ok_html(html::page(
        &ctx,
        Nav::Groups,
        T::Groups.get(l),
        None,
        body,
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
    let next = (members.len() as u64 == PAGE)
        .then(|| members.last())
        .flatten()
        .map(|last| {
            format!(
                "/console/groups/{}?after={}",
                url_enc(&group.id),
                url_enc(&last.id)
            )
        });
    let body = html! {
        (attributes(&ctx, &group))
        section.card aria-labelledby="members-title" {
            h2 #members-title { (T::Members.get(l)) " (" (count) ")" }
            @if members.is_empty() {
                p.empty { (T::NoMembers.get(l)) }
            } @else {
                div.table-wrap { table.directory {
                    thead { tr {
                        th scope="col" { (T::Name.get(l)) } th scope="col" { (T::Kind.get(l)) }
                        th scope="col" { "id" }
                    } }
                    tbody { @for m in &members { tr {
                        td { a href={ (member_page(m.kind)) (url_enc(&m.id)) } { (m.name) } }
                        td { (m.kind.name()) }
                        td { code { (m.id) } }
                    } } }
                } }
            }
            nav.pager aria-label=(T::Page.get(l)) {
                @if after.is_some() {
                    a href={ "/console/groups/" (url_enc(&group.id)) } { (T::First.get(l)) } " "
                }
                @if let Some(next) = &next {
                    a href=(next) rel="next" { (T::Next.get(l)) }
                }
            }
        }
    };
    let title = text_attr(&group, "displayName").to_owned();
    Ok(ok_html(html::page(&ctx, Nav::Groups, &title, None, body)))
}
