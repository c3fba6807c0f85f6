//! `admin keys …`: data keys for `[encryption] wrapped_keys`, made or wrapped by KMS. Only the
//! wrapped form (KMS's `CiphertextBlob`, base64) is ever printed; a plaintext key never reaches
//! standard output or a log. Each action writes one JSON security line to standard error.

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_kms::Client;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::encrypt::EncryptError;
use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use shared::kms::{KmsKeyId, error_code};
use url::Url;
use zeroize::Zeroizing;

/// Longest standard input `keys wrap` reads: one base64 key and some white space.
const MAX_STDIN: u64 = 1024;

/// Data keys for `[encryption] wrapped_keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generates a new AES-256 data key in KMS and prints it wrapped (base64 CiphertextBlob):
    /// the value to put first in `wrapped_keys`. The plaintext key is never shown.
    New(KmsArgs),
    /// Reads one raw key (base64 of 32 bytes, an entry of `keys`) on standard input and prints
    /// it wrapped by KMS, so that data sealed under it stays readable after moving to KMS.
    Wrap(KmsArgs),
}

/// Which KMS key, and where KMS is.
#[derive(Debug, clap::Args)]
pub struct KmsArgs {
    /// The KMS key that wraps the data key (key ARN, key id, alias name or alias ARN); the
    /// same value as `kms_key_id` in the configuration.
    #[arg(long, value_parser = parse_key_id)]
    pub kms_key_id: KmsKeyId,
    /// A KMS-compatible server instead of AWS (local runs); the SDK's AWS_ENDPOINT_URL_KMS and
    /// AWS_ENDPOINT_URL work too.
    #[arg(long)]
    pub kms_endpoint: Option<Url>,
}

fn parse_key_id(text: &str) -> Result<KmsKeyId, String> {
    KmsKeyId::parse(text).ok_or_else(|| {
        "expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), key id, alias name or \
         alias ARN"
            .to_owned()
    })
}

/// Why a `keys` action failed. Messages never hold key material.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The AWS SDK's HTTP client could not be built.
    #[error("the AWS SDK's HTTP client")]
    Tls(#[source] shared::tls::TlsError),
    /// Standard input could not be read.
    #[error("reading the raw key from standard input")]
    Stdin(#[source] std::io::Error),
    /// Standard input does not hold one base64 encoding of 32 bytes.
    #[error("standard input must hold one raw key: base64 of exactly 32 bytes")]
    NotARawKey,
    /// KMS refused or failed `GenerateDataKey`.
    #[error("KMS GenerateDataKey failed ({code})")]
    Generate {
        /// KMS's error code, or the kind of transport failure.
        code: String,
        /// The SDK's error.
        #[source]
        source: Box<SdkError<GenerateDataKeyError>>,
    },
    /// KMS refused or failed `Encrypt`.
    #[error("KMS Encrypt failed ({code})")]
    Encrypt {
        /// KMS's error code, or the kind of transport failure.
        code: String,
        /// The SDK's error.
        #[source]
        source: Box<SdkError<EncryptError>>,
    },
    /// KMS answered without a ciphertext blob.
    #[error("KMS answered without a ciphertext blob")]
    NoCiphertext,
    /// The wrapped key could not be printed.
    #[error("writing the wrapped key to standard output")]
    Stdout(#[source] std::io::Error),
}

impl KeysError {
    /// The short code the security line carries.
    fn code(&self) -> &str {
        match self {
            Self::Tls(_) => "tls",
            Self::Stdin(_) => "stdin",
            Self::NotARawKey => "not_a_raw_key",
            Self::Generate { code, .. } | Self::Encrypt { code, .. } => code,
            Self::NoCiphertext => "no_ciphertext",
            Self::Stdout(_) => "stdout",
        }
    }
}

/// Runs one `keys` action: the wrapped key to `out`, the security line to `log`.
pub async fn run(
    command: KeysCommand,
    input: impl Read,
    out: &mut impl Write,
    log: &mut impl Write,
) -> Result<(), KeysError> {
    let (action, args) = match &command {
        KeysCommand::New(args) => ("keys.new", args),
        KeysCommand::Wrap(args) => ("keys.wrap", args),
    };
    let result = act(&command, args, input, out).await;
    security_line(log, action, &args.kms_key_id, result.as_ref().err());
    result
}

async fn act(
    command: &KeysCommand,
    args: &KmsArgs,
    input: impl Read,
    out: &mut impl Write,
) -> Result<(), KeysError> {
    // Read before any request: a bad key on stdin costs no KMS call.
    let raw = match command {
        KeysCommand::Wrap(_) => Some(read_raw_key(input)?),
        KeysCommand::New(_) => None,
    };
    let client = shared::kms::client(&args.kms_key_id, args.kms_endpoint.as_ref())
        .await
        .map_err(KeysError::Tls)?;
    let wrapped = match raw {
        None => new_data_key(&client, &args.kms_key_id).await?,
        Some(raw) => wrap(&client, &args.kms_key_id, &raw).await?,
    };
    writeln!(out, "{}", STANDARD.encode(wrapped)).map_err(KeysError::Stdout)
}

/// A fresh AES-256 data key from KMS, wrapped; its plaintext is dropped (and wiped) unseen.
pub async fn new_data_key(client: &Client, key_id: &KmsKeyId) -> Result<Vec<u8>, KeysError> {
    let output = client
        .generate_data_key()
        .key_id(key_id.as_str())
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .map_err(|source| KeysError::Generate {
            code: error_code(&source),
            source: Box::new(source),
        })?;
    if let Some(plaintext) = output.plaintext {
        drop(Zeroizing::new(plaintext.into_inner()));
    }
    output
        .ciphertext_blob
        .map(Blob::into_inner)
        .ok_or(KeysError::NoCiphertext)
}

/// `raw` (32 bytes) wrapped by `key_id`.
pub async fn wrap(
    client: &Client,
    key_id: &KmsKeyId,
    raw: &Zeroizing<Vec<u8>>,
) -> Result<Vec<u8>, KeysError> {
    let output = client
        .encrypt()
        .key_id(key_id.as_str())
        .plaintext(Blob::new(raw.as_slice()))
        .send()
        .await
        .map_err(|source| KeysError::Encrypt {
            code: error_code(&source),
            source: Box::new(source),
        })?;
    output
        .ciphertext_blob
        .map(Blob::into_inner)
        .ok_or(KeysError::NoCiphertext)
}

/// One raw key from `input`: base64 (standard or url-safe) of exactly 32 bytes, with white
/// space around it.
fn read_raw_key(input: impl Read) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let mut text = Zeroizing::new(String::new());
    input
        .take(MAX_STDIN)
        .read_to_string(&mut text)
        .map_err(KeysError::Stdin)?;
    let encoded = text.trim();
    let bytes = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
            .map_err(|_| KeysError::NotARawKey)?,
    );
    if bytes.len() != 32 {
        return Err(KeysError::NotARawKey);
    }
    Ok(bytes)
}

/// The security line of one action: who asked KMS for what, and how it ended; no key material.
fn security_line(log: &mut impl Write, action: &str, key_id: &KmsKeyId, error: Option<&KeysError>) {
    let time_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut line = serde_json::json!({
        "time": time_ms,
        "event": "admin",
        "action": action,
        "kms_key_id": key_id.as_str(),
        "outcome": if error.is_some() { "failure" } else { "success" },
    });
    if let (Some(e), Some(map)) = (error, line.as_object_mut()) {
        map.insert("error".into(), e.code().into());
    }
    // Standard error is all there is to tell; a failure to write it cannot be reported.
    let _ = writeln!(log, "{line}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_raw_key_is_base64_of_32_bytes_with_white_space_around_it() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let raw = read_raw_key(format!("  {key}\n").as_bytes()).unwrap();
        assert_eq!(raw.as_slice(), (0u8..32).collect::<Vec<_>>().as_slice());
        assert!(matches!(
            read_raw_key("c2hvcnQ=".as_bytes()),
            Err(KeysError::NotARawKey)
        ));
        assert!(matches!(
            read_raw_key(format!("{key} {key}").as_bytes()),
            Err(KeysError::NotARawKey)
        ));
    }

    #[test]
    fn the_security_line_names_the_action_the_key_and_the_outcome() {
        let key_id = KmsKeyId::parse("alias/tokens").unwrap();
        let mut log = Vec::new();
        security_line(&mut log, "keys.wrap", &key_id, Some(&KeysError::NotARawKey));
        let line: serde_json::Value = serde_json::from_slice(&log).unwrap();
        assert_eq!(line["action"], "keys.wrap");
        assert_eq!(line["kms_key_id"], "alias/tokens");
        assert_eq!(line["outcome"], "failure");
        assert_eq!(line["error"], "not_a_raw_key");
    }
}
