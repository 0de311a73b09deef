//! Issuing keys without a caller to check (the first start's bootstrap, test and fuzz
//! harnesses): validation of the request, a fresh token, only its hash stored.

use chrono::{DateTime, Duration, Utc};
use scim_store::{ApiKey, NewApiKey, Store, TenantId};

use scim_auth::{Scope, Token};

use crate::{
    error::ServiceError,
    key_lifecycle::{check_key_name, default_permissions, lifetime},
};

/// Longest lifetime of a key, in days.
pub const MAX_LIFETIME_DAYS: i64 = 365;

/// What the issuer asks for.
#[derive(Debug, Clone)]
pub struct KeyRequest {
    /// 1–64 of `[A-Za-z0-9._-]`, unique per tenant.
    pub name: String,
    /// Display label.
    pub label: Option<String>,
    /// The key's scope.
    pub scope: Scope,
    /// Permissions; `None` gives the scope's defaults (a `public_api` key must list them).
    pub permissions: Option<Vec<String>>,
    /// Lifetime in days, 1–365; `None` gives 365.
    pub expires_in_days: Option<i64>,
}

/// Whether `name` is a valid key name.
pub fn valid_key_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Creates a key for `tenant` and returns it with its token, which is shown once and never
/// stored.
pub async fn issue_key(
    store: &Store,
    tenant: &TenantId,
    request: KeyRequest,
    now: DateTime<Utc>,
) -> Result<(ApiKey, Token), ServiceError> {
    check_key_name(&request.name)?;
    let days = lifetime(request.expires_in_days, "expiresInDays")?;
    let permissions = match request.permissions {
        Some(p) => p,
        None => default_permissions(request.scope)?,
    };
    let token = Token::generate(request.scope);
    let key = store
        .insert_api_key(
            tenant,
            NewApiKey {
                name: request.name,
                label: request.label,
                scope: request.scope.as_str().into(),
                permissions,
                token_hash: token.hash(),
                token_hint: token.hint(),
                enabled: true,
                expires_at: now + Duration::days(days),
                client_id: crate::oauth::new_client_id(request.scope),
            },
            now,
        )
        .await?;
    Ok((key, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_follow_the_design() {
        assert!(valid_key_name("entra-prod_1.0"));
        for bad in ["", "has space", "slash/", "é", &"x".repeat(65)] {
            assert!(!valid_key_name(bad), "{bad}");
        }
    }
}
