//! Group membership as a relation: resolving, inserting, removing and loading members, and a
//! user's groups. Large lists go in chunks so that no statement exceeds the backends' limits on
//! bound parameters.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use scim_model::{MemberInput, MemberRef, ResourceKind};
use sea_orm::{
    sea_query::{Alias, Expr, JoinType, OnConflict, Query, SelectStatement},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, Statement,
};

use scim_db::Prepared;

use crate::{
    entity::{group, group_member, user},
    StoreError, StoreResult, TenantId,
};

/// Rows per multi-row statement (4 parameters each; well under SQLite's 32,766).
const CHUNK: usize = 1000;

/// Decides each member's kind by looking it up in the tenant; unknown ids and a group that
/// would contain itself are refused.
pub(crate) async fn resolve<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
    wanted: &[MemberInput],
) -> StoreResult<Vec<(String, ResourceKind)>> {
    let mut users = HashSet::new();
    let mut groups = HashSet::new();
    for chunk in wanted.chunks(CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|m| m.value.as_str()).collect();
        let found: Vec<String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(user::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(db)
            .await?;
        users.extend(found);
        // Groups are looked for only among the ids that are no user (most members are users:
        // one statement, not two).
        let rest: Vec<&str> = ids.into_iter().filter(|id| !users.contains(*id)).collect();
        if rest.is_empty() {
            continue;
        }
        let found: Vec<String> = group::Entity::find()
            .select_only()
            .column(group::Column::Id)
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.is_in(rest))
            .into_tuple()
            .all(db)
            .await?;
        groups.extend(found);
    }
    wanted
        .iter()
        .map(|m| {
            if m.value == group_id {
                return Err(StoreError::InvalidValue(
                    "A group cannot be a member of itself".into(),
                ));
            }
            let kind = match m.kind {
                Some(ResourceKind::User) if users.contains(&m.value) => ResourceKind::User,
                Some(ResourceKind::Group) if groups.contains(&m.value) => ResourceKind::Group,
                None if users.contains(&m.value) => ResourceKind::User,
                None if groups.contains(&m.value) => ResourceKind::Group,
                _ => {
                    return Err(StoreError::InvalidValue(format!(
                        "Member '{}' does not exist",
                        m.value
                    )))
                }
            };
            Ok((m.value.clone(), kind))
        })
        .collect()
}

/// Adds resolved members to a group; members already there are left as they are. Returns
/// the ids added (`RETURNING` names only the rows inserted).
pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
    members: &[(String, ResourceKind)],
) -> StoreResult<Vec<String>> {
    let mut added = Vec::new();
    for chunk in members.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert
            .into_table(group_member::Entity)
            .columns([
                group_member::Column::TenantId,
                group_member::Column::GroupId,
                group_member::Column::MemberId,
                group_member::Column::MemberType,
            ])
            .on_conflict(
                OnConflict::columns([
                    group_member::Column::GroupId,
                    group_member::Column::MemberId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .returning_col(group_member::Column::MemberId);
        for (id, kind) in chunk {
            insert.values_panic([
                tenant.as_str().into(),
                group_id.into(),
                id.as_str().into(),
                kind.name().into(),
            ]);
        }
        let rows = db
            .query_all(db.get_database_backend().build(&insert))
            .await?;
        added.extend(ids_in(&rows)?);
    }
    Ok(added)
}

/// The `member_id` of each row.
fn ids_in(rows: &[QueryResult]) -> StoreResult<Vec<String>> {
    Ok(rows
        .iter()
        .map(|row| row.try_get::<String>("", "member_id"))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Removes the listed members of a group; returns the ids that were there.
pub(crate) async fn remove<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
    member_ids: &[String],
) -> StoreResult<Vec<String>> {
    let mut removed = Vec::new();
    for chunk in member_ids.chunks(CHUNK) {
        let delete = Query::delete()
            .from_table(group_member::Entity)
            .and_where(group_member::Column::TenantId.eq(tenant.as_str()))
            .and_where(group_member::Column::GroupId.eq(group_id))
            .and_where(group_member::Column::MemberId.is_in(chunk.iter().map(String::as_str)))
            .returning_col(group_member::Column::MemberId)
            .to_owned();
        let rows = db
            .query_all(db.get_database_backend().build(&delete))
            .await?;
        removed.extend(ids_in(&rows)?);
    }
    Ok(removed)
}

/// The ids of a group's members (what a replace of its member list compares against).
pub(crate) async fn member_ids_of<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(group_member::Entity::find()
        .select_only()
        .column(group_member::Column::MemberId)
        .filter(group_member::Column::TenantId.eq(tenant.as_str()))
        .filter(group_member::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Removes every member of a group (being deleted), without naming them.
pub(crate) async fn drop_all<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
) -> StoreResult<()> {
    group_member::Entity::delete_many()
        .filter(group_member::Column::TenantId.eq(tenant.as_str()))
        .filter(group_member::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes every member of a group; returns the ids that were there.
pub(crate) async fn clear<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_id: &str,
) -> StoreResult<Vec<String>> {
    let delete = Query::delete()
        .from_table(group_member::Entity)
        .and_where(group_member::Column::TenantId.eq(tenant.as_str()))
        .and_where(group_member::Column::GroupId.eq(group_id))
        .returning_col(group_member::Column::MemberId)
        .to_owned();
    let rows = db
        .query_all(db.get_database_backend().build(&delete))
        .await?;
    ids_in(&rows)
}

/// Removes `member_id` from every group holding it, moving those groups' versions on, and
/// returns those groups. The memberships go first and name the groups that held them
/// (`RETURNING`), so a member of no group costs one statement.
pub(crate) async fn remove_member_everywhere<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    member_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let stmt = remove_memberships_statement(db.get_database_backend(), tenant, member_id);
    let holders = db
        .query_all(stmt)
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "group_id"))
        .collect::<Result<Vec<_>, _>>()?;
    for chunk in holders.chunks(CHUNK) {
        group::Entity::update_many()
            .col_expr(
                group::Column::Version,
                Expr::col(group::Column::Version).add(1),
            )
            .col_expr(group::Column::LastModified, Expr::value(now))
            // Each holder lost exactly one row (the key is (group, member)).
            .col_expr(
                group::Column::MemberCount,
                Expr::col(group::Column::MemberCount).sub(1),
            )
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .exec(db)
            .await?;
    }
    Ok(holders)
}

/// `DELETE FROM group_members WHERE tenant_id = ? AND member_id = ? RETURNING group_id`,
/// rendered once.
pub(crate) fn remove_memberships_statement(
    backend: DbBackend,
    tenant: &TenantId,
    member_id: &str,
) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(
        backend,
        vec![tenant.as_str().into(), member_id.into()],
        || {
            backend.build(
                Query::delete()
                    .from_table(group_member::Entity)
                    .and_where(group_member::Column::TenantId.eq(tenant.as_str()))
                    .and_where(group_member::Column::MemberId.eq(member_id))
                    .returning_col(group_member::Column::GroupId),
            )
        },
    )
}

/// Members of each of `group_ids`, ordered by member id. One index range scan per group: no
/// join, so reading a large group costs only its member rows.
pub(crate) async fn members_of<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    group_ids: &[String],
) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
    let rows: Vec<(String, String, String)> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::GroupId)
        .column(group_member::Column::MemberId)
        .column(group_member::Column::MemberType)
        .filter(group_member::Column::TenantId.eq(tenant.as_str()))
        .filter(group_member::Column::GroupId.is_in(group_ids.iter().map(String::as_str)))
        .order_by_asc(group_member::Column::GroupId)
        .order_by_asc(group_member::Column::MemberId)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<String, Vec<MemberRef>> = HashMap::new();
    for (group_id, member_id, member_type) in rows {
        out.entry(group_id).or_default().push(MemberRef {
            value: member_id,
            kind: ResourceKind::parse(&member_type).unwrap_or(ResourceKind::User),
            display: None,
        });
    }
    Ok(out)
}

/// Direct groups of `member_id`, ordered by group id (the statement is rendered once).
pub(crate) async fn groups_of_one<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    member_id: &str,
) -> StoreResult<Vec<MemberRef>> {
    let stmt = groups_of_one_statement(db.get_database_backend(), tenant, member_id);
    let mut all = groups_rows(db.query_all(stmt).await?)?;
    Ok(all.remove(member_id).unwrap_or_default())
}

/// The statement of [`groups_of_one`], rendered once.
pub(crate) fn groups_of_one_statement(
    backend: DbBackend,
    tenant: &TenantId,
    member_id: &str,
) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(
        backend,
        vec![tenant.as_str().into(), member_id.into()],
        || backend.build(&groups_of_query(tenant, &[member_id.to_owned()])),
    )
}

/// PostgreSQL: a column of the user row of `"users"` in the same statement: the user's groups
/// as a JSON array of `[id, displayName]` pairs in group id order, `[]` for none (what
/// [`groups_of_one`] reads with a statement of its own: one round trip less; on SQLite, where
/// there is no round trip, SQLite's JSON aggregate cost ~8% more instructions than the second
/// statement). Read back with [`parse_groups_json`].
pub(crate) fn groups_json_column() -> sea_orm::sea_query::SimpleExpr {
    // The same join and index (ix_group_members_member) as groups_of_query.
    Expr::cust(
        "(SELECT COALESCE(json_agg(json_build_array(\"g\".\"id\", \"g\".\"display_name\") \
         ORDER BY \"gm\".\"group_id\"), '[]')::text FROM \"group_members\" AS \"gm\" \
         INNER JOIN \"groups\" AS \"g\" ON \"g\".\"id\" = \"gm\".\"group_id\" \
         WHERE \"gm\".\"tenant_id\" = \"users\".\"tenant_id\" \
         AND \"gm\".\"member_id\" = \"users\".\"id\")",
    )
}

/// The groups [`groups_json_column`] wrote.
pub(crate) fn parse_groups_json(text: &str) -> StoreResult<Vec<MemberRef>> {
    let pairs: Vec<(String, Option<String>)> = serde_json::from_str(text)
        .map_err(|e| StoreError::InvalidValue(format!("a user's groups: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(value, display)| MemberRef {
            value,
            kind: ResourceKind::Group,
            display,
        })
        .collect())
}

/// Direct groups of each of `member_ids`, ordered by group id.
pub(crate) async fn groups_of<C: ConnectionTrait>(
    db: &C,
    tenant: &TenantId,
    member_ids: &[String],
) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
    let stmt = groups_of_query(tenant, member_ids);
    groups_rows(db.query_all(db.get_database_backend().build(&stmt)).await?)
}

fn groups_rows(rows: Vec<QueryResult>) -> StoreResult<HashMap<String, Vec<MemberRef>>> {
    let mut out: HashMap<String, Vec<MemberRef>> = HashMap::new();
    for row in rows {
        let member_id: String = row.try_get("", "member_id")?;
        out.entry(member_id).or_default().push(MemberRef {
            value: row.try_get("", "group_id")?,
            kind: ResourceKind::Group,
            display: row.try_get("", "group_display")?,
        });
    }
    Ok(out)
}

pub(crate) fn groups_of_query(tenant: &TenantId, member_ids: &[String]) -> SelectStatement {
    let (gm, g) = (Alias::new("gm"), Alias::new("g"));
    Query::select()
        .expr_as(
            Expr::col((gm.clone(), group_member::Column::MemberId)),
            Alias::new("member_id"),
        )
        .expr_as(
            Expr::col((gm.clone(), group_member::Column::GroupId)),
            Alias::new("group_id"),
        )
        .expr_as(
            Expr::col((g.clone(), group::Column::DisplayName)),
            Alias::new("group_display"),
        )
        .from_as(group_member::Entity, gm.clone())
        .join_as(
            JoinType::InnerJoin,
            group::Entity,
            g.clone(),
            Expr::col((g, group::Column::Id)).equals((gm.clone(), group_member::Column::GroupId)),
        )
        .and_where(Expr::col((gm.clone(), group_member::Column::TenantId)).eq(tenant.as_str()))
        .and_where(
            Expr::col((gm.clone(), group_member::Column::MemberId))
                .is_in(member_ids.iter().map(String::as_str)),
        )
        // In the order of ix_group_members_member (each member's groups by id): the planner
        // then reads that index, never a scan of the tenant's memberships.
        .order_by(
            (gm.clone(), group_member::Column::MemberId),
            sea_orm::Order::Asc,
        )
        .order_by((gm, group_member::Column::GroupId), sea_orm::Order::Asc)
        .to_owned()
}

/// One member of a group as the console lists it: id, kind and its name (`userName` of a user,
/// `displayName` of a group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMember {
    /// The member's id.
    pub id: String,
    /// User or Group.
    pub kind: ResourceKind,
    /// `userName` or `displayName`; empty if the member vanished meanwhile.
    pub name: String,
}

impl crate::Store {
    /// The group's member count and a page of its members in id order, after the id `after`
    /// (keyset paging: the page costs what it holds, whatever the group's size), at most
    /// `limit`, with their names.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn group_members_page(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<(u64, Vec<NamedMember>)> {
        let count: i64 = group::Entity::find()
            .select_only()
            .column(group::Column::MemberCount)
            .filter(group::Column::TenantId.eq(tenant.as_str()))
            .filter(group::Column::Id.eq(group_id))
            .into_tuple()
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut page = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::MemberId)
            .column(group_member::Column::MemberType)
            .filter(group_member::Column::TenantId.eq(tenant.as_str()))
            .filter(group_member::Column::GroupId.eq(group_id))
            .order_by_asc(group_member::Column::MemberId)
            .limit(limit);
        if let Some(after) = after {
            page = page.filter(group_member::Column::MemberId.gt(after));
        }
        let rows: Vec<(String, String)> = page.into_tuple().all(&self.db.scan()).await?;
        let user_ids: Vec<&str> = rows
            .iter()
            .filter(|(_, t)| t == ResourceKind::User.name())
            .map(|(id, _)| id.as_str())
            .collect();
        let group_ids: Vec<&str> = rows
            .iter()
            .filter(|(_, t)| t == ResourceKind::Group.name())
            .map(|(id, _)| id.as_str())
            .collect();
        let mut names: HashMap<String, String> = HashMap::new();
        if !user_ids.is_empty() {
            let found: Vec<(String, String)> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::UserName)
                .filter(user::Column::TenantId.eq(tenant.as_str()))
                .filter(user::Column::Id.is_in(user_ids))
                .into_tuple()
                .all(&self.db)
                .await?;
            names.extend(found);
        }
        if !group_ids.is_empty() {
            let found: Vec<(String, String)> = group::Entity::find()
                .select_only()
                .column(group::Column::Id)
                .column(group::Column::DisplayName)
                .filter(group::Column::TenantId.eq(tenant.as_str()))
                .filter(group::Column::Id.is_in(group_ids))
                .into_tuple()
                .all(&self.db)
                .await?;
            names.extend(found);
        }
        let members = rows
            .into_iter()
            .map(|(id, kind)| NamedMember {
                name: names.remove(&id).unwrap_or_default(),
                kind: ResourceKind::parse(&kind).unwrap_or(ResourceKind::User),
                id,
            })
            .collect();
        Ok((u64::try_from(count).unwrap_or(0), members))
    }
}
