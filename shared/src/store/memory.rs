//! The embedded store: one mutex-guarded map of sealed items, for local runs and tests, with
//! the same at-most-once semantics and the same stored form as the DynamoDB backend. Expired
//! items are swept as time passes (DynamoDB's TTL does this for the table), so abandoned
//! logins cannot grow the process without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::item::{Attr, Codec, Item, attr, expires_at, kind, or_absent, pk};
use super::{
    Handoff, RawItems, Session, SessionsOf, Store, StoreError, TokenSet, Transaction, UserRecord,
};
use crate::crypto::{Keyring, random_token};
use crate::types::ProviderId;

/// Seconds between two sweeps of expired items.
pub const SWEEP_INTERVAL_SECS: u64 = 60;

/// In-process store.
pub struct MemoryStore {
    items: Mutex<HashMap<String, Item>>,
    codec: Codec,
    last_sweep: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store sealing with a random key of its own (nothing outlives the process).
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let keyring = Keyring::from_base64(&[random_token(32)])
            .expect("32 random bytes are always a valid key");
        Self::with_keyring(keyring)
    }

    /// An empty store sealing with `keyring`.
    pub fn with_keyring(keyring: Keyring) -> Self {
        Self {
            items: Mutex::default(),
            codec: Codec::new(keyring),
            last_sweep: AtomicU64::new(0),
        }
    }

    /// Drops every item expired at `now`, at most once per [`SWEEP_INTERVAL_SECS`]; called by
    /// the operations that know the time.
    fn sweep(&self, now: u64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now < last.saturating_add(SWEEP_INTERVAL_SECS)
            || self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        lock(&self.items).retain(|_, item| expires_at(item) > now);
    }

    fn insert_new(&self, item: Item) -> Result<(), StoreError> {
        let Some(Attr::S(key)) = item.get(attr::PK).cloned() else {
            return Err(StoreError::Corrupt("pk".into()));
        };
        let mut map = lock(&self.items);
        if map.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(key, item);
        Ok(())
    }

    /// Removes the item and returns it when it has not expired.
    fn take(&self, pk: &str, now: u64) -> Option<Item> {
        lock(&self.items)
            .remove(pk)
            .filter(|item| expires_at(item) > now)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single map operation, so a poisoned map is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_transaction(&self, tx: &Transaction) -> Result<(), StoreError> {
        self.sweep(tx.created_at);
        self.insert_new(self.codec.transaction_to_item(tx)?)
    }

    async fn take_transaction(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Option<Transaction>, StoreError> {
        self.sweep(now);
        Ok(self
            .take(&pk(kind::TX, key), now)
            .and_then(|item| or_absent(self.codec.transaction_from_item(key, &item), kind::TX)))
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.insert_new(self.codec.handoff_to_item(handoff)?)
    }

    async fn take_handoff(&self, key: &str, now: u64) -> Result<Option<Handoff>, StoreError> {
        Ok(self
            .take(&pk(kind::HANDOFF, key), now)
            .and_then(|item| or_absent(self.codec.handoff_from_item(key, &item), kind::HANDOFF)))
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.sweep(session.created_at);
        let item = self.codec.session_to_item(session)?;
        let pointer = self.codec.sid_pointer_to_item(session)?;
        let mut map = lock(&self.items);
        let key = pk(kind::SESSION, &session.key);
        if map.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(key, item);
        if let Some(pointer) = pointer {
            map.insert(pk(kind::SID, &session.key), pointer);
        }
        Ok(())
    }

    async fn find_sessions(&self, of: SessionsOf<'_>) -> Result<Vec<String>, StoreError> {
        let hashes = self.codec.index_hashes(of);
        let map = lock(&self.items);
        let mut keys: Vec<String> = map
            .iter()
            .filter(
                |(_, item)| matches!(item.get(attr::IX), Some(Attr::S(ix)) if hashes.contains(ix)),
            )
            .filter_map(|(pk, _)| Codec::indexed_session_key(pk).map(str::to_owned))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn mark_used(&self, key: &str, expires_at: u64, now: u64) -> Result<(), StoreError> {
        self.sweep(now);
        let item = Codec::used_to_item(key, expires_at);
        let mut map = lock(&self.items);
        let pk = pk(kind::USED, key);
        if map
            .get(&pk)
            .is_some_and(|old| super::item::expires_at(old) > now)
        {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(pk, item);
        Ok(())
    }

    async fn unmark_used(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.items).remove(&pk(kind::USED, key));
        Ok(())
    }

    async fn get_session(&self, key: &str, now: u64) -> Result<Option<Session>, StoreError> {
        self.sweep(now);
        let item = lock(&self.items)
            .get(&pk(kind::SESSION, key))
            .filter(|item| expires_at(item) > now)
            .cloned();
        Ok(
            item.and_then(|item| {
                or_absent(self.codec.session_from_item(key, &item), kind::SESSION)
            }),
        )
    }
    async fn acquire_refresh_lease(
        &self,
        key: &str,
        version: u64,
        owner: &str,
        now: u64,
        until: u64,
    ) -> Result<(), StoreError> {
        let mut map = lock(&self.items);
        let Some(item) = map.get_mut(&pk(kind::SESSION, key)) else {
            return Err(StoreError::Conflict);
        };
        let lease_live = matches!(item.get(attr::LEASE_UNTIL), Some(Attr::N(t)) if *t > now);
        if expires_at(item) <= now
            || item.get(attr::VERSION) != Some(&Attr::N(version))
            || lease_live
        {
            return Err(StoreError::Conflict);
        }
        item.insert(attr::LEASE_OWNER.into(), Attr::S(owner.into()));
        item.insert(attr::LEASE_UNTIL.into(), Attr::N(until));
        Ok(())
    }

    async fn release_refresh_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut map = lock(&self.items);
        if let Some(item) = map.get_mut(&pk(kind::SESSION, key))
            && item.get(attr::LEASE_OWNER) == Some(&Attr::S(owner.into()))
        {
            item.remove(attr::LEASE_OWNER);
            item.remove(attr::LEASE_UNTIL);
        }
        Ok(())
    }

    async fn replace_tokens(
        &self,
        key: &str,
        expected_version: u64,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<(), StoreError> {
        let sealed = self
            .codec
            .sealed_tokens(key, expected_version + 1, tokens)?;
        let mut map = lock(&self.items);
        let Some(item) = map.get_mut(&pk(kind::SESSION, key)) else {
            return Err(StoreError::Conflict);
        };
        if item.get(attr::VERSION) != Some(&Attr::N(expected_version))
            || item.get(attr::LEASE_OWNER) != Some(&Attr::S(owner.into()))
        {
            return Err(StoreError::Conflict);
        }
        item.insert(attr::TOKENS.into(), sealed);
        item.insert(attr::VERSION.into(), Attr::N(expected_version + 1));
        item.remove(attr::LEASE_OWNER);
        item.remove(attr::LEASE_UNTIL);
        Ok(())
    }

    async fn delete_session(&self, key: &str) -> Result<bool, StoreError> {
        let mut map = lock(&self.items);
        map.remove(&pk(kind::SID, key));
        Ok(map.remove(&pk(kind::SESSION, key)).is_some())
    }

    async fn delete_session_as_holder(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut map = lock(&self.items);
        let pk = pk(kind::SESSION, key);
        match map.get(&pk) {
            Some(item) if item.get(attr::LEASE_OWNER) == Some(&Attr::S(owner.into())) => {
                map.remove(&pk);
                map.remove(&super::item::pk(kind::SID, key));
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let item = self.codec.user_to_item(user)?;
        let Some(Attr::S(key)) = item.get(attr::PK).cloned() else {
            return Err(StoreError::Corrupt("pk".into()));
        };
        lock(&self.items).insert(key, item);
        Ok(())
    }

    async fn get_user(
        &self,
        provider: &ProviderId,
        subject: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.sweep(now);
        let map = lock(&self.items);
        let found = self
            .codec
            .user_pks(provider, subject)
            .iter()
            .find_map(|pk| {
                map.get(pk)
                    .filter(|item| expires_at(item) > now)
                    .and_then(|item| {
                        or_absent(
                            self.codec.user_from_item(provider, subject, item),
                            kind::USER,
                        )
                    })
            });
        Ok(found)
    }
}

#[async_trait]
impl RawItems for MemoryStore {
    async fn scan(&self) -> Result<Vec<Item>, StoreError> {
        Ok(lock(&self.items).values().cloned().collect())
    }

    async fn count_sessions(&self, now: u64) -> Result<u64, StoreError> {
        let map = lock(&self.items);
        let live = map
            .values()
            .filter(|item| item.get(attr::TYPE) == Some(&Attr::S(kind::SESSION.into())))
            .filter(|item| expires_at(item) > now)
            .count();
        Ok(live as u64)
    }

    #[cfg(feature = "test-support")]
    async fn put_raw(&self, item: Item) -> Result<(), StoreError> {
        let Some(Attr::S(key)) = item.get(attr::PK).cloned() else {
            return Err(StoreError::Corrupt("pk".into()));
        };
        lock(&self.items).insert(key, item);
        Ok(())
    }
}
