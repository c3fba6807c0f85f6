//! Providers: the wire protocol of each kind, behind one runtime object per configured provider.

pub mod client;
pub mod client_secret;
pub mod discovery;
pub mod id_token;
pub mod jwks;
pub mod logout;
pub mod logout_token;
pub mod outcome;
pub mod presets;
pub mod quirks;
pub mod token;
pub mod token_attribution;
pub mod userinfo;

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::{ProviderConfig, ProviderKind};
use crate::deps::Deps;
use client::FetchError;
use discovery::Metadata;
use jwks::JwksCache;

/// Why talking to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No usable answer: timed out, refused, reset (worth retrying later).
    #[error("provider unreachable")]
    Unreachable(#[source] FetchError),
    /// The provider answered 5xx (worth retrying later).
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered with an OAuth error such as `invalid_grant`.
    #[error("provider rejected the request: {error}")]
    Rejected {
        /// The OAuth error code.
        error: OAuthError,
    },
    /// The answer broke the protocol: a redirect, a non-JSON or oversize body, missing fields.
    #[error("provider answered outside the protocol: {0}")]
    Invalid(String),
    /// The answer was larger than the cap.
    #[error("provider answered outside the protocol")]
    TooLarge(#[source] FetchError),
    /// The id_token in the answer was refused.
    #[error("id_token refused")]
    IdToken(#[source] id_token::IdTokenError),
}

impl From<FetchError> for ProviderError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::TooLarge => Self::TooLarge(e),
            other => Self::Unreachable(other),
        }
    }
}

/// An OAuth 2.0 error code from a token endpoint (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, revoked or used.
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// Any other code, reduced to at most 64 of `[a-z_]` so that it may be logged.
    Other(String),
}

impl OAuthError {
    /// Reads a code as the provider sent it.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Other(
                other
                    .chars()
                    .filter(|c| c.is_ascii_lowercase() || *c == '_')
                    .take(64)
                    .collect(),
            ),
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Other(code) => code,
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configured providers by name, built once per cold start.
pub type Providers = std::collections::BTreeMap<crate::types::ProviderId, Provider>;

/// A configured provider plus what is learned about it once per cold start.
#[derive(Debug)]
pub struct Provider {
    /// Its configuration.
    pub config: ProviderConfig,
    metadata: OnceCell<Arc<Metadata>>,
    /// Its signing keys.
    pub jwks: JwksCache,
}

impl Provider {
    /// Wraps a configuration; nothing is fetched until first use.
    pub fn new(config: ProviderConfig) -> Self {
        Self {
            config,
            metadata: OnceCell::new(),
            jwks: JwksCache::default(),
        }
    }

    /// The provider's endpoints: for OIDC the discovery document (on first use, from the
    /// provider or the store, see [`discovery::fetch_shared`], then kept; a failed fetch is
    /// retried next time) with the configured overrides, for plain OAuth 2.0 the configured
    /// ones.
    pub async fn metadata(&self, deps: Deps<'_>) -> Result<Arc<Metadata>, ProviderError> {
        self.metadata
            .get_or_try_init(|| async {
                let endpoints = &self.config.endpoints;
                let metadata = match &self.config.kind {
                    ProviderKind::Oidc { issuer } => discovery::fetch_shared(deps, issuer).await?,
                    ProviderKind::OAuth2 { .. } => Metadata::from_endpoints(endpoints)?,
                };
                Ok(Arc::new(metadata.with_overrides(endpoints)))
            })
            .await
            .cloned()
    }
}
