//! RFC 9967 event streams (issue 20): a tenant's Security Event Token streams, pushed to a
//! receiver (RFC 8935, delivered like a webhook endpoint, whose row kind they share) or polled
//! by it (RFC 8936: the receiver fetches what follows the stream's position and acknowledges
//! what it has). Which values are acceptable, the SETs and their signatures are the service's.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::{
    audit::{begin_write, record, Actor, Change},
    entity::{event_stream_ack, tenant, webhook_attempt, webhook_endpoint},
    webhooks::{of_tenant, STREAM},
    Event, EventQuery, EventStart, Store, StoreError, StoreResult, TenantId, WebhookAttempt,
};

/// Most event streams a tenant may have.
pub const MAX_EVENT_STREAMS_PER_TENANT: u64 = 20;
/// Most acknowledgements kept above a stream's position (a receiver that acknowledges far
/// ahead of a SET it never acknowledges gets the oldest again rather than growing this).
const MAX_PENDING_ACKS: usize = 10_000;

/// An event stream, as the admin API shows it (never its token or secret).
#[derive(Debug, Clone, PartialEq)]
pub struct EventStream {
    /// Its id (UUIDv7).
    pub id: String,
    /// What the admin calls it.
    pub description: Option<String>,
    /// `push` or `poll`.
    pub delivery: String,
    /// Where SETs are pushed (push streams).
    pub url: Option<String>,
    /// Whether pushed requests carry a bearer token.
    pub has_token: bool,
    /// The SETs' `aud`.
    pub audience: String,
    /// `notice` or `full`.
    pub format: String,
    /// The event types sent (`*` for all).
    pub event_types: Vec<String>,
    /// Whether SETs are delivered.
    pub enabled: bool,
    /// The last event delivered and acknowledged (with every one before it).
    pub position: i64,
    /// Failed attempts at the next SET (push).
    pub attempts: i32,
    /// Since when pushes have been failing, if they are.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last acknowledged delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last push failed.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of its settings.
    pub updated_at: DateTime<Utc>,
}

/// A new stream, validated by the service.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEventStream {
    /// What the admin calls it.
    pub description: Option<String>,
    /// The receiver's endpoint (push) or `None` (poll).
    pub url: Option<String>,
    /// The receiver's bearer token (push, optional).
    pub token: Option<String>,
    /// SHA-256 (hex) of the receiver's poll secret (poll).
    pub poll_secret_hash: Option<String>,
    /// The SETs' `aud`.
    pub audience: String,
    /// Whether SETs carry the resource.
    pub full: bool,
    /// The event types sent.
    pub event_types: Vec<String>,
    /// Whether SETs are delivered.
    pub enabled: bool,
}

impl std::fmt::Debug for NewEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEventStream")
            .field("url", &self.url)
            .field("audience", &self.audience)
            .field("full", &self.full)
            .finish_non_exhaustive()
    }
}

/// A change of a stream's settings (its delivery method stays).
#[derive(Clone, PartialEq, Eq)]
pub struct EventStreamSettings {
    /// What the admin calls it.
    pub description: Option<String>,
    /// The receiver's endpoint (push streams).
    pub url: Option<String>,
    /// A new bearer token (push): `None` keeps the one held, `Some("")` removes it.
    pub token: Option<String>,
    /// The SETs' `aud`.
    pub audience: String,
    /// Whether SETs carry the resource.
    pub full: bool,
    /// The event types sent.
    pub event_types: Vec<String>,
    /// Whether SETs are delivered.
    pub enabled: bool,
}

impl std::fmt::Debug for EventStreamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStreamSettings")
            .field("url", &self.url)
            .field("audience", &self.audience)
            .field("full", &self.full)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 (hex) of a polling receiver's secret, as it authenticates.
#[derive(Clone, PartialEq, Eq)]
pub struct PollSecret(pub String);

impl std::fmt::Debug for PollSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PollSecret(..)")
    }
}

fn format_name(full: bool) -> &'static str {
    if full {
        "full"
    } else {
        "notice"
    }
}

impl From<webhook_endpoint::Model> for EventStream {
    fn from(m: webhook_endpoint::Model) -> Self {
        Self {
            event_types: crate::webhooks::event_types(&m.event_types),
            description: m.description,
            url: (m.delivery.as_deref() == Some("push")).then(|| m.url.clone()),
            has_token: !m.secret.is_empty(),
            delivery: m.delivery.unwrap_or_default(),
            audience: m.audience.unwrap_or_default(),
            format: m.format.unwrap_or_default(),
            id: m.id,
            enabled: m.enabled,
            position: m.position,
            attempts: m.attempts,
            failing_since: m.failing_since,
            last_success_at: m.last_success_at,
            last_error: m.last_error,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Keeps `tenants.events_full_data` true exactly while the tenant has an enabled full stream
/// (in the transaction that changes its streams).
pub(crate) async fn refresh_full_data<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> StoreResult<()> {
    let wanted = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(webhook_endpoint::Entity)
            .and_where(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .and_where(webhook_endpoint::Column::Kind.eq(STREAM))
            .and_where(webhook_endpoint::Column::Enabled.eq(true))
            .and_where(webhook_endpoint::Column::Format.eq("full"))
            .to_owned(),
    );
    tenant::Entity::update_many()
        .col_expr(tenant::Column::EventsFullData, wanted)
        .filter(tenant::Column::Id.eq(tenant.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Creates a stream; it is sent the events recorded from now on.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_event_stream(
        &self,
        tenant: &TenantId,
        new: NewEventStream,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<EventStream> {
        let (txn, position) = self
            .open_destination(
                tenant,
                STREAM,
                MAX_EVENT_STREAMS_PER_TENANT,
                &format!("a tenant may have at most {MAX_EVENT_STREAMS_PER_TENANT} event streams"),
            )
            .await?;
        let delivery = if new.url.is_some() { "push" } else { "poll" };
        let model = webhook_endpoint::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant.as_str().to_owned()),
            url: Set(new.url.clone().unwrap_or_default()),
            event_types: Set(json!(new.event_types)),
            enabled: Set(new.enabled),
            secret: Set(new.token.unwrap_or_default()),
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
            kind: Set(STREAM.to_owned()),
            delivery: Set(Some(delivery.to_owned())),
            audience: Set(Some(new.audience.clone())),
            format: Set(Some(format_name(new.full).to_owned())),
            poll_secret_hash: Set(new.poll_secret_hash),
            description: Set(new.description.clone()),
        }
        .insert(&txn)
        .await?;
        refresh_full_data(&txn, tenant).await?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "event_stream.create",
                target_type: "event_stream",
                target_id: &model.id,
                changes: json!({
                    "delivery": delivery,
                    "url": new.url,
                    "audience": new.audience,
                    "format": format_name(new.full),
                    "eventTypes": new.event_types,
                    "enabled": new.enabled,
                }),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// The tenant's streams, oldest first.
    pub async fn list_event_streams(&self, tenant: &TenantId) -> StoreResult<Vec<EventStream>> {
        self.destinations(tenant, STREAM).await
    }

    /// One stream of the tenant.
    pub async fn get_event_stream(&self, tenant: &TenantId, id: &str) -> StoreResult<EventStream> {
        self.destination(tenant, id, STREAM).await
    }

    /// Replaces a stream's settings (audited when something changes).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn update_event_stream(
        &self,
        tenant: &TenantId,
        id: &str,
        settings: EventStreamSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<EventStream> {
        let txn = begin_write(&self.db).await?;
        let row = of_tenant(webhook_endpoint::Entity::find(), tenant, id, STREAM)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let before: EventStream = row.clone().into();
        let mut changes = serde_json::Map::new();
        let mut note = |name: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                changes.insert(name.into(), json!({"from": from, "to": to}));
            }
        };
        note(
            "description",
            json!(before.description),
            json!(settings.description),
        );
        if before.delivery == "push" {
            note("url", json!(before.url), json!(settings.url));
        }
        note("audience", json!(before.audience), json!(settings.audience));
        note(
            "format",
            json!(before.format),
            json!(format_name(settings.full)),
        );
        note(
            "eventTypes",
            json!(before.event_types),
            json!(settings.event_types),
        );
        note("enabled", json!(before.enabled), json!(settings.enabled));
        if let Some(token) = &settings.token {
            if before.delivery == "push" && (!token.is_empty() || before.has_token) {
                // The token itself is never written to the audit.
                changes.insert(
                    "token".into(),
                    json!(if token.is_empty() {
                        "removed"
                    } else {
                        "replaced"
                    }),
                );
            }
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let mut active = row.into_active_model();
        active.description = Set(settings.description);
        if before.delivery == "push" {
            if let Some(url) = settings.url {
                active.url = Set(url);
            }
            if let Some(token) = settings.token {
                active.secret = Set(token);
            }
        }
        active.audience = Set(Some(settings.audience));
        active.format = Set(Some(format_name(settings.full).to_owned()));
        active.event_types = Set(json!(settings.event_types));
        if settings.enabled && !before.enabled {
            active.next_attempt_at = Set(now);
            active.attempts = Set(0);
        }
        active.enabled = Set(settings.enabled);
        active.updated_at = Set(now);
        let model = active.update(&txn).await?;
        refresh_full_data(&txn, tenant).await?;
        record(
            &txn,
            tenant,
            actor,
            Change {
                action: "event_stream.update",
                target_type: "event_stream",
                target_id: id,
                changes: serde_json::Value::Object(changes),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Removes a stream, its attempts and acknowledgements (audited).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_event_stream(
        &self,
        tenant: &TenantId,
        id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.delete_destination(tenant, id, STREAM, actor, now)
            .await
    }

    /// The latest push attempts of a stream, newest first.
    pub async fn list_event_stream_attempts(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: u64,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        self.get_event_stream(tenant, id).await?;
        self.attempts_of(tenant, id, limit).await
    }

    /// The polled stream `id` of `tenant` whose secret hashes to `secret`; `NotFound` for any
    /// other (unknown, another tenant's, pushed, or the wrong secret: one answer for all).
    pub async fn find_polled_stream(
        &self,
        tenant: &TenantId,
        id: &str,
        secret: &PollSecret,
    ) -> StoreResult<EventStream> {
        of_tenant(webhook_endpoint::Entity::find(), tenant, id, STREAM)
            .filter(webhook_endpoint::Column::Delivery.eq("poll"))
            .filter(webhook_endpoint::Column::PollSecretHash.eq(secret.0.as_str()))
            .one(&self.db)
            .await?
            .map(Into::into)
            .ok_or(StoreError::NotFound)
    }

    /// Records a polling receiver's acknowledgements of the SETs of events `sequences` and
    /// moves the stream's position past every event acknowledged with all those before it.
    /// Sequences at or below the position (acknowledged again) are ignored. Returns the new
    /// position.
    pub async fn acknowledge_stream_events(
        &self,
        tenant: &TenantId,
        stream: &EventStream,
        sequences: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let fresh: BTreeSet<i64> = sequences
            .iter()
            .copied()
            .filter(|s| *s > stream.position)
            .collect();
        let txn = begin_write(&self.db).await?;
        let row = of_tenant(webhook_endpoint::Entity::find(), tenant, &stream.id, STREAM)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut position = row.position;
        let mut acked: BTreeSet<i64> = event_stream_ack::Entity::find()
            .filter(event_stream_ack::Column::StreamId.eq(stream.id.as_str()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|a| a.sequence)
            .collect();
        acked.extend(fresh.into_iter().filter(|s| *s > position));
        if acked.is_empty() {
            return Ok(position);
        }
        // The stream's events from its position, in order: the position moves over each one
        // acknowledged and stops at the first that is not.
        let types = wanted_types(&row);
        let top = *acked.iter().next_back().unwrap_or(&position);
        let mut moved = false;
        'walk: loop {
            let page =
                crate::events::events_between(&txn, tenant, position, top, &types, 500).await?;
            if page.is_empty() {
                break;
            }
            for sequence in page {
                if !acked.remove(&sequence) {
                    break 'walk;
                }
                position = sequence;
                moved = true;
            }
        }
        // Whatever is left above the position waits for the gap below it to close.
        acked.retain(|s| *s > position);
        while acked.len() > MAX_PENDING_ACKS {
            acked.pop_last();
        }
        event_stream_ack::Entity::delete_many()
            .filter(event_stream_ack::Column::StreamId.eq(stream.id.as_str()))
            .exec(&txn)
            .await?;
        if !acked.is_empty() {
            event_stream_ack::Entity::insert_many(acked.iter().map(|s| {
                event_stream_ack::ActiveModel {
                    stream_id: Set(stream.id.clone()),
                    sequence: Set(*s),
                }
            }))
            .on_conflict(
                OnConflict::columns([
                    event_stream_ack::Column::StreamId,
                    event_stream_ack::Column::Sequence,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        if moved {
            webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::Position, Expr::value(position))
                .col_expr(webhook_endpoint::Column::LastSuccessAt, Expr::value(now))
                .filter(webhook_endpoint::Column::Id.eq(stream.id.as_str()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(position)
    }

    /// Records a receiver's report that it could not accept a SET (RFC 8936 `setErrs`) as the
    /// stream's last error; the SET counts as acknowledged (nothing waits: the stream is not
    /// failing).
    pub async fn note_stream_error(&self, stream: &EventStream, error: &str) -> StoreResult<()> {
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::LastError, Expr::value(error))
            .filter(webhook_endpoint::Column::Id.eq(stream.id.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The next events of a polled stream not yet acknowledged, in order, at most `limit`,
    /// and whether more follow them.
    pub async fn pending_stream_events(
        &self,
        tenant: &TenantId,
        stream: &EventStream,
        limit: u64,
    ) -> StoreResult<(Vec<Event>, bool)> {
        let acked: BTreeSet<i64> = event_stream_ack::Entity::find()
            .filter(event_stream_ack::Column::StreamId.eq(stream.id.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| a.sequence)
            .collect();
        let types = if stream.event_types.iter().any(|t| t == "*") {
            Vec::new()
        } else {
            stream.event_types.clone()
        };
        let mut out = Vec::new();
        let mut after = stream.position;
        loop {
            let query = EventQuery {
                start: EventStart::After(after),
                resource_type: None,
                types: types.clone(),
                limit: crate::MAX_EVENT_PAGE,
            };
            let page = match self.list_events(tenant, &query).await {
                Ok(page) => page,
                // Events purged before they were fetched: go on from the oldest kept.
                Err(StoreError::CursorExpired) => {
                    after = self.events_purged_through(tenant).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let full = page.events.len() as u64 >= crate::MAX_EVENT_PAGE;
            for event in page.events {
                after = event.sequence;
                if acked.contains(&event.sequence) {
                    continue;
                }
                if out.len() as u64 >= limit {
                    return Ok((out, true));
                }
                out.push(event);
            }
            if !full {
                return Ok((out, false));
            }
        }
    }

    /// The latest attempts at delivering to the row `id`, newest first.
    pub(crate) async fn attempts_of(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: u64,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        Ok(webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::EndpointId.eq(id))
            .filter(webhook_attempt::Column::TenantId.eq(tenant.as_str()))
            .order_by_desc(webhook_attempt::Column::AttemptedAt)
            .order_by_desc(webhook_attempt::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// The event types a row follows (empty for all).
fn wanted_types(row: &webhook_endpoint::Model) -> Vec<String> {
    let types = crate::webhooks::event_types(&row.event_types);
    if types.iter().any(|t| t == "*") {
        Vec::new()
    } else {
        types
    }
}

/// The delivery state of one tenant's events, read at each `/metrics` scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryBacklog {
    /// The tenant.
    pub tenant: TenantId,
    /// The last sequence given: the events captured since the tenant began (with the rare
    /// gaps of PostgreSQL).
    pub top_sequence: i64,
    /// When the oldest event some enabled destination (webhook endpoint or stream) has not had
    /// yet was captured.
    pub oldest_undelivered: Option<DateTime<Utc>>,
    /// Enabled destinations whose attempts are failing.
    pub failing: u64,
}

impl Store {
    /// Every tenant with an enabled webhook endpoint or event stream: its top sequence, the
    /// time of its oldest event not yet delivered to one of them, and how many are failing.
    /// One indexed lookup per destination (`(tenant_id, sequence)` is unique).
    pub async fn delivery_backlogs(&self) -> StoreResult<Vec<DeliveryBacklog>> {
        // PostgreSQL: committed events get their numbers first (as delivery does), so that
        // an event waiting for one counts.
        self.sequence_events_for_delivery().await?;
        let destinations = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .all(&self.db)
            .await?;
        let mut out: Vec<DeliveryBacklog> = Vec::new();
        for d in destinations {
            let tenant = TenantId::parse(&d.tenant_id).map_err(StoreError::InvalidValue)?;
            let types = wanted_types(&d);
            let mut select = crate::entity::event::Entity::find()
                .filter(crate::entity::event::Column::TenantId.eq(tenant.as_str()))
                .filter(crate::entity::event::Column::Sequence.gt(d.position));
            if !types.is_empty() {
                select = select.filter(crate::entity::event::Column::EventType.is_in(types));
            }
            let next = select
                .order_by_asc(crate::entity::event::Column::Sequence)
                .one(&self.db)
                .await?;
            let i = match out.iter().position(|b| b.tenant == tenant) {
                Some(i) => i,
                None => {
                    let top = crate::events::top_sequence(&self.db, &tenant).await?;
                    out.push(DeliveryBacklog {
                        tenant,
                        top_sequence: top,
                        oldest_undelivered: None,
                        failing: 0,
                    });
                    out.len() - 1
                }
            };
            if let Some(b) = out.get_mut(i) {
                if let Some(e) = next {
                    b.oldest_undelivered =
                        Some(b.oldest_undelivered.map_or(e.time, |t| t.min(e.time)));
                }
                if d.failing_since.is_some() {
                    b.failing += 1;
                }
            }
        }
        Ok(out)
    }
}
