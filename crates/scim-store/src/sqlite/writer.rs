//! The write side of the SQLite driver: one writer connection, this process's write turn, and
//! group commit.
//!
//! Each write transaction of the store is a savepoint inside a longer SQLite transaction (a
//! batch). When a writer is done and nobody is waiting for the turn (or the batch is full or
//! old), it commits the batch: one `COMMIT`, one `fsync`, for every write in it. A write is
//! answered only after the batch holding it is committed, so durability is that of a commit per
//! write (`synchronous = FULL`), at a fraction of the `fsync`s. A write that fails rolls back
//! to its savepoint and leaves the others alone; a batch whose `COMMIT` fails reports the error
//! to every write in it.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use rusqlite::Connection;
use sea_orm::DbErr;
use tokio::sync::{watch, Mutex as AsyncMutex, OwnedMutexGuard};

use super::exec_err;
use crate::db::lock;

/// A batch is committed once it holds this many writes, even with writers waiting.
const MAX_WRITES: usize = 64;
/// ... or once it has been open this long.
const MAX_AGE: Duration = Duration::from_millis(4);
/// A write whose batch is not committed within this time commits it itself (the writer that
/// should have done so was cancelled).
const LEADER_TIMEOUT: Duration = Duration::from_millis(50);

const SAVEPOINT: &str = "SAVEPOINT scimd_write";
const RELEASE: &str = "RELEASE scimd_write";
const ROLLBACK_TO: &str = "ROLLBACK TO scimd_write; RELEASE scimd_write";

/// The outcome of a batch's `COMMIT`, shared by its writes.
type Outcome = Option<Result<(), Arc<str>>>;

/// The writer connection and the turn that guards it.
#[derive(Clone)]
pub(crate) struct Writer {
    turn: Arc<AsyncMutex<Batching>>,
    conn: Arc<Mutex<Connection>>,
    waiting: Arc<AtomicUsize>,
}

/// State guarded by the turn.
#[derive(Default)]
pub(crate) struct Batching {
    open: Option<Batch>,
    next_id: u64,
}

struct Batch {
    id: u64,
    started: Instant,
    /// Writes released into the batch, waiting for its commit.
    writes: usize,
    done: watch::Sender<Outcome>,
}

type Turn = OwnedMutexGuard<Batching>;

/// Counts a writer waiting for the turn while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            turn: Arc::new(AsyncMutex::new(Batching::default())),
            conn: Arc::new(Mutex::new(conn)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn turn(&self) -> Turn {
        let _waiting = Waiting::new(&self.waiting);
        self.turn.clone().lock_owned().await
    }

    /// Begins a write: waits for the turn, joins (or opens) the batch, sets a savepoint.
    pub(crate) async fn begin(&self) -> Result<SqliteTxn, DbErr> {
        let mut turn = self.turn().await;
        let conn = lock(&self.conn);
        if turn.open.is_none() {
            if !conn.is_autocommit() {
                // A batch whose COMMIT never ran (its task was dropped as the runtime shut
                // down): its writes were answered with an error, so it is rolled back.
                let _ = conn.execute_batch("ROLLBACK");
            }
            // Takes SQLite's write lock now: another process writing waits here.
            conn.execute_batch("BEGIN IMMEDIATE").map_err(exec_err)?;
            let id = turn.next_id;
            turn.next_id += 1;
            turn.open = Some(Batch {
                id,
                started: Instant::now(),
                writes: 0,
                done: watch::channel(None).0,
            });
        }
        let saved = conn.execute_batch(SAVEPOINT).map_err(exec_err);
        drop(conn);
        match saved {
            Ok(()) => Ok(SqliteTxn {
                turn: Some(turn),
                writer: self.clone(),
            }),
            Err(e) => {
                self.check_aborted(&mut turn);
                self.leave_blocking(turn);
                Err(e)
            }
        }
    }

    /// Whether the batch is due for its commit when the turn is handed on.
    fn due(&self, turn: &Turn) -> bool {
        turn.open.as_ref().is_some_and(|b| {
            self.waiting.load(Ordering::SeqCst) == 0
                || b.writes >= MAX_WRITES
                || b.started.elapsed() >= MAX_AGE
        })
    }

    /// Hands the turn on, committing the batch first when it is due (on a blocking thread,
    /// so that the `fsync` never stalls the caller's runtime).
    async fn leave(&self, mut turn: Turn) {
        if !self.due(&turn) {
            return;
        }
        let Some(batch) = turn.open.take() else {
            return;
        };
        let conn = self.conn.clone();
        let commit = move || {
            let outcome = commit_now(&lock(&conn));
            batch.done.send_replace(Some(outcome));
            // The turn is held until the COMMIT is over, even if the caller went away.
            drop(turn);
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // A cancelled caller does not cancel the commit: it runs to its end.
            let _ = tokio::task::spawn_blocking(commit).await;
        } else {
            commit();
        }
    }

    /// [`Self::leave`] on the caller's thread (from `Drop`).
    fn leave_blocking(&self, mut turn: Turn) {
        if !self.due(&turn) {
            return;
        }
        if let Some(batch) = turn.open.take() {
            let outcome = commit_now(&lock(&self.conn));
            batch.done.send_replace(Some(outcome));
        }
    }

    /// After an error: if SQLite rolled the whole transaction back (it does on I/O errors,
    /// a full disk, ...), every write of the batch is lost, and is told so.
    fn check_aborted(&self, turn: &mut Turn) {
        if turn.open.is_some() && lock(&self.conn).is_autocommit() {
            if let Some(batch) = turn.open.take() {
                batch.done.send_replace(Some(Err(Arc::from(
                    "the write transaction was rolled back",
                ))));
            }
        }
    }

    /// Waits for batch `id` to be committed; commits it itself when nobody did in time.
    async fn await_commit(&self, id: u64, mut done: watch::Receiver<Outcome>) -> Result<(), DbErr> {
        loop {
            let waited = tokio::time::timeout(LEADER_TIMEOUT, done.wait_for(Option::is_some))
                .await
                .map(|r| r.map(|outcome| outcome.clone()));
            match waited {
                Ok(Ok(outcome)) => {
                    return match outcome {
                        Some(Ok(())) => Ok(()),
                        Some(Err(msg)) => {
                            Err(DbErr::Exec(sea_orm::RuntimeErr::Internal(msg.to_string())))
                        }
                        None => Err(lost()),
                    };
                }
                Ok(Err(_)) => return Err(lost()),
                Err(_) => {
                    let mut turn = self.turn().await;
                    if turn.open.as_ref().is_some_and(|b| b.id == id) {
                        // Force the commit: nobody else is going to do it.
                        if let Some(batch) = turn.open.as_mut() {
                            batch.started = Instant::now() - MAX_AGE;
                        }
                        self.leave(turn).await;
                    }
                }
            }
        }
    }
}

fn lost() -> DbErr {
    DbErr::Exec(sea_orm::RuntimeErr::Internal(
        "the write batch ended without an outcome".into(),
    ))
}

/// `COMMIT`; on failure, `ROLLBACK` (if SQLite has not already) and the error's text.
fn commit_now(conn: &Connection) -> Result<(), Arc<str>> {
    match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            tracing::error!(error = %e, "SQLite commit failed");
            match exec_err(e) {
                DbErr::Exec(sea_orm::RuntimeErr::Internal(msg)) => Err(Arc::from(msg)),
                other => Err(Arc::from(other.to_string())),
            }
        }
    }
}

/// One write transaction of the store: a savepoint in the current batch, holding the turn.
/// Dropped without [`SqliteTxn::commit`], it rolls back to its savepoint.
pub(crate) struct SqliteTxn {
    turn: Option<Turn>,
    writer: Writer,
}

impl std::fmt::Debug for SqliteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTxn")
            .field("open", &self.turn.is_some())
            .finish()
    }
}

impl SqliteTxn {
    /// The writer connection, refusing to go on once SQLite has rolled the transaction back
    /// (a statement would otherwise run, and commit, on its own).
    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>, DbErr> {
        let conn = lock(&self.writer.conn);
        if conn.is_autocommit() {
            return Err(DbErr::Exec(sea_orm::RuntimeErr::Internal(
                "the write transaction was rolled back".into(),
            )));
        }
        Ok(conn)
    }

    /// Releases the savepoint into the batch and returns once the batch is committed.
    pub(crate) async fn commit(mut self) -> Result<(), DbErr> {
        let Some(mut turn) = self.turn.take() else {
            return Err(lost());
        };
        let released = self
            .conn()
            .and_then(|c| c.execute_batch(RELEASE).map_err(exec_err));
        if let Err(e) = released {
            if let Ok(c) = self.conn() {
                let _ = c.execute_batch(ROLLBACK_TO);
            }
            self.writer.check_aborted(&mut turn);
            self.writer.leave(turn).await;
            return Err(e);
        }
        let Some(batch) = turn.open.as_mut() else {
            return Err(lost());
        };
        batch.writes += 1;
        let (id, done) = (batch.id, batch.done.subscribe());
        self.writer.leave(turn).await;
        self.writer.await_commit(id, done).await
    }
}

impl Drop for SqliteTxn {
    fn drop(&mut self) {
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        if let Ok(c) = self.conn() {
            if let Err(e) = c.execute_batch(ROLLBACK_TO) {
                tracing::warn!(error = %e, "SQLite rollback to savepoint failed");
            }
        }
        self.writer.check_aborted(&mut turn);
        self.writer.leave_blocking(turn);
    }
}
