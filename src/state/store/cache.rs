//! In-memory caches of values derived from files.
//!
//! * [`Cache`]: one entry, kept while its key matches (a file's stamps, or
//!   anything else comparable);
//! * [`Memos`]: one [`Cache`] per kind of derived value, created on first
//!   use, so that ops can memoize their results without the state layer
//!   knowing their types.
//!
//! A loader that reads a file does so through `replace::read_optional`,
//! which refuses to block an async worker; computing from memory never
//! needs the blocking pool.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::stamp::Stamp;
use crate::error::Result;

/// The stamps of the files a cached value was read from.
pub type Stamps = Vec<Option<Stamp>>;

/// A one-entry cache of a value.
#[derive(Debug)]
pub struct Cache<T, K = Stamps> {
    slot: Mutex<Option<(K, Arc<T>)>>,
}

impl<T, K> Default for Cache<T, K> {
    fn default() -> Self {
        Cache {
            slot: Mutex::new(None),
        }
    }
}

impl<T, K: PartialEq> Cache<T, K> {
    /// The cached value when `key` matches, else `load()` (cached when Ok).
    pub fn get_or_load(&self, key: K, load: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        if let Ok(slot) = self.slot.lock()
            && let Some((k, v)) = slot.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(v));
        }
        let value = Arc::new(load()?);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((key, Arc::clone(&value)));
        }
        Ok(value)
    }

    pub fn clear(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }
}

/// Compares an `Arc` by identity: a cached parse is the same value exactly
/// when it is the same allocation (it is replaced whenever the file
/// changes, and the key keeps it alive, so the address is not reused).
#[derive(Debug)]
pub struct Same<T>(pub Arc<T>);

impl<T> PartialEq for Same<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// One [`Cache`] per (key type, value type), made on first use.
#[derive(Default)]
pub struct Memos {
    slots: Mutex<HashMap<(TypeId, TypeId), Arc<dyn Any + Send + Sync>>>,
}

impl Memos {
    /// The memoized value for `key`, else `compute()` (memoized when Ok).
    pub fn get_or_compute<K, T>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>>
    where
        K: PartialEq + Send + Sync + 'static,
        T: Send + Sync + 'static,
    {
        let id = (TypeId::of::<K>(), TypeId::of::<T>());
        let cache: Option<Arc<Cache<T, K>>> = self.slots.lock().ok().and_then(|mut slots| {
            let any = slots
                .entry(id)
                .or_insert_with(|| Arc::new(Cache::<T, K>::default()));
            Arc::clone(any).downcast::<Cache<T, K>>().ok()
        });
        match cache {
            Some(c) => c.get_or_load(key, compute),
            None => compute().map(Arc::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memos_keep_one_value_per_kind_until_the_key_changes() {
        let memos = Memos::default();
        let calls = std::cell::Cell::new(0);
        let get = |k: u32| {
            memos
                .get_or_compute(k, || {
                    calls.set(calls.get() + 1);
                    Ok(format!("v{k}"))
                })
                .unwrap()
        };
        assert_eq!(*get(1), "v1");
        assert_eq!(*get(1), "v1");
        assert_eq!(calls.get(), 1);
        assert_eq!(*get(2), "v2");
        assert_eq!(calls.get(), 2);
        let other: Arc<u8> = memos.get_or_compute(1u32, || Ok(7u8)).unwrap();
        assert_eq!(*other, 7, "another value type has its own slot");
    }

    #[test]
    fn same_compares_by_identity() {
        let a = Arc::new(1);
        assert!(Same(Arc::clone(&a)) == Same(Arc::clone(&a)));
        assert!(Same(a) != Same(Arc::new(1)));
    }
}
