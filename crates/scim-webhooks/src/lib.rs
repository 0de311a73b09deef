//! Webhook delivery (issue 20): every `scimd serve` process runs [`run`], whose passes
//! ([`pass`]) claim endpoints with events to send (a lease in the database, so that two
//! processes never send one endpoint's events at the same time), send the events one by one in
//! sequence order (so a resource's events arrive in order), and record every attempt. A
//! failure stops the endpoint until its back-off has passed (`scim_service::webhooks::retry_at`);
//! an event is never dropped. A process that dies mid-pass loses its claim with its lease; the
//! next process starts again after the last acknowledged event, so at most the event in flight
//! is sent twice.
//!
//! Outbound requests ([`Sender`]): only to the URL the tenant registered, no redirects, a
//! timeout, and (unless `SCIMD_WEBHOOK_ALLOW_PRIVATE=1`) never to a private, loopback or
//! link-local address, also when a host name resolves to one: the resolver drops such addresses
//! before reqwest connects, so a name cannot be re-pointed between the check and the request.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use scim_service::{
    event_streams::SetIssuer,
    security_events::{SetTarget, SET_MEDIA_TYPE},
    webhooks::{is_public, retry_at, signature, OutboundPolicy},
};
use scim_store::{
    AttemptOutcome, ClaimedWebhook, Destination, Event, EventQuery, EventStart, Store, StoreError,
    StoreResult,
};
use tokio::sync::watch;

/// Events read per page while delivering.
const PAGE: u64 = 50;
/// Endpoints one pass claims.
const CLAIMS_PER_PASS: u64 = 16;
/// Longest error text kept with an attempt.
const MAX_ERROR_LEN: usize = 300;

/// How deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// What outbound requests may reach.
    pub policy: OutboundPolicy,
    /// The first wait after a failure (`SCIMD_WEBHOOK_RETRY_BASE_SECS`), doubled after each.
    pub retry_base: Duration,
    /// Longest wait for an endpoint's answer (`SCIMD_WEBHOOK_TIMEOUT_SECS`).
    pub timeout: std::time::Duration,
    /// Time between passes.
    pub poll: std::time::Duration,
    /// How long a claim lasts; a pass sends nothing new past it, less one timeout.
    pub lease: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            policy: OutboundPolicy::default(),
            retry_base: Duration::seconds(5),
            timeout: std::time::Duration::from_secs(10),
            poll: std::time::Duration::from_millis(250),
            lease: Duration::seconds(60),
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Events acknowledged by their endpoint.
    pub delivered: u64,
    /// Attempts that failed.
    pub failed: u64,
}

/// Resolves host names to public addresses only (unless private ones are allowed).
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} resolves to no address a webhook may reach (private, loopback or \
                     link-local addresses are refused)"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends one event to one endpoint.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The status, if an answer came.
    pub status: Option<u16>,
    /// Why it failed; `None` for a 2xx.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

fn short(mut text: String) -> String {
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The request body of `event` (Standard Webhooks: `type`, `timestamp`, `data`).
pub fn body(event: &Event) -> Vec<u8> {
    serde_json::json!({
        "type": event.event_type,
        "timestamp": event.time.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": scim_service::events::render_event(event),
    })
    .to_string()
    .into_bytes()
}

impl Sender {
    /// A sender with `policy` and `timeout`.
    pub fn new(policy: OutboundPolicy, timeout: std::time::Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(PublicResolver {
                allow_private: policy.allow_private,
            }))
            .user_agent(concat!("scimd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        Ok(Self { client, policy })
    }

    /// Checks `url` against the policy (address literals never reach the resolver).
    fn refuse(&self, url: &str) -> Option<String> {
        match url::Url::parse(url) {
            Ok(parsed) => {
                let literal = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                    Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                    _ => None,
                };
                if let Some(ip) = literal {
                    if !self.policy.allow_private && !is_public(ip) {
                        return Some(format!("{ip} is not an address a webhook may reach"));
                    }
                }
                if parsed.scheme() == "http" && !self.policy.allow_http {
                    return Some("http:// needs SCIMD_WEBHOOK_ALLOW_HTTP=1".into());
                }
                None
            }
            Err(e) => Some(format!("invalid URL: {e}")),
        }
    }

    /// Posts `event` to `url`, signed with `secret`, at `now`.
    pub async fn send(&self, url: &str, secret: &str, event: &Event, now: DateTime<Utc>) -> Sent {
        let started = Instant::now();
        if let Some(error) = self.refuse(url) {
            return Sent::failed(error, started);
        }
        let body = body(event);
        let timestamp = now.timestamp();
        let Some(signature) = signature(secret, &event.id, timestamp, &body) else {
            return Sent::failed("the endpoint's secret cannot sign".into(), started);
        };
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        Sent::of(request.send().await, started)
    }

    /// Pushes the SET `set` to an RFC 8935 endpoint `url`, with the receiver's bearer `token`
    /// when it has one. The receiver acknowledges with a 2xx (RFC 8935: 202).
    pub async fn push_set(&self, url: &str, token: &str, set: String) -> Sent {
        let started = Instant::now();
        if let Some(error) = self.refuse(url) {
            return Sent::failed(error, started);
        }
        let mut request = self
            .client
            .post(url)
            .header("content-type", SET_MEDIA_TYPE)
            .header("accept", "application/json")
            .body(set);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        Sent::of(request.send().await, started)
    }
}

impl Sent {
    fn elapsed(started: Instant) -> i64 {
        i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn failed(error: String, started: Instant) -> Self {
        Self {
            status: None,
            error: Some(short(error)),
            latency_ms: Self::elapsed(started),
        }
    }

    fn of(result: reqwest::Result<reqwest::Response>, started: Instant) -> Self {
        match result {
            Ok(res) => {
                let status = res.status();
                // The answer's body is not read: only its status counts.
                drop(res);
                Self {
                    status: Some(status.as_u16()),
                    error: (!status.is_success())
                        .then(|| format!("the endpoint answered {status}")),
                    latency_ms: Self::elapsed(started),
                }
            }
            Err(e) if e.is_timeout() => {
                Self::failed("no answer within the timeout".into(), started)
            }
            Err(e) if e.is_connect() => {
                Self::failed(format!("cannot connect: {}", source_chain(&e)), started)
            }
            Err(e) => Self::failed(source_chain(&e), started),
        }
    }
}

/// An error and its causes, on one line (reqwest's own text names only the outermost).
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One delivery pass at `now` for process `owner`: numbers committed events (PostgreSQL),
/// claims endpoints with events to send, and sends them.
pub async fn pass(
    store: &Store,
    sender: &Sender,
    issuer: &SetIssuer,
    config: &DeliveryConfig,
    owner: &str,
    now: DateTime<Utc>,
) -> StoreResult<PassReport> {
    store.sequence_events_for_delivery().await?;
    let claims = store
        .claim_webhooks(owner, now, config.lease, CLAIMS_PER_PASS)
        .await?;
    let reports = futures_util::future::join_all(
        claims
            .into_iter()
            .map(|claim| deliver_endpoint(store, sender, issuer, config, claim, now)),
    )
    .await;
    let mut total = PassReport::default();
    for report in reports {
        let report = report?;
        total.delivered += report.delivered;
        total.failed += report.failed;
    }
    Ok(total)
}

/// Attempts made and not yet recorded: acknowledged deliveries are recorded together, at
/// most [`RECORD_EVERY`] or [`RECORD_AFTER`] after the first, in one transaction (a commit per
/// delivery capped an endpoint at about one delivery per fsync); a failure is recorded at once.
/// A process that dies loses only this record, so it resends at most these events.
#[derive(Default)]
struct Pending {
    outcomes: Vec<AttemptOutcome>,
    since: Option<Instant>,
}

/// Acknowledged deliveries recorded together at most.
const RECORD_EVERY: usize = 100;
/// Longest an acknowledged delivery waits to be recorded.
const RECORD_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

impl Pending {
    /// Records what is pending; `false` when the claim was lost.
    async fn flush(&mut self, store: &Store, claim: &ClaimedWebhook) -> StoreResult<bool> {
        self.since = None;
        if self.outcomes.is_empty() {
            return Ok(true);
        }
        let outcomes = std::mem::take(&mut self.outcomes);
        store.record_webhook_attempts(claim, &outcomes).await
    }
}

/// What one attempt came to.
enum Step {
    /// Acknowledged: go on.
    Sent,
    /// Failed (backed off) or the claim was lost: stop this endpoint for this pass.
    Stop,
}

/// What a pass delivers with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    store: &'a Store,
    sender: &'a Sender,
    issuer: &'a SetIssuer,
    config: &'a DeliveryConfig,
}

/// Sends `event` to `claim` (a resend at an admin's request when `resend`) and records the
/// attempt.
async fn attempt(
    ctx: Ctx<'_>,
    claim: &mut ClaimedWebhook,
    event: &Event,
    resend: bool,
    pending: &mut Pending,
    report: &mut PassReport,
) -> StoreResult<Step> {
    let Ctx {
        store,
        sender,
        issuer,
        config,
    } = ctx;
    let now = Utc::now();
    let sent = match &claim.destination {
        Destination::Webhook => sender.send(&claim.url, &claim.secret, event, now).await,
        Destination::PushedStream { audience, full } => {
            let target = SetTarget {
                stream_id: &claim.id,
                audience,
                full: *full,
            };
            match signed_set(issuer, claim, event, target, now).await {
                Ok(set) => sender.push_set(&claim.url, &claim.secret, set).await,
                Err(error) => Sent {
                    status: None,
                    error: Some(error),
                    latency_ms: 0,
                },
            }
        }
    };
    let done = Utc::now();
    let ok = sent.error.is_none();
    let outcome = AttemptOutcome {
        event_id: event.id.clone(),
        sequence: event.sequence,
        status_code: sent.status.map(i32::from),
        latency_ms: sent.latency_ms,
        error: sent.error,
        retry_at: retry_at(claim.attempts + 1, config.retry_base, done),
        resend,
        at: done,
    };
    pending.outcomes.push(outcome);
    let since = *pending.since.get_or_insert_with(Instant::now);
    if !ok {
        pending.flush(store, claim).await?;
        report.failed += 1;
        tracing::info!(webhook = %claim.id, sequence = event.sequence, "webhook delivery failed");
        return Ok(Step::Stop);
    }
    if (pending.outcomes.len() >= RECORD_EVERY || since.elapsed() >= RECORD_AFTER)
        && !pending.flush(store, claim).await?
    {
        return Ok(Step::Stop);
    }
    report.delivered += 1;
    if !resend {
        claim.position = event.sequence;
    }
    claim.attempts = 0;
    claim.failing_since = None;
    Ok(Step::Sent)
}

/// Sends `claim`'s events in order until none is left, one fails, or the claim's time is up
/// (first those an admin asked to send again, then the new ones); then gives the claim back.
async fn deliver_endpoint(
    store: &Store,
    sender: &Sender,
    issuer: &SetIssuer,
    config: &DeliveryConfig,
    mut claim: ClaimedWebhook,
    claimed_at: DateTime<Utc>,
) -> StoreResult<PassReport> {
    let ctx = Ctx {
        store,
        sender,
        issuer,
        config,
    };
    let mut report = PassReport::default();
    let timeout = Duration::from_std(config.timeout).unwrap_or(Duration::seconds(10));
    let stop_sending_at = claimed_at + config.lease - timeout - Duration::seconds(5);
    let types = if claim.event_types.iter().any(|t| t == "*") {
        Vec::new()
    } else {
        claim.event_types.clone()
    };
    let mut pending = Pending::default();
    let result: StoreResult<()> = async {
        loop {
            if !pending.flush(store, &claim).await? {
                return Ok(());
            }
            let resends = store.pending_resends(&claim, PAGE).await?;
            if resends.is_empty() {
                break;
            }
            for event in &resends {
                if Utc::now() >= stop_sending_at {
                    return Ok(());
                }
                let step = attempt(ctx, &mut claim, event, true, &mut pending, &mut report).await?;
                if let Step::Stop = step {
                    return Ok(());
                }
            }
        }
        loop {
            let query = EventQuery {
                start: EventStart::After(claim.position),
                resource_type: None,
                types: types.clone(),
                limit: PAGE,
            };
            let page = match store.list_events(&claim.tenant, &query).await {
                Ok(page) => page,
                Err(StoreError::CursorExpired) => {
                    if !pending.flush(store, &claim).await? {
                        return Ok(());
                    }
                    // The endpoint fell behind the retention: what was purged is gone; go on
                    // from the oldest event kept.
                    let floor = store.events_purged_through(&claim.tenant).await?;
                    tracing::warn!(webhook = %claim.id, "events purged before delivery");
                    if !store.pass_webhook_events(&claim, floor).await? {
                        return Ok(());
                    }
                    claim.position = floor;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let full = page.events.len() as u64 >= PAGE;
            for event in &page.events {
                if Utc::now() >= stop_sending_at {
                    return Ok(());
                }
                let step =
                    attempt(ctx, &mut claim, event, false, &mut pending, &mut report).await?;
                if let Step::Stop = step {
                    return Ok(());
                }
            }
            if !full {
                if !pending.flush(store, &claim).await? {
                    return Ok(());
                }
                // Past the events this endpoint does not want, up to what was read.
                if page.next > claim.position
                    && store.pass_webhook_events(&claim, page.next).await?
                {
                    claim.position = page.next;
                }
                return Ok(());
            }
        }
    }
    .await;
    // What was acknowledged and not yet recorded is recorded before the claim is given back.
    let flushed = pending.flush(store, &claim).await;
    store.release_webhook(&claim).await?;
    flushed?;
    result.map(|()| report)
}

/// Sends a test event (`webhook.test`, not an event of the outbox) to the webhook endpoint
/// `id` of `tenant` at once, records the attempt, and says how it went.
pub async fn send_test(
    store: &Store,
    sender: &Sender,
    tenant: &scim_store::TenantId,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Sent> {
    let (url, secret) = store.webhook_target(tenant, id).await?;
    let event = Event {
        // A fresh id of the events' shape (webhook-id), never one of the outbox.
        id: uuid::Uuid::new_v4().to_string(),
        sequence: 0,
        time: now,
        event_type: "webhook.test".into(),
        resource_type: String::new(),
        resource_id: String::new(),
        external_id: None,
        version: 0,
        attributes: Vec::new(),
        related: None,
        actor: scim_store::EventActor {
            kind: "console".into(),
            name: "test".into(),
        },
        request_id: None,
        data: None,
        replaced: false,
    };
    let sent = sender.send(&url, &secret, &event, now).await;
    let outcome = AttemptOutcome {
        event_id: event.id.clone(),
        sequence: 0,
        status_code: sent.status.map(i32::from),
        latency_ms: sent.latency_ms,
        error: sent.error.clone(),
        retry_at: now,
        resend: false,
        at: now,
    };
    store.record_test_attempt(tenant, id, &outcome).await?;
    Ok(sent)
}

/// The SET of `event` for the pushed stream `claim`, or why there is none.
async fn signed_set(
    issuer: &SetIssuer,
    claim: &ClaimedWebhook,
    event: &Event,
    target: SetTarget<'_>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let Some(root) = issuer.public_url() else {
        return Err("a pushed event stream needs SCIMD_PUBLIC_URL (its SETs' issuer)".into());
    };
    let key = issuer
        .key(&claim.tenant)
        .await
        .map_err(|e| format!("no signing key: {e}"))?;
    Ok(issuer.set_of(&key, &claim.tenant, event, target, root, now))
}

/// Runs passes every `config.poll` until `stop` turns true.
pub async fn run(
    store: Store,
    sender: Sender,
    issuer: SetIssuer,
    config: DeliveryConfig,
    mut stop: watch::Receiver<bool>,
    on_pass: impl Fn(&PassReport) + Send + 'static,
) {
    let owner = uuid::Uuid::new_v4().to_string();
    loop {
        if *stop.borrow() {
            return;
        }
        match pass(&store, &sender, &issuer, &config, &owner, Utc::now()).await {
            Ok(report) => {
                if report != PassReport::default() {
                    on_pass(&report);
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhook delivery pass failed"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(config.poll) => {}
        }
    }
}
