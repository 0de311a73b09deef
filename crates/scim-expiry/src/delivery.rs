//! Delivery of queued warnings: claim a batch, send each over SMTP, mark it sent only once the
//! server accepted it, retry failures with exponential back-off, give up loudly after the last
//! try (status `failed`, an audit event, a count the caller turns into a metric).

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use lettre::{
    message::{Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use scim_store::{ClaimedNotice, Store, StoreError};

use crate::mail::{render, RenderedMail};

/// Why a mail could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL or sender address is unusable (a configuration error).
    #[error("mail configuration: {0}")]
    Config(String),
    /// The message could not be built (e.g. an invalid recipient address).
    #[error("message: {0}")]
    Message(String),
    /// The SMTP server refused the message or could not be reached.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The outbox could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Something that hands a mail to a mail server.
pub trait MailTransport: Send + Sync {
    /// Sends one mail to `to`; `Ok` only when the server accepted it.
    fn send(
        &self,
        to: &str,
        mail: &RenderedMail,
    ) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// SMTP delivery through lettre: `smtp://host:25` (plain), `smtp://host:587?tls=required`
/// (STARTTLS), `smtps://user:password@host:465` (TLS), credentials in the URL.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    /// Never prints the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `url` sending as `from`, each SMTP exchange bounded by `timeout`.
    pub fn new(url: &str, from: &str, timeout: std::time::Duration) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Config(format!("SCIMD_MAIL_FROM '{from}': {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // lettre's message may quote the URL; say only what is wrong.
            .map_err(|_| {
                MailError::Config("SCIMD_SMTP_URL is not a valid smtp:// or smtps:// URL".into())
            })?
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport, from })
    }
}

impl MailTransport for SmtpMailer {
    async fn send(&self, to: &str, mail: &RenderedMail) -> Result<(), MailError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Message(format!("recipient '{to}': {e}")))?;
        let message = Message::builder()
            // A Message-ID of our own (lettre makes one from a random id and the host name):
            // mail servers score messages without one as spam.
            .message_id(None)
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Message(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }
}

/// How delivery retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Tries before a notice is given up (`failed`).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub retry_base: Duration,
    /// Longest wait between tries.
    pub retry_max: Duration,
    /// How long a claimed notice is reserved for this process (then another may take it).
    pub lease: Duration,
    /// Notices claimed at once.
    pub batch: u64,
    /// How long expired keys are kept (named in the mail).
    pub retention: Duration,
    /// The console's address, named in the mail when known.
    pub console_url: Option<String>,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::minutes(1),
            retry_max: Duration::hours(6),
            lease: Duration::minutes(5),
            batch: 50,
            retention: Duration::days(90),
            console_url: None,
        }
    }
}

impl DeliveryPolicy {
    /// When to try again after the `attempts`-th failure, or `None` to give up.
    pub fn retry_at(&self, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1i32 << attempts.saturating_sub(1).min(20);
        let wait = (self.retry_base * factor).min(self.retry_max);
        Some(now + wait)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails accepted by the SMTP server.
    pub sent: u64,
    /// Failures that will be tried again.
    pub retried: u64,
    /// Failures given up for good.
    pub gave_up: u64,
}

/// Sends every queued notice due at `now`, batch by batch, until none is left to claim.
pub async fn deliver<T: MailTransport>(
    store: &Store,
    transport: &T,
    policy: &DeliveryPolicy,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, MailError> {
    let mut report = DeliveryReport::default();
    loop {
        let claimed = store
            .claim_expiry_notices(policy.batch, policy.lease, now)
            .await?;
        if claimed.is_empty() {
            break;
        }
        for notice in &claimed {
            deliver_one(store, transport, policy, notice, now, &mut report).await?;
        }
    }
    if report != DeliveryReport::default() {
        tracing::info!(
            sent = report.sent,
            retried = report.retried,
            gave_up = report.gave_up,
            "expiry mail delivery"
        );
    }
    Ok(report)
}

async fn deliver_one<T: MailTransport>(
    store: &Store,
    transport: &T,
    policy: &DeliveryPolicy,
    claimed: &ClaimedNotice,
    now: DateTime<Utc>,
    report: &mut DeliveryReport,
) -> Result<(), MailError> {
    let n = &claimed.notice;
    let Some(to) = n.recipient.as_deref() else {
        // Queued notices always have a recipient; treat a missing one as a permanent failure.
        store
            .mark_notice_failed(claimed, "no recipient", None, now)
            .await?;
        report.gave_up += 1;
        return Ok(());
    };
    let mail = render(n, policy.retention, policy.console_url.as_deref());
    match transport.send(to, &mail).await {
        Ok(()) => {
            store.mark_notice_sent(claimed, now).await?;
            report.sent += 1;
        }
        Err(err) => {
            let attempts = u32::try_from(n.attempts).unwrap_or(0) + 1;
            // A malformed recipient will never work: no point retrying it.
            let retry_at = match err {
                MailError::Message(_) => None,
                _ => policy.retry_at(attempts, now),
            };
            let text = err.to_string();
            store
                .mark_notice_failed(claimed, &text, retry_at, now)
                .await?;
            if retry_at.is_some() {
                tracing::warn!(tenant = %n.tenant_id, key = %n.key_name, attempts, error = %text, "expiry mail failed; will retry");
                report.retried += 1;
            } else {
                tracing::error!(tenant = %n.tenant_id, key = %n.key_name, attempts, error = %text, "expiry mail given up");
                report.gave_up += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap_then_gives_up() {
        let now = Utc::now();
        let p = DeliveryPolicy {
            max_attempts: 5,
            retry_base: Duration::minutes(1),
            retry_max: Duration::minutes(5),
            ..DeliveryPolicy::default()
        };
        let waits: Vec<_> = (1..=5)
            .map(|a| p.retry_at(a, now).map(|t| t - now))
            .collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::minutes(1)),
                Some(Duration::minutes(2)),
                Some(Duration::minutes(4)),
                Some(Duration::minutes(5)),
                None
            ]
        );
    }

    #[test]
    fn a_bad_smtp_url_is_a_config_error_that_does_not_echo_the_url() {
        let err = SmtpMailer::new(
            "ftp://user:hunter2@mail",
            "scimd@example.com",
            std::time::Duration::from_secs(5),
        )
        .expect_err("bad url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = SmtpMailer::new(
            "smtp://127.0.0.1:25",
            "not an address",
            std::time::Duration::from_secs(5),
        )
        .expect_err("bad from");
        assert!(matches!(err, MailError::Config(_)));
    }
}
