//! Rows read by column position straight into the caller's types ([`FromRow`]), without
//! sea-orm's per-row maps: for the statements every request runs (a resource by id, a lookup, a
//! list page). A sea-orm row on SQLite is a map from each column's name (a `String` per column
//! and row) to a boxed value, and the model is then read out of it by name; for a user that was
//! ~40,000 instructions of a ~200,000-instruction `GET /Users/{id}`. Here a decoder asks the
//! backend's own row for the cell at a position in the type it wants.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::DbErr;

/// One row of a statement, read by column position (0 is the first column).
pub trait Row {
    /// A text column that is never NULL.
    fn text(&self, i: usize) -> Result<String, DbErr>;
    /// An integer column that is never NULL.
    fn int(&self, i: usize) -> Result<i64, DbErr>;
    /// A JSON column that is never NULL, as its JSON text (PostgreSQL prints `jsonb` in its own
    /// key order and spacing).
    fn json_text(&self, i: usize) -> Result<String, DbErr>;
    /// A timestamp column that is never NULL (SQLite: RFC 3339 text as sqlx writes it, or
    /// SQLite's own formats; PostgreSQL: `timestamptz`).
    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr>;
}

/// A type read from one row by column position.
pub trait FromRow: Sized + Send + 'static {
    /// Reads the value from `row`.
    fn from_row(row: &dyn Row) -> Result<Self, DbErr>;
}

fn bad(i: usize, what: &str) -> DbErr {
    DbErr::Type(format!("column {i}: {what}"))
}

/// A row of rusqlite's.
pub(crate) struct SqliteRow<'a, 'r>(pub(crate) &'a rusqlite::Row<'r>);

impl SqliteRow<'_, '_> {
    fn cell(&self, i: usize) -> Result<rusqlite::types::ValueRef<'_>, DbErr> {
        self.0.get_ref(i).map_err(|e| bad(i, &e.to_string()))
    }

    fn str(&self, i: usize) -> Result<Option<&str>, DbErr> {
        use rusqlite::types::ValueRef;
        match self.cell(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(Some)
                .map_err(|_| bad(i, "invalid UTF-8")),
            _ => Err(bad(i, "not text")),
        }
    }
}

impl Row for SqliteRow<'_, '_> {
    fn text(&self, i: usize) -> Result<String, DbErr> {
        Ok(self.str(i)?.ok_or_else(|| bad(i, "NULL"))?.to_owned())
    }

    fn int(&self, i: usize) -> Result<i64, DbErr> {
        match self.cell(i)? {
            rusqlite::types::ValueRef::Integer(n) => Ok(n),
            _ => Err(bad(i, "not an integer")),
        }
    }

    fn json_text(&self, i: usize) -> Result<String, DbErr> {
        use rusqlite::types::ValueRef;
        match self.cell(i)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                String::from_utf8(t.to_vec()).map_err(|_| bad(i, "invalid UTF-8"))
            }
            _ => Err(bad(i, "not JSON text")),
        }
    }

    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr> {
        match self.cell(i)? {
            rusqlite::types::ValueRef::Integer(secs) => Utc
                .timestamp_opt(secs, 0)
                .single()
                .ok_or_else(|| bad(i, "an out-of-range timestamp")),
            _ => {
                let text = self.str(i)?.ok_or_else(|| bad(i, "NULL"))?;
                crate::sqlite::parse_timestamp(text)
                    .ok_or_else(|| bad(i, "an unreadable timestamp"))
            }
        }
    }
}

/// A row of sqlx's PostgreSQL driver.
pub(crate) struct PgRow<'a>(pub(crate) &'a sea_orm::sqlx::postgres::PgRow);

impl PgRow<'_> {
    fn get<'r, T>(&'r self, i: usize) -> Result<T, DbErr>
    where
        T: sea_orm::sqlx::Decode<'r, sea_orm::sqlx::Postgres>
            + sea_orm::sqlx::Type<sea_orm::sqlx::Postgres>,
    {
        use sea_orm::sqlx::Row as _;
        self.0
            .try_get::<T, usize>(i)
            .map_err(|e| DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)))
    }
}

impl Row for PgRow<'_> {
    fn text(&self, i: usize) -> Result<String, DbErr> {
        self.get(i)
    }

    fn int(&self, i: usize) -> Result<i64, DbErr> {
        self.get(i)
    }

    fn json_text(&self, i: usize) -> Result<String, DbErr> {
        let raw: sea_orm::sqlx::types::Json<Box<serde_json::value::RawValue>> = self.get(i)?;
        Ok(raw.0.get().to_owned())
    }

    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr> {
        self.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Decoded(String, i64, String, DateTime<Utc>);

    impl FromRow for Decoded {
        fn from_row(row: &dyn Row) -> Result<Self, DbErr> {
            Ok(Self(
                row.text(0)?,
                row.int(1)?,
                row.json_text(2)?,
                row.time(3)?,
            ))
        }
    }

    fn read(select: &str) -> Result<Vec<Decoded>, DbErr> {
        let conn = rusqlite::Connection::open_in_memory().map_err(|e| bad(0, &e.to_string()))?;
        let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, select.to_owned());
        crate::sqlite::typed_rows(&conn, &stmt, usize::MAX, true)
    }

    /// Each cell is read by position in the type asked for; a cell of another type (or NULL)
    /// is an error naming its column, not a panic or a default.
    #[test]
    fn sqlite_cells_are_read_by_position_and_checked() {
        let rows = read(r#"SELECT 'u1', 7, '{"a": [1]}', '2026-12-07T10:00:00.5Z'"#).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()
            + chrono::Duration::milliseconds(500);
        assert_eq!(rows, [Decoded("u1".into(), 7, r#"{"a": [1]}"#.into(), at)]);
        for (select, column) in [
            ("SELECT NULL, 7, '{}', '2026-12-07T10:00:00Z'", "column 0"),
            (
                "SELECT 'u1', 'seven', '{}', '2026-12-07T10:00:00Z'",
                "column 1",
            ),
            ("SELECT 'u1', 7, NULL, '2026-12-07T10:00:00Z'", "column 2"),
            ("SELECT 'u1', 7, '{}', 'yesterday'", "column 3"),
        ] {
            let err = read(select).unwrap_err().to_string();
            assert!(err.contains(column), "{select}: {err}");
        }
        // A statement that writes is refused on a reader.
        assert!(read("CREATE TABLE t (x)").is_err());
    }
}
