//! The HTTP edge (named so it does not shadow the `http` crate): query and cookie parsing with
//! limits, cookies, CORS, and every error mapped to its status and JSON body in one place.

use http::{HeaderValue, StatusCode, header};
use lambda_http::Body;
use serde_json::json;

use crate::types::Origin;

/// The request type every handler takes (what `lambda_http` produces).
pub type Request = http::Request<Body>;
/// The response type every handler returns.
pub type Response = http::Response<Body>;

/// Longest query string accepted.
pub const MAX_QUERY: usize = 8 * 1024;
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
    /// A fault of the deployment (for example a key that cannot decrypt stored data).
    #[error("server_error")]
    Internal,
}

impl ApiError {
    /// HTTP status for this error.
    pub fn status(self) -> StatusCode {
        use ApiError::*;
        match self {
            UnknownProvider | NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            InvalidReturnTo | InvalidRequest | InvalidAppRedirect | InvalidState
            | InvalidIssuer | LoginFailed | InvalidGrant => StatusCode::BAD_REQUEST,
            CsrfRejected => StatusCode::FORBIDDEN,
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
            InvalidGrant => "The code is invalid, expired or already used.",
            ProviderUnavailable => "The provider is unavailable; try again later.",
            StoreUnavailable => "Storage is unavailable; try again later.",
            Internal => "Internal error.",
        }
    }

    /// The contract's JSON error response.
    pub fn response(self) -> Response {
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

/// Query parameters in order, with repeated names kept so they can be refused.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

/// A parameter that must appear at most once appeared more often.
#[derive(Debug, PartialEq, Eq)]
pub struct Repeated;

/// Why a query string or form body was refused before any parameter was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Longer than the limit.
    #[error("query or form body too long")]
    TooLong,
    /// Bad percent-encoding, invalid UTF-8 after decoding, or a control character (NUL, CR,
    /// LF, …) in a name or value. Holds the parameter's name when the name itself is sound, so
    /// the route can answer with that parameter's error code.
    #[error("malformed query or form parameter")]
    Malformed(Option<String>),
}

impl FormError {
    /// The name of the malformed parameter, when it could be read.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::Malformed(Some(name)) => Some(name),
            _ => None,
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+` is a space, every
/// `%` must start two hex digits, the result must be UTF-8 without control characters.
fn decode_component(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// Parses a query string or a form body strictly (see [`FormError`]), keeping repeated names.
pub fn parse_form(raw: &[u8], limit: usize) -> Result<Vec<(String, String)>, FormError> {
    if raw.len() > limit {
        return Err(FormError::TooLong);
    }
    let mut pairs = Vec::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode_component(name).ok_or(FormError::Malformed(None))?;
        let value =
            decode_component(value).ok_or_else(|| FormError::Malformed(Some(name.clone())))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

impl Query {
    /// Parses the request's query string strictly; longer than [`MAX_QUERY`] or malformed is
    /// an error, never a lossy decoding.
    pub fn from_request(req: &Request) -> Result<Self, FormError> {
        let raw = req.uri().query().unwrap_or("");
        parse_form(raw.as_bytes(), MAX_QUERY).map(Self)
    }

    /// The value of `name` when it appears once; `Err` when it appears more than once.
    pub fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some((_, v)), None) => Ok(Some(v.as_str())),
            (Some(_), Some(_)) => Err(Repeated),
        }
    }
}

/// The names of the two cookies, which depend on `cookie_secure`.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    /// Cookie naming and attributes for this deployment.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The login-transaction cookie's name.
    pub fn tx_name(self) -> &'static str {
        if self.secure {
            "__Host-auth_tx"
        } else {
            "auth_tx"
        }
    }

    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when configured.
    pub fn set(self, name: &str, value: &str, max_age_secs: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub fn clear(self, name: &str) -> String {
        self.set(name, "", 0)
    }
}

/// The value of the first cookie called `name`.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Appends a `Set-Cookie` header.
pub fn add_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// One header's value as text, when present once and printable.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The request's `Origin` when it is one of `allowed`.
pub fn allowed_origin<'a>(req: &Request, allowed: &'a [Origin]) -> Option<&'a Origin> {
    let origin = header_str(req, "origin")?;
    allowed.iter().find(|o| o.as_str() == origin)
}

/// Adds CORS response headers for an allowed origin (credentials included, never a wildcard).
pub fn add_cors(resp: &mut Response, origin: Option<&Origin>) {
    if let Some(origin) = origin
        && let Ok(v) = HeaderValue::from_str(origin.as_str())
    {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
}

/// The answer to a CORS preflight: 204, with the allow headers only for an allowed origin.
pub fn preflight(origin: Option<&Origin>) -> Response {
    let mut resp = http::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    if origin.is_some() {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, X-Requested-With, Authorization"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    add_cors(&mut resp, origin);
    resp
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

    fn req(uri: &str, cookie_header: Option<&str>) -> Request {
        let mut b = http::Request::builder().uri(uri);
        if let Some(c) = cookie_header {
            b = b.header("cookie", c);
        }
        b.body(Body::Empty).unwrap()
    }

    #[test]
    fn secure_cookies_have_host_prefix_and_all_attributes() {
        let c = Cookies::new(true);
        assert_eq!(c.session_name(), "__Host-session");
        assert_eq!(c.tx_name(), "__Host-auth_tx");
        let set = c.set(c.session_name(), "abc", 60);
        assert_eq!(
            set,
            "__Host-session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(c.clear(c.tx_name()).contains("Max-Age=0"));
    }

    #[test]
    fn insecure_development_cookies_drop_secure_and_prefix() {
        let c = Cookies::new(false);
        assert_eq!(c.session_name(), "session");
        assert_eq!(c.tx_name(), "auth_tx");
        assert!(!c.set("session", "v", 1).contains("Secure"));
    }

    #[test]
    fn cookie_lookup_finds_the_named_cookie() {
        let r = req("/", Some("a=1; __Host-session=xyz; b=2"));
        assert_eq!(cookie(&r, "__Host-session"), Some("xyz"));
        assert_eq!(cookie(&r, "session"), None);
    }

    #[test]
    fn malformed_query_parameters_are_refused_not_decoded_lossily() {
        for (query, param) in [
            ("return_to=%zz", Some("return_to")),
            ("return_to=%2", Some("return_to")),
            ("return_to=%", Some("return_to")),
            ("state=%ff%fe", Some("state")),
            ("code=a%00b", Some("code")),
            ("code=a%0Db", Some("code")),
            ("code=a%0ab", Some("code")),
            ("x=1&app_redirect=%C3%28", Some("app_redirect")),
            ("%zz=1", None),
            ("a%00=1", None),
        ] {
            let err = Query::from_request(&req(&format!("/x?{query}"), None)).unwrap_err();
            assert_eq!(err.param(), param, "{query}");
        }
        assert_eq!(
            Query::from_request(&req(&format!("/x?a={}", "b".repeat(MAX_QUERY)), None))
                .unwrap_err(),
            FormError::TooLong
        );
    }

    #[test]
    fn well_formed_queries_decode_plus_and_percent() {
        let q = Query::from_request(&req("/x?a=b+c%2Fd&e=%E2%98%83&f&&g=", None)).unwrap();
        assert_eq!(q.single("a"), Ok(Some("b c/d")));
        assert_eq!(q.single("e"), Ok(Some("\u{2603}")));
        assert_eq!(q.single("f"), Ok(Some("")));
        assert_eq!(q.single("g"), Ok(Some("")));
    }

    #[test]
    fn repeated_query_parameters_are_detected() {
        let q = Query::from_request(&req("/x?state=a&state=b&code=c", None)).unwrap();
        assert_eq!(q.single("state"), Err(Repeated));
        assert_eq!(q.single("code"), Ok(Some("c")));
        assert_eq!(q.single("nope"), Ok(None));
    }

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
