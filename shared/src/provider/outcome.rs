//! What a provider's answer means, for callback and refresh alike: the token set to store, the
//! user an id_token names, and how a failure is treated. Provider kinds differ in how they get
//! an answer; they all end here.

use super::ProviderError;
use super::id_token::Claims;
use super::quirks::Quirks;
use super::token::TokenResponse;
use crate::secret::IdToken;
use crate::store::{Profile, TokenSet};

/// Access token lifetime assumed when the provider does not say.
pub const DEFAULT_EXPIRES_IN: u64 = 3600;

/// Longest subject identifier accepted.
const MAX_SUBJECT: usize = 255;

/// Which grant produced an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The code exchange that ends a login.
    AuthorizationCode,
    /// A refresh_token grant.
    RefreshToken,
}

/// How a failed provider call is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing changed; the caller may try again later (`provider_unavailable`).
    RetryLater,
    /// The grant is dead (revoked, expired, used): the session ends (`reauth_required`).
    Reauthenticate,
    /// The login cannot complete (`?error=login_failed`).
    LoginFailed,
}

/// The one classification of provider failures; `quirks` name the provider's own codes for a
/// dead grant.
pub fn classify(grant: Grant, error: &ProviderError, quirks: &Quirks) -> Failure {
    match (grant, error) {
        (Grant::AuthorizationCode, _) => Failure::LoginFailed,
        (Grant::RefreshToken, ProviderError::Rejected { error })
            if *error == super::OAuthError::InvalidGrant
                || quirks.dead_grant_errors.contains(&error.as_str()) =>
        {
            Failure::Reauthenticate
        }
        (Grant::RefreshToken, ProviderError::IdToken(_)) => Failure::Reauthenticate,
        (Grant::RefreshToken, _) => Failure::RetryLater,
    }
}

/// The token set to store from a token response, and the id_token still to verify. After a
/// refresh (`previous` given), a response without a refresh token or scope keeps the old one
/// (RFC 6749 §6) and the grant's time is recorded.
///
/// An access token without an expiry and without a refresh token (GitHub OAuth apps) cannot be
/// renewed and does not run out: it lives as long as the session, `session_expires_at`. With a
/// refresh token, a missing expiry means [`DEFAULT_EXPIRES_IN`].
pub fn token_set(
    response: TokenResponse,
    previous: Option<&TokenSet>,
    now: u64,
    session_expires_at: u64,
) -> (TokenSet, Option<IdToken>) {
    let refresh_token = response
        .refresh_token
        .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
    let access_expires_at = match (response.expires_in, &refresh_token) {
        (Some(expires_in), _) => now.saturating_add(expires_in),
        (None, Some(_)) => now.saturating_add(DEFAULT_EXPIRES_IN),
        (None, None) => session_expires_at,
    };
    let tokens = TokenSet {
        access_token: response.access_token,
        access_expires_at,
        refresh_token,
        scope: response
            .scope
            .or_else(|| previous.and_then(|p| p.scope.clone())),
        refreshed_at: if previous.is_some() { now } else { 0 },
    };
    (tokens, response.id_token)
}

/// The user a login names: the provider's stable subject and a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's subject identifier.
    pub subject: String,
    /// Name, e-mail and picture, when given.
    pub profile: Profile,
    /// The provider's session id (an id_token's `sid`), when it names one.
    pub sid: Option<String>,
}

impl Identity {
    /// The identity verified id_token claims name; an empty or oversize subject is refused.
    /// The e-mail is kept only with `email_verified: true`, or when the provider documents its
    /// id_token e-mail as verified (`email_documented_verified`).
    pub fn from_claims(
        claims: Claims,
        email_documented_verified: bool,
    ) -> Result<Self, ProviderError> {
        let verified = email_documented_verified
            || matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
        if claims.sub.is_empty() || claims.sub.len() > MAX_SUBJECT {
            return Err(ProviderError::Invalid("unusable subject".into()));
        }
        // A sid that could not be a provider's session id is not kept (nor could a logout
        // token name it).
        let sid = claims
            .sid
            .filter(|sid| !sid.is_empty() && sid.len() <= MAX_SUBJECT);
        Ok(Self {
            subject: claims.sub,
            sid,
            profile: Profile {
                name: claims.name.or(claims.nickname),
                email: claims.email.filter(|_| verified),
                picture: claims.picture,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::OAuthError;
    use crate::provider::id_token::IdTokenError;
    use crate::secret::{AccessToken, RefreshToken};

    fn response(refresh: Option<&str>, expires_in: Option<u64>) -> TokenResponse {
        TokenResponse {
            access_token: AccessToken::new("at-2"),
            expires_in,
            refresh_token: refresh.map(RefreshToken::new),
            id_token: None,
            scope: None,
        }
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one_and_its_scope() {
        let (first, _) = token_set(response(Some("rt-1"), Some(60)), None, 1_000, 9_000);
        let first = TokenSet {
            scope: Some("openid".into()),
            ..first
        };
        assert_eq!(first.access_expires_at, 1_060);
        assert_eq!(first.refreshed_at, 0, "a login's tokens are not a refresh");
        let (second, _) = token_set(response(None, None), Some(&first), 2_000, 9_000);
        assert_eq!(second.refresh_token.unwrap().expose(), "rt-1");
        assert_eq!(second.scope.as_deref(), Some("openid"));
        assert_eq!(second.access_expires_at, 2_000 + DEFAULT_EXPIRES_IN);
        assert_eq!(second.refreshed_at, 2_000);
    }

    #[test]
    fn a_token_without_expiry_or_refresh_token_lives_as_long_as_the_session() {
        let (tokens, _) = token_set(response(None, None), None, 1_000, 9_000);
        assert_eq!(tokens.access_expires_at, 9_000);
        let (tokens, _) = token_set(response(None, Some(60)), None, 1_000, 9_000);
        assert_eq!(tokens.access_expires_at, 1_060, "an expiry given is kept");
    }

    #[test]
    fn a_rotated_refresh_token_replaces_the_old_one() {
        let (first, _) = token_set(response(Some("rt-1"), None), None, 0, 9_000);
        let (second, _) = token_set(response(Some("rt-2"), None), Some(&first), 5, 9_000);
        assert_eq!(second.refresh_token.unwrap().expose(), "rt-2");
    }

    #[test]
    fn only_a_dead_grant_or_a_refused_id_token_ends_a_session() {
        let invalid_grant = ProviderError::Rejected {
            error: OAuthError::InvalidGrant,
        };
        let invalid_client = ProviderError::Rejected {
            error: OAuthError::InvalidClient,
        };
        let refused = ProviderError::IdToken(IdTokenError::Nonce);
        let outage = ProviderError::Unavailable("503".into());
        let q = Quirks::default();
        let class = |e: &ProviderError| classify(Grant::RefreshToken, e, &q);
        assert_eq!(class(&invalid_grant), Failure::Reauthenticate);
        assert_eq!(class(&refused), Failure::Reauthenticate);
        assert_eq!(class(&invalid_client), Failure::RetryLater);
        assert_eq!(class(&outage), Failure::RetryLater);
        for e in [invalid_grant, invalid_client, refused, outage] {
            let at_login = classify(Grant::AuthorizationCode, &e, &q);
            assert_eq!(at_login, Failure::LoginFailed);
        }
    }

    #[test]
    fn a_providers_own_dead_grant_code_ends_the_session() {
        let github = Quirks {
            dead_grant_errors: &["bad_refresh_token"],
            ..Quirks::default()
        };
        let bad_refresh = ProviderError::Rejected {
            error: OAuthError::parse("bad_refresh_token"),
        };
        let with = |q: &Quirks| classify(Grant::RefreshToken, &bad_refresh, q);
        assert_eq!(with(&github), Failure::Reauthenticate);
        assert_eq!(
            with(&Quirks::default()),
            Failure::RetryLater,
            "only where the provider documents it"
        );
    }
}
