//! Small helpers: randomness, clocks, form parsing, PKCE hashing and JSON responses.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` random bytes, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).expect("system random number generator");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Parses an `application/x-www-form-urlencoded` body or query string, keeping order and
/// duplicates.
pub(crate) fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The parameter's value if it occurs once, `Ok(None)` if absent, `Err` if repeated
/// (RFC 6749 §3.1: parameters MUST NOT be included more than once).
pub(crate) fn single<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, String> {
    let mut found = None;
    for (k, v) in params {
        if k == name {
            if found.is_some() {
                return Err(format!("parameter {name} is repeated"));
            }
            found = Some(v.as_str());
        }
    }
    Ok(found)
}

/// Like [`single`], but an empty value counts as absent.
pub(crate) fn single_nonempty<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, String> {
    Ok(single(params, name)?.filter(|v| !v.is_empty()))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, `%XX` a byte),
/// as RFC 6749 §2.3.1 requires for the client id and secret in HTTP Basic credentials.
/// Malformed escapes are kept literally.
pub(crate) fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// BASE64URL(SHA256(verifier)), the S256 code challenge of RFC 7636.
pub(crate) fn s256_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// RFC 7636 §4.1: 43..=128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn valid_code_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge is 32 bytes base64url without padding: 43 characters.
pub(crate) fn valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Constant-time string comparison (for client secrets).
pub(crate) fn secure_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// Headers every token-endpoint response carries.
pub(crate) fn no_store_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h
}

/// A JSON response with `Cache-Control: no-store`.
pub(crate) fn json_no_store(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut headers = no_store_headers();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (status, headers, body.to_string()).into_response()
}

/// An OAuth error response (`{"error":..,"error_description":..}`) with `Cache-Control: no-store`.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_no_store(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_handles_plus_and_escapes() {
        assert_eq!(form_decode("a+b%3A%2Fc"), "a b:/c");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn single_rejects_repeats() {
        let p = vec![
            ("a".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string()),
        ];
        assert!(single(&p, "a").is_err());
        assert_eq!(single(&p, "b"), Ok(None));
    }
}
