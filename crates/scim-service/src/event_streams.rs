//! RFC 9967 event streams (issue 20): the settings a stream accepts, its poll secret, the SETs
//! of its events (signed by [`SetIssuer`]) and RFC 8936 polling: acknowledge, then fetch.
//! The requests of pushed streams are `scim-webhooks`'; the HTTP doors are the admin API's and
//! `scim-api`'s.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine as _};
use chrono::{DateTime, Utc};
use rand::RngCore;
use scim_auth::Caller;
use scim_model::SchemaRegistry;
use scim_store::{
    Event, EventStream, EventStreamSettings, NewEventStream, PollSecret, Store, StoreError,
    TenantId,
};
use std::sync::Arc;

use crate::{
    error::invalid,
    security_events::{claims, issuer, sequence_of_jti, SetTarget, SigningKey, SIGNING_SECRET},
    webhooks::{check_event_types, check_url, OutboundPolicy},
    ServiceError, ServiceResult,
};

/// The prefix of a poll secret.
pub const POLL_SECRET_PREFIX: &str = "setpoll_";
/// Most SETs one poll returns.
pub const MAX_EVENTS_PER_POLL: u64 = 1000;
/// Longest audience, description, bearer token.
const MAX_AUDIENCE_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 200;
const MAX_TOKEN_LEN: usize = 4096;

/// A stream as an admin asks for it (create or replace).
#[derive(Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// What the admin calls it.
    pub description: Option<String>,
    /// `push` or `poll` (create only; a stream keeps its method).
    pub delivery: String,
    /// The receiver's endpoint (push).
    pub endpoint_url: Option<String>,
    /// The receiver's bearer token (push; on replace, absent keeps the one held, `""` removes).
    pub endpoint_token: Option<String>,
    /// The SETs' `aud`.
    pub audience: String,
    /// `notice` (the default) or `full`.
    pub format: Option<String>,
    /// The event types sent (default `["*"]`, all).
    pub event_types: Option<Vec<String>>,
    /// Whether SETs are delivered (default true).
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for StreamRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRequest")
            .field("delivery", &self.delivery)
            .field("endpoint_url", &self.endpoint_url)
            .field("audience", &self.audience)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// The checked parts shared by create and replace.
struct Checked {
    description: Option<String>,
    url: Option<String>,
    token: Option<String>,
    audience: String,
    full: bool,
    event_types: Vec<String>,
    enabled: bool,
}

fn check(req: &StreamRequest, push: bool, policy: OutboundPolicy) -> ServiceResult<Checked> {
    let description = match req.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > MAX_DESCRIPTION_LEN || d.chars().any(char::is_control) => {
            return Err(invalid(
                "invalid_value",
                "description",
                "description must be at most 200 characters, without control characters",
            ))
        }
        Some(d) => Some(d.to_owned()),
    };
    let audience = req.audience.trim();
    if audience.is_empty()
        || audience.len() > MAX_AUDIENCE_LEN
        || audience.chars().any(char::is_control)
    {
        return Err(invalid(
            "invalid_value",
            "audience",
            "audience (the SETs' aud) must be 1 to 2048 characters, without control characters",
        ));
    }
    let full = match req.format.as_deref().unwrap_or("notice") {
        "notice" => false,
        "full" => true,
        _ => {
            return Err(invalid(
                "invalid_value",
                "format",
                "format must be \"notice\" or \"full\"",
            ))
        }
    };
    let (url, token) = if push {
        let Some(raw) = &req.endpoint_url else {
            return Err(invalid(
                "required",
                "endpointUrl",
                "a push stream needs endpointUrl, the receiver's RFC 8935 endpoint",
            ));
        };
        let url = check_url(raw, policy).map_err(|e| match e {
            ServiceError::Invalid { code, message, .. } => ServiceError::Invalid {
                code,
                field: "endpointUrl",
                message: message.replacen("url", "endpointUrl", 1),
            },
            other => other,
        })?;
        if let Some(t) = &req.endpoint_token {
            if t.len() > MAX_TOKEN_LEN || t.chars().any(|c| c.is_control() || c == ' ') {
                return Err(invalid(
                    "invalid_value",
                    "endpointToken",
                    "endpointToken must be at most 4096 characters, without spaces or control \
                     characters",
                ));
            }
        }
        (Some(url), req.endpoint_token.clone())
    } else {
        if req.endpoint_url.is_some() || req.endpoint_token.is_some() {
            return Err(invalid(
                "invalid_value",
                "endpointUrl",
                "a poll stream has no endpointUrl or endpointToken: its receiver polls scimd",
            ));
        }
        (None, None)
    };
    Ok(Checked {
        description,
        url,
        token,
        audience: audience.to_owned(),
        full,
        event_types: check_event_types(req.event_types.as_deref().unwrap_or(&["*".to_owned()]))?,
        enabled: req.enabled.unwrap_or(true),
    })
}

/// A new poll secret: the prefix and 32 random bytes (base64url).
fn new_poll_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{POLL_SECRET_PREFIX}{}", B64.encode(bytes))
}

/// How a poll secret is stored and looked up.
pub fn hash_poll_secret(secret: &str) -> PollSecret {
    PollSecret(scim_auth::token::sha256_hex(secret))
}

/// Creates a stream; returns it and, for a poll stream, its receiver's secret (shown once).
pub async fn create_event_stream(
    store: &Store,
    tenant: &TenantId,
    req: StreamRequest,
    policy: OutboundPolicy,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<(EventStream, Option<String>)> {
    let push = match req.delivery.as_str() {
        "push" => true,
        "poll" => false,
        _ => {
            return Err(invalid(
                "invalid_value",
                "delivery",
                "delivery must be \"push\" (RFC 8935) or \"poll\" (RFC 8936)",
            ))
        }
    };
    let c = check(&req, push, policy)?;
    let secret = (!push).then(new_poll_secret);
    let stream = store
        .create_event_stream(
            tenant,
            NewEventStream {
                description: c.description,
                url: c.url,
                token: c.token.filter(|t| !t.is_empty()),
                poll_secret_hash: secret.as_deref().map(|s| hash_poll_secret(s).0),
                audience: c.audience,
                full: c.full,
                event_types: c.event_types,
                enabled: c.enabled,
            },
            &caller.actor,
            now,
        )
        .await?;
    Ok((stream, secret))
}

/// Replaces a stream's settings (its delivery method stays).
pub async fn update_event_stream(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    req: StreamRequest,
    policy: OutboundPolicy,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<EventStream> {
    let current = store.get_event_stream(tenant, id).await?;
    if req.delivery != current.delivery {
        return Err(invalid(
            "invalid_value",
            "delivery",
            format!(
                "a stream keeps its delivery method ({}); create another stream to change it",
                current.delivery
            ),
        ));
    }
    let c = check(&req, current.delivery == "push", policy)?;
    Ok(store
        .update_event_stream(
            tenant,
            id,
            EventStreamSettings {
                description: c.description,
                url: c.url,
                token: c.token,
                audience: c.audience,
                full: c.full,
                event_types: c.event_types,
                enabled: c.enabled,
            },
            &caller.actor,
            now,
        )
        .await?)
}

/// Signs the SETs of a tenant's events: its key is derived from the server secret read once.
#[derive(Clone)]
pub struct SetIssuer {
    store: Store,
    registry: Arc<SchemaRegistry>,
    public_url: Option<String>,
    master: Arc<tokio::sync::OnceCell<String>>,
    /// Keys derived so far, by tenant (a derivation is a scalar multiplication).
    keys: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<SigningKey>>>>,
}

impl std::fmt::Debug for SetIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetIssuer")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl SetIssuer {
    /// An issuer on `store`, rendering full SETs with `registry`, whose SETs name `public_url`
    /// (`SCIMD_PUBLIC_URL`) as their issuer's root.
    pub fn new(store: Store, registry: Arc<SchemaRegistry>, public_url: Option<String>) -> Self {
        Self {
            store,
            registry,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            master: Arc::default(),
            keys: Arc::default(),
        }
    }

    /// The configured public root (`SCIMD_PUBLIC_URL`), if any.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The signing key of `tenant` (derived once per process).
    pub async fn key(&self, tenant: &TenantId) -> ServiceResult<Arc<SigningKey>> {
        let master = self
            .master
            .get_or_try_init(|| self.store.server_secret(SIGNING_SECRET))
            .await?;
        // A poisoned map only lost a cache entry: derive again.
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        Ok(keys
            .entry(tenant.as_str().to_owned())
            .or_insert_with(|| Arc::new(SigningKey::derive(master, tenant.as_str())))
            .clone())
    }

    /// The signed SET of `event` for `target`, its issuer's root being `root` (the public URL,
    /// or the polling request's own).
    pub fn set_of(
        &self,
        key: &SigningKey,
        tenant: &TenantId,
        event: &Event,
        target: SetTarget<'_>,
        root: &str,
        now: DateTime<Utc>,
    ) -> String {
        let claims = claims(
            event,
            target,
            &issuer(root, tenant.as_str()),
            &self.registry,
            &format!("{root}/scim/v2"),
            now,
        );
        key.sign(&claims)
    }
}

/// One RFC 8936 poll, as the receiver sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollRequest {
    /// `jti`s acknowledged.
    pub ack: Vec<String>,
    /// `jti`s the receiver could not accept, with its `err` and `description`.
    pub set_errs: Vec<(String, String)>,
    /// At most this many SETs (`None`: up to [`MAX_EVENTS_PER_POLL`]; `0`: acknowledge only).
    pub max_events: Option<u64>,
}

/// The answer to a poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollAnswer {
    /// `(jti, SET)` in event order.
    pub sets: Vec<(String, String)>,
    /// Whether more SETs wait after these.
    pub more_available: bool,
}

/// The poll stream `id` of `tenant` if `secret` is its receiver's; otherwise `NotFound`,
/// whatever was wrong.
pub async fn polled_stream(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    secret: &str,
) -> ServiceResult<EventStream> {
    if !secret.starts_with(POLL_SECRET_PREFIX) {
        return Err(StoreError::NotFound.into());
    }
    Ok(store
        .find_polled_stream(tenant, id, &hash_poll_secret(secret))
        .await?)
}

/// Applies a poll's acknowledgements and errors (each `setErrs` entry counts as acknowledged:
/// re-sending a SET the receiver cannot accept would not help), then returns the next SETs.
/// A disabled stream acknowledges but returns nothing.
pub async fn poll(
    issuer: &SetIssuer,
    tenant: &TenantId,
    stream: &EventStream,
    req: &PollRequest,
    root: &str,
    now: DateTime<Utc>,
) -> ServiceResult<PollAnswer> {
    let store = &issuer.store;
    let mut sequences: Vec<i64> = req
        .ack
        .iter()
        .filter_map(|j| sequence_of_jti(&stream.id, j))
        .collect();
    let mut last_error = None;
    for (jti, err) in &req.set_errs {
        if let Some(s) = sequence_of_jti(&stream.id, jti) {
            sequences.push(s);
            last_error = Some(format!("the receiver refused SET {jti}: {err}"));
        }
    }
    if let Some(error) = last_error {
        store.note_stream_error(stream, &error).await?;
    }
    let mut stream = stream.clone();
    if !sequences.is_empty() {
        stream.position = store
            .acknowledge_stream_events(tenant, &stream, &sequences, now)
            .await?;
    }
    let limit = req
        .max_events
        .unwrap_or(MAX_EVENTS_PER_POLL)
        .min(MAX_EVENTS_PER_POLL);
    if limit == 0 || !stream.enabled {
        return Ok(PollAnswer::default());
    }
    let (events, more_available) = store.pending_stream_events(tenant, &stream, limit).await?;
    if events.is_empty() {
        return Ok(PollAnswer {
            sets: Vec::new(),
            more_available,
        });
    }
    let key = issuer.key(tenant).await?;
    let target = SetTarget {
        stream_id: &stream.id,
        audience: &stream.audience,
        full: stream.format == "full",
    };
    let sets = events
        .iter()
        .map(|e| {
            (
                crate::security_events::jti(&stream.id, e.sequence),
                issuer.set_of(&key, tenant, e, target, root, now),
            )
        })
        .collect();
    Ok(PollAnswer {
        sets,
        more_available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(delivery: &str) -> StreamRequest {
        StreamRequest {
            description: None,
            delivery: delivery.into(),
            endpoint_url: None,
            endpoint_token: None,
            audience: "https://rp.example".into(),
            format: None,
            event_types: None,
            enabled: None,
        }
    }

    #[test]
    fn push_needs_a_url_and_poll_has_none() {
        let policy = OutboundPolicy::default();
        assert!(check(&req("push"), true, policy).is_err());
        let mut push = req("push");
        push.endpoint_url = Some("https://rp.example/events".into());
        push.endpoint_token = Some("tok".into());
        let c = check(&push, true, policy).expect("valid");
        assert_eq!(c.url.as_deref(), Some("https://rp.example/events"));
        let mut poll = req("poll");
        assert!(check(&poll, false, policy).is_ok());
        poll.endpoint_url = Some("https://rp.example/events".into());
        assert!(check(&poll, false, policy).is_err());
    }

    #[test]
    fn format_and_audience_are_checked() {
        let policy = OutboundPolicy::default();
        let mut r = req("poll");
        r.format = Some("verbose".into());
        assert!(check(&r, false, policy).is_err());
        let mut r = req("poll");
        r.audience = " ".into();
        assert!(check(&r, false, policy).is_err());
        let mut r = req("poll");
        r.format = Some("full".into());
        assert!(check(&r, false, policy).expect("valid").full);
    }

    #[test]
    fn poll_secrets_are_random_and_hashed() {
        let a = new_poll_secret();
        assert!(a.starts_with(POLL_SECRET_PREFIX) && a.len() > 40);
        assert_ne!(a, new_poll_secret());
        assert_eq!(hash_poll_secret(&a), hash_poll_secret(&a));
        assert_eq!(hash_poll_secret(&a).0.len(), 64);
    }
}
