//! Webhook endpoints and their delivery state (issue 20): registration (audited), the claims
//! delivery processes take on endpoints with events to send, and the record of every attempt.
//! Which URLs and types are acceptable, the secret and the back-off are the service's rules;
//! the HTTP requests are `scim-webhooks`'.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::{Expr, Query},
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{event, webhook_attempt, webhook_endpoint, webhook_resend},
    Store, StoreError, StoreResult, TenantId,
};

/// Most endpoints a tenant may register.
pub const MAX_WEBHOOKS_PER_TENANT: u64 = 20;

/// A registered endpoint, as the admin API shows it (never its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Its id (UUIDv7).
    pub id: String,
    /// Where events are sent.
    pub url: String,
    /// The event types sent (`*` for all).
    pub event_types: Vec<String>,
    /// Whether events are sent (a disabled endpoint keeps its place and resumes from it).
    pub enabled: bool,
    /// The last event sequence sent (or passed over as not wanted).
    pub position: i64,
    /// Failed attempts at the next event.
    pub attempts: i32,
    /// When the next attempt may be made.
    pub next_attempt_at: DateTime<Utc>,
    /// Since when attempts have been failing, if they are.
    pub failing_since: Option<DateTime<Utc>>,
    /// When the admin was told the endpoint was failing.
    pub failure_notified_at: Option<DateTime<Utc>>,
    /// The last acknowledged delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last change of its settings.
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint, validated by the service.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Where events are sent.
    pub url: String,
    /// The event types sent.
    pub event_types: Vec<String>,
    /// Whether events are sent.
    pub enabled: bool,
    /// The signing secret (`whsec_…`).
    pub secret: String,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A change of an endpoint's settings (PUT replaces all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Where events are sent.
    pub url: String,
    /// The event types sent.
    pub event_types: Vec<String>,
    /// Whether events are sent.
    pub enabled: bool,
}

/// An endpoint a delivery process holds until `until`.
#[derive(Clone)]
pub struct ClaimedWebhook {
    /// The endpoint.
    pub id: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// Where events are sent.
    pub url: String,
    /// The event types sent (`*` for all).
    pub event_types: Vec<String>,
    /// The signing secret.
    pub secret: String,
    /// The last event sequence sent.
    pub position: i64,
    /// Failed attempts at the next event.
    pub attempts: i32,
    /// Since when attempts have been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// Who holds the claim.
    pub owner: String,
    /// A webhook endpoint or an event stream (whose `secret` is the receiver's bearer token,
    /// empty for none).
    pub destination: Destination,
}

/// What a claimed destination is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A webhook endpoint (Standard Webhooks requests).
    Webhook,
    /// An RFC 9967 event stream pushed by RFC 8935.
    PushedStream {
        /// The SETs' `aud`.
        audience: String,
        /// Whether SETs carry the resource (`full`) or the changed names (`notice`).
        full: bool,
    },
}

/// `kind` of a webhook endpoint row.
pub(crate) const WEBHOOK: &str = "webhook";
/// `kind` of an event stream row.
pub(crate) const STREAM: &str = "set";

impl std::fmt::Debug for ClaimedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedWebhook")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// The attempt's id.
    pub id: String,
    /// The event sent.
    pub event_id: String,
    /// Its sequence.
    pub sequence: i64,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// The answer's status, if an answer came.
    pub status_code: Option<i32>,
    /// How long the attempt took.
    pub latency_ms: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// What one attempt came to, for [`Store::record_webhook_attempts`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    /// The event sent.
    pub event_id: String,
    /// Its sequence.
    pub sequence: i64,
    /// The answer's status, if an answer came.
    pub status_code: Option<i32>,
    /// How long it took.
    pub latency_ms: i64,
    /// `None` when the endpoint acknowledged the event (2xx).
    pub error: Option<String>,
    /// When to try again after a failure.
    pub retry_at: DateTime<Utc>,
    /// Whether the event was sent again at an admin's request (its acknowledgement removes
    /// the request and leaves the position where it is).
    pub resend: bool,
    /// Acknowledged while an earlier event of its wave failed or was not sent (another lane):
    /// recorded, but the position does not move past the gap, so it is sent again.
    pub out_of_turn: bool,
    /// When the attempt ended.
    pub at: DateTime<Utc>,
}

/// Which events to send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResendSelection {
    /// One event, by id (whatever its type).
    Event(String),
    /// The events of the destination's types captured in `[since, until)`.
    Range {
        /// From (inclusive).
        since: DateTime<Utc>,
        /// To (exclusive).
        until: DateTime<Utc>,
    },
}

/// Most events one request may send again.
pub const MAX_RESENDS: u64 = 10_000;

pub(crate) fn event_types(json: &serde_json::Value) -> Vec<String> {
    json.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl From<webhook_endpoint::Model> for Webhook {
    fn from(m: webhook_endpoint::Model) -> Self {
        Self {
            event_types: event_types(&m.event_types),
            id: m.id,
            url: m.url,
            enabled: m.enabled,
            position: m.position,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            failing_since: m.failing_since,
            failure_notified_at: m.failure_notified_at,
            last_success_at: m.last_success_at,
            last_error: m.last_error,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<webhook_attempt::Model> for WebhookAttempt {
    fn from(m: webhook_attempt::Model) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id,
            sequence: m.sequence,
            attempted_at: m.attempted_at,
            status_code: m.status_code,
            latency_ms: m.latency_ms,
            error: m.error,
        }
    }
}

/// Removes what belongs to the delivery row `id`: its attempts, resend requests and
/// acknowledgements (before the row itself).
pub(crate) async fn delete_deliveries<C: ConnectionTrait>(conn: &C, id: &str) -> StoreResult<()> {
    webhook_attempt::Entity::delete_many()
        .filter(webhook_attempt::Column::EndpointId.eq(id))
        .exec(conn)
        .await?;
    webhook_resend::Entity::delete_many()
        .filter(webhook_resend::Column::EndpointId.eq(id))
        .exec(conn)
        .await?;
    crate::entity::event_stream_ack::Entity::delete_many()
        .filter(crate::entity::event_stream_ack::Column::StreamId.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The row `id` of `tenant` if it is of `kind` (a webhook endpoint or an event stream).
pub(crate) fn of_tenant<Q: QueryFilter>(query: Q, tenant: &TenantId, id: &str, kind: &str) -> Q {
    query
        .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
        .filter(webhook_endpoint::Column::Id.eq(id))
        .filter(webhook_endpoint::Column::Kind.eq(kind))
}

impl Store {
    /// Registers an endpoint; it is sent the events recorded from now on.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_webhook(
        &self,
        tenant: &TenantId,
        new: NewWebhook,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        let (txn, position) = self
            .open_destination(
                tenant,
                WEBHOOK,
                MAX_WEBHOOKS_PER_TENANT,
                &format!(
                    "a tenant may register at most {MAX_WEBHOOKS_PER_TENANT} webhook endpoints"
                ),
            )
            .await?;
        let model = webhook_endpoint::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant.as_str().to_owned()),
            url: Set(new.url.clone()),
            event_types: Set(json!(new.event_types)),
            enabled: Set(new.enabled),
            secret: Set(new.secret),
            position: Set(position),
            attempts: Set(0),
            next_attempt_at: Set(now),
            failing_since: Set(None),
            failure_notified_at: Set(None),
            last_success_at: Set(None),
            last_error: Set(None),
            claimed_by: Set(None),
            claimed_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            kind: Set(WEBHOOK.to_owned()),
            delivery: Set(None),
            audience: Set(None),
            format: Set(None),
            poll_secret_hash: Set(None),
            description: Set(None),
        }
        .insert(&txn)
        .await?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "webhook.create",
                target_type: "webhook",
                target_id: &model.id,
                changes: json!({"url": new.url, "eventTypes": new.event_types, "enabled": new.enabled}),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// The tenant's endpoints, oldest first.
    pub async fn list_webhooks(&self, tenant: &TenantId) -> StoreResult<Vec<Webhook>> {
        self.destinations(tenant, WEBHOOK).await
    }

    /// One endpoint of the tenant.
    pub async fn get_webhook(&self, tenant: &TenantId, id: &str) -> StoreResult<Webhook> {
        self.destination(tenant, id, WEBHOOK).await
    }

    /// Opens the transaction that adds a delivery row of `kind` to `tenant`: refuses
    /// (`refusal`) when the tenant has `max` of them already, and returns the position a new
    /// one starts from (the last sequence given: it is sent what is recorded from now on).
    pub(crate) async fn open_destination(
        &self,
        tenant: &TenantId,
        kind: &str,
        max: u64,
        refusal: &str,
    ) -> StoreResult<(scim_db::Txn, i64)> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            crate::events::sequence_committed(self, tenant.as_str()).await?;
        }
        let txn = begin_write(&self.db).await?;
        let count = crate::count::count(
            webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
                .filter(webhook_endpoint::Column::Kind.eq(kind)),
            &txn,
        )
        .await?;
        if count >= max {
            return Err(StoreError::Refused(refusal.to_owned()));
        }
        let position = crate::events::top_sequence(&txn, tenant).await?;
        Ok((txn, position))
    }

    /// The tenant's delivery rows of `kind` (webhook endpoints or event streams), oldest first.
    pub(crate) async fn destinations<T: From<webhook_endpoint::Model>>(
        &self,
        tenant: &TenantId,
        kind: &str,
    ) -> StoreResult<Vec<T>> {
        Ok(webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_endpoint::Column::Kind.eq(kind))
            .order_by_asc(webhook_endpoint::Column::CreatedAt)
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The tenant's delivery row `id` of `kind`; another tenant's or kind's is not found.
    pub(crate) async fn destination<T: From<webhook_endpoint::Model>>(
        &self,
        tenant: &TenantId,
        id: &str,
        kind: &str,
    ) -> StoreResult<T> {
        of_tenant(webhook_endpoint::Entity::find(), tenant, id, kind)
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
    }

    /// Replaces an endpoint's URL, types and switch (audited when something changes). An
    /// endpoint enabled again is tried at once.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        settings: WebhookSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        let txn = begin_write(&self.db).await?;
        let row = of_tenant(webhook_endpoint::Entity::find(), tenant, id, WEBHOOK)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let before: Webhook = row.clone().into();
        let mut changes = serde_json::Map::new();
        if before.url != settings.url {
            changes.insert(
                "url".into(),
                json!({"from": before.url, "to": settings.url}),
            );
        }
        if before.event_types != settings.event_types {
            changes.insert(
                "eventTypes".into(),
                json!({"from": before.event_types, "to": settings.event_types}),
            );
        }
        if before.enabled != settings.enabled {
            changes.insert(
                "enabled".into(),
                json!({"from": before.enabled, "to": settings.enabled}),
            );
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let mut active = row.into_active_model();
        active.url = Set(settings.url);
        active.event_types = Set(json!(settings.event_types));
        if settings.enabled && !before.enabled {
            active.next_attempt_at = Set(now);
            active.attempts = Set(0);
        }
        active.enabled = Set(settings.enabled);
        active.updated_at = Set(now);
        let model = active.update(&txn).await?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "webhook.update",
                target_type: "webhook",
                target_id: id,
                changes: serde_json::Value::Object(changes),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Removes an endpoint and its attempts (audited).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.delete_destination(tenant, id, WEBHOOK, actor, now)
            .await
    }

    /// Removes the tenant's delivery row `id` of `kind` (a webhook endpoint or an event
    /// stream), what belongs to it, and audits it, in one transaction; the tenant's
    /// `events_full_data` follows its streams.
    pub(crate) async fn delete_destination(
        &self,
        tenant: &TenantId,
        id: &str,
        kind: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let row = of_tenant(webhook_endpoint::Entity::find(), tenant, id, kind)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        delete_deliveries(&txn, id).await?;
        webhook_endpoint::Entity::delete_by_id(id)
            .exec(&txn)
            .await?;
        let change = if kind == STREAM {
            crate::event_streams::refresh_full_data(&txn, tenant).await?;
            Change {
                action: "event_stream.delete",
                target_type: "event_stream",
                target_id: id,
                changes: json!({"delivery": row.delivery, "audience": row.audience}),
            }
        } else {
            Change {
                action: "webhook.delete",
                target_type: "webhook",
                target_id: id,
                changes: json!({"url": row.url}),
            }
        };
        record(&txn, tenant, actor, change, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The latest attempts of an endpoint, newest first.
    pub async fn list_webhook_attempts(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: u64,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        // The endpoint must be the tenant's: another tenant's id is "not found".
        self.get_webhook(tenant, id).await?;
        self.attempts_of(tenant, id, limit).await
    }

    /// PostgreSQL: numbers the committed events of every tenant that has an enabled endpoint
    /// and events waiting for a number (delivery cannot see an event before it has one).
    pub async fn sequence_events_for_delivery(&self) -> StoreResult<()> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let waiting = Query::select()
            .distinct()
            .column(event::Column::TenantId)
            .from(event::Entity)
            .and_where(event::Column::Sequence.is_null())
            .and_where(
                Expr::col(event::Column::TenantId).in_subquery(
                    Query::select()
                        .column(webhook_endpoint::Column::TenantId)
                        .from(webhook_endpoint::Entity)
                        .and_where(webhook_endpoint::Column::Enabled.eq(true))
                        .to_owned(),
                ),
            )
            .to_owned();
        let rows = self
            .db
            .query_all(self.db.get_database_backend().build(&waiting))
            .await?;
        for row in rows {
            let tenant: String = row.try_get("", "tenant_id")?;
            crate::events::sequence_committed(self, &tenant).await?;
        }
        Ok(())
    }

    /// Claims up to `limit` enabled endpoints that are due and have events after their
    /// position, for `owner` until `now + lease`; a claim whose lease ended (its process died)
    /// can be taken again. Two processes never hold one endpoint at the same time.
    pub async fn claim_webhooks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> StoreResult<Vec<ClaimedWebhook>> {
        let has_events = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(event::Entity)
                .and_where(
                    Expr::col((event::Entity, event::Column::TenantId))
                        .equals((webhook_endpoint::Entity, webhook_endpoint::Column::TenantId)),
                )
                .and_where(
                    Expr::col((event::Entity, event::Column::Sequence)).gt(Expr::col((
                        webhook_endpoint::Entity,
                        webhook_endpoint::Column::Position,
                    ))),
                )
                .to_owned(),
        );
        let has_resends = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(webhook_resend::Entity)
                .and_where(
                    Expr::col((webhook_resend::Entity, webhook_resend::Column::EndpointId))
                        .equals((webhook_endpoint::Entity, webhook_endpoint::Column::Id)),
                )
                .to_owned(),
        );
        let due = Condition::all()
            .add(webhook_endpoint::Column::Enabled.eq(true))
            // Polled streams are fetched by their receiver, never sent.
            .add(
                Condition::any()
                    .add(webhook_endpoint::Column::Kind.eq(WEBHOOK))
                    .add(webhook_endpoint::Column::Delivery.eq("push")),
            )
            .add(webhook_endpoint::Column::NextAttemptAt.lte(now))
            .add(
                Condition::any()
                    .add(webhook_endpoint::Column::ClaimedUntil.is_null())
                    .add(webhook_endpoint::Column::ClaimedUntil.lt(now)),
            )
            .add(Condition::any().add(has_events).add(has_resends));
        // Most passes find nothing: ask before taking the write lock.
        let any = webhook_endpoint::Entity::find()
            .filter(due.clone())
            .limit(1)
            .all(&self.db)
            .await?;
        if any.is_empty() {
            return Ok(Vec::new());
        }
        let txn = begin_write(&self.db).await?;
        let select = webhook_endpoint::Entity::find()
            .filter(due)
            .order_by_asc(webhook_endpoint::Column::NextAttemptAt)
            .limit(limit);
        let rows = crate::expiry::skip_locked(select, &txn).all(&txn).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::ClaimedBy, Expr::value(owner))
            .col_expr(
                webhook_endpoint::Column::ClaimedUntil,
                Expr::value(now + lease),
            )
            .filter(webhook_endpoint::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        rows.into_iter()
            .map(|m| {
                Ok(ClaimedWebhook {
                    tenant: TenantId::parse(&m.tenant_id).map_err(StoreError::InvalidValue)?,
                    event_types: event_types(&m.event_types),
                    id: m.id,
                    url: m.url,
                    secret: m.secret,
                    position: m.position,
                    attempts: m.attempts,
                    failing_since: m.failing_since,
                    owner: owner.to_owned(),
                    destination: if m.kind == STREAM {
                        Destination::PushedStream {
                            audience: m.audience.unwrap_or_default(),
                            full: m.format.as_deref() == Some("full"),
                        }
                    } else {
                        Destination::Webhook
                    },
                })
            })
            .collect()
    }

    /// Records attempts at `claim`'s events, in the order they were made, in one transaction
    /// (one commit for a run of deliveries instead of one per event), and moves the endpoint
    /// on: past the last new event acknowledged in turn, and, when an attempt failed, to the
    /// `retry_at` of the last failure (failures come after the acknowledged attempts).
    /// Returns `false` when the claim was lost (its lease ended and another process took the
    /// endpoint): the caller stops.
    pub async fn record_webhook_attempts(
        &self,
        claim: &ClaimedWebhook,
        outcomes: &[AttemptOutcome],
    ) -> StoreResult<bool> {
        if outcomes.is_empty() {
            return Ok(true);
        }
        let acknowledged: Vec<&AttemptOutcome> =
            outcomes.iter().filter(|o| o.error.is_none()).collect();
        let failure = outcomes.iter().rev().find(|o| o.error.is_some());
        let txn = begin_write(&self.db).await?;
        let mut update = webhook_endpoint::Entity::update_many();
        if let Some(position) = acknowledged
            .iter()
            .filter(|o| !o.resend && !o.out_of_turn)
            .map(|o| o.sequence)
            .max()
        {
            update = update.col_expr(webhook_endpoint::Column::Position, Expr::value(position));
        }
        // Each column is set once (PostgreSQL refuses two assignments to one column).
        if let Some(success) = acknowledged.last() {
            update = update
                .col_expr(
                    webhook_endpoint::Column::LastSuccessAt,
                    Expr::value(success.at),
                )
                .col_expr(
                    webhook_endpoint::Column::FailureNotifiedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        update = match failure {
            None => update
                .col_expr(webhook_endpoint::Column::Attempts, Expr::value(0))
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    webhook_endpoint::Column::LastError,
                    Expr::value(Option::<String>::None),
                ),
            Some(last) => {
                let error = last.error.as_deref().unwrap_or_default();
                // A failure after acknowledged events starts a new run of failures.
                let (attempts, since) = if acknowledged.is_empty() {
                    (
                        Expr::col(webhook_endpoint::Column::Attempts).add(1),
                        claim.failing_since.unwrap_or(last.at),
                    )
                } else {
                    (Expr::value(1), last.at)
                };
                update
                    .col_expr(webhook_endpoint::Column::Attempts, attempts)
                    .col_expr(
                        webhook_endpoint::Column::NextAttemptAt,
                        Expr::value(last.retry_at),
                    )
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Expr::value(Some(since)),
                    )
                    .col_expr(
                        webhook_endpoint::Column::LastError,
                        Expr::value(error.to_owned()),
                    )
            }
        };
        let updated = update
            .filter(webhook_endpoint::Column::Id.eq(claim.id.as_str()))
            .filter(webhook_endpoint::Column::ClaimedBy.eq(claim.owner.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        // The attempts were made: they are recorded even when the claim was lost meanwhile
        // (then they do not move the endpoint on; whoever holds it now decides).
        let rows = outcomes.iter().map(|o| webhook_attempt::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            endpoint_id: Set(claim.id.clone()),
            tenant_id: Set(claim.tenant.as_str().to_owned()),
            event_id: Set(o.event_id.clone()),
            sequence: Set(o.sequence),
            attempted_at: Set(o.at),
            status_code: Set(o.status_code),
            latency_ms: Set(o.latency_ms),
            error: Set(o.error.clone()),
        });
        let inserted = webhook_attempt::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await;
        match inserted.map_err(|e| StoreError::from_write(e, &[])) {
            // The endpoint was deleted meanwhile.
            Err(StoreError::NotFound) => return Ok(false),
            other => other?,
        };
        let resent: Vec<i64> = acknowledged
            .iter()
            .filter(|o| o.resend)
            .map(|o| o.sequence)
            .collect();
        if !resent.is_empty() && updated > 0 {
            webhook_resend::Entity::delete_many()
                .filter(webhook_resend::Column::EndpointId.eq(claim.id.as_str()))
                .filter(webhook_resend::Column::Sequence.is_in(resent))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(updated > 0)
    }

    /// Moves a claimed endpoint past events it does not want (up to `position`), without an
    /// attempt. Returns `false` when the claim was lost.
    pub async fn pass_webhook_events(
        &self,
        claim: &ClaimedWebhook,
        position: i64,
    ) -> StoreResult<bool> {
        let updated = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Position, Expr::value(position))
            .filter(webhook_endpoint::Column::Id.eq(claim.id.as_str()))
            .filter(webhook_endpoint::Column::ClaimedBy.eq(claim.owner.as_str()))
            .filter(webhook_endpoint::Column::Position.lt(position))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(updated > 0)
    }

    /// Gives a claimed endpoint back (the end of a delivery pass).
    pub async fn release_webhook(&self, claim: &ClaimedWebhook) -> StoreResult<()> {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::ClaimedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook_endpoint::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoint::Column::Id.eq(claim.id.as_str()))
            .filter(webhook_endpoint::Column::ClaimedBy.eq(claim.owner.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Asks for `selection` to be sent again to the webhook endpoint or pushed stream `id` of
    /// `tenant` (audited); returns how many events were queued. Events already queued count
    /// once.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn request_resend(
        &self,
        tenant: &TenantId,
        id: &str,
        selection: &ResendSelection,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            crate::events::sequence_committed(self, tenant.as_str()).await?;
        }
        let txn = begin_write(&self.db).await?;
        let row = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_endpoint::Column::Id.eq(id))
            .filter(
                sea_orm::Condition::any()
                    .add(webhook_endpoint::Column::Kind.eq(WEBHOOK))
                    .add(webhook_endpoint::Column::Delivery.eq("push")),
            )
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut select = event::Entity::find()
            .select_only()
            .column(event::Column::Sequence)
            .filter(event::Column::TenantId.eq(tenant.as_str()))
            .filter(event::Column::Sequence.is_not_null());
        select = match selection {
            ResendSelection::Event(event_id) => {
                select.filter(event::Column::Id.eq(event_id.as_str()))
            }
            ResendSelection::Range { since, until } => {
                let types = event_types(&row.event_types);
                let mut s = select
                    .filter(event::Column::Time.gte(*since))
                    .filter(event::Column::Time.lt(*until));
                if txn.get_database_backend() != DbBackend::Postgres {
                    // SQLite: time follows sequence; the range is a range of the table's key.
                    let first = crate::events::first_at(&txn, tenant, *since).await?;
                    let end = crate::events::first_at(&txn, tenant, *until).await?;
                    s = s.filter(event::Column::Sequence.gte(first.unwrap_or(i64::MAX)));
                    if let Some(end) = end {
                        s = s.filter(event::Column::Sequence.lt(end));
                    }
                }
                if !types.iter().any(|t| t == "*") {
                    s = s.filter(event::Column::EventType.is_in(types));
                }
                s
            }
        };
        let sequences: Vec<Option<i64>> = select
            .order_by_asc(event::Column::Sequence)
            .limit(MAX_RESENDS + 1)
            .into_tuple()
            .all(&txn)
            .await?;
        let sequences: Vec<i64> = sequences.into_iter().flatten().collect();
        if matches!(selection, ResendSelection::Event(_)) && sequences.is_empty() {
            return Err(StoreError::NotFound);
        }
        if sequences.len() as u64 > MAX_RESENDS {
            return Err(StoreError::Refused(format!(
                "at most {MAX_RESENDS} events can be sent again at once: choose a shorter range"
            )));
        }
        for chunk in sequences.chunks(500) {
            webhook_resend::Entity::insert_many(chunk.iter().map(|s| {
                webhook_resend::ActiveModel {
                    endpoint_id: Set(id.to_owned()),
                    sequence: Set(*s),
                    requested_at: Set(now),
                }
            }))
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([
                    webhook_resend::Column::EndpointId,
                    webhook_resend::Column::Sequence,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        let (action, target_type) = if row.kind == STREAM {
            ("event_stream.resend", "event_stream")
        } else {
            ("webhook.resend", "webhook")
        };
        record(
            &txn,
            tenant,
            actor,
            Change {
                action,
                target_type,
                target_id: id,
                changes: match selection {
                    ResendSelection::Event(e) => json!({"eventId": e, "events": sequences.len()}),
                    ResendSelection::Range { since, until } => {
                        json!({"since": since, "until": until, "events": sequences.len()})
                    }
                },
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(sequences.len() as u64)
    }

    /// The next events queued to be sent again to `claim`, in sequence order (requests for
    /// events purged since are dropped).
    pub async fn pending_resends(
        &self,
        claim: &ClaimedWebhook,
        limit: u64,
    ) -> StoreResult<Vec<crate::Event>> {
        let queued: Vec<i64> = webhook_resend::Entity::find()
            .filter(webhook_resend::Column::EndpointId.eq(claim.id.as_str()))
            .order_by_asc(webhook_resend::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| r.sequence)
            .collect();
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        let events: Vec<crate::Event> = event::Entity::find()
            .filter(event::Column::TenantId.eq(claim.tenant.as_str()))
            .filter(event::Column::Sequence.is_in(queued.clone()))
            .order_by_asc(event::Column::Sequence)
            .all(&self.db)
            .await?
            .into_iter()
            .map(crate::Event::try_from)
            .collect::<StoreResult<_>>()?;
        let gone: Vec<i64> = queued
            .into_iter()
            .filter(|s| !events.iter().any(|e| e.sequence == *s))
            .collect();
        if !gone.is_empty() {
            webhook_resend::Entity::delete_many()
                .filter(webhook_resend::Column::EndpointId.eq(claim.id.as_str()))
                .filter(webhook_resend::Column::Sequence.is_in(gone))
                .exec(&self.db)
                .await?;
        }
        Ok(events)
    }

    /// The URL and signing secret of the tenant's webhook endpoint `id` (for a test delivery;
    /// the secret never leaves the server).
    pub async fn webhook_target(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<(String, String)> {
        of_tenant(webhook_endpoint::Entity::find(), tenant, id, WEBHOOK)
            .one(&self.db)
            .await?
            .map(|m| (m.url, m.secret))
            .ok_or(StoreError::NotFound)
    }

    /// Records a test delivery to the webhook endpoint `id` (an attempt at sequence 0).
    pub async fn record_test_attempt(
        &self,
        tenant: &TenantId,
        id: &str,
        outcome: &AttemptOutcome,
    ) -> StoreResult<()> {
        webhook_attempt::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            endpoint_id: Set(id.to_owned()),
            tenant_id: Set(tenant.as_str().to_owned()),
            event_id: Set(outcome.event_id.clone()),
            sequence: Set(0),
            attempted_at: Set(outcome.at),
            status_code: Set(outcome.status_code),
            latency_ms: Set(outcome.latency_ms),
            error: Set(outcome.error.clone()),
        }
        .insert(&self.db)
        .await
        .map_err(|e| StoreError::from_write(e, &[]))?;
        Ok(())
    }

    /// Queues, once per run of failures, a `destination_failing` mail to the tenant's admin
    /// for each enabled webhook endpoint or pushed stream failing since `failing_before` or
    /// earlier (the mailer of expiry warnings delivers it), and marks it notified in the same
    /// transaction. A tenant without an admin e-mail gets an undeliverable notice, as for
    /// expiry warnings. Returns how many were queued.
    pub async fn queue_failing_destination_notices(
        &self,
        failing_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        use crate::entity::{expiry_notice, tenant};
        let due = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .filter(webhook_endpoint::Column::FailingSince.lte(failing_before))
            .filter(webhook_endpoint::Column::FailureNotifiedAt.is_null());
        if due.clone().limit(1).all(&self.db).await?.is_empty() {
            return Ok(0);
        }
        let txn = begin_write(&self.db).await?;
        let rows = crate::expiry::skip_locked(due.limit(100), &txn)
            .all(&txn)
            .await?;
        let mut queued = 0;
        for row in rows {
            let Some(since) = row.failing_since else {
                continue;
            };
            let tenant_row = tenant::Entity::find_by_id(row.tenant_id.as_str())
                .one(&txn)
                .await?;
            let recipient = tenant_row.as_ref().and_then(|t| t.admin_email.clone());
            let status = if recipient.is_some() {
                crate::NoticeStatus::Queued
            } else {
                crate::NoticeStatus::NoRecipient
            };
            expiry_notice::Entity::insert(expiry_notice::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(row.tenant_id.clone()),
                api_key_id: Set(row.id.clone()),
                key_name: Set(row.id.clone()),
                key_label: Set(Some(if row.url.is_empty() {
                    row.audience.clone().unwrap_or_default()
                } else {
                    row.url.clone()
                })),
                key_scope: Set(if row.kind == STREAM {
                    "event_stream"
                } else {
                    "webhook"
                }
                .to_owned()),
                machine_name: Set(None),
                key_expires_at: Set(since),
                threshold_days: Set(0),
                recipient: Set(recipient),
                locale: Set(tenant_row.map_or_else(|| "en".to_owned(), |t| t.locale)),
                status: Set(status.as_str().to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                claim_id: Set(None),
                claimed_until: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
                kind: Set(crate::NoticeKind::DestinationFailing.as_str().to_owned()),
            })
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([
                    expiry_notice::Column::ApiKeyId,
                    expiry_notice::Column::KeyExpiresAt,
                    expiry_notice::Column::ThresholdDays,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            webhook_endpoint::Entity::update_many()
                .col_expr(
                    webhook_endpoint::Column::FailureNotifiedAt,
                    Expr::value(now),
                )
                .filter(webhook_endpoint::Column::Id.eq(row.id.as_str()))
                .exec(&txn)
                .await?;
            if status == crate::NoticeStatus::NoRecipient {
                tracing::warn!(tenant = %row.tenant_id, destination = %row.id,
                    "failing destination cannot be reported: the tenant has no admin e-mail");
            } else {
                queued += 1;
            }
        }
        txn.commit().await?;
        Ok(queued)
    }

    /// Deletes attempts older than their tenant's events retention; returns how many.
    pub async fn purge_old_webhook_attempts(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut purged = 0;
        for (id, days) in self.events_retention_by_tenant().await? {
            let cutoff = now - Duration::days(i64::from(days.max(1)));
            purged += webhook_attempt::Entity::delete_many()
                .filter(webhook_attempt::Column::TenantId.eq(id))
                .filter(webhook_attempt::Column::AttemptedAt.lt(cutoff))
                .exec(&self.db.bookkeeping())
                .await?
                .rows_affected;
        }
        Ok(purged)
    }
}
