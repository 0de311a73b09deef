//! The caller of a `/scim/v2` request, established by the [`ScimPrincipal`] extractor.
//!
//! A handler that does not take a principal cannot name a tenant, so it cannot reach tenant
//! data. Every way a key can be bad (missing, malformed, unknown, disabled, revoked, expired)
//! gives the same `401` body, so the answer is no oracle; a good key without the permission the
//! request needs gets `403`.

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{
    dev::Payload,
    http::{header, Method, StatusCode},
    web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError,
};
use chrono::{DateTime, Utc};
use scim_model::ScimError;
use scim_store::{ApiKey, ScimSwitch, Store, TenantId};

use crate::{
    scope::{grants, SCIM_READ, SCIM_WRITE},
    token::{constant_time_eq, AccessToken, Token},
    Scope,
};

/// Verifies keys against the store (no cache: a revoked, disabled or deleted key fails on the
/// next request on every process sharing the database). Shared by the extractors through
/// `web::Data`.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    /// SHA-256 of the operator token, if one is configured.
    operator_hash: Option<String>,
    /// Failed authentications per client address.
    failures: std::sync::Arc<crate::throttle::FailureThrottle>,
    /// Failed client authentications at the token endpoint per tenant and client id.
    client_failures: std::sync::Arc<crate::throttle::FailureThrottle<(String, String)>>,
    /// The keys this process has verified (see [`crate::key_cache`]).
    keys: std::sync::Arc<crate::key_cache::KeyCache>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field(
                "operator_token",
                &self.operator_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No usable key: the same answer whatever the reason.
    #[error("unauthorized")]
    Unauthorized,
    /// A valid key without the needed scope or permission.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The key store could not be asked.
    #[error("authentication unavailable")]
    Unavailable,
    /// Too many failed authentications from this address: retry after this many seconds.
    #[error("too many failed authentications")]
    Throttled(u64),
}

impl AuthError {
    fn scim_error(&self) -> ScimError {
        match self {
            Self::Unauthorized => ScimError::new(
                401,
                None,
                "Authentication required: send a valid API key as 'Authorization: Bearer <key>'",
            ),
            Self::Forbidden(why) => ScimError::new(403, None, *why),
            Self::Unavailable => ScimError::new(503, None, "Service temporarily unavailable"),
            Self::Throttled(_) => ScimError::new(
                429,
                None,
                "Too many failed authentications from this address; retry later",
            ),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.scim_error().status).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/scim+json");
        if *self == Self::Unauthorized {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scimd\""));
        }
        match self {
            Self::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::Throttled(seconds) => {
                res.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        res.json(self.scim_error().to_json())
    }
}

impl Authenticator {
    /// An authenticator reading keys from `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            operator_hash: None,
            failures: Default::default(),
            client_failures: Default::default(),
            keys: Default::default(),
        }
    }

    /// Throttles failed authentications per client address with `limit`.
    pub fn with_failure_limit(mut self, limit: crate::throttle::FailureLimit) -> Self {
        self.failures = std::sync::Arc::new(crate::throttle::FailureThrottle::new(limit));
        self.client_failures = std::sync::Arc::new(crate::throttle::FailureThrottle::new(limit));
        self
    }

    /// Records a failed client authentication at the token endpoint from `peer` for
    /// `client_id` of `tenant`; `Some(seconds)` when the address or the client id has no
    /// failures left (answer `429` with `Retry-After`). Only failures are counted, so a
    /// client presenting its correct secret is never throttled by others' failures.
    pub fn client_failed(
        &self,
        peer: Option<IpAddr>,
        tenant: &str,
        client_id: &str,
    ) -> Option<u64> {
        let now = std::time::Instant::now();
        let by_addr = peer.and_then(|addr| self.failures.failed(addr, now));
        // Ids longer than a UUID are not ours: count them under one bucket, not one each.
        let id = if client_id.len() <= 64 { client_id } else { "" };
        let by_client = self
            .client_failures
            .failed((tenant.to_owned(), id.to_owned()), now);
        by_addr.max(by_client).map(ceil_secs)
    }

    /// [`Self::authenticate`] for a request from `peer`: a failure is counted against the
    /// address, and once it has no failures left the answer is [`AuthError::Throttled`]. A
    /// valid key is always admitted.
    pub async fn authenticate_from(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        self.verify_from(peer, authorization, now, false)
            .await
            .map(|(key, _)| key)
    }

    /// [`Self::authenticate_from`] that also returns the key's tenant's SCIM switch and
    /// declaration tag, read in the same statement as the key (no second round trip), so that
    /// every SCIM request sees the tenant-wide custom-attributes switch as it is stored now.
    pub async fn authenticate_scim_from(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, ScimSwitch), AuthError> {
        let (key, settings) = self.verify_from(peer, authorization, now, true).await?;
        let settings = settings.ok_or(AuthError::Unavailable)?;
        Ok((key, settings))
    }

    async fn verify_from(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&str>,
        now: DateTime<Utc>,
        with_settings: bool,
    ) -> Result<(ApiKey, Option<ScimSwitch>), AuthError> {
        self.verify_attributed_from(peer, authorization, now, with_settings)
            .await
            .map_err(|r| r.error)
    }

    async fn verify_attributed_from(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&str>,
        now: DateTime<Utc>,
        with_settings: bool,
    ) -> Result<(ApiKey, Option<ScimSwitch>), Refusal> {
        let result = self.verify(authorization, now, with_settings).await;
        if let (
            Err(Refusal {
                error: AuthError::Unauthorized,
                ..
            }),
            Some(addr),
        ) = (&result, peer)
        {
            if let Some(wait) = self.failures.failed(addr, std::time::Instant::now()) {
                tracing::warn!(%addr, "failed authentications throttled");
                let attribution = result.err().and_then(|r| r.attribution);
                return Err(Refusal {
                    error: AuthError::Throttled(ceil_secs(wait)),
                    attribution,
                });
            }
        }
        result
    }

    /// Also accepts `token` as the operator token (all tenants, `/api/tenants`).
    pub fn with_operator_token(mut self, token: Option<&str>) -> Self {
        self.operator_hash = token.map(crate::token::sha256_hex);
        self
    }

    /// Whether `authorization` carries the operator token (constant-time comparison).
    pub fn is_operator(&self, authorization: Option<&str>) -> bool {
        let (Some(expected), Some(raw)) = (
            self.operator_hash.as_deref(),
            authorization.and_then(bearer_token),
        ) else {
            return false;
        };
        constant_time_eq(
            crate::token::sha256_hex(raw).as_bytes(),
            expected.as_bytes(),
        )
    }

    /// The store keys are read from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records that `key` was used by `addr`, at most once a minute per key, off the request's
    /// critical path (a spawned task; a failure is logged, never answered).
    pub fn note_use(&self, key: &ApiKey, addr: Option<IpAddr>, now: DateTime<Utc>) {
        let recent = key
            .last_used_at
            .is_some_and(|at| now - at < scim_store::LAST_USED_RESOLUTION);
        if recent {
            return;
        }
        // Kept copies of the key learn the use now (the record of use does not move the
        // cache's counter): otherwise each request after a minute would spawn a write here.
        self.keys.used(&key.id, now);
        let store = self.store.clone();
        let id = key.id.clone();
        actix_web::rt::spawn(async move {
            let addr = addr.map(|a| a.to_string());
            if let Err(err) = store.touch_api_key(&id, addr.as_deref(), now).await {
                tracing::warn!(error = %err, "could not record the key's last use");
            }
        });
    }

    /// The key behind `authorization` (an `Authorization` header value), if it is usable at
    /// `now`. Malformed tokens are refused before any database access.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        self.verify(authorization, now, false)
            .await
            .map(|(key, _)| key)
            .map_err(|r| r.error)
    }

    async fn verify(
        &self,
        authorization: Option<&str>,
        now: DateTime<Utc>,
        with_settings: bool,
    ) -> Result<(ApiKey, Option<ScimSwitch>), Refusal> {
        let raw = authorization
            .and_then(bearer_token)
            .ok_or(Refusal::anonymous(AuthError::Unauthorized))?;
        if with_settings {
            if let Some(token) = AccessToken::parse(raw) {
                return self.verify_access_token(&token, now).await;
            }
        }
        let token = Token::parse(raw).ok_or(Refusal::anonymous(AuthError::Unauthorized))?;
        let hash = token.hash();
        let unavailable = |err: scim_store::StoreError| {
            tracing::error!(error = %err, "key lookup failed");
            Refusal::anonymous(AuthError::Unavailable)
        };
        // The counter first, then the key: a kept key is used only while the counter has not
        // moved since before it was read (see `key_cache`).
        let epoch = self.store.auth_epoch().await.map_err(unavailable)?;
        let found = match self.keys.get(&hash, epoch) {
            Some(kept) => Some(kept),
            None => {
                let found = self
                    .store
                    .find_api_key_and_scim_switch(&hash)
                    .await
                    .map_err(unavailable)?;
                if let Some((key, switch)) = &found {
                    self.keys.put(&hash, epoch, key, switch);
                }
                found
            }
        };
        let (key, switch) = found.ok_or(Refusal::anonymous(AuthError::Unauthorized))?;
        let settings = with_settings.then_some(switch);
        let why = if !is_key_value(&key, &hash, now) {
            Some("the key value was replaced by a rotation and its grace period ended")
        } else {
            unusable(&key, now)
        };
        match why {
            None => Ok((key, settings)),
            Some(why) => Err(Refusal::of_key(&key, false, why)),
        }
    }
}

/// Why `key` cannot be used at `now`, if it cannot.
fn unusable(key: &ApiKey, now: DateTime<Utc>) -> Option<&'static str> {
    if key.revoked_at.is_some() {
        Some("the key is revoked")
    } else if now >= key.expires_at {
        Some("the key has expired")
    } else if !key.enabled {
        Some("the key is disabled")
    } else {
        None
    }
}

/// Who a SCIM (or token) request came from, as far as its credentials tell: put into the
/// request's extensions by the [`ScimPrincipal`] extractor, also when the key was refused (a
/// revoked, expired or disabled key still names its tenant), so that the tenant's activity
/// can show the refusal. An unknown or malformed credential is attributed to no one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The tenant of the key.
    pub tenant: TenantId,
    /// `key` (the key itself) or `client` (an access token issued to the key's client id).
    pub actor_kind: &'static str,
    /// The key's name, or its client id.
    pub actor: String,
    /// Why the key was refused, when it was.
    pub refused: Option<&'static str>,
}

impl Attribution {
    fn of(key: &ApiKey, via_token: bool, refused: Option<&'static str>) -> Self {
        match (&key.client_id, via_token) {
            (Some(client), true) => Self {
                tenant: key.tenant_id.clone(),
                actor_kind: "client",
                actor: client.clone(),
                refused,
            },
            _ => Self {
                tenant: key.tenant_id.clone(),
                actor_kind: "key",
                actor: key.name.clone(),
                refused,
            },
        }
    }
}

/// A refused authentication: the answer, and whom it can be attributed to.
#[derive(Debug)]
struct Refusal {
    error: AuthError,
    attribution: Option<Attribution>,
}

impl Refusal {
    fn anonymous(error: AuthError) -> Self {
        Self {
            error,
            attribution: None,
        }
    }

    fn of_key(key: &ApiKey, via_token: bool, why: &'static str) -> Self {
        Self {
            error: AuthError::Unauthorized,
            attribution: Some(Attribution::of(key, via_token, Some(why))),
        }
    }
}

impl Authenticator {
    /// The key behind an OAuth access token, if both are usable at `now`: the token has not
    /// expired, its key is enabled, not revoked, not expired, and the key value the token was
    /// issued under is still the key's (or still in its rotation grace). Read from the database
    /// on every request, so a change of the key ends its tokens on every process at once.
    async fn verify_access_token(
        &self,
        token: &AccessToken,
        now: DateTime<Utc>,
    ) -> Result<(ApiKey, Option<ScimSwitch>), Refusal> {
        let (key, settings, grant) = self
            .store
            .find_access_token_and_scim_switch(&token.hash())
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "access token lookup failed");
                Refusal::anonymous(AuthError::Unavailable)
            })?
            .ok_or(Refusal::anonymous(AuthError::Unauthorized))?;
        let why = if now >= grant.expires_at {
            Some("the access token has expired")
        } else if !is_key_value(&key, &grant.secret_hash, now) {
            Some("the access token was issued under a key value that a rotation replaced")
        } else {
            unusable(&key, now)
        };
        match why {
            None => Ok((key, Some(settings))),
            Some(why) => Err(Refusal::of_key(&key, true, why)),
        }
    }
}

/// Whether `hash` is the SHA-256 of `key`'s current value, or of the value its last rotation
/// replaced while that value's grace period lasts at `now` (constant-time comparisons).
pub fn is_key_value(key: &ApiKey, hash: &str, now: DateTime<Utc>) -> bool {
    let current = constant_time_eq(key.token_hash.as_bytes(), hash.as_bytes());
    let in_grace = key
        .previous_token_hash
        .as_deref()
        .is_some_and(|h| constant_time_eq(h.as_bytes(), hash.as_bytes()))
        && key.previous_valid_until.is_some_and(|until| now < until);
    current || in_grace
}

/// The token of a `Bearer` authorization (scheme compared case-insensitively).
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A caller allowed to use `/scim/v2` for this request: a `scim` or `on_premise` key holding
/// `scim:read` (GET, HEAD, `POST .search`) or `scim:write` (every other write).
#[derive(Debug, Clone)]
pub struct ScimPrincipal {
    /// The key's tenant: the only tenant this request can see.
    pub tenant: TenantId,
    /// The key's id (for audit).
    pub key_id: String,
    /// The key's name (for logs).
    pub key_name: String,
    /// The key's OAuth client id, when the request came with an access token issued to it
    /// (not with the key itself).
    pub client_id: Option<String>,
    /// The tenant's custom-attributes switch and declaration tag as stored when this request
    /// was authenticated.
    pub scim_switch: ScimSwitch,
}

/// The permission a SCIM request needs.
fn scim_permission(req: &HttpRequest) -> &'static str {
    let read = matches!(*req.method(), Method::GET | Method::HEAD)
        || (req.method() == Method::POST && req.path().ends_with("/.search"));
    if read {
        SCIM_READ
    } else {
        SCIM_WRITE
    }
}

impl FromRequest for ScimPrincipal {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<Authenticator>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let needed = scim_permission(req);
        let peer = crate::client_info(req).addr;
        let with_access_token = header
            .as_deref()
            .and_then(bearer_token)
            .is_some_and(|raw| AccessToken::parse(raw).is_some());
        let req = req.clone();
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticator is not registered as app data");
                return Err(AuthError::Unavailable);
            };
            let now = Utc::now();
            let (key, scim_switch) = match auth
                .verify_attributed_from(peer, header.as_deref(), now, true)
                .await
            {
                Ok((key, Some(settings))) => (key, settings),
                Ok((_, None)) => return Err(AuthError::Unavailable),
                Err(refusal) => {
                    if let Some(a) = refusal.attribution {
                        req.extensions_mut().insert(a);
                    }
                    return Err(refusal.error);
                }
            };
            req.extensions_mut()
                .insert(Attribution::of(&key, with_access_token, None));
            let scope = Scope::parse(&key.scope);
            if !scope.is_some_and(Scope::reaches_scim) {
                return Err(AuthError::Forbidden(
                    "This key's scope does not give access to the SCIM API",
                ));
            }
            if !grants(&key.permissions, needed) {
                return Err(AuthError::Forbidden(if needed == SCIM_READ {
                    "This key lacks the scim:read permission"
                } else {
                    "This key lacks the scim:write permission"
                }));
            }
            tracing::Span::current().record("tenant", key.tenant_id.as_str());
            auth.note_use(&key, peer, now);
            Ok(Self {
                tenant: key.tenant_id,
                key_id: key.id,
                key_name: key.name,
                client_id: key.client_id.filter(|_| with_access_token),
                scim_switch,
            })
        })
    }
}

/// Whole seconds of `wait`, rounded up, at least 1 (for `Retry-After`).
pub fn ceil_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
