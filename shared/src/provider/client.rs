//! Outbound HTTP as a port: [`Outbound`] is what provider code calls; [`HttpClient`] is the
//! real one, built once per cold start, with short timeouts, no redirects and capped bodies.

use std::time::Duration;

use http::StatusCode;
use url::Url;

/// Longest a TCP/TLS connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest a whole request, body included, may take.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read from a provider.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a request to a provider produced no usable body.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within the timeouts.
    #[error("provider timed out")]
    Timeout,
    /// Connection refused, reset or TLS failure.
    #[error("provider unreachable")]
    Connect,
    /// The body was larger than the request's cap ([`MAX_BODY`] for provider calls).
    #[error("response body larger than allowed")]
    TooLarge,
    /// Anything else the HTTP stack reported.
    #[error("provider request failed")]
    Other(#[source] reqwest::Error),
}

/// A status and a body of at most [`MAX_BODY`] bytes. `Debug` shows the body's length only:
/// token endpoint bodies carry tokens.
pub struct Fetched {
    /// HTTP status; redirects are returned as they are, never followed.
    pub status: StatusCode,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A request to a provider: method, URL, headers and a (possibly empty) body.
pub type OutboundRequest = http::Request<Vec<u8>>;

/// Sends requests to providers; a port so that flows can be tested with a fake provider.
#[async_trait::async_trait]
pub trait Outbound: Send + Sync {
    /// Sends `request`; redirects are returned as they are, bodies are capped at [`MAX_BODY`].
    /// Each call's time is noted for the request's `ProviderLatency` metric.
    async fn send(&self, request: OutboundRequest) -> Result<Fetched, FetchError> {
        let started = std::time::Instant::now();
        let fetched = self.send_capped(request, MAX_BODY).await;
        crate::events::note_provider_call(started.elapsed());
        fetched
    }

    /// Sends `request`, reading at most `max_body` bytes of the answer.
    async fn send_capped(
        &self,
        request: OutboundRequest,
        max_body: usize,
    ) -> Result<Fetched, FetchError>;
}

/// A `GET` of `url` that asks for JSON.
pub fn get(url: &Url) -> OutboundRequest {
    let mut request = http::Request::new(Vec::new());
    *request.uri_mut() = uri(url);
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// A `POST` of an `application/x-www-form-urlencoded` body to `url`, asking for JSON.
pub fn post_form(url: &Url, body: String) -> OutboundRequest {
    let mut request = get(url);
    *request.method_mut() = http::Method::POST;
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    *request.body_mut() = body.into_bytes();
    request
}

/// Adds `Authorization: Bearer <access_token>`.
pub fn bearer(request: &mut OutboundRequest, access_token: &crate::secret::AccessToken) {
    if let Ok(mut value) = http::HeaderValue::from_str(&format!("Bearer {}", access_token.expose()))
    {
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
}

/// A parsed URL is always a valid URI; the fallback only keeps this total.
fn uri(url: &Url) -> http::Uri {
    url.as_str().parse().unwrap_or_default()
}

/// The real HTTP client for provider calls.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    /// Builds the client: connect ≤ 3 s, whole request ≤ 10 s, redirects not followed, the
    /// roots of [`crate::tls::provider_config`].
    pub fn new() -> Result<Self, crate::tls::TlsError> {
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::provider_config()?)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lambda-token-handler/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::tls::TlsError::Http(Box::new(e)))?;
        Ok(Self { inner })
    }
}

#[async_trait::async_trait]
impl Outbound for HttpClient {
    /// Sends `request` and reads at most `max_body` bytes of the answer.
    async fn send_capped(
        &self,
        request: OutboundRequest,
        max_body: usize,
    ) -> Result<Fetched, FetchError> {
        let request = reqwest::Request::try_from(request).map_err(classify)?;
        let mut response = self.inner.execute(request).await.map_err(classify)?;
        if response
            .content_length()
            .is_some_and(|n| n > max_body as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max_body {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("status", &self.status)
            .field(
                "body",
                &format_args!("[{} bytes redacted]", self.body.len()),
            )
            .finish()
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect
    } else {
        // The URL may carry a query; keep only the kind of failure.
        FetchError::Other(e.without_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetched_body_is_not_printed() {
        let fetched = Fetched {
            status: StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: br#"{"access_token":"at-SECRET"}"#.to_vec(),
        };
        let printed = format!("{fetched:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(printed.contains("28 bytes"), "{printed}");
    }
}
