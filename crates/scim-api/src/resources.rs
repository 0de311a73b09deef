//! `/Users` and `/Groups`: thin handlers over the store, one per verb and resource type.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use chrono::Utc;
use scim_model::list::Paging;
use scim_model::{
    list::{list_response, list_response_json},
    projection::Projection,
    render::{location, render_owned, render_stored},
    resource::StoredResource,
    Resource, ResourceKind, SchemaRegistry, ScimError,
};
use scim_service::{activity, PatchRelations};
use scim_store::{Pagination, StoreError};

use crate::{
    body::ScimJson,
    conditional::{if_match, if_none_match},
    error::ScimApiError,
    query::{ListParams, QueryParams},
    streamed, ScimCaller, ScimState, SCIM_JSON,
};

type ApiResult = Result<HttpResponse, ScimApiError>;

/// A single resource, projected, with `ETag`.
fn resource_response(
    status: StatusCode,
    state: &ScimState,
    caller: &ScimCaller,
    req: &HttpRequest,
    res: Resource,
    projection: &Projection,
) -> HttpResponse {
    let base = state.base_url(req);
    let registry = caller.registry();
    let mut builder = HttpResponse::build(status);
    builder
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, res.etag()));
    if status == StatusCode::CREATED {
        builder.insert_header((header::LOCATION, location(&base, res.kind, &res.id)));
    }
    let kind = res.kind;
    builder.json(projection.apply(registry, kind, render_owned(registry, res, &base)))
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
        res,
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
        .get_resource_stored(&principal.tenant, kind, &id, with_relations)
        .await?;
    if if_none_match(&req, res.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, res.etag()))
            .finish());
    }
    let etag = res.etag();
    let base = state.base_url(&req);
    let body = stored_json(principal.registry(), &base, res, &projection)?;
    Ok(HttpResponse::Ok()
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, etag))
        .body(body))
}

/// The answer's JSON text for a stored resource: written from the stored text under the
/// default projection, through the value tree under any other.
fn stored_json(
    registry: &SchemaRegistry,
    base: &str,
    res: StoredResource,
    projection: &Projection,
) -> Result<Vec<u8>, ScimApiError> {
    let broken = |e: serde_json::Error| {
        tracing::error!(error = %e, "a stored resource could not be rendered");
        ScimApiError::from(ScimError::internal())
    };
    if projection.is_default() {
        return render_stored(registry, &res, base).map_err(broken);
    }
    let kind = res.kind;
    let res = res.into_resource().map_err(broken)?;
    serde_json::to_vec(&projection.apply(registry, kind, render_owned(registry, res, base)))
        .map_err(broken)
}

/// A group with its members, read from one snapshot and written as they are read (see
/// [`streamed`]): a group of a million members is answered in constant memory.
async fn get_group_in_full(
    state: &ScimState,
    principal: &ScimCaller,
    req: &HttpRequest,
    id: &str,
    projection: &Projection,
) -> ApiResult {
    let (res, chunks) = state
        .store
        .get_group_with_member_chunks(&principal.tenant, id)
        .await?;
    if if_none_match(req, res.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, res.etag()))
            .finish());
    }
    let base = state.base_url(req);
    let group = streamed::GroupParts::of(principal.registry(), &res, &base, projection);
    Ok(streamed::answer(chunks, vec![group], Vec::new(), b"", Some(res.etag())).await?)
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
        res,
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
        res,
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
    if let Some(filter) = params.get("filter") {
        // Noted here, the activity record need not decode the query again.
        principal.note().filter(filter);
    }
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
        resources.extend(page.items.into_iter().map(|r| {
            let registry = principal.registry();
            list.projection
                .apply(registry, kind, render_owned(registry, r, &base))
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
    // Both awaits are boxed: inlined, their states made this handler's future ~10 KB, which
    // actix moves into its box on every list request (callgrind: ~9,500 instructions of
    // `memcpy` per lookup).
    if kind == ResourceKind::Group && query.with_relations {
        return Box::pin(search_groups_in_full(state, principal, req, list, &query)).await;
    }
    let page = Box::pin(state.store.list_resources_stored(
        &principal.tenant,
        kind,
        principal.registry(),
        &query,
    ))
    .await?;
    let base = state.base_url(req);
    let resources = page
        .items
        .into_iter()
        .map(|r| stored_json(principal.registry(), &base, r, &list.projection))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok()
        .content_type(SCIM_JSON)
        .body(list_response_json(
            page.total,
            list.start_index(),
            &resources,
            page.next_cursor.as_deref(),
        )))
}

/// A page of groups with their members, read from one snapshot and written as they are read
/// (see [`streamed`]).
async fn search_groups_in_full(
    state: &ScimState,
    principal: &ScimCaller,
    req: &HttpRequest,
    list: &ListParams,
    query: &scim_store::ListQuery<'_>,
) -> ApiResult {
    let registry = principal.registry();
    let (page, chunks) = state
        .store
        .list_groups_with_member_chunks(&principal.tenant, registry, query)
        .await?;
    let base = state.base_url(req);
    let groups: Vec<_> = page
        .items
        .iter()
        .map(|r| streamed::GroupParts::of(registry, r, &base, &list.projection))
        .collect();
    let mut envelope = list_response(page.total, list.start_index(), Vec::new());
    if let Some(obj) = envelope.as_object_mut() {
        obj.insert("itemsPerPage".into(), groups.len().into());
        obj.remove("Resources");
        if let Some(next) = page.next_cursor {
            obj.insert("nextCursor".into(), serde_json::Value::String(next));
        }
    }
    let mut prefix = serde_json::to_vec(&envelope).map_err(|_| ScimError::internal())?;
    prefix.pop(); // the closing brace
    prefix.extend_from_slice(br#","Resources":["#);
    Ok(streamed::answer(chunks, groups, prefix, b"]}", None).await?)
}
