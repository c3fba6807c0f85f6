//! Token endpoint answers: never a panic, and tokens only from a 2xx Bearer answer with a
//! non-empty access token and no `error` member.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::provider::client::Fetched;
use shared::provider::token::read_token_response;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let code = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let Ok(status) = http::StatusCode::from_u16(code) else {
        return;
    };
    let fetched = Fetched {
        status,
        headers: http::HeaderMap::new(),
        body: data[2..].to_vec(),
    };
    if let Ok(tokens) = read_token_response(&fetched) {
        assert!(status.is_success());
        assert!(!tokens.access_token.expose().is_empty());
        let body: serde_json::Value =
            serde_json::from_slice(&data[2..]).expect("tokens come from JSON");
        assert!(body.get("error").is_none());
        assert!(
            body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
        );
    }
});
