//! The HTTP edge (named so it does not shadow the `http` crate): query and cookie parsing with
//! limits, cookies, CORS, and every error mapped to its status and JSON body in one place.

use http::{HeaderValue, StatusCode, header};
use lambda_http::Body;
use serde_json::json;

mod authorizer_event;
mod cookies;
mod cors;
mod form;

pub use authorizer_event::{
    authorizer_event_context, authorizer_event_for, request_from_authorizer_event,
};
pub use cookies::{Cookies, add_cookie, cookie};
pub use cors::{add_cors, allowed_origin, preflight, proxy_preflight};
pub use form::{FormError, MAX_QUERY, Query, Repeated, parse_form};

/// The request type every handler takes (what `lambda_http` produces).
pub type Request = http::Request<Body>;
/// The response type every handler returns.
pub type Response = http::Response<Body>;

/// Longest request body accepted (refresh options, hand-off redemption).
pub const MAX_BODY: usize = 8 * 1024;

/// Every error a client can see. Codes and statuses are part of the contract.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum ApiError {
    /// No such provider is configured.
    #[error("unknown_provider")]
    UnknownProvider,
    /// No such route.
    #[error("not_found")]
    NotFound,
    /// The route exists for another method.
    #[error("method_not_allowed")]
    MethodNotAllowed,
    /// `return_to` is neither a safe path nor on an allowed origin.
    #[error("invalid_return_to")]
    InvalidReturnTo,
    /// A malformed request (repeated or oversized parameters, bad JSON).
    #[error("invalid_request")]
    InvalidRequest,
    /// `app_redirect` is not one of `mobile_redirects`.
    #[error("invalid_app_redirect")]
    InvalidAppRedirect,
    /// `state` missing, repeated, unknown, expired, used, or not bound to this browser.
    #[error("invalid_state")]
    InvalidState,
    /// `iss` in the authorization response is not the provider's issuer (RFC 9207).
    #[error("invalid_issuer")]
    InvalidIssuer,
    /// Login failed and no `return_to` can be trusted to carry the error.
    #[error("login_failed")]
    LoginFailed,
    /// A cookie-authenticated request without the CSRF header or from a foreign origin.
    #[error("csrf_rejected")]
    CsrfRejected,
    /// No valid session.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The provider no longer honours the refresh token; the user must log in again.
    #[error("reauth_required")]
    ReauthRequired,
    /// A hand-off code that is wrong, used or expired.
    #[error("invalid_grant")]
    InvalidGrant,
    /// The provider is unreachable, slow or answering errors; nothing was changed.
    #[error("provider_unavailable")]
    ProviderUnavailable,
    /// The store is unreachable; nothing was changed.
    #[error("store_unavailable")]
    StoreUnavailable,
    /// No such API is configured under `[apis]`.
    #[error("unknown_api")]
    UnknownApi,
    /// The session belongs to another provider than the API's.
    #[error("wrong_provider")]
    WrongProvider,
    /// The API is unreachable, slow, or answered more than the proxy carries.
    #[error("upstream_unavailable")]
    UpstreamUnavailable,
    /// A request body larger than the route accepts.
    #[error("payload_too_large")]
    PayloadTooLarge,
    /// A fault of the deployment (for example a key that cannot decrypt stored data).
    #[error("server_error")]
    Internal,
    /// The session holds no provider access token (a native sign-in with an id_token alone).
    #[error("no_provider_token")]
    NoProviderToken,
    /// The provider does not accept this kind of credential at `/native`.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
}

impl ApiError {
    /// Every error, for documentation checks (`openapi.yaml` lists each code).
    pub const ALL: [ApiError; 22] = {
        use ApiError::*;
        [
            UnknownProvider,
            NotFound,
            MethodNotAllowed,
            InvalidReturnTo,
            InvalidRequest,
            InvalidAppRedirect,
            InvalidState,
            InvalidIssuer,
            LoginFailed,
            CsrfRejected,
            Unauthenticated,
            ReauthRequired,
            InvalidGrant,
            ProviderUnavailable,
            StoreUnavailable,
            UnknownApi,
            WrongProvider,
            UpstreamUnavailable,
            PayloadTooLarge,
            Internal,
            NoProviderToken,
            UnsupportedGrantType,
        ]
    };

    /// HTTP status for this error.
    pub fn status(self) -> StatusCode {
        use ApiError::*;
        match self {
            UnknownProvider | NotFound | UnknownApi => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            InvalidReturnTo | InvalidRequest | InvalidAppRedirect | InvalidState
            | InvalidIssuer | LoginFailed | InvalidGrant | UnsupportedGrantType => {
                StatusCode::BAD_REQUEST
            }
            NoProviderToken => StatusCode::CONFLICT,
            CsrfRejected | WrongProvider => StatusCode::FORBIDDEN,
            UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Unauthenticated | ReauthRequired => StatusCode::UNAUTHORIZED,
            ProviderUnavailable | StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Fixed, safe description; never echoes input.
    pub fn description(self) -> &'static str {
        use ApiError::*;
        match self {
            UnknownProvider => "No provider with this name is configured.",
            NotFound => "No such route.",
            MethodNotAllowed => "This route does not accept this method.",
            InvalidReturnTo => "return_to must be a path or a URL on an allowed origin.",
            InvalidRequest => "The request is malformed.",
            InvalidAppRedirect => "app_redirect is not a registered mobile redirect.",
            InvalidState => {
                "The login state is missing, expired, already used or from another browser."
            }
            InvalidIssuer => "The authorization response came from another issuer.",
            LoginFailed => "The login could not be completed.",
            CsrfRejected => "Cookie requests need X-Requested-With: fetch and an allowed Origin.",
            Unauthenticated => "No valid session.",
            ReauthRequired => "The session has ended at the provider; log in again.",
            InvalidGrant => "The code or credential is invalid, expired or already used.",
            ProviderUnavailable => "The provider is unavailable; try again later.",
            StoreUnavailable => "Storage is unavailable; try again later.",
            UnknownApi => "No API with this name is configured.",
            WrongProvider => "This API is called with a session of another provider.",
            UpstreamUnavailable => "The API is unavailable or answered too much; try again later.",
            PayloadTooLarge => "The request body is too large.",
            Internal => "Internal error.",
            NoProviderToken => "This session holds no provider access token.",
            UnsupportedGrantType => "This provider does not accept this kind of credential.",
        }
    }

    /// The contract's JSON error response (noted for the request's security event).
    pub fn response(self) -> Response {
        crate::events::note(|n| {
            n.error = Some(self);
            n.provider_unavailable |= self == ApiError::ProviderUnavailable;
        });
        let mut resp = json_response(
            self.status(),
            &json!({"error": self.to_string(), "error_description": self.description()}),
        );
        if matches!(self, ApiError::Unauthenticated | ApiError::ReauthRequired) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// A JSON response.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = http::Response::new(Body::Text(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 302 to `location`. A location that is not a valid header value becomes a login_failed error.
pub fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut resp = http::Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::FOUND;
            resp.headers_mut().insert(header::LOCATION, value);
            resp
        }
        Err(_) => ApiError::LoginFailed.response(),
    }
}

/// Headers every auth response carries: never cached, never leaks a Referer.
pub fn finish(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// One header's value as text, when present once and printable.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The request body as bytes; `None` when it exceeds [`MAX_BODY`].
pub fn body_bytes(req: &Request) -> Option<&[u8]> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    (bytes.len() <= MAX_BODY).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_json_with_contract_codes() {
        let resp = ApiError::InvalidState.response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let Body::Text(text) = resp.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["error"], "invalid_state");
        assert!(v["error_description"].is_string());
    }
}
