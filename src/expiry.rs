//! Wiring of the expiry scheduler (`scim-expiry`) from the configuration: the loop that
//! `scimd serve` runs beside the HTTP server, and the single pass of `scimd expiry run --once`.

use chrono::{DateTime, Duration, Utc};
use scim_expiry::{
    DeliveryPolicy, DeliveryReport, ExpiryPolicy, MailError, Schedule, SmtpMailer, SweepReport,
};
use scim_store::Store;
use tokio::sync::watch;

use crate::{metrics::Metrics, Config};

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Time between delivery passes (retries become due between sweeps).
const DELIVER_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The SMTP mailer, if `SCIMD_SMTP_URL` is set.
pub fn mailer(config: &Config) -> Result<Option<SmtpMailer>, MailError> {
    config
        .smtp_url
        .as_ref()
        .map(|url| SmtpMailer::new(url.expose(), &config.mail_from, SMTP_TIMEOUT))
        .transpose()
}

/// Retries and mail content settings from the configuration.
pub fn delivery_policy(config: &Config) -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: config.mail_max_attempts,
        retry_base: Duration::from_std(config.mail_retry).unwrap_or(Duration::minutes(1)),
        console_url: config.public_url.as_ref().map(|u| format!("{u}/console/")),
        ..DeliveryPolicy::default()
    }
}

/// A running scheduler: send `true` to stop it, then await the handle.
pub type Running = (watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// Starts the scheduler loop, if `SCIMD_EXPIRY_INTERVAL` is not 0. Send `true` (or drop the
/// sender) to stop it; await the handle for a clean stop.
pub fn spawn(
    store: Store,
    config: &Config,
    metrics: actix_web::web::Data<Metrics>,
) -> Result<Option<Running>, MailError> {
    let Some(every) = config.expiry_interval else {
        tracing::info!("expiry scheduler off (SCIMD_EXPIRY_INTERVAL=0)");
        return Ok(None);
    };
    let mailer = mailer(config)?;
    let schedule = Schedule {
        sweep_every: every,
        deliver_every: DELIVER_EVERY.min(every),
        expiry: ExpiryPolicy::default(),
        delivery: delivery_policy(config),
    };
    let (stop, stopped) = watch::channel(false);
    let sweep_metrics = metrics.clone();
    let handle = tokio::spawn(scim_expiry::run(
        store,
        mailer,
        schedule,
        stopped,
        move |r: &SweepReport| sweep_metrics.record_sweep(r),
        move |r: &DeliveryReport| metrics.record_delivery(r),
    ));
    Ok(Some((stop, handle)))
}

/// One sweep at `now`, then one delivery pass if SMTP is configured.
pub async fn run_once(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(SweepReport, Option<DeliveryReport>), MailError> {
    let mailer = mailer(config)?;
    let report = scim_expiry::sweep(store, &ExpiryPolicy::default(), now).await?;
    let delivered = match &mailer {
        Some(m) => Some(scim_expiry::deliver(store, m, &delivery_policy(config), now).await?),
        None => None,
    };
    Ok((report, delivered))
}
