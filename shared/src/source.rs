//! Where the configuration text and its `${NAME}` values come from: a file
//! (`AUTH_CONFIG_FILE`), an environment variable (`AUTH_CONFIG`), or AWS SSM Parameter Store
//! (`AUTH_CONFIG_SSM_PARAMETER` for the text, `AUTH_SECRETS_PATH` for secrets), read once per
//! cold start.

use std::collections::HashMap;

use aws_sdk_ssm::Client;

use crate::config::{Config, ConfigError};

/// Why the configuration could not be loaded. Messages name parameters, never their values.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The configuration itself is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The AWS SDK's HTTP client could not be built.
    #[error("the AWS SDK's HTTP client")]
    Tls(#[from] crate::tls::TlsError),
    /// Parameter Store could not be read.
    #[error("SSM Parameter Store: {0}")]
    Ssm(String),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn ssm_client() -> Result<Client, SourceError> {
    let config = crate::aws::defaults()?.load().await;
    Ok(Client::new(&config))
}

/// The text of one (possibly SecureString) parameter.
async fn parameter(client: &Client, name: &str) -> Result<String, SourceError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            SourceError::Ssm(format!(
                "cannot read parameter {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(&e)
            ))
        })?;
    out.parameter
        .and_then(|p| p.value)
        .ok_or_else(|| SourceError::Ssm(format!("parameter {name} has no value")))
}

/// Every parameter under `path` (recursively, decrypted), named by its last path segment:
/// `/token-handler/prod/GOOGLE_CLIENT_SECRET` becomes `${GOOGLE_CLIENT_SECRET}`.
async fn parameters_under(
    client: &Client,
    path: &str,
) -> Result<HashMap<String, String>, SourceError> {
    let mut vars = HashMap::new();
    let mut next = None;
    loop {
        let out = client
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .with_decryption(true)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| {
                SourceError::Ssm(format!(
                    "cannot read parameters under {path}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                ))
            })?;
        for p in out.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value)
                && let Some(short) = name.rsplit('/').next()
            {
                vars.insert(short.to_owned(), value);
            }
        }
        next = out.next_token;
        if next.is_none() {
            return Ok(vars);
        }
    }
}

/// Loads and validates the configuration from wherever the environment says.
pub async fn load() -> Result<Config, SourceError> {
    load_from(None).await
}

/// [`load`], with the configuration's text from `file` when given (`admin --config`); secrets
/// still come from the environment or `AUTH_SECRETS_PATH`.
pub async fn load_from(file: Option<&std::path::Path>) -> Result<Config, SourceError> {
    let config_parameter = env("AUTH_CONFIG_SSM_PARAMETER");
    let secrets_path = env("AUTH_SECRETS_PATH");
    let client = if config_parameter.is_some() || secrets_path.is_some() {
        Some(ssm_client().await?)
    } else {
        None
    };
    let text = if let Some(path) = file {
        std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: "--config".into(),
            message: format!("cannot read {}: {e}", path.display()),
        })?
    } else if let Some(path) = env("AUTH_CONFIG_FILE") {
        std::fs::read_to_string(&path).map_err(|e| ConfigError {
            key: "AUTH_CONFIG_FILE".into(),
            message: format!("cannot read {path}: {e}"),
        })?
    } else if let Some(text) = env("AUTH_CONFIG") {
        text
    } else if let (Some(name), Some(client)) = (&config_parameter, &client) {
        parameter(client, name).await?
    } else {
        return Err(ConfigError {
            key: "(environment)".into(),
            message: "set AUTH_CONFIG_FILE, AUTH_CONFIG or AUTH_CONFIG_SSM_PARAMETER".into(),
        }
        .into());
    };
    let vars = match (&secrets_path, &client) {
        (Some(path), Some(client)) => parameters_under(client, path).await?,
        _ => HashMap::new(),
    };
    // A parameter under AUTH_SECRETS_PATH wins over an environment variable of the same name.
    Ok(Config::from_toml(&text, |name| {
        vars.get(name).cloned().or_else(|| std::env::var(name).ok())
    })?)
}
