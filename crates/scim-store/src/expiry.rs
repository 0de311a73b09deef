//! Key expiry in the database: the outbox of expiry warnings (queued in the transaction that
//! decides them, claimed by one mailer at a time, marked sent only after the SMTP server took
//! the message) and the purge of keys 90 days after their expiry.
//!
//! Many processes may run these functions at once against one PostgreSQL: a unique index on
//! (key, expiry date, threshold) makes each warning exist once, and claims and purges lock rows
//! with `FOR UPDATE SKIP LOCKED`, so two processes never take the same row. On SQLite one writer
//! at a time does the same. Work is done in bounded batches, so memory does not grow with the
//! number of keys.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::{Expr, LockBehavior, LockType, OnConflict, Query},
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{api_key, audit_event, expiry_notice, machine, tenant, webhook_endpoint},
    Page, Store, StoreResult, TenantId,
};

/// Where a notice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeStatus {
    /// Waiting for the mailer (also while retrying after a failure).
    Queued,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after the configured number of tries.
    Failed,
    /// The tenant has no admin e-mail: nothing can be sent (reported, never dropped silently).
    NoRecipient,
    /// The key was revoked, deleted or rotated (new expiry) before the warning went out.
    Cancelled,
}

impl NoticeStatus {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::NoRecipient => "no_recipient",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name (unknown names read as `failed`, which asks for attention).
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "no_recipient" => Self::NoRecipient,
            "cancelled" => Self::Cancelled,
            _ => Self::Failed,
        }
    }
}

/// What a notice of the mail outbox is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A key's expiry warning (or expiry notice).
    KeyExpiry,
    /// A webhook endpoint or pushed event stream failing for a day: `api_key_id` is its id,
    /// `key_label` its URL, `key_scope` `webhook` or `event_stream`, `key_expires_at` the
    /// start of the failures.
    DestinationFailing,
}

impl NoticeKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyExpiry => "key_expiry",
            Self::DestinationFailing => "destination_failing",
        }
    }

    /// From the stored spelling (anything else is a key expiry, the column's default).
    pub fn parse(s: &str) -> Self {
        if s == "destination_failing" {
            Self::DestinationFailing
        } else {
            Self::KeyExpiry
        }
    }
}

/// One expiry warning (or expiry notice, threshold 0) of one key, with what the mail says.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiryNotice {
    /// Notice id.
    pub id: String,
    /// The key's tenant.
    pub tenant_id: TenantId,
    /// The key's id (the key may since have been purged).
    pub api_key_id: String,
    /// The key's name when the notice was queued.
    pub key_name: String,
    /// The key's label when the notice was queued.
    pub key_label: Option<String>,
    /// The key's scope.
    pub key_scope: String,
    /// The name of the key's machine, if any.
    pub machine_name: Option<String>,
    /// The expiry this notice is about.
    pub key_expires_at: DateTime<Utc>,
    /// Days before expiry (30, 7, 1), or 0 for "has expired".
    pub threshold_days: i32,
    /// The tenant's admin e-mail when queued.
    pub recipient: Option<String>,
    /// Language of the mail (`en`, `fr`).
    pub locale: String,
    /// Delivery state.
    pub status: NoticeStatus,
    /// Delivery attempts made.
    pub attempts: i32,
    /// Earliest time of the next attempt.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the notice was queued.
    pub created_at: DateTime<Utc>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// What it is about.
    pub kind: NoticeKind,
}

/// What one queueing pass wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuedNotices {
    /// Notices queued for delivery.
    pub queued: u64,
    /// Notices that cannot be delivered: the tenant has no admin e-mail.
    pub no_recipient: u64,
}

/// A notice this process has claimed for delivery until the lease ends.
#[derive(Debug, Clone)]
pub struct ClaimedNotice {
    /// The notice.
    pub notice: ExpiryNotice,
    /// The claim; marking the notice needs it, so a lapsed claim cannot overwrite another's.
    pub claim: String,
}

/// Which notices to list.
#[derive(Debug, Clone, Default)]
pub struct NoticeQuery {
    /// Only notices in this state.
    pub status: Option<NoticeStatus>,
    /// Only notices about the key of this name.
    pub key_name: Option<String>,
    /// Notices to skip (newest first).
    pub offset: u64,
    /// Largest number returned.
    pub limit: u64,
}

/// Rows written per transaction.
const BATCH: u64 = 500;

fn is_postgres<C: ConnectionTrait>(conn: &C) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

/// `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time anyway
/// and no such clause.
pub(crate) fn skip_locked<E: EntityTrait, C: ConnectionTrait>(
    select: Select<E>,
    conn: &C,
) -> Select<E> {
    if is_postgres(conn) {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        select
    }
}

/// The time bands of the thresholds: `(threshold, after, until]` of `expires_at`. `thresholds`
/// are days before expiry, any order; band 0 ("has expired") runs from `now - retention` to now.
fn bands(
    thresholds: &[u32],
    now: DateTime<Utc>,
    retention: Duration,
) -> Vec<(i32, DateTime<Utc>, DateTime<Utc>)> {
    let mut days: Vec<u32> = thresholds.iter().copied().filter(|d| *d > 0).collect();
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    let mut out = Vec::with_capacity(days.len() + 1);
    for (i, d) in days.iter().enumerate() {
        let lower = days.get(i + 1).copied().unwrap_or(0);
        out.push((
            i32::try_from(*d).unwrap_or(i32::MAX),
            now + Duration::days(i64::from(lower)),
            now + Duration::days(i64::from(*d)),
        ));
    }
    out.push((0, now - retention, now));
    out
}

impl Store {
    /// Queues the expiry warnings that are due at `now`: for each key that is not revoked and
    /// whose expiry is within a threshold (days before expiry), one notice for the tightest
    /// threshold it is within, unless it exists (a key entering the window late gets only the
    /// warning that fits); and one "has expired" notice (threshold 0) for keys expired less than
    /// `retention` ago. Idempotent; safe to run in many processes at once.
    #[tracing::instrument(skip_all)]
    pub async fn queue_expiry_notices(
        &self,
        thresholds: &[u32],
        retention: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<QueuedNotices> {
        let mut report = QueuedNotices::default();
        for (threshold, after, until) in bands(thresholds, now, retention) {
            let mut cursor = (after, String::new());
            loop {
                let (written, last) = self.queue_batch(threshold, &cursor, until, now).await?;
                report.queued += written.queued;
                report.no_recipient += written.no_recipient;
                match last {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// One batch of [`Store::queue_expiry_notices`]: the keys of one band after `cursor`
    /// (`(expires_at, id)`, walked in the order of the `(expires_at, id)` index, so each batch
    /// reads only its own rows); returns what was written and the cursor of the next batch
    /// (`None` when the band is done).
    async fn queue_batch(
        &self,
        threshold: i32,
        cursor: &(DateTime<Utc>, String),
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(QueuedNotices, Option<(DateTime<Utc>, String)>)> {
        let (after, last_id) = cursor;
        let txn = begin_write(&self.db).await?;
        let select = api_key::Entity::find()
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(api_key::Column::ExpiresAt.gte(*after))
            .filter(
                Condition::any()
                    .add(api_key::Column::ExpiresAt.gt(*after))
                    .add(api_key::Column::Id.gt(last_id.as_str())),
            )
            .filter(api_key::Column::ExpiresAt.lte(until))
            .filter(
                Condition::any()
                    .add(api_key::Column::ExpiryNotified.is_null())
                    .add(api_key::Column::ExpiryNotified.gt(threshold)),
            )
            .order_by_asc(api_key::Column::ExpiresAt)
            .order_by_asc(api_key::Column::Id)
            .limit(BATCH);
        let keys = skip_locked(select, &txn).all(&txn).await?;
        let Some(last) = keys.last().map(|k| (k.expires_at, k.id.clone())) else {
            txn.commit().await?;
            return Ok((QueuedNotices::default(), None));
        };

        let mut tenant_ids: Vec<&str> = keys.iter().map(|k| k.tenant_id.as_str()).collect();
        tenant_ids.sort_unstable();
        tenant_ids.dedup();
        let tenants: std::collections::HashMap<String, tenant::Model> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(tenant_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let machine_ids: Vec<&str> = keys
            .iter()
            .filter_map(|k| k.machine_id.as_deref())
            .collect();
        let machines: std::collections::HashMap<String, String> = if machine_ids.is_empty() {
            Default::default()
        } else {
            machine::Entity::find()
                .filter(machine::Column::Id.is_in(machine_ids))
                .all(&txn)
                .await?
                .into_iter()
                .map(|m| (m.id, m.name))
                .collect()
        };

        let conflict = OnConflict::columns([
            expiry_notice::Column::ApiKeyId,
            expiry_notice::Column::KeyExpiresAt,
            expiry_notice::Column::ThresholdDays,
        ])
        .do_nothing()
        .to_owned();
        let mut deliverable = Vec::with_capacity(keys.len());
        let mut report = QueuedNotices::default();
        for key in &keys {
            let tenant = tenants.get(&key.tenant_id);
            let recipient = tenant.and_then(|t| t.admin_email.clone());
            let row = expiry_notice::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(key.tenant_id.clone()),
                api_key_id: Set(key.id.clone()),
                key_name: Set(key.name.clone()),
                key_label: Set(key.label.clone()),
                key_scope: Set(key.scope.clone()),
                machine_name: Set(key
                    .machine_id
                    .as_ref()
                    .and_then(|m| machines.get(m).cloned())),
                key_expires_at: Set(key.expires_at),
                threshold_days: Set(threshold),
                recipient: Set(recipient.clone()),
                locale: Set(tenant.map_or_else(|| "en".to_owned(), |t| t.locale.clone())),
                status: Set(if recipient.is_some() {
                    NoticeStatus::Queued
                } else {
                    NoticeStatus::NoRecipient
                }
                .as_str()
                .to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                claim_id: Set(None),
                claimed_until: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
                kind: Set(NoticeKind::KeyExpiry.as_str().to_owned()),
            };
            if recipient.is_some() {
                deliverable.push(row);
                continue;
            }
            // Undeliverable: said loudly, once (the insert decides whether this pass is first).
            let inserted = expiry_notice::Entity::insert(row)
                .on_conflict(conflict.clone())
                .exec_without_returning(&txn)
                .await?;
            if inserted > 0 {
                report.no_recipient += 1;
                tracing::warn!(
                    tenant = %key.tenant_id,
                    key = %key.name,
                    threshold_days = threshold,
                    "expiry warning cannot be sent: the tenant has no admin e-mail"
                );
                record(
                    &txn,
                    &TenantId::new(key.tenant_id.clone()),
                    &Actor::local("system"),
                    Change {
                        action: "apiKey.expiryWarningUndeliverable",
                        target_type: "apiKey",
                        target_id: &key.name,
                        changes: json!({
                            "thresholdDays": threshold,
                            "expiresAt": key.expires_at,
                            "reason": "the tenant has no admin e-mail",
                        }),
                    },
                    now,
                )
                .await?;
            }
        }
        if !deliverable.is_empty() {
            report.queued += expiry_notice::Entity::insert_many(deliverable)
                .on_conflict(conflict)
                .exec_without_returning(&txn)
                .await?;
        }
        api_key::Entity::update_many()
            .col_expr(api_key::Column::ExpiryNotified, Expr::value(threshold))
            .filter(api_key::Column::Id.is_in(keys.iter().map(|k| k.id.clone())))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok((report, Some(last)))
    }

    /// Deletes the keys (revoked ones included) that expired `retention` or longer before
    /// `now`, with their notices, leaving one `apiKey.purge` audit event each. Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_keys(
        &self,
        retention: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut purged = 0;
        loop {
            let txn = begin_write(&self.db).await?;
            let select = api_key::Entity::find()
                .filter(api_key::Column::ExpiresAt.lte(now - retention))
                .order_by_asc(api_key::Column::ExpiresAt)
                .order_by_asc(api_key::Column::Id)
                .limit(BATCH);
            let keys = skip_locked(select, &txn).all(&txn).await?;
            if keys.is_empty() {
                txn.commit().await?;
                return Ok(purged);
            }
            let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
            expiry_notice::Entity::delete_many()
                .filter(expiry_notice::Column::ApiKeyId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            let deleted = api_key::Entity::delete_many()
                .filter(api_key::Column::Id.is_in(ids))
                .exec(&txn)
                .await?
                .rows_affected;
            let events = keys.iter().map(|k| audit_event::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(k.tenant_id.clone()),
                at: Set(now),
                actor: Set("system".into()),
                action: Set("apiKey.purge".into()),
                target_type: Set("apiKey".into()),
                target_id: Set(k.name.clone()),
                changes: Set(json!({
                    "scope": k.scope,
                    "expiresAt": k.expires_at,
                    "revokedAt": k.revoked_at,
                })),
                caller_addr: Set(None),
            });
            audit_event::Entity::insert_many(events)
                .exec_without_returning(&txn)
                .await?;
            txn.commit().await?;
            purged += deleted;
        }
    }

    /// Claims up to `limit` queued notices due at `now` for delivery by this process, until
    /// `now + lease`; notices of keys revoked, deleted or rotated since, and of destinations
    /// removed, disabled or recovered since, are cancelled first.
    #[tracing::instrument(skip_all)]
    pub async fn claim_expiry_notices(
        &self,
        limit: u64,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedNotice>> {
        let live_key = Query::select()
            .expr(Expr::val(1))
            .from(api_key::Entity)
            .and_where(
                Expr::col((api_key::Entity, api_key::Column::Id))
                    .equals((expiry_notice::Entity, expiry_notice::Column::ApiKeyId)),
            )
            .and_where(
                Expr::col((api_key::Entity, api_key::Column::ExpiresAt))
                    .equals((expiry_notice::Entity, expiry_notice::Column::KeyExpiresAt)),
            )
            .and_where(Expr::col((api_key::Entity, api_key::Column::RevokedAt)).is_null())
            .to_owned();
        // A failing destination's notice holds while the same run of failures goes on.
        let still_failing = Query::select()
            .expr(Expr::val(1))
            .from(webhook_endpoint::Entity)
            .and_where(
                Expr::col((webhook_endpoint::Entity, webhook_endpoint::Column::Id))
                    .equals((expiry_notice::Entity, expiry_notice::Column::ApiKeyId)),
            )
            .and_where(
                Expr::col((
                    webhook_endpoint::Entity,
                    webhook_endpoint::Column::FailingSince,
                ))
                .equals((expiry_notice::Entity, expiry_notice::Column::KeyExpiresAt)),
            )
            .and_where(
                Expr::col((webhook_endpoint::Entity, webhook_endpoint::Column::Enabled)).eq(true),
            )
            .to_owned();
        let txn = begin_write(&self.db).await?;
        expiry_notice::Entity::update_many()
            .col_expr(
                expiry_notice::Column::Status,
                Expr::value(NoticeStatus::Cancelled.as_str()),
            )
            .filter(expiry_notice::Column::Status.eq(NoticeStatus::Queued.as_str()))
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(expiry_notice::Column::Kind.eq(NoticeKind::KeyExpiry.as_str()))
                            .add(Condition::all().not().add(Expr::exists(live_key))),
                    )
                    .add(
                        Condition::all()
                            .add(
                                expiry_notice::Column::Kind
                                    .eq(NoticeKind::DestinationFailing.as_str()),
                            )
                            .add(Condition::all().not().add(Expr::exists(still_failing))),
                    ),
            )
            .exec(&txn)
            .await?;
        let select = expiry_notice::Entity::find()
            .filter(expiry_notice::Column::Status.eq(NoticeStatus::Queued.as_str()))
            .filter(expiry_notice::Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(expiry_notice::Column::ClaimedUntil.is_null())
                    .add(expiry_notice::Column::ClaimedUntil.lte(now)),
            )
            .order_by_asc(expiry_notice::Column::NextAttemptAt)
            .order_by_asc(expiry_notice::Column::Id)
            .limit(limit);
        let rows = skip_locked(select, &txn).all(&txn).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let claim = uuid::Uuid::new_v4().to_string();
        expiry_notice::Entity::update_many()
            .col_expr(expiry_notice::Column::ClaimId, Expr::value(claim.clone()))
            .col_expr(
                expiry_notice::Column::ClaimedUntil,
                Expr::value(now + lease),
            )
            .filter(expiry_notice::Column::Id.is_in(rows.iter().map(|r| r.id.clone())))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedNotice {
                notice: r.into(),
                claim: claim.clone(),
            })
            .collect())
    }

    /// Marks a claimed notice sent (the SMTP server accepted it) and records the audit event.
    /// Returns `false` if the claim had lapsed and another process took the notice.
    #[tracing::instrument(skip_all, fields(tenant = %claimed.notice.tenant_id))]
    pub async fn mark_notice_sent(
        &self,
        claimed: &ClaimedNotice,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = &claimed.notice;
        let txn = begin_write(&self.db).await?;
        let updated = expiry_notice::Entity::update_many()
            .col_expr(
                expiry_notice::Column::Status,
                Expr::value(NoticeStatus::Sent.as_str()),
            )
            .col_expr(expiry_notice::Column::SentAt, Expr::value(now))
            .col_expr(
                expiry_notice::Column::Attempts,
                Expr::col(expiry_notice::Column::Attempts).add(1),
            )
            .col_expr(expiry_notice::Column::ClaimId, Expr::value(None::<String>))
            .col_expr(
                expiry_notice::Column::ClaimedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .filter(expiry_notice::Column::Id.eq(n.id.as_str()))
            .filter(expiry_notice::Column::ClaimId.eq(claimed.claim.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated > 0 {
            record(
                &txn,
                &n.tenant_id,
                &Actor::local("system"),
                Change {
                    action: "apiKey.expiryWarningSent",
                    target_type: "apiKey",
                    target_id: &n.key_name,
                    changes: json!({
                        "thresholdDays": n.threshold_days,
                        "expiresAt": n.key_expires_at,
                        "recipient": n.recipient,
                    }),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(updated > 0)
    }

    /// Records a failed delivery of a claimed notice: queued again for `retry_at`, or, when
    /// `retry_at` is `None`, given up (`failed`, with an audit event).
    #[tracing::instrument(skip_all, fields(tenant = %claimed.notice.tenant_id))]
    pub async fn mark_notice_failed(
        &self,
        claimed: &ClaimedNotice,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let n = &claimed.notice;
        let status = if retry_at.is_some() {
            NoticeStatus::Queued
        } else {
            NoticeStatus::Failed
        };
        let error: String = error.chars().take(1000).collect();
        let txn = begin_write(&self.db).await?;
        let updated = expiry_notice::Entity::update_many()
            .col_expr(expiry_notice::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                expiry_notice::Column::Attempts,
                Expr::col(expiry_notice::Column::Attempts).add(1),
            )
            .col_expr(
                expiry_notice::Column::NextAttemptAt,
                Expr::value(retry_at.unwrap_or(now)),
            )
            .col_expr(expiry_notice::Column::LastError, Expr::value(error.clone()))
            .col_expr(expiry_notice::Column::ClaimId, Expr::value(None::<String>))
            .col_expr(
                expiry_notice::Column::ClaimedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .filter(expiry_notice::Column::Id.eq(n.id.as_str()))
            .filter(expiry_notice::Column::ClaimId.eq(claimed.claim.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated > 0 && retry_at.is_none() {
            record(
                &txn,
                &n.tenant_id,
                &Actor::local("system"),
                Change {
                    action: "apiKey.expiryWarningFailed",
                    target_type: "apiKey",
                    target_id: &n.key_name,
                    changes: json!({
                        "thresholdDays": n.threshold_days,
                        "attempts": n.attempts + 1,
                        "error": error,
                    }),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The tenant's notices, newest first.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_expiry_notices(
        &self,
        tenant: &TenantId,
        query: &NoticeQuery,
    ) -> StoreResult<Page<ExpiryNotice>> {
        let mut select = expiry_notice::Entity::find()
            .filter(expiry_notice::Column::TenantId.eq(tenant.as_str()))
            .filter(expiry_notice::Column::Kind.eq(NoticeKind::KeyExpiry.as_str()));
        if let Some(status) = query.status {
            select = select.filter(expiry_notice::Column::Status.eq(status.as_str()));
        }
        if let Some(name) = &query.key_name {
            select = select.filter(expiry_notice::Column::KeyName.eq(name.as_str()));
        }
        let total = crate::count::count(select.clone(), &self.db.scan()).await?;
        let items = select
            .order_by_desc(expiry_notice::Column::CreatedAt)
            .order_by_desc(expiry_notice::Column::Id)
            .offset(query.offset)
            .limit(query.limit)
            .all(&self.db.scan())
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Page { total, items })
    }

    /// The notices of the given keys of the tenant (for key listings), oldest first.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn expiry_notices_of_keys(
        &self,
        tenant: &TenantId,
        key_ids: &[String],
    ) -> StoreResult<Vec<ExpiryNotice>> {
        let mut out = Vec::new();
        for chunk in key_ids.chunks(usize::try_from(BATCH).unwrap_or(usize::MAX)) {
            let rows = expiry_notice::Entity::find()
                .filter(expiry_notice::Column::TenantId.eq(tenant.as_str()))
                .filter(expiry_notice::Column::ApiKeyId.is_in(chunk.iter().cloned()))
                .order_by_asc(expiry_notice::Column::CreatedAt)
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(ExpiryNotice::from));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_window_without_overlap() {
        let now = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = bands(&[1, 30, 7, 7], now, Duration::days(90));
        assert_eq!(
            b.iter().map(|(t, _, _)| *t).collect::<Vec<_>>(),
            vec![30, 7, 1, 0]
        );
        for pair in b.windows(2) {
            assert_eq!(pair[0].1, pair[1].2, "bands touch: {pair:?}");
        }
        assert_eq!(b[0].2, now + Duration::days(30));
        assert_eq!(b[3].1, now - Duration::days(90));
    }
}
