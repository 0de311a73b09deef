//! Provisioning activity (issue 21): what the identity provider sent, recorded off the
//! request's path, and what an admin reads from it.
//!
//! - [`ActivityLog`]: a bounded in-process queue and the task that writes it in batches. A
//!   request never waits for it: when the queue is full the record is dropped and counted (per
//!   tenant and hour in the database, in a metric), never silently.
//! - [`Note`]: what a handler learns while serving a request (the resource, a one-line
//!   summary, the attributes it changed), read when the request ends.
//! - The rules of reading: the identity provider from the `User-Agent`, the one-line summaries
//!   of SCIM operations, passwords removed from a kept body, the plain-language hints, and the
//!   health of each key or client (healthy / failing / silent).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use scim_model::ResourceKind;
use scim_store::{ActivityCount, ActivityRecord, ActivitySettings, NewActivity, Store, TenantId};
use serde_json::Value;

use crate::ServiceResult;

/// Records written per batch at most.
const MAX_BATCH: usize = 500;

/// How the recorder runs.
#[derive(Debug, Clone, Copy)]
pub struct ActivityConfig {
    /// Records waiting to be written at most; more are dropped (and counted).
    pub queue: usize,
    /// How long the writer gathers records before it writes them.
    pub flush: Duration,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            queue: 10_000,
            flush: Duration::from_millis(200),
        }
    }
}

/// How the summary judges health.
#[derive(Debug, Clone, Copy)]
pub struct ActivityPolicy {
    /// After how long without a request a key or client is silent (the identity provider's
    /// cycle: 40 minutes for Entra ID).
    pub silent_after: chrono::Duration,
}

impl Default for ActivityPolicy {
    fn default() -> Self {
        Self {
            silent_after: chrono::Duration::minutes(40),
        }
    }
}

/// Counters of the recorder, for `/metrics`.
#[derive(Debug, Default)]
pub struct ActivityCounters {
    /// Records written.
    pub written: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Records lost because the database refused them or could not be reached.
    pub failed: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    tx: tokio::sync::mpsc::UnboundedSender<NewActivity>,
    /// Records accepted and not yet written (in the channel or in the writer's batch).
    pending: AtomicUsize,
    capacity: usize,
    /// Records dropped per tenant and hour, not yet counted in the database.
    drops: Mutex<HashMap<(TenantId, DateTime<Utc>), u64>>,
    counters: Arc<ActivityCounters>,
}

/// The recorder: cheap to clone, shared by every worker of the process. Dropping every clone
/// lets the writer write what is queued and end.
#[derive(Debug, Clone)]
pub struct ActivityLog {
    inner: Option<Arc<Inner>>,
}

impl ActivityLog {
    /// A recorder that records nothing (`SCIMD_ACTIVITY=0`).
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// Whether records are kept.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Starts the writer (on the current tokio runtime) and returns the recorder and the
    /// writer, which runs until [`ActivityWriter::finish`] (or until every clone of the
    /// recorder is dropped), writing what is queued before it ends.
    pub fn start(store: Store, config: ActivityConfig) -> (Self, ActivityWriter) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            tx,
            pending: AtomicUsize::new(0),
            capacity: config.queue,
            drops: Mutex::new(HashMap::new()),
            counters: Arc::default(),
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let writer = Writer {
            store,
            rx,
            flush: config.flush,
            counters: inner.counters.clone(),
            inner: Arc::downgrade(&inner),
        };
        let handle = tokio::spawn(writer.run(stopped));
        (Self { inner: Some(inner) }, ActivityWriter { stop, handle })
    }

    /// The recorder's counters (none when it is off).
    pub fn counters(&self) -> Option<&ActivityCounters> {
        self.inner.as_deref().map(|i| &*i.counters)
    }

    /// Queues `record`; `false` when the queue was full and the record was dropped (counted).
    pub fn record(&self, record: NewActivity) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let admitted = inner
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.capacity).then_some(n + 1)
            })
            .is_ok();
        let record = if admitted {
            match inner.tx.send(record) {
                Ok(()) => return true,
                Err(tokio::sync::mpsc::error::SendError(record)) => {
                    inner.pending.fetch_sub(1, Ordering::AcqRel);
                    record
                }
            }
        } else {
            record
        };
        inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut drops) = inner.drops.lock() {
            *drops
                .entry((record.tenant, scim_store::hour_of(record.record.time)))
                .or_default() += 1;
        }
        false
    }
}

/// The running writer of an [`ActivityLog`].
#[derive(Debug)]
pub struct ActivityWriter {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl ActivityWriter {
    /// Writes what is queued and stops (at shutdown, after the server has answered its last
    /// request).
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "the activity writer failed");
        }
    }
}

struct Writer {
    store: Store,
    rx: tokio::sync::mpsc::UnboundedReceiver<NewActivity>,
    flush: Duration,
    counters: Arc<ActivityCounters>,
    inner: std::sync::Weak<Inner>,
}

impl Writer {
    /// Every flush period, writes what the queue holds. The writer sleeps in between rather
    /// than waiting on the queue, so a request's `send` never wakes it: recording costs the
    /// request an atomic push, not a cross-thread wake-up.
    async fn run(mut self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        // Without its sender (a writer never finished, as in tests) the writer runs until
        // every recorder is dropped.
        let mut unwatched = false;
        loop {
            let mut stopping = false;
            tokio::select! {
                _ = tokio::time::sleep(self.flush) => {}
                changed = stopped.changed(), if !unwatched => match changed {
                    Ok(()) => stopping = *stopped.borrow(),
                    Err(_) => unwatched = true,
                },
            }
            let mut closed = false;
            loop {
                let mut batch = Vec::with_capacity(self.rx.len().min(MAX_BATCH));
                while batch.len() < MAX_BATCH {
                    match self.rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
                let inner = self.inner.upgrade();
                let drops: Vec<(TenantId, DateTime<Utc>, u64)> =
                    match inner.as_ref().map(|i| i.drops.lock()) {
                        Some(Ok(mut d)) => d.drain().map(|((t, h), n)| (t, h, n)).collect(),
                        _ => Vec::new(),
                    };
                if !batch.is_empty() || !drops.is_empty() {
                    self.write(&batch, &drops).await;
                }
                if let Some(inner) = inner {
                    inner.pending.fetch_sub(batch.len(), Ordering::AcqRel);
                }
                if batch.len() < MAX_BATCH {
                    break;
                }
            }
            if closed || stopping {
                break;
            }
        }
    }

    async fn write(&self, batch: &[NewActivity], drops: &[(TenantId, DateTime<Utc>, u64)]) {
        // A database that is briefly unreachable gets three tries before the batch is lost.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store.record_activity(batch, drops).await {
                Ok(done) => {
                    self.counters
                        .written
                        .fetch_add(done.written, Ordering::Relaxed);
                    self.counters
                        .failed
                        .fetch_add(done.rejected, Ordering::Relaxed);
                    return;
                }
                Err(e) if tries < 3 => {
                    tracing::warn!(error = %e, "could not write activity records; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "activity records lost");
                    self.counters
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// What a handler learned while serving a request, read when the request ends.
#[derive(Debug, Default)]
pub struct Note {
    inner: Mutex<NoteInner>,
}

#[derive(Debug, Default, Clone)]
struct NoteInner {
    resource_type: Option<&'static str>,
    resource_id: Option<String>,
    summary: Option<String>,
    filter: Option<String>,
    attributes: Option<Vec<String>>,
}

/// What a [`Note`] holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Noted {
    /// `User` or `Group`.
    pub resource_type: Option<&'static str>,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The one-line summary.
    pub summary: Option<String>,
    /// The filter of a search (one in the query string is read there).
    pub filter: Option<String>,
    /// The attribute paths the request changed (`None`: not known).
    pub attributes: Option<Vec<String>>,
}

impl Note {
    fn with(&self, f: impl FnOnce(&mut NoteInner)) {
        if let Ok(mut inner) = self.inner.lock() {
            f(&mut inner);
        }
    }

    /// The resource the request is about.
    pub fn resource(&self, kind: ResourceKind, id: Option<&str>) {
        self.with(|n| {
            n.resource_type = Some(kind.name());
            if let Some(id) = id {
                n.resource_id = Some(id.to_owned());
            }
        });
    }

    /// What the request does, in a line.
    pub fn summary(&self, summary: String) {
        self.with(|n| n.summary = Some(summary));
    }

    /// The filter of a search.
    pub fn filter(&self, filter: &str) {
        self.with(|n| n.filter = Some(keepable_filter(filter)));
    }

    /// Adds attribute paths the request changed.
    pub fn add_attributes(&self, paths: impl IntoIterator<Item = String>) {
        self.with(|n| {
            let list = n.attributes.get_or_insert_with(Vec::new);
            for p in paths {
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        });
    }

    /// What was noted, taken out (read once, when the request ends).
    pub fn take(&self) -> Noted {
        self.inner
            .lock()
            .map(|mut n| {
                let n = std::mem::take(&mut *n);
                Noted {
                    resource_type: n.resource_type,
                    resource_id: n.resource_id,
                    summary: n.summary,
                    filter: n.filter,
                    attributes: n.attributes,
                }
            })
            .unwrap_or_default()
    }
}

/// The identity provider a `User-Agent` names: `entra`, `okta` or `other`.
pub fn identity_provider(user_agent: Option<&str>) -> &'static str {
    let ua = user_agent.unwrap_or_default();
    if ["azure", "microsoft", "entra", "aad"]
        .iter()
        .any(|w| contains_ignoring_case(ua, w))
    {
        "entra"
    } else if contains_ignoring_case(ua, "okta") {
        "okta"
    } else {
        "other"
    }
}

/// The methods a reader may filter the activity by.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A filter as it may be kept: a filter that names `password` could carry one, so it is
/// replaced by a note (a password is never kept, not even inside a filter scimd refuses).
pub fn keepable_filter(filter: &str) -> String {
    if contains_ignoring_case(filter, "password") {
        "[not kept: the filter names password]".to_owned()
    } else {
        clip(filter, 1000)
    }
}

/// Whether `text` contains `word` (ASCII), whatever the case of either.
fn contains_ignoring_case(text: &str, word: &str) -> bool {
    word.is_empty()
        || text
            .as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// Shortens `text` to at most `max` characters, marking a cut with `…`.
pub fn clip(text: &str, max: usize) -> String {
    // No more bytes than `max`: no more characters either, without counting them.
    if text.len() <= max || text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The name a create or replace is best known by: `userName=…` or `displayName=…`.
fn identity_of(kind: ResourceKind, body: &Value) -> String {
    let attr = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    let value = body.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.as_str())
    });
    match value {
        Some(v) => format!("{attr}={}", clip(v, 80)),
        None => format!("no {attr}"),
    }
}

/// The summary of a create: `create userName=alice@example.com`.
pub fn summarize_create(kind: ResourceKind, body: &Value) -> String {
    let mut out = format!("create {}", identity_of(kind, body));
    if let Some(n) = member_count(body) {
        out.push_str(&format!(" with {n} member{}", plural(n)));
    }
    out
}

/// The summary of a replace: `replace userName=alice@example.com`.
pub fn summarize_replace(kind: ResourceKind, body: &Value) -> String {
    let mut out = format!("replace {}", identity_of(kind, body));
    if let Some(n) = member_count(body) {
        out.push_str(&format!(" with {n} member{}", plural(n)));
    }
    out
}

fn member_count(body: &Value) -> Option<usize> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("members"))
        .and_then(|(_, v)| v.as_array())
        .map(Vec::len)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The summary of a PatchOp: `PATCH replace displayName, add 3 members`.
pub fn summarize_patch(body: &Value) -> String {
    let ops = body
        .as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_array);
    let Some(ops) = ops else {
        return "PATCH (no operations)".into();
    };
    let mut parts: Vec<String> = Vec::new();
    for op in ops.iter().take(20) {
        let get = |name: &str| {
            op.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        };
        let verb = get("op")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_ascii_lowercase();
        let path = get("path").and_then(Value::as_str);
        let value = get("value");
        let part = match path {
            Some(p) if p.eq_ignore_ascii_case("members") || p.starts_with("members[") => {
                match value.and_then(Value::as_array) {
                    Some(list) => format!("{verb} {} member{}", list.len(), plural(list.len())),
                    None if p.starts_with("members[") => format!("{verb} 1 member"),
                    None => format!("{verb} members"),
                }
            }
            Some(p) => format!("{verb} {}", clip(p, 80)),
            None => match value.and_then(Value::as_object) {
                Some(obj) => {
                    let names: Vec<String> = obj
                        .keys()
                        .take(8)
                        .map(|k| {
                            if k.eq_ignore_ascii_case("members") {
                                let n = obj.get(k).and_then(Value::as_array).map_or(0, Vec::len);
                                format!("{n} member{}", plural(n))
                            } else {
                                clip(k, 60)
                            }
                        })
                        .collect();
                    let more = if obj.len() > 8 { ", …" } else { "" };
                    format!("{verb} {}{more}", names.join(", "))
                }
                None => verb,
            },
        };
        parts.push(part);
    }
    if ops.len() > 20 {
        parts.push(format!("and {} more", ops.len() - 20));
    }
    format!("PATCH {}", parts.join(", "))
}

/// The summary of a list or search: `list Users filter=userName eq "…"`.
pub fn summarize_list(endpoint: &str, filter: Option<&str>) -> String {
    match filter {
        Some(f) => format!("list {endpoint} filter={}", clip(f, 120)),
        None => format!("list {endpoint}"),
    }
}

/// Replaces every value named `password` (any case) in `value`, and the value of a PATCH
/// operation whose path is `password`, with `"[removed]"`.
pub fn remove_passwords(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let path_is_password = map.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("path")
                    && v.as_str().is_some_and(|p| {
                        p.trim().eq_ignore_ascii_case("password")
                            || p.trim().to_ascii_lowercase().ends_with(":password")
                    })
            });
            for (k, v) in map.iter_mut() {
                let is_password = k.eq_ignore_ascii_case("password")
                    || k.to_ascii_lowercase().ends_with(":password")
                    || (path_is_password && k.eq_ignore_ascii_case("value"));
                if is_password {
                    *v = Value::String("[removed]".into());
                } else {
                    remove_passwords(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(remove_passwords),
        _ => {}
    }
}

/// Largest body kept, in bytes.
pub const MAX_KEPT_BODY: usize = 64 * 1024;

/// The body of a failed request as it may be kept: JSON with passwords removed, clipped to
/// [`MAX_KEPT_BODY`]. A body that is not JSON is kept only when it cannot hold a password.
pub fn keepable_body(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(mut value) => {
            remove_passwords(&mut value);
            let text = value.to_string();
            Some(clip_bytes(&text, MAX_KEPT_BODY))
        }
        Err(_) => {
            let text = String::from_utf8_lossy(raw);
            if text.to_ascii_lowercase().contains("password") {
                Some("[not kept: the body is not JSON and may hold a password]".into())
            } else {
                Some(clip_bytes(&text, MAX_KEPT_BODY))
            }
        }
    }
}

fn clip_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

/// A plain-language hint for a failed request: what went wrong and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// 409 on `userName` (or another unique attribute).
    Uniqueness,
    /// A group named a member that does not exist.
    UnknownMember,
    /// scimd refused a filter.
    FilterRefused,
    /// The key was refused: expired, revoked, disabled or replaced.
    KeyRefused,
    /// The tenant's rate limit.
    RateLimited,
    /// `If-Match` named an old version.
    VersionConflict,
    /// The OAuth client could not authenticate.
    ClientRefused,
    /// The key lacks a permission.
    Forbidden,
}

impl Hint {
    /// A stable code for the hint.
    pub fn code(self) -> &'static str {
        match self {
            Self::Uniqueness => "uniqueness",
            Self::UnknownMember => "unknown_member",
            Self::FilterRefused => "filter_refused",
            Self::KeyRefused => "key_refused",
            Self::RateLimited => "rate_limited",
            Self::VersionConflict => "version_conflict",
            Self::ClientRefused => "client_refused",
            Self::Forbidden => "forbidden",
        }
    }

    /// The hint in English.
    pub fn english(self) -> &'static str {
        match self {
            Self::Uniqueness => "Another user or group already has this value (usually userName, compared without case). In the identity provider, check for a duplicate or a renamed account; if the existing resource is the same person, match it (Entra ID: matching attribute; Okta: import and confirm) instead of creating it again.",
            Self::UnknownMember => "The group named a member that does not exist here. The identity provider usually creates users before adding them: check that the member is assigned to the application and was provisioned without error, then retry.",
            Self::FilterRefused => "scimd refused the filter: an unknown attribute, an operator the attribute does not support, or malformed text. The detail names the problem; check the identity provider's attribute mappings (matching attribute) for a name that is not in the schema.",
            Self::KeyRefused => "The key or access token was refused: it is expired, revoked, disabled, or was replaced by a rotation. Create or rotate a key in the console and paste the new secret into the identity provider's provisioning settings.",
            Self::RateLimited => "The tenant sent more requests than its rate limit allows; the identity provider retries after the Retry-After delay. Nothing is lost; if it persists, spread the provisioning cycles or raise SCIMD_RATE_LIMIT_PER_SECOND.",
            Self::VersionConflict => "The resource changed between the identity provider's read and its write (If-Match named an older version). The provider reads it again and retries; no action is needed unless it repeats.",
            Self::ClientRefused => "The OAuth client could not authenticate at the token endpoint: a wrong, expired or rotated secret, or an assertion that does not match the key's federated credential. Check the client id and secret (or the federated credential) in the identity provider.",
            Self::Forbidden => "The key is valid but lacks the permission this request needs (scim:read for reads, scim:write for changes). Edit the key's permissions in the console.",
        }
    }
}

/// The hint for `record`, when its failure is a common one.
pub fn hint(record: &ActivityRecord) -> Option<Hint> {
    let detail = record
        .detail
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (record.status, record.scim_type.as_deref()) {
        (409, _) => Some(Hint::Uniqueness),
        (400, Some("invalidFilter")) => Some(Hint::FilterRefused),
        (400, _) if detail.contains("member") && detail.contains("not") => {
            Some(Hint::UnknownMember)
        }
        (401, _) if record.method == "POST" && record.path.contains("/oauth2/") => {
            Some(Hint::ClientRefused)
        }
        (401, _) => Some(Hint::KeyRefused),
        (403, _) => Some(Hint::Forbidden),
        (412, _) => Some(Hint::VersionConflict),
        (429, _) => Some(Hint::RateLimited),
        _ => None,
    }
}

/// The health of a key or client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Requests arrive and mostly succeed.
    Healthy,
    /// The last request failed and the connection is broken (refused key, server error) or
    /// at least half of the last hour's requests failed.
    Failing,
    /// No request for longer than the identity provider's cycle.
    Silent,
}

impl Health {
    /// `healthy`, `failing` or `silent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Failing => "failing",
            Self::Silent => "silent",
        }
    }
}

/// Requests and errors of one key or client over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests.
    pub requests: u64,
    /// Requests answered 400 or above.
    pub errors: u64,
    /// Errors per status.
    pub by_status: std::collections::BTreeMap<u16, u64>,
    /// Errors per `scimType`.
    pub by_scim_type: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, status: u16, scim_type: Option<&str>, n: u64) {
        if n == 0 {
            return;
        }
        self.requests += n;
        if status >= 400 {
            self.errors += n;
            *self.by_status.entry(status).or_default() += n;
            if let Some(t) = scim_type {
                *self.by_scim_type.entry(t.to_owned()).or_default() += n;
            }
        }
    }
}

/// One key or client of the summary.
#[derive(Debug, Clone)]
pub struct ActorSummary {
    /// `key` or `client`.
    pub actor_kind: String,
    /// The key's name or the client's id.
    pub actor: String,
    /// The key's name (also for a client: the key it belongs to), when it still exists.
    pub key_name: Option<String>,
    /// Its health.
    pub state: Health,
    /// The last hour.
    pub hour: Tally,
    /// The last day.
    pub day: Tally,
    /// Its newest successful request.
    pub last_success: Option<ActivityRecord>,
    /// Its newest failed request.
    pub last_failure: Option<ActivityRecord>,
}

/// The tenant's summary.
#[derive(Debug, Clone)]
pub struct ActivitySummary {
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// After how long without a request a key or client is silent.
    pub silent_after: chrono::Duration,
    /// Each SCIM key (even one never used) and each client seen in the last day.
    pub actors: Vec<ActorSummary>,
    /// Records dropped (the recorder's queue was full) in the last hour and day.
    pub dropped_hour: u64,
    /// Records dropped in the last day.
    pub dropped_day: u64,
}

/// The state of an actor from its tallies and last requests at `now`.
pub fn health(
    hour: &Tally,
    last_success: Option<&ActivityRecord>,
    last_failure: Option<&ActivityRecord>,
    now: DateTime<Utc>,
    silent_after: chrono::Duration,
) -> Health {
    let last = match (last_success, last_failure) {
        (Some(s), Some(f)) => Some(if f.time > s.time { f } else { s }),
        (s, f) => s.or(f),
    };
    let Some(last) = last else {
        return Health::Silent;
    };
    if now - last.time > silent_after {
        return Health::Silent;
    }
    let broken =
        last.status >= 400 && (last.status >= 500 || matches!(last.status, 401 | 403 | 429));
    if broken || (hour.requests > 0 && hour.errors * 2 >= hour.requests) {
        Health::Failing
    } else {
        Health::Healthy
    }
}

/// The activity summary of `tenant` at `now`: one entry per SCIM key (scopes `scim` and
/// `on_premise`, revoked ones only when they were used in the day) and per OAuth client seen.
pub async fn summary(
    store: &Store,
    tenant: &TenantId,
    now: DateTime<Utc>,
    silent_after: chrono::Duration,
) -> ServiceResult<ActivitySummary> {
    let day_start = now - chrono::Duration::days(1);
    let hour_start = now - chrono::Duration::hours(1);
    let counts = store.count_activity(tenant, day_start, hour_start).await?;
    let keys = store.list_api_keys(tenant, None).await?;
    let mut actors: Vec<ActorSummary> = Vec::new();
    let find = |actors: &mut Vec<ActorSummary>, kind: &str, actor: &str| -> usize {
        match actors
            .iter()
            .position(|a| a.actor_kind == kind && a.actor == actor)
        {
            Some(i) => i,
            None => {
                let key_name = match kind {
                    "client" => keys
                        .iter()
                        .find(|k| k.client_id.as_deref() == Some(actor))
                        .map(|k| k.name.clone()),
                    _ => keys
                        .iter()
                        .find(|k| k.name == actor)
                        .map(|k| k.name.clone()),
                };
                actors.push(ActorSummary {
                    actor_kind: kind.to_owned(),
                    actor: actor.to_owned(),
                    key_name,
                    state: Health::Silent,
                    hour: Tally::default(),
                    day: Tally::default(),
                    last_success: None,
                    last_failure: None,
                });
                actors.len() - 1
            }
        }
    };
    for k in &keys {
        let scim_key = matches!(k.scope.as_str(), "scim" | "on_premise");
        if scim_key && k.revoked_at.is_none() && k.expires_at > now {
            find(&mut actors, "key", &k.name);
        }
    }
    for ActivityCount {
        actor_kind,
        actor,
        status,
        scim_type,
        day,
        hour,
    } in &counts
    {
        let i = find(&mut actors, actor_kind, actor);
        if let Some(a) = actors.get_mut(i) {
            a.day.add(*status, scim_type.as_deref(), *day);
            a.hour.add(*status, scim_type.as_deref(), *hour);
        }
    }
    for a in &mut actors {
        a.last_success = store.last_activity(tenant, &a.actor, false).await?;
        a.last_failure = store.last_activity(tenant, &a.actor, true).await?;
        a.state = health(
            &a.hour,
            a.last_success.as_ref(),
            a.last_failure.as_ref(),
            now,
            silent_after,
        );
    }
    actors.sort_by(|a, b| {
        let order = |h: Health| match h {
            Health::Failing => 0,
            Health::Silent => 1,
            Health::Healthy => 2,
        };
        order(a.state)
            .cmp(&order(b.state))
            .then_with(|| a.actor.cmp(&b.actor))
    });
    Ok(ActivitySummary {
        generated_at: now,
        silent_after,
        actors,
        dropped_hour: store.activity_dropped_since(tenant, hour_start).await?,
        dropped_day: store.activity_dropped_since(tenant, day_start).await?,
    })
}

/// Validates and stores the tenant's activity settings (retention 1–180 days).
pub async fn put_activity_settings(
    store: &Store,
    tenant: &TenantId,
    retention_days: i64,
    keep_failed_bodies: bool,
    caller: &scim_auth::Caller,
    now: DateTime<Utc>,
) -> ServiceResult<ActivitySettings> {
    let range = scim_store::ACTIVITY_RETENTION_DAYS;
    let days = i32::try_from(retention_days)
        .ok()
        .filter(|d| range.contains(d))
        .ok_or_else(|| {
            crate::error::invalid(
                "out_of_range",
                "retentionDays",
                format!(
                    "retentionDays must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            )
        })?;
    Ok(store
        .put_activity_settings(
            tenant,
            ActivitySettings {
                retention_days: days,
                keep_failed_bodies,
            },
            &caller.actor,
            now,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identity_providers_are_told_by_user_agent() {
        assert_eq!(identity_provider(Some("Azure AD SCIM Client")), "entra");
        assert_eq!(
            identity_provider(Some("Microsoft.Identity.Provisioning")),
            "entra"
        );
        assert_eq!(identity_provider(Some("Okta SCIM Client 1.0.0")), "okta");
        assert_eq!(identity_provider(Some("curl/8.0")), "other");
        assert_eq!(identity_provider(None), "other");
    }

    #[test]
    fn a_filter_naming_password_is_not_kept() {
        assert_eq!(
            keepable_filter("password eq \"hunter2\""),
            "[not kept: the filter names password]"
        );
        assert_eq!(keepable_filter("userName eq \"a\""), "userName eq \"a\"");
    }

    #[test]
    fn patch_summaries_name_operations_and_count_members() {
        let body = json!({"schemas": [], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Sales"},
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
            {"op": "remove", "path": "members[value eq \"x\"]"},
            {"op": "replace", "value": {"name.givenName": "A", "active": false}}
        ]});
        assert_eq!(
            summarize_patch(&body),
            "PATCH replace displayName, add 3 members, remove 1 member, replace name.givenName, active"
        );
        assert_eq!(summarize_patch(&json!({})), "PATCH (no operations)");
    }

    #[test]
    fn create_summaries_name_the_resource() {
        assert_eq!(
            summarize_create(
                ResourceKind::User,
                &json!({"userName": "alice@example.com"})
            ),
            "create userName=alice@example.com"
        );
        assert_eq!(
            summarize_create(
                ResourceKind::Group,
                &json!({"displayName": "Sales", "members": [{"value": "a"}]})
            ),
            "create displayName=Sales with 1 member"
        );
        assert_eq!(
            summarize_replace(ResourceKind::User, &json!({})),
            "replace no userName"
        );
    }

    #[test]
    fn passwords_never_stay_in_a_kept_body() {
        let body = json!({
            "userName": "a",
            "password": "hunter2",
            "Operations": [
                {"op": "replace", "path": "password", "value": "s3cret"},
                {"op": "replace", "value": {"PASSWORD": "x1", "nickName": "n"}},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "y2"}
            ]
        });
        let kept = keepable_body(body.to_string().as_bytes()).unwrap();
        for secret in ["hunter2", "s3cret", "x1", "y2"] {
            assert!(!kept.contains(secret), "{secret} kept in {kept}");
        }
        assert!(kept.contains("nickName"));
        assert_eq!(
            keepable_body(b"{\"password\": \"unterminated").unwrap(),
            "[not kept: the body is not JSON and may hold a password]"
        );
        assert_eq!(keepable_body(b"not json").unwrap(), "not json");
        assert_eq!(keepable_body(b""), None);
        let long = format!("\"{}\"", "é".repeat(MAX_KEPT_BODY));
        assert!(keepable_body(long.as_bytes()).unwrap().len() <= MAX_KEPT_BODY + 3);
    }

    fn record(status: u16, minutes_ago: i64, now: DateTime<Utc>) -> ActivityRecord {
        ActivityRecord {
            id: "r".into(),
            time: now - chrono::Duration::minutes(minutes_ago),
            request_id: None,
            actor_kind: "key".into(),
            actor: "k".into(),
            identity_provider: "entra".into(),
            method: "GET".into(),
            path: "/scim/v2/Users".into(),
            resource_type: None,
            resource_id: None,
            filter: None,
            status,
            scim_type: None,
            detail: None,
            latency_ms: 1,
            summary: "".into(),
            attributes: Vec::new(),
            has_body: false,
        }
    }

    #[test]
    fn health_is_silent_failing_or_healthy() {
        let now = Utc::now();
        let cycle = chrono::Duration::minutes(40);
        let mut hour = Tally::default();
        assert_eq!(health(&hour, None, None, now, cycle), Health::Silent);
        let old = record(200, 41, now);
        assert_eq!(health(&hour, Some(&old), None, now, cycle), Health::Silent);
        hour.add(200, None, 10);
        hour.add(409, Some("uniqueness"), 1);
        let ok = record(200, 1, now);
        let conflict = record(409, 2, now);
        assert_eq!(
            health(&hour, Some(&ok), Some(&conflict), now, cycle),
            Health::Healthy
        );
        let refused = record(401, 0, now);
        assert_eq!(
            health(&hour, Some(&ok), Some(&refused), now, cycle),
            Health::Failing
        );
        let mut bad_hour = Tally::default();
        bad_hour.add(200, None, 2);
        bad_hour.add(409, Some("uniqueness"), 2);
        assert_eq!(
            health(&bad_hour, Some(&ok), Some(&conflict), now, cycle),
            Health::Failing
        );
    }

    #[test]
    fn common_failures_have_hints() {
        let now = Utc::now();
        let mut r = record(409, 0, now);
        assert_eq!(hint(&r), Some(Hint::Uniqueness));
        r.status = 400;
        r.scim_type = Some("invalidFilter".into());
        assert_eq!(hint(&r), Some(Hint::FilterRefused));
        r.scim_type = Some("invalidValue".into());
        r.detail = Some("Member 'x' does not exist".into());
        assert_eq!(hint(&r), Some(Hint::UnknownMember));
        r.status = 401;
        assert_eq!(hint(&r), Some(Hint::KeyRefused));
        r.status = 429;
        assert_eq!(hint(&r), Some(Hint::RateLimited));
        r.status = 200;
        assert_eq!(hint(&r), None);
    }
}
