//! `POST /auth/{provider}/native`: a mobile app that signed its user in with the provider's own
//! SDK (Sign in with Apple, Google Sign-In, Kakao's and Naver's SDKs) trades the credential it
//! holds for our bearer session, without a browser round trip.
//!
//! The attack this route invites is another app's credential: a malicious app signs its user in
//! with the same provider and posts the token here. An id_token is accepted only when issued
//! to our `client_id` or one of `native_client_ids` (`aud`, and `azp` when present), with the
//! app's nonce, and only once.
//!
//! An access token (Kakao, Facebook, Naver SDKs) is accepted only when the provider itself names
//! our app as the one it was issued to ([`crate::provider::token_attribution`]).
//!
//! Server auth codes are not accepted yet: every provider answers them
//! `unsupported_grant_type` (README, "Native sign-in").

use serde::Deserialize;

use super::handoff::Redeemed;
use super::{Settings, store_error};
use crate::deps::Deps;
use crate::edge::{ApiError, Request, body_bytes, header_str};
use crate::provider::Provider;
use crate::provider::ProviderError;
use crate::provider::id_token::{self, Expected, IdTokenError};
use crate::provider::outcome::DEFAULT_EXPIRES_IN;
use crate::provider::outcome::Identity;
use crate::provider::token_attribution::{self, AttributionError};
use crate::provider::userinfo;
use crate::secret::{AccessToken, IdToken, Nonce, RefreshToken, SessionId};
use crate::store::keys::{session_key, used_key};
use crate::store::{Session, TokenSet};
use crate::telemetry::Chain;

/// Longest nonce accepted (SDKs send 32–64 characters, or a 64-character hash).
const MAX_NONCE: usize = 512;

/// The credential an app presents: exactly one kind.
pub enum Credential {
    /// An id_token from the SDK, with the nonce the app gave the SDK.
    IdToken {
        /// The token.
        token: IdToken,
        /// The app's nonce (raw; the token may carry its SHA-256).
        nonce: Nonce,
    },
    /// A server auth code (Apple's `authorizationCode`, Google's `serverAuthCode`).
    AuthorizationCode,
    /// A provider access token (Kakao, Naver, Facebook SDKs), with the refresh token the SDK
    /// got alongside, when it hands one over.
    AccessToken {
        /// The access token.
        token: AccessToken,
        /// Its refresh token.
        refresh: Option<RefreshToken>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::IdToken { .. } => "Credential::IdToken([redacted])",
            Self::AuthorizationCode => "Credential::AuthorizationCode([redacted])",
            Self::AccessToken { .. } => "Credential::AccessToken([redacted])",
        })
    }
}

#[derive(Deserialize)]
struct RawCredential {
    id_token: Option<String>,
    nonce: Option<String>,
    authorization_code: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

impl Credential {
    /// Reads a JSON body (`Content-Type: application/json`) naming exactly one kind, with only
    /// the fields of that kind; anything else is `invalid_request`. An id_token needs a
    /// non-empty nonce.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let is_json = header_str(req, "content-type").is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        if !is_json {
            return Err(ApiError::InvalidRequest);
        }
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let raw: RawCredential =
            serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest)?;
        let filled = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        let present = |v: &Option<String>| v.is_some();
        let kinds = [&raw.id_token, &raw.authorization_code, &raw.access_token]
            .into_iter()
            .filter(|v| present(v))
            .count();
        if kinds != 1 {
            return Err(ApiError::InvalidRequest);
        }
        if let Some(token) = raw.id_token {
            let nonce = raw.nonce.filter(|n| !n.is_empty() && n.len() <= MAX_NONCE);
            let (Some(nonce), false, true) =
                (nonce, present(&raw.refresh_token), !token.is_empty())
            else {
                return Err(ApiError::InvalidRequest);
            };
            return Ok(Self::IdToken {
                token: IdToken::new(token),
                nonce: Nonce::new(nonce),
            });
        }
        if present(&raw.nonce) {
            return Err(ApiError::InvalidRequest);
        }
        if filled(&raw.authorization_code) && !present(&raw.refresh_token) {
            return Ok(Self::AuthorizationCode);
        }
        if let Some(token) = raw.access_token.filter(|t| !t.is_empty())
            && raw.refresh_token.as_deref() != Some("")
        {
            return Ok(Self::AccessToken {
                token: AccessToken::new(token),
                refresh: raw.refresh_token.map(RefreshToken::new),
            });
        }
        Err(ApiError::InvalidRequest)
    }
}

/// Verifies the credential and creates a bearer session for the user it names.
#[tracing::instrument(name = "native_sign_in", skip_all, fields(provider = %provider.config.id))]
pub async fn sign_in(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    credential: Credential,
) -> Result<Redeemed, ApiError> {
    match credential {
        Credential::IdToken { token, nonce } => {
            from_id_token(deps, settings, provider, &token, &nonce).await
        }
        Credential::AccessToken { token, refresh } => {
            from_access_token(deps, settings, provider, token, refresh).await
        }
        Credential::AuthorizationCode => {
            tracing::info!("native server auth codes are not accepted yet");
            Err(ApiError::UnsupportedGrantType)
        }
    }
}

/// An SDK's access token, once the provider names our app as its audience.
async fn from_access_token(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    token: AccessToken,
    refresh: Option<RefreshToken>,
) -> Result<Redeemed, ApiError> {
    let config = &provider.config;
    let userinfo_endpoint = match &config.endpoints.userinfo {
        Some(url) => Some(url.clone()),
        // Kakao in OpenID mode: the profile host is discovery's.
        None if config.is_oidc() => provider
            .metadata(deps)
            .await
            .map_err(|e| {
                tracing::warn!(error = %Chain(&e), "provider metadata unavailable");
                ApiError::ProviderUnavailable
            })?
            .userinfo_endpoint
            .clone(),
        None => None,
    };
    let now = deps.now();
    let attributed =
        token_attribution::attribute(deps.http, config, userinfo_endpoint.as_ref(), &token, now)
            .await
            .map_err(|e| {
                tracing::warn!(error = %Chain(&e), "native access token refused");
                match e {
                    AttributionError::NotAccepted => ApiError::UnsupportedGrantType,
                    AttributionError::OtherApp | AttributionError::Invalid(_) => {
                        ApiError::InvalidGrant
                    }
                    AttributionError::Unavailable(_) => {
                        crate::events::note(|n| n.provider_unavailable = true);
                        ApiError::ProviderUnavailable
                    }
                }
            })?;
    let identity = if config.userinfo.is_some() {
        let identity = userinfo::identity(deps.http, config, &token)
            .await
            .map_err(|e| {
                tracing::warn!(error = %Chain(&e), "profile call for a native access token failed");
                match e {
                    ProviderError::Unreachable(_) | ProviderError::Unavailable(_) => {
                        crate::events::note(|n| n.provider_unavailable = true);
                        ApiError::ProviderUnavailable
                    }
                    _ => ApiError::InvalidGrant,
                }
            })?;
        // The token information and the profile must name one user.
        if attributed
            .subject
            .as_ref()
            .is_some_and(|s| *s != identity.subject)
        {
            tracing::warn!("token information and profile name different users");
            return Err(ApiError::InvalidGrant);
        }
        identity
    } else {
        Identity {
            subject: attributed.subject.ok_or(ApiError::InvalidGrant)?,
            profile: Default::default(),
            sid: None,
        }
    };
    let expires_at = now + settings.session_ttl;
    let access_expires_at = match (attributed.expires_at, &refresh) {
        (Some(at), _) => at,
        (None, Some(_)) => now.saturating_add(DEFAULT_EXPIRES_IN),
        (None, None) => expires_at,
    };
    let tokens = TokenSet {
        access_token: token,
        access_expires_at,
        refresh_token: refresh,
        scope: None,
        refreshed_at: 0,
    };
    start_session(deps, settings, provider, identity, tokens).await
}

/// An SDK's id_token, verified as issued to one of our clients, with the app's nonce, once.
async fn from_id_token(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    token: &IdToken,
    nonce: &Nonce,
) -> Result<Redeemed, ApiError> {
    let config = &provider.config;
    if !config.is_oidc() {
        return Err(ApiError::UnsupportedGrantType);
    }
    let metadata = provider.metadata(deps).await.map_err(|e| {
        tracing::warn!(error = %Chain(&e), "provider metadata unavailable");
        ApiError::ProviderUnavailable
    })?;
    let now = deps.now();
    let expected = Expected {
        issuers: &config.accepted_issuers,
        client_id: &config.client_id,
        apps: &config.native.client_ids,
        nonce: Some(nonce.expose()),
        nonce_may_be_hashed: true,
        now,
    };
    let claims =
        match id_token::verify(token, &expected, &metadata, &provider.jwks, deps.http).await {
            Ok(claims) => claims,
            Err(IdTokenError::Jwks(e)) => {
                tracing::warn!(error = %e, "signing keys unavailable");
                crate::events::note(|n| n.provider_unavailable = true);
                return Err(ApiError::ProviderUnavailable);
            }
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "native id_token refused");
                return Err(ApiError::InvalidGrant);
            }
        };
    // Accepted once: keyed by what the token says (its jti, subject, issue time and nonce),
    // not by its text, which a replayer could re-encode.
    let once = used_key(
        "native_id_token",
        config.id.as_str(),
        &format!(
            "{}\n{}\n{}\n{}",
            claims.jti.as_deref().unwrap_or_default(),
            claims.sub,
            claims.iat,
            claims.nonce.as_deref().unwrap_or_default()
        ),
    );
    if !super::first_use(deps, &once, claims.exp).await? {
        tracing::warn!("native id_token replayed");
        return Err(ApiError::InvalidGrant);
    }
    let identity = Identity::from_claims(claims, config.quirks.id_token_email_verified)
        .map_err(|_| ApiError::InvalidGrant)?;
    start_session(deps, settings, provider, identity, TokenSet::none(now)).await
}

/// A new bearer session for `identity` holding `tokens`.
async fn start_session(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    identity: Identity,
    tokens: TokenSet,
) -> Result<Redeemed, ApiError> {
    let now = deps.now();
    let session_token = SessionId::new(deps.token());
    let session = Session {
        key: session_key(session_token.expose()),
        provider: provider.config.id.clone(),
        subject: identity.subject,
        profile: identity.profile,
        sid: identity.sid,
        tokens,
        version: 0,
        lease_until: 0,
        created_at: now,
        expires_at: now + settings.session_ttl,
    };
    deps.store
        .create_session(&session)
        .await
        .map_err(store_error)?;
    tracing::info!("native session created");
    crate::events::note_session(&session.key, &session.provider, &session.subject);
    Ok(Redeemed {
        session_token,
        expires_in: settings.session_ttl,
    })
}
