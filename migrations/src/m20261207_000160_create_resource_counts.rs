//! `resource_counts`: how many users and groups each tenant has, kept by the database itself
//! (issue 23, deep lists). An unfiltered list's `totalResults` was a `COUNT(*)` of the tenant's
//! rows on every page: ~95 ms at 1,000,000 users on SQLite, paid by each of the 10,000 pages of
//! an Okta import. Now it is a sum of a few rows.
//!
//! Triggers keep the counts, so that no path that inserts or deletes a user or a group (a
//! SCIM create, a delete, a tenant's deletion, a script's SQL) can forget to: `total` is the
//! number of rows, `changes` the number of inserts and deletes ever counted (it moves with every
//! one, so a reader can tell that nothing was added or removed between two reads).
//!
//! On PostgreSQL a tenant's counts are spread over 16 rows (`shard`, chosen by the server
//! process of the writing connection, `pg_backend_pid() % 16`): a row lock is held until its
//! transaction commits, and one row per tenant would make every create and delete of a tenant
//! wait for the one before it. Statement-level triggers with transition tables count a
//! statement's rows at once: a statement that inserts or deletes a million rows (a tenant's
//! deletion, a script's `INSERT … SELECT`) updates one row once. Row-level triggers were
//! tried: they cost half as much per one-row statement (+28 µs against +56 µs per `INSERT`),
//! but within one transaction every update of the same row walks the versions the earlier
//! ones left, so a million-row statement took quadratic time (a tenant's deletion would have
//! hung). SQLite updates a row in place: one row per tenant and kind, row-level triggers.
//!
//! The rows of a tenant are made with the tenant (trigger) and go with it (foreign key); the
//! counter triggers only `UPDATE`, so a tenant's deletion, which removes its users, groups and
//! counts in one statement, never recreates the counts it removes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Counter rows per tenant and kind on PostgreSQL.
const PG_SHARDS: i32 = 16;

const TABLE: &str = "CREATE TABLE resource_counts (
    tenant_id varchar(64) NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind varchar(8) NOT NULL,
    shard smallint NOT NULL,
    total bigint NOT NULL,
    changes bigint NOT NULL,
    PRIMARY KEY (tenant_id, kind, shard)
)";

fn sqlite_up() -> Vec<String> {
    let mut sql = vec![
        TABLE.to_owned(),
        "INSERT INTO resource_counts (tenant_id, kind, shard, total, changes)
         SELECT t.id, 'User', 0, (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id), 0
         FROM tenants t"
            .to_owned(),
        "INSERT INTO resource_counts (tenant_id, kind, shard, total, changes)
         SELECT t.id, 'Group', 0, (SELECT COUNT(*) FROM groups g WHERE g.tenant_id = t.id), 0
         FROM tenants t"
            .to_owned(),
        "CREATE TRIGGER trg_tenants_resource_counts AFTER INSERT ON tenants BEGIN
           INSERT INTO resource_counts (tenant_id, kind, shard, total, changes)
           VALUES (NEW.id, 'User', 0, 0, 0), (NEW.id, 'Group', 0, 0, 0);
         END"
        .to_owned(),
    ];
    for (table, kind) in [("users", "User"), ("groups", "Group")] {
        for (op, row, sign) in [("INSERT", "NEW", "+"), ("DELETE", "OLD", "-")] {
            sql.push(format!(
                "CREATE TRIGGER trg_{table}_count_{op} AFTER {op} ON {table} BEGIN
                   UPDATE resource_counts SET total = total {sign} 1, changes = changes + 1
                   WHERE tenant_id = {row}.tenant_id AND kind = '{kind}' AND shard = 0;
                 END",
                op = op.to_lowercase()
            ));
        }
    }
    sql
}

fn postgres_up() -> Vec<String> {
    let mut sql = vec![
        TABLE.to_owned(),
        format!(
            "INSERT INTO resource_counts (tenant_id, kind, shard, total, changes)
             SELECT t.id, k.kind, s.shard,
                    CASE WHEN s.shard = 0 AND k.kind = 'User'
                           THEN (SELECT COUNT(*) FROM users u WHERE u.tenant_id = t.id)
                         WHEN s.shard = 0
                           THEN (SELECT COUNT(*) FROM groups g WHERE g.tenant_id = t.id)
                         ELSE 0 END,
                    0
             FROM tenants t, (VALUES ('User'), ('Group')) AS k(kind),
                  generate_series(0, {}) AS s(shard)",
            PG_SHARDS - 1
        ),
        format!(
            "CREATE FUNCTION scimd_tenant_resource_counts() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               INSERT INTO resource_counts (tenant_id, kind, shard, total, changes)
               SELECT NEW.id, k.kind, s.shard, 0, 0
               FROM (VALUES ('User'), ('Group')) AS k(kind), generate_series(0, {}) AS s(shard);
               RETURN NULL;
             END $$",
            PG_SHARDS - 1
        ),
        "CREATE TRIGGER trg_tenants_resource_counts AFTER INSERT ON tenants
         FOR EACH ROW EXECUTE FUNCTION scimd_tenant_resource_counts()"
            .to_owned(),
    ];
    for (op, rows, sign) in [("insert", "added", "+"), ("delete", "removed", "-")] {
        sql.push(format!(
            "CREATE FUNCTION scimd_count_{op}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               UPDATE resource_counts c SET total = c.total {sign} d.n, changes = c.changes + d.n
               FROM (SELECT tenant_id, COUNT(*) AS n FROM {rows} GROUP BY tenant_id) d
               WHERE c.tenant_id = d.tenant_id AND c.kind = TG_ARGV[0]
                 AND c.shard = pg_backend_pid() % {PG_SHARDS};
               RETURN NULL;
             END $$"
        ));
        for (table, kind) in [("users", "User"), ("groups", "Group")] {
            let transition = if op == "insert" { "NEW" } else { "OLD" };
            sql.push(format!(
                "CREATE TRIGGER trg_{table}_count_{op} AFTER {} ON {table}
                 REFERENCING {transition} TABLE AS {rows}
                 FOR EACH STATEMENT EXECUTE FUNCTION scimd_count_{op}('{kind}')",
                op.to_uppercase()
            ));
        }
    }
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => postgres_up(),
            _ => sqlite_up(),
        };
        let db = manager.get_connection();
        for sql in statements {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let mut sql = Vec::new();
        for table in ["users", "groups"] {
            for op in ["insert", "delete"] {
                sql.push(format!(
                    "DROP TRIGGER IF EXISTS trg_{table}_count_{op}{}",
                    match manager.get_database_backend() {
                        DbBackend::Postgres => format!(" ON {table}"),
                        _ => String::new(),
                    }
                ));
            }
        }
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                sql.push("DROP TRIGGER IF EXISTS trg_tenants_resource_counts ON tenants".into());
                sql.push("DROP FUNCTION IF EXISTS scimd_count_insert()".into());
                sql.push("DROP FUNCTION IF EXISTS scimd_count_delete()".into());
                sql.push("DROP FUNCTION IF EXISTS scimd_tenant_resource_counts()".into());
            }
            _ => sql.push("DROP TRIGGER IF EXISTS trg_tenants_resource_counts".into()),
        }
        sql.push("DROP TABLE IF EXISTS resource_counts".into());
        for s in sql {
            db.execute_unprepared(&s).await?;
        }
        Ok(())
    }
}
