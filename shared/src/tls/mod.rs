//! Which certificate authorities outbound TLS trusts. Decided once per cold start from roots
//! compiled into the binary, never by reading the system's certificate store (that costs a
//! cold start several milliseconds of file reads and certificate parsing, twice: once per
//! HTTP stack).
//!
//! - Provider calls (discovery, JWKS, tokens, userinfo, revocation, proxied APIs) trust the
//!   Mozilla root program (the `webpki-roots` crate), as browsers do.
//! - AWS calls (DynamoDB, SSM) trust only Amazon Trust Services' roots, which every AWS
//!   endpoint in the `aws` partition chains to: a certificate for an AWS endpoint from any
//!   other authority is refused.
//! - `SSL_CERT_FILE`, when set, names a PEM bundle whose certificates are trusted as well, by
//!   both: a provider behind a private certificate authority, or an AWS partition whose
//!   endpoints chain elsewhere.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2 (the cross-signing root).
const AMAZON_ROOTS_PEM: &[u8] = include_bytes!("amazon-roots.pem");

/// The environment variable naming extra trusted roots (the name OpenSSL and rustls use).
pub const EXTRA_ROOTS_VAR: &str = "SSL_CERT_FILE";

/// Why the trusted roots could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `SSL_CERT_FILE` could not be read or holds no certificate.
    #[error("SSL_CERT_FILE ({path}) holds no readable PEM certificate")]
    ExtraRoots {
        /// The file named.
        path: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS configuration could not be built.
    #[error("building the TLS configuration")]
    BadRoot(#[source] rustls::Error),
    /// The provider HTTP client could not be built with these roots.
    #[error("building the provider HTTP client")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The AWS SDK's TLS context could not be built.
    #[error("building the AWS SDK's TLS context")]
    Aws(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The PEM bundle `SSL_CERT_FILE` names, or nothing when it is unset.
fn extra_roots_pem() -> Result<Option<(String, Vec<u8>)>, TlsError> {
    let Some(path) = std::env::var_os(EXTRA_ROOTS_VAR).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = path.to_string_lossy().into_owned();
    let pem = std::fs::read(&path).map_err(|e| TlsError::ExtraRoots {
        path: path.clone(),
        source: Box::new(e),
    })?;
    Ok(Some((path, pem)))
}

fn certificates(path: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::ExtraRoots {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
    if certs.is_empty() {
        return Err(TlsError::ExtraRoots {
            path: path.to_owned(),
            source: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// Mozilla's roots plus the extra bundle's.
fn provider_roots(extra: Option<&(String, Vec<u8>)>) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some((path, pem)) = extra {
        // A bundle may hold certificates webpki cannot use as anchors (old v1 roots): skip
        // those, as browsers do, but not all of them.
        let (added, skipped) = roots.add_parsable_certificates(certificates(path, pem)?);
        if added == 0 {
            return Err(TlsError::ExtraRoots {
                path: path.clone(),
                source: "no certificate usable as a root".into(),
            });
        }
        if skipped > 0 {
            tracing::warn!(path = %path, skipped, "SSL_CERT_FILE: certificates not usable as roots were skipped");
        }
    }
    Ok(roots)
}

/// The TLS client configuration for provider calls: Mozilla's roots plus `SSL_CERT_FILE`'s.
pub fn provider_config() -> Result<rustls::ClientConfig, TlsError> {
    let roots = provider_roots(extra_roots_pem()?.as_ref())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::BadRoot)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The HTTP client every AWS SDK client uses: Amazon's roots plus `SSL_CERT_FILE`'s, never
/// the system store.
pub fn aws_http_client() -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, TlsError>
{
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider};

    let mut store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS_PEM);
    if let Some((path, pem)) = extra_roots_pem()? {
        certificates(&path, &pem)?;
        store.add_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| TlsError::Aws(Box::new(e)))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amazon_roots_parse_as_five_certificates() {
        let certs = certificates("amazon-roots.pem", AMAZON_ROOTS_PEM).expect("parses");
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        for cert in certs {
            store.add(cert).expect("a usable trust anchor");
        }
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let err = certificates("/etc/extra.pem", b"not a pem").unwrap_err();
        assert!(err.to_string().contains("/etc/extra.pem"), "{err}");
    }

    #[test]
    fn provider_calls_trust_the_mozilla_roots_and_the_extra_bundle() {
        let mozilla = provider_roots(None).expect("builds").len();
        assert!(mozilla > 100, "{mozilla} roots");
        let extra = ("extra.pem".to_owned(), AMAZON_ROOTS_PEM[..].to_vec());
        let with_extra = provider_roots(Some(&extra)).expect("builds").len();
        assert_eq!(with_extra, mozilla + 5);
        let empty = ("empty.pem".to_owned(), Vec::new());
        assert!(provider_roots(Some(&empty)).is_err());
        // A bundle of which nothing is usable as a root is refused too.
        let mut junk = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        junk.extend_from_slice(b"MIIBAA==\n-----END CERTIFICATE-----\n");
        let unusable = ("junk.pem".to_owned(), junk);
        let err = provider_roots(Some(&unusable)).unwrap_err();
        assert!(err.to_string().contains("junk.pem"), "{err}");
    }
}
