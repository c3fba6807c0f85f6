//! The token endpoint: authorization code exchange and refresh_token grant, with client
//! authentication per provider configuration.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use url::{Url, form_urlencoded};

use super::client::{self, Fetched, Outbound};
use super::client_secret::TokenClient;
use super::discovery::Metadata;
use super::{OAuthError, ProviderError};
use crate::config::{ClientAuthMethod, ProviderConfig};
use crate::secret::{AccessToken, AuthCode, ClientSecret, CodeVerifier, IdToken, RefreshToken};

/// A successful token response.
#[derive(Debug)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds until it expires, when the provider said.
    pub expires_in: Option<u64>,
    /// A (possibly rotated) refresh token.
    pub refresh_token: Option<RefreshToken>,
    /// An id_token, still to be verified.
    pub id_token: Option<IdToken>,
    /// Granted scope.
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    error: serde_json::Value,
}

/// The error code of an error answer: RFC 6749's string, or the `type` of Facebook's
/// `{"error": {"message", "type", "code", "fbtrace_id"}}`.
fn error_code(error: &serde_json::Value) -> Option<String> {
    match error {
        serde_json::Value::String(code) => Some(code.clone()),
        serde_json::Value::Object(fields) => Some(
            fields
                .get("type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("error")
                .to_ascii_lowercase(),
        ),
        _ => None,
    }
}

/// Exchanges an authorization code (RFC 6749 §4.1.3 with the PKCE verifier of RFC 7636) as the
/// web client; `state` is sent too for providers that want it.
pub async fn exchange_code(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    metadata: &Metadata,
    code: &AuthCode,
    verifier: &CodeVerifier,
    redirect_uri: &str,
    state: &str,
) -> Result<TokenResponse, ProviderError> {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose()),
    ];
    // Naver wants the authorization request's state again.
    if provider.quirks.state_in_code_exchange {
        fields.push(("state", state));
    }
    post(http, provider, provider.web_client(), metadata, &fields).await
}

/// Exchanges a server auth code a mobile SDK handed the app (Apple's `authorizationCode`,
/// Google's `serverAuthCode`) as `client`: no redirect URI and no PKCE verifier, since the
/// authorization named none that we know of.
pub async fn exchange_native_code(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    metadata: &Metadata,
    code: &AuthCode,
) -> Result<TokenResponse, ProviderError> {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
    ];
    post(http, provider, client, metadata, &fields).await
}

/// Uses a refresh token (RFC 6749 §6) as the client it was issued to.
pub async fn refresh(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    metadata: &Metadata,
    refresh_token: &RefreshToken,
) -> Result<TokenResponse, ProviderError> {
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    post(http, provider, client, metadata, &fields).await
}

/// An `application/x-www-form-urlencoded` body.
fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().copied())
        .finish()
}

/// RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
fn basic_credentials(client_id: &str, secret: &ClientSecret) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!("Basic {}", STANDARD.encode(pair))
}

/// POSTs a form to one of the provider's endpoints authenticated as `client`: HTTP Basic or
/// the credentials in the body, as configured.
async fn client_post(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    url: &Url,
    fields: &[(&str, &str)],
) -> Result<Fetched, ProviderError> {
    let secret = secret_of(client)?;
    let mut fields = fields.to_vec();
    let mut authorization = false;
    match provider.client_auth {
        ClientAuthMethod::ClientSecretBasic => authorization = true,
        ClientAuthMethod::ClientSecretPost => {
            fields.push(("client_id", client.id));
            fields.push(("client_secret", secret.expose()));
        }
    }
    let mut request = client::post_form(url, form_body(&fields));
    if authorization {
        set_basic(&mut request, client.id, &secret);
    }
    Ok(http.send(request).await?)
}

/// The web client's secret to send now (configured, or minted for Apple).
pub fn client_secret(provider: &ProviderConfig) -> Result<ClientSecret, ProviderError> {
    secret_of(provider.web_client())
}

fn secret_of(client: TokenClient<'_>) -> Result<ClientSecret, ProviderError> {
    client
        .secret()
        .map_err(|e| ProviderError::Invalid(crate::telemetry::Chain(&e).to_string()))
}

/// Revokes `token` (of the kind `hint` names) at an RFC 7009 endpoint, as the client it was
/// issued to.
pub async fn revoke(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    endpoint: &Url,
    token: &str,
    hint: &str,
) -> Result<(), ProviderError> {
    let fields = [("token", token), ("token_type_hint", hint)];
    let fetched = client_post(http, provider, client, endpoint, &fields).await?;
    if fetched.status.is_success() {
        Ok(())
    } else {
        Err(ProviderError::Invalid(format!(
            "revocation endpoint answered {}",
            fetched.status
        )))
    }
}

/// Facebook: trades a short-lived user token for a long-lived one (`fb_exchange_token`).
pub async fn long_lived(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    metadata: &Metadata,
    access_token: &AccessToken,
) -> Result<TokenResponse, ProviderError> {
    let fields = [
        ("grant_type", "fb_exchange_token"),
        ("fb_exchange_token", access_token.expose()),
    ];
    post(http, provider, provider.web_client(), metadata, &fields).await
}

/// Adds the web client's HTTP Basic authentication (RFC 6749 §2.3.1).
pub fn basic_auth(
    request: &mut client::OutboundRequest,
    provider: &ProviderConfig,
) -> Result<(), ProviderError> {
    set_basic(request, &provider.client_id, &client_secret(provider)?);
    Ok(())
}

fn set_basic(request: &mut client::OutboundRequest, client_id: &str, secret: &ClientSecret) {
    if let Ok(mut value) = http::HeaderValue::from_str(&basic_credentials(client_id, secret)) {
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
}

async fn post(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    metadata: &Metadata,
    fields: &[(&str, &str)],
) -> Result<TokenResponse, ProviderError> {
    let fetched = client_post(http, provider, client, &metadata.token_endpoint, fields).await?;
    read_token_response(&fetched)
}

/// Reads a token endpoint's answer (RFC 6749 §5.1 and §5.2). A redirect, a non-JSON body, a
/// missing or non-Bearer `token_type`, an empty `access_token` or an `error` member (some
/// providers send errors with HTTP 200) is never taken for tokens.
pub fn read_token_response(fetched: &Fetched) -> Result<TokenResponse, ProviderError> {
    let status = fetched.status;
    if status.is_redirection() {
        return Err(ProviderError::Invalid(format!(
            "token endpoint answered {status}"
        )));
    }
    if status.is_server_error() {
        return Err(ProviderError::Unavailable(format!(
            "token endpoint answered {status}"
        )));
    }
    if (status.is_client_error() || status.is_success())
        && let Ok(e) = serde_json::from_slice::<RawError>(&fetched.body)
        && let Some(code) = error_code(&e.error)
    {
        return Err(ProviderError::Rejected {
            error: OAuthError::parse(&code),
        });
    }
    if !status.is_success() {
        return Err(ProviderError::Invalid(format!(
            "token endpoint answered {status}"
        )));
    }
    let raw: RawTokenResponse = serde_json::from_slice(&fetched.body)
        .map_err(|_| ProviderError::Invalid("token response is not the expected JSON".into()))?;
    if !raw
        .token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
    {
        return Err(ProviderError::Invalid(
            "token_type is missing or not Bearer".into(),
        ));
    }
    if raw.access_token.is_empty() {
        return Err(ProviderError::Invalid("empty access_token".into()));
    }
    // Some providers send expires_in as a string.
    let expires_in = match raw.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(TokenResponse {
        access_token: AccessToken::new(raw.access_token),
        expires_in,
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new),
        id_token: raw.id_token.filter(|t| !t.is_empty()).map(IdToken::new),
        scope: raw.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ClientSecret;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let header = basic_credentials("id:1", &ClientSecret::new("s e/cret"));
        let decoded = STANDARD
            .decode(header.trim_start_matches("Basic "))
            .unwrap();
        assert_eq!(decoded, b"id%3A1:s+e%2Fcret");
    }

    fn answer(status: u16, body: &str) -> Fetched {
        Fetched {
            status: http::StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_token_response_without_bearer_token_type_is_a_protocol_error() {
        for body in [
            r#"{"access_token":"at"}"#,
            r#"{"access_token":"at","token_type":"mac"}"#,
            r#"{"access_token":"at","token_type":"DPoP"}"#,
            r#"{"access_token":"at","token_type":null}"#,
        ] {
            assert!(
                matches!(
                    read_token_response(&answer(200, body)),
                    Err(ProviderError::Invalid(_))
                ),
                "{body}"
            );
        }
        let ok = read_token_response(&answer(
            200,
            r#"{"access_token":"at","token_type":"bEaReR","expires_in":"120"}"#,
        ))
        .unwrap();
        assert_eq!(ok.access_token.expose(), "at");
        assert_eq!(ok.expires_in, Some(120));
    }

    #[test]
    fn an_error_sent_with_http_200_is_never_a_token() {
        let got = read_token_response(&answer(
            200,
            r#"{"error":"invalid_grant","access_token":"at","token_type":"Bearer"}"#,
        ));
        assert!(
            matches!(
                &got,
                Err(ProviderError::Rejected {
                    error: OAuthError::InvalidGrant
                })
            ),
            "{got:?}"
        );
    }

    #[test]
    fn error_codes_are_reduced_to_safe_characters() {
        assert_eq!(
            OAuthError::parse("invalid_grant<script>").as_str(),
            "invalid_grantscript"
        );
        assert_eq!(OAuthError::parse("invalid_grant"), OAuthError::InvalidGrant);
    }
}
