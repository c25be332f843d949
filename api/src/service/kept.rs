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
//! - at most [`Kept::cap`] connections are kept, fewer than the pool has (none for a pool
//!   of one): writes, the health probe and reads beyond the cap get the others as before;
//! - a read that finds no connection kept or idle waits for whichever comes first: the
//!   pool's next connection, or one a finishing read hands it (reads waiting so are served
//!   in order, before anything is kept), so no read waits behind connections kept idle;
//! - a connection kept longer than the pool lets a connection idle before it pings it
//!   ([`IDLE_BEFORE_TEST`]) goes back to the pool to be tested instead of being used.
//!
//! On PostgreSQL each HTTP worker has a pool and a reader of its own (`startup`), so the
//! connections a worker keeps are driven by its own thread, as its pool's are.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::Either;
use tokio::sync::oneshot;

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Database, Pool, Postgres, Sqlite};

/// How long a connection may sit idle before the pool pings it on its way out (see
/// `db::connect`); a connection kept longer is handed back to the pool instead.
pub const IDLE_BEFORE_TEST: Duration = Duration::from_secs(30);

/// Connections kept by a reader, of either database (a reader's pool is of one).
pub struct Kept {
    postgres: Mutex<Stack<Postgres>>,
    sqlite: Mutex<Stack<Sqlite>>,
    cap: usize,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("cap", &self.cap).field("kept", &self.len()).finish_non_exhaustive()
    }
}

/// The connections of one database that a [`Kept`] holds, and the reads waiting for one.
struct Stack<DB: Database> {
    idle: Vec<(Instant, PoolConnection<DB>)>,
    waiting: VecDeque<oneshot::Sender<PoolConnection<DB>>>,
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
        Self { postgres: Mutex::default(), sqlite: Mutex::default(), cap }
    }

    /// How many connections may be kept.
    #[must_use]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// How many connections are kept now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.postgres.lock().map_or(0, |s| s.idle.len()) + self.sqlite.lock().map_or(0, |s| s.idle.len())
    }

    /// Whether no connection is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A kept connection, the last one given back; one kept too long goes back to the pool
    /// (which tests it) and the next is looked at.
    pub fn take<DB: Keep>(&self) -> Option<PoolConnection<DB>> {
        self.take_at(Instant::now())
    }

    fn take_at<DB: Keep>(&self, now: Instant) -> Option<PoolConnection<DB>> {
        let mut stale = Vec::new();
        let taken = {
            let mut stack = DB::stack(self).lock().ok()?;
            loop {
                match stack.idle.pop() {
                    Some((since, conn)) if now.saturating_duration_since(since) < IDLE_BEFORE_TEST => break Some(conn),
                    Some((_, conn)) => stale.push(conn),
                    None => break None,
                }
            }
        };
        drop(stale);
        taken
    }

    /// A connection for a read: a kept one, or an idle one of `pool`, or whichever comes
    /// first of the next `pool` gives out and one a finishing read hands over (see
    /// [`Kept::give_back`]).
    ///
    /// # Errors
    /// The pool's: it timed out or is closed.
    pub async fn connection<DB: Keep>(&self, pool: &Pool<DB>) -> Result<PoolConnection<DB>, sea_orm::sqlx::Error> {
        if let Some(conn) = self.take().or_else(|| pool.try_acquire()) {
            return Ok(conn);
        }
        self.acquire(pool).await
    }

    /// Whichever comes first: the next connection `pool` gives out, or one a finishing read
    /// hands over; the pool's own when it may open one. Boxed: the pool's `acquire` future
    /// is large (see `fetch`).
    ///
    /// # Errors
    /// The pool's: it timed out or is closed.
    pub async fn acquire<DB: Keep>(&self, pool: &Pool<DB>) -> Result<PoolConnection<DB>, sea_orm::sqlx::Error> {
        // While the pool may open a connection, the next is the one it opens: the race
        // below would drop an opening connection whenever a read hands one over first, and
        // the database would start a session for every statement.
        if pool.size() < pool.options().get_max_connections() {
            return Box::pin(pool.acquire()).await;
        }
        let (handed, mut receiver) = oneshot::channel();
        if let Ok(mut stack) = DB::stack(self).lock() {
            stack.waiting.push_back(handed);
        }
        let acquired = Box::pin(pool.acquire());
        match futures::future::select(&mut receiver, acquired).await {
            Either::Left((Ok(conn), _)) => Ok(conn),
            // Not handed one (its sender was dropped): the pool's, then.
            Either::Left((Err(_), acquired)) => acquired.await,
            Either::Right((acquired, _)) => {
                // A connection handed over meanwhile is not lost.
                receiver.close();
                if let Ok(conn) = receiver.try_recv() {
                    self.give_back(conn);
                }
                acquired
            }
        }
    }

    /// Gives back `conn`, whose read ran to the end: handed to the read that has waited
    /// longest, else kept when there is room, else returned to the pool.
    pub fn give_back<DB: Keep>(&self, conn: PoolConnection<DB>) {
        self.give_back_at(conn, Instant::now());
    }

    fn give_back_at<DB: Keep>(&self, mut conn: PoolConnection<DB>, now: Instant) {
        let Ok(mut stack) = DB::stack(self).lock() else { return };
        while let Some(waiter) = stack.waiting.pop_front() {
            match waiter.send(conn) {
                Ok(()) => return,
                // That read is gone, or was served by the pool.
                Err(back) => conn = back,
            }
        }
        if stack.idle.len() < self.cap {
            stack.idle.push((now, conn));
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
        if let Ok(stack) = self.postgres.get_mut() {
            std::mem::take(&mut stack.idle).into_iter().for_each(std::mem::forget);
        }
        if let Ok(stack) = self.sqlite.get_mut() {
            std::mem::take(&mut stack.idle).into_iter().for_each(std::mem::forget);
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    async fn pool(max: u32) -> Pool<Sqlite> {
        SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(SqliteConnectOptions::new().in_memory(true))
            .await
            .expect("a pool")
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
        let conn = kept.connection(&pool).await.expect("a connection");
        kept.give_back(conn);
        assert_eq!(kept.len(), 1);
        assert_eq!((pool.size(), pool.num_idle()), (1, 0), "kept, not back in the pool");
        let again = kept.connection(&pool).await.expect("a connection");
        assert!(kept.is_empty());
        assert_eq!(pool.size(), 1, "the same connection: the pool opened no other");
        drop(again);
    }

    #[tokio::test]
    async fn never_more_than_the_cap_and_the_pool_keeps_the_rest() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(kept.connection(&pool).await.expect("a connection"));
        }
        conns.into_iter().for_each(|conn| kept.give_back(conn));
        assert_eq!(kept.len(), 2);
        // The pool's other users still get connections.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let other = tokio::time::timeout(Duration::from_secs(5), pool.acquire()).await;
        assert!(other.is_ok_and(|c| c.is_ok()), "a connection left in the pool");
    }

    #[tokio::test]
    async fn a_read_waiting_for_the_pool_is_handed_the_next_connection_given_back() {
        let pool = pool(2).await;
        let kept = Kept::for_pool(2);
        let first = kept.connection(&pool).await.expect("a connection");
        let second = kept.connection(&pool).await.expect("a connection");
        // A third read waits for the pool; the first finishes meanwhile.
        let (third, ()) = tokio::join!(kept.connection(&pool), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            kept.give_back(first);
        });
        assert!(third.is_ok(), "the waiting read got the connection: {third:?}");
        assert!(kept.is_empty(), "handed over, not kept");
        assert_eq!(pool.size(), 2);
        drop(second);
    }

    #[tokio::test]
    async fn a_connection_kept_too_long_goes_back_to_the_pool() {
        let pool = pool(4).await;
        let kept = Kept::for_pool(4);
        let conn = kept.connection(&pool).await.expect("a connection");
        let long_ago = Instant::now().checked_sub(IDLE_BEFORE_TEST * 2).expect("an instant long ago");
        kept.give_back_at(conn, long_ago);
        assert_eq!(kept.len(), 1);
        assert!(kept.take::<Sqlite>().is_none(), "too old to use untested");
        assert!(kept.is_empty());
        let fresh = kept.connection(&pool).await.expect("a connection");
        kept.give_back(fresh);
        assert!(kept.take_at::<Sqlite>(Instant::now()).is_some());
    }

    #[test]
    fn connections_kept_when_no_runtime_is_left_are_let_go_without_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let kept = runtime.block_on(async {
            let pool = pool(4).await;
            let kept = Kept::for_pool(4);
            let conn = kept.connection(&pool).await.expect("a connection");
            kept.give_back(conn);
            kept
        });
        drop(runtime);
        assert_eq!(kept.len(), 1);
        drop(kept);
    }
}
