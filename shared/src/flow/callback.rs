//! `GET /auth/{provider}/callback`: consume the transaction, check `iss`, exchange the code,
//! verify the id_token and create the session.

use super::Settings;
use super::first_login;
use crate::crypto::is_token_shaped;
use crate::deps::Deps;
use crate::edge::{
    ApiError, Cookies, FormError, MAX_BODY, Query, Request, body_bytes, cookie, header_str,
};
use crate::events::{self, Reason};
use crate::provider::discovery::Metadata;
use crate::provider::id_token::{self, Expected};
use crate::provider::outcome::{self, Identity};
use crate::provider::{Provider, ProviderError, token, userinfo};
use crate::secret::{AuthCode, SessionId};
use crate::store::keys::{handoff_key, session_key, transaction_key};
use crate::store::{Handoff, Session, Transaction};
use crate::telemetry::Chain;
use crate::types::ReturnTo;

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

/// The authorization response as the browser brought it back, parsed before anything is
/// looked up. `state` and the binding cookie are required here; the rest is judged only once
/// the transaction is consumed.
pub struct CallbackParams {
    /// `state`, token-shaped.
    state: String,
    /// The browser's binding cookie, token-shaped.
    binding: String,
    /// RFC 9207 `iss`.
    iss: Iss,
    /// The error code to pass on when the provider answered with `error`.
    error: Option<&'static str>,
    /// The authorization code, when present once and of a sane length.
    code: Option<AuthCode>,
    /// The name in a first login's `user` JSON (Sign in with Apple), never used for identity.
    first_login_name: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

/// The `iss` parameter of an authorization response.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Iss {
    Absent,
    One(String),
    Repeated,
}

impl CallbackParams {
    /// Reads the query and the binding cookie. Malformed parameters, a missing `state` or a
    /// missing binding are refused here, so no transaction is consumed for them.
    pub fn from_request(req: &Request, cookies: Cookies) -> Result<Self, ApiError> {
        let query = Query::from_request(req).map_err(|e| match e {
            FormError::TooLong => ApiError::InvalidState,
            FormError::Malformed(_) if e.param() == Some("state") => ApiError::InvalidState,
            FormError::Malformed(_) => ApiError::InvalidRequest,
        })?;
        let binding = cookie(req, cookies.tx_name());
        Self::from_query(&query, binding)
    }

    /// The parameters from a parsed query and the binding cookie's value.
    pub fn from_query(query: &Query, binding: Option<&str>) -> Result<Self, ApiError> {
        let state = query
            .single("state")
            .ok()
            .flatten()
            .filter(|s| is_token_shaped(s))
            .ok_or(ApiError::InvalidState)?;
        let binding = binding
            .filter(|b| is_token_shaped(b))
            .ok_or(ApiError::InvalidState)?;
        let iss = match query.single("iss") {
            Ok(None) => Iss::Absent,
            Ok(Some(iss)) => Iss::One(iss.to_owned()),
            Err(_) => Iss::Repeated,
        };
        let code = match query.single("code") {
            Ok(Some(c)) if !c.is_empty() && c.len() <= MAX_CODE => Some(AuthCode::new(c)),
            _ => None,
        };
        Ok(Self {
            state: state.to_owned(),
            binding: binding.to_owned(),
            iss,
            error: provider_error(query),
            code,
            first_login_name: query
                .single("user")
                .ok()
                .flatten()
                .and_then(first_login::first_login_name),
        })
    }

    /// Reads a form-post authorization response (OAuth 2.0 Form Post Response Mode): an
    /// `application/x-www-form-urlencoded` body under [`MAX_BODY`], decoded as strictly as a
    /// query; anything else is `invalid_request` and consumes nothing.
    pub fn from_form(req: &Request, cookies: Cookies) -> Result<Self, ApiError> {
        let is_form = header_str(req, "content-type").is_some_and(|ct| {
            let ct = ct.trim_start().to_ascii_lowercase();
            ct == "application/x-www-form-urlencoded"
                || ct.starts_with("application/x-www-form-urlencoded;")
        });
        if !is_form {
            return Err(ApiError::InvalidRequest);
        }
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let form = Query::from_body(body, MAX_BODY).map_err(|e| match e.param() {
            Some("state") => ApiError::InvalidState,
            _ => ApiError::InvalidRequest,
        })?;
        Self::from_query(&form, cookie(req, cookies.tx_name()))
    }
}

/// Runs the callback. Errors before the transaction is found are client errors, and so is an
/// `iss` mismatch (the contract's 400 `invalid_issuer`, answered after the transaction is
/// consumed so that the response cannot be replayed); every other failure after that is a
/// redirect to the transaction's `return_to` (or app redirect) with `?error=`.
#[tracing::instrument(name = "callback", skip_all, fields(provider = %provider.config.id))]
pub async fn complete(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    params: CallbackParams,
) -> Result<Outcome, ApiError> {
    let tx = take_transaction(deps, provider, &params).await?;
    let fail = |reason: Reason, detail: &dyn std::fmt::Display| {
        tracing::warn!(reason = %detail, "login failed");
        events::note(|n| {
            n.login_failure = Some(reason);
            n.provider_unavailable |= reason == Reason::ProviderUnavailable;
            n.store_unavailable |= reason == Reason::StoreUnavailable;
        });
        Outcome::Redirect(tx.error_location("login_failed"))
    };
    let metadata = match provider.metadata(deps).await {
        Ok(m) => m,
        Err(e) => return Ok(fail(Reason::ProviderUnavailable, &Chain(&e))),
    };
    check_issuer(&params.iss, provider, &metadata)?;
    if let Some(code) = params.error {
        tracing::info!(code, "provider returned an error");
        events::note(|n| n.login_failure = Some(Reason::ProviderDenied));
        return Ok(Outcome::Redirect(tx.error_location(code)));
    }
    let Some(code) = params.code else {
        return Ok(fail(Reason::MissingCode, &"missing or malformed code"));
    };
    let mut session = match signed_in(
        deps,
        settings,
        provider,
        &metadata,
        &code,
        &params.state,
        &tx,
    )
    .await
    {
        Ok(session) => session,
        Err(e) => return Ok(fail(Reason::from(&e), &Chain(&e))),
    };
    first_login::fill_name(deps, provider, &mut session, params.first_login_name).await;
    match deliver(deps, &tx, session).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => Ok(fail(Reason::StoreUnavailable, &Chain(&e))),
    }
}

/// Consumes the transaction that `state`, the browser's binding cookie and the provider name
/// find, in one atomic step; anything else is `invalid_state` and consumes nothing.
#[tracing::instrument(level = "debug", skip_all)]
async fn take_transaction(
    deps: Deps<'_>,
    provider: &Provider,
    params: &CallbackParams,
) -> Result<Transaction, ApiError> {
    let key = transaction_key(provider.config.id.as_str(), &params.state, &params.binding);
    deps.store
        .take_transaction(&key, deps.now())
        .await
        .map_err(super::store_error)?
        .ok_or(ApiError::InvalidState)
}

/// RFC 9207: a present `iss` must match; a provider that advertises it must send it.
fn check_issuer(iss: &Iss, provider: &Provider, metadata: &Metadata) -> Result<(), ApiError> {
    let accepted = &provider.config.accepted_issuers;
    match iss {
        Iss::Repeated => Err(ApiError::InvalidIssuer),
        Iss::One(iss) if !accepted.is_empty() && !accepted.contains(iss) => {
            Err(ApiError::InvalidIssuer)
        }
        Iss::Absent if metadata.authorization_response_iss_parameter_supported => {
            Err(ApiError::InvalidIssuer)
        }
        _ => Ok(()),
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

/// Exchanges the code (and, for Facebook, the token for a long-lived one), then identifies the
/// user by the verified id_token (OIDC) or the userinfo answer (plain OAuth 2.0).
#[tracing::instrument(level = "debug", skip_all)]
async fn signed_in(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    metadata: &Metadata,
    code: &AuthCode,
    state: &str,
    tx: &Transaction,
) -> Result<Session, ProviderError> {
    let config = &provider.config;
    let mut response = token::exchange_code(
        deps.http,
        config,
        metadata,
        code,
        &tx.verifier,
        &settings.redirect_uri(config.id.as_str()),
        state,
    )
    .await?;
    if config.quirks.long_lived_exchange {
        response = token::long_lived(deps.http, config, metadata, &response.access_token).await?;
    }
    let now = deps.now();
    let expires_at = now + settings.session_ttl;
    let (tokens, id_token) = outcome::token_set(response, None, now, expires_at);
    let identity = if config.is_oidc() {
        let id_token = id_token
            .ok_or_else(|| ProviderError::Invalid("no id_token in the token response".into()))?;
        let expected = Expected {
            issuers: &config.accepted_issuers,
            client_id: &config.client_id,
            apps: &[],
            nonce: tx.nonce.as_ref().map(|n| n.expose()),
            now,
            nonce_may_be_hashed: false,
        };
        let claims = id_token::verify(&id_token, &expected, metadata, &provider.jwks, deps.http)
            .await
            .map_err(ProviderError::IdToken)?;
        Identity::from_claims(claims, config.quirks.id_token_email_verified)?
    } else {
        userinfo::identity(deps.http, config, &tokens.access_token).await?
    };
    Ok(Session {
        key: String::new(),
        provider: provider.config.id.clone(),
        subject: identity.subject,
        profile: identity.profile,
        sid: identity.sid,
        client: None,
        tokens,
        version: 0,
        lease_until: 0,
        created_at: now,
        expires_at,
    })
}

/// Stores the session under a fresh id for the browser, or, for a mobile login, as a hand-off
/// the app redeems with its one-time code.
#[tracing::instrument(level = "debug", skip_all)]
async fn deliver(
    deps: Deps<'_>,
    tx: &Transaction,
    session: Session,
) -> Result<Outcome, crate::store::StoreError> {
    if let Some(app_login) = &tx.app {
        let code = deps.token();
        let handoff = Handoff {
            key: handoff_key(&code),
            challenge: app_login.challenge.clone(),
            expires_at: session.created_at + super::handoff::HANDOFF_TTL,
            session,
        };
        deps.store.put_handoff(&handoff).await?;
        tracing::info!("mobile login completed; hand-off code issued");
        // No session exists yet (the app redeems the code for one): no session to name.
        let session = &handoff.session;
        events::note(|n| {
            n.provider = Some(session.provider.clone());
            n.subject = Some(session.subject.clone());
            n.signed_in = true;
        });
        return Ok(Outcome::Redirect(
            app_login.redirect.with_param("code", &code),
        ));
    }
    let session_id = SessionId::new(deps.token());
    let session = Session {
        key: session_key(session_id.expose()),
        ..session
    };
    deps.store.create_session(&session).await?;
    tracing::info!("session created");
    events::note_session(&session.key, &session.provider, &session.subject);
    events::note(|n| n.signed_in = true);
    Ok(Outcome::SignedIn {
        session_id,
        return_to: tx.return_to.clone(),
    })
}

#[cfg(test)]
#[path = "tests/callback.rs"]
mod tests;
