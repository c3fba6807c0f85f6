//! Who is calling: the session a request presents (bearer token or cookie), and the CSRF rule
//! for cookie requests that change state.

use crate::crypto::is_token_shaped;
use crate::edge::{ApiError, Cookies, Request, allowed_origin, cookie, header_str};
use crate::store::keys::session_key;
use crate::types::Origin;

/// How a request proved it holds a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The HttpOnly session cookie of a browser.
    Cookie,
    /// `Authorization: Bearer <session_token>` of a mobile app.
    Bearer,
}

/// Finds the caller's session key: a bearer session token, else the session cookie. With
/// `state_changing`, a cookie request must carry `X-Requested-With: fetch` (which a cross-site
/// form cannot send) and, when it sends an `Origin`, an allowed one; bearer requests are not
/// ambient and need neither.
pub fn authenticate(
    req: &Request,
    cookies: Cookies,
    allowed_origins: &[Origin],
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
    let name = cookies.session_name();
    let Some(id) = cookie(req, name) else {
        return Err(ApiError::Unauthenticated);
    };
    if state_changing {
        let header_ok = header_str(req, "x-requested-with") == Some("fetch");
        let origin_ok =
            req.headers().get("origin").is_none() || allowed_origin(req, allowed_origins).is_some();
        if !header_ok || !origin_ok {
            return Err(ApiError::CsrfRejected);
        }
    }
    if !is_token_shaped(id) {
        return Err(ApiError::Unauthenticated);
    }
    Ok((session_key(id), Credential::Cookie))
}
