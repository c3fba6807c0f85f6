//! `POST /auth/token`: a mobile app redeems its one-time hand-off code with its PKCE verifier
//! and receives a bearer session token (RFC 8252 flow, completed by RFC 7636 on our side).

use serde::Deserialize;

use super::store_error;
use crate::crypto::{constant_time_eq, is_token_shaped, pkce_s256};
use crate::deps::Deps;
use crate::edge::{ApiError, MAX_BODY, Request, body_bytes, header_str, parse_form};
use crate::secret::SessionId;
use crate::store::Session;
use crate::store::keys::{handoff_key, session_key};

/// Seconds a hand-off code stays redeemable.
pub const HANDOFF_TTL: u64 = 60;

/// `POST /auth/token`: the one-time code and the app's PKCE verifier, from a JSON or form body.
#[derive(Deserialize)]
pub struct Redemption {
    code: String,
    code_verifier: String,
}

impl std::fmt::Debug for Redemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redemption([redacted])")
    }
}

impl Redemption {
    /// Reads a JSON body (`Content-Type: application/json`) or a strictly decoded form body;
    /// a missing or repeated field is `invalid_request`.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let is_json = header_str(req, "content-type").is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        if is_json {
            return serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest);
        }
        // Strict decoding first (serde_urlencoded would decode malformed input lossily), then
        // serde_urlencoded, which refuses a repeated field.
        parse_form(body, MAX_BODY).map_err(|_| ApiError::InvalidRequest)?;
        serde_urlencoded::from_bytes(body).map_err(|_| ApiError::InvalidRequest)
    }
}

/// A new bearer session for the app.
#[derive(Debug)]
pub struct Redeemed {
    /// The session token.
    pub session_token: SessionId,
    /// Seconds until the session expires.
    pub expires_in: u64,
}

/// RFC 7636 §4.1: 43–128 characters of the unreserved set.
fn verifier_shaped(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Consumes the code (whatever the verifier) and creates the session when the verifier matches.
#[tracing::instrument(name = "redeem", skip_all)]
pub async fn redeem(deps: Deps<'_>, redemption: Redemption) -> Result<Redeemed, ApiError> {
    let Redemption {
        code,
        code_verifier: verifier,
    } = redemption;
    if !is_token_shaped(&code) {
        return Err(ApiError::InvalidGrant);
    }
    let now = deps.now();
    let handoff = deps
        .store
        .take_handoff(&handoff_key(&code), now)
        .await
        .map_err(store_error)?
        .ok_or(ApiError::InvalidGrant)?;
    if !verifier_shaped(&verifier) || !constant_time_eq(&pkce_s256(&verifier), &handoff.challenge) {
        tracing::warn!("hand-off redeemed with a wrong verifier; code burned");
        return Err(ApiError::InvalidGrant);
    }
    let session_token = SessionId::new(deps.token());
    let session = Session {
        key: session_key(session_token.expose()),
        ..handoff.session
    };
    deps.store
        .create_session(&session)
        .await
        .map_err(store_error)?;
    tracing::info!(provider = %session.provider, "mobile session created");
    crate::events::note_session(&session.key, &session.provider, &session.subject);
    Ok(Redeemed {
        session_token,
        expires_in: session.expires_at.saturating_sub(now),
    })
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;
    use crate::clock::Clock;
    use crate::flow::fakes::{FixedRandom, Harness};
    use crate::store::{Handoff, Store};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    /// Stores a hand-off for "user-1" under `code`, for the app holding [`VERIFIER`].
    async fn put_handoff(h: &Harness, code: &str) {
        let handoff = Handoff {
            key: handoff_key(code),
            challenge: pkce_s256(VERIFIER),
            session: h.new_session("user-1"),
            expires_at: h.clock.now() + HANDOFF_TTL,
        };
        h.store.put_handoff(&handoff).await.unwrap();
    }

    async fn redeem_with(h: &Harness, code: &str, verifier: &str) -> Result<Redeemed, ApiError> {
        let redemption = Redemption {
            code: code.to_owned(),
            code_verifier: verifier.to_owned(),
        };
        redeem(h.deps(), redemption).await
    }

    #[tokio::test]
    async fn the_right_verifier_creates_a_session_under_a_fresh_token() {
        let h = Harness::new();
        let code = FixedRandom::token_nth(500);
        put_handoff(&h, &code).await;
        let redeemed = redeem_with(&h, &code, VERIFIER).await.unwrap();
        assert_eq!(redeemed.session_token.expose(), FixedRandom::token_nth(0));
        assert_eq!(redeemed.expires_in, h.settings.session_ttl);
        let key = session_key(redeemed.session_token.expose());
        let session = h.session(&key).await.unwrap();
        assert_eq!(
            (session.subject.as_str(), session.key.as_str()),
            ("user-1", key.as_str())
        );
        let again = redeem_with(&h, &code, VERIFIER).await;
        assert_eq!(
            again.unwrap_err(),
            ApiError::InvalidGrant,
            "codes are one-time"
        );
    }

    #[tokio::test]
    async fn a_wrong_verifier_burns_the_code() {
        let h = Harness::new();
        let code = FixedRandom::token_nth(500);
        put_handoff(&h, &code).await;
        let wrong = FixedRandom::token_nth(501);
        assert_eq!(
            redeem_with(&h, &code, &wrong).await.unwrap_err(),
            ApiError::InvalidGrant
        );
        assert_eq!(
            redeem_with(&h, &code, VERIFIER).await.unwrap_err(),
            ApiError::InvalidGrant
        );
        assert_eq!(h.random.drawn(), 0, "no session was made");
    }

    #[tokio::test]
    async fn a_hand_off_expires_on_the_clock() {
        let h = Harness::new();
        let (early, late) = (FixedRandom::token_nth(500), FixedRandom::token_nth(501));
        put_handoff(&h, &early).await;
        put_handoff(&h, &late).await;
        h.clock.advance_secs(HANDOFF_TTL - 1);
        assert!(redeem_with(&h, &early, VERIFIER).await.is_ok());
        h.clock.advance_secs(1);
        assert_eq!(
            redeem_with(&h, &late, VERIFIER).await.unwrap_err(),
            ApiError::InvalidGrant
        );
    }

    #[tokio::test]
    async fn a_verifier_outside_rfc_7636_is_refused_even_when_it_matches() {
        let h = Harness::new();
        let code = FixedRandom::token_nth(500);
        let short = "too-short-verifier";
        let handoff = Handoff {
            key: handoff_key(&code),
            challenge: pkce_s256(short),
            session: h.new_session("user-1"),
            expires_at: h.clock.now() + HANDOFF_TTL,
        };
        h.store.put_handoff(&handoff).await.unwrap();
        assert_eq!(
            redeem_with(&h, &code, short).await.unwrap_err(),
            ApiError::InvalidGrant
        );
        assert_eq!(
            redeem_with(&h, "not-a-code", VERIFIER).await.unwrap_err(),
            ApiError::InvalidGrant
        );
    }

    fn post(content_type: Option<&str>, body: &str) -> Request {
        let mut req = http::Request::builder().method("POST").uri("/auth/token");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(Body::Text(body.to_owned())).unwrap()
    }

    fn parsed(content_type: Option<&str>, body: &str) -> Result<(String, String), ApiError> {
        Redemption::from_request(&post(content_type, body)).map(|r| (r.code, r.code_verifier))
    }

    #[test]
    fn a_redemption_is_read_from_json_or_a_form() {
        let expected = Ok(("c-1".to_owned(), "v~1".to_owned()));
        let json = r#"{"code":"c-1","code_verifier":"v~1"}"#;
        assert_eq!(parsed(Some("application/json"), json), expected);
        assert_eq!(
            parsed(Some("application/json; charset=utf-8"), json),
            expected
        );
        assert_eq!(
            parsed(Some("Application/JSON"), json),
            expected,
            "media types are case-insensitive"
        );
        let form = "code=c-1&code_verifier=v%7E1";
        let form_type = "application/x-www-form-urlencoded";
        assert_eq!(parsed(Some(form_type), form), expected);
        assert_eq!(parsed(None, form), expected);
    }

    #[test]
    fn a_malformed_redemption_is_invalid_request() {
        let form = Some("application/x-www-form-urlencoded");
        let json = Some("application/json");
        for (content_type, body) in [
            (form, "code=a&code=b&code_verifier=v"),
            (form, "code=a%zz&code_verifier=v"),
            (form, "code=a&code_verifier=v%E0%A4"),
            (form, "code=a%00&code_verifier=v"),
            (form, "code=a"),
            (json, r#"{"code":"a","code":"b","code_verifier":"v"}"#),
            (json, r#"{"code":"a"}"#),
            (json, "code=a&code_verifier=v"),
        ] {
            let result = parsed(content_type, body);
            assert_eq!(result, Err(ApiError::InvalidRequest), "{body}");
        }
        let oversize = format!("code=a&code_verifier={}", "v".repeat(MAX_BODY));
        assert_eq!(parsed(form, &oversize), Err(ApiError::InvalidRequest));
    }
}
