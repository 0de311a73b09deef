//! The write side of the SQLite driver: one writer connection, this process's write turn, and
//! group commit by a committer thread.
//!
//! Each write transaction of the store is a savepoint inside a longer SQLite transaction (a
//! batch). When a writer is done and nobody is waiting for the turn (or the batch is full or
//! old), it hands the turn, with the batch, to the committer thread: one `COMMIT`, one `fsync`,
//! for every write in it. A write is answered only after the batch holding it is committed, so
//! durability is that of a commit per write (`synchronous = FULL`), at a fraction of the
//! `fsync`s. A write that fails rolls back to its savepoint and leaves the others alone; a
//! batch whose `COMMIT` fails reports the error to every write in it.
//!
//! Why a thread of its own: no request's cancellation can strand a batch. Whatever futures are
//! dropped (the writer that should commit, the ones waiting for that commit, the one that was
//! next in turn), a batch that is open when nobody holds the turn is committed by the committer
//! within [`MAX_AGE`], so SQLite's write lock is never held for nobody; and no `COMMIT` (an
//! `fsync`) runs on an actix worker, not even from a `Drop`. `BEGIN IMMEDIATE` that has to wait
//! for another process's write lock waits on a blocking thread, not on the worker.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use rusqlite::Connection;
use sea_orm::DbErr;
use tokio::sync::{watch, Mutex as AsyncMutex, OwnedMutexGuard};

use super::{exec_err, BUSY_TIMEOUT};
use crate::lock;

/// A batch is committed once it holds this many writes, even with writers waiting.
const MAX_WRITES: usize = 64;
/// ... or once it has been open this long; the committer commits a batch left open this long
/// with nobody in turn.
const MAX_AGE: Duration = Duration::from_millis(4);

const SAVEPOINT: &str = "SAVEPOINT scimd_write";
const RELEASE: &str = "RELEASE scimd_write";
const ROLLBACK_TO: &str = "ROLLBACK TO scimd_write; RELEASE scimd_write";

/// The outcome of a batch's `COMMIT`, shared by its writes.
type Outcome = Option<Result<(), Arc<str>>>;

/// The writer connection and the turn that guards it.
#[derive(Clone)]
pub(crate) struct Writer {
    turn: Arc<AsyncMutex<Batching>>,
    pub(super) conn: Arc<Mutex<Connection>>,
    waiting: Arc<AtomicUsize>,
    committer: mpsc::Sender<Job>,
    /// A [`Job::Watch`] is pending: the committer is woken once per batch, not once per write.
    watching: Arc<AtomicBool>,
}

/// State guarded by the turn.
#[derive(Default)]
pub(crate) struct Batching {
    open: Option<Batch>,
}

struct Batch {
    started: Instant,
    /// Writes released into the batch, waiting for its commit.
    writes: usize,
    done: watch::Sender<Outcome>,
}

type Turn = OwnedMutexGuard<Batching>;

/// What the committer thread is asked to do.
enum Job {
    /// Commit the batch of this turn, then hand the turn on.
    Commit(Turn),
    /// A batch was left open with writers in line: commit it if it is still open, with nobody
    /// in turn, in [`MAX_AGE`].
    Watch,
}

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
    /// The writer on `conn`, with its committer thread (which ends with the last handle).
    pub(crate) fn new(conn: Connection) -> Result<Self, DbErr> {
        // The writer never sleeps in SQLite's busy handler on the caller's thread: a busy
        // `BEGIN IMMEDIATE` is retried on a blocking thread (see `begin`).
        conn.busy_timeout(Duration::ZERO).map_err(exec_err)?;
        let turn = Arc::new(AsyncMutex::new(Batching::default()));
        let conn = Arc::new(Mutex::new(conn));
        let (committer, jobs) = mpsc::channel();
        let watching = Arc::new(AtomicBool::new(false));
        {
            let (turn, conn, watching) = (turn.clone(), conn.clone(), watching.clone());
            std::thread::Builder::new()
                .name("sqlite-committer".into())
                .spawn(move || run_committer(&jobs, &turn, &conn, &watching))
                .map_err(|e| DbErr::Custom(format!("cannot start the SQLite committer: {e}")))?;
        }
        Ok(Self {
            turn,
            conn,
            waiting: Arc::new(AtomicUsize::new(0)),
            committer,
            watching,
        })
    }

    async fn turn(&self) -> Turn {
        let _waiting = Waiting::new(&self.waiting);
        self.turn.clone().lock_owned().await
    }

    /// Begins a write: waits for the turn, joins (or opens) the batch, sets a savepoint. A
    /// `guarded` write takes its request out of the deadline's reach once begun; bookkeeping
    /// (`lastUsedAt`, sessions) does not.
    pub(crate) async fn begin(&self, guarded: bool) -> Result<SqliteTxn, DbErr> {
        let mut turn = self.turn().await;
        if turn.open.is_none() {
            let busy = {
                let conn = lock(&self.conn);
                if !conn.is_autocommit() {
                    // A transaction no batch accounts for (its COMMIT never ran): nothing of it
                    // was acknowledged, so it is rolled back.
                    tracing::warn!("rolling back a leftover SQLite transaction");
                    let _ = conn.execute_batch("ROLLBACK");
                }
                // Takes SQLite's write lock now: another process writing makes it wait.
                match control(&conn, "BEGIN IMMEDIATE") {
                    Ok(()) => false,
                    Err(e) if is_busy(&e) => true,
                    Err(e) => return Err(exec_err(e)),
                }
            };
            if busy {
                turn = self.begin_waiting(turn).await?;
            } else {
                open_batch(&mut turn);
            }
        }
        let saved = control(&lock(&self.conn), SAVEPOINT).map_err(exec_err);
        match saved {
            Ok(()) => {
                let txn = SqliteTxn {
                    turn: Some(turn),
                    writer: self.clone(),
                };
                // Begun: from here on the request's deadline waits for this write (or, past
                // the deadline already, the write is rolled back before it did anything).
                if guarded {
                    crate::deadline::enter_write()?;
                }
                Ok(txn)
            }
            Err(e) => {
                self.check_aborted(&mut turn);
                self.leave(turn);
                Err(e)
            }
        }
    }

    /// `BEGIN IMMEDIATE` while another process holds the write lock: waits for it (SQLite's
    /// busy timeout) on a blocking thread. The thread owns the turn: if the caller goes away,
    /// the batch it opened is left to the committer, never a transaction nobody accounts for.
    async fn begin_waiting(&self, mut turn: Turn) -> Result<Turn, DbErr> {
        let writer = self.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let began = {
                let conn = lock(&writer.conn);
                let _ = conn.busy_timeout(BUSY_TIMEOUT);
                let began = control(&conn, "BEGIN IMMEDIATE").map_err(exec_err);
                let _ = conn.busy_timeout(Duration::ZERO);
                began
            };
            match began {
                Ok(()) => {
                    open_batch(&mut turn);
                    // Committed by the committer if nobody joins it.
                    writer.watch();
                    Ok(turn)
                }
                Err(e) => Err(e),
            }
        })
        .await;
        waited.map_err(|e| DbErr::Custom(format!("the SQLite writer's thread failed: {e}")))?
    }

    /// Whether the batch is due for its commit when the turn is handed on.
    fn due(&self, turn: &Turn) -> bool {
        turn.open.as_ref().is_some_and(|b| {
            self.waiting.load(Ordering::SeqCst) == 0
                || b.writes >= MAX_WRITES
                || b.started.elapsed() >= MAX_AGE
        })
    }

    /// Hands the turn on: to the committer when the batch is due (it commits, then hands the
    /// turn on), else to the next writer in line, with the committer watching the batch.
    /// Never blocks, never commits on the caller's thread.
    fn leave(&self, turn: Turn) {
        if self.due(&turn) {
            if let Err(mpsc::SendError(Job::Commit(mut turn))) =
                self.committer.send(Job::Commit(turn))
            {
                // No committer thread (it cannot have ended while a handle lives; this is the
                // last resort): commit here.
                commit_batch(&self.conn, &mut turn);
            }
        } else if turn.open.is_some() {
            drop(turn);
            self.watch();
        }
    }

    fn watch(&self) {
        if !self.watching.swap(true, Ordering::SeqCst) {
            let _ = self.committer.send(Job::Watch);
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
}

/// Registers the batch that `BEGIN IMMEDIATE` just opened.
fn open_batch(turn: &mut Turn) {
    turn.open = Some(Batch {
        started: Instant::now(),
        writes: 0,
        done: watch::channel(None).0,
    });
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// The committer thread: commits the batches handed to it, and any batch left open with
/// nobody in turn. Ends when the last [`Writer`] handle is gone, committing what is open.
fn run_committer(
    jobs: &mpsc::Receiver<Job>,
    turn: &Arc<AsyncMutex<Batching>>,
    conn: &Mutex<Connection>,
    watching: &AtomicBool,
) {
    let mut check_at: Option<Instant> = None;
    loop {
        let job = match check_at {
            Some(at) => jobs.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => jobs
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match job {
            Ok(Job::Commit(mut turn)) => commit_batch(conn, &mut turn),
            Ok(Job::Watch) => {
                check_at.get_or_insert_with(|| Instant::now() + MAX_AGE);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                check_at = None;
                match turn.clone().try_lock_owned() {
                    Ok(mut turn) => {
                        // Cleared under the turn: a writer leaving later asks again.
                        watching.store(false, Ordering::SeqCst);
                        commit_batch(conn, &mut turn);
                    }
                    // A writer is in turn: it hands the batch on when it leaves; look again.
                    Err(_) => check_at = Some(Instant::now() + MAX_AGE),
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Ok(mut turn) = turn.clone().try_lock_owned() {
                    commit_batch(conn, &mut turn);
                }
                return;
            }
        }
    }
}

/// Commits the open batch of `turn`, if any, and tells its writers the outcome.
fn commit_batch(conn: &Mutex<Connection>, turn: &mut Turn) {
    if let Some(batch) = turn.open.take() {
        let outcome = commit_now(&lock(conn));
        batch.done.send_replace(Some(outcome));
    }
}

fn lost() -> DbErr {
    DbErr::Exec(sea_orm::RuntimeErr::Internal(
        "the write batch ended without an outcome".into(),
    ))
}

/// Runs one transaction-control statement (`BEGIN IMMEDIATE`, `SAVEPOINT`, `RELEASE`,
/// `COMMIT`) prepared once per connection: `execute_batch` parsed each again on every write,
/// ~3,000–4,000 instructions per write that shared no commit (callgrind, docs/PERFORMANCE.md).
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// `COMMIT`; on failure, `ROLLBACK` (if SQLite has not already) and the error's text.
fn commit_now(conn: &Connection) -> Result<(), Arc<str>> {
    match control(conn, "COMMIT") {
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

    /// Releases the savepoint into the batch and returns once the batch is committed. The
    /// commit does not depend on this future: dropped while it waits, the write is still
    /// committed with its batch (it was released into it), only not acknowledged.
    pub(crate) async fn commit(mut self) -> Result<(), DbErr> {
        let Some(mut turn) = self.turn.take() else {
            return Err(lost());
        };
        let released = self
            .conn()
            .and_then(|c| control(&c, RELEASE).map_err(exec_err));
        if let Err(e) = released {
            if let Ok(c) = self.conn() {
                let _ = c.execute_batch(ROLLBACK_TO);
            }
            self.writer.check_aborted(&mut turn);
            self.writer.leave(turn);
            return Err(e);
        }
        let Some(batch) = turn.open.as_mut() else {
            return Err(lost());
        };
        batch.writes += 1;
        let mut done = batch.done.subscribe();
        self.writer.leave(turn);
        let outcome = done.wait_for(Option::is_some).await.map(|o| o.clone());
        match outcome {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(msg))) => Err(DbErr::Exec(sea_orm::RuntimeErr::Internal(msg.to_string()))),
            Ok(None) | Err(_) => Err(lost()),
        }
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
        self.writer.leave(turn);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
    };

    use sea_orm::Statement;

    use super::super::{tests::TempDb, BACKEND};
    use super::*;

    /// Polls `f` once, as a runtime would before the request is cancelled.
    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(f).poll(&mut cx)
    }

    fn insert(v: i64) -> Statement {
        Statement::from_sql_and_values(BACKEND, "INSERT INTO t (v) VALUES (?)", [v.into()])
    }

    async fn setup() -> TempDb {
        let t = TempDb::new(Duration::from_secs(10));
        t.db.execute_unprepared("CREATE TABLE t (v INTEGER)", true)
            .await
            .unwrap();
        t
    }

    fn values(c: &Connection) -> Vec<i64> {
        let mut s = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Waits (at most 2 s) until another connection can take the write lock, and gives it
    /// back; proves that no batch of this process holds it.
    async fn write_lock_is_free(t: &TempDb) {
        let other = t.other();
        let started = Instant::now();
        loop {
            match other.execute_batch("BEGIN IMMEDIATE; ROLLBACK") {
                Ok(()) => return,
                Err(e) if is_busy(&e) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(2),
                        "write lock held"
                    );
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    async fn wait_for_waiting(w: &Writer, n: usize) {
        let started = Instant::now();
        while w.waiting.load(Ordering::SeqCst) != n {
            assert!(started.elapsed() < Duration::from_secs(2));
            tokio::task::yield_now().await;
        }
    }

    /// Cancelled while waiting for the turn: the waiter leaves no trace, the writer in turn
    /// commits as if it had been alone.
    #[tokio::test]
    async fn cancelled_while_waiting_for_the_turn() {
        let t = setup().await;
        let w = &t.db.shared.writer;
        let txn = w.begin(true).await.unwrap();
        txn.execute(&insert(1)).unwrap();
        assert!(poll_once(w.begin(true)).is_pending());
        assert_eq!(w.waiting.load(Ordering::SeqCst), 0);
        txn.commit().await.unwrap();
        assert_eq!(values(&t.other()), [1]);
        write_lock_is_free(&t).await;
    }

    /// The writer that should commit is dropped while it waits for its commit, and the one
    /// next in line is dropped before it got the turn: nobody is left to commit, yet the batch
    /// is committed (its released write is on disk) and SQLite's write lock is given back.
    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_nobody_commits_is_committed_by_the_committer() {
        let t = setup().await;
        let w = t.db.shared.writer.clone();
        let first = w.begin(true).await.unwrap();
        first.execute(&insert(1)).unwrap();
        let next = tokio::spawn({
            let w = w.clone();
            async move {
                let txn = w.begin(true).await.unwrap();
                txn.execute(&insert(2)).unwrap();
                txn.commit().await.unwrap();
            }
        });
        wait_for_waiting(&w, 1).await;
        // Released into the batch; not due (a writer waits), so it waits for a commit, and
        // is dropped; the turn went to `next`, which is dropped before it runs again.
        assert!(poll_once(first.commit()).is_pending());
        next.abort();
        assert!(next.await.unwrap_err().is_cancelled());
        write_lock_is_free(&t).await;
        assert_eq!(values(&t.other()), [1]);
    }

    /// A writer dropped while it holds the turn, with a released write in its batch: the write
    /// is committed, the dropped one's is not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_dropped_in_turn_hands_the_batch_on() {
        let t = setup().await;
        let w = t.db.shared.writer.clone();
        let first = w.begin(true).await.unwrap();
        first.execute(&insert(1)).unwrap();
        let next = tokio::spawn({
            let w = w.clone();
            async move {
                let txn = w.begin(true).await.unwrap();
                txn.execute(&insert(2)).unwrap();
                // Holds the turn until dropped.
                std::future::pending::<()>().await;
                drop(txn);
            }
        });
        wait_for_waiting(&w, 1).await;
        assert!(poll_once(first.commit()).is_pending());
        tokio::time::sleep(Duration::from_millis(20)).await;
        next.abort();
        let _ = next.await;
        write_lock_is_free(&t).await;
        assert_eq!(values(&t.other()), [1], "the dropped turn's write was kept");
    }

    /// Cancelled while `BEGIN IMMEDIATE` waits for another process's write lock: the batch
    /// that thread opens afterwards is committed by the committer, not left holding the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_while_another_process_writes() {
        let t = setup().await;
        let w = t.db.shared.writer.clone();
        let other = t.other();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let begun = tokio::time::timeout(Duration::from_millis(50), w.begin(true)).await;
        assert!(begun.is_err(), "began while another process held the lock");
        other.execute_batch("COMMIT").unwrap();
        // The blocking BEGIN now succeeds; the empty batch is committed by the committer.
        tokio::time::sleep(Duration::from_millis(50)).await;
        write_lock_is_free(&t).await;
        let txn = w.begin(true).await.unwrap();
        txn.execute(&insert(3)).unwrap();
        txn.commit().await.unwrap();
        assert_eq!(values(&other), [3]);
    }

    /// A `COMMIT` that fails (here a deferred foreign key, checked only at `COMMIT`) reaches
    /// every write of its batch, and none of them is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_reaches_every_write_of_its_batch() {
        let t = setup().await;
        t.db.execute_unprepared(
            "CREATE TABLE p (id INTEGER PRIMARY KEY); \
             CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)",
            true,
        )
        .await
        .unwrap();
        let w = t.db.shared.writer.clone();
        let first = w.begin(true).await.unwrap();
        first.execute(&insert(1)).unwrap();
        let second = tokio::spawn({
            let w = w.clone();
            async move {
                let txn = w.begin(true).await?;
                txn.execute(&Statement::from_string(
                    BACKEND,
                    "INSERT INTO c (pid) VALUES (99)",
                ))?;
                txn.commit().await
            }
        });
        wait_for_waiting(&w, 1).await;
        let first = first.commit().await;
        let second = second.await.unwrap();
        for outcome in [&first, &second] {
            let err = outcome.as_ref().unwrap_err();
            assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        }
        assert!(values(&t.other()).is_empty());
        write_lock_is_free(&t).await;
    }

    /// A transaction no batch accounts for (a `COMMIT` that never ran) is rolled back by the
    /// next write, which then commits on its own.
    #[tokio::test]
    async fn a_leftover_transaction_is_rolled_back() {
        let t = setup().await;
        let w = &t.db.shared.writer;
        {
            // The setup's last write may still be handing its turn back: wait for it.
            let turn = w.turn.clone().lock_owned().await;
            assert!(turn.open.is_none());
            lock(&w.conn)
                .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES (7)")
                .unwrap();
        }
        let txn = w.begin(true).await.unwrap();
        txn.execute(&insert(8)).unwrap();
        txn.commit().await.unwrap();
        assert_eq!(values(&t.other()), [8]);
    }

    /// A dropped transaction rolls back to its savepoint; the writes before it in its batch
    /// are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_write_leaves_its_batch_alone() {
        let t = setup().await;
        let w = t.db.shared.writer.clone();
        let first = w.begin(true).await.unwrap();
        first.execute(&insert(1)).unwrap();
        let dropped = tokio::spawn({
            let w = w.clone();
            async move {
                let txn = w.begin(true).await.unwrap();
                txn.execute(&insert(2)).unwrap();
                drop(txn);
            }
        });
        wait_for_waiting(&w, 1).await;
        first.commit().await.unwrap();
        dropped.await.unwrap();
        write_lock_is_free(&t).await;
        assert_eq!(values(&t.other()), [1]);
    }
}
