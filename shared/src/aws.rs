//! How every AWS SDK client (DynamoDB, SSM) is configured: the SDK's defaults with an HTTP
//! client that trusts Amazon's roots only (see [`crate::tls`]).

use crate::tls::TlsError;

/// The SDK's configuration loader with this project's HTTP client; credentials and region
/// come from the environment as usual.
pub fn defaults() -> Result<aws_config::ConfigLoader, TlsError> {
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::tls::aws_http_client()?))
}
