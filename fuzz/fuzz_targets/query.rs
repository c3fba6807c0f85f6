//! Query strings and form bodies: strict parsing never panics, and whatever it accepts is
//! free of control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::edge::{MAX_QUERY, Query, parse_form};

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = parse_form(data, MAX_QUERY) {
        for (name, value) in &pairs {
            assert!(!name.chars().any(char::is_control), "{name:?}");
            assert!(!value.chars().any(char::is_control), "{value:?}");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = http::Request::builder()
        .uri(format!("/auth/dev/login?{text}"))
        .body(lambda_http::Body::Empty)
    else {
        return;
    };
    if let Ok(query) = Query::from_request(&req) {
        for name in ["return_to", "state", "code", "app_redirect"] {
            if let Ok(Some(value)) = query.single(name) {
                assert!(!value.chars().any(char::is_control));
            }
        }
    }
});
