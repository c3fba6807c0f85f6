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
