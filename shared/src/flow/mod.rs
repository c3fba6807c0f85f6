//! The flows: login, callback, refresh and session. Each `handle` turns a request into a
//! response; the decisions live in the typed functions beside it.

pub mod callback;
pub mod handoff;
pub mod login;
pub mod refresh;
pub mod session;

use crate::app::App;
use crate::crypto::{is_token_shaped, sha256_b64url};
use crate::http::{ApiError, Request, allowed_origin, cookie, header_str};
use crate::store::StoreError;

/// How a request proved it holds a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The HttpOnly session cookie of a browser.
    Cookie,
    /// `Authorization: Bearer <session_token>` of a mobile app.
    Bearer,
}

/// The storage key of a session id: its SHA-256. The id itself is never stored.
pub fn session_key(session_id: &str) -> String {
    sha256_b64url(session_id.as_bytes())
}

/// Finds the caller's session key. With `state_changing`, a cookie request must carry
/// `X-Requested-With: fetch` and, when it sends an `Origin`, an allowed one.
pub fn authenticate(
    app: &App,
    req: &Request,
    state_changing: bool,
) -> Result<(String, Credential), ApiError> {
    if let Some(auth) = header_str(req, "authorization") {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| is_token_shaped(t))
            .ok_or(ApiError::Unauthenticated)?;
        return Ok((session_key(token), Credential::Bearer));
    }
    let name = app.cookies.session_name();
    let Some(id) = cookie(req, name) else {
        return Err(ApiError::Unauthenticated);
    };
    if state_changing {
        let header_ok = header_str(req, "x-requested-with") == Some("fetch");
        let origin_ok = req.headers().get("origin").is_none()
            || allowed_origin(req, &app.config.allowed_origins).is_some();
        if !header_ok || !origin_ok {
            return Err(ApiError::CsrfRejected);
        }
    }
    if !is_token_shaped(id) {
        return Err(ApiError::Unauthenticated);
    }
    Ok((session_key(id), Credential::Cookie))
}

/// Store failures as the client sees them.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Corrupt(_) => {
            tracing::error!(error = %e, "stored data could not be read");
            ApiError::Internal
        }
        other => {
            tracing::warn!(error = %other, "store failure");
            ApiError::StoreUnavailable
        }
    }
}
