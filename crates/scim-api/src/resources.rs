//! `/Users` and `/Groups`: thin handlers over the store, one per verb and resource type.

use actix_web::{
    http::{header, StatusCode},
    web::{self, Bytes},
    HttpRequest, HttpResponse,
};
use chrono::Utc;
use futures_util::StreamExt;
use scim_model::list::Paging;
use scim_model::{
    list::list_response,
    member_json::{split_members, MemberWriter, MembersSplit, MEMBERS_TAIL},
    projection::Projection,
    render::{location, render},
    MemberRef, Resource, ResourceKind, ScimError,
};
use scim_service::{activity, PatchRelations};
use scim_store::{Pagination, StoreError};

use crate::{
    body::ScimJson,
    conditional::{if_match, if_none_match},
    error::ScimApiError,
    query::{ListParams, QueryParams},
    ScimCaller, ScimState, SCIM_JSON,
};

type ApiResult = Result<HttpResponse, ScimApiError>;

/// A single resource, projected, with `ETag`.
fn resource_response(
    status: StatusCode,
    state: &ScimState,
    caller: &ScimCaller,
    req: &HttpRequest,
    res: &Resource,
    projection: &Projection,
) -> HttpResponse {
    let base = state.base_url(req);
    let registry = caller.registry();
    let body = projection.apply(registry, res.kind, render(registry, res, &base));
    let mut builder = HttpResponse::build(status);
    builder
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, res.etag()));
    if status == StatusCode::CREATED {
        builder.insert_header((header::LOCATION, location(&base, res.kind, &res.id)));
    }
    builder.json(body)
}

fn projection_of(req: &HttpRequest) -> Result<Projection, ScimApiError> {
    let params = QueryParams::parse(req.query_string())?;
    Ok(Projection::parse(
        params.get("attributes"),
        params.get("excludedAttributes"),
    )?)
}

fn relations(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    }
}

fn wants_minimal(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
        })
}

/// `POST /Users`, `POST /Groups`: create; `201` with `Location` and `ETag`.
pub async fn create_resource(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    body: ScimJson,
) -> ApiResult {
    let body = body.value()?;
    let note = principal.note();
    note.resource(**kind, None);
    note.summary(activity::summarize_create(**kind, &body));
    let projection = projection_of(&req)?;
    let res = principal
        .writer(&state)
        .create(**kind, &body, Utc::now())
        .await?;
    note.resource(**kind, Some(&res.id));
    Ok(resource_response(
        StatusCode::CREATED,
        &state,
        &principal,
        &req,
        &res,
        &projection,
    ))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`; `304` when `If-None-Match` names the current version.
pub async fn get_resource(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult {
    let kind = **kind;
    let projection = projection_of(&req)?;
    let with_relations = projection.returns(kind, relations(kind));
    if kind == ResourceKind::Group && with_relations {
        return get_group_in_full(&state, &principal, &req, &id, &projection).await;
    }
    let res = state
        .store
        .get_resource(&principal.tenant, kind, &id, with_relations)
        .await?;
    if if_none_match(&req, res.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, res.etag()))
            .finish());
    }
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &principal,
        &req,
        &res,
        &projection,
    ))
}

/// A group with its members: read from one snapshot and written chunk by chunk, so that a
/// group of a million members is answered in constant memory, its first bytes leaving before
/// its last members are read. A group whose members fit in one chunk is answered whole (with
/// `Content-Length`).
async fn get_group_in_full(
    state: &ScimState,
    principal: &ScimCaller,
    req: &HttpRequest,
    id: &str,
    projection: &Projection,
) -> ApiResult {
    let (res, mut chunks) = state
        .store
        .get_group_with_member_chunks(&principal.tenant, id)
        .await?;
    if if_none_match(req, res.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, res.etag()))
            .finish());
    }
    let base = state.base_url(req);
    let split = split_members(principal.registry(), &res, &base, projection);
    let (Some(split), Some(first)) = (split, chunks.next_chunk().await?) else {
        // No member to show: the group as any other resource.
        return Ok(resource_response(
            StatusCode::OK,
            state,
            principal,
            req,
            &res,
            projection,
        ));
    };
    let MembersSplit { mut head, writer } = split;
    write_members(&writer, &mut head, &first, true);
    let mut ok = HttpResponse::Ok();
    ok.content_type(SCIM_JSON)
        .insert_header((header::ETAG, res.etag()));
    if chunks.is_done() {
        head.extend_from_slice(MEMBERS_TAIL);
        return Ok(ok.body(head));
    }
    let rest = futures_util::stream::unfold(Some(chunks), move |chunks| {
        let writer = writer.clone();
        async move {
            let mut chunks = chunks?;
            match chunks.next_chunk().await {
                Ok(Some(members)) => {
                    let mut bytes = Vec::with_capacity(members.len() * 128);
                    write_members(&writer, &mut bytes, &members, false);
                    Some((Ok(Bytes::from(bytes)), Some(chunks)))
                }
                Ok(None) => Some((Ok(Bytes::from_static(MEMBERS_TAIL)), None)),
                Err(e) => {
                    // The status is sent: the answer can only stop short (the client sees a
                    // truncated body, never a complete-looking partial list).
                    tracing::error!(error = %e, "reading a streamed group's members failed");
                    Some((Err(e), None))
                }
            }
        }
    });
    let first = futures_util::stream::once(async move { Ok::<_, StoreError>(Bytes::from(head)) });
    Ok(ok.streaming(first.chain(rest)))
}

fn write_members(writer: &MemberWriter, out: &mut Vec<u8>, members: &[MemberRef], first: bool) {
    for (i, m) in members.iter().enumerate() {
        writer.write(out, m, first && i == 0);
    }
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`: replace every writable attribute (`If-Match`
/// honoured).
pub async fn replace_resource(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimJson,
) -> ApiResult {
    let body = body.value()?;
    principal
        .note()
        .summary(activity::summarize_replace(**kind, &body));
    let projection = projection_of(&req)?;
    let res = principal
        .writer(&state)
        .replace(**kind, &id, if_match(&req), &body, Utc::now())
        .await?;
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &principal,
        &req,
        &res,
        &projection,
    ))
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`: `204` (`If-Match` honoured).
pub async fn delete_resource(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult {
    principal
        .writer(&state)
        .delete(**kind, &id, if_match(&req), Utc::now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}` (RFC 7644 §3.5.2): all operations or none,
/// applied while the resource is locked, so that concurrent PATCHes are serialised.
///
/// Users answer `200` with the resource. Groups answer `200` with the group while it has at
/// most `group_patch_member_limit` members or when `attributes`/`excludedAttributes` say what
/// to return, else `204`, so that a large member list is never serialised by accident.
/// `Prefer: return=minimal` gives `204` for both.
pub async fn patch_resource(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    id: web::Path<String>,
    body: ScimJson,
) -> ApiResult {
    let body = body.value()?;
    let kind = **kind;
    principal.note().summary(activity::summarize_patch(&body));
    let projection = projection_of(&req)?;
    let minimal = wants_minimal(&req);
    // The relations the answer shows are read in the PATCH's transaction, never after it; a
    // group's members only while the group is small enough to be answered with them.
    let wanted = match (minimal, projection.returns(kind, relations(kind))) {
        (true, _) | (false, false) => PatchRelations::None,
        (false, true) if kind == ResourceKind::Group && projection.is_default() => {
            PatchRelations::UpTo(state.group_patch_member_limit)
        }
        (false, true) => PatchRelations::All,
    };
    let patched = principal
        .writer(&state)
        .patch(kind, &id, if_match(&req), &body, wanted, Utc::now())
        .await?;
    let large = patched.member_count > state.group_patch_member_limit;
    if minimal || (kind == ResourceKind::Group && large && projection.is_default()) {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, patched.resource.etag()))
            .finish());
    }
    let res = patched.resource;
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &principal,
        &req,
        &res,
        &projection,
    ))
}

/// `GET /Users`, `GET /Groups`: filter, sort and page (index or cursor).
pub async fn list_resources(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
) -> ApiResult {
    let params = QueryParams::parse(req.query_string())?;
    let list = ListParams::from_query(&params, &state)?;
    search(**kind, &state, &principal, &req, &list).await
}

/// `POST /Users/.search`, `POST /Groups/.search` (RFC 7644 §3.4.3).
pub async fn search_resources(
    kind: web::Data<ResourceKind>,
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    body: ScimJson,
) -> ApiResult {
    let body = body.value()?;
    note_search(&principal, kind.name(), &body);
    let list = ListParams::from_search_body(&body, &state)?;
    search(**kind, &state, &principal, &req, &list).await
}

/// `POST /.search` at the root: Users, then Groups, paged as one list. A filter that names an
/// attribute one type does not have matches nothing of that type (it is an error only when
/// neither type can evaluate it). Cursor paging is offered per resource type only.
pub async fn search_all(
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    body: ScimJson,
) -> ApiResult {
    let body = body.value()?;
    note_search(&principal, "all", &body);
    let list = ListParams::from_search_body(&body, &state)?;
    let Pagination::Index(paging) = list.pagination.clone() else {
        return Err(ScimError::invalid_value(
            "Cursor paging is available on /Users/.search and /Groups/.search",
        )
        .into());
    };
    let base = state.base_url(&req);
    let (mut total, mut skip, mut room) = (0u64, paging.offset(), paging.count);
    let mut resources = Vec::new();
    let (mut refused, mut refusals) = (None, 0);
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let mut query = list.query(kind);
        query.pagination = Pagination::Index(Paging {
            start_index: skip + 1,
            count: room,
        });
        let page = match state
            .store
            .list_resources(&principal.tenant, kind, principal.registry(), &query)
            .await
        {
            Ok(page) => page,
            Err(StoreError::InvalidFilter(msg)) => {
                refused = Some(msg);
                refusals += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        total += page.total;
        skip = skip.saturating_sub(page.total);
        room -= (page.items.len() as u64).min(room);
        resources.extend(page.items.iter().map(|r| {
            let registry = principal.registry();
            list.projection
                .apply(registry, kind, render(registry, r, &base))
        }));
    }
    if let (Some(msg), 2) = (refused, refusals) {
        return Err(StoreError::InvalidFilter(msg).into());
    }
    Ok(HttpResponse::Ok()
        .content_type(SCIM_JSON)
        .json(list_response(total, paging.start_index, resources)))
}

/// Notes a search's filter and summary for the activity record.
fn note_search(principal: &ScimCaller, what: &str, body: &serde_json::Value) {
    let filter = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("filter")))
        .and_then(|(_, v)| v.as_str());
    let note = principal.note();
    if let Some(f) = filter {
        note.filter(f);
    }
    note.summary(format!(
        "search {what}{}",
        filter
            .map(|f| format!(" filter={}", activity::clip(f, 120)))
            .unwrap_or_default()
    ));
}

async fn search(
    kind: ResourceKind,
    state: &ScimState,
    principal: &ScimCaller,
    req: &HttpRequest,
    list: &ListParams,
) -> ApiResult {
    let query = list.query(kind);
    let page = state
        .store
        .list_resources(&principal.tenant, kind, principal.registry(), &query)
        .await?;
    let base = state.base_url(req);
    let resources = page
        .items
        .iter()
        .map(|r| {
            let registry = principal.registry();
            list.projection
                .apply(registry, kind, render(registry, r, &base))
        })
        .collect();
    let mut body = list_response(page.total, list.start_index(), resources);
    if let (Some(obj), Some(next)) = (body.as_object_mut(), page.next_cursor) {
        obj.insert("nextCursor".into(), serde_json::Value::String(next));
    }
    Ok(HttpResponse::Ok().content_type(SCIM_JSON).json(body))
}
