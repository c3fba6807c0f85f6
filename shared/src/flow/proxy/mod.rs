//! `ANY /api/{api}/{path}`: calls a configured API with the session's access token, so a
//! frontend never holds one. The token is refreshed first when it is due (the single flight of
//! `/auth/refresh`); an API's 401 costs one refresh (shared with concurrent callers) and one
//! retry. The caller's path stays under the API's base path ([`target`]); only allowlisted
//! headers cross ([`headers`]); redirects come back as they are, never followed.

pub mod headers;
pub mod target;

use http::{HeaderMap, Method, StatusCode};
use url::Url;

use super::Settings;
use super::refresh::{self, Need};
use crate::caller::authenticate;
use crate::config::{ApiConfig, Config};
use crate::deadline::Deadline;
use crate::deps::Deps;
use crate::edge::{ApiError, Cookies, Request};
use crate::provider::client::{self, FetchError, OutboundRequest};
use crate::provider::{Provider, Providers, userinfo};
use crate::secret::AccessToken;
use crate::types::ProviderId;

/// Largest body carried either way: Lambda's payload limit for a synchronous invocation.
pub const MAX_PROXY_BODY: usize = 6 * 1024 * 1024;

/// A proxied call as the caller sent it, checked: which API, whose session, where it goes.
pub struct ProxyRequest {
    /// The configured API's name.
    pub api: ProviderId,
    /// The caller's session key (bearer token or cookie, CSRF-checked).
    pub session_key: String,
    /// The method, one the API allows.
    pub method: Method,
    /// The upstream URL, under the API's base path.
    pub target: Url,
    /// The allowlisted request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for ProxyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyRequest")
            .field("api", &self.api)
            .field("method", &self.method)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .finish_non_exhaustive()
    }
}

/// The API named by a route path `/api/{api}/{rest}` (as [`crate::routes::route_path`]
/// leaves it), with the raw rest.
fn split_path(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix("/api/")?.split_once('/')
}

/// The configured API a route path names, or `unknown_api`.
pub fn api_for<'a>(config: &'a Config, path: &str) -> Result<&'a ApiConfig, ApiError> {
    split_path(path)
        .and_then(|(name, _)| ProviderId::parse(name))
        .and_then(|name| config.apis.get(&name))
        .ok_or(ApiError::UnknownApi)
}

impl ProxyRequest {
    /// For `api` (the one the path names, see [`api_for`]), checks in this order: the API
    /// allows the method (405), the caller holds a session under the CSRF rule of
    /// `/auth/refresh` (401 / 403), the path stays under the API's base (400), the body fits
    /// (413).
    pub fn from_request(
        req: &Request,
        api: &ApiConfig,
        config: &Config,
        cookies: Cookies,
    ) -> Result<Self, ApiError> {
        if !api.methods.contains(req.method()) {
            return Err(ApiError::MethodNotAllowed);
        }
        let (session_key, _) = authenticate(req, cookies, &config.allowed_origins, true)?;
        let (_, rest) = split_path(req.uri().path()).ok_or(ApiError::UnknownApi)?;
        let target = target::target(&api.base_url, rest, req.uri().query()).map_err(|e| {
            tracing::info!(reason = %e, "proxied path refused");
            ApiError::InvalidRequest
        })?;
        let body: &[u8] = match req.body() {
            lambda_http::Body::Text(t) => t.as_bytes(),
            lambda_http::Body::Binary(b) => b,
            _ => &[],
        };
        if body.len() > MAX_PROXY_BODY {
            return Err(ApiError::PayloadTooLarge);
        }
        Ok(Self {
            api: api.name.clone(),
            session_key,
            method: req.method().clone(),
            target,
            headers: headers::to_upstream(req.headers()),
            body: body.to_vec(),
        })
    }
}

/// The API's answer, as the caller gets it.
pub struct Answer {
    /// The API's status (a redirect included: it is not followed).
    pub status: StatusCode,
    /// The API's headers that may come back ([`headers::to_caller`]).
    pub headers: HeaderMap,
    /// The API's body.
    pub body: Vec<u8>,
}

/// Calls `api` for the caller of `request`.
#[tracing::instrument(name = "proxy", skip_all, fields(api = %api.name, method = %request.method))]
pub async fn call(
    deps: Deps<'_>,
    settings: &Settings,
    providers: &Providers,
    api: &ApiConfig,
    request: ProxyRequest,
    deadline: Deadline<'_>,
) -> Result<Answer, ApiError> {
    let key = &request.session_key;
    let session = refresh::read(deps, key)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if session.provider != api.provider {
        return Err(ApiError::WrongProvider);
    }
    let provider = providers.get(&api.provider).ok_or(ApiError::Internal)?;
    let token = refresh::token_for(
        deps,
        settings,
        providers,
        key,
        session,
        Need::Valid,
        deadline,
    )
    .await?
    .access_token;
    let answer = send(deps, provider, &request, &token, deadline).await?;
    if answer.status != StatusCode::UNAUTHORIZED {
        return Ok(answer);
    }
    // The API refused a token we thought valid: one refresh (or the token a concurrent caller
    // already got), one retry; a second 401 is the API's answer.
    let session = refresh::read(deps, key)
        .await?
        .ok_or(ApiError::ReauthRequired)?;
    let renewed = refresh::token_for(
        deps,
        settings,
        providers,
        key,
        session,
        Need::Replacing(token.clone()),
        deadline,
    )
    .await?
    .access_token;
    if renewed.expose() == token.expose() {
        tracing::info!("the API refused the token and no other could be had");
        return Ok(answer);
    }
    tracing::info!("the API refused the token; retrying once with a refreshed one");
    send(deps, provider, &request, &renewed, deadline).await
}

/// One call to the API with `token`.
async fn send(
    deps: Deps<'_>,
    provider: &Provider,
    request: &ProxyRequest,
    token: &AccessToken,
    deadline: Deadline<'_>,
) -> Result<Answer, ApiError> {
    let mut url = request.target.clone();
    if provider.config.quirks.graph_api {
        // Facebook: our own appsecret_proof, never one the caller put in the query.
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "appsecret_proof")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        url = userinfo::with_proof(&provider.config, &url, token).map_err(|e| {
            tracing::error!(error = %crate::telemetry::Chain(&e), "no appsecret_proof");
            ApiError::Internal
        })?;
    }
    let mut outbound: OutboundRequest = http::Request::new(request.body.clone());
    *outbound.method_mut() = request.method.clone();
    *outbound.uri_mut() = url.as_str().parse().map_err(|_| ApiError::InvalidRequest)?;
    *outbound.headers_mut() = request.headers.clone();
    client::bearer(&mut outbound, token);
    let sent = deadline.within(deps.http.send_capped(outbound, MAX_PROXY_BODY));
    let fetched = match sent.await {
        Ok(Ok(fetched)) => fetched,
        Ok(Err(e)) => {
            let reason = match e {
                FetchError::TooLarge => "answer larger than the proxy carries",
                FetchError::Timeout => "timed out",
                FetchError::Connect => "unreachable",
                FetchError::Other(_) => "request failed",
            };
            tracing::warn!(reason, "API call failed");
            return Err(ApiError::UpstreamUnavailable);
        }
        Err(_) => {
            tracing::warn!(reason = "out of time", "API call failed");
            return Err(ApiError::UpstreamUnavailable);
        }
    };
    tracing::info!(status = fetched.status.as_u16(), "API answered");
    let status = fetched.status.as_u16();
    crate::events::note(|n| n.upstream_status = Some(status));
    Ok(Answer {
        status: fetched.status,
        headers: headers::to_caller(&fetched.headers),
        body: fetched.body,
    })
}
