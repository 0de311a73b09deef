//! Reads of several statements that all see one state of the database, for a response sent in
//! parts (a group's members streamed in chunks): the parts then agree with each other and with
//! the `ETag` sent first, whatever is written meanwhile.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

use crate::{counted, postgres::PgTxn, sqlite::SqliteSnapshot, Db, Pool};

/// How long a snapshot may stay open. It holds a connection (PostgreSQL) or a reader and the
/// WAL's checkpoint (SQLite) while a client reads the response, so a client that stops reading
/// cannot hold them for longer than this; a statement after it fails.
pub const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(120);

/// A read-only transaction (PostgreSQL `REPEATABLE READ, READ ONLY`; SQLite `BEGIN` on a reader
/// of its own, every statement run on a blocking thread as [`crate::Scan`] runs them). Dropped,
/// it ends; nothing it ran can write.
#[derive(Debug)]
pub struct Snapshot {
    inner: Inner,
    opened: Instant,
}

enum Inner {
    Postgres(PgTxn),
    Sqlite(SqliteSnapshot),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres(_) => "Postgres",
            Self::Sqlite(_) => "Sqlite",
        })
    }
}

impl Db {
    /// Opens a snapshot (see [`Snapshot`]).
    pub async fn snapshot(&self) -> Result<Snapshot, DbErr> {
        counted();
        let inner = match &self.0 {
            Pool::Postgres(db) => Inner::Postgres(db.begin_snapshot().await?),
            Pool::Sqlite(db) => Inner::Sqlite(db.snapshot()?),
        };
        Ok(Snapshot {
            inner,
            opened: Instant::now(),
        })
    }
}

impl Snapshot {
    fn check_age(&self) -> Result<(), DbErr> {
        if self.opened.elapsed() > SNAPSHOT_LIFETIME {
            return Err(DbErr::Custom(format!(
                "a read snapshot may stay open for {} s",
                SNAPSHOT_LIFETIME.as_secs()
            )));
        }
        Ok(())
    }

    /// The rows of `stmt`, each its first `N` columns as text (a NULL or non-text value is an
    /// error), read without sea-orm's per-row maps: for statements that return many rows, such
    /// as a large group's members.
    pub async fn text_rows<const N: usize>(
        &self,
        stmt: Statement,
    ) -> Result<Vec<[String; N]>, DbErr> {
        self.check_age()?;
        counted();
        match &self.inner {
            Inner::Postgres(txn) => txn.text_rows::<N>(&stmt).await,
            Inner::Sqlite(snap) => snap.text_rows::<N>(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl crate::ReadRows for Snapshot {
    async fn read<T: crate::FromRow>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        self.check_age()?;
        counted();
        match &self.inner {
            Inner::Postgres(txn) => txn.read(&stmt).await,
            Inner::Sqlite(snap) => snap.read(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Snapshot {
    fn get_database_backend(&self) -> DbBackend {
        match &self.inner {
            Inner::Postgres(_) => crate::postgres::BACKEND,
            Inner::Sqlite(_) => crate::sqlite::BACKEND,
        }
    }

    async fn execute(&self, _stmt: Statement) -> Result<ExecResult, DbErr> {
        Err(DbErr::Custom("a read snapshot does not write".into()))
    }

    async fn execute_unprepared(&self, _sql: &str) -> Result<ExecResult, DbErr> {
        Err(DbErr::Custom("a read snapshot does not write".into()))
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        Ok(self.query_all(stmt).await?.into_iter().next())
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.check_age()?;
        counted();
        match &self.inner {
            Inner::Postgres(txn) => txn.query_all(&stmt).await,
            Inner::Sqlite(snap) => snap.query_all(stmt).await,
        }
    }
}
