//! OpenID Connect discovery: the provider's metadata, with its issuer checked exactly.

use serde::Deserialize;
use url::Url;

use super::ProviderError;
use super::client::{self, Outbound};
use crate::config::Endpoints;
use crate::types::is_loopback;

/// The parts of the discovery document the token handler uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// Must equal the configured issuer exactly.
    pub issuer: String,
    /// Where login sends the browser.
    pub authorization_endpoint: Url,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: Url,
    /// Signing keys (required of OIDC providers).
    #[serde(default)]
    pub jwks_uri: Option<Url>,
    /// Profile endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// RFC 7009 revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// RFC 9207: when true, every authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl Metadata {
    /// A plain OAuth 2.0 provider's endpoints, from configuration.
    pub fn from_endpoints(endpoints: &Endpoints) -> Result<Self, ProviderError> {
        let required = |url: &Option<Url>, name: &str| {
            url.clone()
                .ok_or_else(|| ProviderError::Invalid(format!("no {name} configured")))
        };
        Ok(Self {
            issuer: String::new(),
            authorization_endpoint: required(&endpoints.authorization, "authorization_endpoint")?,
            token_endpoint: required(&endpoints.token, "token_endpoint")?,
            jwks_uri: None,
            userinfo_endpoint: None,
            revocation_endpoint: None,
            end_session_endpoint: None,
            authorization_response_iss_parameter_supported: false,
        })
    }

    /// These endpoints with every configured one in place of the discovered one.
    pub fn with_overrides(mut self, endpoints: &Endpoints) -> Self {
        let set = |slot: &mut Url, value: &Option<Url>| {
            if let Some(url) = value {
                *slot = url.clone();
            }
        };
        set(&mut self.authorization_endpoint, &endpoints.authorization);
        set(&mut self.token_endpoint, &endpoints.token);
        for (slot, value) in [
            (&mut self.userinfo_endpoint, &endpoints.userinfo),
            (&mut self.revocation_endpoint, &endpoints.revocation),
            (&mut self.jwks_uri, &endpoints.jwks),
        ] {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        self
    }
}

/// Fetches `{issuer}/.well-known/openid-configuration` and checks it.
pub async fn fetch(http: &dyn Outbound, issuer: &str) -> Result<Metadata, ProviderError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let fetched = http
        .send(client::get(&Url::parse(&url).map_err(|_| {
            ProviderError::Invalid("issuer is not a URL".into())
        })?))
        .await?;
    if fetched.status.is_server_error() {
        return Err(ProviderError::Unavailable(format!(
            "discovery answered {}",
            fetched.status
        )));
    }
    if !fetched.status.is_success() {
        return Err(ProviderError::Invalid(format!(
            "discovery answered {}",
            fetched.status
        )));
    }
    let metadata: Metadata = serde_json::from_slice(&fetched.body)
        .map_err(|e| ProviderError::Invalid(format!("discovery document: {e}")))?;
    if metadata.jwks_uri.is_none() {
        return Err(ProviderError::Invalid(
            "discovery document has no jwks_uri".into(),
        ));
    }
    if metadata.issuer != issuer {
        return Err(ProviderError::Invalid(
            "discovery document names another issuer".into(),
        ));
    }
    for (name, url) in [
        (
            "authorization_endpoint",
            Some(&metadata.authorization_endpoint),
        ),
        ("token_endpoint", Some(&metadata.token_endpoint)),
        ("jwks_uri", metadata.jwks_uri.as_ref()),
        ("userinfo_endpoint", metadata.userinfo_endpoint.as_ref()),
        ("revocation_endpoint", metadata.revocation_endpoint.as_ref()),
        (
            "end_session_endpoint",
            metadata.end_session_endpoint.as_ref(),
        ),
    ] {
        if let Some(url) = url {
            let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url));
            if !secure {
                return Err(ProviderError::Invalid(format!("{name} must use https")));
            }
        }
    }
    Ok(metadata)
}
