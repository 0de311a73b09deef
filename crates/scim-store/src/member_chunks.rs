//! A group with all its members, read for a response that sends the members as they are read:
//! the group first, then its members in chunks in id order (keyset paging), all from one
//! snapshot, so that the members agree with the group's version whatever is written meanwhile,
//! and memory stays the size of one chunk whatever the group's size.

use scim_db::{Prepared, Snapshot};
use scim_model::{schema::SchemaRegistry, MemberRef, Resource, ResourceKind};
use sea_orm::{
    sea_query::{Expr, Query},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
};

use crate::{
    entity::{group, group_member},
    resources::list_groups,
    ListPage, ListQuery, Store, StoreError, StoreResult, TenantId,
};

/// Members per chunk: large enough that a statement's fixed cost is shared by many rows, small
/// enough that a chunk is a few hundred KiB of JSON.
pub const MEMBER_CHUNK: u64 = 2_000;

/// The members of one group, read chunk by chunk from the snapshot the group was read from.
#[derive(Debug)]
pub struct MemberChunks {
    snapshot: Snapshot,
    tenant: TenantId,
    group_id: String,
    /// The last member id read; the next chunk starts after it.
    after: String,
    done: bool,
}

impl MemberChunks {
    /// Moves on to the members of `group_id` (read from the same snapshot), unless they are the
    /// ones these chunks were opened at and none has been read yet.
    pub fn start(&mut self, group_id: &str) {
        if self.group_id == group_id && self.after.is_empty() {
            return;
        }
        group_id.clone_into(&mut self.group_id);
        self.after.clear();
        self.done = false;
    }

    /// The next chunk of at most [`MEMBER_CHUNK`] members, `None` after the last.
    pub async fn next_chunk(&mut self) -> StoreResult<Option<Vec<MemberRef>>> {
        if self.done {
            return Ok(None);
        }
        let stmt = chunk_statement(
            self.snapshot.get_database_backend(),
            &self.tenant,
            &self.group_id,
            &self.after,
        );
        let rows = self.snapshot.text_rows::<2>(stmt).await?;
        self.done = (rows.len() as u64) < MEMBER_CHUNK;
        if let Some([last, _]) = rows.last() {
            self.after.clone_from(last);
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.into_iter()
                .map(|[value, kind]| MemberRef {
                    value,
                    kind: ResourceKind::parse(&kind).unwrap_or(ResourceKind::User),
                    display: None,
                })
                .collect(),
        ))
    }
}

impl Store {
    /// The group `id` of `tenant` (without members) and its members to read chunk by chunk,
    /// from one snapshot (see [`MemberChunks`]).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn get_group_with_member_chunks(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<(Resource, MemberChunks)> {
        let snapshot = self.db.snapshot().await?;
        let group = group::Entity::find()
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(id))
            .one(&snapshot)
            .await?
            .ok_or(StoreError::NotFound)?;
        let chunks = MemberChunks {
            snapshot,
            tenant: tenant.clone(),
            group_id: group.id.clone(),
            after: String::new(),
            done: group.member_count == 0,
        };
        Ok((group.into(), chunks))
    }

    /// A page of the tenant's groups matching `query` (without members) and their members to
    /// read chunk by chunk ([`MemberChunks::start`] at each group), from one snapshot.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_groups_with_member_chunks(
        &self,
        tenant: &TenantId,
        registry: &SchemaRegistry,
        query: &ListQuery<'_>,
    ) -> StoreResult<(ListPage, MemberChunks)> {
        let snapshot = self.db.snapshot().await?;
        let page = list_groups(self, tenant, registry, query, Some(&snapshot)).await?;
        let chunks = MemberChunks {
            snapshot,
            tenant: tenant.clone(),
            group_id: String::new(),
            after: String::new(),
            done: true,
        };
        Ok((page, chunks))
    }
}

/// `SELECT member_id, member_type FROM group_members WHERE tenant_id = ? AND group_id = ? AND
/// member_id > ? ORDER BY member_id LIMIT ?`, rendered once: a range of the
/// `(tenant_id, group_id, member_id)` index, whatever the group's size. Every id is longer
/// than the empty string, so the first chunk starts after `""`.
pub(crate) fn chunk_statement(
    backend: DbBackend,
    tenant: &TenantId,
    group_id: &str,
    after: &str,
) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(
        backend,
        vec![
            tenant.as_str().into(),
            group_id.into(),
            after.into(),
            MEMBER_CHUNK.into(),
        ],
        || {
            backend.build(
                Query::select()
                    .columns([
                        group_member::Column::MemberId,
                        group_member::Column::MemberType,
                    ])
                    .from(group_member::Entity)
                    .and_where(group_member::Column::TenantId.eq(tenant.as_str()))
                    .and_where(group_member::Column::GroupId.eq(group_id))
                    .and_where(Expr::col(group_member::Column::MemberId).gt(after))
                    .order_by(group_member::Column::MemberId, sea_orm::Order::Asc)
                    .limit(MEMBER_CHUNK),
            )
        },
    )
}
