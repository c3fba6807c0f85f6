//! The embedded store: a mutex-guarded map for local runs and tests, with the same
//! at-most-once semantics as the DynamoDB backend.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Handoff, Session, Store, StoreError, TokenSet, Transaction};

/// In-process store.
#[derive(Default)]
pub struct MemoryStore {
    transactions: Mutex<HashMap<String, Transaction>>,
    handoffs: Mutex<HashMap<String, Handoff>>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many transactions are held (live or expired); for tests.
    pub fn transaction_count(&self) -> usize {
        lock(&self.transactions).len()
    }

    /// How many sessions are held (live or expired); for tests.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a map half-updated: every critical section is
    // a single insert or remove, so the data is still consistent and usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_transaction(&self, tx: &Transaction) -> Result<(), StoreError> {
        let mut map = lock(&self.transactions);
        if map.contains_key(&tx.key) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(tx.key.clone(), tx.clone());
        Ok(())
    }

    async fn take_transaction(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Option<Transaction>, StoreError> {
        let taken = lock(&self.transactions).remove(key);
        Ok(taken.filter(|tx| tx.expires_at > now))
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        let mut map = lock(&self.handoffs);
        if map.contains_key(&handoff.key) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(handoff.key.clone(), handoff.clone());
        Ok(())
    }

    async fn take_handoff(&self, key: &str, now: u64) -> Result<Option<Handoff>, StoreError> {
        let taken = lock(&self.handoffs).remove(key);
        Ok(taken.filter(|h| h.expires_at > now))
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut map = lock(&self.sessions);
        if map.contains_key(&session.key) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(session.key.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, key: &str, now: u64) -> Result<Option<Session>, StoreError> {
        Ok(lock(&self.sessions)
            .get(key)
            .filter(|s| s.expires_at > now)
            .cloned())
    }

    async fn replace_tokens(
        &self,
        key: &str,
        expected_version: u64,
        tokens: &TokenSet,
    ) -> Result<(), StoreError> {
        let mut map = lock(&self.sessions);
        match map.get_mut(key) {
            Some(s) if s.version == expected_version => {
                s.tokens = tokens.clone();
                s.version += 1;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete_session(&self, key: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.sessions).remove(key).is_some())
    }
}
