//! Cookie headers: the lookup never panics and never returns an empty value or one that
//! runs into the next cookie.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let Ok(req) = http::Request::builder()
        .header(http::header::COOKIE, value)
        .body(lambda_http::Body::Empty)
    else {
        return;
    };
    for name in ["__Host-session", "__Host-auth_tx", "session", "auth_tx"] {
        if let Some(found) = shared::edge::cookie(&req, name) {
            assert!(!found.is_empty());
            assert!(!found.contains(';'), "{found:?}");
        }
    }
});
