//! An API Gateway HTTP API authorizer event (payload 2.0) as the request the session lookup
//! reads: its headers and its `cookies` (which payload 2.0 moves out of the headers) as one
//! `Cookie` header. Anything unreadable in it is left out, never a failure: a credential that
//! is not there denies.

use http::{HeaderName, HeaderValue};
use lambda_http::Body;
use serde::Deserialize;

use super::Request;

/// Most headers or cookies read from one event (API Gateway caps a request's headers anyway).
const MAX_ITEMS: usize = 200;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event {
    headers: std::collections::BTreeMap<String, serde_json::Value>,
    cookies: Vec<serde_json::Value>,
}

/// The request an authorizer event describes, as far as the lookup needs it.
pub fn request_from_authorizer_event(event: &serde_json::Value) -> Request {
    let event: Event = serde_json::from_value(event.clone()).unwrap_or_default();
    let mut req = http::Request::new(Body::Empty);
    let headers = req.headers_mut();
    for (name, value) in event.headers.iter().take(MAX_ITEMS) {
        let (Ok(name), Some(value)) = (
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            value.as_str().and_then(|v| HeaderValue::from_str(v).ok()),
        ) else {
            continue;
        };
        if name != http::header::COOKIE {
            headers.append(name, value);
        }
    }
    let cookies: Vec<&str> = event
        .cookies
        .iter()
        .take(MAX_ITEMS)
        .filter_map(serde_json::Value::as_str)
        .collect();
    let from_header = event
        .headers
        .get("cookie")
        .and_then(serde_json::Value::as_str);
    let joined = match (cookies.is_empty(), from_header) {
        (false, _) => Some(cookies.join("; ")),
        (true, Some(header)) => Some(header.to_owned()),
        (true, None) => None,
    };
    if let Some(value) = joined.and_then(|j| HeaderValue::from_str(&j).ok()) {
        headers.insert(http::header::COOKIE, value);
    }
    req
}

/// Who sent the request an authorizer event describes, for its security event: the request id,
/// client address and `User-Agent` from the event's `requestContext`, and the route's own path
/// (from `routeKey`, never the raw path or query).
pub fn authorizer_event_context(event: &serde_json::Value) -> crate::events::Context {
    let context = &event["requestContext"];
    use crate::events::{MAX_METHOD, MAX_PATH, MAX_USER_AGENT, truncated};
    let text = |v: &serde_json::Value| v.as_str().map(|s| truncated(s, MAX_USER_AGENT));
    let route_key = event["routeKey"].as_str().unwrap_or_default();
    let (method, path) = route_key.split_once(' ').unwrap_or(("", route_key));
    crate::events::Context {
        request_id: text(&context["requestId"]).unwrap_or_default(),
        api_request_id: text(&context["requestId"]),
        function: "authorizer",
        method: truncated(method, MAX_METHOD),
        path: truncated(path, MAX_PATH),
        source_ip: text(&context["http"]["sourceIp"]),
        user_agent: text(&context["http"]["userAgent"]),
        status: None,
        duration_ms: 0,
    }
}

/// The authorizer event API Gateway would send for `req` (its headers, and its cookies as the
/// `cookies` list), for runners without API Gateway.
pub fn authorizer_event_for(req: &Request) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in req.headers() {
        let Ok(value) = value.to_str() else { continue };
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()));
        } else {
            headers.insert(name.as_str().to_owned(), value.into());
        }
    }
    serde_json::json!({
        "version": "2.0",
        "type": "REQUEST",
        "headers": headers,
        "cookies": cookies,
        "requestContext": { "http": { "method": req.method().as_str(), "path": req.uri().path() } },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_the_authorization_header_are_read_from_the_event() {
        let event = serde_json::json!({
            "version": "2.0",
            "type": "REQUEST",
            "headers": { "authorization": "Bearer abc", "Host": "api.example.com" },
            "cookies": ["a=1", "__Host-session=xyz"],
            "requestContext": { "http": { "method": "GET" } }
        });
        let req = request_from_authorizer_event(&event);
        assert_eq!(req.headers()["authorization"], "Bearer abc");
        assert_eq!(req.headers()["cookie"], "a=1; __Host-session=xyz");
        assert_eq!(req.headers()["host"], "api.example.com");
    }

    #[test]
    fn a_request_round_trips_through_its_event() {
        let req = http::Request::builder()
            .uri("/me/hello")
            .header("cookie", "a=1; __Host-session=xyz")
            .header("authorization", "Bearer abc")
            .body(Body::Empty)
            .unwrap();
        let event = authorizer_event_for(&req);
        assert_eq!(
            event["cookies"],
            serde_json::json!(["a=1", "__Host-session=xyz"])
        );
        let back = request_from_authorizer_event(&event);
        assert_eq!(back.headers()["cookie"], "a=1; __Host-session=xyz");
        assert_eq!(back.headers()["authorization"], "Bearer abc");
    }

    #[test]
    fn an_unreadable_event_is_a_request_without_credentials() {
        for event in [
            serde_json::json!(null),
            serde_json::json!("x"),
            serde_json::json!({ "headers": "no", "cookies": 7 }),
            serde_json::json!({ "headers": { "bad name": "v", "x": "bad\nvalue", "y": 3 } }),
        ] {
            let req = request_from_authorizer_event(&event);
            assert!(req.headers().get("authorization").is_none(), "{event}");
            assert!(req.headers().get("cookie").is_none(), "{event}");
        }
    }
}
