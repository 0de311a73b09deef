//! The request deadline's one rule below HTTP: a request may be abandoned at its deadline only
//! while it has not begun a write transaction. Once a write has begun it runs to its commit
//! (or rollback) and the request answers what happened, so a client that retries a create
//! after a timeout never meets its own committed twin as a `409`.
//!
//! The HTTP edge runs each request inside [`guarded`] with a fresh [`WriteGate`]; the drivers
//! call [`enter_write`] as soon as `BEGIN` has succeeded (before it, a request may be dropped
//! anywhere: waiting for the turn, for a connection, for another process's write lock; just
//! after it, dropping the transaction rolls it back). Whichever comes first wins: the deadline
//! ([`WriteGate::expire`]) or the write.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
};

use sea_orm::DbErr;

const OPEN: u8 = 0;
const WRITING: u8 = 1;
const EXPIRED: u8 = 2;

tokio::task_local! {
    static GATE: Arc<WriteGate>;
}

/// Whether the request it guards has begun a write, or has been given up at its deadline.
#[derive(Debug, Default)]
pub struct WriteGate(AtomicU8);

impl WriteGate {
    /// A gate for one request.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// At the deadline: `true` if the request may be abandoned (it has begun no write, and now
    /// none can begin), `false` if a write has begun and must be waited for.
    pub fn expire(&self) -> bool {
        match self
            .0
            .compare_exchange(OPEN, EXPIRED, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(state) => state == EXPIRED,
        }
    }
}

/// Runs `f` (a request) under `gate`.
pub async fn guarded<F: Future>(gate: Arc<WriteGate>, f: F) -> F::Output {
    GATE.scope(gate, f).await
}

/// Called by the drivers as soon as a write transaction has begun: refuses it when the
/// request's deadline has passed (the caller rolls it back), else marks the request as writing,
/// which takes it out of the deadline's reach. Outside a guarded request (the scheduler, the
/// CLI) every write goes on. Public for tests of the edge.
pub fn enter_write() -> Result<(), DbErr> {
    let refused = GATE
        .try_with(|gate| {
            match gate
                .0
                .compare_exchange(OPEN, WRITING, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => false,
                Err(state) => state == EXPIRED,
            }
        })
        .unwrap_or(false);
    if refused {
        return Err(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_of_deadline_and_write_wins() {
        let gate = WriteGate::new();
        guarded(gate.clone(), async { enter_write().unwrap() }).await;
        assert!(!gate.expire(), "a begun write was abandoned");

        let gate = WriteGate::new();
        assert!(gate.expire());
        assert!(gate.expire(), "expiring twice changed its mind");
        let refused = guarded(gate.clone(), async { enter_write() }).await;
        assert!(refused.is_err(), "a write began after the deadline");

        // Outside a request nothing is refused.
        assert!(enter_write().is_ok());
    }
}
