//! What an operator may see and do with a user's sessions (`admin sessions …`): list them
//! without ids or tokens, end them all or one, count the live ones. A session is named by its
//! `session.uid`, the keyed hash the security events carry, so an operator can go from an event
//! to the session and end it, and nothing printed can be used as a session. Every action,
//! whatever its outcome, writes one [`OperatorEvent`].

use serde::Serialize;

use crate::events::EventLog;
use crate::events::operator::{OperatorAction, OperatorEvent};
use crate::store::{RawItems, Session, SessionsOf, Store, StoreError};
use crate::types::ProviderId;

/// What an operator sees of one session: no id, no token, no profile.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's `session.uid` in security events; `end-one` takes it.
    pub session: String,
    /// Unix seconds of the sign-in.
    pub created_at: u64,
    /// Unix seconds after which the session is void.
    pub expires_at: u64,
    /// Unix seconds when the stored access token expires.
    pub access_token_expires_at: u64,
    /// Whether a refresh token is held.
    pub refreshable: bool,
    /// Whether a refresh holds the session's lease right now.
    pub refresh_in_flight: bool,
    /// Whether the provider named its session (a back-channel logout can end it by `sid`).
    pub provider_session: bool,
}

/// The ports an operator command needs, and where its events go.
pub struct SessionAdmin<'a> {
    /// The sessions.
    pub store: &'a dyn Store,
    /// Counting without opening rows.
    pub raw: &'a dyn RawItems,
    /// Hashes `user.uid` and `session.uid` as the functions do.
    pub hashes: &'a EventLog,
    /// Who runs the command.
    pub actor: &'a str,
    /// Writes each event line.
    pub log: &'a dyn Fn(&str),
    /// Current unix time.
    pub now: u64,
}

impl SessionAdmin<'_> {
    /// The live sessions of `subject` at `provider`, oldest first.
    pub async fn list(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let result = self.sessions_of(provider, subject).await;
        let mut summaries: Vec<SessionSummary> = match &result {
            Ok(sessions) => sessions.iter().map(|s| self.summary(s)).collect(),
            Err(_) => Vec::new(),
        };
        summaries.sort_by_key(|s| (s.created_at, s.session.clone()));
        self.record(
            OperatorAction::SessionsListed,
            Some((provider, subject)),
            None,
            result.as_ref().map(|_| summaries.len() as u64),
        );
        result.map(|_| summaries)
    }

    /// Ends every session of `subject` at `provider`; how many ended.
    pub async fn end_all(&self, provider: &ProviderId, subject: &str) -> Result<u64, StoreError> {
        let result = async {
            let mut ended = 0;
            for session in self.sessions_of(provider, subject).await? {
                if self.store.delete_session(&session.key).await? {
                    ended += 1;
                }
            }
            Ok(ended)
        }
        .await;
        self.record(
            OperatorAction::SessionsEnded,
            Some((provider, subject)),
            None,
            result.as_ref().map(|n| *n),
        );
        result
    }

    /// Ends the session of `subject` at `provider` whose `session.uid` is `uid`; false when
    /// that user has no such live session.
    pub async fn end_one(
        &self,
        provider: &ProviderId,
        subject: &str,
        uid: &str,
    ) -> Result<bool, StoreError> {
        let result = async {
            for session in self.sessions_of(provider, subject).await? {
                if self.hashes.session_uid(&session.key) == uid {
                    return self.store.delete_session(&session.key).await;
                }
            }
            Ok(false)
        }
        .await;
        self.record(
            OperatorAction::SessionEnded,
            Some((provider, subject)),
            Some(uid),
            result.as_ref().map(|ended| u64::from(*ended)),
        );
        result
    }

    /// How many sessions are live, of every user and provider.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let result = self.raw.count_sessions(self.now).await;
        self.record(
            OperatorAction::SessionsCounted,
            None,
            None,
            result.as_ref().map(|n| *n),
        );
        result
    }

    /// The live sessions the owner index names for this user, each read back and kept only
    /// when its sealed identity says it is theirs.
    async fn sessions_of(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Vec<Session>, StoreError> {
        let keys = self
            .store
            .find_sessions(SessionsOf::Subject { provider, subject })
            .await?;
        let mut sessions = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(session) = self.store.get_session(&key, self.now).await?
                && session.provider == *provider
                && session.subject == subject
            {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    fn summary(&self, s: &Session) -> SessionSummary {
        SessionSummary {
            session: self.hashes.session_uid(&s.key),
            created_at: s.created_at,
            expires_at: s.expires_at,
            access_token_expires_at: s.tokens.access_expires_at,
            refreshable: s.tokens.refresh_token.is_some(),
            refresh_in_flight: s.lease_until > self.now,
            provider_session: s.sid.is_some(),
        }
    }

    fn record(
        &self,
        action: OperatorAction,
        user: Option<(&ProviderId, &str)>,
        session_uid: Option<&str>,
        outcome: Result<u64, &StoreError>,
    ) {
        let event = OperatorEvent {
            action,
            actor: self.actor,
            provider: user.map(|(p, _)| p.as_str()),
            user_uid: user.map(|(p, subject)| self.hashes.user_uid(p.as_str(), subject)),
            session_uid: session_uid.map(str::to_owned),
            sessions: outcome.as_ref().ok().copied(),
            failure: outcome.err().map(|e| match e {
                StoreError::Unavailable(_) => "store_unavailable".to_owned(),
                other => other.to_string(),
            }),
        };
        (self.log)(&event.to_json().to_string());
    }
}
