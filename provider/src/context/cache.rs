//! The per-process read cache. Terraform starts one provider process per walk and reads each
//! resource separately; the first read of a kind lists the whole collection once and every
//! later read of that kind is answered from it.
//!
//! Listings are keyed by the API client's write count when they started: a read is answered
//! only by a listing that started after every write that had an outcome when the read began.
//! So the reads that verify a batch of writes (each resource waiting to see its own change)
//! share one fresh listing, instead of each clearing the cache and listing again.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mixpanel_access::api::ApiError;
use mixpanel_access::model::ProjectId;
use tokio::sync::OnceCell;

/// A collection the provider lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKey {
    OrgUsers,
    Teams,
    ServiceAccounts,
    Projects,
    ProjectServiceAccounts(ProjectId),
    GrantedUsers(ProjectId),
    DefaultAccess(ProjectId),
}

type Slot = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

tokio::task_local! {
    /// Set inside [`ReadCache::any_listing`].
    static ANY_LISTING: ();
}

pub struct ReadCache {
    /// Each listing with the write count it started after.
    slots: Mutex<HashMap<CacheKey, (u64, Slot)>>,
    loads: AtomicU64,
    writes: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache::keyed_by(|| 0)
    }
}

impl ReadCache {
    /// A cache whose listings never go stale (no writes).
    pub fn new() -> ReadCache {
        ReadCache::default()
    }

    /// A cache whose listings are fresh for reads that begin before the next write:
    /// `writes` counts the writes that have had an outcome.
    pub fn keyed_by(writes: impl Fn() -> u64 + Send + Sync + 'static) -> ReadCache {
        ReadCache {
            slots: Mutex::new(HashMap::new()),
            loads: AtomicU64::new(0),
            writes: Box::new(writes),
        }
    }

    /// Runs `read` answering its reads from any listing this process holds, however many
    /// writes it has made since (loading one when it holds none). For a check that needs a
    /// listing taken after the plan, not after this process's own writes: the check a grant
    /// makes before it writes, which a listing of this apply's writes cannot change.
    pub async fn any_listing<F: Future>(read: F) -> F::Output {
        ANY_LISTING.scope((), read).await
    }

    /// The cached collection, loading it once; concurrent callers wait for the one load.
    pub async fn get_or_load<T, F, Fut>(&self, key: CacheKey, load: F) -> Result<Arc<T>, ApiError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let need = match ANY_LISTING.try_with(|_| ()) {
            Ok(()) => 0,
            Err(_) => (self.writes)(),
        };
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| ApiError::Config("read cache poisoned".into()))?;
            match slots.get(&key) {
                Some((started, slot)) if *started >= need => slot.clone(),
                _ => {
                    let slot = Slot::default();
                    slots.insert(key, ((self.writes)(), slot.clone()));
                    slot
                }
            }
        };
        let any = slot
            .get_or_try_init(|| async {
                self.loads.fetch_add(1, Ordering::Relaxed);
                load()
                    .await
                    .map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
            .await?
            .clone();
        any.downcast::<T>()
            .map_err(|_| ApiError::Config(format!("read cache type mismatch for {key:?}")))
    }

    /// Like [`get_or_load`](Self::get_or_load) for a listed collection, indexed by `index`.
    pub async fn get_indexed<K, T, F, Fut>(
        &self,
        key: CacheKey,
        load: F,
        index: fn(&T) -> Option<K>,
    ) -> Result<Arc<Indexed<K, T>>, ApiError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, ApiError>>,
    {
        self.get_or_load(key, || async { Ok(Indexed::new(load().await?, index)) })
            .await
    }

    /// How many loads went to the API (for tests and benchmarks).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

/// A listed collection with an index on one key, so that each of a thousand reads is a lookup
/// instead of a scan of the whole list.
pub struct Indexed<K, T> {
    items: Vec<T>,
    index: HashMap<K, usize>,
}

impl<K: std::hash::Hash + Eq, T> Indexed<K, T> {
    /// Indexes the items that have a key; where two share one, the first wins.
    pub fn new(items: Vec<T>, key: impl Fn(&T) -> Option<K>) -> Self {
        let mut index = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(k) = key(item) {
                index.entry(k).or_insert(i);
            }
        }
        Indexed { items, index }
    }

    pub fn get(&self, key: &K) -> Option<&T> {
        self.index.get(key).map(|&i| &self.items[i])
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_finds_the_first_item_with_a_key() {
        let ix = Indexed::new(
            vec![(1, "a"), (2, "b"), (1, "c"), (0, "none")],
            |&(k, _)| (k > 0).then_some(k),
        );
        assert_eq!(ix.get(&1), Some(&(1, "a")));
        assert_eq!(ix.get(&2), Some(&(2, "b")));
        assert_eq!(ix.get(&0), None);
        assert_eq!(ix.iter().count(), 4);
    }

    #[tokio::test]
    async fn loads_once_until_a_write() {
        let writes = Arc::new(AtomicU64::new(0));
        let cache = ReadCache::keyed_by({
            let w = writes.clone();
            move || w.load(Ordering::SeqCst)
        });
        let calls = AtomicU64::new(0);
        let load = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ApiError>(vec![1, 2, 3])
        };
        let (a, b) = tokio::join!(
            cache.get_or_load(CacheKey::Teams, load),
            cache.get_or_load(CacheKey::Teams, load)
        );
        assert_eq!(*a.unwrap(), vec![1, 2, 3]);
        assert_eq!(*b.unwrap(), vec![1, 2, 3]);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        writes.fetch_add(1, Ordering::SeqCst);
        // Readers after the write share one fresh listing.
        let (a, b) = tokio::join!(
            cache.get_or_load(CacheKey::Teams, load),
            cache.get_or_load(CacheKey::Teams, load)
        );
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        cache.get_or_load(CacheKey::Teams, load).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        // A failed load is not cached.
        let failing = || async { Err::<Vec<i32>, _>(ApiError::Config("boom".into())) };
        assert!(cache
            .get_or_load(CacheKey::OrgUsers, failing)
            .await
            .is_err());
        let v = cache.get_or_load(CacheKey::OrgUsers, load).await.unwrap();
        assert_eq!(v.len(), 3);
    }

    #[tokio::test]
    async fn any_listing_takes_a_listing_older_than_the_last_write() {
        let writes = Arc::new(AtomicU64::new(0));
        let cache = ReadCache::keyed_by({
            let w = writes.clone();
            move || w.load(Ordering::SeqCst)
        });
        let calls = AtomicU64::new(0);
        let load = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ApiError>(vec![1])
        };
        // With no listing held, one is loaded.
        ReadCache::any_listing(cache.get_or_load(CacheKey::Teams, load))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        writes.fetch_add(1, Ordering::SeqCst);
        ReadCache::any_listing(cache.get_or_load(CacheKey::Teams, load))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1, "the older listing served");
        // Outside, the write makes it stale.
        cache.get_or_load(CacheKey::Teams, load).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
