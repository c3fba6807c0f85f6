//! `POST /auth/token`: a mobile app redeems its one-time hand-off code with its PKCE verifier
//! and receives a bearer session token (RFC 8252 flow, completed by RFC 7636 on our side).

use serde::Deserialize;

use super::store_error;
use crate::crypto::{constant_time_eq, is_token_shaped, pkce_s256};
use crate::deps::Deps;
use crate::edge::{ApiError, MAX_BODY, Request, body_bytes, header_str, parse_form};
use crate::secret::SessionId;
use crate::store::Session;
use crate::store::keys::{handoff_key, session_key};

/// Seconds a hand-off code stays redeemable.
pub const HANDOFF_TTL: u64 = 60;

/// `POST /auth/token`: the one-time code and the app's PKCE verifier, from a JSON or form body.
#[derive(Deserialize)]
pub struct Redemption {
    code: String,
    code_verifier: String,
}

impl std::fmt::Debug for Redemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redemption([redacted])")
    }
}

impl Redemption {
    /// Reads a JSON body (`Content-Type: application/json`) or a strictly decoded form body;
    /// a missing or repeated field is `invalid_request`.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let is_json = header_str(req, "content-type")
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if is_json {
            return serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest);
        }
        // Strict decoding first (serde_urlencoded would decode malformed input lossily), then
        // serde_urlencoded, which refuses a repeated field.
        parse_form(body, MAX_BODY).map_err(|_| ApiError::InvalidRequest)?;
        serde_urlencoded::from_bytes(body).map_err(|_| ApiError::InvalidRequest)
    }
}

/// A new bearer session for the app.
#[derive(Debug)]
pub struct Redeemed {
    /// The session token.
    pub session_token: SessionId,
    /// Seconds until the session expires.
    pub expires_in: u64,
}

/// RFC 7636 §4.1: 43–128 characters of the unreserved set.
fn verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Consumes the code (whatever the verifier) and creates the session when the verifier matches.
#[tracing::instrument(name = "redeem", skip_all)]
pub async fn redeem(deps: Deps<'_>, redemption: Redemption) -> Result<Redeemed, ApiError> {
    let Redemption {
        code,
        code_verifier: verifier,
    } = redemption;
    if !is_token_shaped(&code) {
        return Err(ApiError::InvalidGrant);
    }
    let now = deps.now();
    let handoff = deps
        .store
        .take_handoff(&handoff_key(&code), now)
        .await
        .map_err(store_error)?
        .ok_or(ApiError::InvalidGrant)?;
    if !verifier_shaped(&verifier) || !constant_time_eq(&pkce_s256(&verifier), &handoff.challenge) {
        tracing::warn!("hand-off redeemed with a wrong verifier; code burned");
        return Err(ApiError::InvalidGrant);
    }
    let session_token = SessionId::new(deps.token());
    let session = Session {
        key: session_key(session_token.expose()),
        ..handoff.session
    };
    deps.store
        .create_session(&session)
        .await
        .map_err(store_error)?;
    tracing::info!(provider = %session.provider, "mobile session created");
    Ok(Redeemed {
        session_token,
        expires_in: session.expires_at.saturating_sub(now),
    })
}
