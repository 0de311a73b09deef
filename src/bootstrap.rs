//! First start: on an empty database, create tenant `default` with a SCIM key and an admin key,
//! and show both tokens once. Later starts show no secret.

use chrono::{DateTime, Utc};
use scim_auth::{Scope, Token};
use scim_service::{issue_key, KeyRequest, ServiceError};
use scim_store::{Store, StoreError};

/// The tokens created by the first start.
pub struct BootstrapKeys {
    /// `scim` key, for Entra ID / Okta.
    pub scim: Token,
    /// `public_api` key with `*`, for the admin API.
    pub admin: Token,
}

/// Creates tenant `default` and two keys when the database holds no tenant; `None` otherwise
/// (also when another process won the race to bootstrap).
pub async fn bootstrap(
    store: &Store,
    admin_email: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<BootstrapKeys>, ServiceError> {
    if store.count_tenants().await? > 0 {
        return Ok(None);
    }
    let tenant = scim_service::tenants::new_tenant_id("default")?;
    match store.create_tenant(&tenant, admin_email, now).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let key = |name: &str, scope, permissions: Option<Vec<String>>| KeyRequest {
        name: name.into(),
        label: Some("Created at first start".into()),
        scope,
        permissions,
        expires_in_days: None,
    };
    let (_, scim) = issue_key(
        store,
        &tenant,
        key("bootstrap-scim", Scope::Scim, None),
        now,
    )
    .await?;
    // The first admin key holds every permission, written out.
    let (_, admin) = issue_key(
        store,
        &tenant,
        key("bootstrap-admin", Scope::PublicApi, Some(vec!["*".into()])),
        now,
    )
    .await?;
    Ok(Some(BootstrapKeys { scim, admin }))
}

/// The banner printed once to stdout.
pub fn banner(keys: &BootstrapKeys) -> String {
    format!(
        "\n==================== scimd first start ====================\n\
         Tenant 'default' was created with two API keys.\n\
         THESE KEYS ARE SHOWN ONLY THIS TIME: store them now.\n\n\
         SCIM key (Entra ID / Okta, scope scim):\n  {}\n\n\
         Admin key (scope public_api, all permissions):\n  {}\n\
         ============================================================\n",
        keys.scim.expose(),
        keys.admin.expose()
    )
}
