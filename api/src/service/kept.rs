//! Connections the read path keeps between its statements.
//!
//! A connection the driver's pool gets back is tested before it is returned: the pool
//! spawns a task that pings it (on PostgreSQL a `Sync` round trip, on SQLite a command to
//! the connection's thread and back), so that a connection left mid-statement by a
//! cancelled future never reaches the next user. For the read path that doubled the round
//! trips of every statement, and the ping's wake-ups and system calls were a tenth of the
//! server's CPU on the ambassador query.
//!
//! A read whose statement ran to the end leaves its connection in a clean state, so it
//! gives the connection to its reader's [`Kept`] instead, and the next read takes it from
//! there without the pool. A read that did not finish (an error, a cancelled request)
//! drops its connection, and the pool tests it as before. The rules that keep the pool's
//! other users served:
//! - at most [`Kept::cap`] connections go from read to read outside the pool (kept idle,
//!   handed over, or in use by a read that had one so), fewer than the pool has (none for
//!   a pool of one): the others go back to the pool, whose queue serves writes, the health
//!   probe and reads in turn, as before;
//! - a read that finds no connection kept or idle waits for whichever comes first: the
//!   pool's next connection, or one a finishing read hands it (reads waiting so are served
//!   in order, before anything is kept), so no read waits behind connections kept idle;
//! - a connection kept longer than the pool lets a connection idle before it pings it
//!   ([`IDLE_BEFORE_TEST`]) goes back to the pool to be tested instead of being used, and
//!   one that has gone from read to read for [`CIRCULATE_AT_MOST`] goes back to the pool
//!   (which closes connections past their lifetime) when its read ends.
//!
//! On PostgreSQL each HTTP worker has a pool and a reader of its own (`startup`), so the
//! connections a worker keeps are driven by its own thread, as its pool's are.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::future::Either;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Database, Pool, Postgres, Sqlite};
use tokio::sync::oneshot;

/// How long a connection may sit idle before the pool pings it on its way out (see
/// `db::connect`); a connection kept longer is handed back to the pool instead.
pub const IDLE_BEFORE_TEST: Duration = Duration::from_secs(30);

/// How long a connection may go from read to read before it goes back to the pool.
pub const CIRCULATE_AT_MOST: Duration = Duration::from_secs(300);

/// Connections kept by a reader, of either database (a reader's pool is of one).
pub struct Kept {
    postgres: Mutex<Stack<Postgres>>,
    sqlite: Mutex<Stack<Sqlite>>,
    cap: usize,
    /// Connections outside the pool through this (kept, handed over, or in use by a read
    /// that had one from here): at most `cap`.
    out: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("cap", &self.cap)
            .field("kept", &self.len())
            .field("out", &self.out())
            .finish_non_exhaustive()
    }
}

/// A connection counted in [`Kept`]'s `out` while it lives, since `since`.
struct Counted {
    out: Arc<AtomicUsize>,
    since: Instant,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.out.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection for one read: from the pool, or from a [`Kept`] (then counted there until
/// it goes back to the pool). Dropped, its connection goes back to the pool (tested).
pub struct Lease<DB: Database> {
    conn: PoolConnection<DB>,
    counted: Option<Counted>,
}

impl<DB: Database> Lease<DB> {
    /// A connection from the pool, not counted.
    #[must_use]
    pub fn pooled(conn: PoolConnection<DB>) -> Self {
        Self { conn, counted: None }
    }
}

impl<DB: Database> Deref for Lease<DB> {
    type Target = PoolConnection<DB>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Lease<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// The connections of one database that a [`Kept`] holds, and the reads waiting for one.
struct Stack<DB: Database> {
    idle: Vec<(Instant, Lease<DB>)>,
    waiting: VecDeque<oneshot::Sender<Lease<DB>>>,
}

impl<DB: Database> Default for Stack<DB> {
    fn default() -> Self {
        Self { idle: Vec::new(), waiting: VecDeque::new() }
    }
}

/// A database whose connections a [`Kept`] holds.
#[allow(private_interfaces)]
pub trait Keep: Database {
    /// The connections of this database in `kept`.
    fn stack(kept: &Kept) -> &Mutex<Stack<Self>>;
}

#[allow(private_interfaces)]
impl Keep for Postgres {
    fn stack(kept: &Kept) -> &Mutex<Stack<Self>> {
        &kept.postgres
    }
}

#[allow(private_interfaces)]
impl Keep for Sqlite {
    fn stack(kept: &Kept) -> &Mutex<Stack<Self>> {
        &kept.sqlite
    }
}

/// The stack, even if a panic elsewhere poisoned its lock (it holds no invariant a panic
/// could break halfway).
fn lock<DB: Keep>(kept: &Kept) -> MutexGuard<'_, Stack<DB>> {
    DB::stack(kept).lock().unwrap_or_else(PoisonError::into_inner)
}

impl Kept {
    /// Keeps up to half of a pool of `max_connections` (rounded up), always leaving the
    /// pool at least one: none for a pool of one.
    #[must_use]
    pub fn for_pool(max_connections: u32) -> Self {
        let max = usize::try_from(max_connections).unwrap_or(usize::MAX);
        Self::with_cap(max.div_ceil(2).min(max.saturating_sub(1)))
    }

    /// Keeps up to `cap` connections.
    #[must_use]
    pub fn with_cap(cap: usize) -> Self {
        Self { postgres: Mutex::default(), sqlite: Mutex::default(), cap, out: Arc::default() }
    }

    /// How many connections may be outside the pool through this.
    #[must_use]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// How many connections are kept idle now.
    #[must_use]
    pub fn len(&self) -> usize {
        lock::<Postgres>(self).idle.len() + lock::<Sqlite>(self).idle.len()
    }

    /// Whether no connection is kept idle.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many connections are outside the pool through this (kept, handed over, in use).
    #[must_use]
    pub fn out(&self) -> usize {
        self.out.load(Ordering::Acquire)
    }

    /// A kept connection, the last one given back; one kept too long goes back to the pool
    /// (which tests it) and the next is looked at.
    pub fn take<DB: Keep>(&self) -> Option<Lease<DB>> {
        self.take_at(Instant::now())
    }

    fn take_at<DB: Keep>(&self, now: Instant) -> Option<Lease<DB>> {
        let mut stale = Vec::new();
        let taken = take_fresh(&mut lock::<DB>(self), now, &mut stale);
        drop(stale);
        taken
    }

    /// A connection for a read: a kept one, or an idle one of `pool`, or whichever comes
    /// first of the next `pool` gives out and one a finishing read hands over (see
    /// [`Kept::give_back`]).
    ///
    /// # Errors
    /// The pool's: it timed out or is closed.
    pub async fn connection<DB: Keep>(&self, pool: &Pool<DB>) -> Result<Lease<DB>, sea_orm::sqlx::Error> {
        if let Some(lease) = self.take().or_else(|| pool.try_acquire().map(Lease::pooled)) {
            return Ok(lease);
        }
        self.acquire(pool).await
    }

    /// Whichever comes first: the next connection `pool` gives out, or one a finishing read
    /// hands over; the pool's own when it may open one. Boxed: the pool's `acquire` future
    /// is large (see `fetch`).
    ///
    /// # Errors
    /// The pool's: it timed out or is closed.
    pub async fn acquire<DB: Keep>(&self, pool: &Pool<DB>) -> Result<Lease<DB>, sea_orm::sqlx::Error> {
        // While the pool may open a connection, the next is the one it opens: the race
        // below would drop an opening connection whenever a read hands one over first, and
        // the database would start a session for every statement.
        if pool.size() < pool.options().get_max_connections() {
            return Box::pin(pool.acquire()).await.map(Lease::pooled);
        }
        let (handed, mut receiver) = oneshot::channel();
        let mut stale = Vec::new();
        {
            let mut stack = lock::<DB>(self);
            // One kept since this read last looked (by another thread) is taken now.
            if let Some(lease) = take_fresh(&mut stack, Instant::now(), &mut stale) {
                return Ok(lease);
            }
            stack.waiting.push_back(handed);
        }
        drop(stale);
        let acquired = Box::pin(pool.acquire());
        match futures::future::select(&mut receiver, acquired).await {
            Either::Left((Ok(lease), _)) => Ok(lease),
            // Not handed one (its sender was dropped): the pool's, then.
            Either::Left((Err(_), acquired)) => acquired.await.map(Lease::pooled),
            Either::Right((acquired, _)) => {
                // A connection handed over meanwhile is not lost: used if the pool failed,
                // else given back.
                receiver.close();
                match (receiver.try_recv(), acquired) {
                    (Ok(lease), Err(_)) => Ok(lease),
                    (Ok(lease), Ok(conn)) => {
                        self.give_back(lease);
                        Ok(Lease::pooled(conn))
                    }
                    (Err(_), acquired) => acquired.map(Lease::pooled),
                }
            }
        }
    }

    /// Gives back `lease`, whose read ran to the end: handed to the read that has waited
    /// longest, else kept, while fewer than the cap are out through this; else (and when
    /// it has gone from read to read for [`CIRCULATE_AT_MOST`]) returned to the pool.
    pub fn give_back<DB: Keep>(&self, lease: Lease<DB>) {
        self.give_back_at(lease, Instant::now());
    }

    fn give_back_at<DB: Keep>(&self, lease: Lease<DB>, now: Instant) {
        let Lease { conn, counted } = lease;
        let mut stack = lock::<DB>(self);
        let counted = match counted {
            Some(counted) if now.saturating_duration_since(counted.since) < CIRCULATE_AT_MOST => counted,
            Some(_) => return,
            // Counted under the lock: no two threads take the last place.
            None if self.out.load(Ordering::Acquire) < self.cap => {
                self.out.fetch_add(1, Ordering::AcqRel);
                Counted { out: self.out.clone(), since: now }
            }
            None => return,
        };
        let mut lease = Lease { conn, counted: Some(counted) };
        while let Some(waiter) = stack.waiting.pop_front() {
            match waiter.send(lease) {
                Ok(()) => return,
                // That read is gone, or was served by the pool.
                Err(back) => lease = back,
            }
        }
        stack.idle.push((now, lease));
    }
}

/// The last connection kept in `stack` if it has not been idle too long; those that have
/// are put in `stale`, to be dropped (back to the pool) once the lock is let go.
fn take_fresh<DB: Keep>(stack: &mut Stack<DB>, now: Instant, stale: &mut Vec<Lease<DB>>) -> Option<Lease<DB>> {
    loop {
        match stack.idle.pop() {
            Some((since, lease)) if now.saturating_duration_since(since) < IDLE_BEFORE_TEST => return Some(lease),
            Some((_, lease)) => stale.push(lease),
            None => return None,
        }
    }
}

/// Outside a runtime (a worker's thread ending after its runtime) a connection cannot go
/// back to its pool: the driver would spawn the task that tests it, and panic for want of
/// a runtime. Such connections are let go without it: the process or the pool is ending.
impl Drop for Kept {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        let postgres = std::mem::take(&mut self.postgres.get_mut().unwrap_or_else(PoisonError::into_inner).idle);
        let sqlite = std::mem::take(&mut self.sqlite.get_mut().unwrap_or_else(PoisonError::into_inner).idle);
        postgres.into_iter().for_each(|(_, lease)| std::mem::forget(lease.conn));
        sqlite.into_iter().for_each(|(_, lease)| std::mem::forget(lease.conn));
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    async fn pool(max: u32) -> Pool<Sqlite> {
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(SqliteConnectOptions::new().in_memory(true))
            .await
            .expect("a pool")
    }

    /// Done within a second, or the test fails (the pool's own wait is thirty).
    async fn soon<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(1), future).await.expect("done at once, not after a wait")
    }

    #[test]
    fn keeps_half_a_pool_and_always_leaves_it_one() {
        assert_eq!(Kept::for_pool(0).cap(), 0);
        assert_eq!(Kept::for_pool(1).cap(), 0);
        assert_eq!(Kept::for_pool(2).cap(), 1);
        assert_eq!(Kept::for_pool(5).cap(), 3);
        assert_eq!(Kept::for_pool(10).cap(), 5);
    }

    #[tokio::test]
    async fn a_connection_given_back_is_taken_again_without_the_pool() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let lease = kept.connection(&pool).await.expect("a connection");
        kept.give_back(lease);
        assert_eq!((kept.len(), kept.out()), (1, 1));
        assert_eq!((pool.size(), pool.num_idle()), (1, 0), "kept, not back in the pool");
        let again = kept.connection(&pool).await.expect("a connection");
        assert!(kept.is_empty());
        assert_eq!(pool.size(), 1, "the same connection: the pool opened no other");
        drop(again);
        assert_eq!(kept.out(), 0, "a dropped lease is no longer counted");
    }

    #[tokio::test]
    async fn never_more_than_the_cap_out_and_the_pool_keeps_the_rest() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let mut leases = Vec::new();
        for _ in 0..4 {
            leases.push(kept.connection(&pool).await.expect("a connection"));
        }
        leases.into_iter().for_each(|lease| kept.give_back(lease));
        assert_eq!((kept.len(), kept.out()), (2, 2));
        // The pool's other users still get connections.
        let other = soon(pool.acquire()).await;
        assert!(other.is_ok(), "a connection left in the pool");
    }

    #[tokio::test]
    async fn a_read_waiting_for_the_pool_is_handed_the_next_connection_given_back() {
        let pool = pool(2).await;
        let kept = Kept::for_pool(2);
        let first = kept.connection(&pool).await.expect("a connection");
        let second = kept.connection(&pool).await.expect("a connection");
        // A third read waits for the pool (for thirty seconds); the first finishes meanwhile.
        let (third, ()) = soon(async {
            tokio::join!(kept.connection(&pool), async {
                tokio::task::yield_now().await;
                kept.give_back(first);
            })
        })
        .await;
        let third = third.expect("handed over");
        assert!(kept.is_empty(), "handed over, not kept");
        assert_eq!((pool.size(), kept.out()), (2, 1));
        drop((second, third));
    }

    #[tokio::test]
    async fn writes_waiting_for_the_pool_are_served_while_reads_wait_too() {
        let pool = pool(2).await;
        let kept = Kept::for_pool(2);
        let first = kept.connection(&pool).await.expect("a connection");
        let second = kept.connection(&pool).await.expect("a connection");
        // A read and then a write wait; both reads finish. The cap (one) lets one
        // connection go from read to read; the other goes back to the pool, to the write.
        let (read, write, ()) = soon(async {
            tokio::join!(kept.connection(&pool), pool.acquire(), async {
                tokio::task::yield_now().await;
                kept.give_back(first);
                kept.give_back(second);
            })
        })
        .await;
        assert!(read.is_ok() && write.is_ok(), "{:?} {:?}", read.err(), write.err());
    }

    #[tokio::test]
    async fn a_connection_kept_too_long_goes_back_to_the_pool() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let lease = kept.connection(&pool).await.expect("a connection");
        let now = Instant::now();
        kept.give_back_at(lease, now);
        assert_eq!(kept.len(), 1);
        assert!(kept.take_at::<Sqlite>(now + IDLE_BEFORE_TEST * 2).is_none(), "too old to use untested");
        assert!(kept.is_empty());
        assert_eq!(kept.out(), 0);
        let fresh = kept.connection(&pool).await.expect("a connection");
        kept.give_back_at(fresh, now);
        assert!(kept.take_at::<Sqlite>(now).is_some());
    }

    #[tokio::test]
    async fn a_connection_that_went_from_read_to_read_too_long_goes_back_to_the_pool() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let lease = kept.connection(&pool).await.expect("a connection");
        let now = Instant::now();
        kept.give_back_at(lease, now);
        let again = kept.take_at::<Sqlite>(now).expect("kept");
        kept.give_back_at(again, now + CIRCULATE_AT_MOST);
        assert_eq!((kept.len(), kept.out()), (0, 0), "back to the pool");
    }

    #[test]
    fn connections_kept_when_no_runtime_is_left_are_let_go_without_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let kept = runtime.block_on(async {
            let pool = pool(4).await;
            let kept = Kept::for_pool(4);
            let lease = kept.connection(&pool).await.expect("a connection");
            kept.give_back(lease);
            kept
        });
        drop(runtime);
        assert_eq!(kept.len(), 1);
        drop(kept);
    }
}
