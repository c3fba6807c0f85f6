//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, §2.4 and §2.6): signed
//! like an id_token (the same JWKS, algorithm allowlist, `iss` and `aud` checks), with an
//! `events` claim naming the back-channel logout event, a `jti`, a `sid` or a `sub`, and no
//! `nonce`, so that no id_token can pass for one.

use serde_json::{Map, Value};

use super::client::Outbound;
use super::discovery::Metadata;
use super::id_token::{IdTokenError, MAX_SKEW, Signed};
use super::jwks::JwksCache;

/// The member of `events` that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Longest `jti`, `sid` or `sub` accepted.
const MAX_CLAIM: usize = 255;

/// What a verified logout token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    /// Its unique id: accepted once.
    pub jti: String,
    /// The provider session whose sessions end, when given.
    pub sid: Option<String>,
    /// The user whose sessions end (when no `sid` is given).
    pub sub: Option<String>,
    /// Unix seconds after which the token is void (how long its `jti` must be remembered).
    pub exp: u64,
}

/// Why a logout token was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogoutTokenError {
    /// Signature, algorithm, issuer or audience.
    #[error("logout token signature or header refused")]
    Signed(#[source] IdTokenError),
    /// No `events` claim with the back-channel logout event as a JSON object.
    #[error("no back-channel logout event")]
    NoEvent,
    /// A `nonce` claim: an id_token, not a logout token.
    #[error("a logout token must not carry a nonce")]
    Nonce,
    /// `jti` missing, empty or too long.
    #[error("unusable jti")]
    Jti,
    /// Neither a usable `sid` nor a usable `sub`.
    #[error("names neither a session (sid) nor a user (sub)")]
    NoSubject,
    /// `iat` missing or in the future beyond the skew, `exp` missing or past.
    #[error("logout token times refused: {0}")]
    Times(&'static str),
}

impl LogoutTokenError {
    /// The keys could not be fetched: the token may be fine, so the provider should retry.
    pub fn is_unverifiable(&self) -> bool {
        matches!(self, Self::Signed(IdTokenError::Jwks(_)))
    }
}

/// Who the logout token must come from and be for.
pub struct Expected<'a> {
    /// The issuers accepted.
    pub issuers: &'a [String],
    /// Our client id.
    pub client_id: &'a str,
    /// Current unix time.
    pub now: u64,
}

/// Verifies a logout token and reads what it names.
pub async fn verify(
    raw: &str,
    expected: &Expected<'_>,
    metadata: &Metadata,
    jwks: &JwksCache,
    http: &dyn Outbound,
) -> Result<LogoutToken, LogoutTokenError> {
    let signed = Signed {
        issuers: expected.issuers,
        audience: expected.client_id,
        also: &[],
        required: &["iss", "aud", "iat", "exp"],
        now: expected.now,
    };
    let claims: Map<String, Value> = signed
        .claims(raw, metadata, jwks, http)
        .await
        .map_err(LogoutTokenError::Signed)?;
    check_claims(&claims, expected.now)
}

/// The claims a logout token needs beyond its signature, judged on the application's clock.
fn check_claims(claims: &Map<String, Value>, now: u64) -> Result<LogoutToken, LogoutTokenError> {
    let is_logout_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !is_logout_event {
        return Err(LogoutTokenError::NoEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::Nonce);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(LogoutTokenError::Times("iat"))?;
    if iat > now + MAX_SKEW {
        return Err(LogoutTokenError::Times("issued in the future"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(LogoutTokenError::Times("exp"))?;
    if exp.saturating_add(MAX_SKEW) <= now {
        return Err(LogoutTokenError::Times("expired"));
    }
    let text = |name: &str| -> Result<Option<String>, ()> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_CLAIM => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    let jti = text("jti").ok().flatten().ok_or(LogoutTokenError::Jti)?;
    let sid = text("sid").map_err(|()| LogoutTokenError::NoSubject)?;
    let sub = text("sub").map_err(|()| LogoutTokenError::NoSubject)?;
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    Ok(LogoutToken { jti, sid, sub, exp })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn claims(value: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://op.example", "aud": "client", "iat": NOW, "exp": NOW + 120,
            "jti": "j-1", "sid": "s-1", "sub": "u-1",
            "events": {LOGOUT_EVENT: {}},
        });
        for (k, v) in value.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(&k);
            } else {
                base[k] = v;
            }
        }
        base.as_object().cloned().unwrap()
    }

    fn refused(value: Value) -> LogoutTokenError {
        check_claims(&claims(value), NOW).unwrap_err()
    }

    #[test]
    fn a_complete_logout_token_names_its_jti_sid_and_sub() {
        let token = check_claims(&claims(json!({})), NOW).unwrap();
        assert_eq!(token.jti, "j-1");
        assert_eq!(token.sid.as_deref(), Some("s-1"));
        assert_eq!(token.sub.as_deref(), Some("u-1"));
        assert_eq!(token.exp, NOW + 120);
    }

    #[test]
    fn a_sid_or_a_sub_alone_is_enough_but_one_is_needed() {
        assert!(check_claims(&claims(json!({"sid": null})), NOW).is_ok());
        assert!(check_claims(&claims(json!({"sub": null})), NOW).is_ok());
        assert!(matches!(
            refused(json!({"sid": null, "sub": null})),
            LogoutTokenError::NoSubject
        ));
        assert!(matches!(
            refused(json!({"sid": "", "sub": null})),
            LogoutTokenError::NoSubject
        ));
        assert!(matches!(
            refused(json!({"sid": 7})),
            LogoutTokenError::NoSubject
        ));
    }

    #[test]
    fn the_event_must_be_the_back_channel_logout_event_as_an_object() {
        for events in [
            json!(null),
            json!({}),
            json!({"http://schemas.openid.net/event/other": {}}),
            json!({LOGOUT_EVENT: "yes"}),
            json!([LOGOUT_EVENT]),
            json!(LOGOUT_EVENT),
        ] {
            assert!(
                matches!(
                    refused(json!({"events": events})),
                    LogoutTokenError::NoEvent
                ),
                "{events}"
            );
        }
    }

    #[test]
    fn an_id_token_with_a_nonce_is_not_a_logout_token() {
        assert!(matches!(
            refused(json!({"nonce": "n"})),
            LogoutTokenError::Nonce
        ));
        assert!(matches!(
            refused(json!({"nonce": ""})),
            LogoutTokenError::Nonce
        ));
    }

    #[test]
    fn the_jti_is_required_and_must_be_text() {
        for jti in [json!(null), json!(""), json!(12), json!("x".repeat(256))] {
            assert!(matches!(
                refused(json!({"jti": jti})),
                LogoutTokenError::Jti
            ));
        }
    }

    #[test]
    fn times_are_bounded_by_the_skew() {
        assert!(matches!(
            refused(json!({"iat": NOW + MAX_SKEW + 1})),
            LogoutTokenError::Times(_)
        ));
        assert!(check_claims(&claims(json!({"iat": NOW + MAX_SKEW})), NOW).is_ok());
        assert!(matches!(
            refused(json!({"exp": NOW - MAX_SKEW})),
            LogoutTokenError::Times(_)
        ));
        assert!(check_claims(&claims(json!({"exp": NOW - MAX_SKEW + 1})), NOW).is_ok());
        assert!(matches!(
            refused(json!({"exp": null})),
            LogoutTokenError::Times(_)
        ));
        assert!(matches!(
            refused(json!({"iat": "now"})),
            LogoutTokenError::Times(_)
        )); // The largest expiry a provider could write is not an overflow.
        let far = check_claims(&claims(json!({"exp": u64::MAX})), NOW).unwrap();
        assert_eq!(far.exp, u64::MAX);
    }
}
