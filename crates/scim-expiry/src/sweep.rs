//! The sweep: queue the warnings that are due, purge the keys past retention and the expired
//! OAuth access tokens.

use chrono::{DateTime, Duration, Utc};
use scim_store::{Store, StoreResult};

/// When to warn and how long expired keys are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Days before expiry at which the tenant is warned (once each).
    pub warn_days: Vec<u32>,
    /// How long an expired (or revoked) key stays listed before it is purged.
    pub retention: Duration,
    /// How long a webhook endpoint or pushed stream fails before its admin is mailed.
    pub destination_failing_after: Duration,
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        Self {
            warn_days: vec![30, 7, 1],
            retention: Duration::days(90),
            destination_failing_after: Duration::hours(24),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Warnings (and expiry notices) queued for delivery.
    pub warnings_queued: u64,
    /// Warnings that cannot be delivered because the tenant has no admin e-mail.
    pub undeliverable: u64,
    /// Keys deleted 90 days after their expiry.
    pub purged: u64,
    /// OAuth access tokens deleted once expired.
    pub access_tokens_purged: u64,
    /// Provisioning events deleted after their tenant's retention.
    pub events_purged: u64,
    /// Webhook delivery attempts deleted after the tenant's events retention.
    pub webhook_attempts_purged: u64,
    /// Mails queued about webhook endpoints or pushed streams failing for a day.
    pub failing_destinations_notified: u64,
    /// Provisioning activity records deleted after their tenant's retention.
    pub activity_purged: u64,
}

/// One pass at `now`: queues each due warning once (per key, expiry and threshold) and purges
/// keys whose expiry is `retention` or more in the past. Running it again at the same `now` does
/// nothing more.
pub async fn sweep(
    store: &Store,
    policy: &ExpiryPolicy,
    now: DateTime<Utc>,
) -> StoreResult<SweepReport> {
    let queued = store
        .queue_expiry_notices(&policy.warn_days, policy.retention, now)
        .await?;
    let purged = store.purge_expired_keys(policy.retention, now).await?;
    let access_tokens_purged = store.purge_expired_access_tokens(now).await?;
    let events_purged = store.purge_old_events(now).await?;
    let webhook_attempts_purged = store.purge_old_webhook_attempts(now).await?;
    let activity_purged = store.purge_old_activity(now).await?;
    let failing_destinations_notified = store
        .queue_failing_destination_notices(now - policy.destination_failing_after, now)
        .await?;
    let report = SweepReport {
        failing_destinations_notified,
        warnings_queued: queued.queued,
        undeliverable: queued.no_recipient,
        purged,
        access_tokens_purged,
        events_purged,
        webhook_attempts_purged,
        activity_purged,
    };
    tracing::info!(
        warnings_queued = report.warnings_queued,
        undeliverable = report.undeliverable,
        purged = report.purged,
        access_tokens_purged = report.access_tokens_purged,
        events_purged = report.events_purged,
        webhook_attempts_purged = report.webhook_attempts_purged,
        failing_destinations_notified = report.failing_destinations_notified,
        activity_purged = report.activity_purged,
        "expiry sweep"
    );
    Ok(report)
}
