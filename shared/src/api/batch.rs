//! Coalesced writes. Mixpanel's write routes take lists (users to add to projects, to teams,
//! invitations, ...), and Terraform applies up to ten resources at once: calls of the same
//! route with the same key (organization, role, projects...) that arrive within a short window
//! go as one request, and each caller gets its own outcome; so do the calls that arrive while
//! a request of their key is in flight (Terraform starts its next resources one by one).
//!
//! - A batch that succeeds answers every caller with success.
//! - A batch that fails is sent again item by item, so that each caller gets the diagnostic of
//!   its own item (one bad e-mail does not fail nine good grants).
//! - Except where the route creates something new and the outcome is unknown
//!   ([`ApiError::MaybeApplied`]): then nothing is sent again, and every caller is told to check.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::error::ApiError;

type Waiter = oneshot::Sender<Result<(), ApiError>>;

struct Queue<I> {
    /// A request of this key is being sent (its task takes what queues meanwhile).
    sending: bool,
    items: Vec<(I, Waiter)>,
}

/// Coalesces the items submitted under the same key, as a database's group commit does: the
/// first item waits for its peers until a `window` passes with none arriving (ten windows at
/// most) and goes; items that arrive while a request of their key is in flight queue and go
/// together as the next request, at most `cap` at a time. Alone, a write waits one window;
/// under load, one request carries what one round trip gathered.
pub struct Batcher<K, I> {
    window: Duration,
    cap: usize,
    queues: Arc<Mutex<HashMap<K, Queue<I>>>>,
}

impl<K, I> Batcher<K, I>
where
    K: Hash + Eq + Clone + Send + 'static,
    I: Clone + Send + 'static,
{
    pub fn new(window: Duration, cap: usize) -> Self {
        Batcher {
            window,
            cap: cap.max(1),
            queues: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Submits `item` under `key`; `send` sends a batch (a key and its items) as one request.
    /// Resolves when the request that carried the item has an outcome.
    pub async fn submit<F, Fut>(&self, key: K, item: I, send: F) -> Result<(), ApiError>
    where
        F: Fn(K, Vec<I>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queues = self
                .queues
                .lock()
                .map_err(|_| ApiError::Config("write batcher poisoned".into()))?;
            let q = queues.entry(key.clone()).or_insert_with(|| Queue {
                sending: false,
                items: Vec::new(),
            });
            q.items.push((item, tx));
            !std::mem::replace(&mut q.sending, true)
        };
        if start {
            let (queues, window, cap) = (self.queues.clone(), self.window, self.cap);
            tokio::spawn(async move {
                // Wait while peers keep arriving (Terraform starts its next resources one by
                // one), a window at a time, for at most ten windows.
                let mut seen = 0;
                for _ in 0..10 {
                    tokio::time::sleep(window).await;
                    let now = queues
                        .lock()
                        .ok()
                        .and_then(|q| q.get(&key).map(|q| q.items.len()))
                        .unwrap_or(0);
                    if now == seen || now >= cap {
                        break;
                    }
                    seen = now;
                }
                loop {
                    let batch = match queues.lock() {
                        Ok(mut queues) => match queues.get_mut(&key) {
                            Some(q) if !q.items.is_empty() => {
                                let n = q.items.len().min(cap);
                                q.items.drain(..n).collect::<Vec<_>>()
                            }
                            _ => {
                                queues.remove(&key);
                                break;
                            }
                        },
                        Err(_) => break,
                    };
                    flush(key.clone(), batch, send.clone()).await;
                }
            });
        }
        rx.await.unwrap_or_else(|_| {
            Err(ApiError::Config(
                "the batched request was dropped before it had an outcome".into(),
            ))
        })
    }
}

/// Sends one batch; on failure, each item alone (unless the outcome is unknown).
async fn flush<K, I, F, Fut>(key: K, items: Vec<(I, Waiter)>, send: F)
where
    K: Clone,
    I: Clone,
    F: Fn(K, Vec<I>) -> Fut,
    Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    let (inputs, waiters): (Vec<I>, Vec<Waiter>) = items.into_iter().unzip();
    tracing::debug!(items = inputs.len(), "sending a batched request");
    let outcome = send(key.clone(), inputs.clone()).await;
    match outcome {
        Ok(()) => {
            for w in waiters {
                let _ = w.send(Ok(()));
            }
        }
        Err(e) if waiters.len() == 1 || matches!(e, ApiError::MaybeApplied { .. }) => {
            for w in waiters {
                let _ = w.send(Err(e.clone()));
            }
        }
        Err(_) => {
            // Concurrently: the client's own limit bounds the requests.
            let singles: Vec<_> = inputs
                .into_iter()
                .map(|i| tokio::spawn(send(key.clone(), vec![i])))
                .collect();
            for (w, single) in waiters.into_iter().zip(singles) {
                let r = single
                    .await
                    .unwrap_or_else(|e| Err(ApiError::local("a batched request failed to run", e)));
                let _ = w.send(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn maybe() -> ApiError {
        ApiError::maybe_applied("add_teams", Some(502), "lost", "list the teams")
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_request_and_each_gets_its_outcome() {
        let b: Arc<Batcher<&'static str, u32>> =
            Arc::new(Batcher::new(Duration::from_millis(20), 100));
        let sent: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let send = {
            let sent = sent.clone();
            move |_k: &'static str, items: Vec<u32>| {
                let sent = sent.clone();
                async move {
                    sent.lock().unwrap().push(items);
                    Ok(())
                }
            }
        };
        let mut tasks = Vec::new();
        for i in 0..40u32 {
            let (b, send) = (b.clone(), send.clone());
            let key = if i % 2 == 0 { "even" } else { "odd" };
            tasks.push(tokio::spawn(async move { b.submit(key, i, send).await }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2, "one request per key: {sent:?}");
        let mut all: Vec<u32> = sent.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn no_request_carries_more_than_the_cap() {
        let b: Arc<Batcher<u8, u32>> = Arc::new(Batcher::new(Duration::from_millis(20), 5));
        let count = Arc::new(AtomicUsize::new(0));
        let send = {
            let count = count.clone();
            move |_k: u8, items: Vec<u32>| {
                let count = count.clone();
                async move {
                    assert_eq!(items.len(), 5);
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            }
        };
        let tasks: Vec<_> = (0..10u32)
            .map(|i| {
                let (b, send) = (b.clone(), send.clone());
                tokio::spawn(async move { b.submit(0, i, send).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn items_arriving_while_a_request_is_in_flight_go_together_next() {
        let b: Arc<Batcher<u8, u32>> = Arc::new(Batcher::new(Duration::from_millis(1), 100));
        let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
        let send = {
            let sizes = sizes.clone();
            move |_k: u8, items: Vec<u32>| {
                let sizes = sizes.clone();
                async move {
                    sizes.lock().unwrap().push(items.len());
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    Ok(())
                }
            }
        };
        let first = {
            let (b, send) = (b.clone(), send.clone());
            tokio::spawn(async move { b.submit(0, 0, send).await })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        // Ten stragglers, each a few milliseconds apart, while the first is in flight.
        let mut rest = Vec::new();
        for i in 1..=10u32 {
            let (b, send) = (b.clone(), send.clone());
            rest.push(tokio::spawn(async move { b.submit(0, i, send).await }));
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        first.await.unwrap().unwrap();
        for t in rest {
            t.await.unwrap().unwrap();
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, 10]);
    }

    #[tokio::test]
    async fn a_failing_batch_is_split_so_each_item_gets_its_own_diagnostic() {
        let b: Arc<Batcher<u8, u32>> = Arc::new(Batcher::new(Duration::from_millis(20), 100));
        let calls: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let send = {
            let calls = calls.clone();
            move |_k: u8, items: Vec<u32>| {
                let calls = calls.clone();
                async move {
                    calls.lock().unwrap().push(items.clone());
                    if items.contains(&3) {
                        Err(ApiError::Invalid {
                            route: "add_users_to_projects",
                            status: 400,
                            message: format!("item 3 is bad (of {})", items.len()),
                        })
                    } else {
                        Ok(())
                    }
                }
            }
        };
        let tasks: Vec<_> = (0..5u32)
            .map(|i| {
                let (b, send) = (b.clone(), send.clone());
                tokio::spawn(async move { (i, b.submit(0, i, send).await) })
            })
            .collect();
        for t in tasks {
            let (i, r) = t.await.unwrap();
            match r {
                Err(ApiError::Invalid { message, .. }) => {
                    assert_eq!(i, 3);
                    assert_eq!(message, "item 3 is bad (of 1)", "its own diagnostic");
                }
                Ok(()) => assert_ne!(i, 3),
                other => panic!("{other:?}"),
            }
        }
        let calls = calls.lock().unwrap();
        assert_eq!(
            calls.len(),
            1 + 5,
            "the batch, then each item alone: {calls:?}"
        );
    }

    #[tokio::test]
    async fn a_maybe_applied_batch_is_never_sent_again() {
        let b: Arc<Batcher<u8, u32>> = Arc::new(Batcher::new(Duration::from_millis(20), 100));
        let count = Arc::new(AtomicUsize::new(0));
        let send = {
            let count = count.clone();
            move |_k: u8, _items: Vec<u32>| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    Err(maybe())
                }
            }
        };
        let tasks: Vec<_> = (0..4u32)
            .map(|i| {
                let (b, send) = (b.clone(), send.clone());
                tokio::spawn(async move { b.submit(0, i, send).await })
            })
            .collect();
        for t in tasks {
            assert!(matches!(
                t.await.unwrap(),
                Err(ApiError::MaybeApplied { .. })
            ));
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "sent once, never split");
    }
}
