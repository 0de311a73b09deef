//! The SCIM writes: create, replace, patch and delete of users and groups, for `/scim/v2` and
//! `/Bulk` alike. Each validates the body against the caller's schema registry, hashes a new
//! password, applies the change in one store transaction (a PATCH under the resource's row
//! lock, deciding there whether anything changed) and audits the attributes it ignored in the
//! same transaction.

use chrono::{DateTime, Utc};
use scim_model::custom::carry_hidden;
use scim_model::{
    patch::{apply_patch, parse_patch},
    validate::check_immutable,
    validate_resource, IgnoredAttribute, Resource, ResourceKind, SchemaRegistry, ScimError,
};
use scim_store::{
    Capture, ChangeOrigin, IgnoredNote, PatchFailure, PatchRelations, Patched, Store, StoreError,
    TenantId,
};
use serde_json::Value;

use crate::{
    passwords::{hash_new_password, hash_passwords, passwords_in_patch, use_prehashed_password},
    tenant_schemas::TenantSchemas,
    ServiceError, ServiceResult,
};

/// What a write requires of the resource's current version (`If-Match`, a bulk `version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No condition (or `*`).
    Any,
    /// The resource must be at this version.
    Version(i64),
    /// No version can match (a malformed or foreign ETag).
    Never,
}

/// Who writes, in which tenant, against which schemas.
#[derive(Clone, Copy)]
pub struct ScimWriter<'a> {
    /// The database.
    pub store: &'a Store,
    /// The per-tenant schema cache (and which ignored attributes this process audited today).
    pub schemas: &'a TenantSchemas,
    /// The caller's tenant.
    pub tenant: &'a TenantId,
    /// The caller's key id and name, for the audit of ignored attributes.
    pub key_id: &'a str,
    /// The caller's key name.
    pub key_name: &'a str,
    /// The tenant's schema registry for this request.
    pub registry: &'a SchemaRegistry,
    /// Who makes the change and in which request, for its provisioning events.
    pub origin: &'a ChangeOrigin,
    /// Whether this process captures events (`SCIMD_EVENTS_CAPTURE`). When it does not, the
    /// events rule still runs (`emit` notes what each change touched) and nothing is written.
    pub capture_events: bool,
    /// The events rule ([`crate::events::emit`], or a front door's wrapper of it that notes
    /// what each change touched).
    pub emit: &'a (dyn Fn(&scim_store::Written<'_>) -> Vec<scim_store::NewEvent> + Sync),
}

impl std::fmt::Debug for ScimWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimWriter")
            .field("tenant", &self.tenant)
            .field("key_name", &self.key_name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// How often a replace without `If-Match` reads again when another write overtook it.
const REPLACE_ATTEMPTS: usize = 8;

/// `412`: the resource's version is not the one asked for.
pub fn precondition_failed() -> ServiceError {
    ServiceError::Scim(ScimError::new(
        412,
        None,
        "The resource has changed: its version does not match If-Match",
    ))
}

fn expected_version(condition: Precondition) -> ServiceResult<Option<i64>> {
    match condition {
        Precondition::Any => Ok(None),
        Precondition::Version(v) => Ok(Some(v)),
        Precondition::Never => Err(precondition_failed()),
    }
}

impl ScimWriter<'_> {
    /// The capture of this writer's events (`replace` for a PUT).
    fn capture(&self, replace: bool) -> Capture<'_> {
        Capture {
            origin: self.origin,
            emit: self.emit,
            replace,
            write: self.capture_events,
        }
    }

    /// The audit notes of the attributes of undeclared schemas a write sent (logged here,
    /// written in the write's transaction).
    fn notes(&self, ignored: &[IgnoredAttribute], now: DateTime<Utc>) -> Vec<IgnoredNote> {
        if ignored.is_empty() {
            return Vec::new();
        }
        self.schemas
            .fresh_notes(self.tenant, self.key_id, self.key_name, ignored, now)
    }

    /// `result`, handing the notes back when the write (and so their audit) failed.
    fn settle<T, E>(&self, notes: &[IgnoredNote], result: Result<T, E>) -> Result<T, E> {
        if result.is_err() {
            self.schemas.forget(notes);
        }
        result
    }

    /// Validates `body` and creates a resource of `kind`.
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: &Value,
        now: DateTime<Utc>,
    ) -> ServiceResult<Resource> {
        let mut input = validate_resource(self.registry, kind, body)?;
        hash_new_password(&mut input, None).await?;
        let notes = self.notes(&input.ignored, now);
        let res = self
            .store
            .create_resource(
                self.tenant,
                kind,
                &input,
                &notes,
                Some(self.capture(false)),
                now,
            )
            .await;
        Ok(self.settle(&notes, res)?)
    }

    /// Validates `body` and replaces resource `id` with it.
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        condition: Precondition,
        body: &Value,
        now: DateTime<Utc>,
    ) -> ServiceResult<Resource> {
        let registry = self.registry;
        let validated = validate_resource(registry, kind, body)?;
        let expected = expected_version(condition)?;
        if kind == ResourceKind::Group {
            let mut input = validated;
            if input.attributes.contains_key("password") || registry.has_immutable(kind) {
                let current = self
                    .store
                    .get_resource(self.tenant, kind, id, false)
                    .await?;
                check_immutable(registry, kind, &current.attributes, &input.attributes)?;
                hash_new_password(&mut input, current.attributes.get("password")).await?;
            }
            let notes = self.notes(&input.ignored, now);
            let res = self
                .store
                .replace_group(
                    self.tenant,
                    id,
                    expected,
                    &input,
                    &notes,
                    Some(self.capture(true)),
                    now,
                )
                .await;
            return Ok(self.settle(&notes, res)?);
        }
        // A user is replaced from the version read here: values the request cannot see (the
        // custom extension while the switch is off) are kept, the password is hashed before
        // the write, and the events name what changed since that version. A write that
        // overtook this one is met by reading again (or, with If-Match, by 412).
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self
                .store
                .get_resource(self.tenant, kind, id, false)
                .await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(precondition_failed());
            }
            let mut input = validated.clone();
            check_immutable(registry, kind, &current.attributes, &input.attributes)?;
            hash_new_password(&mut input, current.attributes.get("password")).await?;
            carry_hidden(registry, kind, &current.attributes, &mut input.attributes);
            let notes = self.notes(&input.ignored, now);
            let res = self
                .store
                .replace_user(
                    self.tenant,
                    &current,
                    &input,
                    &notes,
                    Some(self.capture(true)),
                    now,
                )
                .await;
            match self.settle(&notes, res) {
                Err(StoreError::PreconditionFailed)
                    if expected.is_none() && attempts < REPLACE_ATTEMPTS => {}
                res => return Ok(res?),
            }
        }
    }

    /// Applies a PatchOp `body` to resource `id`, under its row lock, and reads the relations
    /// the response needs in the same transaction. A PATCH that changes nothing succeeds
    /// without a new version.
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        condition: Precondition,
        body: &Value,
        relations: PatchRelations,
        now: DateTime<Utc>,
    ) -> ServiceResult<Patched> {
        let ops = parse_patch(body)?;
        // A new password is hashed (Argon2id, tens of milliseconds) before the transaction
        // begins, not while the row is locked.
        let prehashed = hash_passwords(passwords_in_patch(&ops)).await?;
        let registry = self.registry;
        let mut notes = Vec::new();
        let patched = self
            .store
            .patch_resource(
                self.tenant,
                kind,
                id,
                now,
                relations,
                Some(self.capture(false)),
                |current, _| {
                    match condition {
                        Precondition::Never => return Err(precondition_failed()),
                        Precondition::Version(v) if v != current.version => {
                            return Err(precondition_failed())
                        }
                        _ => {}
                    }
                    let mut patched = apply_patch(registry, kind, &current.attributes, &ops)?;
                    notes = self.notes(&std::mem::take(&mut patched.resource.ignored), now);
                    if patched.resource.attributes == current.attributes
                        && patched.members.is_empty()
                    {
                        return Ok((None, notes.clone()));
                    }
                    use_prehashed_password(
                        &mut patched.resource,
                        current.attributes.get("password"),
                        &prehashed,
                    )?;
                    Ok((Some((patched.resource, patched.members)), notes.clone()))
                },
            )
            .await
            .map_err(|e| match e {
                PatchFailure::Store(e) => ServiceError::Store(e),
                PatchFailure::Rejected(e) => e,
            });
        self.settle(&notes, patched)
    }

    /// Deletes resource `id`.
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        condition: Precondition,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let expected = expected_version(condition)?;
        Ok(self
            .store
            .delete_resource(
                self.tenant,
                kind,
                id,
                expected,
                Some(self.capture(false)),
                now,
            )
            .await?)
    }
}
