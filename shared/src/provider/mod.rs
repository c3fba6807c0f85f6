//! Providers: the wire protocol of each kind, behind one runtime object per configured provider.

pub mod client;
pub mod discovery;
pub mod id_token;
pub mod jwks;
pub mod presets;
pub mod token;

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::ProviderConfig;
use client::{FetchError, HttpClient};
use discovery::Metadata;
use jwks::JwksCache;

/// Why talking to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Unreachable, timed out or answered 5xx: worth retrying later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered with an OAuth error such as `invalid_grant`.
    #[error("provider rejected the request: {error}")]
    Rejected {
        /// The OAuth error code, reduced to `[a-z_]`.
        error: String,
    },
    /// The answer broke the protocol: a redirect, a non-JSON or oversize body, missing fields.
    #[error("provider answered outside the protocol: {0}")]
    Invalid(String),
    /// The id_token failed verification.
    #[error("id_token rejected: {0}")]
    IdToken(#[from] id_token::IdTokenError),
}

impl From<FetchError> for ProviderError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::TooLarge => Self::Invalid(e.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

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

    /// The discovery document, fetched on first use and kept; a failed fetch is retried next time.
    pub async fn metadata(&self, http: &HttpClient) -> Result<Arc<Metadata>, ProviderError> {
        self.metadata
            .get_or_try_init(|| async {
                discovery::fetch(http, self.config.issuer())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }
}
