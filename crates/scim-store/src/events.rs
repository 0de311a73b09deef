//! The provisioning events outbox: rows written in the transaction of each SCIM change
//! ([`capture`]), read in order by the events API ([`Store::list_events`]) and purged after the
//! tenant's retention ([`Store::purge_old_events`]). What a change emits is decided by the
//! service (`scim-service` `events.rs`); this module only stores and orders.
//!
//! Order. Readers follow a tenant's `sequence`, and a reader that has seen sequence N must never
//! later find an event below N. On SQLite the sequence is given in the writing transaction: the
//! write lock is held from `BEGIN IMMEDIATE` to `COMMIT` (across processes too), so sequences
//! commit in order. On PostgreSQL writers commit in any order, so a row is written without a
//! sequence and with a `capture` number (a database sequence, taken after the change's row
//! locks, so a resource's events are captured in the order its changes were made). Before
//! reading, the sequencer ([`sequence_committed`]) gives sequences, above every sequence given
//! so far, to the rows it can see, which are committed ones only, in `capture` order. It runs
//! under a per-tenant advisory lock that only sequencers take: writers never wait for it.

use chrono::{DateTime, Utc};
use scim_db::{Prepared, Txn};
use scim_model::ResourceKind;
use sea_orm::{
    sea_query::{Expr, Query},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, Statement,
};
use serde::{Deserialize, Serialize};

use crate::{
    audit::Actor,
    cursor::Position,
    entity::{event, tenant},
    Store, StoreError, StoreResult, TenantId,
};

/// Days events are kept unless the tenant chose otherwise.
pub const DEFAULT_RETENTION_DAYS: i32 = 30;
/// The retention a tenant may choose, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i32> = 1..=365;
/// Most events one read returns.
pub const MAX_PAGE: u64 = 1000;

/// Rows per multi-row insert (13 parameters each).
const INSERT_CHUNK: usize = 500;
/// Rows the sequencer numbers per pass, and the purge deletes per statement.
const BATCH: u64 = 5000;

/// Who made a change, as its events name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventActor {
    /// `key` (an API key), `client` (an OAuth client), `operator` or `console`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key's name, the client's id, the operator's or console user's name.
    pub name: String,
}

/// Where a change comes from: who made it, and in which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOrigin {
    /// The caller.
    pub actor: EventActor,
    /// The request's id (the `X-Request-Id` of its answer).
    pub request_id: Option<String>,
    /// Whether events keep the resource after the change (the tenant has a full event
    /// stream; read with the caller's key).
    pub keep_data: bool,
}

/// An event to capture with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `user.created`, `group.members_added`, …
    pub event_type: &'static str,
    /// The resource's type.
    pub resource_type: ResourceKind,
    /// The resource's id.
    pub resource_id: String,
    /// The resource's `externalId` after the change (before it, for a delete).
    pub external_id: Option<String>,
    /// The resource's version after the change (its last one, for a delete).
    pub version: i64,
    /// The changed attribute paths.
    pub attributes: Vec<String>,
    /// Members added or removed, groups left.
    pub related: Option<Vec<String>>,
    /// The resource's attributes after the change, when the tenant keeps them (never its
    /// password).
    pub data: Option<serde_json::Value>,
    /// Whether the change was a replace (PUT).
    pub replaced: bool,
}

/// A captured event, as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's id (UUIDv7).
    pub id: String,
    /// Its place in the tenant's order.
    pub sequence: i64,
    /// When the change was made.
    pub time: DateTime<Utc>,
    /// `user.created`, …
    pub event_type: String,
    /// `User` or `Group`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// The resource's `externalId`.
    pub external_id: Option<String>,
    /// The resource's version after the change.
    pub version: i64,
    /// The changed attribute paths.
    pub attributes: Vec<String>,
    /// Members added or removed, groups left.
    pub related: Option<Vec<String>>,
    /// Who made the change.
    pub actor: EventActor,
    /// The request that made it.
    pub request_id: Option<String>,
    /// The resource's attributes after the change, when the tenant kept them.
    pub data: Option<serde_json::Value>,
    /// Whether the change was a replace (PUT).
    pub replaced: bool,
}

impl TryFrom<event::Model> for Event {
    type Error = StoreError;

    fn try_from(m: event::Model) -> StoreResult<Self> {
        let broken = |what: &str| StoreError::Db(sea_orm::DbErr::Type(format!("event {what}")));
        Ok(Self {
            id: m.id,
            sequence: m.sequence.ok_or_else(|| broken("without a sequence"))?,
            time: m.time,
            event_type: m.event_type,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            external_id: m.external_id,
            version: m.version,
            attributes: serde_json::from_value(m.attributes).map_err(|_| broken("attributes"))?,
            related: m
                .related
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| broken("related ids"))?,
            actor: serde_json::from_value(m.actor).map_err(|_| broken("actor"))?,
            request_id: m.request_id,
            data: m.data,
            replaced: m.replaced,
        })
    }
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStart {
    /// At the oldest event kept.
    Oldest,
    /// After the event with this sequence (a cursor).
    After(i64),
    /// At the first event, in sequence order, recorded at or after this time.
    Since(DateTime<Utc>),
}

/// What a read of events asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Where to start.
    pub start: EventStart,
    /// Only events of this resource type.
    pub resource_type: Option<ResourceKind>,
    /// Only events of these types (all when empty).
    pub types: Vec<String>,
    /// At most this many (1..=[`MAX_PAGE`]).
    pub limit: u64,
}

/// One page of events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events, in sequence order.
    pub events: Vec<Event>,
    /// The position to read from next: the last event returned, or, when the page ended
    /// before `limit`, the last event sequenced when the page was read (so a filtered poll
    /// moves on past events it does not want).
    pub next: i64,
}

/// The events settings of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// Days events are kept.
    pub retention_days: i32,
}

/// The binding of event cursors: they open only for their tenant's events.
pub(crate) fn cursor_binding(tenant: &TenantId) -> [&str; 2] {
    ["events", tenant.as_str()]
}

/// Writes `events` on `txn`, the transaction of their change. On SQLite each gets its
/// sequence here (see the module's header).
pub(crate) async fn capture(
    txn: &Txn,
    tenant: &TenantId,
    origin: &ChangeOrigin,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    // SQLite: one event (most changes) takes its sequence in its INSERT; several read the top
    // first.
    let inline = backend != DbBackend::Postgres && events.len() == 1;
    let mut next = match backend {
        DbBackend::Postgres => None,
        _ if inline => None,
        _ => Some(top_sequence(txn, tenant).await? + 1),
    };
    // SQLite: several events numbered here are not dated before the newest (see `first_at`).
    let now = match next {
        Some(_) => newest_time(txn, tenant)
            .await?
            .map_or(now, |newest| now.max(newest)),
        None => now,
    };
    let actor = json_value(backend, &origin.actor)?;
    for chunk in events.chunks(INSERT_CHUNK) {
        let rows: Vec<Vec<sea_orm::Value>> = chunk
            .iter()
            .map(|e| {
                let sequence = next;
                next = next.map(|n| n + 1);
                row_values(backend, tenant, origin, &actor, e, sequence, now)
            })
            .collect();
        let stmt = match <[_; 1]>::try_from(rows) {
            Ok([mut row]) if inline => {
                static ONE_NUMBERED: Prepared = Prepared::new();
                // The sequence's place takes the two tenant ids of its subqueries; the time is
                // followed by the tenant id of its own.
                row.splice(2..3, [tenant.as_str().into(), tenant.as_str().into()]);
                row.insert(5, tenant.as_str().into());
                ONE_NUMBERED.statement_from(backend, row, |values| {
                    // Back to the row: the sequence in its place, the subqueries' ids out.
                    let row = values
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != 3 && *i != 5)
                        .map(|(i, v)| match i {
                            2 => Option::<i64>::None.into(),
                            _ => v.clone(),
                        })
                        .collect();
                    insert_statement(backend, vec![row], Some(tenant))
                })
            }
            Ok([row]) => {
                static ONE: Prepared = Prepared::new();
                ONE.statement_from(backend, row, |values| {
                    insert_statement(backend, vec![values.to_vec()], None)
                })
            }
            Err(rows) => insert_statement(backend, rows, None),
        };
        txn.execute(stmt).await?;
    }
    Ok(())
}

/// `value` as the bound value of a JSON column: JSON text on SQLite (which stores JSON as
/// text: no `serde_json::Value` is built only to be printed), a JSON value on PostgreSQL.
fn json_value<T: Serialize + ?Sized>(backend: DbBackend, value: &T) -> StoreResult<sea_orm::Value> {
    let broken = |e: serde_json::Error| StoreError::InvalidValue(format!("event value: {e}"));
    Ok(match backend {
        DbBackend::Postgres => serde_json::to_value(value).map_err(broken)?.into(),
        _ => serde_json::to_string(value).map_err(broken)?.into(),
    })
}

/// The values of `event`'s row, in [`COLUMNS`] order; the sequence is `sequence`.
fn row_values(
    backend: DbBackend,
    tenant: &TenantId,
    origin: &ChangeOrigin,
    actor: &sea_orm::Value,
    e: &NewEvent,
    sequence: Option<i64>,
    now: DateTime<Utc>,
) -> Vec<sea_orm::Value> {
    vec![
        uuid::Uuid::now_v7().to_string().into(),
        tenant.as_str().into(),
        sequence.into(),
        now.into(),
        e.event_type.into(),
        e.resource_type.name().into(),
        e.resource_id.as_str().into(),
        e.external_id.clone().into(),
        e.version.into(),
        bind_json(backend, &e.attributes),
        match &e.related {
            Some(ids) => bind_json(backend, ids),
            None => null_json(backend),
        },
        actor.clone(),
        origin.request_id.clone().into(),
        match &e.data {
            Some(data) => bind_json(backend, data),
            None => null_json(backend),
        },
        e.replaced.into(),
    ]
}

/// A NULL of a JSON column.
fn null_json(backend: DbBackend) -> sea_orm::Value {
    match backend {
        DbBackend::Postgres => sea_orm::Value::Json(None),
        _ => sea_orm::Value::String(None),
    }
}

/// `value` bound into a JSON column. Serialising strings and JSON values cannot fail; if it
/// did, the column would be NULL rather than the change lost.
fn bind_json<T: Serialize + ?Sized>(backend: DbBackend, value: &T) -> sea_orm::Value {
    json_value(backend, value).unwrap_or_else(|_| null_json(backend))
}

/// PostgreSQL: `change` (an `INSERT`, `UPDATE` or `DELETE` of one row, without `RETURNING`) and
/// the capture of `event` as one statement, `WITH w AS (change RETURNING 1) INSERT INTO events
/// … SELECT … FROM w`: the event is written exactly when the change writes its row, in one
/// round trip and without a transaction of its own. Its rows affected are the change's.
pub(crate) fn with_event(
    change: Statement,
    tenant: &TenantId,
    origin: &ChangeOrigin,
    event: &NewEvent,
    now: DateTime<Utc>,
) -> StoreResult<Statement> {
    joined(
        change,
        tenant,
        origin,
        event,
        now,
        |change, names, placeholders| {
            format!(
                "WITH w AS ({change} RETURNING 1) INSERT INTO \"events\" ({names}) \
             SELECT {placeholders} FROM w"
            )
        },
    )
}

/// PostgreSQL: `change` (a data-modifying statement without `RETURNING`, in the caller's
/// transaction) and the capture of `event` as one statement, `WITH c AS (change) INSERT INTO
/// events … VALUES …`: the event is written whatever rows the change affects. So a change that
/// takes a contended row lock (a large group's) holds it for this statement and the `COMMIT`
/// only.
pub(crate) fn event_after(
    change: Statement,
    tenant: &TenantId,
    origin: &ChangeOrigin,
    event: &NewEvent,
    now: DateTime<Utc>,
) -> StoreResult<Statement> {
    joined(
        change,
        tenant,
        origin,
        event,
        now,
        |change, names, placeholders| {
            format!("WITH c AS ({change}) INSERT INTO \"events\" ({names}) VALUES ({placeholders})")
        },
    )
}

/// `change` and `event`'s row in one PostgreSQL statement whose text `sql` makes of the
/// change's text, the event columns' names and their placeholders (numbered after the
/// change's).
fn joined(
    change: Statement,
    tenant: &TenantId,
    origin: &ChangeOrigin,
    event: &NewEvent,
    now: DateTime<Utc>,
    sql: impl FnOnce(&str, &str, &str) -> String,
) -> StoreResult<Statement> {
    let actor = json_value(DbBackend::Postgres, &origin.actor)?;
    let mut values = change.values.map(|v| v.0).unwrap_or_default();
    let first = values.len();
    let names = COLUMNS
        .iter()
        .map(|c| format!("\"{}\"", sea_orm::IdenStatic::as_str(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let placeholders = (first + 1..=first + COLUMNS.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    values.extend(row_values(
        DbBackend::Postgres,
        tenant,
        origin,
        &actor,
        event,
        None,
        now,
    ));
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql(&change.sql, &names, &placeholders),
        values,
    ))
}

/// `INSERT INTO events (…) VALUES (…), …` of `rows` (values in [`COLUMNS`] order). With
/// `numbered_in`, the sequence is the next of that tenant, computed by the INSERT itself
/// (SQLite, one row, under the write lock): after its newest event, or, when it has none,
/// after the highest purged (the tenant's row is read only then: events are purged oldest
/// sequence first, so every event kept is numbered above the highest purged); and its time
/// is the later of its own and the newest event's, so that on SQLite time follows sequence
/// (see [`first_at`]).
fn insert_statement(
    backend: DbBackend,
    rows: Vec<Vec<sea_orm::Value>>,
    numbered_in: Option<&TenantId>,
) -> Statement {
    let mut insert = Query::insert();
    insert.into_table(event::Entity).columns(COLUMNS);
    for row in rows {
        let exprs = row.into_iter().enumerate().map(|(i, v)| match numbered_in {
            Some(tenant) if i == 2 => Expr::cust_with_values(
                "(COALESCE((SELECT MAX(sequence) FROM events WHERE tenant_id = ?), \
                 (SELECT events_purged_through FROM tenants WHERE id = ?), 0) + 1)",
                [tenant.as_str(), tenant.as_str()],
            ),
            Some(tenant) if i == 3 => Expr::cust_with_values(
                "MAX(?, COALESCE((SELECT time FROM events WHERE tenant_id = ? \
                 ORDER BY sequence DESC LIMIT 1), ''))",
                [v, tenant.as_str().into()],
            ),
            _ => Expr::val(v).into(),
        });
        insert.values_panic(exprs);
    }
    backend.build(&insert)
}

/// The columns [`capture`] writes (`capture` itself is the database's default).
const COLUMNS: [event::Column; 15] = [
    event::Column::Id,
    event::Column::TenantId,
    event::Column::Sequence,
    event::Column::Time,
    event::Column::EventType,
    event::Column::ResourceType,
    event::Column::ResourceId,
    event::Column::ExternalId,
    event::Column::Version,
    event::Column::Attributes,
    event::Column::Related,
    event::Column::Actor,
    event::Column::RequestId,
    event::Column::Data,
    event::Column::Replaced,
];

/// The time of `tenant`'s newest event (SQLite).
async fn newest_time<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> StoreResult<Option<DateTime<Utc>>> {
    let stmt = Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT time FROM events WHERE tenant_id = ? ORDER BY sequence DESC LIMIT 1",
        [tenant.as_str().into()],
    );
    match conn.query_one(stmt).await? {
        Some(row) => Ok(Some(row.try_get::<DateTime<Utc>>("", "time")?)),
        None => Ok(None),
    }
}

/// The sequence of `tenant`'s first numbered event recorded at or after `time`, if any.
///
/// PostgreSQL: by its `(tenant_id, time)` index. SQLite has no such index (migration 000150):
/// there an event's time never precedes that of the event numbered before it (the capture
/// takes the later of the two), so the predicate "the first event from sequence `x` on is
/// recorded at or after `time`" only turns from false to true as `x` grows, and a binary
/// search over the table's key finds the first sequence for which it holds, in about
/// log2(events kept) lookups.
pub(crate) async fn first_at<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    time: DateTime<Utc>,
) -> StoreResult<Option<i64>> {
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres {
        let first: Option<Option<i64>> = event::Entity::find()
            .select_only()
            .column_as(Expr::col(event::Column::Sequence).min(), "first")
            .filter(event::Column::TenantId.eq(tenant.as_str()))
            .filter(event::Column::Time.gte(time))
            .filter(event::Column::Sequence.is_not_null())
            .into_tuple()
            .one(conn)
            .await?;
        return Ok(first.flatten());
    }
    // The first event from `x` on: its sequence and time.
    let from = |x: i64| async move {
        let stmt = Statement::from_sql_and_values(
            backend,
            "SELECT sequence, time FROM events WHERE tenant_id = ? AND sequence >= ? \
             ORDER BY sequence LIMIT 1",
            [tenant.as_str().into(), x.into()],
        );
        match conn.query_one(stmt).await? {
            Some(row) => Ok::<_, StoreError>(Some((
                row.try_get::<i64>("", "sequence")?,
                row.try_get::<DateTime<Utc>>("", "time")?,
            ))),
            None => Ok(None),
        }
    };
    let bounds = conn
        .query_one(Statement::from_sql_and_values(
            backend,
            "SELECT MIN(sequence) AS lo, MAX(sequence) AS hi FROM events WHERE tenant_id = ?",
            [tenant.as_str().into()],
        ))
        .await?;
    let (mut lo, mut hi) = match bounds {
        Some(row) => match (
            row.try_get::<Option<i64>>("", "lo")?,
            row.try_get::<Option<i64>>("", "hi")?,
        ) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => return Ok(None),
        },
        None => return Ok(None),
    };
    match from(hi).await? {
        Some((_, newest)) if newest >= time => {}
        _ => return Ok(None),
    }
    // The predicate holds at `hi`; find the smallest `x` in [lo, hi] where it does.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match from(mid).await? {
            Some((_, t)) if t >= time => hi = mid,
            Some((sequence, _)) => lo = sequence + 1,
            None => return Ok(None),
        }
    }
    Ok(from(lo).await?.map(|(sequence, _)| sequence))
}

/// The highest sequence given in `tenant`: the newest event's, or the highest purged when
/// every event was purged (0 when none was ever given). A new sequence is always above it.
pub(crate) async fn top_sequence<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> StoreResult<i64> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT GREATEST(COALESCE((SELECT MAX(sequence) FROM events WHERE tenant_id = $1), 0), \
             COALESCE((SELECT events_purged_through FROM tenants WHERE id = $1), 0)) AS top"
        }
        _ => {
            "SELECT MAX(COALESCE((SELECT MAX(sequence) FROM events WHERE tenant_id = ?1), 0), \
             COALESCE((SELECT events_purged_through FROM tenants WHERE id = ?1), 0)) AS top"
        }
    };
    let stmt = Statement::from_sql_and_values(backend, sql, [tenant.as_str().into()]);
    match conn.query_one(stmt).await? {
        Some(row) => Ok(row.try_get::<i64>("", "top")?),
        None => Ok(0),
    }
}

/// The sequences of `tenant`'s events above `after` and at most `top`, of `types` (all when
/// empty), in order, at most `limit`.
pub(crate) async fn events_between<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    after: i64,
    top: i64,
    types: &[String],
    limit: u64,
) -> StoreResult<Vec<i64>> {
    let mut select = event::Entity::find()
        .select_only()
        .column(event::Column::Sequence)
        .filter(event::Column::TenantId.eq(tenant.as_str()))
        .filter(event::Column::Sequence.gt(after))
        .filter(event::Column::Sequence.lte(top));
    if !types.is_empty() {
        select = select.filter(event::Column::EventType.is_in(types.iter().cloned()));
    }
    let rows: Vec<Option<i64>> = select
        .order_by_asc(event::Column::Sequence)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().flatten().collect())
}

/// PostgreSQL: gives sequences to `tenant`'s committed events that have none, in capture
/// order, above every sequence given so far; returns how many it numbered. Rows of
/// transactions still in flight are invisible to it and wait for a later pass; a pass never
/// numbers a row below one numbered before, so readers never skip one.
pub(crate) async fn sequence_committed(store: &Store, tenant: &str) -> StoreResult<u64> {
    let db = &store.db;
    let mut numbered = 0;
    loop {
        let txn = db.begin().await?;
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended('scimd.events.' || $1, 0))",
            [tenant.into()],
        ))
        .await?;
        let done = txn
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE events AS e SET sequence = base.top + ready.n \
                 FROM (SELECT GREATEST(COALESCE(MAX(sequence), 0), \
                         (SELECT events_purged_through FROM tenants WHERE id = $1)) AS top \
                       FROM events WHERE tenant_id = $1) AS base, \
                      (SELECT id, row_number() OVER (ORDER BY capture) AS n FROM \
                         (SELECT id, capture FROM events WHERE tenant_id = $1 AND sequence IS NULL \
                          ORDER BY capture LIMIT $2) AS waiting) AS ready \
                 WHERE e.id = ready.id",
                [tenant.into(), BATCH.into()],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        numbered += done;
        if done < BATCH {
            return Ok(numbered);
        }
    }
}

impl Store {
    /// One page of `tenant`'s events, in sequence order. A cursor older than the events kept
    /// is [`StoreError::CursorExpired`].
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        query: &EventQuery,
    ) -> StoreResult<EventPage> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            sequence_committed(self, tenant.as_str()).await?;
        }
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        // The last sequence given, read before the page: whatever is numbered while the page
        // is read comes after it, and the next read finds it.
        let top = top_sequence(&self.db, tenant).await?;
        let after = match query.start {
            EventStart::Oldest => 0,
            EventStart::After(n) if n < row.events_purged_through => {
                return Err(StoreError::CursorExpired)
            }
            EventStart::After(n) => n,
            EventStart::Since(time) => match first_at(&self.db.scan(), tenant, time).await? {
                Some(first) => first - 1,
                None => top,
            },
        };
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut select = event::Entity::find()
            .filter(event::Column::TenantId.eq(tenant.as_str()))
            .filter(event::Column::Sequence.gt(after))
            .filter(event::Column::Sequence.lte(top));
        if let Some(kind) = query.resource_type {
            select = select.filter(event::Column::ResourceType.eq(kind.name()));
        }
        if !query.types.is_empty() {
            select = select.filter(event::Column::EventType.is_in(query.types.iter().cloned()));
        }
        let rows = select
            .order_by_asc(event::Column::Sequence)
            .limit(limit)
            .all(&self.db.scan())
            .await?;
        let full = rows.len() as u64 >= limit;
        let events = rows
            .into_iter()
            .map(Event::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match events.last() {
            Some(last) if full => last.sequence,
            _ => top.max(after),
        };
        Ok(EventPage { events, next })
    }

    /// The latest `limit` events of `tenant`, newest first (the console's view).
    pub async fn recent_events(&self, tenant: &TenantId, limit: u64) -> StoreResult<Vec<Event>> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            sequence_committed(self, tenant.as_str()).await?;
        }
        event::Entity::find()
            .filter(event::Column::TenantId.eq(tenant.as_str()))
            .filter(event::Column::Sequence.is_not_null())
            .order_by_desc(event::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Event::try_from)
            .collect()
    }

    /// Each tenant's id and events retention in days (events and webhook attempts are kept
    /// that long). Whole rows, as a tenant row is small and tenants are few: the SQLite
    /// driver's rows are read by column name, so a multi-column tuple would be read out of
    /// order.
    pub(crate) async fn events_retention_by_tenant(&self) -> StoreResult<Vec<(String, i32)>> {
        Ok(tenant::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.events_retention_days))
            .collect())
    }

    /// The highest sequence purged from `tenant`'s events (0 when none was).
    pub async fn events_purged_through(&self, tenant: &TenantId) -> StoreResult<i64> {
        Ok(tenant::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .events_purged_through)
    }

    /// The cursor of position `sequence` in `tenant`'s events.
    pub async fn seal_event_cursor(&self, tenant: &TenantId, sequence: i64) -> StoreResult<String> {
        let position = Position::Offset(sequence.max(0).unsigned_abs());
        Ok(self
            .cursor_key()
            .await?
            .seal(&cursor_binding(tenant), &position))
    }

    /// The position of an events cursor issued for `tenant`, or [`StoreError::InvalidCursor`].
    pub async fn open_event_cursor(&self, tenant: &TenantId, cursor: &str) -> StoreResult<i64> {
        match self
            .cursor_key()
            .await?
            .open(&cursor_binding(tenant), cursor)?
        {
            Position::Offset(n) => i64::try_from(n).map_err(|_| StoreError::InvalidCursor),
            Position::After(_) => Err(StoreError::InvalidCursor),
        }
    }

    /// The events settings of `tenant`.
    pub async fn get_event_settings(&self, tenant: &TenantId) -> StoreResult<EventSettings> {
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(EventSettings {
            retention_days: row.events_retention_days,
        })
    }

    /// Replaces the events settings of `tenant` (audited when something changes).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn put_event_settings(
        &self,
        tenant: &TenantId,
        settings: EventSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<EventSettings> {
        self.put_tenant_setting(
            tenant,
            crate::tenants::TenantSetting {
                target: "events",
                name: "retentionDays",
                get: |row| row.events_retention_days,
                set: |row, v| row.events_retention_days = Set(v),
            },
            settings.retention_days,
            actor,
            now,
        )
        .await?;
        Ok(settings)
    }

    /// Deletes events older than their tenant's retention at `now`, in batches; returns how
    /// many. Each tenant remembers the highest sequence purged, so that a cursor that points
    /// into what was deleted is refused rather than silently skipping.
    pub async fn purge_old_events(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut purged = 0;
        for (id, days) in self.events_retention_by_tenant().await? {
            if self.db.get_database_backend() == DbBackend::Postgres {
                // Committed events get their sequence first, so that `events_purged_through`
                // covers every event purged and a reader's cursor tells it lost one.
                sequence_committed(self, &id).await?;
            }
            let cutoff = now - chrono::Duration::days(i64::from(days.max(1)));
            loop {
                let deleted = self.purge_event_batch(&id, cutoff).await?;
                purged += deleted;
                if deleted < BATCH {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// Purges the oldest of `tenant`'s events: of its first [`BATCH`] numbered events, those
    /// up to the last one older than `cutoff`. Events go oldest sequence first, as a prefix, so
    /// every event kept is numbered above `events_purged_through` (what SQLite's capture relies
    /// on to number the next event without reading the tenant); an event numbered before an
    /// older one (its write waited for the lock, seconds at most) goes with it.
    async fn purge_event_batch(&self, tenant: &str, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT MAX(sequence) AS through FROM (SELECT sequence, time FROM events \
                 WHERE tenant_id = $1 AND sequence IS NOT NULL ORDER BY sequence LIMIT $2) \
                 AS oldest WHERE time < $3"
            }
            _ => {
                "SELECT MAX(sequence) AS through FROM (SELECT sequence, time FROM events \
                 WHERE tenant_id = ? AND sequence IS NOT NULL ORDER BY sequence LIMIT ?) \
                 AS oldest WHERE time < ?"
            }
        };
        let limit = i64::try_from(BATCH).unwrap_or(i64::MAX);
        let through = txn
            .query_one(Statement::from_sql_and_values(
                backend,
                sql,
                [tenant.into(), limit.into(), cutoff.into()],
            ))
            .await?
            .map(|row| row.try_get::<Option<i64>>("", "through"))
            .transpose()?
            .flatten();
        let Some(through) = through else {
            return Ok(0);
        };
        let deleted = event::Entity::delete_many()
            .filter(event::Column::TenantId.eq(tenant))
            .filter(event::Column::Sequence.lte(through))
            .exec(&txn)
            .await?
            .rows_affected;
        tenant::Entity::update_many()
            .col_expr(tenant::Column::EventsPurgedThrough, Expr::value(through))
            .filter(tenant::Column::Id.eq(tenant))
            .filter(tenant::Column::EventsPurgedThrough.lt(through))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(deleted)
    }
}

/// What a write did, handed to the service's rule inside the write's transaction so that its
/// events are captured with it.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    /// The resource's type.
    pub kind: ResourceKind,
    /// The resource's id.
    pub id: &'a str,
    /// Its attributes before the write (`None` for a create).
    pub before: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Its attributes after the write (`None` for a delete).
    pub after: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Its `externalId` after the write (before it, for a delete).
    pub external_id: Option<&'a str>,
    /// Its version after the write (its last one, for a delete).
    pub version: i64,
    /// Members the write added to the group.
    pub added: &'a [String],
    /// Members the write removed from the group.
    pub removed: &'a [String],
    /// Groups the resource left because it was deleted.
    pub left: &'a [String],
}

impl<'a> Written<'a> {
    /// The delete of resource `id` of `kind`, at its last `version`, which left the groups
    /// `left`.
    pub(crate) fn deleted(
        kind: ResourceKind,
        id: &'a str,
        external_id: Option<&'a str>,
        version: i64,
        left: &'a [String],
    ) -> Self {
        Self {
            kind,
            id,
            before: None,
            after: None,
            external_id,
            version,
            added: &[],
            removed: &[],
            left,
        }
    }

    /// A user's change from `before` to `after` (a PATCH or a PUT: no membership moves).
    pub(crate) fn user_change(
        before: &'a scim_model::Resource,
        after: &'a scim_model::ValidatedResource,
    ) -> Self {
        Self {
            kind: ResourceKind::User,
            id: &before.id,
            before: Some(&before.attributes),
            after: Some(&after.attributes),
            external_id: after.str_attr("externalId"),
            version: before.version + 1,
            added: &[],
            removed: &[],
            left: &[],
        }
    }
}

/// The events of a write: who makes it, and the service's rule for what a write emits.
#[derive(Clone, Copy)]
pub struct Capture<'a> {
    /// Who makes the change, in which request.
    pub origin: &'a ChangeOrigin,
    /// The events a write emits.
    pub emit: &'a (dyn Fn(&Written<'_>) -> Vec<NewEvent> + Sync),
    /// Whether the write is a replace (PUT).
    pub replace: bool,
    /// Whether the events are written. When not (this process captures no events), the rule
    /// still runs, for what its caller notes of each change (the activity record's changed
    /// attributes).
    pub write: bool,
}

impl Capture<'_> {
    /// The events of `written`: the service's rule, marked as a replace when it is one, with
    /// the resource after the change when the tenant keeps it (without its password).
    pub(crate) fn events(&self, written: &Written<'_>) -> Vec<NewEvent> {
        let mut events = (self.emit)(written);
        let data = match (self.origin.keep_data, written.after) {
            (true, Some(after)) if events.iter().any(|e| !is_membership(e)) => {
                let mut after = after.clone();
                after.remove("password");
                Some(serde_json::Value::Object(after))
            }
            _ => None,
        };
        for e in &mut events {
            e.replaced = self.replace;
            if !is_membership(e) {
                e.data.clone_from(&data);
            }
        }
        events
    }
}

/// Whether `e` names members added or removed (such events never carry the resource).
fn is_membership(e: &NewEvent) -> bool {
    e.event_type.starts_with("group.members_")
}

impl std::fmt::Debug for Capture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Runs the events rule on `written` for what it notes, writing nothing: the write that made
/// it captures no events (this process does not), so it took no transaction for them.
pub(crate) fn rule_only(capture: Option<Capture<'_>>, written: &Written<'_>) {
    if let Some(c) = capture {
        c.events(written);
    }
}

/// Captures the events of `written` (when there is a capture that writes) on `txn`; the rule
/// runs either way, for what it notes.
pub(crate) async fn capture_written(
    txn: &Txn,
    tenant: &TenantId,
    capture: Option<Capture<'_>>,
    written: Written<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(c) = capture else {
        return Ok(());
    };
    let events = c.events(&written);
    if !c.write {
        return Ok(());
    }
    self::capture(txn, tenant, c.origin, &events, now).await
}
