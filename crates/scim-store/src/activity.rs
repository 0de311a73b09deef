//! Provisioning activity (issue 21): what each SCIM or token request of a tenant was and how
//! it ended, written in batches by the service's recorder, read newest first by the admin.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    cursor::Position,
    entity::{activity_actor, activity_body, activity_drop, activity_record, tenant},
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
    pub actor_kind: String,
    /// The key's name or the OAuth client's id.
    pub actor: String,
    /// `entra`, `okta` or `other`.
    pub identity_provider: String,
    /// The HTTP method.
    pub method: String,
    /// The path.
    pub path: String,
    /// `User`, `Group`, or none.
    pub resource_type: Option<String>,
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
    pub summary: String,
    /// The attribute paths it changed.
    pub attributes: Vec<String>,
    /// Whether the failed request's body is kept.
    pub has_body: bool,
}

/// The fields of a record only shown, as written into `details`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailsOut<'a> {
    /// Nanoseconds since the epoch: an integer is written in ~50 instructions, an RFC 3339
    /// text in ~2,500 (callgrind).
    time_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    identity_provider: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    latency_ms: u64,
    summary: &'a str,
    attributes: &'a [String],
}

/// `details` as read back.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DetailsIn {
    /// How records written before the integer time carry it (migration 000170).
    time: Option<DateTime<Utc>>,
    time_ns: Option<i64>,
    request_id: Option<String>,
    identity_provider: String,
    path: String,
    resource_type: Option<String>,
    filter: Option<String>,
    detail: Option<String>,
    latency_ms: u64,
    summary: String,
    attributes: Vec<String>,
}

impl From<activity_record::Model> for ActivityRecord {
    fn from(m: activity_record::Model) -> Self {
        let d: DetailsIn = serde_json::from_str(&m.details).unwrap_or_else(|e| {
            tracing::warn!(record = %m.id, error = %e, "activity record details unreadable");
            DetailsIn::default()
        });
        Self {
            time: d
                .time_ns
                .map(DateTime::from_timestamp_nanos)
                .or(d.time)
                .unwrap_or_else(|| time_of_id(&m.id)),
            id: m.id,
            request_id: d.request_id,
            actor_kind: m.actor_kind,
            actor: m.actor,
            identity_provider: d.identity_provider,
            method: m.method,
            path: d.path,
            resource_type: d.resource_type,
            resource_id: m.resource_id,
            filter: d.filter,
            status: u16::try_from(m.status).unwrap_or(0),
            scim_type: m.scim_type,
            detail: d.detail,
            latency_ms: d.latency_ms,
            summary: d.summary,
            attributes: d.attributes,
            has_body: m.has_body,
        }
    }
}

/// The millisecond a record id (a UUIDv7) was made, for a record whose `details` lost its time.
fn time_of_id(id: &str) -> DateTime<Utc> {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    i64::from_str_radix(&hex, 16)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default()
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
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The lowest id a record of `time` (or later) can have.
fn id_floor(time: DateTime<Utc>) -> String {
    let ms = time.timestamp_millis().max(0).unsigned_abs() & 0xFFFF_FFFF_FFFF;
    format!(
        "{:08x}-{:04x}-7000-8000-000000000000",
        ms >> 16,
        ms & 0xFFFF
    )
}

/// The columns of `activity_records` in the order [`insert_sql`] binds them.
const COLUMNS: &str = "\"tenant_id\", \"id\", \"actor_kind\", \"actor\", \"method\", \
     \"resource_id\", \"status\", \"scim_type\", \"has_body\", \"details\"";
const COLUMN_COUNT: usize = 10;

/// `INSERT` of `rows` records: the same text for the same number of rows, so each database
/// prepares it once (batches are cut into chunks of a few fixed sizes).
fn insert_sql(backend: DbBackend, rows: usize) -> String {
    let mut sql = format!("INSERT INTO \"activity_records\" ({COLUMNS}) VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMN_COUNT {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// [`insert_sql`] for one of the [`CHUNKS`] sizes, built once per process.
fn cached_insert_sql(backend: DbBackend, rows: usize) -> String {
    static TEXTS: std::sync::OnceLock<[[String; 4]; 2]> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        [DbBackend::Postgres, DbBackend::Sqlite].map(|b| CHUNKS.map(|n| insert_sql(b, n)))
    });
    let by_backend = usize::from(backend != DbBackend::Postgres);
    match CHUNKS.iter().position(|n| *n == rows) {
        Some(i) => texts
            .get(by_backend)
            .and_then(|t| t.get(i))
            .cloned()
            .unwrap_or_else(|| insert_sql(backend, rows)),
        None => insert_sql(backend, rows),
    }
}

/// Chunk sizes of an insert (largest first): few distinct statement texts.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The values of `new` in [`COLUMNS`] order, NUL characters (which PostgreSQL refuses in
/// text) replaced.
fn values(new: &NewActivity, has_body: bool, out: &mut Vec<sea_orm::Value>) {
    let r = &new.record;
    use sea_orm::Value;
    let text = |s: &str| Value::String(Some(Box::new(s.to_owned())));
    let opt = |s: &Option<String>| Value::String(s.as_deref().map(|s| Box::new(s.to_owned())));
    // A NUL anywhere (rare): the record is written with its NULs replaced, in `details` as
    // elsewhere, so that `details` stays valid as PostgreSQL `jsonb` too.
    if record_has_nul(r) {
        let mut cleaned = new.clone();
        replace_nul(&mut cleaned.record);
        return values(&cleaned, has_body, out);
    }
    let details = DetailsOut {
        time_ns: r.time.timestamp_nanos_opt().unwrap_or_default(),
        request_id: r.request_id.as_deref(),
        identity_provider: &r.identity_provider,
        path: &r.path,
        resource_type: r.resource_type.as_deref(),
        filter: r.filter.as_deref(),
        detail: r.detail.as_deref(),
        latency_ms: r.latency_ms,
        summary: &r.summary,
        attributes: &r.attributes,
    };
    // Serialising borrowed strings cannot fail.
    let details = serde_json::to_string(&details).unwrap_or_else(|_| "{}".to_owned());
    out.extend([
        text(new.tenant.as_str()),
        text(&r.id),
        text(&r.actor_kind),
        text(&r.actor),
        text(&r.method),
        opt(&r.resource_id),
        Value::Int(Some(i32::from(r.status))),
        opt(&r.scim_type),
        Value::Bool(Some(has_body)),
        Value::String(Some(Box::new(details))),
    ]);
}

fn record_has_nul(r: &ActivityRecord) -> bool {
    let some = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
    [
        &r.id,
        &r.actor_kind,
        &r.actor,
        &r.identity_provider,
        &r.method,
        &r.path,
        &r.summary,
    ]
    .iter()
    .any(|s| s.contains('\0'))
        || [
            &r.request_id,
            &r.resource_type,
            &r.resource_id,
            &r.filter,
            &r.scim_type,
            &r.detail,
        ]
        .iter()
        .any(|s| some(s))
        || r.attributes.iter().any(|a| a.contains('\0'))
}

fn replace_nul(r: &mut ActivityRecord) {
    let fix = |s: &mut String| {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    };
    for s in [
        &mut r.id,
        &mut r.actor_kind,
        &mut r.actor,
        &mut r.identity_provider,
        &mut r.method,
        &mut r.path,
        &mut r.summary,
    ] {
        fix(s);
    }
    for s in [
        &mut r.request_id,
        &mut r.resource_type,
        &mut r.resource_id,
        &mut r.filter,
        &mut r.scim_type,
        &mut r.detail,
    ]
    .into_iter()
    .flatten()
    {
        fix(s);
    }
    r.attributes.iter_mut().for_each(fix);
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
    let texts = TEXTS.get_or_init(|| {
        let mut pg = KEEP_NEWER.to_owned();
        let mut sqlite = KEEP_NEWER.to_owned();
        for i in 1..=5 {
            pg = pg.replace(&format!("{{{i}}}"), &format!("${i}"));
            sqlite = sqlite.replace(&format!("{{{i}}}"), "?");
        }
        [pg, sqlite]
    });
    match backend {
        DbBackend::Postgres => &texts[0],
        _ => &texts[1],
    }
}

/// The first hour of `time` (drops are counted per hour).
pub fn hour_of(time: DateTime<Utc>) -> DateTime<Utc> {
    let secs = time.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(time)
}

impl Store {
    /// Writes `records` and adds `drops` (tenant, hour, records dropped) in one transaction.
    /// A body is kept only when its tenant keeps failed bodies. When the batch is refused, each
    /// record is written alone, so one bad record loses only itself.
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn record_activity(
        &self,
        records: &[NewActivity],
        drops: &[(TenantId, DateTime<Utc>, u64)],
    ) -> StoreResult<ActivityWritten> {
        let keeping = self.tenants_keeping_bodies(records).await?;
        match self.write_activity(records, drops, &keeping).await {
            Ok(()) => Ok(ActivityWritten {
                written: records.len() as u64,
                rejected: 0,
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
                        Ok(()) => out.written += 1,
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

    async fn write_activity(
        &self,
        records: &[NewActivity],
        drops: &[(TenantId, DateTime<Utc>, u64)],
        keeping: &[String],
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let kept = |r: &NewActivity| {
            r.body.is_some() && keeping.iter().any(|t| t.as_str() == r.tenant.as_str())
        };
        let backend = txn.get_database_backend();
        let mut rest = records;
        while !rest.is_empty() {
            let size = CHUNKS.into_iter().find(|c| *c <= rest.len()).unwrap_or(1);
            let (chunk, tail) = rest.split_at(size);
            let mut binds = Vec::with_capacity(size * COLUMN_COUNT);
            for r in chunk {
                values(r, kept(r), &mut binds);
            }
            txn.execute(Statement::from_sql_and_values(
                backend,
                cached_insert_sql(backend, size),
                binds,
            ))
            .await?;
            rest = tail;
        }
        // Rows of `activity_actors` (and of `activity_drops` below) are locked in one order
        // in every batch: two processes' batches naming the same actors in another order
        // would otherwise deadlock on PostgreSQL.
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
            use sea_orm::Value;
            let id = |v: Option<&str>| Value::String(v.map(|v| Box::new(v.to_owned())));
            let clean = |s: &str| Value::String(Some(Box::new(s.replace('\0', "\u{FFFD}"))));
            txn.execute(Statement::from_sql_and_values(
                backend,
                actor_upsert_sql(backend),
                [
                    clean(r.tenant.as_str()),
                    clean(&r.record.actor_kind),
                    clean(&r.record.actor),
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
                    record_id: Set(r.record.id.clone()),
                    tenant_id: Set(r.tenant.as_str().to_owned()),
                    time: Set(r.record.time),
                    body: Set(body.replace('\0', "\u{FFFD}")),
                })
            })
            .collect();
        for chunk in bodies.chunks(ROWS_PER_INSERT) {
            activity_body::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
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
        Ok(())
    }

    /// One page of `tenant`'s records, newest first.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_activity(
        &self,
        tenant: &TenantId,
        query: &ActivityQuery,
    ) -> StoreResult<ActivityPage> {
        use activity_record::Column as C;
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut select = activity_record::Entity::find().filter(C::TenantId.eq(tenant.as_str()));
        // Time bounds are id bounds (ids are UUIDv7s of the records' times), on the key.
        if let Some(since) = query.since {
            select = select.filter(C::Id.gte(id_floor(since)));
        }
        if let Some(until) = query.until {
            select = select.filter(C::Id.lt(id_floor(until)));
        }
        match query.status {
            Some(StatusFilter::Class(class)) => {
                let low = i32::from(class) * 100;
                select = select
                    .filter(C::Status.gte(low))
                    .filter(C::Status.lt(low + 100));
            }
            Some(StatusFilter::Code(code)) => select = select.filter(C::Status.eq(i32::from(code))),
            None => {}
        }
        if let Some(method) = &query.method {
            select = select.filter(C::Method.eq(method.as_str()));
        }
        if let Some(actor) = &query.actor {
            select = select.filter(C::Actor.eq(actor.as_str()));
        }
        if let Some(id) = &query.resource_id {
            select = select.filter(C::ResourceId.eq(id.as_str()));
        }
        if let Some(scim_type) = &query.scim_type {
            select = select.filter(C::ScimType.eq(scim_type.as_str()));
        }
        if let Some(id) = &query.before {
            select = select.filter(C::Id.lt(id.as_str()));
        }
        let rows = select
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.db.scan())
            .await?;
        let full = rows.len() as u64 >= limit;
        let records: Vec<ActivityRecord> = rows.into_iter().map(ActivityRecord::from).collect();
        let next = match records.last() {
            Some(last) if full => Some(last.id.clone()),
            _ => None,
        };
        Ok(ActivityPage { records, next })
    }

    /// One record of `tenant`, with its kept body.
    pub async fn get_activity_record(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<(ActivityRecord, Option<String>)> {
        let row = activity_record::Entity::find()
            .filter(activity_record::Column::TenantId.eq(tenant.as_str()))
            .filter(activity_record::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        let body = if row.has_body {
            activity_body::Entity::find_by_id(id)
                .filter(activity_body::Column::TenantId.eq(tenant.as_str()))
                .one(&self.db)
                .await?
                .map(|b| b.body)
        } else {
            None
        };
        Ok((row.into(), body))
    }

    /// Requests per actor, status and `scimType` of `tenant` since `day_start`, with those
    /// since `hour_start` counted apart.
    pub async fn count_activity(
        &self,
        tenant: &TenantId,
        day_start: DateTime<Utc>,
        hour_start: DateTime<Utc>,
    ) -> StoreResult<Vec<ActivityCount>> {
        use activity_record::Column as C;
        let select = Query::select()
            .column(C::ActorKind)
            .column(C::Actor)
            .column(C::Status)
            .column(C::ScimType)
            .expr_as(
                Expr::col(C::Id).count(),
                sea_orm::sea_query::Alias::new("day_n"),
            )
            .expr_as(
                sea_orm::sea_query::Func::sum(
                    Expr::case(Expr::col(C::Id).gte(id_floor(hour_start)), 1).finally(0),
                ),
                sea_orm::sea_query::Alias::new("hour_n"),
            )
            .from(activity_record::Entity)
            .and_where(C::TenantId.eq(tenant.as_str()))
            .and_where(C::Id.gte(id_floor(day_start)))
            .group_by_columns([C::ActorKind, C::Actor, C::Status, C::ScimType])
            .to_owned();
        let db = self.db.scan();
        let backend = db.get_database_backend();
        let rows = db.query_all(backend.build(&select)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let count = |name: &str| -> StoreResult<u64> {
                Ok(row
                    .try_get::<Option<i64>>("", name)?
                    .unwrap_or(0)
                    .unsigned_abs())
            };
            out.push(ActivityCount {
                actor_kind: row.try_get("", "actor_kind")?,
                actor: row.try_get("", "actor")?,
                status: u16::try_from(row.try_get::<i32>("", "status")?).unwrap_or(0),
                scim_type: row.try_get("", "scim_type")?,
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
        let Some(id) = newest else {
            return Ok(None);
        };
        Ok(activity_record::Entity::find()
            .filter(activity_record::Column::TenantId.eq(tenant.as_str()))
            .filter(activity_record::Column::Id.eq(id))
            .one(&self.db.scan())
            .await?
            .map(ActivityRecord::from))
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
                activity_record::Entity::update_many()
                    .col_expr(activity_record::Column::HasBody, Expr::value(false))
                    .filter(activity_record::Column::TenantId.eq(tenant.as_str()))
                    .filter(activity_record::Column::HasBody.eq(true))
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

    /// Deletes records older than their tenant's retention, bodies older than 7 days and
    /// drop counts older than the longest retention, in batches; returns the records deleted.
    pub async fn purge_old_activity(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut purged = 0;
        let tenants = tenant::Entity::find().all(&self.db).await?;
        for t in tenants {
            let cutoff = now - chrono::Duration::days(i64::from(t.activity_retention_days.max(1)));
            loop {
                let deleted = self.purge_activity_batch(&t.id, cutoff).await?;
                purged += deleted;
                if deleted < BATCH {
                    break;
                }
            }
            // An actor whose every record is purged has no row left to point at.
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
                activity_record::Entity::update_many()
                    .col_expr(activity_record::Column::HasBody, Expr::value(false))
                    .filter(activity_record::Column::Id.is_in(ids.clone()))
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

    async fn purge_activity_batch(&self, tenant: &str, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        use activity_record::Column as C;
        let txn = begin_write(&self.db).await?;
        let ids: Vec<String> = activity_record::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::TenantId.eq(tenant))
            .filter(C::Id.lt(id_floor(cutoff)))
            .order_by_asc(C::Id)
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if !ids.is_empty() {
            activity_body::Entity::delete_many()
                .filter(activity_body::Column::RecordId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            activity_record::Entity::delete_many()
                .filter(C::TenantId.eq(tenant))
                .filter(C::Id.is_in(ids.clone()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(ids.len() as u64)
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
    activity_record::Entity::delete_many()
        .filter(activity_record::Column::TenantId.eq(id.as_str()))
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
    fn insert_statements_bind_every_column() {
        let sql = insert_sql(DbBackend::Postgres, 2);
        assert!(sql.contains("$20") && !sql.contains("$21"), "{sql}");
        assert_eq!(
            insert_sql(DbBackend::Sqlite, 4).matches('?').count(),
            4 * COLUMN_COUNT
        );
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
                summary: String::new(),
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
    fn details_round_trip_and_a_nul_is_replaced_everywhere() {
        let t = TenantId::parse("acme").unwrap();
        let time = DateTime::parse_from_rfc3339("2026-12-07T10:42:17.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        let record = ActivityRecord {
            id: activity_id(time),
            time,
            request_id: Some("r1".into()),
            actor_kind: "key".into(),
            actor: "en\0tra".into(),
            identity_provider: "entra".into(),
            method: "PATCH".into(),
            path: "/scim/v2/Users/\"x\"".into(),
            resource_type: Some("User".into()),
            resource_id: Some("x".into()),
            filter: Some("a\0b".into()),
            status: 409,
            scim_type: Some("uniqueness".into()),
            detail: Some("taken \\u0000".into()),
            latency_ms: 12,
            summary: "PATCH replace userName".into(),
            attributes: vec!["userName".into(), "x\0y".into()],
            has_body: false,
        };
        let mut binds = Vec::new();
        values(
            &NewActivity {
                tenant: t,
                record: record.clone(),
                body: None,
            },
            false,
            &mut binds,
        );
        assert_eq!(binds.len(), COLUMN_COUNT);
        let text = |v: &sea_orm::Value| match v {
            sea_orm::Value::String(Some(s)) => s.as_str().to_owned(),
            other => panic!("{other:?}"),
        };
        let model = activity_record::Model {
            tenant_id: text(&binds[0]),
            id: text(&binds[1]),
            actor_kind: text(&binds[2]),
            actor: text(&binds[3]),
            method: text(&binds[4]),
            resource_id: Some(text(&binds[5])),
            status: 409,
            scim_type: Some(text(&binds[7])),
            has_body: false,
            details: text(&binds[9]),
        };
        assert!(!model.details.contains('\0'));
        let back = ActivityRecord::from(model);
        let mut expected = record;
        expected.actor = "en\u{FFFD}tra".into();
        expected.filter = Some("a\u{FFFD}b".into());
        expected.attributes[1] = "x\u{FFFD}y".into();
        assert_eq!(back, expected);
    }

    #[test]
    fn hours_start_on_the_hour() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:42:17.5Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        assert_eq!(hour_of(t).to_rfc3339(), "2026-12-07T10:00:00+00:00");
    }
}
