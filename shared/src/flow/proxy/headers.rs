//! Which headers cross the proxy. Towards the API only an allowlist (never the caller's cookies
//! or `Authorization`: the proxy sets its own); back to the caller everything the API said
//! except cookies, hop-by-hop headers and CORS headers (the handler's own CORS applies), with
//! a sandboxing Content-Security-Policy: the API's answer is served from the token handler's
//! origin, where a script in it must not run.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Request headers passed to the API, besides every `if-*` precondition.
const FORWARDED: &[HeaderName] = &[
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::CONTENT_TYPE,
];

/// Response headers never passed back: cookies, hop-by-hop (RFC 9110 §7.6.1), framing the
/// runtime sets itself, and the API's own security policy (replaced by ours).
const DROPPED: &[HeaderName] = &[
    header::SET_COOKIE,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::CONTENT_LENGTH,
    header::CONTENT_SECURITY_POLICY,
];

/// What the API's answer may do in a browser: nothing (no script, no same-origin access).
pub const SANDBOX_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// The caller's headers the API may see.
pub fn to_upstream(caller: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in caller {
        if FORWARDED.contains(name) || name.as_str().starts_with("if-") {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The API's headers the caller may see.
pub fn to_caller(upstream: &HeaderMap) -> HeaderMap {
    // Headers the API's `Connection` header names are hop-by-hop too.
    let named_by_connection: Vec<String> = upstream
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        let dropped = DROPPED.contains(name)
            || n == "keep-alive"
            || n == "set-cookie2"
            || n.starts_with("access-control-")
            || named_by_connection.iter().any(|c| c == n);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX_POLICY),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn only_content_negotiation_and_preconditions_reach_the_api() {
        let caller = map(&[
            ("accept", "application/json"),
            ("accept-language", "ko"),
            ("content-type", "application/json"),
            ("if-none-match", "\"v1\""),
            ("if-modified-since", "Tue, 01 Dec 2026 00:00:00 GMT"),
            ("cookie", "__Host-session=SECRET"),
            ("authorization", "Bearer SECRET"),
            ("x-requested-with", "fetch"),
            ("origin", "https://app.example.com"),
            ("x-forwarded-for", "10.0.0.1"),
            ("host", "auth.example.com"),
        ]);
        let sent = to_upstream(&caller);
        let mut names: Vec<&str> = sent.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "accept",
                "accept-language",
                "content-type",
                "if-modified-since",
                "if-none-match"
            ]
        );
    }

    #[test]
    fn cookies_hop_by_hop_and_cors_headers_do_not_come_back() {
        let upstream = map(&[
            ("content-type", "application/json"),
            ("etag", "\"v2\""),
            ("www-authenticate", "Bearer error=\"invalid_token\""),
            ("set-cookie", "tracking=1"),
            ("set-cookie2", "old=1"),
            ("connection", "close, x-private-hop"),
            ("x-private-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "12"),
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
            ("content-security-policy", "script-src *"),
        ]);
        let back = to_caller(&upstream);
        let mut names: Vec<&str> = back.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "content-security-policy",
                "content-type",
                "etag",
                "www-authenticate"
            ]
        );
        assert_eq!(back[header::CONTENT_SECURITY_POLICY], SANDBOX_POLICY);
    }
}
