//! Users: create, read, replace, patch and delete, scoped to a tenant.

use chrono::{DateTime, Utc};
use scim_model::{resource::StoredResource, Resource, ResourceKind, ValidatedResource};
use sea_orm::{
    sea_query::{Expr, Query},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    Set, Statement, UpdateMany,
};

use scim_db::{Prepared, ReadRows};

use crate::events::{capture_written, rule_only, Capture, Written};
use crate::settings::{write_ignored_notes, IgnoredNote};
use crate::stored::{stored_columns, StoredRow, StoredWithText};
use crate::{audit::begin_write, entity::user, members, Store, StoreError, StoreResult, TenantId};

/// Unique indexes of `users` and the attribute each protects.
pub(crate) const UNIQUE: &[(&str, &str)] = &[("user_name", "userName")];

struct Shadow {
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    active: bool,
}

fn shadow(input: &ValidatedResource) -> StoreResult<Shadow> {
    let user_name = input
        .str_attr("userName")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| StoreError::InvalidValue("userName must not be empty".into()))?;
    Ok(Shadow {
        user_name: user_name.to_owned(),
        external_id: input.str_attr("externalId").map(str::to_owned),
        display_name: input.str_attr("displayName").map(str::to_owned),
        active: input.bool_attr("active").unwrap_or(true),
    })
}

/// `UPDATE users SET <attributes and shadows>, version + 1` for `input`.
pub(crate) fn update_attributes(
    input: &ValidatedResource,
    now: DateTime<Utc>,
) -> StoreResult<UpdateMany<user::Entity>> {
    Ok(update_with(shadow(input)?, input, now))
}

fn update_with(
    s: Shadow,
    input: &ValidatedResource,
    now: DateTime<Utc>,
) -> UpdateMany<user::Entity> {
    user::Entity::update_many()
        .col_expr(
            user::Column::UserNameLower,
            Expr::value(s.user_name.to_lowercase()),
        )
        .col_expr(user::Column::UserName, Expr::value(s.user_name))
        .col_expr(user::Column::ExternalId, Expr::value(s.external_id))
        .col_expr(user::Column::DisplayName, Expr::value(s.display_name))
        .col_expr(user::Column::Active, Expr::value(s.active))
        .col_expr(
            user::Column::Attributes,
            Expr::value(serde_json::Value::Object(input.attributes.clone())),
        )
        .col_expr(
            user::Column::Version,
            Expr::col(user::Column::Version).add(1),
        )
        .col_expr(user::Column::LastModified, Expr::value(now))
}

/// `query` narrowed to user `id` of `tenant`.
fn user_of<Q: QueryFilter>(query: Q, tenant: &TenantId, id: &str) -> Q {
    query
        .filter(user::Column::TenantId.eq(tenant.as_str()))
        .filter(user::Column::Id.eq(id))
}

/// `SELECT <stored columns> FROM users WHERE tenant_id = ? AND id = ?` (read as a
/// [`StoredRow`]), rendered once.
pub(crate) fn find_user_statement(backend: DbBackend, tenant: &TenantId, id: &str) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![tenant.as_str().into(), id.into()], || {
        user_of(stored_columns(user::Entity::find()), tenant, id).build(backend)
    })
}

/// PostgreSQL: [`find_user_statement`] with the user's groups as a sixth column
/// (`members::groups_json_column`, read as a [`StoredWithText`]), rendered once.
pub(crate) fn find_user_with_groups_statement(tenant: &TenantId, id: &str) -> Statement {
    static SQL: Prepared = Prepared::new();
    let backend = DbBackend::Postgres;
    SQL.statement(backend, vec![tenant.as_str().into(), id.into()], || {
        user_of(stored_columns(user::Entity::find()), tenant, id)
            .expr(members::groups_json_column())
            .build(backend)
    })
}

/// [`find_user_statement`] `FOR UPDATE` (PostgreSQL: the row lock of a PATCH), rendered once.
pub(crate) fn lock_user_statement(backend: DbBackend, tenant: &TenantId, id: &str) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![tenant.as_str().into(), id.into()], || {
        user_of(stored_columns(user::Entity::find()), tenant, id)
            .lock_exclusive()
            .build(backend)
    })
}

/// Every column of `model`, set.
fn active_model(model: &user::Model) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(model.id.clone()),
        tenant_id: Set(model.tenant_id.clone()),
        user_name: Set(model.user_name.clone()),
        user_name_lower: Set(model.user_name_lower.clone()),
        external_id: Set(model.external_id.clone()),
        display_name: Set(model.display_name.clone()),
        active: Set(model.active),
        attributes: Set(model.attributes.clone()),
        version: Set(model.version),
        created_at: Set(model.created_at),
        last_modified: Set(model.last_modified),
    }
}

#[cfg(test)]
pub(crate) fn active_model_for_tests(model: &user::Model) -> user::ActiveModel {
    active_model(model)
}

/// `INSERT INTO users (<every column>) VALUES (...)` of `model`, rendered once (sea-orm's
/// insert rendered it on every create and, on SQLite, read the row back).
pub(crate) fn insert_user_statement(backend: DbBackend, model: &user::Model) -> Statement {
    static SQL: Prepared = Prepared::new();
    // The columns in the entity's order, as sea-orm's insert lists them.
    let values = vec![
        model.id.clone().into(),
        model.tenant_id.clone().into(),
        model.user_name.clone().into(),
        model.user_name_lower.clone().into(),
        model.external_id.clone().into(),
        model.display_name.clone().into(),
        model.active.into(),
        model.attributes.clone().into(),
        model.version.into(),
        model.created_at.into(),
        model.last_modified.into(),
    ];
    SQL.statement(backend, values, || {
        backend.build(&user::Entity::insert(active_model(model)).into_query())
    })
}

/// `DELETE FROM users WHERE tenant_id = ? AND id = ? RETURNING external_id, version`,
/// rendered once.
pub(crate) fn delete_user_statement(backend: DbBackend, tenant: &TenantId, id: &str) -> Statement {
    static SQL: Prepared = Prepared::new();
    SQL.statement(backend, vec![tenant.as_str().into(), id.into()], || {
        backend.build(
            Query::delete()
                .from_table(user::Entity)
                .and_where(user::Column::TenantId.eq(tenant.as_str()))
                .and_where(user::Column::Id.eq(id))
                .returning(
                    Query::returning().columns([user::Column::ExternalId, user::Column::Version]),
                ),
        )
    })
}

/// PostgreSQL: user `id` of `tenant` (at `expected`, when given) and its memberships deleted in
/// one statement, answering the row's `external_id`, its `version` and the groups it left as a
/// JSON array (`left`, in group id order); no row when the user was not there (or not at that
/// version). One round trip instead of two.
pub(crate) fn delete_user_and_memberships_statement(
    tenant: &TenantId,
    id: &str,
    expected: Option<i64>,
) -> Statement {
    static ANY: Prepared = Prepared::new();
    static AT_VERSION: Prepared = Prepared::new();
    let sql = |version: &str| {
        format!(
            "WITH \"d\" AS (DELETE FROM \"users\" WHERE \"tenant_id\" = $1 AND \"id\" = $2{version} \
             RETURNING \"external_id\", \"version\"), \
             \"m\" AS (DELETE FROM \"group_members\" WHERE \"tenant_id\" = $1 \
             AND \"member_id\" = $2 AND EXISTS (SELECT 1 FROM \"d\") RETURNING \"group_id\") \
             SELECT \"d\".\"external_id\", \"d\".\"version\", \
             COALESCE((SELECT json_agg(\"m\".\"group_id\" ORDER BY \"m\".\"group_id\")::text \
             FROM \"m\"), '[]') AS \"left\" FROM \"d\""
        )
    };
    let backend = DbBackend::Postgres;
    let mut values = vec![tenant.as_str().into(), id.into()];
    match expected {
        None => ANY.statement_from(backend, values, |values| {
            Statement::from_sql_and_values(backend, sql(""), values.to_vec())
        }),
        Some(v) => {
            values.push(v.into());
            AT_VERSION.statement_from(backend, values, |values| {
                let sql = sql(" AND \"version\" = $3");
                Statement::from_sql_and_values(backend, sql, values.to_vec())
            })
        }
    }
}

/// PostgreSQL: the groups of `tenant` named in `left` (a JSON array of ids) each lost one
/// member: version, `lastModified` at `now`, member count.
fn groups_lost_a_member_statement(tenant: &TenantId, left: &str, now: DateTime<Utc>) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE \"groups\" SET \"version\" = \"version\" + 1, \"last_modified\" = $1, \
         \"member_count\" = \"member_count\" - 1 WHERE \"tenant_id\" = $2 \
         AND \"id\" IN (SELECT json_array_elements_text($3::json))",
        [now.into(), tenant.as_str().into(), left.into()],
    )
}

/// The `UPDATE` of a PATCH: [`update_attributes`] of row `id` (locked by the transaction),
/// rendered once per backend.
pub(crate) fn patch_statement(
    backend: DbBackend,
    input: &ValidatedResource,
    now: DateTime<Utc>,
    id: &str,
) -> StoreResult<Statement> {
    static SQL: Prepared = Prepared::new();
    let s = shadow(input)?;
    let mut values = set_values(&s, input, now);
    values.push(id.into());
    Ok(SQL.statement(backend, values, || {
        update_with(s, input, now)
            .filter(user::Column::Id.eq(id))
            .build(backend)
    }))
}

/// The values of [`update_with`]'s `SET`, in its order (the version's increment included).
fn set_values(s: &Shadow, input: &ValidatedResource, now: DateTime<Utc>) -> Vec<sea_orm::Value> {
    vec![
        s.user_name.to_lowercase().into(),
        s.user_name.clone().into(),
        s.external_id.clone().into(),
        s.display_name.clone().into(),
        s.active.into(),
        serde_json::Value::Object(input.attributes.clone()).into(),
        1i32.into(),
        now.into(),
    ]
}

/// [`patch_statement`] that writes only while user `id` of `tenant` is still at `version`
/// (a PATCH read without a lock: none affected means another write came between), rendered
/// once.
pub(crate) fn patch_if_version_statement(
    backend: DbBackend,
    input: &ValidatedResource,
    now: DateTime<Utc>,
    (tenant, id): (&TenantId, &str),
    version: i64,
) -> StoreResult<Statement> {
    static SQL: Prepared = Prepared::new();
    let s = shadow(input)?;
    let mut values = set_values(&s, input, now);
    values.extend([tenant.as_str().into(), id.into(), version.into()]);
    Ok(SQL.statement(backend, values, || {
        user_of(update_with(s, input, now), tenant, id)
            .filter(user::Column::Version.eq(version))
            .build(backend)
    }))
}

impl Store {
    /// Creates a user; a taken `userName` (any case) or `externalId` is a conflict.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_user(
        &self,
        tenant: &TenantId,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        let s = shadow(input)?;
        let id = uuid::Uuid::now_v7().to_string();
        let external_id = s.external_id.clone();
        let model = user::Model {
            id: id.clone(),
            tenant_id: tenant.as_str().to_owned(),
            user_name_lower: s.user_name.to_lowercase(),
            user_name: s.user_name,
            external_id: s.external_id,
            display_name: s.display_name,
            active: s.active,
            attributes: serde_json::Value::Object(input.attributes.clone()),
            version: 1,
            created_at: now,
            last_modified: now,
        };
        let backend = self.db.get_database_backend();
        let written = Written {
            kind: ResourceKind::User,
            id: &id,
            before: None,
            after: Some(&input.attributes),
            external_id: external_id.as_deref(),
            version: 1,
            added: &[],
            removed: &[],
            left: &[],
        };
        let writes_events = capture.filter(|c| c.write);
        // PostgreSQL, one event and no audit note (the usual create): the row and its event in
        // one statement.
        if let (Some(c), true, DbBackend::Postgres) = (writes_events, notes.is_empty(), backend) {
            if let [event] = c.events(&written).as_slice() {
                let insert =
                    backend.build(&user::Entity::insert(active_model(&model)).into_query());
                let stmt = crate::events::with_event(insert, tenant, c.origin, event, now)?;
                self.db
                    .execute(stmt)
                    .await
                    .map_err(|e| StoreError::from_write(e, UNIQUE))?;
                // What the row holds, without reading it back.
                let mut res: Resource = model.into();
                res.groups = Some(Vec::new());
                return Ok(res);
            }
        }
        // One statement; a transaction only when audit or provisioning events go with it. The
        // row is not read back: the answer is what was written.
        let insert = insert_user_statement(backend, &model);
        if notes.is_empty() && writes_events.is_none() {
            let inserted = self.db.execute(insert).await;
            if inserted.is_ok() {
                rule_only(capture, &written);
            }
            inserted
        } else {
            let txn = begin_write(&self.db).await?;
            let inserted = txn.execute(insert).await;
            if inserted.is_ok() {
                write_ignored_notes(&txn, tenant, notes, now).await?;
                capture_written(&txn, tenant, capture, written, now).await?;
                txn.commit().await?;
            }
            inserted
        }
        .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        let mut res: Resource = model.into();
        res.groups = Some(Vec::new());
        Ok(res)
    }

    async fn find_user(&self, tenant: &TenantId, id: &str) -> StoreResult<StoredResource> {
        let stmt = find_user_statement(self.db.get_database_backend(), tenant, id);
        let row: Option<StoredRow> = self.db.read_one(stmt).await?;
        Ok(row
            .ok_or(StoreError::NotFound)?
            .into_stored(ResourceKind::User))
    }

    /// The user `id` of `tenant`, with its groups when `with_groups`.
    pub async fn get_user(
        &self,
        tenant: &TenantId,
        id: &str,
        with_groups: bool,
    ) -> StoreResult<Resource> {
        self.get_user_stored(tenant, id, with_groups)
            .await
            .and_then(|res| Ok(crate::stored::parsed(res)?))
    }

    /// [`Store::get_user`] with the attributes left as their stored JSON text.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn get_user_stored(
        &self,
        tenant: &TenantId,
        id: &str,
        with_groups: bool,
    ) -> StoreResult<StoredResource> {
        let backend = self.db.get_database_backend();
        if !with_groups || backend != DbBackend::Postgres {
            // SQLite: no round trip to save, and two prepared statements cost ~8% fewer
            // instructions than one with the groups' JSON aggregate (callgrind).
            let mut res = self.find_user(tenant, id).await?;
            if with_groups {
                res.groups = Some(members::groups_of_one(&self.db, tenant, &res.id).await?);
            }
            return Ok(res);
        }
        let stmt = find_user_with_groups_statement(tenant, id);
        let row: Option<StoredWithText> = self.db.read_one(stmt).await?;
        let StoredWithText(row, groups) = row.ok_or(StoreError::NotFound)?;
        let mut res = row.into_stored(ResourceKind::User);
        res.groups = Some(members::parse_groups_json(&groups)?);
        Ok(res)
    }

    /// Replaces the user's attributes (PUT); `id`, `meta.created` and memberships stay. The
    /// write happens only if the user is still at the version of `current` (what the caller
    /// read and based `input` on): otherwise [`StoreError::PreconditionFailed`].
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn replace_user(
        &self,
        tenant: &TenantId,
        current: &Resource,
        input: &ValidatedResource,
        notes: &[IgnoredNote],
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Resource> {
        let id = current.id.as_str();
        let update = update_attributes(input, now)?
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::Version.eq(current.version));
        let written = Written::user_change(current, input);
        // One statement; a transaction only when audit or provisioning events go with it.
        let updated = if notes.is_empty() && !capture.is_some_and(|c| c.write) {
            let updated = update.exec(&self.db).await;
            if updated.as_ref().is_ok_and(|u| u.rows_affected > 0) {
                rule_only(capture, &written);
            }
            updated
        } else {
            let txn = begin_write(&self.db).await?;
            let updated = update.exec(&txn).await;
            if updated.as_ref().is_ok_and(|u| u.rows_affected > 0) {
                write_ignored_notes(&txn, tenant, notes, now).await?;
                capture_written(&txn, tenant, capture, written, now).await?;
                txn.commit().await?;
            }
            updated
        }
        .map_err(|e| StoreError::from_write(e, UNIQUE))?;
        if updated.rows_affected == 0 {
            return Err(self.missing_or_changed_user(tenant, id).await);
        }
        self.get_user(tenant, id, true).await
    }

    /// Deletes the user and its memberships (the groups' versions move on).
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &str,
        expected: Option<i64>,
        capture: Option<Capture<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            let stmt = delete_user_and_memberships_statement(tenant, id, expected);
            let Some(row) = txn.query_one(stmt).await? else {
                drop(txn);
                return Err(self.missing_or_changed_user(tenant, id).await);
            };
            let external_id: Option<String> = row.try_get("", "external_id")?;
            let version: i64 = row.try_get("", "version")?;
            let left_json: String = row.try_get("", "left")?;
            let left: Vec<String> = serde_json::from_str(&left_json)
                .map_err(|e| StoreError::InvalidValue(format!("the groups a user left: {e}")))?;
            let written = Written::deleted(
                ResourceKind::User,
                id,
                external_id.as_deref(),
                version,
                &left,
            );
            // The groups it left are moved last, with its event when it has one: a large
            // group's row lock (every delete of a member takes it) is held for that statement
            // and the COMMIT only.
            let groups =
                (!left.is_empty()).then(|| groups_lost_a_member_statement(tenant, &left_json, now));
            let event = capture.and_then(|c| {
                let list = c.events(&written);
                c.write.then_some((list, c.origin))
            });
            let one = event
                .as_ref()
                .and_then(|(list, origin)| match list.as_slice() {
                    [event] => Some((event, *origin)),
                    _ => None,
                });
            match (groups, one) {
                (Some(groups), Some((event, origin))) => {
                    let stmt = crate::events::event_after(groups, tenant, origin, event, now)?;
                    txn.execute(stmt).await?;
                }
                (groups, _) => {
                    if let Some(groups) = groups {
                        txn.execute(groups).await?;
                    }
                    if let Some((list, origin)) = &event {
                        crate::events::capture(&txn, tenant, origin, list, now).await?;
                    }
                }
            }
            txn.commit().await?;
            return Ok(());
        }
        let stmt = match expected {
            None => delete_user_statement(backend, tenant, id),
            Some(v) => backend.build(
                Query::delete()
                    .from_table(user::Entity)
                    .and_where(user::Column::TenantId.eq(tenant.as_str()))
                    .and_where(user::Column::Id.eq(id))
                    .and_where(user::Column::Version.eq(v))
                    .returning(
                        Query::returning()
                            .columns([user::Column::ExternalId, user::Column::Version]),
                    ),
            ),
        };
        let Some(row) = txn.query_one(stmt).await? else {
            drop(txn);
            return Err(self.missing_or_changed_user(tenant, id).await);
        };
        let external_id: Option<String> = row.try_get("", "external_id")?;
        let version: i64 = row.try_get("", "version")?;
        let left = members::remove_member_everywhere(&txn, tenant, id, now).await?;
        let written = Written::deleted(
            ResourceKind::User,
            id,
            external_id.as_deref(),
            version,
            &left,
        );
        capture_written(&txn, tenant, capture, written, now).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn missing_or_changed_user(&self, tenant: &TenantId, id: &str) -> StoreError {
        match self.find_user(tenant, id).await {
            Ok(_) => StoreError::PreconditionFailed,
            Err(e) => e,
        }
    }
}
