//! Workload identity federation for scimd (issue 19): [`JwksVerifier`] checks the JWT client
//! assertions of the token endpoint against a key's federated credential.
//!
//! - The signing keys come from the credential's `jwksUri`, fetched only from the hosts of
//!   `SCIMD_FEDERATION_JWKS_HOSTS` ([`scim_service::federation::JwksHosts`]: no SSRF), with
//!   no redirects, a size cap and a timeout.
//! - They are cached per URI by `kid`. An unknown `kid` fetches the set again, at most once per
//!   `min_refresh` per URI; a set older than an hour is refreshed when used. While the URI is
//!   unreachable the cached keys keep working.
//! - Signatures: RS256 and ES256 (jsonwebtoken with its RustCrypto backend: no OpenSSL, no
//!   aws-lc); the claims are checked by [`scim_service::federation::check_claims`].
//!
//! Every refusal is a reason string for the log and the audit trail, never for the caller.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use jsonwebtoken::{
    jwk::{Jwk, JwkSet},
    Algorithm, DecodingKey, Validation,
};
use scim_service::federation::{
    check_claims, AssertionClaims, AssertionVerifier, FederatedCredential, JwksHosts,
};

/// A set older than this is fetched again when used (its keys stay usable if that fails).
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Longest accepted assertion.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The keys of one JWKS URI.
struct CachedSet {
    keys: HashMap<String, Jwk>,
    fetched_at: Instant,
}

/// Verifies client assertions with keys fetched from allowed JWKS hosts.
pub struct JwksVerifier {
    hosts: JwksHosts,
    min_refresh: Duration,
    client: reqwest::Client,
    /// Sets by URI; the last attempt to fetch each URI (successful or not).
    cache: Mutex<HashMap<String, CachedSet>>,
    attempts: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("hosts", &self.hosts)
            .field("min_refresh", &self.min_refresh)
            .finish_non_exhaustive()
    }
}

/// Why the verifier could not be built.
#[derive(Debug)]
pub struct BuildError(String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "federation HTTP client: {}", self.0)
    }
}

impl std::error::Error for BuildError {}

impl JwksVerifier {
    /// A verifier fetching from `hosts`, an unknown `kid` refetching at most once per
    /// `min_refresh` per URI.
    pub fn new(hosts: JwksHosts, min_refresh: Duration) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("scimd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self {
            hosts,
            min_refresh,
            client,
            cache: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        })
    }

    /// The key `kid` of the set at `uri`: from the cache, or fetched when unknown (at most once
    /// per `min_refresh`) or stale.
    async fn key(&self, uri: &str, kid: &str) -> Result<Jwk, String> {
        let (cached, stale) = {
            let cache = lock(&self.cache);
            match cache.get(uri) {
                Some(set) => (
                    set.keys.get(kid).cloned(),
                    set.fetched_at.elapsed() > MAX_AGE,
                ),
                None => (None, true),
            }
        };
        if let (Some(key), false) = (&cached, stale) {
            return Ok(key.clone());
        }
        let may_fetch = {
            let mut attempts = lock(&self.attempts);
            let recent = attempts
                .get(uri)
                .is_some_and(|at| at.elapsed() < self.min_refresh);
            if !recent {
                attempts.insert(uri.to_owned(), Instant::now());
            }
            !recent
        };
        if may_fetch {
            match self.fetch(uri).await {
                Ok(keys) => {
                    let found = keys.get(kid).cloned();
                    lock(&self.cache).insert(
                        uri.to_owned(),
                        CachedSet {
                            keys,
                            fetched_at: Instant::now(),
                        },
                    );
                    return found.ok_or_else(|| format!("no key '{kid}' in the JWKS"));
                }
                Err(why) => {
                    tracing::warn!(jwks_uri = uri, reason = %why, "JWKS fetch failed");
                    // The cached keys keep working while the URI is unreachable.
                    return cached.ok_or_else(|| {
                        format!("no cached key '{kid}' and the JWKS could not be fetched: {why}")
                    });
                }
            }
        }
        cached.ok_or_else(|| {
            format!("no key '{kid}' in the JWKS (fetched again less than the minimum interval ago)")
        })
    }

    /// Fetches the set at `uri` (allowed hosts only, no redirects, size-capped).
    async fn fetch(&self, uri: &str) -> Result<HashMap<String, Jwk>, String> {
        let url = self.hosts.check(uri)?;
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("body: {e}"))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("the JWKS is larger than 256 KiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))?;
        Ok(set
            .keys
            .into_iter()
            .filter_map(|k| k.common.key_id.clone().map(|kid| (kid, k)))
            .collect())
    }

    async fn check(
        &self,
        assertion: &str,
        credential: &FederatedCredential,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        if assertion.len() > MAX_ASSERTION_BYTES {
            return Err("the assertion is too long".into());
        }
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|e| format!("not a JWT: {e}"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let kid = header.kid.ok_or("the JWT header has no kid")?;
        let jwk = self.key(&credential.jwks_uri, &kid).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable JWK '{kid}': {e}"))?;
        let mut validation = Validation::new(header.alg);
        // The times and the audience are checked by check_claims against `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
            .map_err(|e| format!("signature or format: {e}"))?;
        check_claims(&data.claims, credential, now)
    }
}

impl AssertionVerifier for JwksVerifier {
    fn verify<'a>(
        &'a self,
        assertion: &'a str,
        credential: &'a FederatedCredential,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(self.check(assertion, credential, now))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
