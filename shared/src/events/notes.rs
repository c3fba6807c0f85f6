//! What a request did, noted by the handlers, flows and clients as it happens, for the one
//! event (and metrics line) written when it ends. The notes live in a task-local slot that
//! [`collect`] opens around one request; outside one (unit tests of a flow, start-up), noting
//! does nothing.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use crate::edge::ApiError;
use crate::types::ProviderId;

use super::Reason;

tokio::task_local! {
    static NOTES: RefCell<Notes>;
}

/// Where an access token handed out came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The stored one, still fresh enough.
    Store,
    /// A refresh this request made at the provider.
    Provider,
    /// A refresh another caller made while this one waited (or had just made).
    Coalesced,
}

/// Facts about one request. Nothing here is a secret: the subject and session key are hashed
/// with a key before they are written.
#[derive(Debug, Default)]
pub struct Notes {
    /// The provider the request concerned.
    pub provider: Option<ProviderId>,
    /// The provider's subject of the session concerned.
    pub subject: Option<String>,
    /// The store key of the session concerned (itself a hash of the session id).
    pub session_key: Option<String>,
    /// The contract error the answer carried.
    pub error: Option<ApiError>,
    /// Why a login failed after its transaction was found (the answer is then a redirect).
    pub login_failure: Option<Reason>,
    /// A login completed (a session or a hand-off was stored).
    pub signed_in: bool,
    /// Where the access token handed out came from.
    pub token_source: Option<Source>,
    /// The API's status, for a proxied call.
    pub upstream_status: Option<u16>,
    /// How many sessions a back-channel logout (or an operator) ended.
    pub sessions_ended: Option<usize>,
    /// Time spent waiting for providers.
    pub provider_time: Duration,
    /// Calls made to providers.
    pub provider_calls: u32,
    /// A provider was unreachable, answered 5xx or timed out.
    pub provider_unavailable: bool,
    /// Time spent waiting for the store.
    pub store_time: Duration,
    /// Calls made to the store.
    pub store_calls: u32,
    /// The store failed.
    pub store_unavailable: bool,
}

/// Adds to the current request's notes (nothing outside a request).
pub fn note(f: impl FnOnce(&mut Notes)) {
    let _ = NOTES.try_with(|notes| f(&mut notes.borrow_mut()));
}

/// Notes the session a request concerns.
pub fn note_session(key: &str, provider: &ProviderId, subject: &str) {
    note(|n| {
        n.session_key = Some(key.to_owned());
        n.provider = Some(provider.clone());
        n.subject = Some(subject.to_owned());
    });
}

/// Notes one call to a provider that took `elapsed`.
pub fn note_provider_call(elapsed: Duration) {
    note(|n| {
        n.provider_calls += 1;
        n.provider_time += elapsed;
    });
}

/// Notes one call to the store that took `elapsed`.
pub fn note_store_call(elapsed: Duration) {
    note(|n| {
        n.store_calls += 1;
        n.store_time += elapsed;
    });
}

/// Runs `request` with a fresh set of notes and returns them with its output.
pub async fn collect<F: Future>(request: F) -> (F::Output, Notes) {
    NOTES
        .scope(RefCell::new(Notes::default()), async {
            let output = request.await;
            let notes = NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
            (output, notes)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_are_per_request_and_noting_outside_one_does_nothing() {
        note(|n| n.signed_in = true);
        let ((), first) = collect(async {
            note(|n| n.signed_in = true);
            note_store_call(Duration::from_millis(3));
            note_store_call(Duration::from_millis(4));
        })
        .await;
        assert!(first.signed_in);
        assert_eq!(
            (first.store_calls, first.store_time),
            (2, Duration::from_millis(7))
        );
        let ((), second) = collect(async {}).await;
        assert!(!second.signed_in);
        assert_eq!(second.store_calls, 0);
    }
}
