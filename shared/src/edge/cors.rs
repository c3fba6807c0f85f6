//! CORS: exactly `allowed_origins`, with credentials, never a wildcard.

use http::{HeaderValue, StatusCode, header};
use lambda_http::Body;

use super::{Request, Response, header_str};
use crate::types::Origin;

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

/// Request headers an auth route reads.
const AUTH_HEADERS: &str = "Content-Type, X-Requested-With, Authorization";

/// Request headers a proxied call may send: ours, plus those passed on to the API.
const PROXY_HEADERS: &str = "Content-Type, X-Requested-With, Authorization, Accept, \
     Accept-Language, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range";

/// The answer to a CORS preflight on an auth route: 204, with the allow headers only for an
/// allowed origin.
pub fn preflight(origin: Option<&Origin>) -> Response {
    preflight_allowing(origin, "GET, POST", AUTH_HEADERS)
}

/// The answer to a CORS preflight on an API route: the API's own methods (so a `PUT` or
/// `DELETE` it allows is not refused by the browser first) and the headers passed on to it.
pub fn proxy_preflight(origin: Option<&Origin>, methods: &[http::Method]) -> Response {
    let methods: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
    preflight_allowing(origin, &methods.join(", "), PROXY_HEADERS)
}

fn preflight_allowing(origin: Option<&Origin>, methods: &str, headers: &'static str) -> Response {
    let mut resp = http::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    // An unknown API allows nothing: no allow headers, so the browser stops there.
    if origin.is_some()
        && !methods.is_empty()
        && let Ok(methods) = HeaderValue::from_str(methods)
    {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(headers),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    add_cors(&mut resp, origin);
    resp
}
