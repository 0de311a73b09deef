//! Tenants: which ids a tenant may have, what an admin e-mail looks like, and the changes of a
//! tenant, the same for the operator API and the CLI.

use chrono::{DateTime, Utc};
use scim_store::{Actor, Store, Tenant, TenantId};

use crate::error::{invalid, ServiceResult};

/// Ids that would collide with the routes under `/api` (`/api/tenants`, `/api/docs`).
pub const RESERVED_TENANT_IDS: &[&str] = &["tenants", "docs"];

/// The id of a tenant to create: 1–64 lowercase letters, digits or `-`, not starting with
/// `-`, and not a reserved id.
pub fn new_tenant_id(raw: &str) -> ServiceResult<TenantId> {
    let id = TenantId::parse(raw).map_err(|m| invalid("invalid_id", "id", m))?;
    if RESERVED_TENANT_IDS.contains(&id.as_str()) {
        return Err(invalid(
            "invalid_id",
            "id",
            format!("'{id}' is reserved: /api/{id} is a route of its own"),
        ));
    }
    Ok(id)
}

/// Checks an admin e-mail address (trimmed); `None` stays `None`.
pub fn check_email(email: Option<String>) -> ServiceResult<Option<String>> {
    let Some(email) = email.map(|e| e.trim().to_owned()) else {
        return Ok(None);
    };
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.contains('@')
        });
    if ok {
        Ok(Some(email))
    } else {
        Err(invalid(
            "invalid_email",
            "adminEmail",
            "adminEmail must be an e-mail address",
        ))
    }
}

/// Creates tenant `raw_id` with an optional admin e-mail.
pub async fn create_tenant(
    store: &Store,
    raw_id: &str,
    admin_email: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<Tenant> {
    let id = new_tenant_id(raw_id)?;
    let email = check_email(admin_email)?;
    Ok(store.create_tenant(&id, email.as_deref(), now).await?)
}

/// Sets (or, with `None`, clears) the admin e-mail of `tenant`.
pub async fn set_admin_email(
    store: &Store,
    tenant: &TenantId,
    admin_email: Option<String>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<Tenant> {
    let email = check_email(admin_email)?;
    Ok(store
        .update_tenant_admin_email(tenant, email.as_deref(), actor, now)
        .await?)
}

/// The languages of the e-mails scimd sends.
pub const LOCALES: &[&str] = &["en", "fr"];

/// Sets the admin e-mail (`None` clears it) and the locale of `tenant`'s e-mails.
pub async fn set_contact(
    store: &Store,
    tenant: &TenantId,
    admin_email: Option<String>,
    locale: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<Tenant> {
    let email = check_email(admin_email)?;
    if !LOCALES.contains(&locale) {
        return Err(invalid(
            "invalid_locale",
            "locale",
            format!("locale must be one of {}", LOCALES.join(", ")),
        ));
    }
    Ok(store
        .update_tenant_contact(tenant, email.as_deref(), locale, actor, now)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_malformed_ids_are_refused() {
        assert!(new_tenant_id("acme-2").is_ok());
        for bad in ["docs", "tenants", "", "-x", "Acme", "a b", &"a".repeat(65)] {
            assert!(new_tenant_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn e_mails_are_trimmed_and_checked() {
        assert_eq!(
            check_email(Some(" admin@acme.test ".into())).unwrap(),
            Some("admin@acme.test".into())
        );
        assert_eq!(check_email(None).unwrap(), None);
        for bad in ["", "admin", "@acme.test", "a@b", "a b@c.d", "a@b@c.d"] {
            assert!(check_email(Some(bad.into())).is_err(), "{bad:?}");
        }
    }
}
