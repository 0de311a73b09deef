//! scimd's SQLite driver under sea-orm: statements run on the calling thread, on connections
//! from a small pool, instead of on one thread per connection behind channels (sqlx's model).
//!
//! Why: with sqlx every statement was at least three round trips between threads (a ping on
//! acquire, the statement, a ping on release), and profiles of the benchmark showed half the
//! server's CPU in context switches. A point read from SQLite's page cache takes microseconds,
//! less than one thread hand-over, so it runs where the request is.
//!
//! Readers take any idle connection (WAL lets them read while one writer commits); a read runs
//! under the statement deadline (SQLite's progress handler interrupts it), and a read that
//! scans ([`SqliteDb::scan`]) runs on tokio's blocking pool, at most one per core at a time, so
//! that a long one never holds an actix worker that serves other tenants; it is interrupted when
//! its caller goes away.
//! Writers take
//! this process's write turn (an async lock, so a waiting writer never blocks its thread), then
//! the one writer connection; a transaction holds the turn until it commits or is dropped
//! (rolled back), and concurrent writes share their commits ([`writer`]: group commit).
//! `BEGIN IMMEDIATE` takes SQLite's write lock up front, so another process writing the same
//! file makes it wait (busy timeout), never fail half-way.
//!
//! sea-orm sees rows as [`ProxyRow`]s whose values are typed by the columns' declared types
//! (see [`values`]).

mod columns;
mod values;
mod writer;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

pub(crate) use self::values::parse_timestamp;
pub(crate) use self::writer::SqliteTxn;
use self::writer::Writer;
use crate::lock;
use crate::rows::{FromRow, SqliteRow};
use rusqlite::{CachedStatement, Connection, OpenFlags};
use sea_orm::{
    DbBackend, DbErr, ExecResult, ProxyExecResult, ProxyRow, QueryResult, RuntimeErr, Statement,
};

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// SQLite virtual-machine steps between two looks at a read's deadline (tens of microseconds of
/// work: fine-grained enough for a deadline in seconds, rare enough to cost nothing).
const PROGRESS_STEPS: std::ffi::c_int = 10_000;

/// Where and how to open the database file.
#[derive(Debug, Clone)]
pub(crate) struct SqliteTarget {
    path: PathBuf,
    create: bool,
    read_only: bool,
}

impl SqliteTarget {
    /// Parses `sqlite://PATH?mode=rwc|rw|ro` (or `sqlite:PATH`), as sqlx does.
    pub(crate) fn parse(url: &str) -> Result<Self, DbErr> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| DbErr::Custom("not a sqlite: URL".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() || path == ":memory:" {
            return Err(DbErr::Custom(
                "SQLite needs a file path (sqlite://PATH?mode=rwc); in-memory databases are not supported"
                    .into(),
            ));
        }
        let mut target = Self {
            path: PathBuf::from(path),
            create: false,
            read_only: false,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("mode", "rwc")) => target.create = true,
                Some(("mode", "rw")) => {}
                Some(("mode", "ro")) => target.read_only = true,
                _ => {
                    return Err(DbErr::Custom(format!(
                        "unsupported SQLite URL parameter '{pair}' (use mode=rwc, rw or ro)"
                    )))
                }
            }
        }
        Ok(target)
    }

    fn open(&self) -> Result<Connection, DbErr> {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        flags |= if self.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        if self.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(&self.path, flags).map_err(conn_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(conn_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // What sqlx set on every connection it opened: foreign keys enforced. And an fsync at
        // every COMMIT, said explicitly rather than left to the bundled build's default: an
        // acknowledged write is on disk.
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            .map_err(conn_err)?;
        Ok(conn)
    }
}

struct Shared {
    target: SqliteTarget,
    /// Idle reader connections; a reader is taken out for one statement and put back.
    readers: Mutex<Vec<Connection>>,
    max_idle_readers: usize,
    /// How long a read may run.
    statement_timeout: Duration,
    /// Scans running at once: as many as there are cores. More only share the cores and the
    /// readers' page caches, and make every scan slower (measured: 64 at once cost 20% more
    /// CPU per `startIndex` page than 2).
    scans: tokio::sync::Semaphore,
    /// The writer connection, its turn and its batches.
    writer: Writer,
}

/// A pooled SQLite database driven on the caller's thread.
#[derive(Clone)]
pub(crate) struct SqliteDb {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.shared.target.path)
            .finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens the file (WAL mode, kept in the file) with room for `max_connections` idle
    /// readers.
    pub(crate) fn open(target: SqliteTarget, options: &crate::DbOptions) -> Result<Self, DbErr> {
        let writer = target.open()?;
        if !target.read_only {
            writer
                .execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(conn_err)?;
        }
        Ok(Self {
            shared: Arc::new(Shared {
                target,
                readers: Mutex::new(Vec::new()),
                max_idle_readers: usize::try_from(options.max_connections.max(1)).unwrap_or(1),
                statement_timeout: options.statement_timeout,
                scans: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
                ),
                writer: Writer::new(writer)?,
            }),
        })
    }

    /// Open and idle reader connections (the writer counts as one open connection).
    pub(crate) fn pool_stats(&self) -> (u32, u32) {
        let idle = lock(&self.shared.readers).len();
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        (idle + 1, idle)
    }

    /// Runs `f` on an idle reader, under the statement deadline.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        self.with_reader_until(None, f)
    }

    /// [`Self::with_reader`], also stopped when `cancelled` is raised.
    fn with_reader_until<T>(
        &self,
        cancelled: Option<Arc<AtomicBool>>,
        f: impl FnOnce(&Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let taken = lock(&self.shared.readers).pop();
        let conn = match taken {
            Some(c) => c,
            None => self.shared.target.open()?,
        };
        let out = under_deadline(&conn, self.shared.statement_timeout, cancelled, f);
        self.give_back(conn);
        out
    }

    /// Runs `f` as one write transaction of its own (`guarded`: see [`Writer::begin`]).
    async fn with_writer<T>(
        &self,
        guarded: bool,
        f: impl FnOnce(&Connection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let txn = self.shared.writer.begin(guarded).await?;
        let out = f(&*txn.conn()?)?;
        txn.commit().await?;
        Ok(out)
    }

    /// Begins a write transaction (see [`writer`]).
    pub(crate) async fn begin(&self) -> Result<SqliteTxn, DbErr> {
        self.shared.writer.begin(true).await
    }

    pub(crate) async fn execute(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<ExecResult, DbErr> {
        self.with_writer(guarded, |c| execute(c, &stmt)).await
    }

    pub(crate) async fn execute_unprepared(
        &self,
        sql: &str,
        guarded: bool,
    ) -> Result<ExecResult, DbErr> {
        self.with_writer(guarded, |c| execute_batch(c, sql)).await
    }

    /// Runs a read that scans on a blocking thread (the caller's worker stays free), stopping
    /// it at the statement deadline or as soon as the caller goes away.
    pub(crate) async fn scan(
        &self,
        stmt: Statement,
        limit: usize,
    ) -> Result<Vec<QueryResult>, DbErr> {
        self.scan_with(move |c| read_only(c, &stmt, limit)).await
    }

    /// Runs `reads` (read-only statements on one reader) on a blocking thread, in one
    /// hand-over: each hand-over costs two thread wake-ups, more than a page of SQLite's work.
    pub(crate) async fn scan_with<T: Send + 'static>(
        &self,
        reads: impl FnOnce(&Connection) -> Result<T, DbErr> + Send + 'static,
    ) -> Result<T, DbErr> {
        let _turn = self
            .shared
            .scans
            .acquire()
            .await
            .map_err(|_| DbErr::Custom("the SQLite pool is closed".into()))?;
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let flag = cancel.0.clone();
        let db = self.clone();
        let read = tokio::task::spawn_blocking(move || db.with_reader_until(Some(flag), reads));
        let out = read
            .await
            .map_err(|e| DbErr::Custom(format!("a read's thread failed: {e}")))?;
        drop(cancel);
        out
    }

    pub(crate) async fn query_all(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Vec<QueryResult>, DbErr> {
        // A statement that writes (INSERT ... RETURNING) goes to the writer, in turn.
        match self.with_reader(|c| read_only_query(c, &stmt, usize::MAX))? {
            Some(rows) => Ok(rows),
            None => {
                self.with_writer(guarded, |c| query(c, &stmt, usize::MAX))
                    .await
            }
        }
    }

    pub(crate) async fn query_one(
        &self,
        stmt: Statement,
        guarded: bool,
    ) -> Result<Option<QueryResult>, DbErr> {
        let rows = match self.with_reader(|c| read_only_query(c, &stmt, 1))? {
            Some(rows) => rows,
            None => self.with_writer(guarded, |c| query(c, &stmt, 1)).await?,
        };
        Ok(rows.into_iter().next())
    }

    /// See [`crate::Db::read_i64`].
    pub(crate) fn read_i64(&self, stmt: &Statement) -> Result<Option<i64>, DbErr> {
        self.with_reader(|c| {
            let mut prepared = prepare(c, stmt)?;
            let mut rows = prepared.raw_query();
            match rows.next().map_err(query_err)? {
                Some(row) => row.get::<_, i64>(0).map(Some).map_err(query_err),
                None => Ok(None),
            }
        })
    }

    /// See [`crate::Db::read`].
    pub(crate) fn read<T: FromRow>(&self, stmt: &Statement) -> Result<Vec<T>, DbErr> {
        self.with_reader(|c| typed_rows(c, stmt, usize::MAX, true))
    }

    /// Opens a read transaction on a reader of its own (see [`SqliteSnapshot`]).
    pub(crate) fn snapshot(&self) -> Result<SqliteSnapshot, DbErr> {
        let taken = lock(&self.shared.readers).pop();
        let conn = match taken {
            Some(c) => c,
            None => self.shared.target.open()?,
        };
        conn.execute_batch("BEGIN").map_err(query_err)?;
        Ok(SqliteSnapshot {
            db: self.clone(),
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Gives a reader back to the idle ones, if there is room.
    fn give_back(&self, conn: Connection) {
        let mut idle = lock(&self.shared.readers);
        if idle.len() < self.shared.max_idle_readers {
            idle.push(conn);
        }
    }

    /// Checks that the file answers.
    pub(crate) fn ping(&self) -> Result<(), DbErr> {
        self.with_reader(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(conn_err))
    }

    /// Closes the idle readers; the writer closes with the last handle.
    pub(crate) fn close(&self) {
        lock(&self.shared.readers).clear();
    }
}

impl SqliteTxn {
    pub(crate) fn execute(&self, stmt: &Statement) -> Result<ExecResult, DbErr> {
        execute(&*self.conn()?, stmt)
    }

    pub(crate) fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        execute_batch(&*self.conn()?, sql)
    }

    pub(crate) fn query_all(&self, stmt: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        query(&*self.conn()?, stmt, usize::MAX)
    }

    pub(crate) fn query_one(&self, stmt: &Statement) -> Result<Option<QueryResult>, DbErr> {
        Ok(query(&*self.conn()?, stmt, 1)?.into_iter().next())
    }

    pub(crate) fn read<T: FromRow>(&self, stmt: &Statement) -> Result<Vec<T>, DbErr> {
        typed_rows(&*self.conn()?, stmt, usize::MAX, false)
    }
}

/// Raises its flag when the caller's future is dropped (a scan on a blocking thread then
/// stops at its next progress check).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A read transaction on a reader taken out of the pool: its statements all see the database
/// as the first one saw it (WAL keeps that state for it). Its statements run on a blocking
/// thread, as [`SqliteDb::scan`] runs them. Dropped, it rolls back and gives the reader back; a
/// read abandoned half-way takes its reader with it (closed).
pub(crate) struct SqliteSnapshot {
    db: SqliteDb,
    conn: Mutex<Option<Connection>>,
}

fn snapshot_over() -> DbErr {
    DbErr::Custom("the read snapshot is over".into())
}

impl SqliteSnapshot {
    pub(crate) async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.read_with(move |c| read_only(c, &stmt, usize::MAX))
            .await
    }

    /// Rows decoded by `T` (see [`crate::Snapshot::read`]).
    pub(crate) async fn read<T: FromRow>(&self, stmt: Statement) -> Result<Vec<T>, DbErr> {
        self.read_with(move |c| typed_rows(c, &stmt, usize::MAX, true))
            .await
    }

    /// Rows of `N` text columns (see [`crate::Snapshot`]).
    pub(crate) async fn text_rows<const N: usize>(
        &self,
        stmt: Statement,
    ) -> Result<Vec<[String; N]>, DbErr> {
        self.read_with(move |c| text_rows::<N>(c, &stmt)).await
    }

    /// Runs `reads` on the snapshot's reader on a blocking thread, as [`SqliteDb::scan_with`]
    /// runs them on a pooled one.
    async fn read_with<T: Send + 'static>(
        &self,
        reads: impl FnOnce(&Connection) -> Result<T, DbErr> + Send + 'static,
    ) -> Result<T, DbErr> {
        let _turn = self
            .db
            .shared
            .scans
            .acquire()
            .await
            .map_err(|_| DbErr::Custom("the SQLite pool is closed".into()))?;
        let conn = lock(&self.conn).take().ok_or_else(snapshot_over)?;
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let flag = cancel.0.clone();
        let timeout = self.db.shared.statement_timeout;
        let read = tokio::task::spawn_blocking(move || {
            let out = under_deadline(&conn, timeout, Some(flag), reads);
            (conn, out)
        });
        let (conn, out) = read
            .await
            .map_err(|e| DbErr::Custom(format!("a read's thread failed: {e}")))?;
        drop(cancel);
        *lock(&self.conn) = Some(conn);
        out
    }
}

impl Drop for SqliteSnapshot {
    fn drop(&mut self) {
        if let Some(conn) = lock(&self.conn).take() {
            // A read transaction ends without writing anything; a reader that cannot end it is
            // closed rather than reused.
            if conn.execute_batch("ROLLBACK").is_ok() {
                self.db.give_back(conn);
            }
        }
    }
}

/// Rows of `N` text columns of `stmt`, which must only read.
fn text_rows<const N: usize>(
    conn: &Connection,
    stmt: &Statement,
) -> Result<Vec<[String; N]>, DbErr> {
    let mut prepared = prepare(conn, stmt)?;
    if !prepared.readonly() {
        return Err(DbErr::Custom("a scan must not write".into()));
    }
    let mut out = Vec::new();
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next().map_err(query_err)? {
        let mut cells: [String; N] = std::array::from_fn(|_| String::new());
        for (i, cell) in cells.iter_mut().enumerate() {
            *cell = row
                .get_ref(i)
                .map_err(query_err)?
                .as_str()
                .map_err(|e| query_err(e.into()))?
                .to_owned();
        }
        out.push(cells);
    }
    Ok(out)
}

/// The rows of `stmt` decoded by `T`, at most `limit`; `only_reads`: a statement that would
/// write is refused (a reader's statements).
pub(crate) fn typed_rows<T: FromRow>(
    conn: &Connection,
    stmt: &Statement,
    limit: usize,
    only_reads: bool,
) -> Result<Vec<T>, DbErr> {
    let mut prepared = prepare(conn, stmt)?;
    if only_reads && !prepared.readonly() {
        return Err(DbErr::Custom("a read must not write".into()));
    }
    let mut out = Vec::new();
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next().map_err(query_err)? {
        out.push(T::from_row(&SqliteRow(row))?);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Runs `f` on `conn` with SQLite's progress handler watching the deadline (`timeout` from now)
/// and `cancelled`: past either, the statement stops with `SQLITE_INTERRUPT`.
fn under_deadline<T>(
    conn: &Connection,
    timeout: Duration,
    cancelled: Option<Arc<AtomicBool>>,
    f: impl FnOnce(&Connection) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    let deadline = Instant::now() + timeout;
    conn.progress_handler(
        PROGRESS_STEPS,
        Some(move || {
            Instant::now() >= deadline
                || cancelled
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::Relaxed))
        }),
    );
    let out = f(conn);
    conn.progress_handler(0, None::<fn() -> bool>);
    out
}

fn prepare<'c>(conn: &'c Connection, stmt: &Statement) -> Result<CachedStatement<'c>, DbErr> {
    let mut prepared = conn.prepare_cached(&stmt.sql).map_err(query_err)?;
    if let Some(values) = &stmt.values {
        for (i, v) in values.0.iter().enumerate() {
            match v {
                // Text, the most common value, is bound from where it is (SQLite copies it
                // once) instead of being copied into a SQLite value first.
                sea_orm::sea_query::Value::String(Some(s)) => {
                    prepared.raw_bind_parameter(i + 1, s.as_str())
                }
                _ => prepared.raw_bind_parameter(i + 1, values::to_sql(v)?),
            }
            .map_err(query_err)?;
        }
    }
    Ok(prepared)
}

fn execute(conn: &Connection, stmt: &Statement) -> Result<ExecResult, DbErr> {
    let mut prepared = prepare(conn, stmt)?;
    let changed = prepared.raw_execute().map_err(exec_err)?;
    Ok(ExecResult::from(ProxyExecResult {
        last_insert_id: u64::try_from(conn.last_insert_rowid()).unwrap_or(0),
        rows_affected: changed as u64,
    }))
}

fn execute_batch(conn: &Connection, sql: &str) -> Result<ExecResult, DbErr> {
    conn.execute_batch(sql).map_err(exec_err)?;
    Ok(ExecResult::from(ProxyExecResult {
        last_insert_id: u64::try_from(conn.last_insert_rowid()).unwrap_or(0),
        rows_affected: conn.changes(),
    }))
}

/// Runs `stmt`, which must only read.
pub(crate) fn read_only(
    conn: &Connection,
    stmt: &Statement,
    limit: usize,
) -> Result<Vec<QueryResult>, DbErr> {
    read_only_query(conn, stmt, limit)?.ok_or_else(|| DbErr::Custom("a scan must not write".into()))
}

/// Runs `stmt` if it only reads; `None` if it would write.
fn read_only_query(
    conn: &Connection,
    stmt: &Statement,
    limit: usize,
) -> Result<Option<Vec<QueryResult>>, DbErr> {
    let prepared = prepare(conn, stmt)?;
    if !prepared.readonly() {
        return Ok(None);
    }
    rows(&stmt.sql, prepared, limit).map(Some)
}

fn query(conn: &Connection, stmt: &Statement, limit: usize) -> Result<Vec<QueryResult>, DbErr> {
    rows(&stmt.sql, prepare(conn, stmt)?, limit)
}

/// The rows of `prepared` (whose text is `sql`) as sea-orm's rows, at most `limit`.
fn rows(
    sql: &str,
    mut prepared: CachedStatement<'_>,
    limit: usize,
) -> Result<Vec<QueryResult>, DbErr> {
    let columns = columns::of(sql, &prepared);
    let mut out = Vec::new();
    let mut rows = prepared.raw_query();
    while let Some(row) = rows.next().map_err(query_err)? {
        let mut values = BTreeMap::new();
        for (i, (name, declared)) in columns.iter().enumerate() {
            let v = row.get_ref(i).map_err(query_err)?;
            values.insert(name.clone(), values::from_sql(*declared, v)?);
        }
        out.push(QueryResult::from(ProxyRow::new(values)));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Prefix of the messages of SQLite errors, followed by the extended result code.
const CODE_PREFIX: &str = "sqlite[";

/// A SQLite error as sea-orm's, keeping the extended result code in the message
/// (`sqlite[2067]: UNIQUE constraint failed: ...`), so that [`error_code`] can classify it.
fn sqlite_err(e: rusqlite::Error) -> RuntimeErr {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => {
            RuntimeErr::Internal(format!("{CODE_PREFIX}{}]: {e}", f.extended_code))
        }
        _ => RuntimeErr::Internal(e.to_string()),
    }
}

/// The extended result code of a SQLite error raised by this driver.
pub fn error_code(err: &DbErr) -> Option<(i32, &str)> {
    let msg = match err {
        DbErr::Exec(RuntimeErr::Internal(m))
        | DbErr::Query(RuntimeErr::Internal(m))
        | DbErr::Conn(RuntimeErr::Internal(m)) => m,
        _ => return None,
    };
    let rest = msg.strip_prefix(CODE_PREFIX)?;
    let (code, text) = rest.split_once("]: ")?;
    Some((code.parse().ok()?, text))
}

/// SQLite's result codes scimd classifies (libsqlite3-sys's constants).
pub mod codes {
    pub use rusqlite::ffi::{
        SQLITE_BUSY as BUSY, SQLITE_CANTOPEN as CANTOPEN,
        SQLITE_CONSTRAINT_FOREIGNKEY as CONSTRAINT_FOREIGNKEY,
        SQLITE_CONSTRAINT_PRIMARYKEY as CONSTRAINT_PRIMARYKEY,
        SQLITE_CONSTRAINT_UNIQUE as CONSTRAINT_UNIQUE, SQLITE_FULL as FULL,
        SQLITE_INTERRUPT as INTERRUPT, SQLITE_IOERR as IOERR, SQLITE_LOCKED as LOCKED,
        SQLITE_TOOBIG as TOOBIG,
    };
}

fn query_err(e: rusqlite::Error) -> DbErr {
    DbErr::Query(sqlite_err(e))
}

pub(super) fn exec_err(e: rusqlite::Error) -> DbErr {
    DbErr::Exec(sqlite_err(e))
}

fn conn_err(e: rusqlite::Error) -> DbErr {
    DbErr::Conn(sqlite_err(e))
}

/// The backend sea-orm builds statements for.
pub(crate) const BACKEND: DbBackend = DbBackend::Sqlite;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_file_and_a_mode() {
        let t = SqliteTarget::parse("sqlite://./data/x.db?mode=rwc").unwrap();
        assert_eq!(t.path, PathBuf::from("./data/x.db"));
        assert!(t.create && !t.read_only);
        let t = SqliteTarget::parse("sqlite:/tmp/x.db?mode=ro").unwrap();
        assert!(t.read_only && !t.create);
        let t = SqliteTarget::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!(t.path, PathBuf::from("/tmp/x.db"));
        for bad in [
            "sqlite::memory:",
            "sqlite://",
            "sqlite://x.db?mode=memory",
            "sqlite://x.db?cache=shared",
            "postgres://x",
        ] {
            assert!(SqliteTarget::parse(bad).is_err(), "{bad} accepted");
        }
    }

    /// A database file of its own, removed (with its WAL) when dropped.
    pub(super) struct TempDb {
        pub(super) path: PathBuf,
        pub(super) db: SqliteDb,
    }

    impl TempDb {
        pub(super) fn new(statement_timeout: Duration) -> Self {
            let path = std::env::temp_dir().join(format!("scimd-drv-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let options = crate::DbOptions {
                max_connections: 2,
                statement_timeout,
                ..crate::DbOptions::default()
            };
            let db = SqliteDb::open(SqliteTarget::parse(&url).unwrap(), &options).unwrap();
            Self { path, db }
        }

        /// A connection of another "process" to the same file.
        pub(super) fn other(&self) -> Connection {
            let c = Connection::open(&self.path).unwrap();
            c.busy_timeout(Duration::from_millis(0)).unwrap();
            c
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            self.db.close();
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }

    /// A unique violation keeps SQLite's extended code through the driver (the store maps it
    /// to a conflict naming the attribute); a failed write leaves the earlier one in place.
    #[tokio::test]
    async fn unique_violations_keep_their_code() {
        let t = TempDb::new(Duration::from_secs(10));
        let db = &t.db;
        db.execute_unprepared("CREATE TABLE t (user_name TEXT UNIQUE)", true)
            .await
            .unwrap();
        let insert = || {
            Statement::from_sql_and_values(
                BACKEND,
                "INSERT INTO t (user_name) VALUES (?)",
                ["a".into()],
            )
        };
        db.execute(insert(), true).await.unwrap();
        let err = db.execute(insert(), true).await.unwrap_err();
        let (code, text) = error_code(&err).unwrap();
        assert_eq!(code, codes::CONSTRAINT_UNIQUE);
        assert!(text.contains("t.user_name"), "{text}");
        let count = db
            .query_one(
                Statement::from_string(BACKEND, "SELECT COUNT(*) AS n FROM t"),
                true,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(count.try_get::<i64>("", "n").unwrap(), 1);
    }

    /// Every connection commits with an fsync (`synchronous = FULL`, 2), whatever the bundled
    /// build's default.
    #[tokio::test]
    async fn every_commit_is_synchronous() {
        let t = TempDb::new(Duration::from_secs(10));
        let level = |c: &Connection| {
            c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(level(&lock(&t.db.shared.writer.conn)), 2);
        let reader = t.db.with_reader(|c| Ok(level(c))).unwrap();
        assert_eq!(reader, 2);
    }

    /// A statement that counts to a billion, which takes SQLite far longer than any deadline
    /// here.
    fn endless() -> Statement {
        Statement::from_string(
            BACKEND,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) \
             SELECT COUNT(*) AS c FROM n",
        )
    }

    /// A read past the statement deadline is interrupted (`SQLITE_INTERRUPT`), on the caller's
    /// thread and on a scan's thread alike, and the reader is usable afterwards.
    #[tokio::test]
    async fn reads_stop_at_the_statement_deadline() {
        let t = TempDb::new(Duration::from_millis(200));
        let started = Instant::now();
        let err = t.db.query_one(endless(), true).await.unwrap_err();
        assert_eq!(error_code(&err).map(|(c, _)| c), Some(codes::INTERRUPT));
        let err = t.db.scan(endless(), 1).await.unwrap_err();
        assert_eq!(error_code(&err).map(|(c, _)| c), Some(codes::INTERRUPT));
        assert!(started.elapsed() < Duration::from_secs(5));
        t.db.ping().unwrap();
    }

    /// A scan leaves its caller's thread free: on a one-thread runtime a ticker keeps ticking
    /// while the scan runs, and a scan whose caller goes away is interrupted at once.
    #[test]
    fn scans_leave_the_callers_thread_free() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let t = TempDb::new(Duration::from_millis(500));
            let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let ticker = {
                let ticks = ticks.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        ticks.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            assert!(t.db.scan(endless(), 1).await.is_err());
            let during = ticks.load(Ordering::Relaxed);
            assert!(
                during >= 10,
                "the runtime's thread was held: {during} ticks"
            );
            ticker.abort();

            // Dropped after 50 ms: the scan's thread gives the reader back long before the
            // 500 ms deadline.
            let _ = tokio::time::timeout(Duration::from_millis(50), t.db.scan(endless(), 1)).await;
            let given_back = Instant::now();
            while lock(&t.db.shared.readers).is_empty() {
                assert!(
                    given_back.elapsed() < Duration::from_millis(400),
                    "not interrupted"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
}
