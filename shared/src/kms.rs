//! Data keys wrapped by AWS KMS (`[encryption] kms_key_id` + `wrapped_keys`): which KMS key,
//! which ciphertext blobs, and their unwrapping into the [`Keyring`] once per cold start.
//!
//! Only a configuration that names `wrapped_keys` builds a KMS client; raw `keys` cost no
//! request. Every blob is decrypted with `KeyId` set, so a blob that another KMS key wrapped
//! is refused by KMS instead of being opened by whatever key it names, and every plaintext must
//! be a 32-byte AES-256 key. Errors name the blob's position and KMS's error code, never a key
//! or a blob.

use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use url::Url;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, Keyring};

/// Longest ciphertext blob KMS produces (its `CiphertextBlob` limit).
const MAX_BLOB_BYTES: usize = 6144;
/// Bytes of an AES-256 data key.
const DATA_KEY_BYTES: usize = 32;
/// Attempts per KMS request: throttling and 5xx are retried with jittered backoff.
const MAX_ATTEMPTS: u32 = 3;
/// Budget for one KMS request including retries: start-up has to fit Lambda's 10 s init phase.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The KMS key that wrapped the data keys: a key id, a key ARN, an alias name or an alias ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyId(String);

impl KmsKeyId {
    /// Accepts what KMS's `KeyId` accepts: `1234abcd-…`, `arn:aws:kms:<region>:<account>:key/…`,
    /// `alias/name` or `arn:aws:kms:<region>:<account>:alias/name`. An ARN must be complete.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty()
            || text.len() > 2048
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        if text.starts_with("arn:") {
            let parts: Vec<&str> = text.splitn(6, ':').collect();
            let [_, partition, service, region, account, resource] = parts.as_slice() else {
                return None;
            };
            let resource_ok = ["key/", "alias/"].iter().any(|p| {
                resource
                    .strip_prefix(p)
                    .is_some_and(|rest| !rest.is_empty())
            });
            if partition.is_empty()
                || *service != "kms"
                || region.is_empty()
                || account.is_empty()
                || !resource_ok
            {
                return None;
            }
        }
        Some(Self(text.to_owned()))
    }

    /// The id as KMS takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region of an ARN (`arn:aws:kms:eu-west-1:…` → `eu-west-1`); `None` for a bare key id
    /// or alias, whose region comes from the environment.
    pub fn region(&self) -> Option<&str> {
        self.0
            .strip_prefix("arn:")
            .and_then(|rest| rest.split(':').nth(2))
    }
}

impl std::fmt::Display for KmsKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A data key as KMS wrapped it (its `CiphertextBlob`). Only KMS can open it, but it is still
/// key material in a form: `Debug` prints `[redacted]`, and there is no `Display`.
#[derive(Clone)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// Decodes a base64 (standard, or url-safe) ciphertext blob; `None` when it is not base64,
    /// empty, or longer than any blob KMS makes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .ok()?;
        (!bytes.is_empty() && bytes.len() <= MAX_BLOB_BYTES).then_some(Self(bytes))
    }

    /// The blob, for KMS.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrappedKey([redacted])")
    }
}

/// The `[encryption]` section in its KMS form.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    /// The KMS key every blob must have been wrapped by (`kms_key_id`).
    pub key_id: KmsKeyId,
    /// The wrapped data keys, the sealing one first (`wrapped_keys`).
    pub wrapped: Vec<WrappedKey>,
    /// A KMS-compatible server to call instead of AWS (`kms_endpoint`, local runs and tests).
    pub endpoint: Option<Url>,
}

/// Why the wrapped keys could not be unwrapped. Messages name `encryption.wrapped_keys[i]` and
/// KMS's error code; they never hold a key or a blob.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// The AWS SDK's HTTP client could not be built.
    #[error("the AWS SDK's HTTP client")]
    Tls(#[source] crate::tls::TlsError),
    /// KMS refused or failed to decrypt a blob (wrapped by another key, corrupt, no permission,
    /// KMS unreachable).
    #[error("encryption.wrapped_keys[{index}]: KMS could not decrypt it ({code})")]
    Decrypt {
        /// Position in `wrapped_keys`.
        index: usize,
        /// KMS's error code (`IncorrectKeyException`, `AccessDeniedException`, …) or the kind
        /// of transport failure.
        code: String,
        /// The SDK's error.
        #[source]
        source: Box<SdkError<DecryptError>>,
    },
    /// KMS answered without a plaintext.
    #[error("encryption.wrapped_keys[{index}]: KMS answered without a plaintext")]
    NoPlaintext {
        /// Position in `wrapped_keys`.
        index: usize,
    },
    /// The blob decrypts to something that is not a 32-byte AES-256 key.
    #[error(
        "encryption.wrapped_keys[{index}]: not a data key: it unwraps to {len} bytes, a data key \
         has 32 (generate one with key spec AES_256)"
    )]
    NotADataKey {
        /// Position in `wrapped_keys`.
        index: usize,
        /// Length of the plaintext.
        len: usize,
    },
    /// The unwrapped keys did not make a keyring.
    #[error("encryption.wrapped_keys")]
    Keyring(#[source] CryptoError),
    /// A decryption task ended without an answer (a panic).
    #[error("encryption.wrapped_keys: unwrapping was interrupted")]
    Interrupted,
}

/// What a failed KMS request is called in a message: KMS's error code for an answer, the kind
/// of failure for no answer.
pub fn error_code<E: ProvideErrorMetadata>(e: &SdkError<E>) -> String {
    match e {
        SdkError::ServiceError(_) => e.code().unwrap_or("an unnamed KMS error"),
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "KMS unreachable",
        SdkError::ResponseError(_) => "an unreadable answer",
        SdkError::ConstructionFailure(_) => "the request could not be built",
        _ => "unknown failure",
    }
    .to_owned()
}

/// A KMS client for `key_id`, built once: the region of the key's ARN (else the environment's),
/// `endpoint` when given (else the SDK's own `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`), with
/// bounded retries and timeouts. Sends nothing.
pub async fn client(
    key_id: &KmsKeyId,
    endpoint: Option<&Url>,
) -> Result<Client, crate::tls::TlsError> {
    let budget = crate::aws::Budget {
        attempts: MAX_ATTEMPTS,
        attempt: Duration::from_secs(2),
        operation: OPERATION_TIMEOUT,
    };
    let loader = crate::aws::bounded(budget, key_id.region(), endpoint)?;
    Ok(Client::new(&loader.load().await))
}

/// Unwraps the configured data keys into a keyring (the first seals): one client, every blob
/// decrypted concurrently. Called once per cold start, and only for a KMS configuration.
pub async fn unwrap_keys(keys: &KmsKeys) -> Result<Keyring, KmsError> {
    let client = client(&keys.key_id, keys.endpoint.as_ref())
        .await
        .map_err(KmsError::Tls)?;
    unwrap_with(&client, &keys.key_id, &keys.wrapped).await
}

/// [`unwrap_keys`] with a given client. Of several failures the first in `wrapped_keys` order
/// is reported, so the message does not depend on which answer came first.
pub async fn unwrap_with(
    client: &Client,
    key_id: &KmsKeyId,
    wrapped: &[WrappedKey],
) -> Result<Keyring, KmsError> {
    let mut tasks = tokio::task::JoinSet::new();
    for (index, blob) in wrapped.iter().enumerate() {
        let request = client
            .decrypt()
            .key_id(key_id.as_str())
            .ciphertext_blob(Blob::new(blob.as_bytes()));
        tasks.spawn(async move { (index, request.send().await) });
    }
    let mut answers: Vec<Option<_>> = (0..wrapped.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, answer) = joined.map_err(|_| KmsError::Interrupted)?;
        if let Some(slot) = answers.get_mut(index) {
            *slot = Some(answer);
        }
    }
    let mut plaintexts: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(wrapped.len());
    for (index, answer) in answers.into_iter().enumerate() {
        let output = answer
            .ok_or(KmsError::Interrupted)?
            .map_err(|source| KmsError::Decrypt {
                index,
                code: error_code(&source),
                source: Box::new(source),
            })?;
        let plaintext = Zeroizing::new(
            output
                .plaintext
                .ok_or(KmsError::NoPlaintext { index })?
                .into_inner(),
        );
        if plaintext.len() != DATA_KEY_BYTES {
            return Err(KmsError::NotADataKey {
                index,
                len: plaintext.len(),
            });
        }
        plaintexts.push(plaintext);
    }
    Keyring::from_raw(&plaintexts).map_err(KmsError::Keyring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_arns_and_aliases_parse_and_an_arn_names_its_region() {
        let arn = KmsKeyId::parse(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        assert_eq!(arn.region(), Some("eu-west-1"));
        let alias = KmsKeyId::parse("arn:aws-cn:kms:cn-north-1:111122223333:alias/tokens").unwrap();
        assert_eq!(alias.region(), Some("cn-north-1"));
        let bare = KmsKeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(bare.region(), None);
        assert_eq!(KmsKeyId::parse("alias/tokens").unwrap().region(), None);
    }

    #[test]
    fn incomplete_arns_and_blank_ids_are_refused() {
        for bad in [
            "",
            "  ",
            "arn:aws:kms:eu-west-1:111122223333",
            "arn:aws:kms::111122223333:key/abc",
            "arn:aws:s3:eu-west-1:111122223333:key/abc",
            "arn:aws:kms:eu-west-1:111122223333:key/",
            "arn:aws:kms:eu-west-1:111122223333:bucket/abc",
            "key id with spaces",
        ] {
            assert!(KmsKeyId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn wrapped_keys_are_base64_and_redact_themselves() {
        let blob = WrappedKey::from_base64("AQIDBAUGBwgJCgsMDQ4PEA==").unwrap();
        assert_eq!(blob.as_bytes().len(), 16);
        assert_eq!(format!("{blob:?}"), "WrappedKey([redacted])");
        assert!(WrappedKey::from_base64("not base64!").is_none());
        assert!(WrappedKey::from_base64("").is_none());
    }
}
