//! The write operations of the SCIM API, shared by the single-resource endpoints and `/Bulk`.

use chrono::Utc;
use scim_model::custom::carry_hidden;
use scim_model::{
    patch::{apply_patch, parse_patch},
    validate::check_immutable,
    validate_resource, IgnoredAttribute, Resource, ResourceKind, ScimError,
};
use scim_store::{PatchFailure, Patched};
use serde_json::Value;

use crate::{
    conditional::IfMatch,
    error::ApiError,
    password::{hash_new_password, hash_new_password_blocking},
    Caller, ScimState,
};

/// Warns about and audits the attributes of undeclared schemas a write sent (never fails it).
async fn report_ignored(state: &ScimState, caller: &Caller, ignored: &[IgnoredAttribute]) {
    if ignored.is_empty() {
        return;
    }
    state
        .tenant_schemas
        .report_ignored(
            &state.store,
            &caller.tenant,
            &caller.key_id,
            &caller.key_name,
            ignored,
            Utc::now(),
        )
        .await;
}

fn expected_version(condition: IfMatch) -> Result<Option<i64>, ApiError> {
    match condition {
        IfMatch::Any => Ok(None),
        IfMatch::Version(v) => Ok(Some(v)),
        IfMatch::Never => Err(precondition_failed()),
    }
}

/// `412` for an `If-Match` (or bulk `version`) that is not the resource's version.
pub(crate) fn precondition_failed() -> ApiError {
    ScimError::new(
        412,
        None,
        "The resource has changed: its version does not match If-Match",
    )
    .into()
}

/// Validates `body` and creates a resource of `kind`.
pub(crate) async fn create(
    state: &ScimState,
    caller: &Caller,
    kind: ResourceKind,
    body: &Value,
) -> Result<Resource, ApiError> {
    let mut input = validate_resource(caller.registry(), kind, body)?;
    hash_new_password(&mut input, None).await?;
    let res = state
        .store
        .create_resource(&caller.tenant, kind, &input, Utc::now())
        .await?;
    report_ignored(state, caller, &input.ignored).await;
    Ok(res)
}

/// Validates `body` and replaces resource `id` with it.
pub(crate) async fn replace(
    state: &ScimState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    condition: IfMatch,
    body: &Value,
) -> Result<Resource, ApiError> {
    let registry = caller.registry();
    let tenant = &caller.tenant;
    let mut input = validate_resource(registry, kind, body)?;
    let expected = expected_version(condition)?;
    // Users may hold values the request cannot see (the custom extension while the switch is
    // off): read them so that the replace keeps them.
    if kind == ResourceKind::User
        || input.attributes.contains_key("password")
        || registry.has_immutable(kind)
    {
        let current = state.store.get_resource(tenant, kind, id, false).await?;
        check_immutable(registry, kind, &current.attributes, &input.attributes)?;
        hash_new_password(&mut input, current.attributes.get("password")).await?;
        carry_hidden(registry, kind, &current.attributes, &mut input.attributes);
    }
    let res = state
        .store
        .replace_resource(tenant, kind, id, expected, &input, Utc::now())
        .await?;
    report_ignored(state, caller, &input.ignored).await;
    Ok(res)
}

/// Applies a PatchOp `body` to resource `id`, under its row lock.
pub(crate) async fn patch(
    state: &ScimState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    condition: IfMatch,
    body: &Value,
) -> Result<Patched, ApiError> {
    let ops = parse_patch(body)?;
    let registry = caller.registry();
    let mut ignored = Vec::new();
    let patched = state
        .store
        .patch_resource(&caller.tenant, kind, id, Utc::now(), |current, _| {
            match condition {
                IfMatch::Never => return Err(precondition_failed()),
                IfMatch::Version(v) if v != current.version => return Err(precondition_failed()),
                _ => {}
            }
            let mut patched = apply_patch(registry, kind, &current.attributes, &ops)?;
            ignored = std::mem::take(&mut patched.resource.ignored);
            if patched.resource.attributes == current.attributes && patched.members.is_empty() {
                // A PATCH that changes nothing succeeds without a new version.
                return Ok(None);
            }
            hash_new_password_blocking(&mut patched.resource, current.attributes.get("password"))?;
            Ok(Some((patched.resource, patched.members)))
        })
        .await
        .map_err(|e| match e {
            PatchFailure::Store(e) => ApiError::from(e),
            PatchFailure::Rejected(e) => e,
        })?;
    report_ignored(state, caller, &ignored).await;
    Ok(patched)
}

/// Deletes resource `id`.
pub(crate) async fn delete(
    state: &ScimState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    condition: IfMatch,
) -> Result<(), ApiError> {
    let expected = expected_version(condition)?;
    Ok(state
        .store
        .delete_resource(&caller.tenant, kind, id, expected, Utc::now())
        .await?)
}
