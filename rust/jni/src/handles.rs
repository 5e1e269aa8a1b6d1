//! Opaque handles for Java: ids into a table, never raw pointers, so a closed or forged
//! handle is an exception instead of a use-after-free.

use crate::error::{JniError, Result};
use flinkllm_engine::Error;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Handles<T> {
    next: AtomicI64,
    open: Lazy<Mutex<HashMap<i64, Arc<T>>>>,
}

impl<T> Handles<T> {
    pub const fn new() -> Self {
        Handles { next: AtomicI64::new(1), open: Lazy::new(|| Mutex::new(HashMap::new())) }
    }

    pub fn insert(&self, value: T) -> i64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.table().insert(id, Arc::new(value));
        id
    }

    /// A shared reference that stays valid even if another thread closes the handle meanwhile.
    pub fn get(&self, id: i64) -> Result<Arc<T>> {
        self.table().get(&id).cloned().ok_or_else(|| stale(id))
    }

    pub fn remove(&self, id: i64) -> Result<Arc<T>> {
        self.table().remove(&id).ok_or_else(|| stale(id))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<T>>> {
        // A panic while holding the lock cannot leave the map half-updated: keep using it.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn stale(id: i64) -> JniError {
    JniError::Engine(Error::InvalidHandle(format!("handle {id} is closed or was never opened")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_handles_are_errors() {
        static H: Handles<String> = Handles::new();
        let id = H.insert("x".into());
        assert_eq!(*H.get(id).unwrap(), "x");
        H.remove(id).unwrap();
        assert!(matches!(H.get(id), Err(JniError::Engine(Error::InvalidHandle(_)))));
        assert!(matches!(H.remove(id), Err(JniError::Engine(Error::InvalidHandle(_)))));
        assert!(matches!(H.get(12345), Err(JniError::Engine(Error::InvalidHandle(_)))));
    }
}
