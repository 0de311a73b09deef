//! Applying a PATCH under a row lock: the resource is locked, read, changed by the caller's
//! function and written back in one transaction, so concurrent PATCHes (to one group, say)
//! apply one after the other and none is lost.

use chrono::{DateTime, Utc};
use scim_model::{patch::MemberChange, Resource, ResourceKind, ValidatedResource};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait,
};

use std::collections::HashMap;

use scim_db::{ReadRows, Txn};

use crate::events::{capture_written, Capture, Written};
use crate::settings::{write_ignored_notes, IgnoredNote};
use crate::stored::StoredRow;
use crate::{entity::group, groups, members, users, Store, StoreError, TenantId};

/// Which relations a PATCH reads back inside its transaction, for its response: none, all,
/// or a group's members only while it has at most this many (a larger group answers without
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchRelations {
    /// Neither a user's groups nor a group's members.
    None,
    /// A user's groups, a group's members.
    All,
    /// A user's groups; a group's members up to this many.
    UpTo(u64),
}

impl PatchRelations {
    fn wanted(self, member_count: u64) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::UpTo(limit) => member_count <= limit,
        }
    }
}

/// What a PATCH function decides: the new attributes and member changes, or no change.
pub type PatchDecision = Option<(ValidatedResource, Vec<MemberChange>)>;

/// A PATCH function's decision and the ignored attributes to audit with it (whether or not it
/// changes anything).
pub type PatchOutcome = (PatchDecision, Vec<IgnoredNote>);

/// Why a PATCH did not apply.
#[derive(Debug)]
pub enum PatchFailure<E> {
    /// The store failed (not found, conflict, database).
    Store(StoreError),
    /// The caller's function refused the change.
    Rejected(E),
}

impl<E> From<StoreError> for PatchFailure<E> {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl<E> From<sea_orm::DbErr> for PatchFailure<E> {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

/// A patched resource (without relations) and, for groups, its member count.
#[derive(Debug, Clone)]
pub struct Patched {
    /// The resource after the PATCH.
    pub resource: Resource,
    /// Number of members (groups), 0 for users.
    pub member_count: u64,
}

impl Store {
    /// Locks resource `id`, passes its current state (and member count) to `decide`, and
    /// writes what `decide` returns, all in one transaction. Member changes cost what they
    /// change, whatever the group's size. The relations the response needs (`relations`) are
    /// read in the same transaction: nothing is read again after the commit.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, kind = kind.name()))]
    #[allow(clippy::too_many_arguments)] // tenant first, `now` and the decision last (STYLE 4)
    pub async fn patch_resource<E>(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        now: DateTime<Utc>,
        relations: PatchRelations,
        capture: Option<Capture<'_>>,
        mut decide: impl FnMut(&Resource, u64) -> Result<PatchOutcome, E>,
    ) -> Result<Patched, PatchFailure<E>> {
        let mut carried = Vec::new();
        if kind == ResourceKind::User && self.db.get_database_backend() == DbBackend::Postgres {
            for _ in 0..UNLOCKED_ATTEMPTS {
                match self
                    .patch_user_unlocked(tenant, id, now, relations, capture, &mut decide)
                    .await?
                {
                    Unlocked::Done(patched) => return Ok(patched),
                    Unlocked::Raced => {}
                    Unlocked::NeedsLock(notes) => {
                        carried = notes;
                        break;
                    }
                }
            }
        }
        let txn = self.db.begin().await?;
        // The read takes the lock, so that no other writer can overtake it: on PostgreSQL a
        // `SELECT … FOR UPDATE` (the row lock, in the read's round trip); on SQLite the
        // transaction already holds the only write lock (this process's write turn and
        // `BEGIN IMMEDIATE`).
        let (current, count) = read(&txn, tenant, kind, id).await?;
        let (decision, mut notes) = decide(&current, count).map_err(PatchFailure::Rejected)?;
        // The notes of an unlocked attempt that handed over: `decide` reports a note once.
        notes.append(&mut carried);
        write_ignored_notes(&txn, tenant, &notes, now).await?;
        let Some((input, changes)) = decision else {
            let resource = with_relations(&txn, tenant, current, count, relations).await?;
            txn.commit().await?;
            return Ok(Patched {
                resource,
                member_count: count,
            });
        };
        let (resource, member_count) = match kind {
            ResourceKind::User => {
                let backend = txn.get_database_backend();
                let written = Written::user_change(&current, &input);
                let mut update = users::patch_statement(backend, &input, now, id)?;
                let mut events = capture.and_then(|c| {
                    let list = c.events(&written);
                    c.write.then_some((list, c.origin))
                });
                // PostgreSQL, one event: the UPDATE and its event in one statement.
                if let (DbBackend::Postgres, Some((list, origin))) = (backend, &events) {
                    if let [event] = list.as_slice() {
                        update = crate::events::with_event(update, tenant, origin, event, now)?;
                        events = None;
                    }
                }
                let updated = txn
                    .execute(update)
                    .await
                    .map_err(|e| StoreError::from_write(e, users::UNIQUE))?;
                if updated.rows_affected() == 0 {
                    return Err(StoreError::NotFound.into());
                }
                if let Some((list, origin)) = events {
                    crate::events::capture(&txn, tenant, origin, &list, now).await?;
                }
                // What the row now holds, without reading it back.
                let resource = Resource {
                    attributes: input.attributes,
                    version: current.version + 1,
                    last_modified: now,
                    ..current
                };
                (resource, 0)
            }
            ResourceKind::Group => {
                let (added, removed, count_change) =
                    apply_member_changes(&txn, tenant, id, &changes).await?;
                let members_changed = !added.is_empty() || !removed.is_empty();
                if !members_changed && input.attributes == current.attributes {
                    // Adding members already there, removing absent ones: nothing changed,
                    // so neither do the version and lastModified (RFC 7644 §3.5.2).
                    let resource = with_relations(&txn, tenant, current, count, relations).await?;
                    txn.commit().await?;
                    return Ok(Patched {
                        resource,
                        member_count: count,
                    });
                }
                let backend = txn.get_database_backend();
                let mut update = groups::update_attributes(&input, now)?
                    .col_expr(group::Column::MemberCount, count_change.expr())
                    .filter(group::Column::Id.eq(id))
                    .build(backend);
                let written = Written {
                    kind,
                    id,
                    before: Some(&current.attributes),
                    after: Some(&input.attributes),
                    external_id: input.str_attr("externalId"),
                    version: current.version + 1,
                    added: &added,
                    removed: &removed,
                    left: &[],
                };
                // PostgreSQL, one event (a membership change of most PATCHes): the UPDATE and
                // its event in one statement.
                let mut written = Some(written);
                if let (DbBackend::Postgres, Some(c), Some(w)) = (backend, capture, &written) {
                    let list = c.events(w);
                    if let ([event], true) = (list.as_slice(), c.write) {
                        update = crate::events::with_event(update, tenant, c.origin, event, now)?;
                        written = None;
                    }
                }
                txn.execute(update)
                    .await
                    .map_err(|e| StoreError::from_write(e, groups::UNIQUE))?;
                if let Some(written) = written {
                    capture_written(&txn, tenant, capture, written, now).await?;
                }
                // What the row now holds, without reading it back.
                let resource = Resource {
                    attributes: input.attributes,
                    version: current.version + 1,
                    last_modified: now,
                    ..current
                };
                (resource, count_change.applied(count))
            }
        };
        let resource = with_relations(&txn, tenant, resource, member_count, relations).await?;
        txn.commit().await?;
        Ok(Patched {
            resource,
            member_count,
        })
    }
}

/// Unlocked PATCHes of a user tried before one takes the row lock (each lost to a write that
/// came between its read and its `UPDATE`).
const UNLOCKED_ATTEMPTS: usize = 3;

/// How an unlocked PATCH of a user ended.
enum Unlocked {
    /// Applied (or nothing to change).
    Done(Patched),
    /// Another write came between the read and the `UPDATE`: nothing was written.
    Raced,
    /// The change needs the transaction (audit notes to write with it, or more than one
    /// event); nothing was written. Carries the notes `decide` reported.
    NeedsLock(Vec<IgnoredNote>),
}

impl Store {
    /// A user's PATCH on PostgreSQL in two statements instead of five: the user (and its
    /// groups, when the answer shows them) read in one statement without a lock, then the
    /// `UPDATE` with its event in one statement that applies only while the user is still at
    /// the version read. A write that came between makes it affect nothing: [`Unlocked::Raced`],
    /// and the caller reads again. The outcome is the locked path's: one version after the
    /// other, none lost, `If-Match` checked against the version written over.
    async fn patch_user_unlocked<E>(
        &self,
        tenant: &TenantId,
        id: &str,
        now: DateTime<Utc>,
        relations: PatchRelations,
        capture: Option<Capture<'_>>,
        decide: &mut impl FnMut(&Resource, u64) -> Result<PatchOutcome, E>,
    ) -> Result<Unlocked, PatchFailure<E>> {
        let backend = self.db.get_database_backend();
        let mut current = self
            .get_user_stored(tenant, id, relations.wanted(0))
            .await?;
        let groups = current.groups.take();
        let current = crate::stored::parsed(current)?;
        let (decision, notes) = decide(&current, 0).map_err(PatchFailure::Rejected)?;
        if !notes.is_empty() {
            return Ok(Unlocked::NeedsLock(notes));
        }
        let Some((input, _)) = decision else {
            return Ok(Unlocked::Done(Patched {
                resource: Resource { groups, ..current },
                member_count: 0,
            }));
        };
        let written = Written::user_change(&current, &input);
        let mut update =
            users::patch_if_version_statement(backend, &input, now, (tenant, id), current.version)?;
        if let Some(c) = capture {
            let list = c.events(&written);
            if c.write {
                let [event] = list.as_slice() else {
                    return Ok(Unlocked::NeedsLock(Vec::new()));
                };
                update = crate::events::with_event(update, tenant, c.origin, event, now)?;
            }
        }
        let updated = self
            .db
            .execute(update)
            .await
            .map_err(|e| StoreError::from_write(e, users::UNIQUE))?;
        if updated.rows_affected() == 0 {
            return Ok(Unlocked::Raced);
        }
        // What the row now holds, without reading it back.
        Ok(Unlocked::Done(Patched {
            resource: Resource {
                attributes: input.attributes,
                groups,
                version: current.version + 1,
                last_modified: now,
                ..current
            },
            member_count: 0,
        }))
    }
}

/// `resource` with the relations `relations` asks for, read in the transaction.
async fn with_relations(
    txn: &Txn,
    tenant: &TenantId,
    mut resource: Resource,
    member_count: u64,
    relations: PatchRelations,
) -> Result<Resource, StoreError> {
    if !relations.wanted(member_count) {
        return Ok(resource);
    }
    match resource.kind {
        ResourceKind::User => {
            resource.groups = Some(members::groups_of_one(txn, tenant, &resource.id).await?);
        }
        ResourceKind::Group => {
            let mut all =
                members::members_of(txn, tenant, std::slice::from_ref(&resource.id)).await?;
            resource.members = Some(all.remove(&resource.id).unwrap_or_default());
        }
    }
    Ok(resource)
}

/// The resource `id` of `tenant` as the transaction sees it, and its member count (groups).
async fn read(
    txn: &Txn,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &str,
) -> Result<(Resource, u64), StoreError> {
    let backend = txn.get_database_backend();
    match kind {
        ResourceKind::User => {
            let stmt = match backend {
                DbBackend::Postgres => users::lock_user_statement(backend, tenant, id),
                _ => users::find_user_statement(backend, tenant, id),
            };
            let row: Option<StoredRow> = txn.read_one(stmt).await?;
            let user = row.ok_or(StoreError::NotFound)?;
            Ok((user.into_resource(ResourceKind::User)?, 0))
        }
        ResourceKind::Group => {
            let mut select = group::Entity::find()
                .filter(group::Column::TenantId.eq(tenant.as_str()))
                .filter(group::Column::Id.eq(id));
            if backend == DbBackend::Postgres {
                select = select.lock_exclusive();
            }
            let m = select.one(txn).await?.ok_or(StoreError::NotFound)?;
            let count = m.member_count.max(0).unsigned_abs();
            Ok((m.into(), count))
        }
    }
}

/// Applies member deltas in order. Returns the members added and the members removed, net of
/// one another (a member removed and added back by one PATCH is in neither), and how the
/// member count moves by what actually changed (for the caller's `UPDATE` of the group).
async fn apply_member_changes(
    txn: &Txn,
    tenant: &TenantId,
    id: &str,
    changes: &[MemberChange],
) -> Result<(Vec<String>, Vec<String>, CountChange), StoreError> {
    if changes.is_empty() {
        return Ok((Vec::new(), Vec::new(), CountChange { to: None, by: 0 }));
    }
    // Net effect per member, in first-seen order: true = now in (was out), false = now out.
    let mut net: Vec<(String, bool)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut note = |member: String, now_in: bool| match index.get(&member) {
        // Back to where it started: no change.
        Some(&i) if net.get(i).is_some_and(|(_, was)| *was != now_in) => {
            index.remove(&member);
            if let Some(entry) = net.get_mut(i) {
                entry.0.clear();
            }
        }
        Some(_) => {}
        None => {
            index.insert(member.clone(), net.len());
            net.push((member, now_in));
        }
    };
    let mut delta: i64 = 0;
    let mut cleared = false;
    for change in changes {
        match change {
            MemberChange::Clear => {
                for m in members::clear(txn, tenant, id).await? {
                    note(m, false);
                }
                cleared = true;
                delta = 0;
            }
            MemberChange::Add(list) => {
                let resolved = members::resolve(txn, tenant, id, list).await?;
                let added = members::insert(txn, tenant, id, &resolved).await?;
                delta += i64::try_from(added.len()).unwrap_or(i64::MAX);
                for m in added {
                    note(m, true);
                }
            }
            MemberChange::Remove(ids) => {
                let removed = members::remove(txn, tenant, id, ids).await?;
                delta -= i64::try_from(removed.len()).unwrap_or(i64::MAX);
                for m in removed {
                    note(m, false);
                }
            }
        }
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (member, now_in) in net {
        match (member.is_empty(), now_in) {
            (true, _) => {}
            (false, true) => added.push(member),
            (false, false) => removed.push(member),
        }
    }
    let count = CountChange {
        to: cleared.then_some(delta),
        by: delta,
    };
    Ok((added, removed, count))
}

/// How a group's member count moves: set `to` a value (the members were cleared first, then
/// some added), or moved `by` one (written with the group's other columns, in its `UPDATE`).
#[derive(Debug, Clone, Copy)]
struct CountChange {
    to: Option<i64>,
    by: i64,
}

impl CountChange {
    /// The count after the change, from the count before.
    fn applied(self, before: u64) -> u64 {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.to
            .unwrap_or(before.saturating_add(self.by))
            .max(0)
            .unsigned_abs()
    }

    /// The `member_count` column after the change, as an expression of the `UPDATE`.
    fn expr(self) -> sea_orm::sea_query::SimpleExpr {
        match self.to {
            Some(to) => Expr::value(to),
            None => Expr::col(group::Column::MemberCount).add(self.by),
        }
    }
}
