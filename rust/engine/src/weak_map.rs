//! Process-wide sharing of values that live only as long as their users: a map from a key
//! to a `Weak` reference. The map never keeps a value alive; the `Arc`s its users hold do,
//! and the last one to drop frees it. Used for models (per directory and thread count),
//! open tasks (per task file and options) and compiled constraints (per tokenizer and schema).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use crate::error::{Error, Result};

pub(crate) struct WeakMap<K, V> {
    /// `None` until first use (`HashMap::new` is not `const`).
    map: Mutex<Option<HashMap<K, Weak<V>>>>,
    what: &'static str,
}

impl<K: Hash + Eq, V> WeakMap<K, V> {
    /// `what` names the values in the one error this can raise (a poisoned lock).
    pub const fn new(what: &'static str) -> Self {
        WeakMap { map: Mutex::new(None), what }
    }

    /// The live value for `key`, or a new one from `make`. `make` runs under the map's lock,
    /// so concurrent first users (several Flink slots opening at once) build it exactly once.
    pub fn get_or_try_insert(&self, key: K, make: impl FnOnce() -> Result<V>) -> Result<Arc<V>> {
        let mut guard = self.map.lock().map_err(|_| Error::Runtime(format!("{} registry lock poisoned", self.what)))?;
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(live) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(live);
        }
        map.retain(|_, w| w.strong_count() > 0);
        let value = Arc::new(make()?);
        map.insert(key, Arc::downgrade(&value));
        Ok(value)
    }

    /// Values alive right now.
    pub fn live(&self) -> usize {
        self.map
            .lock()
            .map(|m| m.as_ref().map_or(0, |m| m.values().filter(|w| w.strong_count() > 0).count()))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_while_used_and_frees_after() {
        static M: WeakMap<u32, String> = WeakMap::new("test");
        let a = M.get_or_try_insert(1, || Ok("one".into())).unwrap();
        let b = M.get_or_try_insert(1, || panic!("built twice")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(M.live(), 1);
        drop((a, b));
        assert_eq!(M.live(), 0);
        assert_eq!(*M.get_or_try_insert(1, || Ok("again".into())).unwrap(), "again");
        assert!(M.get_or_try_insert(2, || Err(Error::Runtime("no".into()))).is_err());
    }
}
