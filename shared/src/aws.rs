//! How every AWS SDK client (DynamoDB, SSM, KMS) is configured: the SDK's defaults with an
//! HTTP client that trusts Amazon's roots only (see [`crate::tls`]), and, for the clients a
//! request waits on, bounded retries and timeouts.

use std::time::Duration;

use url::Url;

use crate::tls::TlsError;

/// The SDK's configuration loader with this project's HTTP client; credentials and region
/// come from the environment as usual.
pub fn defaults() -> Result<aws_config::ConfigLoader, TlsError> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::tls::aws_http_client()?))
}

/// How hard a client tries before it reports the service unavailable.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Attempts per request (throttling and 5xx are retried with jittered exponential
    /// backoff from 50 ms to 800 ms).
    pub attempts: u32,
    /// Time for one attempt.
    pub attempt: Duration,
    /// Time for one request, retries included.
    pub operation: Duration,
}

/// [`defaults`] with `budget` (and a 1 s connect timeout), `region` when given, and `endpoint`
/// when given: a local server such as moto, which accepts any credentials, so placeholders
/// stand in when the environment has none (and `us-east-1` when it names no region).
pub fn bounded(
    budget: Budget,
    region: Option<&str>,
    endpoint: Option<&Url>,
) -> Result<aws_config::ConfigLoader, TlsError> {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(budget.attempts)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(800));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(budget.attempt)
        .operation_timeout(budget.operation)
        .build();
    let mut loader = defaults()?.retry_config(retry).timeout_config(timeouts);
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ));
        }
        if region.is_none() && std::env::var_os("AWS_REGION").is_none() {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
    }
    Ok(loader)
}
