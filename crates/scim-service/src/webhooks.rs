//! Webhook endpoints (issue 20): which URLs and event types a tenant may register, the signing
//! secret, the signature itself (Standard Webhooks), the back-off of failed deliveries, and
//! which addresses an outbound request may reach. The requests are `scim-webhooks`'.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use scim_auth::Caller;
use scim_store::{
    NewWebhook, ResendSelection, Store, StoreError, TenantId, Webhook, WebhookSettings,
};
use sha2::Sha256;

use crate::{events::event_type, ServiceError, ServiceResult};

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Longest wait between two attempts at one event.
pub const MAX_RETRY_DELAY: Duration = Duration::hours(1);
/// After failing this long, an endpoint is "failing" (and its admin is told).
pub const FAILING_AFTER: Duration = Duration::hours(24);

/// The health of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookState {
    /// Its last attempt was acknowledged (or none was needed yet).
    Healthy,
    /// Its last attempt failed; the next one is scheduled.
    Retrying,
    /// It has been failing for more than [`FAILING_AFTER`]; its events wait, none is dropped.
    Failing,
    /// Switched off: it keeps its place in the stream.
    Disabled,
}

impl WebhookState {
    /// The state of `w` at `now`.
    pub fn of(w: &Webhook, now: DateTime<Utc>) -> Self {
        match (w.enabled, w.failing_since) {
            (false, _) => Self::Disabled,
            (true, Some(since)) if now - since >= FAILING_AFTER => Self::Failing,
            (true, Some(_)) => Self::Retrying,
            (true, None) => Self::Healthy,
        }
    }

    /// The admin API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Retrying => "retrying",
            Self::Failing => "failing",
            Self::Disabled => "disabled",
        }
    }
}

/// What outbound requests may reach (`SCIMD_WEBHOOK_ALLOW_HTTP`, `SCIMD_WEBHOOK_ALLOW_PRIVATE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// `http://` URLs are accepted (otherwise `https://` only).
    pub allow_http: bool,
    /// Private, loopback and link-local addresses may be reached.
    pub allow_private: bool,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code: "invalid_value",
        field,
        message: message.into(),
    }
}

/// Whether `ip` is an address on the public internet: not loopback, private (RFC 1918, RFC
/// 4193), link-local, shared (RFC 6598), unspecified, multicast, broadcast, documentation or
/// benchmarking, and no IPv4 address hidden in an IPv6 one that is.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let first = s.first().copied().unwrap_or(0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && s.get(1).copied() == Some(0x0db8)) // documentation
                || (first == 0x0064 && s.get(1).copied() == Some(0xff9b)) // NAT64
                || v6 == Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

/// Checks a webhook URL: `https://` (or `http://` when allowed), a host, no credentials, no
/// fragment, at most 2,048 bytes; an address literal must be public unless private ones are
/// allowed. (A host name is resolved, and its addresses checked, at each delivery.)
pub fn check_url(raw: &str, policy: OutboundPolicy) -> ServiceResult<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return Err(invalid("url", "url must be 1 to 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("url", "url is not a valid URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(invalid(
                "url",
                "url must use https (http needs SCIMD_WEBHOOK_ALLOW_HTTP=1 on the server)",
            ))
        }
        _ => return Err(invalid("url", "url must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "url must not hold credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("url", "url must not have a fragment"));
    }
    let literal = match url.host() {
        None => return Err(invalid("url", "url must name a host")),
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            } else {
                None
            }
        }
    };
    if let Some(ip) = literal {
        if !policy.allow_private && !is_public(ip) {
            return Err(invalid(
                "url",
                "url points at a private or loopback address (allowed only with \
                 SCIMD_WEBHOOK_ALLOW_PRIVATE=1 on the server)",
            ));
        }
    }
    Ok(url.to_string())
}

/// Checks the event types: a non-empty list of known types, or `["*"]` for all.
pub fn check_event_types(types: &[String]) -> ServiceResult<Vec<String>> {
    if types.is_empty() {
        return Err(invalid(
            "eventTypes",
            "eventTypes must list at least one event type, or \"*\" for all",
        ));
    }
    if types.iter().any(|t| t == "*") {
        return if types.len() == 1 {
            Ok(vec!["*".into()])
        } else {
            Err(invalid("eventTypes", "\"*\" stands alone in eventTypes"))
        };
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        let known = event_type(t).ok_or_else(|| {
            invalid(
                "eventTypes",
                format!(
                    "unknown event type '{t}'; the types are {}",
                    crate::events::EVENT_TYPES.join(", ")
                ),
            )
        })?;
        if !out.iter().any(|o| o == known) {
            out.push(known.to_owned());
        }
    }
    Ok(out)
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The Standard Webhooks signature of one delivery: `v1,` and the base64 HMAC-SHA256, keyed
/// with the secret's bytes, of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// When to try again after the `failures`-th failed attempt in a row: `base`, doubled at each
/// failure, at most an hour. Failed events are never dropped: an endpoint down for days gets
/// them all, in order, once it answers again.
pub fn retry_at(failures: i32, base: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = base
        .checked_mul(1 << doublings.min(20))
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY);
    now + delay
}

/// Registers an endpoint; returns it and its signing secret (shown this once).
pub async fn create_webhook(
    store: &Store,
    tenant: &TenantId,
    settings: WebhookSettings,
    policy: OutboundPolicy,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<(Webhook, String)> {
    let url = check_url(&settings.url, policy)?;
    let event_types = check_event_types(&settings.event_types)?;
    let secret = new_secret();
    let webhook = store
        .create_webhook(
            tenant,
            NewWebhook {
                url,
                event_types,
                enabled: settings.enabled,
                secret: secret.clone(),
            },
            &caller.actor,
            now,
        )
        .await?;
    Ok((webhook, secret))
}

/// Replaces an endpoint's URL, types and switch.
pub async fn update_webhook(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    settings: WebhookSettings,
    policy: OutboundPolicy,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<Webhook> {
    let settings = WebhookSettings {
        url: check_url(&settings.url, policy)?,
        event_types: check_event_types(&settings.event_types)?,
        enabled: settings.enabled,
    };
    Ok(store
        .update_webhook(tenant, id, settings, &caller.actor, now)
        .await?)
}

/// What a caller asks to send again: one event (`event_id`) or the events captured in
/// `[since, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResendRequest {
    /// One event, by id (sent whatever its type).
    pub event_id: Option<String>,
    /// From (inclusive), with `until`.
    pub since: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub until: Option<DateTime<Utc>>,
}

impl ResendRequest {
    /// The selection asked for: an event id alone, or a range whose end follows its start.
    pub fn selection(self) -> ServiceResult<ResendSelection> {
        match (self.event_id, self.since, self.until) {
            (Some(id), None, None) => Ok(ResendSelection::Event(id)),
            (None, Some(since), Some(until)) if since < until => {
                Ok(ResendSelection::Range { since, until })
            }
            (None, Some(_), Some(_)) => Err(crate::error::invalid(
                "invalid_value",
                "until",
                "until must be after since",
            )),
            _ => Err(crate::error::invalid(
                "missing_field",
                "eventId",
                "give eventId, or since and until",
            )),
        }
    }
}

/// Where events are sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendTarget {
    /// A webhook endpoint.
    Webhook,
    /// A pushed event stream (a polled one's receiver gets again what it has not acknowledged).
    PushedStream,
}

/// Queues `req` to be sent again to the destination `id` of `tenant` (audited); returns how
/// many events were queued. `NotFound` for another tenant's or kind's destination, a polled
/// stream, or an unknown event.
pub async fn resend_events(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    target: ResendTarget,
    req: ResendRequest,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<u64> {
    let selection = req.selection()?;
    let exists = match target {
        ResendTarget::Webhook => store.get_webhook(tenant, id).await.map(|_| true)?,
        ResendTarget::PushedStream => store.get_event_stream(tenant, id).await?.delivery == "push",
    };
    if !exists {
        return Err(StoreError::NotFound.into());
    }
    Ok(store
        .request_resend(tenant, id, &selection, &caller.actor, now)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: OutboundPolicy = OutboundPolicy {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn urls_are_https_public_and_without_credentials() {
        let strict = OutboundPolicy::default();
        assert_eq!(
            check_url("https://hooks.example.com/scim", strict).unwrap(),
            "https://hooks.example.com/scim"
        );
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://[::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost:8080/",
            "https://api.localhost/",
            "not a url",
            "",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", OPEN).is_ok());
        assert!(check_url(&format!("https://x.example/{}", "a".repeat(2100)), OPEN).is_err());
    }

    #[test]
    fn public_addresses() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn event_types_are_known_or_star_alone() {
        assert_eq!(check_event_types(&["*".into()]).unwrap(), ["*"]);
        assert_eq!(
            check_event_types(&["user.created".into(), "user.created".into()]).unwrap(),
            ["user.created"]
        );
        assert!(check_event_types(&[]).is_err());
        assert!(check_event_types(&["*".into(), "user.created".into()]).is_err());
        assert!(check_event_types(&["user.exploded".into()]).is_err());
    }

    #[test]
    fn the_signature_is_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        let fresh = new_secret();
        assert!(fresh.starts_with(SECRET_PREFIX) && fresh.len() > 40);
        assert_ne!(fresh, new_secret());
    }

    #[test]
    fn a_resend_is_one_event_or_a_forward_range() {
        let t = Utc::now();
        let ask = |event_id: Option<&str>, since, until| ResendRequest {
            event_id: event_id.map(str::to_owned),
            since,
            until,
        };
        assert_eq!(
            ask(Some("e"), None, None).selection().unwrap(),
            ResendSelection::Event("e".into())
        );
        assert!(ask(None, Some(t), Some(t + Duration::hours(1)))
            .selection()
            .is_ok());
        assert!(ask(None, Some(t), Some(t)).selection().is_err());
        assert!(ask(Some("e"), Some(t), Some(t + Duration::hours(1)))
            .selection()
            .is_err());
        assert!(ask(None, None, None).selection().is_err());
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        let now = Utc::now();
        let base = Duration::seconds(5);
        assert_eq!(retry_at(1, base, now) - now, Duration::seconds(5));
        assert_eq!(retry_at(2, base, now) - now, Duration::seconds(10));
        assert_eq!(retry_at(5, base, now) - now, Duration::seconds(80));
        assert_eq!(retry_at(40, base, now) - now, MAX_RETRY_DELAY);
    }
}
