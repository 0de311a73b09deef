//! Store errors, classified so that the HTTP layer can answer 404, 409 or 400 precisely.

use sea_orm::{DbErr, SqlErr};

/// What went wrong in a store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique attribute (named here) is already taken in the tenant.
    #[error("{0} is already in use")]
    Conflict(&'static str),
    /// The resource does not exist in the caller's tenant.
    #[error("not found")]
    NotFound,
    /// A value the database cannot take (e.g. a group member that does not exist).
    #[error("{0}")]
    InvalidValue(String),
    /// The filter cannot be evaluated by the store.
    #[error("{0}")]
    InvalidFilter(String),
    /// A pagination cursor that this server did not issue (or issued for another query).
    #[error("invalid cursor")]
    InvalidCursor,
    /// A cursor pointing at events that were purged (older than the tenant's retention).
    #[error("this cursor points before the oldest event kept: events after it were purged")]
    CursorExpired,
    /// The resource changed since the version the client holds (`If-Match`).
    #[error("precondition failed")]
    PreconditionFailed,
    /// The database cannot be reached right now (restarting, pool exhausted past the acquire
    /// timeout, connection lost): worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    /// The change contradicts the target's state (e.g. enabling a revoked key).
    #[error("{0}")]
    Refused(String),
    /// Any other database failure; the text is for logs only, never for responses.
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else if is_data_error(&err) {
            tracing::info!(error = %err, "a value the database cannot take");
            Self::InvalidValue(
                "A value of the request cannot be stored (too long or malformed)".into(),
            )
        } else {
            Self::Db(err)
        }
    }
}

/// Whether `err` is the database refusing a value of the request (PostgreSQL's
/// data-exception class `22…`, such as a string longer than its column; SQLite's `TOOBIG`):
/// the client's mistake, not the server's.
fn is_data_error(err: &DbErr) -> bool {
    use sea_orm::{sqlx, RuntimeErr};
    if let Some((code, _)) = scim_db::sqlite_error_code(err) {
        return code & 0xff == scim_db::sqlite_codes::TOOBIG;
    }
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            db.code().is_some_and(|c| c.starts_with("22"))
        }
        _ => false,
    }
}

/// Whether `err` means "the database is not there right now" rather than "this statement is
/// wrong": connection and pool errors, and PostgreSQL's connection-exception (`08…`) and
/// operator-intervention (`57…`, e.g. a shutdown) classes.
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{sqlx, RuntimeErr};
    if let Some((code, _)) = scim_db::sqlite_error_code(err) {
        use scim_db::sqlite_codes::*;
        // The primary code is the low byte of the extended one.
        return matches!(
            code & 0xff,
            BUSY | LOCKED | IOERR | FULL | CANTOPEN | INTERRUPT
        );
    }
    let sqlx_err = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl StoreError {
    /// Classifies a write error: a unique violation becomes [`StoreError::Conflict`] naming the
    /// attribute whose index it hit (decided by the database, not by a racy pre-check).
    pub(crate) fn from_write(err: DbErr, columns: &[(&str, &'static str)]) -> Self {
        if let Some((code, msg)) = scim_db::sqlite_error_code(&err) {
            use scim_db::sqlite_codes::*;
            match code {
                CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY => {
                    return Self::Conflict(unique_attribute(msg, columns))
                }
                CONSTRAINT_FOREIGNKEY => return Self::NotFound,
                _ => return err.into(),
            }
        }
        if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err() {
            return Self::Conflict(unique_attribute(&msg, columns));
        }
        if let Some(SqlErr::ForeignKeyConstraintViolation(_)) = err.sql_err() {
            return Self::NotFound;
        }
        err.into()
    }
}

/// The attribute whose unique index a violation message names.
fn unique_attribute(msg: &str, columns: &[(&str, &'static str)]) -> &'static str {
    columns
        .iter()
        .find(|(needle, _)| msg.contains(needle))
        .map(|(_, attr)| *attr)
        .unwrap_or("a unique attribute")
}
