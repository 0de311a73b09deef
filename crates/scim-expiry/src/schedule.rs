//! The loop inside `scimd serve`: a sweep every `sweep_every`, a delivery pass every
//! `deliver_every` (retries come due between sweeps), until shutdown. A tick missed while a pass
//! was running is skipped, not made up; a failed pass is logged and tried at the next tick.

use chrono::Utc;
use scim_store::Store;
use tokio::{sync::watch, time::MissedTickBehavior};

use crate::{
    deliver, sweep, DeliveryPolicy, DeliveryReport, ExpiryPolicy, MailTransport, SweepReport,
};

/// When the loop works and what it applies.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time between sweeps.
    pub sweep_every: std::time::Duration,
    /// Time between delivery passes.
    pub deliver_every: std::time::Duration,
    /// Warning thresholds and retention.
    pub expiry: ExpiryPolicy,
    /// Retries and claims of delivery.
    pub delivery: DeliveryPolicy,
}

/// Runs sweeps and (when a transport is configured) deliveries until `shutdown` turns `true`
/// or its sender is dropped. `on_sweep` and `on_delivery` see each pass's report (metrics).
pub async fn run<T, S, D>(
    store: Store,
    transport: Option<T>,
    schedule: Schedule,
    mut shutdown: watch::Receiver<bool>,
    on_sweep: S,
    on_delivery: D,
) where
    T: MailTransport,
    S: Fn(&SweepReport) + Send,
    D: Fn(&DeliveryReport) + Send,
{
    let mut sweeps = tokio::time::interval(schedule.sweep_every);
    sweeps.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut deliveries = tokio::time::interval(schedule.deliver_every);
    deliveries.set_missed_tick_behavior(MissedTickBehavior::Skip);
    if transport.is_none() {
        tracing::warn!("no SCIMD_SMTP_URL: expiry warnings are queued, not sent (see the admin API's expiryNotices)");
    }
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = shutdown.changed() => {
                if shutdown.has_changed().is_err() || *shutdown.borrow() {
                    break;
                }
            }
            _ = sweeps.tick() => {
                match sweep(&store, &schedule.expiry, Utc::now()).await {
                    Ok(report) => on_sweep(&report),
                    Err(err) => tracing::error!(error = %err, "expiry sweep failed; next tick retries"),
                }
            }
            _ = deliveries.tick(), if transport.is_some() => {
                if let Some(t) = &transport {
                    match deliver(&store, t, &schedule.delivery, Utc::now()).await {
                        Ok(report) => on_delivery(&report),
                        Err(err) => tracing::error!(error = %err, "expiry mail delivery failed; next tick retries"),
                    }
                }
            }
        }
    }
    tracing::info!("expiry scheduler stopped");
}
