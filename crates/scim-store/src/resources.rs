//! Kind-generic entry points over the user and group repositories, so that the HTTP layer has
//! one handler per verb rather than one per verb and resource type.

use chrono::{DateTime, Utc};
use scim_filter_parser::{AttrPath, Filter};
use scim_model::{
    list::Paging, resource::StoredResource, schema::SchemaRegistry, Resource, ResourceKind,
    ValidatedResource,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use scim_db::{Prepared, ReadRows, Snapshot};

use crate::cursor::Position;
use crate::events::Capture;
use crate::settings::IgnoredNote;
use crate::stored::{stored_columns, StoredColumns, StoredRow, StoredWithInt, StoredWithText};
use crate::{
    entity::{group, user},
    filter::{Sql, Translator},
    members, Store, StoreError, StoreResult, TenantId,
};

impl Store {
    /// Creates a resource of `kind`, capturing its events when there is a capture.
    pub async fn create_resource(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        match kind {
            ResourceKind::User => self.create_user(tenant, input, notes, capture, now).await,
            ResourceKind::Group => self.create_group(tenant, input, notes, capture, now).await,
        }
    }

    /// Reads a resource of `kind`; `with_relations` loads its members (groups) or groups
    /// (users).
    pub async fn get_resource(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Resource> {
        match kind {
            ResourceKind::User => self.get_user(tenant, id, with_relations).await,
            ResourceKind::Group => self.get_group(tenant, id, with_relations).await,
        }
    }

    /// [`Store::get_resource`] with the attributes left as their stored JSON text (for an
    /// answer written from it, see `scim_model::render::render_stored`).
    pub async fn get_resource_stored(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<StoredResource> {
        match kind {
            ResourceKind::User => self.get_user_stored(tenant, id, with_relations).await,
            ResourceKind::Group => self.get_group_stored(tenant, id, with_relations).await,
        }
    }

    /// Deletes a resource of `kind`, at version `expected` when given, capturing its events
    /// when there is a capture.
    pub async fn delete_resource(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Option<i64>,
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        match kind {
            ResourceKind::User => self.delete_user(tenant, id, expected, capture, now).await,
            ResourceKind::Group => self.delete_group(tenant, id, expected, capture, now).await,
        }
    }

    /// One page of the tenant's resources of `kind` matching the query: filtered, sorted and
    /// counted by the database. Members (groups) or groups (users) are loaded only when the
    /// response will show them.
    pub async fn list_resources(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        registry: &SchemaRegistry,
        query: &ListQuery<'_>,
    ) -> StoreResult<ListPage> {
        self.list_resources_stored(tenant, kind, registry, query)
            .await?
            .parsed()
    }

    /// [`Store::list_resources`] with each resource's attributes left as their stored JSON
    /// text (for an answer written from it, see `scim_model::render::render_stored`).
    #[tracing::instrument(skip_all, fields(tenant = %tenant, kind = kind.name()))]
    pub async fn list_resources_stored(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        registry: &SchemaRegistry,
        query: &ListQuery<'_>,
    ) -> StoreResult<ListPage<StoredResource>> {
        match kind {
            ResourceKind::User => {
                list_page::<user::Entity>(self, tenant, kind, registry, query, None).await
            }
            ResourceKind::Group => {
                list_page::<group::Entity>(self, tenant, kind, registry, query, None).await
            }
        }
    }
}

/// A page of groups, read from `snapshot` when there is one (its members are then left to the
/// caller, see [`crate::MemberChunks`]).
pub(crate) async fn list_groups(
    store: &Store,
    tenant: &TenantId,
    registry: &SchemaRegistry,
    query: &ListQuery<'_>,
    snapshot: Option<&Snapshot>,
) -> StoreResult<ListPage> {
    list_page::<group::Entity>(
        store,
        tenant,
        ResourceKind::Group,
        registry,
        query,
        snapshot,
    )
    .await?
    .parsed()
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest first (missing values last).
    Ascending,
    /// Largest first (missing values last).
    Descending,
}

/// How a list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// RFC 7644 index paging.
    Index(Paging),
    /// RFC 9865 cursor paging: `cursor` is empty for the first page.
    Cursor {
        /// The cursor from the previous page's `nextCursor`, or empty.
        cursor: String,
        /// Page size.
        count: u64,
    },
}

/// What a list request asks for.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    /// The filter, if any.
    pub filter: Option<&'a Filter>,
    /// Sort key and direction.
    pub sort: Option<(&'a AttrPath, SortOrder)>,
    /// Index or cursor paging.
    pub pagination: Pagination,
    /// Load members (groups) or groups (users).
    pub with_relations: bool,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<R = Resource> {
    /// All matches, whatever the page.
    pub total: u64,
    /// This page's resources.
    pub items: Vec<R>,
    /// The cursor of the next page (cursor paging only, when there is one).
    pub next_cursor: Option<String>,
}

impl ListPage<StoredResource> {
    /// The page with each resource's attributes parsed.
    pub fn parsed(self) -> StoreResult<ListPage> {
        let items = self
            .items
            .into_iter()
            .map(|r| Ok(crate::stored::parsed(r)?))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ListPage {
            total: self.total,
            items,
            next_cursor: self.next_cursor,
        })
    }
}

/// What a SCIM list cursor is bound to: the tenant, the resource type, the filter and the
/// sort, in canonical text (a cursor of another query is refused).
fn cursor_binding(tenant: &TenantId, kind: ResourceKind, query: &ListQuery<'_>) -> [String; 5] {
    let filter = query.filter.map(ToString::to_string).unwrap_or_default();
    let sort = match query.sort {
        None => String::new(),
        Some((path, SortOrder::Ascending)) => format!("{path} asc"),
        Some((path, SortOrder::Descending)) => format!("{path} desc"),
    };
    [
        "scim.list".to_owned(),
        tenant.as_str().to_owned(),
        kind.name().to_owned(),
        filter,
        sort,
    ]
}

/// Whether a list is a point lookup: an equality on an attribute with an index of its own
/// (`userName`, `externalId`, `id`, group `displayName`), at the top of the filter or in an
/// `and`, index-paged. Such a list reads a row or two through an index and runs on the
/// caller's thread like any point read; every other list (filtered scans, sorts, cursor pages,
/// whole-tenant pages) and every count runs as a scan ([`scim_db::Db::scan`]). Decided by the
/// query's kind, never by how long it took.
fn is_point_lookup(query: &ListQuery<'_>) -> bool {
    fn indexed_eq(f: &Filter) -> bool {
        match f {
            Filter::Compare {
                path,
                op: scim_filter_parser::CompareOp::Eq,
                ..
            } if path.sub.is_none() => ["userName", "externalId", "id", "displayName"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&path.name)),
            Filter::And(l, r) => indexed_eq(l) || indexed_eq(r),
            _ => false,
        }
    }
    query.sort.is_none()
        && matches!(query.pagination, Pagination::Index(_))
        && query.filter.is_some_and(indexed_eq)
}

/// The prepared text of the commonest lookups, one slot per resource type and attribute:
/// `filter=userName eq "…"`, `externalId eq "…"`, `id eq "…"` (users) and `displayName eq "…"`,
/// `externalId eq "…"`, `id eq "…"` (groups), from the first result on. These are what an
/// identity provider sends before each create; rendering their SQL with sea-query cost ~20k
/// instructions per request (docs/PERFORMANCE.md).
fn lookup_slot(
    kind: ResourceKind,
    query: &ListQuery<'_>,
    offset: u64,
    with_groups: bool,
) -> Option<&'static Prepared> {
    static USERS: [Prepared; 3] = [Prepared::new(), Prepared::new(), Prepared::new()];
    static USERS_WITH_GROUPS: [Prepared; 3] = [Prepared::new(), Prepared::new(), Prepared::new()];
    static GROUPS: [Prepared; 3] = [Prepared::new(), Prepared::new(), Prepared::new()];
    let Some(Filter::Compare {
        path,
        op: scim_filter_parser::CompareOp::Eq,
        value: scim_filter_parser::CompValue::String(_),
    }) = query.filter
    else {
        return None;
    };
    if offset != 0 || path.urn.is_some() || path.sub.is_some() {
        return None;
    }
    let slots = match kind {
        ResourceKind::User if with_groups => &USERS_WITH_GROUPS,
        ResourceKind::User => &USERS,
        ResourceKind::Group => &GROUPS,
    };
    let name = path.name.as_str();
    let index = match kind {
        _ if name.eq_ignore_ascii_case("id") => 0,
        _ if name.eq_ignore_ascii_case("externalId") => 1,
        ResourceKind::User if name.eq_ignore_ascii_case("userName") => 2,
        ResourceKind::Group if name.eq_ignore_ascii_case("displayName") => 2,
        _ => return None,
    };
    slots.get(index)
}

async fn list_page<E>(
    store: &Store,
    tenant: &TenantId,
    kind: ResourceKind,
    registry: &SchemaRegistry,
    query: &ListQuery<'_>,
    snapshot: Option<&Snapshot>,
) -> StoreResult<ListPage<StoredResource>>
where
    E: StoredColumns,
{
    if snapshot.is_none() {
        if let Some(page) = prepared_lookup::<E>(store, tenant, kind, registry, query).await? {
            return Ok(page);
        }
    }
    let (tenant_col, id_col) = (E::TENANT, E::ID);
    let backend = store.db.get_database_backend();
    let mut select = stored_columns(E::find()).filter(tenant_col.eq(tenant.as_str()));
    let translator = Translator::new(backend, kind, registry);
    if let Some(f) = query.filter {
        select = select.filter(translator.filter(f)?.into_expr(backend));
    }
    // What the page is counted by: an unfiltered list by the tenant's counters, a filtered
    // one by a `COUNT(*)` of its matches. Rendered only when a count is needed (most lookups
    // need none, and rendering it cost a sixth of a lookup).
    let count_base = query.filter.is_some().then(|| select.clone());
    let count_stmt = || match &count_base {
        None => crate::count::kind_count_statement(backend, tenant, kind),
        Some(select) => crate::count::count_statement(select.clone(), backend),
    };
    if let Some((path, order)) = query.sort {
        let key = translator.sort_key(path)?;
        let null_key = Sql::null_last(&key);
        let ord = match order {
            SortOrder::Ascending => Order::Asc,
            SortOrder::Descending => Order::Desc,
        };
        select = select
            .order_by(null_key.into_expr(backend), Order::Asc)
            .order_by(key.into_expr(backend), ord);
    }
    select = select.order_by(id_col, Order::Asc);

    let binding = match &query.pagination {
        Pagination::Cursor { .. } => Some(cursor_binding(tenant, kind, query)),
        Pagination::Index(_) => None,
    };
    let binding_refs = binding.as_ref().map(|b| b.each_ref().map(String::as_str));
    let (offset, count, after_id) = match (&query.pagination, &binding_refs) {
        (Pagination::Index(p), _) => (p.offset(), p.count, None),
        (Pagination::Cursor { cursor, count }, _) if cursor.is_empty() => (0, *count, None),
        (Pagination::Cursor { cursor, count }, Some(b)) => {
            match (store.cursor_key().await?.open(b, cursor)?, query.sort) {
                (Position::After(id), None) => (0, *count, Some(id)),
                (Position::Offset(offset), Some(_)) => (offset, *count, None),
                _ => return Err(StoreError::InvalidCursor),
            }
        }
        (Pagination::Cursor { .. }, None) => return Err(StoreError::InvalidCursor),
    };
    if let Some(id) = &after_id {
        select = select.filter(id_col.gt(id.as_str()));
    }
    if count == 0 {
        let total = match snapshot {
            Some(snap) => crate::count::run(count_stmt(), snap).await?,
            None => crate::count::run(count_stmt(), &store.db.scan()).await?,
        };
        return Ok(ListPage {
            total,
            items: Vec::new(),
            next_cursor: None,
        });
    }
    // One row more than asked tells whether a next page exists. The total is known without
    // counting when this page is the last one and its position is known (no cursor), and it
    // reached into the results or started at the first one: every lookup by userName or
    // externalId is one statement, not two.
    let deep = matches!(query.pagination, Pagination::Index(_))
        && query.filter.is_none()
        && query.sort.is_none()
        && snapshot.is_none()
        && offset >= crate::positions::DEEP;
    let ordered = deep.then(|| select.clone());
    // No `OFFSET` at 0: on PostgreSQL a prepared statement with an `OFFSET` parameter is
    // planned again on every execution (its generic plan, costed for any offset, never wins),
    // which made a lookup with its groups slower than two statements.
    let page = match offset {
        0 => select.limit(count + 1),
        _ => select.offset(offset).limit(count + 1),
    };
    let has_cursor = after_id.is_some();
    let needs_count =
        move |rows: usize| has_cursor || rows as u64 > count || (offset > 0 && rows == 0);
    let deep_page = match ordered {
        Some(ordered) => {
            deep_page(
                store,
                tenant,
                kind,
                ordered,
                id_col,
                (offset, count),
                &count_stmt(),
                needs_count,
            )
            .await?
        }
        None => None,
    };
    // The groups of each user, when the page's statement read them (JSON text, row by row).
    let mut read_groups: Option<Vec<String>> = None;
    let (mut models, total): (Vec<StoredRow>, _) = if let Some(found) = deep_page {
        found
    } else if let Some(snap) = snapshot {
        let models = snap.read(page.build(backend)).await?;
        let total = if needs_count(models.len()) {
            Some(crate::count::run(count_stmt(), snap).await?)
        } else {
            None
        };
        (models, total)
    } else if is_point_lookup(query) {
        let with_groups = lookup_reads_groups(kind, query, backend);
        let page = if with_groups {
            page.expr(members::groups_json_column())
        } else {
            page
        };
        // (The commonest shapes, with their text rendered once, were read by
        // `prepared_lookup`.)
        let (models, groups) = read_lookup(store, page.build(backend), with_groups).await?;
        read_groups = groups;
        let total = if needs_count(models.len()) {
            Some(crate::count::run(count_stmt(), &store.db).await?)
        } else {
            None
        };
        (models, total)
    } else {
        // A scan: the page and its count in one hand-over to the blocking pool.
        let backend = store.db.get_database_backend();
        store
            .db
            .scan_page(page.build(backend), count_stmt(), needs_count)
            .await?
    };
    let more = models.len() as u64 > count;
    let total = total.unwrap_or(offset + models.len() as u64);
    models.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    let mut items: Vec<StoredResource> = models
        .into_iter()
        .map(|row| row.into_stored(kind))
        .collect();
    let groups_read = read_groups.is_some();
    if let Some(groups) = read_groups {
        for (item, text) in items.iter_mut().zip(groups) {
            item.groups = Some(members::parse_groups_json(&text)?);
        }
    }
    let next_position = match (more, query.sort) {
        (false, _) => None,
        (true, None) => items.last().map(|r| Position::After(r.id.clone())),
        (true, Some(_)) => offset
            .checked_add(count)
            .filter(|n| i64::try_from(*n).is_ok())
            .map(Position::Offset),
    };
    let next_cursor = match (next_position, &binding_refs) {
        (Some(position), Some(b)) => Some(store.cursor_key().await?.seal(b, &position)),
        _ => None,
    };
    if query.with_relations && snapshot.is_none() && !groups_read {
        read_relations(store, tenant, kind, &mut items).await?;
    }
    Ok(ListPage {
        total,
        items,
        next_cursor,
    })
}

/// The users' groups or the groups' members of a page read without them.
async fn read_relations(
    store: &Store,
    tenant: &TenantId,
    kind: ResourceKind,
    items: &mut [StoredResource],
) -> StoreResult<()> {
    let ids =
        |items: &[StoredResource]| -> Vec<String> { items.iter().map(|r| r.id.clone()).collect() };
    match kind {
        ResourceKind::User => {
            // The groups of a page's users: index lookups bounded by the page, read on the
            // caller's thread like a point read (a group's members are not bounded: a scan).
            if let [one] = items {
                // A lookup's one user: the statement of one user's groups, rendered once.
                one.groups = Some(members::groups_of_one(&store.db, tenant, &one.id).await?);
            } else {
                let mut all = members::groups_of(&store.db, tenant, &ids(items)).await?;
                for r in items.iter_mut() {
                    r.groups = Some(all.remove(&r.id).unwrap_or_default());
                }
            }
        }
        ResourceKind::Group => {
            let mut all = members::members_of(&store.db.scan(), tenant, &ids(items)).await?;
            for r in items.iter_mut() {
                r.members = Some(all.remove(&r.id).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// Whether a point lookup reads its users' groups in its own statement: on PostgreSQL, for
/// users shown with them (one round trip, not two; on SQLite two prepared statements cost
/// less).
fn lookup_reads_groups(kind: ResourceKind, query: &ListQuery<'_>, backend: DbBackend) -> bool {
    kind == ResourceKind::User && query.with_relations && backend == DbBackend::Postgres
}

/// A point lookup's rows, with each one's groups as JSON text when `with_groups` (its
/// statement then has the groups' column, see [`lookup_reads_groups`]).
async fn read_lookup(
    store: &Store,
    stmt: sea_orm::Statement,
    with_groups: bool,
) -> StoreResult<(Vec<StoredRow>, Option<Vec<String>>)> {
    if !with_groups {
        return Ok((store.db.read(stmt).await?, None));
    }
    let rows: Vec<StoredWithText> = store.db.read(stmt).await?;
    let (models, groups) = rows
        .into_iter()
        .map(|StoredWithText(row, text)| (row, text))
        .unzip();
    Ok((models, Some(groups)))
}

/// A lookup of a [`lookup_slot`] shape (`userName eq "…"` and the like, from the first
/// result on, not counted by `count=0`) read by the slot's text with this lookup's values:
/// the page's sea-query select is built only to render that text the first time, or to count
/// a page that has more rows than asked. Building and dropping that select cost ~25,000
/// instructions per lookup, a fifth of one (callgrind, docs/PERFORMANCE.md). `None` when
/// `query` is not such a lookup; [`list_page`] reads it then.
async fn prepared_lookup<E: StoredColumns>(
    store: &Store,
    tenant: &TenantId,
    kind: ResourceKind,
    registry: &SchemaRegistry,
    query: &ListQuery<'_>,
) -> StoreResult<Option<ListPage<StoredResource>>> {
    let (Pagination::Index(paging), Some(filter), None) =
        (&query.pagination, query.filter, query.sort)
    else {
        return Ok(None);
    };
    let (offset, count) = (paging.offset(), paging.count);
    let backend = store.db.get_database_backend();
    let with_groups = lookup_reads_groups(kind, query, backend);
    let slot = match lookup_slot(kind, query, offset, with_groups) {
        Some(slot) if count > 0 => slot,
        _ => return Ok(None),
    };
    let sql = Translator::new(backend, kind, registry).filter(filter)?;
    let select = || {
        stored_columns(E::find())
            .filter(E::TENANT.eq(tenant.as_str()))
            .filter(sql.clone().into_expr(backend))
    };
    let mut values = Vec::with_capacity(sql.values().len() + 2);
    values.push(tenant.as_str().into());
    values.extend_from_slice(sql.values());
    values.push((count + 1).into());
    let stmt = slot.statement(backend, values, || {
        let page = select().order_by(E::ID, Order::Asc).limit(count + 1);
        match with_groups {
            true => page.expr(members::groups_json_column()),
            false => page,
        }
        .build(backend)
    });
    let (mut models, groups) = read_lookup(store, stmt, with_groups).await?;
    // One row more than asked: there are more matches than the page, so they are counted.
    let total = if models.len() as u64 > count {
        let stmt = crate::count::count_statement(select(), backend);
        crate::count::run(stmt, &store.db).await?
    } else {
        models.len() as u64
    };
    models.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    let mut items: Vec<StoredResource> = models
        .into_iter()
        .map(|row| row.into_stored(kind))
        .collect();
    match groups {
        Some(groups) => {
            for (item, text) in items.iter_mut().zip(groups) {
                item.groups = Some(members::parse_groups_json(&text)?);
            }
        }
        None if query.with_relations => read_relations(store, tenant, kind, &mut items).await?,
        None => {}
    }
    Ok(Some(ListPage {
        total,
        items,
        next_cursor: None,
    }))
}

/// A deep page of an unfiltered, unsorted index-paged list, started from this process's sparse
/// index of the tenant's positions (see [`crate::positions`]): its rows and, when
/// `needs_count` says so, the total. `None` when the index cannot say where the page starts
/// (past its end, fewer rows than a stride) or the tenant keeps changing under it: the caller
/// then steps over the rows as before.
#[allow(clippy::too_many_arguments)] // the page's own parts, as list_page holds them
async fn deep_page<E>(
    store: &Store,
    tenant: &TenantId,
    kind: ResourceKind,
    ordered: sea_orm::Select<E>,
    id_col: E::Column,
    (offset, count): (u64, u64),
    count_stmt: &sea_orm::Statement,
    needs_count: impl FnOnce(usize) -> bool + Copy + Send + 'static,
) -> StoreResult<Option<(Vec<StoredRow>, Option<u64>)>>
where
    E: EntityTrait,
{
    use crate::positions::SparseIndex;
    use std::sync::Arc;
    let backend = store.db.get_database_backend();
    for attempt in 0..2 {
        let index = match store.positions.get(tenant, kind) {
            Some(index) if attempt == 0 => index,
            _ => {
                let rows = store
                    .db
                    .scan()
                    .query_all(crate::positions::index_statement(backend, tenant, kind))
                    .await?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let version: i64 = first.try_get("", "list_version")?;
                let ids = rows
                    .iter()
                    .map(|row| row.try_get::<String>("", "id"))
                    .collect::<Result<Vec<_>, _>>()?;
                let index = Arc::new(SparseIndex { version, ids });
                store.positions.put(tenant, kind, index.clone());
                index
            }
        };
        let Some((after, skip)) = index.seek(offset) else {
            return Ok(None);
        };
        let page = ordered
            .clone()
            .filter(id_col.gt(after))
            .expr_as(crate::positions::version_expr(tenant, kind), "list_version")
            .offset(skip)
            .limit(count + 1);
        let (rows, total): (Vec<StoredWithInt>, _) = store
            .db
            .scan_page(page.build(backend), count_stmt.clone(), needs_count)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        if first.1 == index.version {
            let rows = rows.into_iter().map(|row| row.0).collect();
            return Ok(Some((rows, total)));
        }
        // Added or removed since the index was read: read it again, once.
        store.positions.forget(tenant, kind);
    }
    Ok(None)
}
