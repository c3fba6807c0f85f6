//! The flows: login, callback, refresh, session, logout and the mobile hand-off. Each takes a
//! typed request (parsed at the edge), the [`Settings`] it needs and the narrow
//! [`Deps`](crate::deps::Deps) ports; none sees the whole application.

pub mod authorize;
pub mod backchannel;
pub mod callback;
#[cfg(test)]
pub(crate) mod fakes;
pub mod first_login;
pub mod handoff;
pub mod health;
pub mod login;
pub mod native;
pub mod proxy;
pub mod refresh;
pub mod session;
pub mod session_admin;
#[cfg(test)]
mod tests;

use url::Url;

use crate::config::Config;
use crate::edge::ApiError;
use crate::store::StoreError;

/// The configuration values the flows act on, taken from [`Config`] once per cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the token handler is reachable; callback URLs are built from this only.
    pub public_base_url: Url,
    /// Seconds a login transaction (and its cookie) lasts.
    pub transaction_ttl: u64,
    /// Seconds a session lasts.
    pub session_ttl: u64,
    /// A stored access token with less than this many seconds left is refreshed.
    pub refresh_skew: u64,
    /// A forced refresh this many seconds after the last one returns that one's token.
    pub force_refresh_window: u64,
}

impl Settings {
    /// The flows' part of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            public_base_url: config.public_base_url.clone(),
            transaction_ttl: config.transaction_ttl.as_secs(),
            session_ttl: config.session_ttl.as_secs(),
            refresh_skew: config.refresh_skew.as_secs(),
            force_refresh_window: config.force_refresh_window.as_secs(),
        }
    }

    /// The callback URL registered at the provider, from configuration only.
    pub fn redirect_uri(&self, provider: &str) -> String {
        format!(
            "{}/auth/{provider}/callback",
            self.public_base_url.as_str().trim_end_matches('/')
        )
    }
}

/// Records the one-time value hashed to `key` as used until `valid_until` (plus the clock skew
/// tokens are allowed): true the first time, false for a replay, even a concurrent one.
pub(crate) async fn first_use(
    deps: crate::deps::Deps<'_>,
    key: &str,
    valid_until: u64,
) -> Result<bool, ApiError> {
    let until = valid_until.saturating_add(crate::provider::id_token::MAX_SKEW);
    match deps.store.mark_used(key, until, deps.now()).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

/// Store failures as the client sees them.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    crate::events::note(|n| n.store_unavailable |= !matches!(e, StoreError::Corrupt(_)));
    match e {
        StoreError::Corrupt(_) => {
            tracing::error!(error = %e, "stored data could not be read");
            ApiError::Internal
        }
        other => {
            tracing::warn!(error = %crate::telemetry::Chain(&other), "store failure");
            ApiError::StoreUnavailable
        }
    }
}
