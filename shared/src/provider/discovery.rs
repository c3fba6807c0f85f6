//! OpenID Connect discovery: the provider's metadata, with its issuer checked exactly.

use serde::Deserialize;
use url::Url;

use super::ProviderError;
use super::client::{self, Outbound};
use crate::config::Endpoints;
use crate::deps::Deps;
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

/// How long a discovery document one instance fetched serves other instances from the store.
pub const SHARED_FOR: u64 = 10 * 60;
/// How long a cold instance waits for the provider before it asks the store as well: a provider
/// that answers sooner (a fast network) costs no store request at all.
pub const ASK_THE_STORE_AFTER: std::time::Duration = std::time::Duration::from_millis(20);
/// A provider that answers faster than this is not worth a copy in the store: reading the copy
/// would cost about as much. (So providers on loopback, as in tests, are never copied.)
pub const WORTH_SHARING: std::time::Duration = std::time::Duration::from_millis(50);

/// The store's name for `issuer`'s discovery document.
fn document_name(issuer: &str) -> String {
    format!("openid-configuration {issuer}")
}

/// The discovery document of `issuer` for an instance that has none yet: from the provider or
/// from the store, whichever answers first with a usable one.
///
/// A cold instance asks the provider, and the store too once the provider has kept it waiting
/// [`ASK_THE_STORE_AFTER`]. Over a real network the store then wins: its connection is one the
/// request opens anyway, where the provider's costs a TLS handshake (50–200 ms). When
/// the store has nothing (or only an edited or expired copy), the provider's answer is used
/// and, when it took at least [`WORTH_SHARING`], kept in the store for [`SHARED_FOR`], so the
/// next cold instance finds it. When the provider answers first, its answer is used as it is.
/// A stored copy passes the same checks as a fetched one; a provider failure falls back to a
/// live stored copy. Stores that are not shared between instances keep nothing.
pub async fn fetch_shared(deps: Deps<'_>, issuer: &str) -> Result<Metadata, ProviderError> {
    let name = document_name(issuer);
    let started = deps.clock.monotonic();
    let network = async {
        let body = fetch_body(deps.http, issuer).await?;
        let metadata = parse(&body, issuer)?;
        Ok::<_, ProviderError>((metadata, body))
    };
    let stored = async {
        deps.clock.sleep(ASK_THE_STORE_AFTER).await;
        match deps.store.get_document(&name, deps.now()).await {
            Ok(Some(text)) => parse(text.as_bytes(), issuer).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::Chain(&e), "stored discovery document unreadable");
                None
            }
        }
    };
    tokio::pin!(network, stored);
    let from_store = tokio::select! {
        fetched = &mut network => {
            return match fetched {
                Ok((metadata, _)) => Ok(metadata),
                Err(e) => stored.await.ok_or(e),
            };
        }
        from_store = &mut stored => from_store,
    };
    if let Some(metadata) = from_store {
        return Ok(metadata);
    }
    let (metadata, body) = network.await?;
    let slow = deps.clock.monotonic().saturating_sub(started) >= WORTH_SHARING;
    if slow
        && let Ok(text) = std::str::from_utf8(&body)
        && let Err(e) = deps
            .store
            .put_document(&name, text, deps.now() + SHARED_FOR)
            .await
    {
        tracing::warn!(error = %crate::telemetry::Chain(&e), "could not share the discovery document");
    }
    Ok(metadata)
}

/// The body of `{issuer}/.well-known/openid-configuration`, when it answered 200.
async fn fetch_body(http: &dyn Outbound, issuer: &str) -> Result<Vec<u8>, ProviderError> {
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
    Ok(fetched.body)
}

/// A discovery document of `issuer`, checked: its issuer, a `jwks_uri`, https endpoints.
fn parse(body: &[u8], issuer: &str) -> Result<Metadata, ProviderError> {
    let metadata: Metadata = serde_json::from_slice(body)
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
