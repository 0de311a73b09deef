//! The rules of the key lifecycle, for every front door (admin API, console, CLI): which
//! permissions and options a scope allows, the `on_premise` options `retrieve`/`push` as
//! `scim:read`/`scim:write`, the tenant-wide `scimCustomAttributes` switch shown on SCIM keys,
//! and the rule that a caller never grants (or obtains through rotation) more than it holds.

use chrono::{DateTime, Duration, Utc};
use scim_store::{
    ApiKey, KeyPlacement, KeyRotation, KeyUpdate, NewApiKey, Store, StoreError, TenantId,
};
use serde_json::{json, Map, Value};

use scim_auth::{grants, Caller, Scope, Token, ALL, SCIM_READ, SCIM_WRITE};

use crate::{
    error::{invalid, ServiceError},
    key_issue::{valid_key_name, MAX_LIFETIME_DAYS},
};

/// Refuses a permission of `wanted` the caller does not hold itself.
fn holds_all(caller: &Caller, wanted: &[String]) -> Result<(), ServiceError> {
    match caller.lacks(wanted) {
        Some(p) => Err(ServiceError::Escalation(p.to_owned())),
        None => Ok(()),
    }
}

/// Days an expired or revoked key stays listed before it is purged.
pub const PURGE_AFTER_DAYS: i64 = 90;
/// Longest grace period of a rotation, in minutes (7 days).
pub const MAX_GRACE_MINUTES: i64 = 7 * 24 * 60;

/// A request to create a key, as the admin API and the CLI take it.
#[derive(Debug, Clone)]
pub struct CreateKey {
    /// 1–64 of `[A-Za-z0-9._-]`, unique per tenant.
    pub name: String,
    /// Display label.
    pub label: Option<String>,
    /// The key's scope (fixed for life). Left out, `permissions` must be given and the key is a
    /// `public_api` key with exactly those (the reference's shape).
    pub scope: Option<Scope>,
    /// Whether the key starts usable.
    pub enabled: bool,
    /// Permissions; `None` gives the scope's defaults (or what `options` imply).
    pub permissions: Option<Vec<String>>,
    /// Scope options (`scimCustomAttributes`; `retrieve`, `push`).
    pub options: Option<Value>,
    /// The owning machine's id.
    pub machine: Option<String>,
    /// Lifetime in days, 1–365 (default 365).
    pub expires_in_days: Option<i64>,
}

/// A change to a key (PUT): `enabled` and `permissions` replace, the rest only when present.
#[derive(Debug, Clone, Default)]
pub struct ChangeKey {
    /// New enabled state.
    pub enabled: Option<bool>,
    /// New permission list.
    pub permissions: Option<Vec<String>>,
    /// New label (`Some(None)` clears it).
    pub label: Option<Option<String>>,
    /// Scope options to change.
    pub options: Option<Value>,
}

/// A request for a new value.
#[derive(Debug, Clone, Copy, Default)]
pub struct RotateKey {
    /// Minutes the old value keeps working (0–10080, default 0).
    pub grace_minutes: Option<i64>,
    /// Lifetime of the new value in days, 1–365 (default 365).
    pub expires_in_days: Option<i64>,
}

/// The status shown for a key at `now` (DESIGN §3); `expired` is computed, never stored.
pub fn key_status(key: &ApiKey, now: DateTime<Utc>) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if now >= key.expires_at {
        "expired"
    } else if !key.enabled {
        "inactive"
    } else {
        "active"
    }
}

/// When a key will be purged: 90 days after its expiry.
pub fn deletion_scheduled_at(key: &ApiKey) -> DateTime<Utc> {
    key.expires_at + Duration::days(PURGE_AFTER_DAYS)
}

/// The options shown on a key: the tenant's switch for SCIM keys, `retrieve`/`push` for
/// on-premise keys.
pub fn key_options(key: &ApiKey, tenant_custom_attributes: bool) -> Value {
    match Scope::parse(&key.scope) {
        Some(Scope::Scim) => json!({"scimCustomAttributes": tenant_custom_attributes}),
        Some(Scope::OnPremise) => json!({
            "retrieve": grants(&key.permissions, SCIM_READ),
            "push": grants(&key.permissions, SCIM_WRITE),
        }),
        _ => json!({}),
    }
}

/// Refuses a key name outside 1–64 of `[A-Za-z0-9._-]`.
pub(crate) fn check_key_name(name: &str) -> Result<(), ServiceError> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(invalid(
            "invalid_name",
            "name",
            "name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
        ))
    }
}

/// The permissions a new key gets when the request names none: the scope's defaults for
/// `scim` and `on_premise` keys; a `public_api` key must list its own (`*` is granted only
/// when written out).
pub(crate) fn default_permissions(scope: Scope) -> Result<Vec<String>, ServiceError> {
    match scope {
        Scope::PublicApi => Err(invalid(
            "missing_field",
            "permissions",
            "permissions is required for a public_api key: list them, or [\"*\"] for all",
        )),
        scope => Ok(scope.default_permissions()),
    }
}

pub(crate) fn lifetime(days: Option<i64>, field: &'static str) -> Result<i64, ServiceError> {
    let days = days.unwrap_or(MAX_LIFETIME_DAYS);
    if (1..=MAX_LIFETIME_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(invalid(
            "out_of_range",
            field,
            format!("{field} must be between 1 and {MAX_LIFETIME_DAYS}"),
        ))
    }
}

/// Checks a permission list against the scope.
fn check_permissions(scope: Scope, permissions: &[String]) -> Result<(), ServiceError> {
    let unknown: Vec<&str> = permissions
        .iter()
        .map(String::as_str)
        .filter(|p| !Scope::is_known_permission(p))
        .collect();
    if !unknown.is_empty() {
        return Err(invalid(
            "unknown_permission",
            "permissions",
            format!(
                "unknown permission{} {}; the permissions of a {} key: {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|p| format!("'{p}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                scope.as_str(),
                std::iter::once(ALL)
                    .chain(scope.allowed_permissions().iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for p in permissions {
        if p != ALL && !scope.allowed_permissions().contains(&p.as_str()) {
            return Err(invalid(
                "permission_not_allowed",
                "permissions",
                format!(
                    "permission '{p}' is not allowed for scope '{}'",
                    scope.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// What a scope's options ask for.
#[derive(Debug, Default)]
struct Options {
    /// `scimCustomAttributes` (scope `scim`).
    custom_attributes: Option<bool>,
    /// `retrieve` (scope `on_premise`).
    retrieve: Option<bool>,
    /// `push` (scope `on_premise`).
    push: Option<bool>,
}

fn parse_options(scope: Scope, options: Option<&Value>) -> Result<Options, ServiceError> {
    let Some(options) = options.filter(|o| !o.is_null()) else {
        return Ok(Options::default());
    };
    let map = options
        .as_object()
        .ok_or_else(|| invalid("invalid_type", "options", "options must be an object"))?;
    let allowed: &[&str] = match scope {
        Scope::Scim => &["scimCustomAttributes"],
        Scope::OnPremise => &["retrieve", "push"],
        Scope::PublicApi => &[],
    };
    let mut out = Options::default();
    for (name, value) in map {
        if !allowed.contains(&name.as_str()) {
            return Err(invalid(
                "option_not_allowed",
                "options",
                format!(
                    "option '{name}' is not allowed for scope '{}'",
                    scope.as_str()
                ),
            ));
        }
        let flag = value.as_bool().ok_or_else(|| {
            invalid(
                "invalid_type",
                "options",
                format!("option '{name}' must be true or false"),
            )
        })?;
        match name.as_str() {
            "scimCustomAttributes" => out.custom_attributes = Some(flag),
            "retrieve" => out.retrieve = Some(flag),
            _ => out.push = Some(flag),
        }
    }
    Ok(out)
}

/// The on-premise permission list for `retrieve`/`push`.
fn on_premise_permissions(retrieve: bool, push: bool) -> Vec<String> {
    let mut out = Vec::new();
    if retrieve {
        out.push(SCIM_READ.to_owned());
    }
    if push {
        out.push(SCIM_WRITE.to_owned());
    }
    out
}

fn dedup(mut permissions: Vec<String>) -> Vec<String> {
    let mut seen = Map::new();
    permissions.retain(|p| seen.insert(p.clone(), Value::Null).is_none());
    permissions
}

/// Creates a key after checking the request and the caller's own permissions.
pub async fn create_key(
    store: &Store,
    tenant: &TenantId,
    request: CreateKey,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<(ApiKey, Token), ServiceError> {
    check_key_name(&request.name)?;
    let days = lifetime(request.expires_in_days, "expiresInDays")?;
    // No full-admin key by omission: a scope or permissions must be named, and `*` is
    // granted only when written out.
    let scope = match (request.scope, &request.permissions) {
        (Some(scope), _) => scope,
        (None, Some(_)) => Scope::PublicApi,
        (None, None) => {
            return Err(invalid(
                "missing_field",
                "scope",
                "scope or permissions is required: name the key's scope (scim, on_premise, \
                 public_api) or list its permissions",
            ))
        }
    };
    if request.permissions.is_none() {
        default_permissions(scope)?;
    }
    let options = parse_options(scope, request.options.as_ref())?;
    let permissions = match (scope, request.permissions) {
        (Scope::OnPremise, Some(p)) if options.retrieve.is_some() || options.push.is_some() => {
            let implied = on_premise_permissions(
                options.retrieve.unwrap_or(true),
                options.push.unwrap_or(true),
            );
            check_permissions(scope, &p)?;
            if dedup(p.clone()) != implied && p != [ALL] {
                return Err(invalid(
                    "options_conflict",
                    "options",
                    "options retrieve/push contradict permissions: give one or the other",
                ));
            }
            p
        }
        (Scope::OnPremise, None) => on_premise_permissions(
            options.retrieve.unwrap_or(true),
            options.push.unwrap_or(true),
        ),
        (_, Some(p)) => p,
        (_, None) => default_permissions(scope)?,
    };
    let permissions = dedup(permissions);
    check_permissions(scope, &permissions)?;
    holds_all(caller, &permissions)?;
    let token = Token::generate(scope);
    let key = store
        .create_api_key(
            tenant,
            NewApiKey {
                name: request.name,
                label: request.label,
                scope: scope.as_str().into(),
                permissions,
                token_hash: token.hash(),
                token_hint: token.hint(),
                enabled: request.enabled,
                expires_at: now + Duration::days(days),
                client_id: crate::oauth::new_client_id(scope),
            },
            KeyPlacement {
                machine_id: request.machine,
                scim_custom_attributes: options.custom_attributes,
            },
            &caller.actor,
            now,
        )
        .await
        .map_err(|e| match e {
            // The only value the store refuses here is a machine of another tenant or none.
            StoreError::InvalidValue(message) => invalid("unknown_machine", "machine", message),
            e => e.into(),
        })?;
    Ok((key, token))
}

/// Changes a key: label, enabled state, permissions and scope options; never its value.
pub async fn change_key(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    change: ChangeKey,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<ApiKey, ServiceError> {
    let current = store.get_api_key(tenant, name).await?;
    let scope = Scope::parse(&current.scope)
        .ok_or_else(|| invalid("invalid_scope", "scope", "the key has an unknown scope"))?;
    let options = parse_options(scope, change.options.as_ref())?;
    let mut permissions = change.permissions.map(dedup);
    if scope == Scope::OnPremise && (options.retrieve.is_some() || options.push.is_some()) {
        if permissions.is_some() {
            return Err(invalid(
                "options_conflict",
                "options",
                "options retrieve/push contradict permissions: give one or the other",
            ));
        }
        permissions = Some(on_premise_permissions(
            options
                .retrieve
                .unwrap_or_else(|| grants(&current.permissions, SCIM_READ)),
            options
                .push
                .unwrap_or_else(|| grants(&current.permissions, SCIM_WRITE)),
        ));
    }
    if let Some(p) = &permissions {
        check_permissions(scope, p)?;
        let added: Vec<String> = p
            .iter()
            .filter(|x| !current.permissions.contains(x))
            .cloned()
            .collect();
        holds_all(caller, &added)?;
    }
    Ok(store
        .update_api_key(
            tenant,
            name,
            KeyUpdate {
                enabled: change.enabled,
                permissions,
                label: change.label,
                scim_custom_attributes: options.custom_attributes,
            },
            &caller.actor,
            now,
        )
        .await?)
}

/// Gives a key a new value. The caller must hold every permission of the key (otherwise
/// rotation would hand it a more powerful credential than its own).
pub async fn rotate_key(
    store: &Store,
    tenant: &TenantId,
    name: &str,
    request: RotateKey,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<(ApiKey, Token), ServiceError> {
    let grace = request.grace_minutes.unwrap_or(0);
    if !(0..=MAX_GRACE_MINUTES).contains(&grace) {
        return Err(invalid(
            "out_of_range",
            "gracePeriodMinutes",
            format!("gracePeriodMinutes must be between 0 and {MAX_GRACE_MINUTES}"),
        ));
    }
    let days = lifetime(request.expires_in_days, "expiresInDays")?;
    let current = store.get_api_key(tenant, name).await?;
    holds_all(caller, &current.permissions)?;
    let scope = Scope::parse(&current.scope)
        .ok_or_else(|| invalid("invalid_scope", "scope", "the key has an unknown scope"))?;
    let token = Token::generate(scope);
    let key = store
        .rotate_api_key(
            tenant,
            name,
            KeyRotation {
                token_hash: token.hash(),
                token_hint: token.hint(),
                grace_until: (grace > 0).then(|| now + Duration::minutes(grace)),
                expires_at: now + Duration::days(days),
            },
            &caller.actor,
            now,
        )
        .await?;
    Ok((key, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_checked_against_the_scope() {
        assert!(parse_options(Scope::PublicApi, Some(&json!({"push": true}))).is_err());
        assert!(parse_options(Scope::Scim, Some(&json!({"push": true}))).is_err());
        assert!(parse_options(Scope::OnPremise, Some(&json!({"push": "yes"}))).is_err());
        let o = parse_options(Scope::OnPremise, Some(&json!({"push": false}))).unwrap();
        assert_eq!((o.retrieve, o.push), (None, Some(false)));
    }

    #[test]
    fn every_unknown_permission_is_named_with_the_ones_the_scope_has() {
        let err = check_permissions(
            Scope::PublicApi,
            &[
                "tenant.everything".into(),
                "tenant.apiKey:read".into(),
                "root".into(),
            ],
        )
        .expect_err("unknown");
        let msg = err.to_string();
        for needle in [
            "'tenant.everything'",
            "'root'",
            "permissions of a public_api key",
            "tenant.audit:read",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        assert!(!msg.contains("'tenant.apiKey:read'"), "{msg}");
    }

    #[test]
    fn permissions_are_checked_against_the_scope() {
        assert!(check_permissions(Scope::Scim, &["scim:read".into()]).is_ok());
        assert!(check_permissions(Scope::Scim, &["tenant.apiKey:read".into()]).is_err());
        assert!(check_permissions(Scope::PublicApi, &["scim:read".into()]).is_err());
        assert!(check_permissions(Scope::PublicApi, &["nope".into()]).is_err());
        assert!(check_permissions(Scope::PublicApi, &["*".into()]).is_ok());
    }
}
