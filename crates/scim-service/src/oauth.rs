//! scimd as each tenant's OAuth 2.0 authorization server for SCIM (issue 19): which keys are
//! clients, the client-credentials grant (RFC 6749 §4.4) with the key's value as the client
//! secret, the access tokens it issues, and the tenant's token lifetime. The token endpoint
//! (in `scim-api`) parses the request and renders the answer; every rule is here.

use chrono::{DateTime, Duration, Utc};
use scim_auth::{is_key_value, AccessToken, Caller, Scope, Token};
use scim_store::{ApiKey, NewAccessToken, OAuthSettings, Store, TenantId};

use crate::error::{invalid, ServiceError, ServiceResult};

/// Shortest access-token lifetime a tenant may choose, in seconds (Microsoft's validation
/// asks for 60–360 minutes).
pub const MIN_ACCESS_TOKEN_LIFETIME_SECS: i32 = 3600;
/// Longest access-token lifetime a tenant may choose, in seconds.
pub const MAX_ACCESS_TOKEN_LIFETIME_SECS: i32 = 21_600;

/// The client id of a new key of `scope`: a random UUID for the keys that are OAuth clients
/// (`scim`, `on_premise`), none for the others. It never changes afterwards, also not when the
/// key is rotated.
pub fn new_client_id(scope: Scope) -> Option<String> {
    scope
        .is_oauth_client()
        .then(|| uuid::Uuid::new_v4().to_string())
}

/// Why no token was issued. Every `InvalidClient` is answered the same way (no oracle); its
/// reason is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The client could not be authenticated.
    #[error("invalid client: {0}")]
    InvalidClient(&'static str),
    /// The database could not be asked.
    #[error("token store unavailable: {0}")]
    Unavailable(scim_store::StoreError),
}

/// An access token just issued: the value to send once, and for how long it works.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// The token (sent once, in the token response).
    pub token: AccessToken,
    /// Seconds until it expires (the tenant's lifetime, or less when the key expires sooner).
    pub expires_in: i64,
    /// The key it was issued to.
    pub key: ApiKey,
}

/// A client authenticated at the token endpoint: the key, and the hash of the value it was
/// authenticated with (under federation, the key's current value).
#[derive(Debug)]
pub struct AuthenticatedClient {
    /// The key's tenant.
    pub tenant: TenantId,
    /// The key (an OAuth client).
    pub key: ApiKey,
    secret_hash: String,
}

/// Client authentication with a client secret (`client_secret_basic` or `client_secret_post`):
/// the key of `tenant` with client id `client_id` whose current value (or rotated-out value,
/// while its grace lasts) is `secret`, usable at `now`.
pub async fn authenticate_client_secret(
    store: &Store,
    tenant: &str,
    client_id: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<AuthenticatedClient, OAuthError> {
    // The checksum refuses a mistyped secret before any database access.
    let secret = Token::parse(secret).ok_or(OAuthError::InvalidClient("malformed secret"))?;
    let (tenant, key) = find_client(store, tenant, client_id).await?;
    let hash = secret.hash();
    if !is_key_value(&key, &hash, now) {
        return Err(OAuthError::InvalidClient("wrong secret"));
    }
    usable_client(&key, now)?;
    Ok(AuthenticatedClient {
        tenant,
        key,
        secret_hash: hash,
    })
}

impl AuthenticatedClient {
    /// A client authenticated by its federated credential: its tokens are bound to the key's
    /// current value, so a rotation past its grace ends them as it ends the secret's.
    pub(crate) fn federated(
        tenant: TenantId,
        key: ApiKey,
        now: DateTime<Utc>,
    ) -> Result<Self, OAuthError> {
        usable_client(&key, now)?;
        let secret_hash = key.token_hash.clone();
        Ok(Self {
            tenant,
            key,
            secret_hash,
        })
    }
}

/// The key of `tenant` (as written in the token endpoint's path) whose client id is
/// `client_id`, whatever its state.
pub(crate) async fn find_client(
    store: &Store,
    tenant: &str,
    client_id: &str,
) -> Result<(TenantId, ApiKey), OAuthError> {
    let tenant =
        TenantId::parse(tenant).map_err(|_| OAuthError::InvalidClient("no such tenant"))?;
    if uuid::Uuid::parse_str(client_id).is_err() {
        return Err(OAuthError::InvalidClient("malformed client id"));
    }
    let key = store
        .find_oauth_client(&tenant, client_id)
        .await
        .map_err(OAuthError::Unavailable)?
        .ok_or(OAuthError::InvalidClient("unknown client id"))?;
    Ok((tenant, key))
}

/// Refuses a key that cannot have tokens at `now`.
fn usable_client(key: &ApiKey, now: DateTime<Utc>) -> Result<(), OAuthError> {
    if !key.enabled {
        return Err(OAuthError::InvalidClient("key disabled"));
    }
    if key.revoked_at.is_some() {
        return Err(OAuthError::InvalidClient("key revoked"));
    }
    if now >= key.expires_at {
        return Err(OAuthError::InvalidClient("key expired"));
    }
    if !Scope::parse(&key.scope).is_some_and(Scope::is_oauth_client) {
        return Err(OAuthError::InvalidClient("key is not an OAuth client"));
    }
    Ok(())
}

/// The client-credentials grant: an access token for an authenticated client, living the
/// tenant's token lifetime and never past the key's expiry.
pub async fn issue_access_token(
    store: &Store,
    client: AuthenticatedClient,
    now: DateTime<Utc>,
) -> Result<IssuedAccessToken, OAuthError> {
    let AuthenticatedClient {
        tenant,
        key,
        secret_hash,
    } = client;
    let tenant = &tenant;
    let lifetime = store
        .get_oauth_settings(tenant)
        .await
        .map_err(OAuthError::Unavailable)?
        .access_token_lifetime_secs;
    let expires_at = (now + Duration::seconds(i64::from(lifetime))).min(key.expires_at);
    let token = AccessToken::generate();
    store
        .insert_access_token(
            tenant,
            &key.id,
            NewAccessToken {
                token_hash: token.hash(),
                secret_hash,
                expires_at,
            },
            now,
        )
        .await
        .map_err(OAuthError::Unavailable)?;
    Ok(IssuedAccessToken {
        token,
        expires_in: (expires_at - now).num_seconds().max(1),
        key,
    })
}

/// Replaces the tenant's OAuth settings: the lifetime of access tokens issued from now on,
/// 3600–21600 seconds. Tokens already issued keep theirs.
pub async fn put_oauth_settings(
    store: &Store,
    tenant: &TenantId,
    access_token_lifetime_secs: i64,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<OAuthSettings> {
    let range =
        i64::from(MIN_ACCESS_TOKEN_LIFETIME_SECS)..=i64::from(MAX_ACCESS_TOKEN_LIFETIME_SECS);
    let lifetime = i32::try_from(access_token_lifetime_secs)
        .ok()
        .filter(|s| range.contains(&i64::from(*s)))
        .ok_or_else(|| {
            invalid(
                "out_of_range",
                "accessTokenLifetimeSeconds",
                format!(
                    "accessTokenLifetimeSeconds must be between {MIN_ACCESS_TOKEN_LIFETIME_SECS} \
                     and {MAX_ACCESS_TOKEN_LIFETIME_SECS} (1 to 6 hours)"
                ),
            )
        })?;
    store
        .put_oauth_settings(
            tenant,
            OAuthSettings {
                access_token_lifetime_secs: lifetime,
            },
            &caller.actor,
            now,
        )
        .await
        .map_err(ServiceError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scim_and_on_premise_keys_are_clients() {
        assert!(new_client_id(Scope::Scim).is_some());
        assert!(new_client_id(Scope::OnPremise).is_some());
        assert!(new_client_id(Scope::PublicApi).is_none());
        assert_ne!(new_client_id(Scope::Scim), new_client_id(Scope::Scim));
    }
}
