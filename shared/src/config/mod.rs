//! The configuration file: TOML → a typed, validated [`Config`], or one error naming the key.
//!
//! Values may name environment variables as `${NAME}`; that is how secrets arrive. Nothing is
//! half-applied: [`Config::from_toml`] returns a complete configuration or an error. The file
//! as written is in `raw`, `${NAME}` expansion in `env`, the rules in `validate`.

mod apis;
mod env;
mod provider;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use crate::crypto::Keyring;
use crate::types::{Origin, ProviderId, ReturnTo};

pub use crate::kms::{KmsKeyId, KmsKeys, WrappedKey};
pub use apis::ApiConfig;
pub use provider::{Endpoints, NativeApps, ProviderConfig, ProviderKind, UserinfoMap};
pub use validate::parse_duration;

/// A configuration that cannot be used, with the key at fault. The message never holds a value
/// that came from the environment.
#[derive(Debug, thiserror::Error)]
#[error("configuration error at `{key}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending key (`providers.google.client_id`), or `(file)`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration, validated.
#[derive(Debug)]
pub struct Config {
    /// Where the token handler is reachable; callback URLs are built from this only.
    pub public_base_url: Url,
    /// Where the browser goes after login when the request names no `return_to`.
    pub default_return_to: ReturnTo,
    /// Origins allowed as `return_to`, for CORS and for the `Origin` check.
    pub allowed_origins: Vec<Origin>,
    /// Exact redirect URIs mobile apps may use (RFC 8252).
    pub mobile_redirects: Vec<String>,
    /// Lifetime of a session.
    pub session_ttl: Duration,
    /// Lifetime of a login transaction (and of its cookie).
    pub transaction_ttl: Duration,
    /// A stored access token with less than this left is refreshed.
    pub refresh_skew: Duration,
    /// A forced refresh this soon after the last completed one returns that one's token.
    pub force_refresh_window: Duration,
    /// `Secure` cookies with the `__Host-` prefix; false only for plain-http development.
    pub cookie_secure: bool,
    /// Where transactions and sessions live.
    pub store: StoreConfig,
    /// Keys for tokens at rest; `None` means a random key for this process (embedded store only).
    pub encryption: Option<Encryption>,
    /// The configured providers by name.
    pub providers: BTreeMap<ProviderId, ProviderConfig>,
    /// The upstream APIs `ANY /api/{api}/{path}` calls, by name.
    pub apis: BTreeMap<ProviderId, ApiConfig>,
}

/// Where the keys for tokens at rest come from: exactly one of the two forms of `[encryption]`.
#[derive(Debug)]
pub enum Encryption {
    /// `keys`: raw keys in the configuration (usually `${NAME}` secrets), the first sealing.
    Keys(Keyring),
    /// `kms_key_id` + `wrapped_keys`: data keys wrapped by KMS, unwrapped once per cold start
    /// by [`crate::kms::unwrap_keys`] (in [`crate::App::from_config`]).
    Kms(KmsKeys),
}

impl Encryption {
    /// The keyring when the keys are in the configuration itself; `None` for KMS-wrapped keys,
    /// which only exist once unwrapped.
    pub fn keyring(&self) -> Option<&Keyring> {
        match self {
            Self::Keys(keyring) => Some(keyring),
            Self::Kms(_) => None,
        }
    }
}

/// Which storage backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In-process store: for local runs and tests; loses everything on restart.
    Memory,
    /// One DynamoDB table.
    Dynamodb {
        /// Table name.
        table: String,
        /// Endpoint override for a local DynamoDB-compatible server.
        endpoint: Option<Url>,
        /// Region override.
        region: Option<String>,
        /// Create the table (and its TTL) when it is missing; local runs only.
        create_table: bool,
    },
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

impl Config {
    /// Parses and validates TOML text; `env` resolves `${NAME}` references.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new("(file)", format!("not valid TOML: {}", e.message()))
        })?;
        env::expand_table(&mut table, "", &env)?;
        let raw: raw::RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let key = e.path().to_string();
                ConfigError::new(
                    if key == "." { "(file)".into() } else { key },
                    e.into_inner().to_string(),
                )
            })?;
        validate::validate(raw)
    }
}

/// A small valid configuration for unit tests: one OIDC provider `p`, a mobile redirect.
#[cfg(test)]
pub(crate) fn sample() -> Config {
    let text = r#"
public_base_url = "https://auth.example.com"
default_return_to = "/home"
allowed_origins = ["https://app.example.com"]
mobile_redirects = ["com.example.app:/oauth"]
[providers.p]
preset = "oidc"
issuer = "https://idp.example"
client_id = "c"
client_secret = "s"
"#;
    match Config::from_toml(text, |_| None) {
        Ok(config) => config,
        Err(e) => panic!("the sample configuration is valid: {e}"),
    }
}

#[cfg(test)]
mod tests;
