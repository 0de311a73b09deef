//! Wiring of webhook and pushed-SET delivery (`scim-webhooks`) from the configuration: the
//! loop every `scimd serve` process runs beside the HTTP server.

use scim_store::Store;
use scim_webhooks::{DeliveryConfig, PassReport, Sender};
use tokio::sync::watch;

use crate::{metrics::Metrics, Config};

/// Delivery settings from the configuration.
pub fn delivery_config(config: &Config) -> DeliveryConfig {
    DeliveryConfig {
        policy: crate::outbound_policy(config),
        retry_base: chrono::Duration::from_std(config.webhook_retry_base)
            .unwrap_or(chrono::Duration::seconds(5)),
        timeout: config.webhook_timeout,
        poll: config
            .webhook_poll
            .unwrap_or(std::time::Duration::from_millis(250)),
        ..DeliveryConfig::default()
    }
}

/// A running delivery loop: send `true` to stop it, then await the handle.
pub type Running = (watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// Starts the delivery loop, unless `SCIMD_WEBHOOK_POLL_MS=0`.
pub fn spawn(
    store: Store,
    issuer: scim_service::event_streams::SetIssuer,
    config: &Config,
    metrics: actix_web::web::Data<Metrics>,
) -> Result<Option<Running>, String> {
    if config.webhook_poll.is_none() {
        tracing::info!("webhook delivery off in this process (SCIMD_WEBHOOK_POLL_MS=0)");
        return Ok(None);
    }
    let delivery = delivery_config(config);
    let sender = Sender::new(delivery.policy, delivery.timeout)?;
    let (stop, stopped) = watch::channel(false);
    let handle = tokio::spawn(scim_webhooks::run(
        store,
        sender,
        issuer,
        delivery,
        stopped,
        move |r: &PassReport| metrics.record_webhook_pass(r),
    ));
    Ok(Some((stop, handle)))
}
