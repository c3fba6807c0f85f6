//! `POST /auth/{provider}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): the
//! provider says a user signed out there (or was disabled); every session of that provider
//! session (`sid`), or of that user (`sub`) when no `sid` is named, ends here at once.
//!
//! Order: the token is verified; its `jti` is recorded by one conditional write (a replay, even
//! a concurrent one, is refused); the sessions are found through the owner index and deleted.
//! A refresh in flight for one of them then fails its conditional write and answers 401. When
//! the store fails part-way, the `jti` record is withdrawn so the provider's retry is accepted.

use super::store_error;
use crate::deps::Deps;
use crate::edge::{ApiError, MAX_BODY, Request, body_bytes, header_str, parse_form};
use crate::provider::Provider;
use crate::provider::logout_token::{self, Expected, LogoutToken};
use crate::store::keys::used_key;
use crate::store::{SessionsOf, StoreError};
use crate::telemetry::Chain;

/// The form the provider posts: exactly one `logout_token`.
pub struct LogoutNotice {
    logout_token: String,
}

impl std::fmt::Debug for LogoutNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogoutNotice([redacted])")
    }
}

impl LogoutNotice {
    /// Reads an `application/x-www-form-urlencoded` body with exactly one non-empty
    /// `logout_token` (other parameters are ignored, as the specification allows); anything
    /// else is `invalid_request`.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let is_form = header_str(req, "content-type").is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if !is_form {
            return Err(ApiError::InvalidRequest);
        }
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let pairs = parse_form(body, MAX_BODY).map_err(|_| ApiError::InvalidRequest)?;
        let mut tokens = pairs
            .into_iter()
            .filter(|(name, _)| name == "logout_token")
            .map(|(_, value)| value);
        match (tokens.next(), tokens.next()) {
            (Some(logout_token), None) if !logout_token.is_empty() => Ok(Self { logout_token }),
            _ => Err(ApiError::InvalidRequest),
        }
    }
}

/// What a logout ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Ended {
    /// Sessions deleted.
    pub sessions: usize,
}

/// Verifies the notice and ends the sessions it names.
#[tracing::instrument(name = "backchannel_logout", skip_all, fields(provider = %provider.config.id))]
pub async fn end_sessions(
    deps: Deps<'_>,
    provider: &Provider,
    notice: LogoutNotice,
) -> Result<Ended, ApiError> {
    let config = &provider.config;
    if !config.is_oidc() {
        tracing::warn!("back-channel logout for a provider without id_tokens refused");
        return Err(ApiError::InvalidRequest);
    }
    let metadata = provider.metadata(deps).await.map_err(|e| {
        tracing::warn!(error = %Chain(&e), "provider metadata unavailable");
        crate::events::note(|n| n.provider_unavailable = true);
        ApiError::ProviderUnavailable
    })?;
    let now = deps.now();
    let expected = Expected {
        issuers: &config.accepted_issuers,
        client_id: &config.client_id,
        now,
    };
    let token = match logout_token::verify(
        &notice.logout_token,
        &expected,
        &metadata,
        &provider.jwks,
        deps.http,
    )
    .await
    {
        Ok(token) => token,
        Err(e) if e.is_unverifiable() => {
            tracing::warn!(error = %Chain(&e), "logout token unverifiable: signing keys unavailable");
            crate::events::note(|n| n.provider_unavailable = true);
            return Err(ApiError::ProviderUnavailable);
        }
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "logout token refused");
            return Err(ApiError::InvalidRequest);
        }
    };
    if let Some(sub) = &token.sub {
        let sub = sub.clone();
        crate::events::note(|n| n.subject = Some(sub));
    }
    let used = used_key("logout_jti", config.id.as_str(), &token.jti);
    // Remembered for as long as the token could pass the expiry check.
    if !super::first_use(deps, &used, token.exp).await? {
        tracing::warn!("logout token replayed (jti seen before)");
        return Err(ApiError::InvalidRequest);
    }
    match delete_named(deps, provider, &token).await {
        Ok(sessions) => {
            tracing::info!(sessions, "back-channel logout ended sessions");
            crate::events::note(|n| n.sessions_ended = Some(sessions));
            Ok(Ended { sessions })
        }
        Err(e) => {
            // Let the provider's retry through: nothing promised was done.
            if let Err(undo) = deps.store.unmark_used(&used).await {
                tracing::warn!(error = %Chain(&undo), "could not withdraw the jti record");
            }
            Err(store_error(e))
        }
    }
}

/// Deletes every session the token names: by `sid` when it has one, else by `sub`.
async fn delete_named(
    deps: Deps<'_>,
    provider: &Provider,
    token: &LogoutToken,
) -> Result<usize, StoreError> {
    let id = &provider.config.id;
    let of = match (&token.sid, &token.sub) {
        (Some(sid), _) => SessionsOf::Sid { provider: id, sid },
        (None, Some(subject)) => SessionsOf::Subject {
            provider: id,
            subject,
        },
        (None, None) => return Ok(0),
    };
    let keys = deps.store.find_sessions(of).await?;
    let mut ended = 0;
    for key in &keys {
        if deps.store.delete_session(key).await? {
            ended += 1;
        }
    }
    Ok(ended)
}
