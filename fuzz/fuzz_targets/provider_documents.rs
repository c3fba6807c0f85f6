//! What else a provider sends us before any token: the discovery document and the JWKS
//! `Cache-Control` header. Parsing never panics and the key set's age stays within bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::provider::discovery::Metadata;
use shared::provider::jwks::{MAX_MAX_AGE, MIN_MAX_AGE, max_age};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Metadata>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let age = max_age(Some(text));
        assert!((MIN_MAX_AGE..=MAX_MAX_AGE).contains(&age));
    }
});
