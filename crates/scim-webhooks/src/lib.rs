//! Webhook delivery (issue 20): every `scimd serve` process runs [`run`], whose passes
//! ([`pass`]) claim endpoints with events to send (a lease in the database, so that two
//! processes never send one endpoint's events at the same time), send the events in waves of
//! lanes (a resource's events one after the other on one lane, so they arrive in order; other
//! resources' events beside them), and record every attempt. A
//! failure stops the endpoint until its back-off has passed (`scim_service::webhooks::retry_at`);
//! an event is never dropped. A process that dies mid-pass loses its claim with its lease; the
//! next process starts again after the last acknowledged event recorded, so at most the wave
//! in flight is sent twice (and, after a failure, the events other lanes had acknowledged past
//! it).
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
const PAGE: u64 = 256;
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

/// Resends made and not yet recorded: acknowledged ones are recorded together, at most
/// [`RECORD_EVERY`] or [`RECORD_AFTER`] after the first, in one transaction (a commit per
/// delivery capped an endpoint at about one delivery per fsync); a failure is recorded at once.
/// New events are recorded per wave (`send_wave`).
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

/// Sends `event` to `claim` (a resend at an admin's request when `resend`): what the attempt
/// came to, not yet recorded.
async fn send_one(
    ctx: Ctx<'_>,
    claim: &ClaimedWebhook,
    event: &Event,
    resend: bool,
) -> AttemptOutcome {
    let Ctx {
        sender,
        issuer,
        config,
        ..
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
    AttemptOutcome {
        event_id: event.id.clone(),
        sequence: event.sequence,
        status_code: sent.status.map(i32::from),
        latency_ms: sent.latency_ms,
        error: sent.error,
        retry_at: retry_at(claim.attempts + 1, config.retry_base, done),
        resend,
        out_of_turn: false,
        at: done,
    }
}

/// Sends `event` to `claim` again at an admin's request and records the attempt (together
/// with the next ones, or at once when it failed).
async fn resend_one(
    ctx: Ctx<'_>,
    claim: &mut ClaimedWebhook,
    event: &Event,
    pending: &mut Pending,
    report: &mut PassReport,
) -> StoreResult<Step> {
    let outcome = send_one(ctx, claim, event, true).await;
    let ok = outcome.error.is_none();
    pending.outcomes.push(outcome);
    let since = *pending.since.get_or_insert_with(Instant::now);
    if !ok {
        pending.flush(ctx.store, claim).await?;
        report.failed += 1;
        tracing::info!(webhook = %claim.id, sequence = event.sequence, "webhook delivery failed");
        return Ok(Step::Stop);
    }
    if (pending.outcomes.len() >= RECORD_EVERY || since.elapsed() >= RECORD_AFTER)
        && !pending.flush(ctx.store, claim).await?
    {
        return Ok(Step::Stop);
    }
    report.delivered += 1;
    claim.attempts = 0;
    claim.failing_since = None;
    Ok(Step::Sent)
}

/// Concurrent lanes per endpoint. A wave's events are split by resource, and one lane sends a
/// resource's events one after the other, so they arrive in order; events of different
/// resources travel side by side, so an endpoint is not held to one round trip per event.
const LANES: usize = 4;
/// Most new events sent per wave; a wave's attempts are recorded together when its lanes are
/// done.
const WAVE: usize = 64;

/// Marks the acknowledgements of `outcomes` (attempts at events of `wave`, in any order; they
/// come back sorted by sequence) that follow an event of the wave not acknowledged (failed, or
/// not sent) as out of turn, and returns the last sequence of the acknowledged run the wave
/// starts with: how far the endpoint may move.
fn mark_turns(wave: &[Event], outcomes: &mut [AttemptOutcome]) -> Option<i64> {
    outcomes.sort_by_key(|o| o.sequence);
    let mut position = None;
    let mut in_turn = true;
    let mut attempted = outcomes.iter_mut().peekable();
    for event in wave {
        match attempted.next_if(|o| o.sequence == event.sequence) {
            Some(o) if o.error.is_none() => {
                if in_turn {
                    position = Some(o.sequence);
                } else {
                    o.out_of_turn = true;
                }
            }
            _ => in_turn = false,
        }
    }
    position
}

/// The lane of a resource's events (the same for all of them).
fn lane_of(resource_id: &str) -> usize {
    // FNV-1a: stable and cheap; any spread over the lanes will do.
    let hash = resource_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % LANES as u64) as usize
}

/// Sends `wave` (new events in sequence order) to `claim` in [`LANES`], after its first alone
/// when `probe`; a lane stops at its first failure or when the claim's time is up. Returns the attempts in the order
/// [`Store::record_webhook_attempts`] takes them (acknowledged, then failed), each
/// acknowledgement after the first gap marked out of turn, and the sequence the endpoint may
/// move to: the last of the acknowledged run the wave starts with.
async fn send_wave(
    ctx: Ctx<'_>,
    claim: &ClaimedWebhook,
    wave: &[Event],
    probe: bool,
    stop_sending_at: DateTime<Utc>,
) -> (Vec<AttemptOutcome>, Option<i64>) {
    let (mut outcomes, rest) = match wave.split_first() {
        None => return (Vec::new(), None),
        Some((first, rest)) if probe => (vec![send_one(ctx, claim, first, false).await], rest),
        Some(_) => (Vec::new(), wave),
    };
    if outcomes.iter().all(|o| o.error.is_none()) && !rest.is_empty() {
        let mut lanes: Vec<Vec<&Event>> = vec![Vec::new(); LANES];
        for event in rest {
            lanes[lane_of(&event.resource_id)].push(event);
        }
        let sent = futures_util::future::join_all(lanes.into_iter().map(|lane| async move {
            let mut out = Vec::with_capacity(lane.len());
            for event in lane {
                if Utc::now() >= stop_sending_at {
                    break;
                }
                let outcome = send_one(ctx, claim, event, false).await;
                let failed = outcome.error.is_some();
                out.push(outcome);
                if failed {
                    break;
                }
            }
            out
        }))
        .await;
        outcomes.extend(sent.into_iter().flatten());
    }
    let position = mark_turns(wave, &mut outcomes);
    // Acknowledged first, failures last (the last failure sets the back-off).
    outcomes.sort_by_key(|o| o.error.is_some());
    (outcomes, position)
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
    // The first new event of a pass goes alone: a pass follows a pause or a failure, and one
    // attempt tells whether the endpoint answers (a failing endpoint gets one per back-off).
    let mut probe = true;
    // Waves grow while the endpoint answers quickly and shrink while it is slow, so what is
    // acknowledged is recorded about every RECORD_AFTER, however fast the endpoint.
    let mut wave_size = LANES;
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
                let step = resend_one(ctx, &mut claim, event, &mut pending, &mut report).await?;
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
            let mut rest = page.events.as_slice();
            while !rest.is_empty() {
                if Utc::now() >= stop_sending_at {
                    return Ok(());
                }
                let (wave, tail) = rest.split_at(wave_size.min(rest.len()));
                rest = tail;
                let started = Instant::now();
                let (outcomes, position) =
                    send_wave(ctx, &claim, wave, probe, stop_sending_at).await;
                probe = false;
                wave_size = if started.elapsed() < RECORD_AFTER {
                    (wave_size * 2).min(WAVE)
                } else {
                    (wave_size / 2).max(LANES)
                };
                let failed = outcomes.iter().filter(|o| o.error.is_some()).count() as u64;
                let acknowledged = outcomes.len() as u64 - failed;
                if !store.record_webhook_attempts(&claim, &outcomes).await? {
                    return Ok(());
                }
                report.delivered += acknowledged;
                report.failed += failed;
                if let Some(position) = position {
                    claim.position = position;
                    claim.attempts = 0;
                    claim.failing_since = None;
                }
                if failed > 0 || position != wave.last().map(|e| e.sequence) {
                    if failed > 0 {
                        tracing::info!(webhook = %claim.id, position = claim.position, "webhook delivery failed");
                    }
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
        out_of_turn: false,
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

/// Runs passes until `stop` turns true: the next at once after a pass that delivered, else
/// after `config.poll`.
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
        let busy = match pass(&store, &sender, &issuer, &config, &owner, Utc::now()).await {
            Ok(report) => {
                if report != PassReport::default() {
                    on_pass(&report);
                }
                report.delivered > 0
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed");
                false
            }
        };
        // A pass that delivered ends when it has caught up: more events are likely on their
        // way, so the next pass starts at once instead of after a poll's sleep.
        if busy {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(config.poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(sequence: i64) -> Event {
        Event {
            id: format!("e{sequence}"),
            sequence,
            time: Utc::now(),
            event_type: "user.created".into(),
            resource_type: "User".into(),
            resource_id: format!("u{sequence}"),
            external_id: None,
            version: 1,
            attributes: Vec::new(),
            related: None,
            actor: scim_store::EventActor {
                kind: "key".into(),
                name: "k".into(),
            },
            request_id: None,
            data: None,
            replaced: false,
        }
    }

    fn outcome(sequence: i64, ok: bool) -> AttemptOutcome {
        AttemptOutcome {
            event_id: format!("e{sequence}"),
            sequence,
            status_code: Some(if ok { 204 } else { 500 }),
            latency_ms: 1,
            error: (!ok).then(|| "500".to_owned()),
            retry_at: Utc::now(),
            resend: false,
            out_of_turn: false,
            at: Utc::now(),
        }
    }

    #[test]
    fn the_endpoint_moves_only_over_the_acknowledged_run_a_wave_starts_with() {
        let wave: Vec<Event> = (1..=5).map(event).collect();
        // All acknowledged, in any order of arrival: to the last.
        let mut all = vec![outcome(3, true), outcome(1, true), outcome(5, true)];
        all.extend([outcome(2, true), outcome(4, true)]);
        assert_eq!(mark_turns(&wave, &mut all), Some(5));
        assert!(all.iter().all(|o| !o.out_of_turn));
        // 3 failed: 4 and 5 (other lanes) were acknowledged out of turn; the endpoint stops at 2.
        let mut failed = vec![
            outcome(5, true),
            outcome(1, true),
            outcome(3, false),
            outcome(2, true),
            outcome(4, true),
        ];
        assert_eq!(mark_turns(&wave, &mut failed), Some(2));
        let late: Vec<i64> = failed
            .iter()
            .filter(|o| o.out_of_turn)
            .map(|o| o.sequence)
            .collect();
        assert_eq!(late, [4, 5]);
        // 2 never sent (its lane ran out of time): 3 is out of turn.
        let mut gap = vec![outcome(1, true), outcome(3, true)];
        assert_eq!(mark_turns(&wave, &mut gap), Some(1));
        assert!(gap[1].out_of_turn);
        // The first failed: nowhere to go.
        let mut first = vec![outcome(1, false), outcome(2, true)];
        assert_eq!(mark_turns(&wave, &mut first), None);
        assert!(first[1].out_of_turn);
    }

    #[test]
    fn a_resource_always_takes_the_same_lane() {
        let lanes: Vec<usize> = (0..64).map(|i| lane_of(&format!("user-{i}"))).collect();
        assert!(lanes.iter().all(|l| *l < LANES));
        assert_eq!(lane_of("user-7"), lanes[7]);
        // The lanes are all used.
        for lane in 0..LANES {
            assert!(lanes.contains(&lane), "{lanes:?}");
        }
    }
}
