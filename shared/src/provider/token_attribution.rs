//! Which app an access token was issued to, asked of the provider, for a mobile SDK's token
//! posted to `POST /auth/{provider}/native`. A token another app obtained for its own user must
//! never become a session here, so a token is accepted only when the provider names our app:
//! - Kakao: `GET {kapi origin}/v1/user/access_token_info` with the token as a bearer answers
//!   `{"id": <user>, "expires_in": <s>, "app_id": <app>}`; `app_id` must be the configured
//!   `app_id` (<https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api#get-token-info>).
//! - Facebook: `GET {graph}/{version}/debug_token?input_token=<token>&access_token=<app token>`
//!   answers `{"data": {"app_id", "is_valid", "user_id", "expires_at", …}}`; `is_valid` must be
//!   true and `app_id` our `client_id`
//!   (<https://developers.facebook.com/docs/graph-api/reference/debug_token>).
//! - Naver documents no such call: a token is accepted only with `native_trust_access_token`.

use serde_json::Value;
use url::Url;

use super::ProviderError;
use super::client::{self, Outbound};
use super::quirks::TokenAttribution;
use super::userinfo::appsecret_proof;
use crate::config::ProviderConfig;
use crate::secret::AccessToken;

/// What the provider said about a token issued to our app.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributed {
    /// The user the token belongs to, when the provider says.
    pub subject: Option<String>,
    /// Unix seconds when the token expires, when the provider says (and it does expire).
    pub expires_at: Option<u64>,
}

/// Why a token was not attributed to our app.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// The provider does not take access tokens at `/native`, or the configuration lacks what
    /// the check needs (Kakao's `app_id`).
    #[error("access tokens are not accepted for this provider")]
    NotAccepted,
    /// Issued to another app, or not trusted without a way to tell.
    #[error("the token was not issued to this app")]
    OtherApp,
    /// The provider says the token is invalid or expired, or answered outside its format.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The provider could not be asked.
    #[error("the provider could not be asked")]
    Unavailable(#[source] ProviderError),
}

/// Asks the provider which app `token` was issued to; Ok only for our app (or, for a provider
/// that cannot tell, when the operator trusts every token).
pub async fn attribute(
    http: &dyn Outbound,
    config: &ProviderConfig,
    userinfo_endpoint: Option<&Url>,
    token: &AccessToken,
    now: u64,
) -> Result<Attributed, AttributionError> {
    match config.quirks.token_attribution {
        TokenAttribution::NotAccepted => Err(AttributionError::NotAccepted),
        TokenAttribution::Unattributable if config.native.trust_access_token => {
            Ok(Attributed::default())
        }
        TokenAttribution::Unattributable => Err(AttributionError::OtherApp),
        TokenAttribution::KakaoTokenInfo => {
            let app_id = config
                .native
                .app_id
                .as_deref()
                .ok_or(AttributionError::NotAccepted)?;
            let url = endpoint(userinfo_endpoint, "/v1/user/access_token_info")?;
            let mut request = client::get(&url);
            client::bearer(&mut request, token);
            let answer = ask(http, request).await?;
            if number_or_text(&answer, "/app_id").as_deref() != Some(app_id) {
                return Err(AttributionError::OtherApp);
            }
            Ok(Attributed {
                subject: Some(
                    number_or_text(&answer, "/id")
                        .ok_or_else(|| AttributionError::Invalid("no id".into()))?,
                ),
                expires_at: answer
                    .get("expires_in")
                    .and_then(Value::as_u64)
                    .map(|s| now.saturating_add(s)),
            })
        }
        TokenAttribution::FacebookDebugToken => {
            let graph = userinfo_endpoint.ok_or(AttributionError::NotAccepted)?;
            let mut url = graph
                .join("debug_token")
                .map_err(|_| AttributionError::NotAccepted)?;
            url.set_query(None);
            let secret =
                super::token::client_secret(config).map_err(AttributionError::Unavailable)?;
            let app_token = format!("{}|{}", config.client_id, secret.expose());
            url.query_pairs_mut()
                .append_pair("input_token", token.expose())
                .append_pair("access_token", &app_token)
                .append_pair(
                    "appsecret_proof",
                    &appsecret_proof(secret.expose(), &app_token),
                );
            let answer = ask(http, client::get(&url)).await?;
            let data = answer
                .get("data")
                .ok_or_else(|| AttributionError::Invalid("no data".into()))?;
            if data.get("is_valid").and_then(Value::as_bool) != Some(true) {
                return Err(AttributionError::Invalid("is_valid is not true".into()));
            }
            if number_or_text(data, "/app_id").as_deref() != Some(config.client_id.as_str()) {
                return Err(AttributionError::OtherApp);
            }
            Ok(Attributed {
                subject: Some(
                    number_or_text(data, "/user_id")
                        .ok_or_else(|| AttributionError::Invalid("no user_id".into()))?,
                ),
                // 0: a token that does not expire.
                expires_at: data
                    .get("expires_at")
                    .and_then(Value::as_u64)
                    .filter(|t| *t > 0),
            })
        }
    }
}

/// `path` on the origin of the provider's profile endpoint (so an override moves it too).
fn endpoint(userinfo_endpoint: Option<&Url>, path: &str) -> Result<Url, AttributionError> {
    let mut url = userinfo_endpoint
        .cloned()
        .ok_or(AttributionError::NotAccepted)?;
    url.set_path(path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Sends the token-information request: JSON on 2xx, `Invalid` on 4xx, `Unavailable` on 5xx
/// or no answer.
async fn ask(
    http: &dyn Outbound,
    request: client::OutboundRequest,
) -> Result<Value, AttributionError> {
    let fetched = http
        .send(request)
        .await
        .map_err(|e| AttributionError::Unavailable(e.into()))?;
    if fetched.status.is_server_error() {
        return Err(AttributionError::Unavailable(ProviderError::Unavailable(
            format!("token information answered {}", fetched.status),
        )));
    }
    if !fetched.status.is_success() {
        return Err(AttributionError::Invalid(format!(
            "token information answered {}",
            fetched.status
        )));
    }
    serde_json::from_slice(&fetched.body)
        .map_err(|_| AttributionError::Invalid("token information is not JSON".into()))
}

/// A JSON number or string at `pointer`, as text (ids come either way).
fn number_or_text(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}
