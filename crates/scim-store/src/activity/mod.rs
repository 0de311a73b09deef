//! Provisioning activity (issue 21): what each SCIM or token request of a tenant was and how
//! it ended, written in batches by the service's recorder, read newest first by the admin.
//!
//! A writer's flush is one row per tenant (`activity_batches`, see [`batch`]) and one added
//! count per minute, actor, status and `scimType` (`activity_counts`): a record costs its
//! bytes, not a row. A read walks a tenant's batches newest first and merges their records
//! (two processes' batches overlap in time).

mod batch;

use std::{borrow::Cow, collections::BinaryHeap};

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement, Value,
};
use serde_json::json;

use self::batch::{id_floor_ms, just_above, millis_of_id, Wanted, MAX_SPAN_MS};
use crate::{
    audit::{begin_write, record, Actor, Change},
    cursor::Position,
    entity::{
        activity_actor, activity_batch, activity_body, activity_count, activity_drop, tenant,
    },
    Store, StoreError, StoreResult, TenantId,
};

/// Days records are kept unless the tenant says otherwise.
pub const DEFAULT_RETENTION_DAYS: i32 = 30;
/// The retention a tenant may choose, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i32> = 1..=180;
/// Days a failed request's body is kept at most.
pub const BODY_RETENTION_DAYS: i64 = 7;
/// Largest page of records.
pub const MAX_PAGE: u64 = 500;
/// Rows per purge transaction.
const BATCH: u64 = 1_000;
/// Rows per INSERT statement of kept bodies.
const ROWS_PER_INSERT: usize = 100;

/// A record to write: what the recorder gathered when a request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// The tenant the request was attributed to.
    pub tenant: TenantId,
    /// The record (`has_body` is decided when it is written).
    pub record: ActivityRecord,
    /// The body of a failed request (passwords removed), kept only when the tenant asks.
    pub body: Option<String>,
}

/// A record: what one request was and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    /// The record's id.
    pub id: String,
    /// When the request ended.
    pub time: DateTime<Utc>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// `key` or `client`.
    pub actor_kind: Cow<'static, str>,
    /// The key's name or the OAuth client's id.
    pub actor: String,
    /// `entra`, `okta` or `other`.
    pub identity_provider: Cow<'static, str>,
    /// The HTTP method.
    pub method: Cow<'static, str>,
    /// The path.
    pub path: String,
    /// `User`, `Group`, or none.
    pub resource_type: Option<Cow<'static, str>>,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The filter of a list or search.
    pub filter: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The SCIM `scimType` of an error.
    pub scim_type: Option<String>,
    /// The `detail` of an error.
    pub detail: Option<String>,
    /// Milliseconds the request took.
    pub latency_ms: u64,
    /// What the request did.
    pub summary: Cow<'static, str>,
    /// The attribute paths it changed.
    pub attributes: Vec<String>,
    /// Whether the failed request's body is kept.
    pub has_body: bool,
}

/// Which statuses a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// A class: `2` for 2xx, `4` for 4xx, `5` for 5xx.
    Class(u16),
    /// One code.
    Code(u16),
}

/// A read of a tenant's records, newest first.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only these statuses.
    pub status: Option<StatusFilter>,
    /// Only this method.
    pub method: Option<String>,
    /// Only this key name or client id.
    pub actor: Option<String>,
    /// Only this resource.
    pub resource_id: Option<String>,
    /// Only this `scimType`.
    pub scim_type: Option<String>,
    /// Only records older than this one (a cursor's position: a record id).
    pub before: Option<String>,
    /// Most records.
    pub limit: u64,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone)]
pub struct ActivityPage {
    /// The records, newest first.
    pub records: Vec<ActivityRecord>,
    /// The position after the last record (its id), when there may be more.
    pub next: Option<String>,
}

/// Requests of one actor with one status and `scimType`, over a day and its last hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// `key` or `client`.
    pub actor_kind: String,
    /// The key's name or the client's id.
    pub actor: String,
    /// The status.
    pub status: u16,
    /// The `scimType`, if any.
    pub scim_type: Option<String>,
    /// Requests in the day.
    pub day: u64,
    /// Requests in its last hour.
    pub hour: u64,
}

/// The tenant's activity settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivitySettings {
    /// Days records are kept (1–180).
    pub retention_days: i32,
    /// Whether bodies of failed requests are kept (7 days at most).
    pub keep_failed_bodies: bool,
}

/// What a write of a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityWritten {
    /// Records written.
    pub written: u64,
    /// Records the database refused (each tried alone after its batch failed).
    pub rejected: u64,
}

/// The id of a record of a request that ended at `time`: a UUIDv7 (RFC 9562) of that time
/// whose 12 bits after the version hold the fraction of the millisecond (RFC 9562 §6.2,
/// method 3), so that ids order records by time to a quarter of a microsecond and a time range
/// is an id range.
pub fn activity_id(time: DateTime<Utc>) -> String {
    let ms = time.timestamp_millis().max(0).unsigned_abs() & 0xFFFF_FFFF_FFFF;
    let sub_ms_nanos = u64::from(time.timestamp_subsec_nanos() % 1_000_000);
    let fraction = sub_ms_nanos * 4096 / 1_000_000;
    let random = *uuid::Uuid::new_v4().as_bytes();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70 | ((fraction >> 8) & 0x0F) as u8;
    bytes[7] = (fraction & 0xFF) as u8;
    bytes[8] = 0x80 | (random[8] & 0x3F);
    bytes[9..].copy_from_slice(&random[9..]);
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::from_bytes(bytes)
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// The lowest id a record of `time` (or later) can have.
fn id_floor(time: DateTime<Utc>) -> String {
    id_floor_ms(time.timestamp_millis())
}

/// Rows per purge transaction.
const PURGE_BATCHES: u64 = 20;
/// Records a read decodes at most before it answers with what it found (and a cursor).
const MAX_SCAN: u64 = 50_000;
/// Batches a read fetches per statement.
const FETCH: u64 = 16;

/// `sql` with its placeholders `{1}`, `{2}`, … in `backend`'s form.
fn numbered(backend: DbBackend, sql: &str, count: usize) -> String {
    let mut out = sql.to_owned();
    for i in (1..=count).rev() {
        let to = match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        };
        out = out.replace(&format!("{{{i}}}"), &to);
    }
    out
}

/// A statement text per backend, built once per process.
fn per_backend(
    cell: &'static std::sync::OnceLock<[String; 2]>,
    backend: DbBackend,
    sql: &str,
    count: usize,
) -> &'static str {
    let texts = cell.get_or_init(|| {
        [
            numbered(DbBackend::Postgres, sql, count),
            numbered(DbBackend::Sqlite, sql, count),
        ]
    });
    match backend {
        DbBackend::Postgres => &texts[0],
        _ => &texts[1],
    }
}

/// The `INSERT` of a batch.
fn batch_insert_sql(backend: DbBackend) -> &'static str {
    static TEXTS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    per_backend(
        &TEXTS,
        backend,
        "INSERT INTO \"activity_batches\" (\"tenant_id\", \"newest_id\", \"oldest_id\", \"size\", \
         \"failed\", \"actors\", \"resources\", \"records\") VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8})",
        8,
    )
}

/// The addition to a per-minute count.
fn count_upsert_sql(backend: DbBackend) -> &'static str {
    static TEXTS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    per_backend(
        &TEXTS,
        backend,
        "INSERT INTO \"activity_counts\" (\"tenant_id\", \"minute\", \"actor_kind\", \"actor\", \
         \"status\", \"scim_type\", \"requests\") VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}) \
         ON CONFLICT (\"tenant_id\", \"minute\", \"actor_kind\", \"actor\", \"status\", \"scim_type\") \
         DO UPDATE SET \"requests\" = \"activity_counts\".\"requests\" + \"excluded\".\"requests\"",
        7,
    )
}

/// A statement built with its values, its placeholders numbered as they are bound.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend, text: &str) -> Self {
        Self {
            backend,
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends `text` with `{}` replaced by the placeholder of `value`.
    fn push(&mut self, text: &str, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        let placeholder = match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        };
        self.text.push_str(&text.replace("{}", &placeholder));
        self
    }

    fn raw(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// The SQL of "`column` contains `needle`".
fn contains(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!(" AND strpos(\"{column}\", {{}}) > 0"),
        _ => format!(" AND instr(\"{column}\", {{}}) > 0"),
    }
}

/// `text` as the value of a query (PostgreSQL refuses NUL in text).
fn clean(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// A record met by a read, ordered by id (the newest first out of a max-heap).
struct ById(ActivityRecord);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for ById {}
impl PartialOrd for ById {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ById {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
    }
}

/// Per actor of a batch, its newest successful and newest failed record.
fn newest_by_actor(records: &[NewActivity]) -> Vec<(&NewActivity, Option<&str>, Option<&str>)> {
    let mut out: Vec<(&NewActivity, Option<&str>, Option<&str>)> = Vec::new();
    for r in records {
        let id = r.record.id.as_str();
        let failed = r.record.status >= 400;
        let same = |o: &&mut (&NewActivity, Option<&str>, Option<&str>)| {
            o.0.tenant == r.tenant
                && o.0.record.actor_kind == r.record.actor_kind
                && o.0.record.actor == r.record.actor
        };
        let i = match out.iter_mut().position(|o| same(&o)) {
            Some(i) => i,
            None => {
                out.push((r, None, None));
                out.len() - 1
            }
        };
        if let Some(slot) = out.get_mut(i) {
            let newest = if failed { &mut slot.2 } else { &mut slot.1 };
            if newest.is_none_or(|n| n < id) {
                *newest = Some(id);
            }
        }
    }
    out
}

/// Upsert of an actor's row keeping, per column, the newer of the stored and the new id.
fn actor_upsert_sql(backend: DbBackend) -> &'static str {
    const KEEP_NEWER: &str = "INSERT INTO \"activity_actors\" (\"tenant_id\", \"actor_kind\", \
         \"actor\", \"last_success_id\", \"last_failure_id\") VALUES ({1}, {2}, {3}, {4}, {5}) \
         ON CONFLICT (\"tenant_id\", \"actor_kind\", \"actor\") DO UPDATE SET \
         \"last_success_id\" = CASE WHEN \"excluded\".\"last_success_id\" IS NULL THEN \
         \"activity_actors\".\"last_success_id\" WHEN \"activity_actors\".\"last_success_id\" IS NULL \
         OR \"excluded\".\"last_success_id\" > \"activity_actors\".\"last_success_id\" THEN \
         \"excluded\".\"last_success_id\" ELSE \"activity_actors\".\"last_success_id\" END, \
         \"last_failure_id\" = CASE WHEN \"excluded\".\"last_failure_id\" IS NULL THEN \
         \"activity_actors\".\"last_failure_id\" WHEN \"activity_actors\".\"last_failure_id\" IS NULL \
         OR \"excluded\".\"last_failure_id\" > \"activity_actors\".\"last_failure_id\" THEN \
         \"excluded\".\"last_failure_id\" ELSE \"activity_actors\".\"last_failure_id\" END";
    static TEXTS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    per_backend(&TEXTS, backend, KEEP_NEWER, 5)
}

/// The first hour of `time` (drops are counted per hour).
pub fn hour_of(time: DateTime<Utc>) -> DateTime<Utc> {
    let secs = time.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(time)
}

impl Store {
    /// Writes `records` and adds `drops` (tenant, hour, records dropped) in one transaction.
    /// A body is kept only when its tenant keeps failed bodies. A record whose id repeats one
    /// of the same tenant in the batch is refused. When the batch is refused, each record is
    /// written alone, so one bad record loses only itself.
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn record_activity(
        &self,
        records: &[NewActivity],
        drops: &[(TenantId, DateTime<Utc>, u64)],
    ) -> StoreResult<ActivityWritten> {
        let keeping = self.tenants_keeping_bodies(records).await?;
        match self.write_activity(records, drops, &keeping).await {
            Ok(refused) => Ok(ActivityWritten {
                written: records.len() as u64 - refused,
                rejected: refused,
            }),
            Err(StoreError::Unavailable(e)) => Err(StoreError::Unavailable(e)),
            Err(batch_error) => {
                tracing::warn!(error = %batch_error, "activity batch refused; writing its records one by one");
                let mut out = ActivityWritten::default();
                if !drops.is_empty() {
                    self.write_activity(&[], drops, &keeping).await?;
                }
                for r in records {
                    match self
                        .write_activity(std::slice::from_ref(r), &[], &keeping)
                        .await
                    {
                        Ok(_) => out.written += 1,
                        Err(StoreError::Unavailable(e)) => return Err(StoreError::Unavailable(e)),
                        Err(e) => {
                            tracing::warn!(error = %e, "activity record refused");
                            out.rejected += 1;
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// The tenants among `records` with a body that keep failed bodies.
    async fn tenants_keeping_bodies(&self, records: &[NewActivity]) -> StoreResult<Vec<String>> {
        let mut tenants: Vec<&str> = records
            .iter()
            .filter(|r| r.body.is_some())
            .map(|r| r.tenant.as_str())
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        if tenants.is_empty() {
            return Ok(Vec::new());
        }
        Ok(tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(tenants))
            .filter(tenant::Column::ActivityKeepFailedBodies.eq(true))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect())
    }

    /// Writes one transaction of records; returns how many were refused as repeated ids.
    async fn write_activity(
        &self,
        records: &[NewActivity],
        drops: &[(TenantId, DateTime<Utc>, u64)],
        keeping: &[String],
    ) -> StoreResult<u64> {
        let kept = |r: &NewActivity| {
            r.body.is_some() && keeping.iter().any(|t| t.as_str() == r.tenant.as_str())
        };
        // Everything is encoded before the transaction begins: the write lock is held for
        // the statements only.
        let (batches, refused) = batch::cut(records, kept);
        let counts = batch::minute_counts(records);
        let txn = begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        for b in batches {
            txn.execute(Statement::from_sql_and_values(
                backend,
                batch_insert_sql(backend),
                [
                    Value::from(b.tenant),
                    Value::from(b.newest_id),
                    Value::from(b.oldest_id),
                    Value::from(b.size),
                    Value::from(b.failed),
                    Value::from(b.actors),
                    Value::from(b.resources),
                    Value::from(b.records),
                ],
            ))
            .await?;
        }
        // Rows of `activity_counts`, `activity_actors` and `activity_drops` are locked in one
        // order in every batch: two processes' batches naming the same rows in another order
        // would otherwise deadlock on PostgreSQL.
        for ((tenant, minute, actor_kind, actor, status, scim_type), n) in counts {
            txn.execute(Statement::from_sql_and_values(
                backend,
                count_upsert_sql(backend),
                [
                    Value::from(clean(tenant)),
                    Value::from(minute),
                    Value::from(clean(actor_kind)),
                    Value::from(clean(actor)),
                    Value::from(i32::from(status)),
                    Value::from(clean(scim_type)),
                    Value::from(n),
                ],
            ))
            .await?;
        }
        let mut actors = newest_by_actor(records);
        actors.sort_unstable_by(|a, b| {
            (
                a.0.tenant.as_str(),
                &a.0.record.actor_kind,
                &a.0.record.actor,
            )
                .cmp(&(
                    b.0.tenant.as_str(),
                    &b.0.record.actor_kind,
                    &b.0.record.actor,
                ))
        });
        for (r, success, failure) in actors {
            let id = |v: Option<&str>| Value::String(v.map(|v| Box::new(clean(v))));
            txn.execute(Statement::from_sql_and_values(
                backend,
                actor_upsert_sql(backend),
                [
                    Value::from(clean(r.tenant.as_str())),
                    Value::from(clean(&r.record.actor_kind)),
                    Value::from(clean(&r.record.actor)),
                    id(success),
                    id(failure),
                ],
            ))
            .await?;
        }
        let bodies: Vec<_> = records
            .iter()
            .filter(|r| kept(r))
            .filter_map(|r| {
                r.body.as_ref().map(|body| activity_body::ActiveModel {
                    record_id: Set(clean(&r.record.id)),
                    tenant_id: Set(r.tenant.as_str().to_owned()),
                    time: Set(r.record.time),
                    body: Set(clean(body)),
                })
            })
            .collect();
        for chunk in bodies.chunks(ROWS_PER_INSERT) {
            activity_body::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::column(activity_body::Column::RecordId)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        let mut drops: Vec<_> = drops.iter().collect();
        drops.sort_unstable_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        for (tenant, hour, dropped) in drops {
            let dropped = i64::try_from(*dropped).unwrap_or(i64::MAX);
            activity_drop::Entity::insert(activity_drop::ActiveModel {
                tenant_id: Set(tenant.as_str().to_owned()),
                hour: Set(*hour),
                dropped: Set(dropped),
            })
            .on_conflict(
                OnConflict::columns([activity_drop::Column::TenantId, activity_drop::Column::Hour])
                    .value(
                        activity_drop::Column::Dropped,
                        Expr::col((activity_drop::Entity, activity_drop::Column::Dropped))
                            .add(dropped),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(refused)
    }

    /// One page of `tenant`'s records, newest first.
    ///
    /// Batches are walked newest first (by their newest record); a record is answered once
    /// every batch that could hold a newer one has been read, so records of batches that
    /// overlap in time (two processes) come out in order. A read decodes at most
    /// [`MAX_SCAN`] records: a filter that matches few records answers a shorter page with a
    /// cursor where it stopped.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_activity(
        &self,
        tenant: &TenantId,
        query: &ActivityQuery,
    ) -> StoreResult<ActivityPage> {
        let limit = query.limit.clamp(1, MAX_PAGE) as usize;
        let lowest = query.since.map(id_floor);
        let below = match (query.before.clone(), query.until.map(id_floor)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let resource_id = query.resource_id.as_deref().map(clean);
        let actor = query.actor.as_deref().map(clean);
        let wanted = Wanted {
            lowest: lowest.as_deref(),
            below: below.as_deref(),
            status: query.status,
            method: query.method.as_deref(),
            actor: actor.as_deref(),
            resource_id: resource_id.as_deref(),
            scim_type: query.scim_type.as_deref(),
        };
        let db = self.db.scan();
        let backend = db.get_database_backend();
        // Batches whose newest record is at most MAX_SPAN_MS after the bound can hold a
        // record below it.
        let mut newest_below: Option<String> = below
            .as_deref()
            .map(|b| id_floor_ms(millis_of_id(b) + MAX_SPAN_MS + 1));
        let mut heap: BinaryHeap<ById> = BinaryHeap::new();
        let mut records: Vec<ActivityRecord> = Vec::with_capacity(limit);
        let mut scanned: u64 = 0;
        let mut next: Option<String> = None;
        'batches: loop {
            let mut sql = Sql::new(
                backend,
                "SELECT \"newest_id\", \"oldest_id\", \"size\", \"records\" \
                 FROM \"activity_batches\" WHERE",
            );
            sql.push(" \"tenant_id\" = {}", tenant.as_str());
            if let Some(n) = &newest_below {
                sql.push(" AND \"newest_id\" < {}", n.clone());
            }
            if let Some(l) = &lowest {
                sql.push(" AND \"newest_id\" >= {}", l.clone());
            }
            if let Some(id) = &resource_id {
                sql.push(&contains(backend, "resources"), format!(" {id} "));
            }
            if let Some(a) = &actor {
                sql.push(&contains(backend, "actors"), format!(" {a} "));
            }
            if wanted.only_failures() {
                sql.raw(" AND \"failed\" > 0");
            }
            sql.raw(&format!(" ORDER BY \"newest_id\" DESC LIMIT {FETCH}"));
            let rows = db.query_all(sql.build()).await?;
            let fetched = rows.len() as u64;
            for row in rows {
                let newest: String = row.try_get("", "newest_id")?;
                // Every record above this batch's newest has been met: answer them.
                while records.len() < limit && heap.peek().is_some_and(|r| r.0.id > newest) {
                    if let Some(r) = heap.pop() {
                        records.push(r.0);
                    }
                }
                if records.len() == limit {
                    break 'batches;
                }
                if scanned >= MAX_SCAN {
                    next = Some(just_above(&newest));
                    break 'batches;
                }
                newest_below = Some(newest);
                let oldest: String = row.try_get("", "oldest_id")?;
                if below.as_deref().is_some_and(|b| oldest.as_str() >= b) {
                    continue;
                }
                let size: i32 = row.try_get("", "size")?;
                scanned += u64::from(size.unsigned_abs());
                let text: String = row.try_get("", "records")?;
                heap.extend(
                    batch::decode(&text)
                        .into_iter()
                        .filter(|r| wanted.admits(r))
                        .map(ById),
                );
            }
            if fetched < FETCH {
                while records.len() < limit {
                    match heap.pop() {
                        Some(r) => records.push(r.0),
                        None => break,
                    }
                }
                break;
            }
        }
        if records.len() == limit {
            next = records.last().map(|r| r.id.clone());
        }
        self.mark_kept_bodies(tenant, &mut records).await?;
        Ok(ActivityPage { records, next })
    }

    /// Sets `has_body` of `records` to whether their body is still kept (a body goes after 7
    /// days, or when the tenant stops keeping them).
    async fn mark_kept_bodies(
        &self,
        tenant: &TenantId,
        records: &mut [ActivityRecord],
    ) -> StoreResult<()> {
        let flagged: Vec<String> = records
            .iter()
            .filter(|r| r.has_body)
            .map(|r| r.id.clone())
            .collect();
        if flagged.is_empty() {
            return Ok(());
        }
        let kept: Vec<String> = activity_body::Entity::find()
            .select_only()
            .column(activity_body::Column::RecordId)
            .filter(activity_body::Column::TenantId.eq(tenant.as_str()))
            .filter(activity_body::Column::RecordId.is_in(flagged))
            .into_tuple()
            .all(&self.db.scan())
            .await?;
        for r in records.iter_mut().filter(|r| r.has_body) {
            r.has_body = kept.contains(&r.id);
        }
        Ok(())
    }

    /// The record `id` of `tenant`, read from the batch that holds it.
    async fn find_activity_record(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<ActivityRecord>> {
        let db = self.db.scan();
        let backend = db.get_database_backend();
        let id = clean(id);
        let mut sql = Sql::new(
            backend,
            "SELECT \"records\" FROM \"activity_batches\" WHERE",
        );
        sql.push(" \"tenant_id\" = {}", tenant.as_str())
            .push(" AND \"newest_id\" >= {}", id.clone())
            .push(
                " AND \"newest_id\" < {}",
                id_floor_ms(millis_of_id(&id) + MAX_SPAN_MS + 1),
            )
            .push(" AND \"oldest_id\" <= {}", id.clone());
        for row in db.query_all(sql.build()).await? {
            let text: String = row.try_get("", "records")?;
            if let Some(r) = batch::decode(&text).into_iter().find(|r| r.id == id) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// One record of `tenant`, with its kept body.
    pub async fn get_activity_record(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<(ActivityRecord, Option<String>)> {
        let mut record = self
            .find_activity_record(tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let body = if record.has_body {
            activity_body::Entity::find_by_id(record.id.as_str())
                .filter(activity_body::Column::TenantId.eq(tenant.as_str()))
                .one(&self.db)
                .await?
                .map(|b| b.body)
        } else {
            None
        };
        record.has_body = body.is_some();
        Ok((record, body))
    }

    /// Requests per actor, status and `scimType` of `tenant` since `day_start`, with those
    /// since `hour_start` counted apart. Counts are kept per minute: each period starts at the
    /// beginning of the minute it starts in.
    pub async fn count_activity(
        &self,
        tenant: &TenantId,
        day_start: DateTime<Utc>,
        hour_start: DateTime<Utc>,
    ) -> StoreResult<Vec<ActivityCount>> {
        let db = self.db.scan();
        let backend = db.get_database_backend();
        let mut sql = Sql::new(
            backend,
            "SELECT \"actor_kind\", \"actor\", \"status\", \"scim_type\", \
             CAST(SUM(\"requests\") AS BIGINT) AS \"day_n\", \
             CAST(SUM(CASE WHEN \"minute\" >= ",
        );
        sql.push("{}", hour_start.timestamp().div_euclid(60))
            .raw(" THEN \"requests\" ELSE 0 END) AS BIGINT) AS \"hour_n\" FROM \"activity_counts\" WHERE")
            .push(" \"tenant_id\" = {}", tenant.as_str())
            .push(" AND \"minute\" >= {}", day_start.timestamp().div_euclid(60))
            .raw(" GROUP BY \"actor_kind\", \"actor\", \"status\", \"scim_type\"");
        let rows = db.query_all(sql.build()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let count = |name: &str| -> StoreResult<u64> {
                Ok(row
                    .try_get::<Option<i64>>("", name)?
                    .unwrap_or(0)
                    .unsigned_abs())
            };
            let scim_type: String = row.try_get("", "scim_type")?;
            out.push(ActivityCount {
                actor_kind: row.try_get("", "actor_kind")?,
                actor: row.try_get("", "actor")?,
                status: u16::try_from(row.try_get::<i32>("", "status")?).unwrap_or(0),
                scim_type: (!scim_type.is_empty()).then_some(scim_type),
                day: count("day_n")?,
                hour: count("hour_n")?,
            });
        }
        Ok(out)
    }

    /// The newest record of `actor` in `tenant` that succeeded (`failed = false`, status
    /// below 400) or failed (400 and above).
    pub async fn last_activity(
        &self,
        tenant: &TenantId,
        actor: &str,
        failed: bool,
    ) -> StoreResult<Option<ActivityRecord>> {
        use activity_actor::Column as C;
        let column = if failed {
            C::LastFailureId
        } else {
            C::LastSuccessId
        };
        let newest: Option<String> = activity_actor::Entity::find()
            .select_only()
            .column_as(column.max(), "newest")
            .filter(C::TenantId.eq(tenant.as_str()))
            .filter(C::Actor.eq(actor))
            .into_tuple::<Option<String>>()
            .one(&self.db.scan())
            .await?
            .flatten();
        match newest {
            Some(id) => self.find_activity_record(tenant, &id).await,
            None => Ok(None),
        }
    }

    /// Records of `tenant` dropped (a full queue) since `since`.
    pub async fn activity_dropped_since(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let rows = activity_drop::Entity::find()
            .filter(activity_drop::Column::TenantId.eq(tenant.as_str()))
            .filter(activity_drop::Column::Hour.gte(hour_of(since)))
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(|r| r.dropped.unsigned_abs()).sum())
    }

    /// The activity settings of `tenant`.
    pub async fn get_activity_settings(&self, tenant: &TenantId) -> StoreResult<ActivitySettings> {
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(ActivitySettings {
            retention_days: row.activity_retention_days,
            keep_failed_bodies: row.activity_keep_failed_bodies,
        })
    }

    /// Replaces the activity settings of `tenant`, audited when something changes. Turning
    /// the keeping of bodies off deletes the bodies kept.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn put_activity_settings(
        &self,
        tenant: &TenantId,
        settings: ActivitySettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<ActivitySettings> {
        let txn = begin_write(&self.db).await?;
        let row = tenant::Entity::find_by_id(tenant.as_str())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut changes = serde_json::Map::new();
        if row.activity_retention_days != settings.retention_days {
            changes.insert(
                "retentionDays".into(),
                json!({"from": row.activity_retention_days, "to": settings.retention_days}),
            );
        }
        if row.activity_keep_failed_bodies != settings.keep_failed_bodies {
            changes.insert(
                "keepFailedBodies".into(),
                json!({"from": row.activity_keep_failed_bodies, "to": settings.keep_failed_bodies}),
            );
        }
        if !changes.is_empty() {
            let mut active = row.into_active_model();
            active.activity_retention_days = Set(settings.retention_days);
            active.activity_keep_failed_bodies = Set(settings.keep_failed_bodies);
            active.update(&txn).await?;
            if !settings.keep_failed_bodies {
                activity_body::Entity::delete_many()
                    .filter(activity_body::Column::TenantId.eq(tenant.as_str()))
                    .exec(&txn)
                    .await?;
            }
            record(
                &txn,
                tenant,
                actor,
                Change {
                    action: "settings.update",
                    target_type: "settings",
                    target_id: "activity",
                    changes: serde_json::Value::Object(changes),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(settings)
    }

    /// Deletes records older than their tenant's retention (a batch goes when its newest
    /// record is older), their counts, bodies older than 7 days and drop counts older than the
    /// longest retention, in batches; returns the records deleted.
    pub async fn purge_old_activity(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut purged = 0;
        let tenants = tenant::Entity::find().all(&self.db).await?;
        for t in tenants {
            let cutoff = now - chrono::Duration::days(i64::from(t.activity_retention_days.max(1)));
            loop {
                let (batches, records) = self.purge_activity_batches(&t.id, cutoff).await?;
                purged += records;
                if batches < PURGE_BATCHES {
                    break;
                }
            }
            activity_count::Entity::delete_many()
                .filter(activity_count::Column::TenantId.eq(t.id.as_str()))
                .filter(activity_count::Column::Minute.lt(cutoff.timestamp().div_euclid(60)))
                .exec(&self.db)
                .await?;
            activity_body::Entity::delete_many()
                .filter(activity_body::Column::TenantId.eq(t.id.as_str()))
                .filter(activity_body::Column::Time.lt(cutoff))
                .exec(&self.db)
                .await?;
            // An actor whose every record is purged has no record left to point at.
            let floor = id_floor(cutoff);
            activity_actor::Entity::delete_many()
                .filter(activity_actor::Column::TenantId.eq(t.id.as_str()))
                .filter(
                    sea_orm::Condition::any()
                        .add(activity_actor::Column::LastSuccessId.is_null())
                        .add(activity_actor::Column::LastSuccessId.lt(floor.as_str())),
                )
                .filter(
                    sea_orm::Condition::any()
                        .add(activity_actor::Column::LastFailureId.is_null())
                        .add(activity_actor::Column::LastFailureId.lt(floor.as_str())),
                )
                .exec(&self.db)
                .await?;
        }
        let body_cutoff = now - chrono::Duration::days(BODY_RETENTION_DAYS);
        loop {
            let batch = Query::select()
                .column(activity_body::Column::RecordId)
                .from(activity_body::Entity)
                .and_where(activity_body::Column::Time.lt(body_cutoff))
                .limit(BATCH)
                .to_owned();
            let txn = begin_write(&self.db).await?;
            let ids: Vec<String> = {
                let backend = txn.get_database_backend();
                txn.query_all(backend.build(&batch))
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String>("", "record_id"))
                    .collect::<Result<_, _>>()?
            };
            if !ids.is_empty() {
                activity_body::Entity::delete_many()
                    .filter(activity_body::Column::RecordId.is_in(ids.clone()))
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await?;
            if (ids.len() as u64) < BATCH {
                break;
            }
        }
        let drops_cutoff = now - chrono::Duration::days(i64::from(*RETENTION_DAYS.end()));
        activity_drop::Entity::delete_many()
            .filter(activity_drop::Column::Hour.lt(drops_cutoff))
            .exec(&self.db)
            .await?;
        Ok(purged)
    }

    /// Deletes up to [`PURGE_BATCHES`] of `tenant`'s batches whose newest record is older
    /// than `cutoff`; returns the batches and the records deleted.
    async fn purge_activity_batches(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<(u64, u64)> {
        use activity_batch::Column as C;
        let txn = begin_write(&self.db).await?;
        let old: Vec<(String, i32)> = activity_batch::Entity::find()
            .select_only()
            .column(C::NewestId)
            .column(C::Size)
            .filter(C::TenantId.eq(tenant))
            .filter(C::NewestId.lt(id_floor(cutoff)))
            .order_by_asc(C::NewestId)
            .limit(PURGE_BATCHES)
            .into_tuple()
            .all(&txn)
            .await?;
        if !old.is_empty() {
            activity_batch::Entity::delete_many()
                .filter(C::TenantId.eq(tenant))
                .filter(C::NewestId.is_in(old.iter().map(|(id, _)| id.clone())))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let records = old.iter().map(|(_, n)| u64::from(n.unsigned_abs())).sum();
        Ok((old.len() as u64, records))
    }

    /// The cursor of the position after record `id` in `tenant`'s records (newest first).
    pub async fn seal_activity_cursor(&self, tenant: &TenantId, id: &str) -> StoreResult<String> {
        Ok(self.cursor_key().await?.seal(
            &["activity", tenant.as_str()],
            &Position::After(id.to_owned()),
        ))
    }

    /// The position of an activity cursor issued for `tenant`, or
    /// [`StoreError::InvalidCursor`].
    pub async fn open_activity_cursor(
        &self,
        tenant: &TenantId,
        cursor: &str,
    ) -> StoreResult<String> {
        match self
            .cursor_key()
            .await?
            .open(&["activity", tenant.as_str()], cursor)?
        {
            Position::After(id) => Ok(id),
            Position::Offset(_) => Err(StoreError::InvalidCursor),
        }
    }
}

/// Deletes everything of tenant `id`'s activity on `txn` (its deletion's transaction).
pub(crate) async fn delete_tenant_activity<C: ConnectionTrait>(
    txn: &C,
    id: &TenantId,
) -> StoreResult<()> {
    activity_body::Entity::delete_many()
        .filter(activity_body::Column::TenantId.eq(id.as_str()))
        .exec(txn)
        .await?;
    activity_batch::Entity::delete_many()
        .filter(activity_batch::Column::TenantId.eq(id.as_str()))
        .exec(txn)
        .await?;
    activity_count::Entity::delete_many()
        .filter(activity_count::Column::TenantId.eq(id.as_str()))
        .exec(txn)
        .await?;
    activity_drop::Entity::delete_many()
        .filter(activity_drop::Column::TenantId.eq(id.as_str()))
        .exec(txn)
        .await?;
    activity_actor::Entity::delete_many()
        .filter(activity_actor::Column::TenantId.eq(id.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_records_by_time_and_time_bounds_are_id_bounds() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:42:17.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        let id = activity_id(t);
        assert!(id.as_str() >= id_floor(t).as_str());
        assert!(id.as_str() < id_floor(t + chrono::Duration::milliseconds(1)).as_str());
        assert!(id.as_str() > activity_id(t - chrono::Duration::milliseconds(1)).as_str());
        assert!(id.as_str() < activity_id(t + chrono::Duration::microseconds(1)).as_str());
        assert!(id.as_str() > activity_id(t - chrono::Duration::microseconds(1)).as_str());
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    }

    #[test]
    fn statements_number_their_placeholders_per_backend() {
        let pg = count_upsert_sql(DbBackend::Postgres);
        assert!(
            pg.contains("$7") && !pg.contains("$8") && !pg.contains('{'),
            "{pg}"
        );
        assert_eq!(batch_insert_sql(DbBackend::Sqlite).matches('?').count(), 8);
        let mut sql = Sql::new(DbBackend::Postgres, "SELECT 1 WHERE");
        sql.push(" a = {}", 1).push(" AND b = {}", 2);
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b = $2");
    }

    #[test]
    fn a_batch_names_each_actors_newest_success_and_failure() {
        let t = TenantId::parse("acme").unwrap();
        let rec = |actor: &str, id: &str, status: u16| NewActivity {
            tenant: t.clone(),
            record: ActivityRecord {
                id: id.into(),
                time: Utc::now(),
                request_id: None,
                actor_kind: "key".into(),
                actor: actor.into(),
                identity_provider: "other".into(),
                method: "GET".into(),
                path: "/".into(),
                resource_type: None,
                resource_id: None,
                filter: None,
                status,
                scim_type: None,
                detail: None,
                latency_ms: 0,
                summary: "".into(),
                attributes: Vec::new(),
                has_body: false,
            },
            body: None,
        };
        let batch = [
            rec("a", "3", 200),
            rec("b", "1", 500),
            rec("a", "5", 200),
            rec("a", "4", 404),
            rec("a", "2", 500),
        ];
        let got: Vec<_> = newest_by_actor(&batch)
            .into_iter()
            .map(|(r, s, f)| (r.record.actor.as_str(), s, f))
            .collect();
        assert_eq!(got, [("a", Some("5"), Some("4")), ("b", None, Some("1"))]);
    }

    #[test]
    fn hours_start_on_the_hour() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:42:17.5Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        assert_eq!(hour_of(t).to_rfc3339(), "2026-12-07T10:00:00+00:00");
    }
}
