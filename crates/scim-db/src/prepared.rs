//! Statements rendered once: the SQL text of the hottest statements (authentication, a user by
//! id, a user's groups) depends only on their shape, so sea-query renders it on first use per
//! backend and later calls pair that text with their own values.
//!
//! Why: profiles of `GET /Users/{id}` showed sea-query's rendering of three SELECTs at ~18% of
//! the server's CPU, more than SQLite's execution of them. Each prepared statement keeps the
//! sea-query builder as the single source of its SQL; a unit test per statement checks that
//! the reused text with new values equals a fresh rendering with those values.

use std::sync::OnceLock;

use sea_orm::{sea_query::Value, DbBackend, Statement};

/// The SQL text of one statement shape, per backend.
pub struct Prepared {
    sql: [OnceLock<String>; 3],
}

impl Default for Prepared {
    fn default() -> Self {
        Self::new()
    }
}

impl Prepared {
    /// An empty slot per backend.
    pub const fn new() -> Self {
        Self {
            sql: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
        }
    }

    /// The statement for `values`. `render` builds the same statement with the same values
    /// with sea-query; it runs once per backend, and its values must be `values`, in order.
    pub fn statement(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        render: impl FnOnce() -> Statement,
    ) -> Statement {
        self.statement_from(backend, values, |_| render())
    }

    /// [`Prepared::statement`], where `render` is given `values` (so that a caller need not
    /// keep a copy of them for the one call that renders).
    pub fn statement_from(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        render: impl FnOnce(&[Value]) -> Statement,
    ) -> Statement {
        let slot = match backend {
            DbBackend::Sqlite => &self.sql[0],
            DbBackend::Postgres => &self.sql[1],
            DbBackend::MySql => &self.sql[2],
        };
        if let Some(sql) = slot.get() {
            return Statement::from_sql_and_values(backend, sql.clone(), values);
        }
        let stmt = render(&values);
        debug_assert_eq!(
            stmt.values.as_ref().map(|v| v.0.as_slice()),
            Some(values.as_slice()),
            "a prepared statement's values differ from its rendering's"
        );
        let _ = slot.set(stmt.sql.clone());
        stmt
    }
}
