//! Storage of login transactions and sessions behind one narrow trait.
//!
//! Every change that must happen at most once is a conditional operation of the backend:
//! [`Store::take_transaction`] removes and returns in one step, [`Store::create_session`] fails
//! when the key exists, [`Store::acquire_refresh_lease`] lets one caller at a time refresh a
//! session, and [`Store::replace_tokens`] only accepts the lease holder at the version it read.

pub mod dynamodb;
pub mod item;
pub mod keys;
pub mod memory;

use async_trait::async_trait;

use crate::secret::{AccessToken, CodeVerifier, Nonce, RefreshToken};
use crate::types::{AppRedirect, ProviderId, ReturnTo};

/// A login in progress, stored under a key derived from its state, provider and browser binding.
#[derive(Clone, Debug)]
pub struct Transaction {
    /// SHA-256 of provider, state and browser binding; the only way to find it again.
    pub key: String,
    /// The provider the login went to.
    pub provider: ProviderId,
    /// PKCE verifier for the code exchange.
    pub verifier: CodeVerifier,
    /// OIDC nonce expected in the id_token.
    pub nonce: Option<Nonce>,
    /// Where the browser goes afterwards.
    pub return_to: ReturnTo,
    /// For a mobile login: the app's redirect and its PKCE challenge for the hand-off.
    pub app: Option<AppLogin>,
    /// Unix seconds when the login started.
    pub created_at: u64,
    /// Unix seconds after which the transaction is void.
    pub expires_at: u64,
}

/// The mobile part of a login transaction (RFC 8252).
#[derive(Clone, Debug)]
pub struct AppLogin {
    /// Where the browser hands the one-time code to the app.
    pub redirect: AppRedirect,
    /// The app's S256 code challenge, checked when it redeems the code.
    pub challenge: String,
}

impl Transaction {
    /// Where a failed login sends the browser: the app, or `return_to`, with `error=<code>`.
    pub fn error_location(&self, code: &str) -> String {
        match &self.app {
            Some(app) => app.redirect.with_param("error", code),
            None => self.return_to.with_error(code),
        }
    }
}

/// A completed mobile login waiting for the app to redeem its one-time code. The session is
/// created only at redemption, with a fresh id, so no session id is ever stored.
#[derive(Clone, Debug)]
pub struct Handoff {
    /// SHA-256 of the one-time code.
    pub key: String,
    /// The app's S256 challenge.
    pub challenge: String,
    /// The session to create (its `key` is set at redemption).
    pub session: Session,
    /// Unix seconds after which the code is void.
    pub expires_at: u64,
}

/// What the provider said about the user, kept for `GET /auth/session`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address (never used to link accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// The provider tokens of one session.
#[derive(Clone, Debug)]
pub struct TokenSet {
    /// Current access token.
    pub access_token: AccessToken,
    /// Unix seconds when the access token expires.
    pub access_expires_at: u64,
    /// Refresh token, when the provider issued one.
    pub refresh_token: Option<RefreshToken>,
    /// Granted scope, when known.
    pub scope: Option<String>,
    /// Unix seconds of the refresh grant that produced these tokens (0: from the login).
    pub refreshed_at: u64,
}

impl TokenSet {
    /// No provider token at all: the session of a native sign-in that presented an id_token
    /// only. Stored like any token set (an empty access token that expired at 0).
    pub fn none(now: u64) -> Self {
        Self {
            access_token: AccessToken::new(""),
            access_expires_at: 0,
            refresh_token: None,
            scope: None,
            refreshed_at: now,
        }
    }

    /// Whether the session holds a provider access token to hand out or refresh.
    pub fn holds_access_token(&self) -> bool {
        !self.access_token.expose().is_empty() || self.refresh_token.is_some()
    }
}

/// A signed-in user's session.
#[derive(Clone, Debug)]
pub struct Session {
    /// SHA-256 of the session id; the id itself is never stored.
    pub key: String,
    /// Provider the user signed in with.
    pub provider: ProviderId,
    /// The provider's subject identifier; users are keyed by (provider, subject).
    pub subject: String,
    /// Profile claims.
    pub profile: Profile,
    /// The provider's session id (the id_token's `sid`), by which a back-channel logout names
    /// the sessions it ends.
    pub sid: Option<String>,
    /// The client id the provider tokens were issued to when it is not the provider's
    /// `client_id`: the app of a native server auth code, which refreshes and revocations
    /// must name again.
    pub client: Option<String>,
    /// Provider tokens.
    pub tokens: TokenSet,
    /// Incremented on every token replacement; guards concurrent writers.
    pub version: u64,
    /// Unix seconds until which a refresh lease is held (0: none). While it is live, other
    /// callers wait for the holder's result instead of spending the refresh token themselves.
    pub lease_until: u64,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds after which the session is void.
    pub expires_at: u64,
}

/// What a provider says about a user once and never again, kept for their later logins: Apple
/// sends the user's name only on their first authorization of the app. Found again by a keyed
/// hash of (provider, subject) and sealed like a session's identity, so the table shows
/// neither; it is forgotten at `expires_at` unless a later login renews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The provider the user signs in with.
    pub provider: ProviderId,
    /// Their subject there.
    pub subject: String,
    /// What to put back into a session whose provider no longer says it.
    pub profile: Profile,
    /// Unix seconds after which the record is forgotten.
    pub expires_at: u64,
}

/// Whose sessions to find: a back-channel logout names the provider's session (`sid`) or its
/// user (`sub`); an operator names the user.
#[derive(Clone, Copy, Debug)]
pub enum SessionsOf<'a> {
    /// Every session of this user at this provider.
    Subject {
        /// The provider.
        provider: &'a ProviderId,
        /// The user's subject there.
        subject: &'a str,
    },
    /// Every session created from this provider session.
    Sid {
        /// The provider.
        provider: &'a ProviderId,
        /// The provider's session id (`sid`).
        sid: &'a str,
    },
}

/// A storage failure. Conditional failures are distinct so flows can answer them precisely.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key already present.
    #[error("item already exists")]
    AlreadyExists,
    /// A conditional update found another version, or the item is gone.
    #[error("item changed or disappeared since it was read")]
    Conflict,
    /// The backend could not be reached or kept failing.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be decoded or decrypted.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The storage port used by the flows.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a new transaction; fails with [`StoreError::AlreadyExists`] on a key collision.
    async fn put_transaction(&self, tx: &Transaction) -> Result<(), StoreError>;

    /// Removes and returns the transaction in one atomic step. An expired one is removed and
    /// reported as absent, so of two concurrent callers at most one gets `Some`.
    async fn take_transaction(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Option<Transaction>, StoreError>;

    /// Stores a hand-off; fails with [`StoreError::AlreadyExists`] on a key collision.
    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError>;

    /// Removes and returns a hand-off in one atomic step; expired ones read as absent.
    async fn take_handoff(&self, key: &str, now: u64) -> Result<Option<Handoff>, StoreError>;

    /// Stores a new session; fails with [`StoreError::AlreadyExists`] if the key exists.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// Reads a live session; expired sessions read as absent.
    async fn get_session(&self, key: &str, now: u64) -> Result<Option<Session>, StoreError>;

    /// Takes the session's refresh lease for `owner` until `until`, when the session is live at
    /// `now`, still at `version`, and holds no live lease; otherwise [`StoreError::Conflict`].
    async fn acquire_refresh_lease(
        &self,
        key: &str,
        version: u64,
        owner: &str,
        now: u64,
        until: u64,
    ) -> Result<(), StoreError>;

    /// Gives the lease up (after a failed refresh); a lease `owner` no longer holds is left alone.
    async fn release_refresh_lease(&self, key: &str, owner: &str) -> Result<(), StoreError>;

    /// Replaces the tokens in one write, incrementing the version and ending the lease, when the
    /// session is still at `expected_version` and `owner` holds its lease; otherwise
    /// [`StoreError::Conflict`].
    async fn replace_tokens(
        &self,
        key: &str,
        expected_version: u64,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<(), StoreError>;

    /// The keys of the sessions `of` names, found through keyed hashes only. DynamoDB's index
    /// is eventually consistent: a session created in the last instant may be missing. Keys of
    /// sessions that have expired or ended since may be included; deleting them is harmless.
    async fn find_sessions(&self, of: SessionsOf<'_>) -> Result<Vec<String>, StoreError>;

    /// Records that the one-time value hashed to `key` was used, until `expires_at`; fails with
    /// [`StoreError::AlreadyExists`] while an earlier record of it is live at `now`. One
    /// conditional write, so of two concurrent callers exactly one succeeds.
    async fn mark_used(&self, key: &str, expires_at: u64, now: u64) -> Result<(), StoreError>;

    /// Forgets a [`Store::mark_used`] record (the work it guarded failed and may be retried).
    async fn unmark_used(&self, key: &str) -> Result<(), StoreError>;

    /// Deletes a session and its tokens; true when something was deleted.
    async fn delete_session(&self, key: &str) -> Result<bool, StoreError>;

    /// Deletes a session only while `owner` holds its refresh lease (the holder that learnt
    /// the refresh token is dead); otherwise [`StoreError::Conflict`], nothing deleted. A holder
    /// whose lease ran out and was taken over must not end a session another caller refreshed.
    async fn delete_session_as_holder(&self, key: &str, owner: &str) -> Result<(), StoreError>;

    /// Writes what is remembered about a user, replacing what was.
    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// What is remembered about `subject` at `provider`, unless it has expired at `now`.
    async fn get_user(
        &self,
        provider: &ProviderId,
        subject: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError>;

    /// Makes the store ready for requests where that is a separate step (DynamoDB with
    /// `create_table = true` creates a missing table); long-running servers call it at
    /// start-up, Lambda functions leave it to the first request.
    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keeps a provider's public document called `name` until `expires_at`, replacing what
    /// was, for other instances ([`crate::provider::discovery::fetch_shared`]). A store that
    /// is not shared between instances need not keep it.
    async fn put_document(
        &self,
        _name: &str,
        _body: &str,
        _expires_at: u64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// The document called `name`, unless it has expired at `now`.
    async fn get_document(&self, _name: &str, _now: u64) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// Raw access to stored items, for tests and operators: what a table scan would show, and
/// (with the `test-support` feature only) writing an item as it is, to prove tampering is
/// detected.
#[async_trait]
pub trait RawItems: Send + Sync {
    /// Every item, as stored.
    async fn scan(&self) -> Result<Vec<item::Item>, StoreError>;
    /// How many sessions are live at `now` (read without opening any).
    async fn count_sessions(&self, now: u64) -> Result<u64, StoreError>;
    /// Writes an item unconditionally, as it is.
    #[cfg(feature = "test-support")]
    async fn put_raw(&self, item: item::Item) -> Result<(), StoreError>;
}
