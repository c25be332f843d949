//! A relation's rows for one request: what a list prefetched, then a DataLoader for the rest.
//!
//! A list resolver prefetches the relations of all its items (see [`prefetch`]) and every
//! item's field then reads its own rows. Through the DataLoader alone, each of those reads
//! (several hundred on the ambassador query) took the loader's lock, looked its typed
//! requests up by `TypeId`, cloned the value into a fresh map and took it out again,
//! hashing the key four times with SipHash. [`Relation`] keeps the prefetched rows in a map
//! of its own (one lookup, a fast hash: the keys are the database's own ids) and goes to
//! the DataLoader, which batches and caches as before, only for keys no list prefetched.
//!
//! [`prefetch`]: super::prefetch

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::service::relations::FastHash;

/// One relation of a request (see the module's documentation).
pub struct Relation<L, K, V> {
    loader: DataLoader<L, HashMapCache<FastHash>>,
    prefetched: Mutex<HashMap<K, V, FastHash>>,
    /// Off for a subscription: each update is read as it is now.
    cache: AtomicBool,
}

impl<L, K, V> Relation<L, K, V>
where
    L: Loader<K, Value = V, Error = async_graphql::Error>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    /// A relation answered by `loader`.
    pub fn new(loader: L) -> Self {
        Self {
            loader: DataLoader::with_cache(loader, tokio::spawn, HashMapCache::<FastHash>::new()),
            prefetched: Mutex::new(HashMap::default()),
            cache: AtomicBool::new(true),
        }
    }

    /// The loader itself (to run a batch directly, for prefetching).
    pub fn loader(&self) -> &L {
        self.loader.loader()
    }

    /// The rows of `key`: prefetched, cached, or loaded with the keys of the same tick.
    ///
    /// The prefetched rows are looked up before the future is made, and the DataLoader's
    /// future (over a kilobyte) is boxed, made only for a key no list prefetched: the
    /// future of every resolver that reads a relation holds this one, and an object's
    /// future is copied when it is boxed (see `graphql::serial`), so a large one here made
    /// every object of a list cost a copy of that size.
    ///
    /// # Errors
    /// The loader's.
    pub fn load_one(&self, key: K) -> impl Future<Output = async_graphql::Result<Option<V>>> + Send + '_ {
        let found = self.prefetched(&key);
        async move {
            match found {
                Some(value) => Ok(Some(value)),
                None => Box::pin(self.loader.load_one(key)).await,
            }
        }
    }

    /// The rows of `keys` (the keys without rows left out).
    ///
    /// # Errors
    /// The loader's.
    pub async fn load_many(&self, keys: impl IntoIterator<Item = K>) -> async_graphql::Result<HashMap<K, V>> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for key in keys {
            match self.prefetched(&key) {
                Some(value) => {
                    found.insert(key, value);
                }
                None => missing.push(key),
            }
        }
        if !missing.is_empty() {
            found.extend(self.loader.load_many(missing).await?);
        }
        Ok(found)
    }

    /// Records rows a list prefetched (nothing when caching is off).
    pub fn feed_many(&self, rows: impl IntoIterator<Item = (K, V)>) {
        if self.cache.load(Ordering::Relaxed) {
            self.lock().extend(rows);
        }
    }

    /// Turns the caches (the prefetched rows and the DataLoader's) on or off.
    pub fn enable_all_cache(&self, enable: bool) {
        self.cache.store(enable, Ordering::Relaxed);
        self.loader.enable_all_cache(enable);
    }

    fn prefetched(&self, key: &K) -> Option<V> {
        if !self.cache.load(Ordering::Relaxed) {
            return None;
        }
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V, FastHash>> {
        // A panic while the map was held cannot leave it half-written (insertions only).
        self.prefetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
