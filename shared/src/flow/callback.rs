//! `GET /auth/{provider}/callback`: consume the transaction, check `iss`, exchange the code,
//! verify the id_token and create the session.

use crate::app::App;
use crate::crypto::{TOKEN_BYTES, is_token_shaped, random_token};
use crate::edge::{ApiError, FormError, Query, Request, Response, add_cookie, cookie, redirect};
use crate::provider::discovery::Metadata;
use crate::provider::id_token::{self, Expected};
use crate::provider::{Provider, token};
use crate::secret::{AuthCode, SessionId};
use crate::store::{Handoff, Profile, Session, TokenSet, Transaction};
use crate::telemetry::Chain;
use crate::types::ReturnTo;

use super::login::redirect_uri;
use crate::store::keys::{handoff_key, session_key, transaction_key};

/// Error codes a provider may send that are passed on to the frontend; anything else becomes
/// `access_denied`. The provider's description is never passed on.
const PASSED_ON_ERRORS: &[&str] = &[
    "access_denied",
    "invalid_scope",
    "interaction_required",
    "login_required",
    "consent_required",
    "account_selection_required",
    "temporarily_unavailable",
    "server_error",
];

/// Access token lifetime assumed when the provider does not say.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// Longest authorization code accepted.
const MAX_CODE: usize = 4096;

/// How a callback ended, when it got as far as a transaction. `Debug` redacts the redirect: it
/// can carry a hand-off code.
pub enum Outcome {
    /// Signed in: set the session cookie and go to `return_to`.
    SignedIn {
        /// The new session id for the cookie.
        session_id: SessionId,
        /// Where the browser goes.
        return_to: ReturnTo,
    },
    /// The login did not complete (`return_to` or the app redirect with `?error=`), or a mobile
    /// login completed (the app redirect with `?code=`): go to this location.
    Redirect(String),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedIn {
                session_id,
                return_to,
            } => f
                .debug_struct("SignedIn")
                .field("session_id", session_id)
                .field("return_to", return_to)
                .finish(),
            Self::Redirect(_) => f.write_str("Redirect([redacted])"),
        }
    }
}

/// The route handler.
pub async fn handle(app: &App, provider: &str, req: &Request) -> Response {
    let result = async {
        let provider = app.provider(provider).ok_or(ApiError::UnknownProvider)?;
        // Malformed before anything is looked up: no transaction is consumed.
        let query = Query::from_request(req).map_err(|e| match e {
            FormError::TooLong => ApiError::InvalidState,
            FormError::Malformed(_) if e.param() == Some("state") => ApiError::InvalidState,
            FormError::Malformed(_) => ApiError::InvalidRequest,
        })?;
        let binding = cookie(req, app.cookies.tx_name());
        complete(app, provider, &query, binding).await
    }
    .await;
    let cookies = app.cookies;
    match result {
        Ok(Outcome::SignedIn {
            session_id,
            return_to,
        }) => {
            // The browser's previous session (if any) is replaced by the new cookie: end it
            // rather than leave its tokens at rest until it expires.
            if let Some(old) = cookie(req, cookies.session_name()).filter(|c| is_token_shaped(c))
                && let Err(e) = app.store.delete_session(&session_key(old)).await
            {
                tracing::warn!(error = %e, "could not delete the replaced session");
            }
            let mut resp = redirect(&return_to.location());
            add_cookie(
                &mut resp,
                &cookies.set(
                    cookies.session_name(),
                    session_id.expose(),
                    app.config.session_ttl.as_secs(),
                ),
            );
            add_cookie(&mut resp, &cookies.clear(cookies.tx_name()));
            resp
        }
        Ok(Outcome::Redirect(location)) => {
            let mut resp = redirect(&location);
            add_cookie(&mut resp, &cookies.clear(cookies.tx_name()));
            resp
        }
        Err(e) => e.response(),
    }
}

/// Runs the callback. Errors before the transaction is found are client errors; after it is
/// consumed, failures are redirects to its `return_to`.
#[tracing::instrument(name = "callback", skip_all, fields(provider = %provider.config.id))]
pub async fn complete(
    app: &App,
    provider: &Provider,
    query: &Query,
    binding: Option<&str>,
) -> Result<Outcome, ApiError> {
    let tx = take_transaction(app, provider, query, binding).await?;
    let fail = |reason: &str| {
        tracing::warn!(reason, "login failed");
        Outcome::Redirect(tx.error_location("login_failed"))
    };
    let metadata = match provider.metadata(&app.http).await {
        Ok(m) => m,
        Err(e) => return Ok(fail(&Chain(&e).to_string())),
    };
    check_issuer(query, provider, &metadata)?;
    if let Some(code) = provider_error(query) {
        tracing::info!(code, "provider returned an error");
        return Ok(Outcome::Redirect(tx.error_location(code)));
    }
    let session = match signed_in(app, provider, &metadata, query, &tx).await {
        Ok(session) => session,
        Err(reason) => return Ok(fail(&reason)),
    };
    match deliver(app, &tx, session).await {
        Ok(outcome) => Ok(outcome),
        Err(reason) => Ok(fail(&reason)),
    }
}

/// Consumes the transaction that `state`, the browser's binding cookie and the provider name
/// find, in one atomic step; anything else is `invalid_state` and consumes nothing.
async fn take_transaction(
    app: &App,
    provider: &Provider,
    query: &Query,
    binding: Option<&str>,
) -> Result<Transaction, ApiError> {
    let state = query
        .single("state")
        .ok()
        .flatten()
        .filter(|s| is_token_shaped(s))
        .ok_or(ApiError::InvalidState)?;
    let binding = binding
        .filter(|b| is_token_shaped(b))
        .ok_or(ApiError::InvalidState)?;
    let key = transaction_key(provider.config.id.as_str(), state, binding);
    app.store
        .take_transaction(&key, app.now())
        .await
        .map_err(super::store_error)?
        .ok_or(ApiError::InvalidState)
}

/// RFC 9207: a present `iss` must match; a provider that advertises it must send it.
fn check_issuer(query: &Query, provider: &Provider, metadata: &Metadata) -> Result<(), ApiError> {
    match query.single("iss") {
        Err(_) => Err(ApiError::InvalidIssuer),
        Ok(Some(iss)) if iss != provider.config.issuer() => Err(ApiError::InvalidIssuer),
        Ok(None) if metadata.authorization_response_iss_parameter_supported => {
            Err(ApiError::InvalidIssuer)
        }
        Ok(_) => Ok(()),
    }
}

/// The error code to pass on when the provider answered with `error`: one of a fixed list,
/// else `access_denied`; its description is never passed on.
fn provider_error(query: &Query) -> Option<&'static str> {
    match query.single("error") {
        Ok(None) => None,
        Ok(Some(error)) => Some(
            PASSED_ON_ERRORS
                .iter()
                .find(|c| **c == error)
                .copied()
                .unwrap_or("access_denied"),
        ),
        Err(_) => Some("access_denied"),
    }
}

/// Exchanges the code and verifies the id_token: the session to create, or why not (for logs).
async fn signed_in(
    app: &App,
    provider: &Provider,
    metadata: &Metadata,
    query: &Query,
    tx: &Transaction,
) -> Result<Session, String> {
    let code = match query.single("code") {
        Ok(Some(c)) if !c.is_empty() && c.len() <= MAX_CODE => AuthCode::new(c),
        _ => return Err("missing or malformed code".into()),
    };
    let id = provider.config.id.as_str();
    let redirect_uri = redirect_uri(app, id);
    let tokens = token::exchange_code(
        &app.http,
        &provider.config,
        metadata,
        &code,
        &tx.verifier,
        &redirect_uri,
    )
    .await
    .map_err(|e| Chain(&e).to_string())?;
    let raw_id_token = tokens
        .id_token
        .as_ref()
        .ok_or("no id_token in the token response")?;
    let now = app.now();
    let expected = Expected {
        issuer: provider.config.issuer(),
        client_id: &provider.config.client_id,
        nonce: tx.nonce.as_ref().map(|n| n.expose()),
        now,
    };
    let claims = id_token::verify(raw_id_token, &expected, metadata, &provider.jwks, &app.http)
        .await
        .map_err(|e| Chain(&e).to_string())?;
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err("unusable subject".into());
    }
    Ok(Session {
        key: String::new(),
        provider: provider.config.id.clone(),
        subject: claims.sub,
        profile: Profile {
            name: claims.name,
            email: claims.email,
            picture: claims.picture,
        },
        tokens: TokenSet {
            access_token: tokens.access_token,
            access_expires_at: now + tokens.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
            refresh_token: tokens.refresh_token,
            scope: tokens.scope,
            refreshed_at: 0,
        },
        version: 0,
        lease_until: 0,
        created_at: now,
        expires_at: now + app.config.session_ttl.as_secs(),
    })
}

/// Stores the session under a fresh id for the browser, or, for a mobile login, as a hand-off
/// the app redeems with its one-time code.
async fn deliver(app: &App, tx: &Transaction, session: Session) -> Result<Outcome, String> {
    if let Some(app_login) = &tx.app {
        let code = random_token(TOKEN_BYTES);
        let handoff = Handoff {
            key: handoff_key(&code),
            challenge: app_login.challenge.clone(),
            expires_at: session.created_at + super::handoff::HANDOFF_TTL,
            session,
        };
        app.store
            .put_handoff(&handoff)
            .await
            .map_err(|e| Chain(&e).to_string())?;
        tracing::info!("mobile login completed; hand-off code issued");
        return Ok(Outcome::Redirect(
            app_login.redirect.with_param("code", &code),
        ));
    }
    let session_id = SessionId::new(random_token(TOKEN_BYTES));
    let session = Session {
        key: session_key(session_id.expose()),
        ..session
    };
    app.store
        .create_session(&session)
        .await
        .map_err(|e| Chain(&e).to_string())?;
    tracing::info!("session created");
    Ok(Outcome::SignedIn {
        session_id,
        return_to: tx.return_to.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_outcome_does_not_print_its_hand_off_code() {
        let outcome = Outcome::Redirect("com.example.app:/cb?code=handoff-SECRET".into());
        assert!(!format!("{outcome:?}").contains("SECRET"));
    }
}
