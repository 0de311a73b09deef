//! The batch format of activity records (migration 000190): what one writer writes for one
//! tenant in one flush is one row, its records one JSON array, oldest first. No I/O here: the
//! cutting of a writer's records into batches, their encoding and decoding, the per-minute
//! counts of a batch, and what a read wants of a record.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ActivityRecord, NewActivity, StatusFilter};

/// The longest time a batch spans, from its oldest record to its newest: a read of the
/// records below an id looks at batches whose newest record is at most this much later.
pub(super) const MAX_SPAN_MS: i64 = 60_000;
/// Records per batch at most.
const MAX_RECORDS: usize = 1_000;

/// A batch to insert.
#[derive(Debug, PartialEq)]
pub(super) struct NewBatch {
    pub tenant: String,
    pub newest_id: String,
    pub oldest_id: String,
    pub size: i32,
    pub failed: i32,
    /// The actors named, each between spaces.
    pub actors: String,
    /// The resource ids named, each between spaces.
    pub resources: String,
    /// The records, a JSON array.
    pub records: String,
}

/// A record as read back. A batch stores each record as a JSON object with short names
/// (written by [`write_record`]); records moved from the packed table (migration 000190) carry
/// the long names, and their time as RFC 3339 text (`time`) when they were written before the
/// integer time.
#[derive(serde::Deserialize)]
struct StoredIn {
    id: String,
    #[serde(default, rename = "t", alias = "timeNs")]
    time_ns: Option<i64>,
    #[serde(default)]
    time: Option<DateTime<Utc>>,
    #[serde(default, rename = "rq", alias = "requestId")]
    request_id: Option<String>,
    #[serde(rename = "ak", alias = "actorKind")]
    actor_kind: String,
    #[serde(rename = "a", alias = "actor")]
    actor: String,
    #[serde(default, rename = "ip", alias = "identityProvider")]
    identity_provider: String,
    #[serde(rename = "m", alias = "method")]
    method: String,
    #[serde(default, rename = "p", alias = "path")]
    path: String,
    #[serde(default, rename = "rt", alias = "resourceType")]
    resource_type: Option<String>,
    #[serde(default, rename = "ri", alias = "resourceId")]
    resource_id: Option<String>,
    #[serde(default, rename = "f", alias = "filter")]
    filter: Option<String>,
    #[serde(rename = "s", alias = "status")]
    status: u16,
    #[serde(default, rename = "st", alias = "scimType")]
    scim_type: Option<String>,
    #[serde(default, rename = "d", alias = "detail")]
    detail: Option<String>,
    #[serde(default, rename = "l", alias = "latencyMs")]
    latency_ms: u64,
    #[serde(default, rename = "sm", alias = "summary")]
    summary: String,
    #[serde(default, rename = "at", alias = "attributes")]
    attributes: Vec<String>,
    #[serde(default, rename = "hb", alias = "hasBody")]
    has_body: bool,
}

/// Whether `text` needs escaping in JSON (a control character, `"` or `\\`). Sixteen bytes at
/// a time without an early exit, so that the compiler vectorises the loop.
fn needs_escape(text: &[u8]) -> bool {
    let special = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut chunks = text.chunks_exact(16);
    let mut found = false;
    for chunk in &mut chunks {
        found |= chunk.iter().fold(false, |acc, b| acc | special(*b));
    }
    found || chunks.remainder().iter().any(|b| special(*b))
}

/// Appends `s` as a JSON string. Most text needs no escaping: it is found so by one pass
/// and copied whole; the rest (and any NUL, which PostgreSQL refuses, replaced by U+FFFD)
/// goes through serde_json.
fn push_str(out: &mut String, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Writing a string cannot fail.
        let escaped = serde_json::to_string(&s.replace('\0', "\u{FFFD}")).unwrap_or_default();
        out.push_str(&escaped);
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Appends `n` in decimal.
fn push_int(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.extend(
        digits
            .get(at..)
            .unwrap_or_default()
            .iter()
            .map(|d| char::from(*d)),
    );
}

/// Appends `,"key":` and `value` when there is one.
fn push_opt(out: &mut String, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(key);
        push_str(out, v);
    }
}

/// Appends record `r` as a batch stores it (the names [`StoredIn`] reads).
fn write_record(out: &mut String, r: &ActivityRecord, has_body: bool) {
    out.push_str("{\"id\":");
    push_str(out, &r.id);
    out.push_str(",\"t\":");
    push_int(out, r.time.timestamp_nanos_opt().unwrap_or_default());
    push_opt(out, ",\"rq\":", r.request_id.as_deref());
    out.push_str(",\"ak\":");
    push_str(out, &r.actor_kind);
    out.push_str(",\"a\":");
    push_str(out, &r.actor);
    out.push_str(",\"ip\":");
    push_str(out, &r.identity_provider);
    out.push_str(",\"m\":");
    push_str(out, &r.method);
    out.push_str(",\"p\":");
    push_str(out, &r.path);
    push_opt(out, ",\"rt\":", r.resource_type.as_deref());
    push_opt(out, ",\"ri\":", r.resource_id.as_deref());
    push_opt(out, ",\"f\":", r.filter.as_deref());
    out.push_str(",\"s\":");
    push_int(out, i64::from(r.status));
    push_opt(out, ",\"st\":", r.scim_type.as_deref());
    push_opt(out, ",\"d\":", r.detail.as_deref());
    out.push_str(",\"l\":");
    push_int(out, i64::try_from(r.latency_ms).unwrap_or(i64::MAX));
    out.push_str(",\"sm\":");
    push_str(out, &r.summary);
    out.push_str(",\"at\":[");
    for (i, a) in r.attributes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, a);
    }
    out.push(']');
    if has_body {
        out.push_str(",\"hb\":true");
    }
    out.push('}');
}

/// About the bytes [`write_record`] writes for `r`.
fn size_of_record(r: &ActivityRecord) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    160 + r.id.len()
        + opt(&r.request_id)
        + r.actor_kind.len()
        + r.actor.len()
        + r.identity_provider.len()
        + r.method.len()
        + r.path.len()
        + r.resource_type.as_ref().map_or(0, |t| t.len())
        + opt(&r.resource_id)
        + opt(&r.filter)
        + opt(&r.scim_type)
        + opt(&r.detail)
        + r.summary.len()
        + r.attributes.iter().map(|a| a.len() + 3).sum::<usize>()
}

impl From<StoredIn> for ActivityRecord {
    fn from(s: StoredIn) -> Self {
        Self {
            time: s
                .time_ns
                .map(DateTime::from_timestamp_nanos)
                .or(s.time)
                .unwrap_or_else(|| time_of_id(&s.id)),
            id: s.id,
            request_id: s.request_id,
            actor_kind: s.actor_kind.into(),
            actor: s.actor,
            identity_provider: s.identity_provider.into(),
            method: s.method.into(),
            path: s.path,
            resource_type: s.resource_type.map(Into::into),
            resource_id: s.resource_id,
            filter: s.filter,
            status: s.status,
            scim_type: s.scim_type,
            detail: s.detail,
            latency_ms: s.latency_ms,
            summary: s.summary.into(),
            attributes: s.attributes,
            has_body: s.has_body,
        }
    }
}

/// The records of a batch's `records` text, oldest first; a batch that cannot be read is
/// logged and read as empty (one bad row never hides the others).
pub(super) fn decode(records: &str) -> Vec<ActivityRecord> {
    match serde_json::from_str::<Vec<StoredIn>>(records) {
        Ok(list) => list.into_iter().map(ActivityRecord::from).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "an activity batch is unreadable");
            Vec::new()
        }
    }
}

/// The millisecond since the epoch a record id (a UUIDv7) was made: its first 12 hex digits.
pub(super) fn millis_of_id(id: &str) -> i64 {
    let mut ms: i64 = 0;
    let mut digits = 0;
    for c in id.bytes().take(13) {
        let d = match c {
            b'-' => continue,
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return 0,
        };
        ms = ms * 16 + i64::from(d);
        digits += 1;
        if digits == 12 {
            break;
        }
    }
    ms
}

/// The time a record id was made, for a record that lost its own.
pub(super) fn time_of_id(id: &str) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis_of_id(id)).unwrap_or_default()
}

/// The lowest id a record of millisecond `ms` (or later) can have.
pub(super) fn id_floor_ms(ms: i64) -> String {
    let ms = ms.max(0).unsigned_abs() & 0xFFFF_FFFF_FFFF;
    format!(
        "{:08x}-{:04x}-7000-8000-000000000000",
        ms >> 16,
        ms & 0xFFFF
    )
}

/// A bound just above `id`: every id below it is at most `id` (ids are 36 characters of hex
/// digits and dashes, so `id` followed by `~` is above `id` and below every greater id).
pub(super) fn just_above(id: &str) -> String {
    format!("{id}~")
}

/// What `records` become: batches per tenant (ids ascending, none spanning more than
/// [`MAX_SPAN_MS`]) and the number of records refused because their id repeats one already in
/// the batch. `kept` says whether a record's body is kept.
pub(super) fn cut(
    records: &[NewActivity],
    kept: impl Fn(&NewActivity) -> bool,
) -> (Vec<NewBatch>, u64) {
    let mut sorted: Vec<&NewActivity> = records.iter().collect();
    sorted.sort_by(|a, b| {
        (a.tenant.as_str(), a.record.id.as_str()).cmp(&(b.tenant.as_str(), b.record.id.as_str()))
    });
    let mut refused = 0;
    sorted.dedup_by(|later, earlier| {
        let same = later.tenant == earlier.tenant && later.record.id == earlier.record.id;
        refused += u64::from(same);
        same
    });
    let mut batches = Vec::new();
    let mut rest = sorted.as_slice();
    while let Some(first) = rest.first() {
        let first_ms = millis_of_id(&first.record.id);
        let len = rest
            .iter()
            .take(MAX_RECORDS)
            .position(|r| {
                r.tenant != first.tenant || millis_of_id(&r.record.id) - first_ms > MAX_SPAN_MS
            })
            .unwrap_or_else(|| rest.len().min(MAX_RECORDS));
        let (run, tail) = rest.split_at(len.max(1));
        batches.push(encode(run, &kept));
        rest = tail;
    }
    (batches, refused)
}

/// One batch of `run` (one tenant's records, ids ascending).
fn encode(run: &[&NewActivity], kept: &impl Fn(&NewActivity) -> bool) -> NewBatch {
    let size: usize = run.iter().map(|r| size_of_record(&r.record) + 1).sum();
    let mut json = String::with_capacity(size + 2);
    json.push('[');
    let mut actors = String::from(" ");
    let mut resources = String::from(" ");
    let mut last_resource: Option<&str> = None;
    let mut last_actor: Option<&str> = None;
    let mut failed = 0;
    for (i, new) in run.iter().enumerate() {
        let r = &new.record;
        if i > 0 {
            json.push(',');
        }
        write_record(&mut json, r, kept(new));
        failed += i32::from(r.status >= 400);
        if last_actor != Some(r.actor.as_str()) {
            let actor = clean(&r.actor);
            if !actors.split(' ').any(|a| a == actor) {
                actors.push_str(&actor);
                actors.push(' ');
            }
            last_actor = Some(r.actor.as_str());
        }
        if let Some(id) = r.resource_id.as_deref() {
            if last_resource != Some(id) {
                resources.push_str(&clean(id));
                resources.push(' ');
                last_resource = Some(id);
            }
        }
    }
    json.push(']');
    let first = run
        .first()
        .map(|r| r.record.id.as_str())
        .unwrap_or_default();
    let last = run.last().map(|r| r.record.id.as_str()).unwrap_or_default();
    NewBatch {
        tenant: run
            .first()
            .map(|r| r.tenant.as_str().to_owned())
            .unwrap_or_default(),
        newest_id: clean(last).into_owned(),
        oldest_id: clean(first).into_owned(),
        size: i32::try_from(run.len()).unwrap_or(i32::MAX),
        failed,
        actors: if actors.len() == 1 {
            String::new()
        } else {
            actors
        },
        resources: if resources.len() == 1 {
            String::new()
        } else {
            resources
        },
        records: json,
    }
}

/// `text` with any NUL replaced by U+FFFD.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The key of a per-minute count: tenant, minute, actor kind, actor, status, `scimType`.
pub(super) type CountKey<'a> = (&'a str, i64, &'a str, &'a str, u16, &'a str);

/// Requests of `records` per tenant, minute, actor, status and `scimType`, in key order (the
/// order every batch locks the rows in).
pub(super) fn minute_counts(records: &[NewActivity]) -> BTreeMap<CountKey<'_>, i64> {
    let mut counts: BTreeMap<CountKey<'_>, i64> = BTreeMap::new();
    // Most records count where the one before did: the map is searched when the key changes.
    let mut run: Option<(CountKey<'_>, i64)> = None;
    for n in records {
        let r = &n.record;
        let key = (
            n.tenant.as_str(),
            r.time.timestamp().div_euclid(60),
            &*r.actor_kind,
            r.actor.as_str(),
            r.status,
            r.scim_type.as_deref().unwrap_or_default(),
        );
        match &mut run {
            Some((k, count)) if *k == key => *count += 1,
            _ => {
                if let Some((k, count)) = run.replace((key, 1)) {
                    *counts.entry(k).or_default() += count;
                }
            }
        }
    }
    if let Some((k, count)) = run {
        *counts.entry(k).or_default() += count;
    }
    counts
}

/// What a read wants of a record.
#[derive(Debug, Default)]
pub(super) struct Wanted<'a> {
    /// Ids at or above this one.
    pub lowest: Option<&'a str>,
    /// Ids below this one.
    pub below: Option<&'a str>,
    pub status: Option<StatusFilter>,
    pub method: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub scim_type: Option<&'a str>,
}

impl Wanted<'_> {
    /// Whether `r` is wanted.
    pub fn admits(&self, r: &ActivityRecord) -> bool {
        self.lowest.is_none_or(|l| r.id.as_str() >= l)
            && self.below.is_none_or(|b| r.id.as_str() < b)
            && match self.status {
                Some(StatusFilter::Class(c)) => r.status / 100 == c,
                Some(StatusFilter::Code(c)) => r.status == c,
                None => true,
            }
            && self.method.is_none_or(|m| r.method == m)
            && self.actor.is_none_or(|a| r.actor == a)
            && self
                .resource_id
                .is_none_or(|id| r.resource_id.as_deref() == Some(id))
            && self
                .scim_type
                .is_none_or(|t| r.scim_type.as_deref() == Some(t))
    }

    /// Whether only failed records are wanted (a batch without one can be skipped).
    pub fn only_failures(&self) -> bool {
        match self.status {
            Some(StatusFilter::Class(c)) => c >= 4,
            Some(StatusFilter::Code(c)) => c >= 400,
            None => self.scim_type.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{activity_id, TenantId};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    fn record(tenant: &str, time: DateTime<Utc>, actor: &str, status: u16) -> NewActivity {
        NewActivity {
            tenant: TenantId::parse(tenant).unwrap(),
            record: ActivityRecord {
                id: activity_id(time),
                time,
                request_id: Some("r1".into()),
                actor_kind: "key".into(),
                actor: actor.into(),
                identity_provider: "entra".into(),
                method: "PATCH".into(),
                path: "/scim/v2/Users/\"x\"".into(),
                resource_type: Some("User".into()),
                resource_id: Some("x".into()),
                filter: None,
                status,
                scim_type: (status == 409).then(|| "uniqueness".into()),
                detail: Some("taken \\u0000".into()),
                latency_ms: 12,
                summary: "PATCH replace userName".into(),
                attributes: vec!["userName".into()],
                has_body: false,
            },
            body: None,
        }
    }

    #[test]
    fn a_batch_round_trips_its_records_with_every_nul_replaced() {
        let time = at("2026-12-07T10:42:17.123456Z");
        let mut nul = record("acme", time, "en\0tra", 409);
        nul.record.filter = Some("a\0b".into());
        nul.record.attributes.push("x\0y".into());
        let plain = record("acme", time + chrono::Duration::seconds(1), "okta", 200);
        let (batches, refused) = cut(&[plain.clone(), nul.clone()], |r| r.record.status >= 400);
        assert_eq!(refused, 0);
        let [b] = batches.as_slice() else {
            panic!("{batches:?}")
        };
        assert!(!b.records.contains('\0') && !b.actors.contains('\0'));
        assert_eq!((b.size, b.failed), (2, 1));
        assert_eq!(b.oldest_id, nul.record.id);
        assert_eq!(b.newest_id, plain.record.id);
        assert_eq!(b.actors, " en\u{FFFD}tra okta ");
        assert_eq!(b.resources, " x ");
        let back = decode(&b.records);
        let mut expected = nul.record;
        expected.actor = "en\u{FFFD}tra".into();
        expected.filter = Some("a\u{FFFD}b".into());
        expected.attributes[1] = "x\u{FFFD}y".into();
        expected.has_body = true;
        assert_eq!(back, vec![expected, plain.record]);
    }

    #[test]
    fn any_text_round_trips_and_numbers_are_written_exactly() {
        let mut r = record("acme", at("2026-12-07T10:42:17.123456789Z"), "entra", 500).record;
        r.summary = "quote \" backslash \\ newline \n tab \t bell \u{7} é 日本 😀".into();
        r.detail = Some(String::new());
        r.request_id = None;
        r.attributes = vec!["a\"b".into(), String::new(), "\u{1f}".into()];
        r.latency_ms = u64::MAX;
        let mut text = String::new();
        write_record(&mut text, &r, false);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["t"], r.time.timestamp_nanos_opt().unwrap());
        assert_eq!(
            value["l"],
            i64::MAX,
            "a latency beyond i64 is written as its largest"
        );
        let mut back = decode(&format!("[{text}]"));
        assert_eq!(back.len(), 1);
        let back = back.remove(0);
        r.latency_ms = i64::MAX as u64;
        assert_eq!(back, r);
        for n in [0, 7, -7, 10, 99, 100, i64::MAX, i64::MIN + 1] {
            let mut out = String::new();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn records_of_the_packed_table_read_with_their_long_names() {
        let text = r#"[{"id":"0193a000-0000-7000-8000-000000000001","time":"2026-12-07T10:00:00.5+00:00",
            "requestId":"req-200","actorKind":"key","actor":"entra","identityProvider":"entra",
            "method":"PATCH","path":"/scim/v2/Users/u1","resourceType":"User","resourceId":"u1",
            "filter":null,"status":200,"scimType":null,"detail":null,"latencyMs":7,
            "summary":"PATCH replace displayName","attributes":["displayName"],"hasBody":false}]"#;
        let [r] = decode(text).try_into().unwrap();
        assert_eq!(r.time, at("2026-12-07T10:00:00.5Z"));
        assert_eq!(
            (
                r.request_id.as_deref(),
                r.actor.as_str(),
                r.latency_ms,
                r.status
            ),
            (Some("req-200"), "entra", 7, 200)
        );
        assert_eq!(r.attributes, ["displayName"]);
        assert!(
            decode("[{\"id\": 1}]").is_empty(),
            "an unreadable batch reads as empty"
        );
    }

    #[test]
    fn batches_are_cut_per_tenant_and_span_and_repeated_ids_are_refused() {
        let t0 = at("2026-12-07T10:00:00Z");
        let a1 = record("acme", t0, "entra", 200);
        let a2 = record(
            "acme",
            t0 + chrono::Duration::milliseconds(MAX_SPAN_MS),
            "entra",
            200,
        );
        let a3 = record(
            "acme",
            t0 + chrono::Duration::milliseconds(MAX_SPAN_MS + 1),
            "entra",
            200,
        );
        let g1 = record("globex", t0, "entra", 200);
        let (batches, refused) = cut(
            &[a3.clone(), g1, a1.clone(), a2.clone(), a1.clone()],
            |_| false,
        );
        assert_eq!(refused, 1);
        let shape: Vec<(&str, i32)> = batches
            .iter()
            .map(|b| (b.tenant.as_str(), b.size))
            .collect();
        assert_eq!(shape, [("acme", 2), ("acme", 1), ("globex", 1)]);
        assert_eq!(batches[0].oldest_id, a1.record.id);
        assert_eq!(batches[0].newest_id, a2.record.id);
        assert_eq!(batches[1].newest_id, a3.record.id);
    }

    #[test]
    fn records_are_counted_per_minute_actor_status_and_scim_type() {
        let t0 = at("2026-12-07T10:00:59Z");
        let records = [
            record("acme", t0, "entra", 200),
            record("acme", t0, "entra", 409),
            record(
                "acme",
                t0 + chrono::Duration::milliseconds(500),
                "entra",
                200,
            ),
            record("acme", t0 + chrono::Duration::seconds(1), "entra", 200),
        ];
        let minute = t0.timestamp() / 60;
        let counts: Vec<_> = minute_counts(&records).into_iter().collect();
        assert_eq!(
            counts,
            [
                (("acme", minute, "key", "entra", 200, ""), 2),
                (("acme", minute, "key", "entra", 409, "uniqueness"), 1),
                (("acme", minute + 1, "key", "entra", 200, ""), 1),
            ]
        );
    }

    #[test]
    fn bounds_order_like_ids() {
        let t = at("2026-12-07T10:42:17.123456Z");
        let id = activity_id(t);
        let above = just_above(&id);
        assert!(id < above);
        assert!(activity_id(t + chrono::Duration::microseconds(1)) > above);
        assert_eq!(millis_of_id(&id), t.timestamp_millis());
        assert_eq!(millis_of_id(&above), t.timestamp_millis());
        assert!(id.as_str() >= id_floor_ms(t.timestamp_millis()).as_str());
        assert_eq!(time_of_id("not an id"), DateTime::<Utc>::default());
    }

    #[test]
    fn a_read_admits_what_its_filters_name() {
        let r = record("acme", at("2026-12-07T10:00:00Z"), "entra", 409).record;
        assert!(Wanted::default().admits(&r));
        let failures = Wanted {
            status: Some(StatusFilter::Class(4)),
            ..Default::default()
        };
        assert!(failures.admits(&r) && failures.only_failures());
        let oks = Wanted {
            status: Some(StatusFilter::Class(2)),
            ..Default::default()
        };
        assert!(!oks.admits(&r) && !oks.only_failures());
        let below = Wanted {
            below: Some(&r.id),
            ..Default::default()
        };
        assert!(!below.admits(&r));
        let other = Wanted {
            resource_id: Some("y"),
            ..Default::default()
        };
        assert!(!other.admits(&r));
        let method = Wanted {
            method: Some("PATCH"),
            actor: Some("entra"),
            scim_type: Some("uniqueness"),
            ..Default::default()
        };
        assert!(method.admits(&r));
    }
}
