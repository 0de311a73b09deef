//! Provisioning activity (issue 21): what each SCIM or token request of a tenant was and how
//! it ended, written in batches by the service's recorder, read newest first by the admin.

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    cursor::Position,
    entity::{activity_body, activity_drop, activity_record, tenant},
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
/// Rows per INSERT statement (about 20 values each, under every backend's parameter limit).
const ROWS_PER_INSERT: usize = 100;

/// A record to write: what the recorder gathered when a request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// UUIDv7 taken when the request ended.
    pub id: String,
    /// The tenant the request was attributed to.
    pub tenant: TenantId,
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
    /// The path, without its query.
    pub path: String,
    /// `User`, `Group`, or none.
    pub resource_type: Option<String>,
    /// The resource's id (from the path, or the one a create made).
    pub resource_id: Option<String>,
    /// The filter of a list or search.
    pub filter: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The SCIM `scimType` of an error.
    pub scim_type: Option<String>,
    /// The `detail` of an error.
    pub detail: Option<String>,
    /// Milliseconds from the request's arrival to its answer.
    pub latency_ms: u64,
    /// What the request did, in a line.
    pub summary: String,
    /// The attribute paths it changed.
    pub attributes: Vec<String>,
    /// The body of a failed request (passwords removed), kept only when the tenant asks.
    pub body: Option<String>,
}

/// A record as read back.
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

impl From<activity_record::Model> for ActivityRecord {
    fn from(m: activity_record::Model) -> Self {
        Self {
            id: m.id,
            time: m.time,
            request_id: m.request_id,
            actor_kind: m.actor_kind,
            actor: m.actor,
            identity_provider: m.identity_provider,
            method: m.method,
            path: m.path,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            filter: m.filter,
            status: u16::try_from(m.status).unwrap_or(0),
            scim_type: m.scim_type,
            detail: m.detail,
            latency_ms: m.latency_ms.unsigned_abs(),
            summary: m.summary,
            attributes: serde_json::from_value(m.attributes).unwrap_or_default(),
            has_body: m.has_body,
        }
    }
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
    /// Only records older than this one (a cursor's position: time and id).
    pub before: Option<(DateTime<Utc>, String)>,
    /// Most records.
    pub limit: u64,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone)]
pub struct ActivityPage {
    /// The records, newest first.
    pub records: Vec<ActivityRecord>,
    /// The position after the last record, when there may be more.
    pub next: Option<(DateTime<Utc>, String)>,
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

/// The record's columns, with NUL characters (which PostgreSQL refuses in text) replaced.
fn active(r: &NewActivity, has_body: bool) -> activity_record::ActiveModel {
    let clean = |s: &str| s.replace('\0', "\u{FFFD}");
    let opt = |s: &Option<String>| s.as_deref().map(clean);
    activity_record::ActiveModel {
        id: Set(r.id.clone()),
        tenant_id: Set(r.tenant.as_str().to_owned()),
        time: Set(r.time),
        request_id: Set(opt(&r.request_id)),
        actor_kind: Set(clean(&r.actor_kind)),
        actor: Set(clean(&r.actor)),
        identity_provider: Set(clean(&r.identity_provider)),
        method: Set(clean(&r.method)),
        path: Set(clean(&r.path)),
        resource_type: Set(opt(&r.resource_type)),
        resource_id: Set(opt(&r.resource_id)),
        filter: Set(opt(&r.filter)),
        status: Set(i32::from(r.status)),
        scim_type: Set(opt(&r.scim_type)),
        detail: Set(opt(&r.detail)),
        latency_ms: Set(i64::try_from(r.latency_ms).unwrap_or(i64::MAX)),
        summary: Set(clean(&r.summary)),
        attributes: Set(json!(r
            .attributes
            .iter()
            .map(|a| clean(a))
            .collect::<Vec<_>>())),
        has_body: Set(has_body),
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
        for chunk in records.chunks(ROWS_PER_INSERT) {
            activity_record::Entity::insert_many(chunk.iter().map(|r| active(r, kept(r))))
                .exec(&txn)
                .await?;
        }
        let bodies: Vec<_> = records
            .iter()
            .filter(|r| kept(r))
            .filter_map(|r| {
                r.body.as_ref().map(|body| activity_body::ActiveModel {
                    record_id: Set(r.id.clone()),
                    tenant_id: Set(r.tenant.as_str().to_owned()),
                    time: Set(r.time),
                    body: Set(body.replace('\0', "\u{FFFD}")),
                })
            })
            .collect();
        for chunk in bodies.chunks(ROWS_PER_INSERT) {
            activity_body::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await?;
        }
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
        if let Some(since) = query.since {
            select = select.filter(C::Time.gte(since));
        }
        if let Some(until) = query.until {
            select = select.filter(C::Time.lt(until));
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
        if let Some((time, id)) = &query.before {
            select = select.filter(
                sea_orm::Condition::any()
                    .add(C::Time.lt(*time))
                    .add(C::Time.eq(*time).and(C::Id.lt(id.as_str()))),
            );
        }
        let rows = select
            .order_by_desc(C::Time)
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.db.scan())
            .await?;
        let full = rows.len() as u64 >= limit;
        let records: Vec<ActivityRecord> = rows.into_iter().map(ActivityRecord::from).collect();
        let next = match records.last() {
            Some(last) if full => Some((last.time, last.id.clone())),
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
        let row = activity_record::Entity::find_by_id(id)
            .filter(activity_record::Column::TenantId.eq(tenant.as_str()))
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
                    Expr::case(Expr::col(C::Time).gte(hour_start), 1).finally(0),
                ),
                sea_orm::sea_query::Alias::new("hour_n"),
            )
            .from(activity_record::Entity)
            .and_where(C::TenantId.eq(tenant.as_str()))
            .and_where(C::Time.gte(day_start))
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
        use activity_record::Column as C;
        let status = if failed {
            C::Status.gte(400)
        } else {
            C::Status.lt(400)
        };
        Ok(activity_record::Entity::find()
            .filter(C::TenantId.eq(tenant.as_str()))
            .filter(C::Actor.eq(actor))
            .filter(status)
            .order_by_desc(C::Time)
            .order_by_desc(C::Id)
            .limit(1)
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
            .filter(C::Time.lt(cutoff))
            .order_by_asc(C::Time)
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

    /// The cursor of position `(time, id)` in `tenant`'s records.
    pub async fn seal_activity_cursor(
        &self,
        tenant: &TenantId,
        (time, id): &(DateTime<Utc>, String),
    ) -> StoreResult<String> {
        let position = Position::After(format!("{}|{id}", time.timestamp_micros()));
        Ok(self
            .cursor_key()
            .await?
            .seal(&["activity", tenant.as_str()], &position))
    }

    /// The position of an activity cursor issued for `tenant`, or
    /// [`StoreError::InvalidCursor`].
    pub async fn open_activity_cursor(
        &self,
        tenant: &TenantId,
        cursor: &str,
    ) -> StoreResult<(DateTime<Utc>, String)> {
        match self
            .cursor_key()
            .await?
            .open(&["activity", tenant.as_str()], cursor)?
        {
            Position::After(text) => {
                let (micros, id) = text.split_once('|').ok_or(StoreError::InvalidCursor)?;
                let time = micros
                    .parse::<i64>()
                    .ok()
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or(StoreError::InvalidCursor)?;
                Ok((time, id.to_owned()))
            }
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_start_on_the_hour() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:42:17.5Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        assert_eq!(hour_of(t).to_rfc3339(), "2026-12-07T10:00:00+00:00");
    }
}
