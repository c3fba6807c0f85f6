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
//! A server auth code (Apple's `authorizationCode`, Google's `serverAuthCode`) is recorded as
//! used before the provider sees it, then exchanged as the app's client
//! ([`ProviderConfig::code_client`](crate::config::ProviderConfig::code_client)) without a
//! redirect URI; the session remembers that client, so its refreshes and revocation name it
//! again.

use std::sync::Arc;

use serde::Deserialize;

use super::handoff::Redeemed;
use super::{Settings, store_error};
use crate::deps::Deps;
use crate::edge::{ApiError, Request, body_bytes, header_str};
use crate::provider::Provider;
use crate::provider::ProviderError;
use crate::provider::discovery::Metadata;
use crate::provider::id_token::{self, Expected, IdTokenError};
use crate::provider::outcome::{self, DEFAULT_EXPIRES_IN, Identity};
use crate::provider::token_attribution::{self, AttributionError};
use crate::provider::{token, userinfo};
use crate::secret::{AccessToken, AuthCode, IdToken, Nonce, RefreshToken, SessionId};
use crate::store::keys::{session_key, used_key};
use crate::store::{Session, TokenSet};
use crate::telemetry::Chain;

/// Longest nonce accepted (SDKs send 32–64 characters, or a 64-character hash).
const MAX_NONCE: usize = 512;
/// Longest server auth code accepted, as at the callback.
const MAX_CODE: usize = 4096;
/// How long a used server auth code is remembered: longer than any provider lets one live
/// (Apple: five minutes; Google: minutes).
const CODE_REPLAY_WINDOW: u64 = 3600;

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
    AuthorizationCode(AuthCode),
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
            Self::AuthorizationCode(_) => "Credential::AuthorizationCode([redacted])",
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
        if let Some(code) = raw
            .authorization_code
            .filter(|c| !c.is_empty() && c.len() <= MAX_CODE)
            && !present(&raw.refresh_token)
        {
            return Ok(Self::AuthorizationCode(AuthCode::new(code)));
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
        Credential::AuthorizationCode(code) => from_code(deps, settings, provider, &code).await,
    }
}

/// A server auth code, exchanged once as the app's client for tokens that refresh like a
/// callback's.
async fn from_code(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    code: &AuthCode,
) -> Result<Redeemed, ApiError> {
    let config = &provider.config;
    if !config.quirks.native_code_exchange {
        return Err(ApiError::UnsupportedGrantType);
    }
    let metadata = metadata(deps, provider).await?;
    // Recorded before the provider sees it, so two posts of one code (even concurrent ones)
    // cannot both be exchanged, whatever the provider does with a second redemption.
    let now = deps.now();
    let once = used_key("native_code", config.id.as_str(), code.expose());
    if !super::first_use(deps, &once, now.saturating_add(CODE_REPLAY_WINDOW)).await? {
        tracing::warn!("native server auth code replayed");
        return Err(ApiError::InvalidGrant);
    }
    let client = config.code_client();
    let exchanged = token::exchange_native_code(deps.http, config, client, &metadata, code).await;
    let response = match exchanged {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "native server auth code exchange failed");
            let refused = native_refusal(&e);
            if refused == ApiError::ProviderUnavailable {
                // Nothing was granted: the app may post the code again.
                if let Err(e) = deps.store.unmark_used(&once).await {
                    tracing::warn!(error = %Chain(&e), "could not withdraw the code's record");
                }
            }
            return Err(refused);
        }
    };
    let expires_at = now + settings.session_ttl;
    let (tokens, id_token) = outcome::token_set(response, None, now, expires_at);
    let Some(id_token) = id_token else {
        tracing::warn!("no id_token in the native code's token response");
        return Err(ApiError::InvalidGrant);
    };
    let expected = Expected {
        issuers: &config.accepted_issuers,
        client_id: &config.client_id,
        apps: &config.native.client_ids,
        nonce: None,
        nonce_may_be_hashed: false,
        now,
    };
    let claims = id_token::verify(&id_token, &expected, &metadata, &provider.jwks, deps.http)
        .await
        .map_err(|e| native_refusal(&ProviderError::IdToken(e)))?;
    let identity = Identity::from_claims(claims, config.quirks.id_token_email_verified)
        .map_err(|_| ApiError::InvalidGrant)?;
    let issued_to = (client.id != config.client_id).then(|| client.id.to_owned());
    start_session(deps, settings, provider, identity, tokens, issued_to).await
}

/// How a failed exchange or id_token check answers the app: the provider's refusal (a used,
/// expired or foreign code, a bad client) is `invalid_grant`; an outage or an answer outside
/// the protocol is `provider_unavailable`.
fn native_refusal(e: &ProviderError) -> ApiError {
    match e {
        ProviderError::Rejected { .. } => ApiError::InvalidGrant,
        ProviderError::IdToken(IdTokenError::Jwks(_)) => provider_unavailable(),
        ProviderError::IdToken(_) => ApiError::InvalidGrant,
        ProviderError::Unreachable(_)
        | ProviderError::Unavailable(_)
        | ProviderError::Invalid(_)
        | ProviderError::TooLarge(_) => provider_unavailable(),
    }
}

/// The provider's metadata (discovered or configured); `provider_unavailable` when it cannot
/// be had.
async fn metadata(deps: Deps<'_>, provider: &Provider) -> Result<Arc<Metadata>, ApiError> {
    provider.metadata(deps).await.map_err(|e| {
        tracing::warn!(error = %Chain(&e), "provider metadata unavailable");
        provider_unavailable()
    })
}

/// `provider_unavailable`, counted in the request's event.
fn provider_unavailable() -> ApiError {
    crate::events::note(|n| n.provider_unavailable = true);
    ApiError::ProviderUnavailable
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
        None if config.is_oidc() => metadata(deps, provider).await?.userinfo_endpoint.clone(),
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
                    AttributionError::Unavailable(_) => provider_unavailable(),
                }
            })?;
    let identity = if config.userinfo.is_some() {
        let identity = userinfo::identity(deps.http, config, &token)
            .await
            .map_err(|e| {
                tracing::warn!(error = %Chain(&e), "profile call for a native access token failed");
                match e {
                    ProviderError::Unreachable(_) | ProviderError::Unavailable(_) => {
                        provider_unavailable()
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
    start_session(deps, settings, provider, identity, tokens, None).await
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
    let metadata = metadata(deps, provider).await?;
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
                return Err(provider_unavailable());
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
    start_session(
        deps,
        settings,
        provider,
        identity,
        TokenSet::none(now),
        None,
    )
    .await
}

/// A new bearer session for `identity` holding `tokens` (issued to `client`, when not the web
/// client).
async fn start_session(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    identity: Identity,
    tokens: TokenSet,
    client: Option<String>,
) -> Result<Redeemed, ApiError> {
    let now = deps.now();
    let session_token = SessionId::new(deps.token());
    let mut session = Session {
        key: session_key(session_token.expose()),
        provider: provider.config.id.clone(),
        subject: identity.subject,
        profile: identity.profile,
        sid: identity.sid,
        client,
        tokens,
        version: 0,
        lease_until: 0,
        created_at: now,
        expires_at: now + settings.session_ttl,
    };
    // Apple names the user only on their first authorization; a web login may have kept it.
    super::first_login::fill_name(deps, provider, &mut session, None).await;
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
