//! Each prepared statement of the store ([`scim_db::Prepared`]), used again with other values,
//! equals a fresh rendering with those values.
#![cfg(test)]

use sea_orm::{
    sea_query::Query, ColumnTrait, Condition, DbBackend, EntityTrait, JoinType, QueryFilter,
    QuerySelect, QueryTrait, RelationTrait,
};

use crate::{
    api_keys::key_and_switch_statement,
    entity::{api_key, group_member, tenant, user},
    member_chunks::{chunk_statement, MEMBER_CHUNK},
    members::{groups_of_one_statement, remove_memberships_statement},
    stored::stored_columns,
    users::{delete_user_statement, find_user_statement, lock_user_statement},
    TenantId,
};

const BACKENDS: [DbBackend; 2] = [DbBackend::Sqlite, DbBackend::Postgres];

/// Each prepared statement, used again with other values, equals a fresh rendering with
/// those values (the first call renders; the later ones reuse the text).
#[test]
fn reused_statements_equal_fresh_renderings() {
    for backend in BACKENDS {
        for (t, id) in [("t1", "u1"), ("tenant-2", "u'2\\"), ("t3", "")] {
            let tenant = TenantId::new(t.to_owned());
            let model = user::Model {
                id: id.to_owned(),
                tenant_id: t.to_owned(),
                user_name: format!("{id}@{t}").to_uppercase(),
                user_name_lower: format!("{id}@{t}").to_lowercase(),
                external_id: (!id.is_empty()).then(|| format!("x-{id}")),
                display_name: None,
                active: id.len() % 2 == 0,
                attributes: serde_json::json!({"userName": id, "n": t.len()}),
                version: 1,
                created_at: chrono::DateTime::from_timestamp(
                    1_800_000_000 + i64::from(id.len() == 2),
                    7,
                )
                .expect("a time"),
                last_modified: chrono::DateTime::from_timestamp(1_800_000_100, 0).expect("a time"),
            };
            let fresh = backend.build(
                &user::Entity::insert(crate::users::active_model_for_tests(&model)).into_query(),
            );
            assert_eq!(crate::users::insert_user_statement(backend, &model), fresh);

            let fresh = stored_columns(user::Entity::find())
                .filter(user::Column::TenantId.eq(t))
                .filter(user::Column::Id.eq(id))
                .build(backend);
            assert_eq!(find_user_statement(backend, &tenant, id), fresh);
            if backend == DbBackend::Postgres {
                let fresh = stored_columns(user::Entity::find())
                    .filter(user::Column::TenantId.eq(t))
                    .filter(user::Column::Id.eq(id))
                    .expr(crate::members::groups_json_column())
                    .build(backend);
                assert_eq!(
                    crate::users::find_user_with_groups_statement(&tenant, id),
                    fresh
                );
            }
            if backend == DbBackend::Postgres {
                let fresh = stored_columns(user::Entity::find())
                    .filter(user::Column::TenantId.eq(t))
                    .filter(user::Column::Id.eq(id))
                    .lock_exclusive()
                    .build(backend);
                assert_eq!(lock_user_statement(backend, &tenant, id), fresh);
            }

            let fresh = stored_columns(crate::entity::group::Entity::find())
                .filter(crate::entity::group::Column::TenantId.eq(t))
                .filter(crate::entity::group::Column::Id.eq(id))
                .build(backend);
            assert_eq!(
                crate::groups::find_group_statement(backend, &tenant, id),
                fresh
            );

            let fresh = backend.build(&crate::members::groups_of_query(&tenant, &[id.to_owned()]));
            assert_eq!(groups_of_one_statement(backend, &tenant, id), fresh);

            let fresh = api_key::Entity::find()
                .filter(
                    Condition::any()
                        .add(api_key::Column::TokenHash.eq(id))
                        .add(api_key::Column::PreviousTokenHash.eq(id)),
                )
                .join(JoinType::InnerJoin, api_key::Relation::Tenant.def())
                .column_as(tenant::Column::ScimCustomAttributes, "t_custom_attributes")
                .column_as(tenant::Column::CustomSchemaTag, "t_schema_tag")
                .column_as(tenant::Column::EventsFullData, "t_events_full")
                .build(backend);
            assert_eq!(key_and_switch_statement(backend, id), fresh);

            let fresh = backend.build(
                Query::delete()
                    .from_table(user::Entity)
                    .and_where(user::Column::TenantId.eq(t))
                    .and_where(user::Column::Id.eq(id))
                    .returning(
                        Query::returning()
                            .columns([user::Column::ExternalId, user::Column::Version]),
                    ),
            );
            assert_eq!(delete_user_statement(backend, &tenant, id), fresh);

            let fresh = backend.build(
                Query::delete()
                    .from_table(group_member::Entity)
                    .and_where(group_member::Column::TenantId.eq(t))
                    .and_where(group_member::Column::MemberId.eq(id))
                    .returning_col(group_member::Column::GroupId),
            );
            assert_eq!(remove_memberships_statement(backend, &tenant, id), fresh);

            let fresh = backend.build(
                Query::select()
                    .columns([
                        group_member::Column::MemberId,
                        group_member::Column::MemberType,
                    ])
                    .from(group_member::Entity)
                    .and_where(group_member::Column::TenantId.eq(t))
                    .and_where(group_member::Column::GroupId.eq("g1"))
                    .and_where(sea_orm::sea_query::Expr::col(group_member::Column::MemberId).gt(id))
                    .order_by(group_member::Column::MemberId, sea_orm::Order::Asc)
                    .limit(MEMBER_CHUNK),
            );
            assert_eq!(chunk_statement(backend, &tenant, "g1", id), fresh);
        }
    }
}

/// The PATCH `UPDATE` of a user, with new values, equals a fresh rendering.
#[test]
fn reused_patch_update_equals_fresh_rendering() {
    let registry = scim_model::SchemaRegistry::core().unwrap();
    let now = chrono::Utc::now();
    for backend in BACKENDS {
        for (i, body) in [
            serde_json::json!({"userName": "a", "active": false}),
            serde_json::json!({"userName": "B", "externalId": "x", "displayName": "d"}),
        ]
        .iter()
        .enumerate()
        {
            let input =
                scim_model::validate_resource(&registry, scim_model::ResourceKind::User, body)
                    .unwrap();
            let id = format!("id-{i}");
            let fresh = crate::users::update_attributes(&input, now)
                .unwrap()
                .filter(user::Column::Id.eq(id.as_str()))
                .build(backend);
            let reused = crate::users::patch_statement(backend, &input, now, &id).unwrap();
            assert_eq!(reused, fresh);

            let tenant = TenantId::new(format!("t{i}"));
            let version = 7 + i64::try_from(i).unwrap();
            let fresh = crate::users::update_attributes(&input, now)
                .unwrap()
                .filter(user::Column::TenantId.eq(tenant.as_str()))
                .filter(user::Column::Id.eq(id.as_str()))
                .filter(user::Column::Version.eq(version))
                .build(backend);
            let reused = crate::users::patch_if_version_statement(
                backend,
                &input,
                now,
                (&tenant, &id),
                version,
            )
            .unwrap();
            assert_eq!(reused, fresh);
        }
    }
}
