//! `POST /auth/token`: a mobile app redeems its one-time hand-off code with its PKCE verifier
//! and receives a bearer session token (RFC 8252 flow, completed by RFC 7636 on our side).

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::crypto::{TOKEN_BYTES, constant_time_eq, is_token_shaped, pkce_s256, random_token};
use crate::edge::{
    ApiError, MAX_BODY, Request, Response, body_bytes, header_str, json_response, parse_form,
};
use crate::secret::SessionId;
use crate::store::Session;

use super::store_error;
use crate::store::keys::{handoff_key, session_key};

/// Seconds a hand-off code stays redeemable.
pub const HANDOFF_TTL: u64 = 60;

#[derive(Deserialize)]
struct Redemption {
    code: Option<String>,
    code_verifier: Option<String>,
}

/// A new bearer session for the app.
#[derive(Debug)]
pub struct Redeemed {
    /// The session token.
    pub session_token: SessionId,
    /// Seconds until the session expires.
    pub expires_in: u64,
}

/// The route handler.
pub async fn handle(app: &App, req: &Request) -> Response {
    let result = async {
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let is_json = header_str(req, "content-type")
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        let r: Redemption = if is_json {
            serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest)?
        } else {
            let mut code = None;
            let mut verifier = None;
            let pairs = parse_form(body, MAX_BODY).map_err(|_| ApiError::InvalidRequest)?;
            for (k, v) in pairs {
                let slot = match k.as_str() {
                    "code" => &mut code,
                    "code_verifier" => &mut verifier,
                    _ => continue,
                };
                if slot.replace(v).is_some() {
                    return Err(ApiError::InvalidRequest);
                }
            }
            Redemption {
                code,
                code_verifier: verifier,
            }
        };
        let (Some(code), Some(verifier)) = (r.code, r.code_verifier) else {
            return Err(ApiError::InvalidRequest);
        };
        redeem(app, &code, &verifier).await
    }
    .await;
    match result {
        Ok(r) => json_response(
            http::StatusCode::OK,
            &json!({
                "session_token": r.session_token.expose(),
                "token_type": "Bearer",
                "expires_in": r.expires_in,
            }),
        ),
        Err(e) => e.response(),
    }
}

/// RFC 7636 §4.1: 43–128 characters of the unreserved set.
fn verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Consumes the code (whatever the verifier) and creates the session when the verifier matches.
#[tracing::instrument(name = "redeem", skip_all)]
pub async fn redeem(app: &App, code: &str, verifier: &str) -> Result<Redeemed, ApiError> {
    if !is_token_shaped(code) {
        return Err(ApiError::InvalidGrant);
    }
    let now = app.now();
    let handoff = app
        .store
        .take_handoff(&handoff_key(code), now)
        .await
        .map_err(store_error)?
        .ok_or(ApiError::InvalidGrant)?;
    if !verifier_shaped(verifier) || !constant_time_eq(&pkce_s256(verifier), &handoff.challenge) {
        tracing::warn!("hand-off redeemed with a wrong verifier; code burned");
        return Err(ApiError::InvalidGrant);
    }
    let session_token = SessionId::new(random_token(TOKEN_BYTES));
    let session = Session {
        key: session_key(session_token.expose()),
        ..handoff.session
    };
    app.store
        .create_session(&session)
        .await
        .map_err(store_error)?;
    tracing::info!(provider = %session.provider, "mobile session created");
    Ok(Redeemed {
        session_token,
        expires_in: session.expires_at.saturating_sub(now),
    })
}
