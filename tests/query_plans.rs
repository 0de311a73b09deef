//! The plans SQLite's planner (no statistics) picks for the lookups every sync sends, on the
//! schema the migrations build. The statements have the store's shape for a list with a filter
//! (`WHERE tenant_id = ? AND <column> = ? ORDER BY id LIMIT ? OFFSET ?`): each must search an
//! index on the tenant and the looked-up column, never walk the whole tenant in `id` order
//! (which is what `externalId` lookups did once its index stopped being unique: 12–40 ms per
//! lookup at 5,000 users, docs/PERFORMANCE.md).

use crate::common::{spawn, Backend};

#[actix_web::test]
async fn lookups_search_the_index_of_their_column() {
    let app = spawn(Backend::Sqlite).await;
    let path = app.sqlite_path().expect("a SQLite database");
    let conn = rusqlite::Connection::open(path).unwrap();
    for (table, column, index) in [
        ("users", "external_id", "ix_users_tenant_external_id"),
        ("users", "user_name_lower", "ux_users_tenant_user_name"),
        ("users", "id", "sqlite_autoindex_users_1"),
        ("groups", "external_id", "ix_groups_tenant_external_id"),
        (
            "groups",
            "display_name_lower",
            "ux_groups_tenant_display_name",
        ),
    ] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {table}.tenant_id = ? AND \
             {table}.\"{column}\" = ? ORDER BY {table}.id ASC LIMIT 2 OFFSET 0"
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(["acme", "x"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(
            plan.contains(&format!("USING INDEX {index}"))
                || plan.contains(&format!("USING COVERING INDEX {index}"))
                || (column == "id" && plan.contains("USING INDEX sqlite_autoindex")),
            "{table}.{column}: {plan}"
        );
        assert!(
            plan.contains(&format!("{column}=?")) || column == "id",
            "{table}.{column} not searched by value: {plan}"
        );
    }

    // A chunk of a group's members (a streamed group, scim_store::MemberChunks) is a range of
    // the group's index after the last id sent, never a scan of the tenant's memberships.
    let mut stmt = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT \"member_id\", \"member_type\" FROM \"group_members\" \
             WHERE \"tenant_id\" = ? AND \"group_id\" = ? AND \"member_id\" > ? \
             ORDER BY \"member_id\" ASC LIMIT ?",
        )
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(rusqlite::params!["acme", "g", "", 2000], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join(" | ");
    assert!(
        plan.contains("ix_group_members_group (tenant_id=? AND group_id=? AND member_id>?)")
            && !plan.contains("TEMP B-TREE"),
        "a chunk of members: {plan}"
    );
}
