//! RFC 9967 Security Event Tokens (issue 20): the SET of one provisioning event for one
//! stream, signed ES256 with the tenant's key, and the tenant's public JWKS.
//!
//! One event is one SET:
//!
//! | event                                   | event URI (`…` = `urn:ietf:params:scim:event:`) |
//! |-----------------------------------------|--------------------------------------------------|
//! | `user.created`, `group.created`         | `…prov:create:notice` / `:full`                  |
//! | `*.updated`, `group.members_*`          | `…prov:patch:…`, or `…prov:put:…` after a PUT    |
//! | `user.activated` / `user.deactivated`   | `…prov:activate` / `…prov:deactivate`            |
//! | `user.deleted`, `group.deleted`         | `…prov:delete`                                   |
//!
//! A notice names the changed attributes (`attributes`); a full SET carries `data`: the resource
//! after a create or a PUT, and for a PATCH an equivalent PatchOp (each changed top-level
//! attribute replaced or removed, members added or removed). Both carry `version`, the ETag
//! after the change. An event captured before the tenant had a full stream has no resource
//! kept: its SET is the notice. Claims: `iss` (`{public URL}/events/{tenant}`), `iat`, `jti`
//! (`{sequence}.{stream id}`: the same on every re-send to one stream), `aud` (the stream's
//! audience), `txn` (the event id: the same for every receiver), `sub_id` (`format: scim`,
//! `uri` relative to the SCIM base, `id`, `externalId`).
//!
//! Keys: each tenant's P-256 key is derived from the server secret `set.es256` (HMAC-SHA256 of
//! the tenant id), so every process signs with the same key and none is stored per tenant.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine as _};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use p256::ecdsa::{signature::Signer, Signature};
use scim_model::{render::render, Resource, ResourceKind, SchemaRegistry};
use scim_store::Event;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::events::{
    GROUP_CREATED, GROUP_DELETED, GROUP_MEMBERS_ADDED, GROUP_MEMBERS_REMOVED, USER_ACTIVATED,
    USER_CREATED, USER_DEACTIVATED, USER_DELETED,
};

/// The name of the server secret the tenants' signing keys are derived from.
pub const SIGNING_SECRET: &str = "set.es256";
/// The media type of a SET (RFC 8417 §2.3).
pub const SET_MEDIA_TYPE: &str = "application/secevent+jwt";

const URI: &str = "urn:ietf:params:scim:event:";

/// The event URIs scimd emits (`/ServiceProviderConfig`'s `securityEvents.eventUris`).
pub const EVENT_URIS: [&str; 9] = [
    "urn:ietf:params:scim:event:prov:create:notice",
    "urn:ietf:params:scim:event:prov:create:full",
    "urn:ietf:params:scim:event:prov:patch:notice",
    "urn:ietf:params:scim:event:prov:patch:full",
    "urn:ietf:params:scim:event:prov:put:notice",
    "urn:ietf:params:scim:event:prov:put:full",
    "urn:ietf:params:scim:event:prov:delete",
    "urn:ietf:params:scim:event:prov:activate",
    "urn:ietf:params:scim:event:prov:deactivate",
];

/// `/ServiceProviderConfig`'s `securityEvents` (RFC 9967 §4): no asynchronous requests.
pub fn service_provider_config() -> Value {
    json!({"asyncRequest": "none", "eventUris": EVENT_URIS})
}

/// A tenant's SET signing key.
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key of `tenant`, derived from the server secret `master` (hex or any text).
    pub fn derive(master: &str, tenant: &str) -> Self {
        let mut counter = 0u32;
        loop {
            // A key of any length is accepted by HMAC.
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(b"scimd set es256 v1\0");
            mac.update(tenant.as_bytes());
            mac.update(&counter.to_be_bytes());
            let bytes = mac.finalize().into_bytes();
            // Fails only for 0 or a value ≥ the group order (probability ~2⁻³²).
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                let point = key.verifying_key().to_encoded_point(false);
                let digest = Sha256::digest(point.as_bytes());
                let kid = B64.encode(digest.get(..12).unwrap_or_default());
                return Self { key, kid };
            }
            counter += 1;
        }
    }

    /// Its key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7517/7518).
    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| c.map(|b| B64.encode(b)).unwrap_or_default();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": coordinate(point.x()),
            "y": coordinate(point.y()),
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
        })
    }

    /// The JWKS document of this key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }

    /// `claims` as a compact JWS (ES256, `typ: secevent+jwt`).
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "secevent+jwt", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// The stream a SET is for.
#[derive(Debug, Clone, Copy)]
pub struct SetTarget<'a> {
    /// The stream's id.
    pub stream_id: &'a str,
    /// Its audience.
    pub audience: &'a str,
    /// Whether it wants the resource.
    pub full: bool,
}

/// The SET `jti` of the event `sequence` for stream `stream_id`.
pub fn jti(stream_id: &str, sequence: i64) -> String {
    format!("{sequence}.{stream_id}")
}

/// The event sequence a `jti` of stream `stream_id` names (`None` for another's or garbage).
pub fn sequence_of_jti(stream_id: &str, jti: &str) -> Option<i64> {
    let (sequence, stream) = jti.split_once('.')?;
    (stream == stream_id)
        .then(|| sequence.parse().ok())
        .flatten()
}

/// The issuer of `tenant`'s SETs.
pub fn issuer(public_url: &str, tenant: &str) -> String {
    format!("{public_url}/events/{tenant}")
}

fn kind_of(event: &Event) -> ResourceKind {
    if event.resource_type == "Group" {
        ResourceKind::Group
    } else {
        ResourceKind::User
    }
}

/// The event URI and payload of `event` for a stream that wants the resource (`full`).
fn payload(
    event: &Event,
    full: bool,
    registry: &SchemaRegistry,
    base_url: &str,
) -> (String, Value) {
    let version = json!(format!("W/\"{}\"", event.version));
    let op = if event.replaced { "put" } else { "patch" };
    let (verb, data) = match event.event_type.as_str() {
        USER_ACTIVATED => return (format!("{URI}prov:activate"), json!({})),
        USER_DEACTIVATED => return (format!("{URI}prov:deactivate"), json!({})),
        USER_DELETED | GROUP_DELETED => return (format!("{URI}prov:delete"), json!({})),
        USER_CREATED | GROUP_CREATED => (
            "create",
            event
                .data
                .as_ref()
                .map(|d| resource(event, d, registry, base_url)),
        ),
        GROUP_MEMBERS_ADDED | GROUP_MEMBERS_REMOVED => ("patch", Some(membership_patch(event))),
        _ if event.replaced => (
            op,
            event
                .data
                .as_ref()
                .map(|d| resource(event, d, registry, base_url)),
        ),
        _ => (op, event.data.as_ref().map(|d| attribute_patch(event, d))),
    };
    match data {
        Some(data) if full => (
            format!("{URI}prov:{verb}:full"),
            json!({"data": data, "version": version}),
        ),
        _ => (
            format!("{URI}prov:{verb}:notice"),
            json!({"attributes": event.attributes, "version": version}),
        ),
    }
}

/// The resource after the change, rendered as a GET would (without its relations).
fn resource(event: &Event, data: &Value, registry: &SchemaRegistry, base_url: &str) -> Value {
    let attributes = data.as_object().cloned().unwrap_or_default();
    let res = Resource {
        kind: kind_of(event),
        id: event.resource_id.clone(),
        attributes,
        members: None,
        groups: None,
        version: event.version,
        created: event.time,
        last_modified: event.time,
    };
    let mut out = render(registry, &res, base_url);
    // The event does not know when the resource was created: only `lastModified` is true.
    if let Some(meta) = out.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("created");
    }
    out
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PatchOp with the effect of an attribute change: each changed top-level attribute
/// replaced by its value after the change, or removed when it has none.
fn attribute_patch(event: &Event, data: &Value) -> Value {
    let after = data.as_object().cloned().unwrap_or_default();
    let mut tops: Vec<&str> = event.attributes.iter().map(|p| top_level(p)).collect();
    tops.dedup();
    let operations: Vec<Value> = tops
        .into_iter()
        .map(|name| match find_ci(&after, name) {
            Some(value) => json!({"op": "replace", "path": name, "value": value}),
            None => json!({"op": "remove", "path": name}),
        })
        .collect();
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// A PatchOp adding or removing the members an event names.
fn membership_patch(event: &Event) -> Value {
    let ids = event.related.clone().unwrap_or_default();
    let operations: Vec<Value> = if event.event_type == GROUP_MEMBERS_ADDED {
        vec![json!({
            "op": "add",
            "path": "members",
            "value": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
        })]
    } else {
        ids.iter()
            .map(|id| json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}))
            .collect()
    };
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// The top-level attribute of a changed path (`name.givenName` → `name`; an extension's
/// `urn:…:User:manager.value` → the extension `urn:…:User`).
fn top_level(path: &str) -> &str {
    if path.starts_with("urn:") {
        return path.rsplit_once(':').map_or(path, |(urn, _)| urn);
    }
    path.split('.').next().unwrap_or(path)
}

fn find_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The claims of `event`'s SET for `target`, issued by `issuer` at `now`.
pub fn claims(
    event: &Event,
    target: SetTarget<'_>,
    issuer: &str,
    registry: &SchemaRegistry,
    base_url: &str,
    now: DateTime<Utc>,
) -> Value {
    let (uri, payload) = payload(event, target.full, registry, base_url);
    let kind = kind_of(event);
    let mut sub_id = json!({
        "format": "scim",
        "uri": format!("{}/{}", kind.endpoint(), event.resource_id),
        "id": event.resource_id,
    });
    if let (Some(ext), Some(map)) = (&event.external_id, sub_id.as_object_mut()) {
        map.insert("externalId".into(), json!(ext));
    }
    let mut events = Map::new();
    events.insert(uri, payload);
    json!({
        "iss": issuer,
        "iat": now.timestamp(),
        "jti": jti(target.stream_id, event.sequence),
        "aud": target.audience,
        "txn": event.id,
        "sub_id": sub_id,
        "events": events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_store::EventActor;

    fn event(event_type: &str, data: Option<Value>, replaced: bool) -> Event {
        Event {
            id: "0190-event".into(),
            sequence: 42,
            time: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            event_type: event_type.into(),
            resource_type: if event_type.starts_with("group") {
                "Group"
            } else {
                "User"
            }
            .into(),
            resource_id: "u1".into(),
            external_id: Some("ext-1".into()),
            version: 3,
            attributes: vec!["name.givenName".into(), "emails".into(), "nickName".into()],
            related: Some(vec!["m1".into(), "m2".into()]),
            actor: EventActor {
                kind: "key".into(),
                name: "entra".into(),
            },
            request_id: None,
            data,
            replaced,
        }
    }

    fn target(full: bool) -> SetTarget<'static> {
        SetTarget {
            stream_id: "s1",
            audience: "https://rp.example",
            full,
        }
    }

    fn set(e: &Event, full: bool) -> Value {
        let registry = SchemaRegistry::core().expect("core schemas");
        claims(
            e,
            target(full),
            "https://scimd.example/events/acme",
            &registry,
            "https://scimd.example/scim/v2",
            Utc::now(),
        )
    }

    #[test]
    fn a_notice_names_the_changed_attributes_and_the_version() {
        let s = set(&event("user.updated", None, false), false);
        let payload = &s["events"]["urn:ietf:params:scim:event:prov:patch:notice"];
        assert_eq!(
            payload["attributes"],
            json!(["name.givenName", "emails", "nickName"])
        );
        assert_eq!(payload["version"], json!("W/\"3\""));
        assert_eq!(
            s["sub_id"],
            json!({"format": "scim", "uri": "/Users/u1", "id": "u1", "externalId": "ext-1"})
        );
        assert_eq!(s["jti"], json!("42.s1"));
        assert_eq!(s["txn"], json!("0190-event"));
        assert_eq!(s["aud"], json!("https://rp.example"));
    }

    #[test]
    fn a_full_patch_is_an_equivalent_patch_op() {
        let data = json!({"userName": "bjensen", "name": {"givenName": "Barb"}, "emails": [{"value": "b@x"}]});
        let s = set(&event("user.updated", Some(data), false), true);
        let payload = &s["events"]["urn:ietf:params:scim:event:prov:patch:full"];
        assert_eq!(
            payload["data"]["Operations"],
            json!([
                {"op": "replace", "path": "name", "value": {"givenName": "Barb"}},
                {"op": "replace", "path": "emails", "value": [{"value": "b@x"}]},
                {"op": "remove", "path": "nickName"},
            ])
        );
    }

    #[test]
    fn a_full_put_or_create_carries_the_resource_without_secrets() {
        let data = json!({"userName": "bjensen", "password": "hash"});
        for (kind, replaced, uri) in [
            (
                "user.created",
                false,
                "urn:ietf:params:scim:event:prov:create:full",
            ),
            (
                "user.updated",
                true,
                "urn:ietf:params:scim:event:prov:put:full",
            ),
        ] {
            let s = set(&event(kind, Some(data.clone()), replaced), true);
            let resource = &s["events"][uri]["data"];
            assert_eq!(resource["userName"], json!("bjensen"), "{kind}");
            assert_eq!(resource["id"], json!("u1"));
            assert!(resource.get("password").is_none(), "{resource}");
        }
    }

    #[test]
    fn without_kept_data_a_full_stream_gets_the_notice() {
        let s = set(&event("user.created", None, false), true);
        assert!(
            s["events"]
                .get("urn:ietf:params:scim:event:prov:create:notice")
                .is_some(),
            "{s}"
        );
    }

    #[test]
    fn lifecycle_events_have_their_own_uris() {
        for (kind, uri) in [
            ("user.activated", "urn:ietf:params:scim:event:prov:activate"),
            (
                "user.deactivated",
                "urn:ietf:params:scim:event:prov:deactivate",
            ),
            ("user.deleted", "urn:ietf:params:scim:event:prov:delete"),
            ("group.deleted", "urn:ietf:params:scim:event:prov:delete"),
        ] {
            let s = set(&event(kind, None, false), true);
            assert_eq!(s["events"][uri], json!({}), "{kind}");
        }
        let s = set(&event("group.members_removed", None, false), true);
        assert_eq!(
            s["events"]["urn:ietf:params:scim:event:prov:patch:full"]["data"]["Operations"][1],
            json!({"op": "remove", "path": "members[value eq \"m2\"]"})
        );
        assert_eq!(s["sub_id"]["uri"], json!("/Groups/u1"));
    }

    #[test]
    fn jtis_name_their_stream_and_event() {
        assert_eq!(sequence_of_jti("s1", &jti("s1", 7)), Some(7));
        assert_eq!(sequence_of_jti("s2", &jti("s1", 7)), None);
        assert_eq!(sequence_of_jti("s1", "x.s1"), None);
        assert_eq!(sequence_of_jti("s1", "garbage"), None);
    }

    #[test]
    fn keys_are_per_tenant_stable_and_verify() {
        use p256::ecdsa::{signature::Verifier, VerifyingKey};
        let a = SigningKey::derive("00ff", "acme");
        assert_eq!(a.jwk(), SigningKey::derive("00ff", "acme").jwk());
        assert_ne!(a.jwk(), SigningKey::derive("00ff", "globex").jwk());
        assert_ne!(a.jwk(), SigningKey::derive("00fe", "acme").jwk());
        let token = a.sign(&json!({"hello": "world"}));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&B64.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(
            header,
            json!({"alg": "ES256", "typ": "secevent+jwt", "kid": a.kid()})
        );
        let jwk = a.jwk();
        let coordinate = |c: &str| B64.decode(jwk[c].as_str().expect("str")).expect("b64");
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        let public = VerifyingKey::from_sec1_bytes(&sec1).expect("point");
        let signature = Signature::from_slice(&B64.decode(parts[2]).expect("b64")).expect("sig");
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("verifies");
    }
}
