//! id_token verification against a fixed key set: arbitrary tokens never verify, and tokens
//! signed with the right key verify only when every claim rule holds.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use shared::provider::client::HttpClient;
use shared::provider::discovery::Metadata;
use shared::provider::id_token::{Expected, MAX_SKEW, verify};
use shared::provider::jwks::JwksCache;
use shared::secret::IdToken;

/// A P-256 key made for this target alone (PKCS#8, base64 of its DER).
const PRIVATE_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+XGgbyI7mF6zulza\
wfBy8Nu032ZCZvtpDLpqfh04q/GhRANCAASq10N0eByl3H4N6tItCLetfcmybveb\
JleAHUt85tUCMykfY+Cb2Zwo9knlJCTsK+PFmdPI4RWnfrUtPsFJxJgS";
const ISSUER: &str = "https://issuer.example";
const CLIENT: &str = "client-1";
const NONCE: &str = "nonce-0123456789";
const NOW: u64 = 1_800_000_000;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    http: HttpClient,
    jwks: JwksCache,
    metadata: Metadata,
    key: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": "qtdDdHgcpdx-DerSLQi3rX3Jsm73myZXgB1LfObVAjM",
            "y": "KR9j4JvZnCj2SeUkJOwr48WZ08jhFad-tS0-wUnEmBI"
        }))
        .expect("a valid JWK");
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://issuer.example/authorize",
            "token_endpoint": "https://issuer.example/token",
            "jwks_uri": "https://issuer.example/jwks"
        }))
        .expect("valid metadata");
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            http: HttpClient::new().expect("an HTTP client"),
            jwks: JwksCache::fixed(vec![jwk]),
            metadata,
            key: EncodingKey::from_ec_der(
                &base64::engine::general_purpose::STANDARD
                    .decode(PRIVATE_KEY)
                    .expect("base64"),
            ),
        }
    })
}

fn check(token: &str) -> Option<shared::provider::id_token::Claims> {
    let f = fixture();
    let issuers = [ISSUER.to_owned()];
    let expected = Expected {
        issuers: &issuers,
        client_id: CLIENT,
        nonce: Some(NONCE),
        now: NOW,
    };
    f.runtime
        .block_on(verify(
            &IdToken::new(token),
            &expected,
            &f.metadata,
            &f.jwks,
            &f.http,
        ))
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // Arbitrary text: it was not signed by the key, so it must never verify.
        if let Ok(text) = std::str::from_utf8(rest) {
            assert!(
                check(text).is_none(),
                "an unsigned token verified: {text:?}"
            );
        }
        return;
    }
    // Arbitrary claims, correctly signed: they verify only if every rule holds.
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let Ok(token) = jsonwebtoken::encode(&header, &claims, &fixture().key) else {
        return;
    };
    if let Some(verified) = check(&token) {
        assert_eq!(verified.iss, ISSUER);
        assert_eq!(verified.nonce.as_deref(), Some(NONCE));
        assert!(verified.exp + MAX_SKEW > NOW);
        assert!(verified.iat <= NOW + MAX_SKEW);
        assert!(verified.azp.as_deref().is_none_or(|a| a == CLIENT));
        let aud_ok = match &claims["aud"] {
            serde_json::Value::String(a) => a == CLIENT,
            serde_json::Value::Array(list) => list.iter().any(|a| a == CLIENT),
            _ => false,
        };
        assert!(aud_ok, "{claims}");
    }
});
