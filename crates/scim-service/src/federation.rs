//! Workload identity federation (issue 19, RFC 7523 client assertions): a `scim` key may carry
//! one federated credential (`issuer`, `jwksUri`, `subject`, `audiences`), and then the
//! identity provider authenticates at the token endpoint with a JWT it signed instead of the
//! key's value. This module holds the rules: what a credential may say, which JWKS hosts may
//! be fetched (no SSRF), and the claims an assertion must carry. Fetching keys and checking
//! signatures is the job of an [`AssertionVerifier`] (`scim-federation`), driven from here.

use std::{future::Future, pin::Pin};

use chrono::{DateTime, Utc};
use scim_auth::{Caller, Scope};
use scim_store::{Actor, ApiKey, Store, StoreError, TenantId};
use serde::{Deserialize, Serialize};

use crate::{
    error::{invalid, ServiceError, ServiceResult},
    oauth::{AuthenticatedClient, OAuthError},
};

/// Most audiences one credential may list.
pub const MAX_AUDIENCES: usize = 10;
/// Longest issuer, subject, audience or URI.
const MAX_TEXT: usize = 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// A federated credential: whose tokens stand in for the key's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    /// The `iss` the assertion must carry (Entra ID: `https://login.microsoftonline.com/{tenant}/v2.0`).
    pub issuer: String,
    /// Where the issuer publishes its signing keys (a host of `SCIMD_FEDERATION_JWKS_HOSTS`).
    pub jwks_uri: String,
    /// The `sub` the assertion must carry (Entra ID: the identity's object id).
    pub subject: String,
    /// Accepted `aud` values; the assertion must name one of them.
    pub audiences: Vec<String>,
}

/// The hosts whose JWKS may be fetched: `host` (default port) or `host:port`, `https` only,
/// except loopback hosts, which may use `http` (for tests and local set-ups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksHosts(Vec<String>);

impl Default for JwksHosts {
    fn default() -> Self {
        Self(vec!["login.microsoftonline.com".into()])
    }
}

impl JwksHosts {
    /// The allow-list from `host[:port]` entries (compared case-insensitively).
    pub fn new(entries: impl IntoIterator<Item = String>) -> Self {
        Self(
            entries
                .into_iter()
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        )
    }

    /// The entries, as configured.
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// Whether `uri` may be fetched: an absolute `https` URL (or `http` to a loopback host)
    /// whose host and port are in the list, without user info.
    pub fn check(&self, uri: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(uri).map_err(|_| "jwksUri is not an absolute URL".to_owned())?;
        let host = url
            .host_str()
            .ok_or_else(|| "jwksUri has no host".to_owned())?
            .to_ascii_lowercase();
        if !url.username().is_empty() || url.password().is_some() {
            return Err("jwksUri must not carry credentials".into());
        }
        let loopback = host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err("jwksUri must be https (http only for a loopback host)".into()),
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let explicit = format!("{host}:{port}");
        let default_port = url.port().is_none();
        let allowed = self
            .0
            .iter()
            .any(|entry| *entry == explicit || (default_port && *entry == host));
        if allowed {
            Ok(url)
        } else {
            Err(format!(
                "the host of jwksUri ({}) is not in SCIMD_FEDERATION_JWKS_HOSTS",
                if default_port { host } else { explicit }
            ))
        }
    }
}

/// Checks a JWT client assertion against a credential: the signature with the key of its
/// `kid` from the credential's JWKS, then the claims ([`check_claims`]). `Err` carries the
/// reason, for the log and the audit trail only.
pub trait AssertionVerifier: Send + Sync {
    /// Verifies `assertion` for `credential` at `now`.
    fn verify<'a>(
        &'a self,
        assertion: &'a str,
        credential: &'a FederatedCredential,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The registered claims of a verified assertion.
#[derive(Debug, Clone, Deserialize)]
pub struct AssertionClaims {
    /// Issuer.
    pub iss: Option<String>,
    /// Subject.
    pub sub: Option<String>,
    /// Audience: one string or a list.
    pub aud: Option<serde_json::Value>,
    /// Expiry (seconds since the epoch).
    pub exp: Option<i64>,
    /// Not before (seconds since the epoch).
    pub nbf: Option<i64>,
}

/// The claim rules of RFC 7523 §3 for `credential` at `now`: `iss` and `sub` are the
/// credential's, `aud` names one of its audiences, `exp` has not passed and `nbf` has, each
/// with at most [`CLOCK_SKEW_SECS`] of skew.
pub fn check_claims(
    claims: &AssertionClaims,
    credential: &FederatedCredential,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if claims.iss.as_deref() != Some(credential.issuer.as_str()) {
        return Err("iss is not the credential's issuer".into());
    }
    if claims.sub.as_deref() != Some(credential.subject.as_str()) {
        return Err("sub is not the credential's subject".into());
    }
    let audiences: Vec<&str> = match &claims.aud {
        Some(serde_json::Value::String(a)) => vec![a.as_str()],
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| {
        credential
            .audiences
            .iter()
            .any(|c| audience_key(c).eq_ignore_ascii_case(audience_key(a)))
    }) {
        return Err("aud names none of the credential's audiences".into());
    }
    let now = now.timestamp();
    match claims.exp {
        None => return Err("exp is missing".into()),
        Some(exp) if now > exp.saturating_add(CLOCK_SKEW_SECS) => {
            return Err("the assertion has expired".into())
        }
        Some(_) => {}
    }
    if claims
        .nbf
        .is_some_and(|nbf| now < nbf.saturating_sub(CLOCK_SKEW_SECS))
    {
        return Err("the assertion is not valid yet (nbf)".into());
    }
    Ok(())
}

/// The identifier an audience names: Entra ID shows `api://{appId}/.default` to paste, while
/// its assertions carry `api://{appId}` (and some documents a bare `{appId}`): the three
/// spellings name one audience.
fn audience_key(audience: &str) -> &str {
    let trimmed = audience.trim();
    let bare = trimmed.strip_suffix("/.default").unwrap_or(trimmed);
    bare.strip_prefix("api://").unwrap_or(bare)
}

/// Refuses a credential that says too little or too much, or names a JWKS host outside the
/// allow-list.
pub fn check_credential(credential: &FederatedCredential, hosts: &JwksHosts) -> ServiceResult<()> {
    let text = |value: &str, field: &'static str| {
        if value.trim().is_empty() || value.len() > MAX_TEXT {
            Err(invalid(
                "invalid_value",
                field,
                format!("{field} must be 1-{MAX_TEXT} characters"),
            ))
        } else {
            Ok(())
        }
    };
    text(&credential.issuer, "issuer")?;
    text(&credential.subject, "subject")?;
    text(&credential.jwks_uri, "jwksUri")?;
    if credential.audiences.is_empty() || credential.audiences.len() > MAX_AUDIENCES {
        return Err(invalid(
            "invalid_value",
            "audiences",
            format!("audiences must list 1-{MAX_AUDIENCES} values"),
        ));
    }
    for audience in &credential.audiences {
        text(audience, "audiences")?;
    }
    hosts
        .check(&credential.jwks_uri)
        .map_err(|why| invalid("jwks_host_not_allowed", "jwksUri", why))?;
    Ok(())
}

/// The federated credential stored on `key`, if any (a stored value that no longer parses
/// counts as none).
pub fn credential_of(key: &ApiKey) -> Option<FederatedCredential> {
    key.federation
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// Sets the federated credential of key `name` (a `scim` key), audited.
pub async fn set_federation(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    credential: FederatedCredential,
    hosts: &JwksHosts,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<ApiKey> {
    check_credential(&credential, hosts)?;
    let key = store.get_api_key(tenant, name).await?;
    if Scope::parse(&key.scope) != Some(Scope::Scim) {
        return Err(ServiceError::Conflict {
            code: "scope_mismatch",
            message: "only a key of scope scim may carry a federated credential".into(),
        });
    }
    let value = serde_json::to_value(&credential)
        .map_err(|e| ServiceError::Store(StoreError::InvalidValue(format!("credential: {e}"))))?;
    Ok(store
        .set_key_federation(tenant, name, Some(value), &caller.actor, now)
        .await?)
}

/// Removes the federated credential of key `name`, audited; `NotFound` when it has none.
pub async fn clear_federation(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<ApiKey> {
    let key = store.get_api_key(tenant, name).await?;
    if key.federation.is_none() {
        return Err(ServiceError::Store(StoreError::NotFound));
    }
    Ok(store
        .set_key_federation(tenant, name, None, &caller.actor, now)
        .await?)
}

/// Client authentication by a JWT client assertion (`private_key_jwt` with a federated
/// credential): the key of `tenant` with client id `client_id` carries a credential, and
/// `verifier` finds the assertion signed by the credential's issuer, for its subject and one
/// of its audiences, valid at `now`. A refusal is audited on the key with its reason (the
/// caller only ever learns `invalid_client`).
pub async fn authenticate_client_assertion(
    store: &Store,
    verifier: &dyn AssertionVerifier,
    tenant: &str,
    client_id: &str,
    assertion: &str,
    now: DateTime<Utc>,
) -> Result<AuthenticatedClient, OAuthError> {
    let (tenant, key) = crate::oauth::find_client(store, tenant, client_id).await?;
    let Some(credential) = credential_of(&key) else {
        return Err(OAuthError::InvalidClient(
            "the key has no federated credential",
        ));
    };
    if let Err(reason) = verifier.verify(assertion, &credential, now).await {
        tracing::warn!(tenant = %tenant, key = %key.name, %reason, "client assertion refused");
        if let Err(err) = store
            .record_federation_refusal(&tenant, &key.name, &reason, &Actor::local(client_id), now)
            .await
        {
            tracing::warn!(error = %err, "could not audit a refused client assertion");
        }
        return Err(OAuthError::InvalidClient("client assertion refused"));
    }
    AuthenticatedClient::federated(tenant, key, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> FederatedCredential {
        FederatedCredential {
            issuer: "https://login.microsoftonline.com/t/v2.0".into(),
            jwks_uri: "https://login.microsoftonline.com/t/discovery/v2.0/keys".into(),
            subject: "object-id".into(),
            audiences: vec!["api://app".into(), "app".into()],
        }
    }

    fn claims(aud: serde_json::Value, exp: i64, nbf: Option<i64>) -> AssertionClaims {
        AssertionClaims {
            iss: Some("https://login.microsoftonline.com/t/v2.0".into()),
            sub: Some("object-id".into()),
            aud: Some(aud),
            exp: Some(exp),
            nbf,
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_ports_and_loopback_http_only() {
        let hosts = JwksHosts::new(["login.microsoftonline.com".into(), "127.0.0.1:8089".into()]);
        assert!(hosts
            .check("https://login.microsoftonline.com/t/keys")
            .is_ok());
        assert!(hosts
            .check("https://LOGIN.microsoftonline.com:443/t/keys")
            .is_ok());
        assert!(
            hosts
                .check("http://login.microsoftonline.com/t/keys")
                .is_err(),
            "http"
        );
        assert!(
            hosts
                .check("https://login.microsoftonline.com:8443/keys")
                .is_err(),
            "port"
        );
        assert!(hosts.check("https://evil.example/keys").is_err());
        assert!(hosts
            .check("https://login.microsoftonline.com.evil.example/")
            .is_err());
        assert!(hosts
            .check("https://u:p@login.microsoftonline.com/")
            .is_err());
        assert!(
            hosts.check("http://127.0.0.1:8089/jwks").is_ok(),
            "loopback http"
        );
        assert!(
            hosts.check("http://127.0.0.1:8090/jwks").is_err(),
            "other port"
        );
        assert!(hosts.check("file:///etc/passwd").is_err());
        assert!(hosts.check("not a url").is_err());
        let open = JwksHosts::new(["10.0.0.1:80".into()]);
        assert!(
            open.check("http://10.0.0.1/jwks").is_err(),
            "http only to loopback"
        );
    }

    #[test]
    fn claims_must_match_the_credential_within_five_minutes() {
        let c = credential();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let t = now.timestamp();
        assert!(check_claims(&claims("api://app".into(), t + 60, None), &c, now).is_ok());
        assert!(check_claims(
            &claims(serde_json::json!(["x", "app"]), t + 60, None),
            &c,
            now
        )
        .is_ok());
        assert!(check_claims(&claims("api://other".into(), t + 60, None), &c, now).is_err());
        // What Entra shows (`/.default`) accepts what its assertions carry, and a bare id.
        let mut shown = credential();
        shown.audiences = vec!["api://B5BA7A93-4452-4522-aeb4-a2b5da870c16/.default".into()];
        for aud in [
            "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16",
            "b5ba7a93-4452-4522-aeb4-a2b5da870c16",
            "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16/.default",
        ] {
            assert!(
                check_claims(&claims(aud.into(), t + 60, None), &shown, now).is_ok(),
                "{aud}"
            );
        }
        assert!(check_claims(&claims("api://b5ba7a93".into(), t + 60, None), &shown, now).is_err());
        assert!(
            check_claims(&claims("app".into(), t - 200, None), &c, now).is_ok(),
            "skew"
        );
        assert!(
            check_claims(&claims("app".into(), t - 400, None), &c, now).is_err(),
            "expired"
        );
        assert!(check_claims(&claims("app".into(), t + 60, Some(t + 200)), &c, now).is_ok());
        assert!(check_claims(&claims("app".into(), t + 900, Some(t + 400)), &c, now).is_err());
        let mut wrong = claims("app".into(), t + 60, None);
        wrong.iss = Some("https://evil".into());
        assert!(check_claims(&wrong, &c, now).is_err());
        let mut wrong = claims("app".into(), t + 60, None);
        wrong.sub = None;
        assert!(check_claims(&wrong, &c, now).is_err());
        let mut no_exp = claims("app".into(), t + 60, None);
        no_exp.exp = None;
        assert!(check_claims(&no_exp, &c, now).is_err());
    }

    #[test]
    fn credentials_are_checked() {
        let hosts = JwksHosts::default();
        assert!(check_credential(&credential(), &hosts).is_ok());
        let mut c = credential();
        c.audiences.clear();
        assert!(check_credential(&c, &hosts).is_err());
        let mut c = credential();
        c.jwks_uri = "https://evil.example/keys".into();
        assert!(check_credential(&c, &hosts).is_err());
        let mut c = credential();
        c.subject = " ".into();
        assert!(check_credential(&c, &hosts).is_err());
    }
}
