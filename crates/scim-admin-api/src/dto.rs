//! Request and response bodies of the admin API, with their OpenAPI schemas. No response type
//! has a field for a hash; only [`CreatedApiKey`] has one for a token value.

use chrono::{DateTime, Utc};
use scim_service::key_lifecycle::{deletion_scheduled_at, key_options, key_status};
use scim_store::{ApiKey, AuditEvent, Machine, Tenant};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A key scope, fixed at creation (documentation of the accepted values).
#[derive(ToSchema)]
#[schema(as = KeyScope)]
#[allow(dead_code)]
pub enum KeyScopeDoc {
    /// Entra ID / Okta provisioning.
    #[schema(rename = "scim")]
    Scim,
    /// A script in the customer's network.
    #[schema(rename = "on_premise")]
    OnPremise,
    /// Automation of the admin API.
    #[schema(rename = "public_api")]
    PublicApi,
}

/// A permission a key may hold (documentation of the accepted values); which ones a key may
/// hold depends on its scope.
#[derive(ToSchema)]
#[schema(as = Permission)]
#[allow(dead_code)]
pub enum PermissionDoc {
    /// Everything the scope allows.
    #[schema(rename = "*")]
    All,
    /// Read the provisioned directory.
    #[schema(rename = "scim:read")]
    ScimRead,
    /// Provision users and groups.
    #[schema(rename = "scim:write")]
    ScimWrite,
    /// List and show keys.
    #[schema(rename = "tenant.apiKey:read")]
    ApiKeyRead,
    /// Create, change, rotate, revoke and delete keys.
    #[schema(rename = "tenant.apiKey:write")]
    ApiKeyWrite,
    /// List and show machines.
    #[schema(rename = "tenant.machine:read")]
    MachineRead,
    /// Create, change and delete machines.
    #[schema(rename = "tenant.machine:write")]
    MachineWrite,
    /// Read the tenant's settings.
    #[schema(rename = "tenant.settings:read")]
    SettingsRead,
    /// Change the tenant's settings.
    #[schema(rename = "tenant.settings:write")]
    SettingsWrite,
    /// Read the audit events.
    #[schema(rename = "tenant.audit:read")]
    AuditRead,
    /// Read the provisioned users and groups in the console (personal data).
    #[schema(rename = "tenant.directory:read")]
    DirectoryRead,
    /// Read the provisioning events (the events API).
    #[schema(rename = "tenant.events:read")]
    EventsRead,
    /// Create, change and remove RFC 9967 event streams.
    #[schema(rename = "tenant.events:write")]
    EventsWrite,
    /// List webhook endpoints and their delivery attempts.
    #[schema(rename = "tenant.webhooks:read")]
    WebhooksRead,
    /// Register, change and remove webhook endpoints.
    #[schema(rename = "tenant.webhooks:write")]
    WebhooksWrite,
    /// Read the provisioning activity (what the identity providers sent).
    #[schema(rename = "tenant.activity:read")]
    ActivityRead,
}

/// An API key as listed and shown. The key's value and hash are never part of it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// Unique name within the tenant; immutable.
    #[schema(example = "entra-prod")]
    pub name: String,
    /// Display text.
    pub label: Option<String>,
    /// `scim`, `on_premise` or `public_api`; fixed at creation.
    #[schema(example = "scim")]
    pub scope: String,
    /// The key's OAuth 2.0 client id (`scim` and `on_premise` keys; `null` for `public_api`
    /// keys): not secret, stable for the key's life, also across rotation. Its client secret
    /// is the key's value (token endpoint `POST /oauth2/{tenantId}/token`).
    #[schema(example = "0b7c5f2e-8d0a-4c4e-9f6b-2f1d3a9e7c11")]
    pub client_id: Option<String>,
    /// `active`, `inactive`, `revoked` or `expired`.
    #[schema(example = "active")]
    pub status: String,
    /// Whether the key is switched on (a revoked or expired key is unusable regardless).
    pub enabled: bool,
    /// Granted permissions; `*` means all the scope allows.
    pub permissions: Vec<String>,
    /// Scope options: `scimCustomAttributes` (scim, tenant-wide), `retrieve`/`push` (on_premise).
    #[schema(value_type = Object)]
    pub options: Value,
    /// Id of the owning machine.
    pub machine: Option<String>,
    /// Non-secret start of the value (`scimd_scim_Ab12…`).
    pub token_hint: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
    /// When the key stops working.
    pub expires_at: DateTime<Utc>,
    /// When an expired or revoked key is purged (expiry + 90 days).
    pub deletion_scheduled_at: DateTime<Utc>,
    /// When the key was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last successful use (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Address of the last caller.
    pub last_used_address: Option<String>,
    /// Until when the value replaced by the last rotation still works.
    pub previous_value_valid_until: Option<DateTime<Utc>>,
    /// Expiry warnings queued or sent about this key, oldest first (list and get only).
    pub expiry_warnings: Vec<crate::expiry::ExpiryWarningView>,
}

impl ApiKeyView {
    /// The view of `key` at `now`, with the tenant's SCIM switch.
    pub fn new(key: ApiKey, custom_attributes: bool, now: DateTime<Utc>) -> Self {
        let options = key_options(&key, custom_attributes);
        let status = key_status(&key, now).to_owned();
        let deletion = deletion_scheduled_at(&key);
        let grace = key.previous_valid_until.filter(|until| now < *until);
        Self {
            name: key.name,
            label: key.label,
            scope: key.scope,
            client_id: key.client_id,
            status,
            enabled: key.enabled,
            permissions: key.permissions,
            options,
            machine: key.machine_id,
            token_hint: key.token_hint,
            created_at: key.created_at,
            updated_at: key.updated_at,
            expires_at: key.expires_at,
            deletion_scheduled_at: deletion,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            last_used_address: key.last_used_addr,
            previous_value_valid_until: grace,
            expiry_warnings: Vec::new(),
        }
    }
}

/// A key just created or rotated, with its value: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The plaintext value. Copy it now: scimd keeps only its SHA-256.
    #[schema(example = "scimd_scim_...")]
    pub token: String,
}

/// Body of `POST /apiKeys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyBody {
    /// 1–64 of `A-Z a-z 0-9 . _ -`, unique in the tenant (required).
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    /// Display text.
    pub label: Option<String>,
    /// `scim`, `on_premise` or `public_api`. Left out, `permissions` must be given and the key
    /// is a `public_api` key with exactly those; a body with neither is `422`.
    #[schema(value_type = Option<KeyScopeDoc>)]
    pub scope: Option<String>,
    /// Whether the key is usable at once (default true).
    pub enabled: Option<bool>,
    /// Permissions; `["*"]` = all the scope allows, granted only when written out. Default for
    /// `scim` and `on_premise` keys: `scim:read`, `scim:write`; required for `public_api` keys.
    /// Each must be one the scope allows and one the caller holds.
    #[schema(value_type = Option<Vec<PermissionDoc>>)]
    pub permissions: Option<Vec<String>>,
    /// Scope options: `{"scimCustomAttributes": bool}` for scim (tenant-wide),
    /// `{"retrieve": bool, "push": bool}` for on_premise.
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
    /// Id of an existing machine of the tenant the key belongs to.
    pub machine: Option<String>,
    /// Lifetime in days, 1–365 (default 365).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
}

/// Body of `PUT /apiKeys/{keyName}`: `enabled` and `permissions` replace; `label` and `options`
/// change only when present. Name, scope and value never change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateApiKeyBody {
    /// Whether the key is usable (required). A revoked key cannot be enabled.
    #[schema(value_type = bool, required = true)]
    pub enabled: Option<bool>,
    /// New permissions (kept when absent).
    #[schema(value_type = Option<Vec<PermissionDoc>>)]
    pub permissions: Option<Vec<String>>,
    /// New label (`null` clears it; kept when absent).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub label: Option<Option<String>>,
    /// Scope options to change (see create).
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
    /// Accepted only when equal to the key's name (it is immutable).
    pub name: Option<String>,
    /// Accepted only when equal to the key's scope (it is immutable).
    #[schema(value_type = Option<KeyScopeDoc>)]
    pub scope: Option<String>,
}

/// Body of `POST /apiKeys/{keyName}/rotate` (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateApiKeyBody {
    /// Minutes the old value keeps working, 0–10080 (default 0: it stops at once).
    #[schema(minimum = 0, maximum = 10080)]
    pub grace_period_minutes: Option<i64>,
    /// Lifetime of the new value in days, 1–365 (default 365).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
}

/// A machine (service account).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineView {
    /// Machine id.
    pub id: String,
    /// Name, unique in the tenant.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Machine> for MachineView {
    fn from(m: Machine) -> Self {
        Self {
            id: m.id,
            name: m.name,
            description: m.description,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Body of `POST /machines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMachineBody {
    /// 1–128 characters, unique in the tenant: no control characters, no whitespace at
    /// either end (required).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128, pattern = "^(?![\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])[^\\u0000-\\u001f\\u007f-\\u009f]*(?<![\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])$")]
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// Body of `PATCH /machines/{machineId}`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchMachineBody {
    /// New name (see create).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^(?![\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])[^\\u0000-\\u001f\\u007f-\\u009f]*(?<![\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])$"
    )]
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// The tenant's SCIM settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScimSettingsBody {
    /// The tenant-wide custom-attributes switch (shown on every SCIM key; applies to every
    /// SCIM and on-premise key of the tenant from the next request on). Off: custom attributes
    /// in requests are ignored and stored values hidden, never deleted. Required.
    #[schema(value_type = bool, required = true)]
    pub custom_attributes_enabled: Option<bool>,
    /// The custom User extension schema in the RFC 7643 §7 representation: `id` = the URN
    /// (default `urn:ietf:params:scim:schemas:extension:scimd:2.0:User`), `name`,
    /// `description`, `attributes` (each with `name`, `type` = string, boolean, integer,
    /// decimal, dateTime, reference, binary or complex with `subAttributes`, and optional
    /// `multiValued`, `required`, `caseExact`, `description`, `mutability`, `returned`,
    /// `canonicalValues`, `referenceTypes`; `uniqueness` must be `none`).
    #[schema(value_type = Option<Object>)]
    pub custom_schema: Option<Value>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    /// Event id.
    pub id: String,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// `key:<name>`, `operator`, `cli` or `system`.
    pub actor: String,
    /// `apiKey.create`, `apiKey.revoke`, `machine.update`, `settings.update`,
    /// `scim.customAttribute.ignored` (an undeclared custom attribute a key sent; once a day), ...
    pub action: String,
    /// `apiKey`, `machine`, `settings` or `tenant`.
    pub target_type: String,
    /// The target's name or id.
    pub target_id: String,
    /// Fields changed, with old and new values; never a secret.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// The caller's address.
    pub caller_address: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            changes: e.changes,
            caller_address: e.caller_addr,
        }
    }
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// Events matching the filter, over all pages.
    pub total_results: u64,
    /// 1-based index of the first event of this page.
    pub start_index: u64,
    /// Events on this page.
    pub items_per_page: u64,
    /// The events.
    pub events: Vec<AuditEventView>,
}

/// Query of `GET /auditEvents`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// `apiKey`, `machine`, `settings` or `tenant`.
    pub target_type: Option<String>,
    /// The target's name or id.
    pub target_id: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1-based index of the first event (default 1).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9223372036854775807_u64)]
    pub start_index: Option<String>,
    /// Page size, 0–500 (default 50).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 500)]
    pub count: Option<String>,
}

/// The most `count` of a page of the admin API.
pub const MAX_PAGE_COUNT: u64 = 500;
/// `count` when a page request does not say.
pub const DEFAULT_PAGE_COUNT: u64 = 50;

/// `startIndex` (1 to `i64::MAX`, default 1) and `count` (0 to [`MAX_PAGE_COUNT`], default
/// [`DEFAULT_PAGE_COUNT`]) of a page request, as sent; anything else is `422` naming the
/// parameter (never clamped into a number the database cannot take).
pub fn page_bounds(
    start_index: Option<&str>,
    count: Option<&str>,
) -> Result<(u64, u64), crate::AdminApiError> {
    fn int(
        raw: Option<&str>,
        field: &'static str,
        min: u64,
        max: u64,
        default: u64,
    ) -> Result<u64, crate::AdminApiError> {
        let Some(raw) = raw else {
            return Ok(default);
        };
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                crate::AdminApiError::invalid(
                    "invalid_range",
                    field,
                    format!("{field} must be an integer from {min} to {max}"),
                )
            })
    }
    let max_index = u64::try_from(i64::MAX).unwrap_or(u64::MAX);
    Ok((
        int(start_index, "startIndex", 1, max_index, 1)?,
        int(count, "count", 0, MAX_PAGE_COUNT, DEFAULT_PAGE_COUNT)?,
    ))
}

/// A tenant, as the operator sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Address of the global admin (expiry warnings).
    pub admin_email: Option<String>,
    /// Language of e-mails.
    pub locale: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            display_name: t.display_name,
            admin_email: t.admin_email,
            locale: t.locale,
            created_at: t.created_at,
        }
    }
}

/// Body of `POST /api/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenantBody {
    /// 1–64 lowercase letters, digits or `-`, not starting with `-`; not `tenants` or `docs`
    /// (required).
    #[schema(value_type = String, required = true, pattern = "^(?!(?:tenants|docs)$)[a-z0-9][a-z0-9-]{0,63}$")]
    pub id: Option<String>,
    /// Address of the global admin.
    #[schema(format = Email, max_length = 254)]
    pub admin_email: Option<String>,
}

/// Body of `PATCH /api/tenants/{tenantId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenantBody {
    /// New address of the global admin (`null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub admin_email: Option<Option<String>>,
}

/// The error body of every admin API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code (`invalid_name`, `unknown_permission`, `conflict`, ...).
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}
