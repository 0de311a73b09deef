//! Activity records are written a batch per row, and counted per minute (issue 21, what
//! recording costs).
//!
//! A record was one row of `activity_records`: ~28,000–34,000 instructions on SQLite (the
//! b-tree insert with its page splits, the resource index, binding ten values), a quarter of a
//! `GET /Users/{id}`. Now:
//! - `activity_batches` holds what one writer wrote for one tenant in one flush: the records
//!   as one JSON array (`records`), the lowest and highest record id (`oldest_id`,
//!   `newest_id`, the key with the tenant), how many records and how many failed, and the
//!   actors and resource ids named (each between spaces), so that a read by key, by
//!   resource or of failures skips the batches that cannot hold what it wants without
//!   decoding them;
//! - `activity_counts` holds requests per tenant, minute, actor, status and `scimType`, added
//!   to once per batch: the summary's counts without reading records.
//!
//! scimd writes a record's fields under short names (`t` its time in nanoseconds, `rq` the
//! request id, `ak` the actor kind, …: see `scim_store::activity::batch`); the records moved
//! here keep the long names of the packed table's `details`, and reads know both.
//!
//! The records there are moved over, one batch each; `down` moves them back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A record of the packed table as a JSON object of the batch format, in each backend's SQL.
fn record_object(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "(\"details\"::jsonb || jsonb_build_object('id', \"id\", 'actorKind', \
             \"actor_kind\", 'actor', \"actor\", 'method', \"method\", 'resourceId', \
             \"resource_id\", 'status', \"status\", 'scimType', \"scim_type\", 'hasBody', \
             \"has_body\"))::text"
        }
        _ => {
            "json_set(\"details\", '$.id', \"id\", '$.actorKind', \"actor_kind\", '$.actor', \
             \"actor\", '$.method', \"method\", '$.resourceId', \"resource_id\", '$.status', \
             \"status\", '$.scimType', \"scim_type\", '$.hasBody', \
             json(CASE WHEN \"has_body\" THEN 'true' ELSE 'false' END))"
        }
    }
}

/// The minute (since the epoch) of a packed record, from its `details`.
fn minute_of_record(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "COALESCE((\"details\"::jsonb ->> 'timeNs')::bigint / 60000000000, \
             floor(extract(epoch from (\"details\"::jsonb ->> 'time')::timestamptz) / 60)::bigint)"
        }
        _ => {
            "COALESCE(json_extract(\"details\", '$.timeNs') / 60000000000, \
             CAST(strftime('%s', json_extract(\"details\", '$.time')) AS INTEGER) / 60)"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        let counts_rowid = match backend {
            DbBackend::Postgres => "",
            _ => " WITHOUT ROWID",
        };
        // A batch is a large row: SQLite keeps it in a table with a rowid (a row without one
        // is stored whole in its key's b-tree, which suits small rows only).
        db.execute_unprepared(
            "CREATE TABLE \"activity_batches\" ( \"tenant_id\" varchar(64) NOT NULL, \
             \"newest_id\" varchar(36) NOT NULL, \"oldest_id\" varchar(36) NOT NULL, \
             \"size\" integer NOT NULL, \"failed\" integer NOT NULL, \"actors\" text NOT NULL, \
             \"resources\" text NOT NULL, \"records\" text NOT NULL, \
             PRIMARY KEY (\"tenant_id\", \"newest_id\") )",
        )
        .await?;
        db.execute_unprepared(&format!(
            "CREATE TABLE \"activity_counts\" ( \"tenant_id\" varchar(64) NOT NULL, \
             \"minute\" bigint NOT NULL, \"actor_kind\" varchar(16) NOT NULL, \
             \"actor\" text NOT NULL, \"status\" integer NOT NULL, \
             \"scim_type\" varchar(32) NOT NULL, \"requests\" bigint NOT NULL, \
             PRIMARY KEY (\"tenant_id\", \"minute\", \"actor_kind\", \"actor\", \"status\", \
             \"scim_type\") ){counts_rowid}"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO \"activity_batches\" (\"tenant_id\", \"newest_id\", \"oldest_id\", \
             \"size\", \"failed\", \"actors\", \"resources\", \"records\") SELECT \"tenant_id\", \
             \"id\", \"id\", 1, CASE WHEN \"status\" >= 400 THEN 1 ELSE 0 END, \
             ' ' || \"actor\" || ' ', CASE WHEN \"resource_id\" IS NULL THEN '' \
             ELSE ' ' || \"resource_id\" || ' ' END, '[' || {} || ']' \
             FROM \"activity_records\"",
            record_object(backend)
        ))
        .await?;
        let minute = minute_of_record(backend);
        db.execute_unprepared(&format!(
            "INSERT INTO \"activity_counts\" (\"tenant_id\", \"minute\", \"actor_kind\", \
             \"actor\", \"status\", \"scim_type\", \"requests\") SELECT \"tenant_id\", {minute}, \
             \"actor_kind\", \"actor\", \"status\", COALESCE(\"scim_type\", ''), COUNT(*) \
             FROM \"activity_records\" GROUP BY \"tenant_id\", {minute}, \"actor_kind\", \
             \"actor\", \"status\", COALESCE(\"scim_type\", '')"
        ))
        .await?;
        db.execute_unprepared("DROP TABLE \"activity_records\"")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        let rowid = match backend {
            DbBackend::Postgres => "",
            _ => " WITHOUT ROWID",
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE \"activity_records\" ( \"tenant_id\" varchar(64) NOT NULL, \
             \"id\" varchar(36) NOT NULL, \"actor_kind\" varchar(16) NOT NULL, \"actor\" text NOT NULL, \
             \"method\" varchar(16) NOT NULL, \"resource_id\" text, \"status\" integer NOT NULL, \
             \"scim_type\" varchar(32), \"has_body\" boolean NOT NULL DEFAULT FALSE, \
             \"details\" text NOT NULL, PRIMARY KEY (\"tenant_id\", \"id\") ){rowid}"
        ))
        .await?;
        // Records written since `up` name their fields short (`rq` for `requestId`, …);
        // those moved by `up` keep the long names. `details` gets the long ones, as the packed
        // table's reads (and migration 000170's `down`) know them.
        let (get, text): (fn(&str, &str) -> String, fn(&str, &str) -> String) = match backend {
            DbBackend::Postgres => (
                |short, long| format!("COALESCE(r -> '{short}', r -> '{long}')"),
                |short, long| format!("COALESCE(r ->> '{short}', r ->> '{long}')"),
            ),
            _ => {
                let get = |short: &str, long: &str| {
                    format!(
                        "COALESCE(json_extract(r.value, '$.{short}'), \
                         json_extract(r.value, '$.{long}'))"
                    )
                };
                (get, get)
            }
        };
        let postgres = backend == DbBackend::Postgres;
        let columns = [
            text("ak", "actorKind"),
            text("a", "actor"),
            text("m", "method"),
            text("ri", "resourceId"),
            match postgres {
                true => format!("({})::integer", text("s", "status")),
                false => text("s", "status"),
            },
            text("st", "scimType"),
            match postgres {
                true => format!("COALESCE(({})::boolean, FALSE)", text("hb", "hasBody")),
                false => format!("COALESCE({}, 0)", text("hb", "hasBody")),
            },
        ]
        .join(", ");
        let details = [
            ("t", "timeNs"),
            ("rq", "requestId"),
            ("ip", "identityProvider"),
            ("p", "path"),
            ("rt", "resourceType"),
            ("f", "filter"),
            ("d", "detail"),
            ("l", "latencyMs"),
            ("sm", "summary"),
        ]
        .iter()
        .map(|(short, long)| format!("'{long}', {}", get(short, long)))
        .collect::<Vec<_>>()
        .join(", ");
        let attributes = get("at", "attributes");
        let insert = match backend {
            DbBackend::Postgres => format!(
                "INSERT INTO \"activity_records\" (\"tenant_id\", \"id\", \"actor_kind\", \
                 \"actor\", \"method\", \"resource_id\", \"status\", \"scim_type\", \"has_body\", \
                 \"details\") SELECT b.\"tenant_id\", r ->> 'id', {columns}, \
                 jsonb_build_object('time', r -> 'time', {details}, 'attributes', \
                 COALESCE({attributes}, '[]'::jsonb))::text \
                 FROM \"activity_batches\" b, jsonb_array_elements(b.\"records\"::jsonb) r \
                 ON CONFLICT DO NOTHING"
            ),
            _ => format!(
                "INSERT OR IGNORE INTO \"activity_records\" (\"tenant_id\", \"id\", \
                 \"actor_kind\", \"actor\", \"method\", \"resource_id\", \"status\", \
                 \"scim_type\", \"has_body\", \"details\") SELECT b.\"tenant_id\", \
                 json_extract(r.value, '$.id'), {columns}, json_object('time', \
                 json_extract(r.value, '$.time'), {details}, 'attributes', \
                 json(COALESCE({attributes}, '[]'))) \
                 FROM \"activity_batches\" b, json_each(b.\"records\") r"
            ),
        };
        db.execute_unprepared(&insert).await?;
        db.execute_unprepared(
            "CREATE INDEX \"ix_activity_tenant_resource\" ON \"activity_records\" \
             (\"tenant_id\", \"resource_id\", \"id\")",
        )
        .await?;
        db.execute_unprepared("DROP TABLE \"activity_counts\"")
            .await?;
        db.execute_unprepared("DROP TABLE \"activity_batches\"")
            .await?;
        Ok(())
    }
}
