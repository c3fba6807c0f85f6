//! `POST /auth/refresh`: the stored access token while it is fresh enough, otherwise one from
//! the provider through the stored refresh token.

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
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

/// Returns a valid access token for the session stored under `key`.
pub async fn access_token(app: &App, key: &str, force: bool) -> Result<Issued, ApiError> {
    let now = app.now();
    let session = app
        .store
        .get_session(key, now)
        .await
        .map_err(store_error)?
        .ok_or(ApiError::Unauthenticated)?;
    let skew = app.config.refresh_skew.as_secs();
    let fresh = session.tokens.access_expires_at > now + skew;
    if fresh && !force {
        return Ok(issued(&session.tokens, now));
    }
    let Some(refresh_token) = session.tokens.refresh_token.clone() else {
        // Nothing to refresh with: hand out what is still valid, else the user must log in.
        return if session.tokens.access_expires_at > now {
            Ok(issued(&session.tokens, now))
        } else {
            Err(ApiError::ReauthRequired)
        };
    };
    let Some(provider) = app.providers.get(&session.provider) else {
        // The provider was removed from the configuration: this session cannot continue.
        end_session(app, key).await;
        return Err(ApiError::ReauthRequired);
    };
    let metadata = provider
        .metadata(&app.http)
        .await
        .map_err(|_| ApiError::ProviderUnavailable)?;
    let response =
        match token::refresh(&app.http, &provider.config, &metadata, &refresh_token).await {
            Ok(r) => r,
            Err(ProviderError::Rejected { error }) if error == "invalid_grant" => {
                tracing::info!(provider = %session.provider, "refresh token no longer valid");
                end_session(app, key).await;
                return Err(ApiError::ReauthRequired);
            }
            Err(e) => {
                tracing::warn!(provider = %session.provider, error = %e, "refresh failed");
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
            .or(session.tokens.refresh_token.clone()),
        scope: response.scope.or(session.tokens.scope.clone()),
    };
    store_refreshed(app, &session, &tokens, now).await
}

async fn store_refreshed(
    app: &App,
    session: &Session,
    tokens: &TokenSet,
    now: u64,
) -> Result<Issued, ApiError> {
    match app
        .store
        .replace_tokens(&session.key, session.version, tokens)
        .await
    {
        Ok(()) => Ok(issued(tokens, now)),
        Err(StoreError::Conflict) => {
            // Another request refreshed first: its tokens are the current ones.
            let current = app
                .store
                .get_session(&session.key, now)
                .await
                .map_err(store_error)?
                .ok_or(ApiError::Unauthenticated)?;
            Ok(issued(&current.tokens, now))
        }
        Err(e) => Err(store_error(e)),
    }
}

async fn end_session(app: &App, key: &str) {
    if let Err(e) = app.store.delete_session(key).await {
        tracing::warn!(error = %e, "could not delete an ended session");
    }
}
