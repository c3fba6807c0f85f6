//! `POST /auth/refresh`: the stored access token while it is fresh enough, otherwise one from
//! the provider through the stored refresh token.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::crypto::{random_below, random_token};
use crate::http::{
    ApiError, Request, Response, add_cors, allowed_origin, body_bytes, json_response,
};
use crate::provider::id_token::{self, Expected, IdTokenError};
use crate::provider::{ProviderError, token};
use crate::secret::AccessToken;
use crate::store::{Session, StoreError, TokenSet};

use super::{authenticate, store_error};

/// Access token lifetime assumed when the provider does not say.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// What the frontend receives: never the refresh token or the id_token.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds it has left.
    pub expires_in: u64,
    /// Its scope, when known.
    pub scope: Option<String>,
}

#[derive(Deserialize, Default)]
struct Options {
    #[serde(default)]
    force: bool,
}

/// The route handler.
pub async fn handle(app: &App, req: &Request) -> Response {
    let origin = allowed_origin(req, &app.config.allowed_origins);
    let result = async {
        let (key, _) = authenticate(app, req, true)?;
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let options: Options = if body.iter().all(u8::is_ascii_whitespace) {
            Options::default()
        } else {
            serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest)?
        };
        access_token(app, &key, options.force).await
    }
    .await;
    let mut resp = match result {
        Ok(issued) => json_response(
            http::StatusCode::OK,
            &json!({
                "access_token": issued.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope.unwrap_or_default(),
            }),
        ),
        Err(e) => e.response(),
    };
    add_cors(&mut resp, origin);
    resp
}

fn issued(tokens: &TokenSet, now: u64) -> Issued {
    Issued {
        access_token: tokens.access_token.clone(),
        expires_in: tokens.access_expires_at.saturating_sub(now),
        scope: tokens.scope.clone(),
    }
}

/// Seconds a refresh lease lasts: longer than a provider call can take (the client's 10 s
/// total timeout), so a live holder never loses it; a crashed holder's lease is taken over
/// once it runs out.
pub const LEASE_SECS: u64 = 15;

/// How long a caller waits for another caller's refresh before answering 503. Longer than a
/// lease, so the waiters of a crashed holder take over instead of failing.
const WAIT_LIMIT: Duration = Duration::from_secs(LEASE_SECS + 5);

/// First and longest pause between two looks at a session whose lease someone else holds.
const FIRST_PAUSE_MS: u64 = 20;
const LONGEST_PAUSE_MS: u64 = 250;

async fn read(app: &App, key: &str) -> Result<Option<Session>, ApiError> {
    app.store
        .get_session(key, app.now())
        .await
        .map_err(store_error)
}

/// Returns a valid access token for the session stored under `key`.
///
/// Single flight across processes: of all callers that find the token in need of a refresh,
/// one takes the session's lease (a conditional write) and calls the provider; the others wait
/// with bounded backoff until the version moves on and return what the winner stored. So a
/// refresh token is never spent twice, and a rotated one replaces the old in the same write
/// that stores the new access token.
pub async fn access_token(app: &App, key: &str, force: bool) -> Result<Issued, ApiError> {
    let started = Instant::now();
    let mut session = read(app, key).await?.ok_or(ApiError::Unauthenticated)?;
    let now = app.now();
    let skew = app.config.refresh_skew.as_secs();
    if !force && session.tokens.access_expires_at > now + skew {
        return Ok(issued(&session.tokens, now));
    }
    if session.tokens.refresh_token.is_none() {
        // Nothing to refresh with: hand out what is still valid, else the user must log in.
        return if session.tokens.access_expires_at > now {
            Ok(issued(&session.tokens, now))
        } else {
            Err(ApiError::ReauthRequired)
        };
    }
    let seen_version = session.version;
    let mut pause = FIRST_PAUSE_MS;
    loop {
        let now = app.now();
        if session.version > seen_version {
            // Someone refreshed since we looked: theirs is the new token.
            return Ok(issued(&session.tokens, now));
        }
        if session.lease_until <= now {
            let owner = random_token(16);
            let until = now + LEASE_SECS;
            match app
                .store
                .acquire_refresh_lease(key, session.version, &owner, now, until)
                .await
            {
                Ok(()) => return refresh_as_holder(app, &session, &owner).await,
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        if started.elapsed() >= WAIT_LIMIT {
            tracing::warn!("gave up waiting for another refresh of this session");
            return Err(ApiError::ProviderUnavailable);
        }
        tokio::time::sleep(Duration::from_millis(
            pause / 2 + random_below(pause / 2 + 1),
        ))
        .await;
        pause = (pause * 2).min(LONGEST_PAUSE_MS);
        // Gone while we waited: the holder got invalid_grant (or the user logged out).
        session = read(app, key).await?.ok_or(ApiError::ReauthRequired)?;
    }
}

/// The lease holder's part: one refresh_token grant, then one conditional write.
async fn refresh_as_holder(app: &App, session: &Session, owner: &str) -> Result<Issued, ApiError> {
    let key = session.key.as_str();
    let release = || async {
        if let Err(e) = app.store.release_refresh_lease(key, owner).await {
            tracing::warn!(error = %e, "could not release a refresh lease; it will expire");
        }
    };
    let (Some(refresh_token), Some(provider)) = (
        session.tokens.refresh_token.as_ref(),
        app.providers.get(&session.provider),
    ) else {
        // The provider was removed from the configuration: this session cannot continue.
        end_session(app, key).await;
        return Err(ApiError::ReauthRequired);
    };
    let Ok(metadata) = provider.metadata(&app.http).await else {
        release().await;
        return Err(ApiError::ProviderUnavailable);
    };
    let now = app.now();
    let response = match token::refresh(&app.http, &provider.config, &metadata, refresh_token).await
    {
        Ok(r) => r,
        Err(ProviderError::Rejected { error }) if error == "invalid_grant" => {
            tracing::info!(provider = %session.provider, "refresh token no longer valid");
            end_session(app, key).await;
            return Err(ApiError::ReauthRequired);
        }
        Err(e) => {
            tracing::warn!(provider = %session.provider, error = %e, "refresh failed");
            release().await;
            return Err(ApiError::ProviderUnavailable);
        }
    };

    if let Some(new_id_token) = &response.id_token {
        let expected = Expected {
            issuer: provider.config.issuer(),
            client_id: &provider.config.client_id,
            nonce: None,
            now,
        };
        match id_token::verify(
            new_id_token,
            &expected,
            &metadata,
            &provider.jwks,
            &app.http,
        )
        .await
        {
            Ok(claims) if claims.sub == session.subject => {}
            Ok(_) => {
                tracing::warn!(provider = %session.provider, "refreshed id_token names another subject");
                end_session(app, key).await;
                return Err(ApiError::ReauthRequired);
            }
            Err(IdTokenError::Jwks(e)) => {
                tracing::warn!(provider = %session.provider, error = %e, "JWKS unavailable");
                release().await;
                return Err(ApiError::ProviderUnavailable);
            }
            Err(e) => {
                tracing::warn!(provider = %session.provider, error = %e, "refreshed id_token rejected");
                end_session(app, key).await;
                return Err(ApiError::ReauthRequired);
            }
        }
    }

    let tokens = TokenSet {
        access_token: response.access_token,
        access_expires_at: now + response.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
        // A response without a refresh token keeps the old one (RFC 6749 §6).
        refresh_token: response
            .refresh_token
            .or_else(|| session.tokens.refresh_token.clone()),
        scope: response.scope.or_else(|| session.tokens.scope.clone()),
    };
    match app
        .store
        .replace_tokens(key, session.version, owner, &tokens)
        .await
    {
        Ok(()) => {
            tracing::info!(provider = %session.provider, "tokens refreshed");
            Ok(issued(&tokens, now))
        }
        Err(StoreError::Conflict) => {
            // The lease was lost (the session ended, or our lease ran out and was taken over).
            match read(app, key).await? {
                Some(current) if current.version > session.version => {
                    Ok(issued(&current.tokens, app.now()))
                }
                Some(_) => Err(ApiError::ProviderUnavailable),
                None => Err(ApiError::ReauthRequired),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "refreshed tokens could not be stored");
            Err(store_error(e))
        }
    }
}

async fn end_session(app: &App, key: &str) {
    if let Err(e) = app.store.delete_session(key).await {
        tracing::warn!(error = %e, "could not delete an ended session");
    }
}
