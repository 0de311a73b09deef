//! Machines (service accounts): what a name looks like, and their changes.

use chrono::{DateTime, Utc};
use scim_store::{Actor, Machine, MachinePatch, Store, StoreError, TenantId};

use crate::error::{invalid, ServiceError, ServiceResult};

/// Checks a machine name: 1–128 characters, no control character, no whitespace at either end
/// (what the `pattern` of `name` in the OpenAPI document says). Front doors that take typed
/// input from people (the console) trim it first.
pub fn check_machine_name(name: &str) -> ServiceResult<String> {
    let padded = name
        .chars()
        .next()
        .into_iter()
        .chain(name.chars().next_back())
        .any(char::is_whitespace);
    if name.is_empty() || padded || name.chars().count() > 128 || name.chars().any(char::is_control)
    {
        return Err(invalid(
            "invalid_name",
            "name",
            "name must be 1-128 characters, no control characters, no whitespace at either end",
        ));
    }
    Ok(name.to_owned())
}

/// Creates a machine.
pub async fn create_machine(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    description: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<Machine> {
    let name = check_machine_name(name)?;
    Ok(store
        .create_machine(tenant, &name, description, actor, now)
        .await?)
}

/// Renames a machine and/or changes its description (absent fields stay).
pub async fn update_machine(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    name: Option<&str>,
    description: Option<Option<String>>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<Machine> {
    let name = name.map(check_machine_name).transpose()?;
    Ok(store
        .update_machine(tenant, id, MachinePatch { name, description }, actor, now)
        .await?)
}

/// The machine of `tenant` whose id, or else whose name, is `id_or_name` (people type names;
/// the admin API takes ids).
pub async fn find_machine(
    store: &Store,
    tenant: &TenantId,
    id_or_name: &str,
) -> ServiceResult<Machine> {
    match store.get_machine(tenant, id_or_name).await {
        Ok(m) => Ok(m),
        Err(StoreError::NotFound) => store
            .list_machines(tenant)
            .await?
            .into_iter()
            .find(|m| m.name == id_or_name)
            .ok_or(ServiceError::Store(StoreError::NotFound)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_documented() {
        assert!(check_machine_name("AD sync (Paris)").is_ok());
        assert!(check_machine_name(&"é".repeat(128)).is_ok());
        for bad in [
            "",
            " x",
            "x ",
            "a\u{0}b",
            "a\u{85}b",
            &"x".repeat(129),
            "\u{3000}x",
        ] {
            assert!(check_machine_name(bad).is_err(), "{bad:?}");
        }
    }
}
