//! Randomness, hashing, PKCE and authenticated encryption, all from aws-lc-rs.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Bytes of randomness in state, nonce, PKCE verifier, session ids and binding cookies (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// `n` bytes from the operating system's CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // aws-lc's RNG only fails if the OS has no entropy source, which no process can recover from.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A uniformly random number below `n` (0 when `n` is 0), for jitter.
pub fn random_below(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut buf = [0u8; 8];
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random source failed");
    u64::from_le_bytes(buf) % n
}

/// base64url (no padding) of SHA-256 of `input`.
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, input))
}

/// The RFC 7636 S256 challenge of a verifier.
pub fn pkce_s256(verifier: &str) -> String {
    sha256_b64url(verifier.as_bytes())
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// True when `value` looks like one of our random tokens: base64url of [`TOKEN_BYTES`] bytes.
pub fn is_token_shaped(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a key or a ciphertext was refused.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A configured key is not base64 of exactly 32 bytes.
    #[error("an encryption key must be base64 of exactly 32 bytes")]
    BadKey,
    /// The keyring has no key at all.
    #[error("at least one encryption key is required")]
    NoKeys,
    /// A ciphertext failed to open: tampered, moved to another row, or sealed by an unknown key.
    #[error("ciphertext could not be opened")]
    Open,
    /// Sealing failed inside the AEAD.
    #[error("sealing failed")]
    Seal,
}

struct KeyEntry {
    id: [u8; 4],
    key: RandomizedNonceKey,
    /// Keys the hashes that find a record by a secret-ish value (a user's provider subject),
    /// derived from the key so that one configured key serves both purposes apart.
    lookup: hmac::Key,
}

/// What the lookup key is derived for; changing it changes every lookup hash.
const LOOKUP_KEY_LABEL: &[u8] = b"token-handler lookup-hash v1";

/// AES-256-GCM keys: the first seals, every one opens, so keys rotate without a migration.
///
/// A sealed value is `base64url(key_id[4] || nonce[12] || ciphertext || tag)`; the key id is
/// the first four bytes of SHA-256 of the key, so it reveals nothing about the key.
pub struct Keyring {
    keys: Vec<KeyEntry>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys, [redacted])", self.keys.len())
    }
}

impl Keyring {
    /// Builds a keyring from base64 (standard or url-safe) encodings of 32-byte keys.
    pub fn from_base64<S: AsRef<str>>(keys: &[S]) -> Result<Self, CryptoError> {
        let decoded = keys
            .iter()
            .map(|encoded| {
                let encoded = encoded.as_ref().trim();
                STANDARD
                    .decode(encoded)
                    .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
                    .map(Zeroizing::new)
                    .map_err(|_| CryptoError::BadKey)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_raw(&decoded)
    }

    /// Builds a keyring from raw 32-byte keys (data keys unwrapped by KMS, see [`crate::kms`]).
    /// The keyring keeps its own copies; the caller wipes its buffers.
    pub fn from_raw<K: AsRef<[u8]>>(keys: &[K]) -> Result<Self, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::NoKeys);
        }
        let mut entries = Vec::with_capacity(keys.len());
        for bytes in keys {
            let bytes = bytes.as_ref();
            if bytes.len() != 32 {
                return Err(CryptoError::BadKey);
            }
            let hash = digest::digest(&digest::SHA256, bytes);
            let mut id = [0u8; 4];
            id.copy_from_slice(&hash.as_ref()[..4]);
            let key =
                RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::BadKey)?;
            let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), LOOKUP_KEY_LABEL);
            let lookup = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
            entries.push(KeyEntry { id, key, lookup });
        }
        Ok(Self { keys: entries })
    }

    /// Encrypts `plaintext`; `aad` binds the ciphertext to where it is stored.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
        let entry = self.keys.first().ok_or(CryptoError::NoKeys)?;
        let mut in_out = plaintext.to_vec();
        let nonce = entry
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(4 + NONCE_LEN + in_out.len());
        out.extend_from_slice(&entry.id);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&in_out);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Keyed hashes (HMAC-SHA256, base64url) of `input` under each key, the sealing key's first:
    /// a record is written under the first and found under any, so lookups survive a rotation.
    pub fn lookup_hashes(&self, input: &[u8]) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| URL_SAFE_NO_PAD.encode(hmac::sign(&k.lookup, input)))
            .collect()
    }

    /// An HMAC-SHA256 key derived under `label` from the sealing key (through its lookup key,
    /// so neither key can be recovered from it): stable for as long as the first key is.
    pub fn derived_key(&self, label: &[u8]) -> Result<hmac::Key, CryptoError> {
        let entry = self.keys.first().ok_or(CryptoError::NoKeys)?;
        let derived = hmac::sign(&entry.lookup, label);
        Ok(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// Decrypts a value made by [`Keyring::seal`] with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| CryptoError::Open)?;
        if raw.len() < 4 + NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (id, rest) = raw.split_at(4);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let entry = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(CryptoError::Open)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut in_out = ciphertext.to_vec();
        let plain = entry
            .key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_256_bit_base64url_and_distinct() {
        let a = random_token(TOKEN_BYTES);
        let b = random_token(TOKEN_BYTES);
        assert!(is_token_shaped(&a) && is_token_shaped(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn sealed_value_opens_only_with_the_same_associated_data() {
        let ring = Keyring::from_base64(&[KEY_A]).unwrap();
        let sealed = ring.seal(b"refresh-token", b"session#1").unwrap();
        assert!(!sealed.contains("refresh"));
        assert_eq!(ring.open(&sealed, b"session#1").unwrap(), b"refresh-token");
        assert!(ring.open(&sealed, b"session#2").is_err());
    }

    #[test]
    fn rotated_keyring_opens_values_sealed_by_an_older_key() {
        let old = Keyring::from_base64(&[KEY_A]).unwrap();
        let sealed = old.seal(b"token", b"row").unwrap();
        let rotated = Keyring::from_base64(&[KEY_B, KEY_A]).unwrap();
        assert_eq!(rotated.open(&sealed, b"row").unwrap(), b"token");
        let only_new = Keyring::from_base64(&[KEY_B]).unwrap();
        assert!(only_new.open(&sealed, b"row").is_err());
    }

    #[test]
    fn lookup_hashes_are_keyed_and_the_sealing_key_comes_first() {
        let a = Keyring::from_base64(&[KEY_A])
            .unwrap()
            .lookup_hashes(b"apple\nuser-1");
        let b = Keyring::from_base64(&[KEY_B])
            .unwrap()
            .lookup_hashes(b"apple\nuser-1");
        assert_eq!(a.len(), 1);
        assert_ne!(a, b, "another key gives another hash");
        assert_ne!(a[0], sha256_b64url(b"apple\nuser-1"), "not a plain hash");
        let other = Keyring::from_base64(&[KEY_A])
            .unwrap()
            .lookup_hashes(b"apple\nuser-2");
        assert_ne!(a, other);
        let rotated = Keyring::from_base64(&[KEY_B, KEY_A]).unwrap();
        assert_eq!(
            rotated.lookup_hashes(b"apple\nuser-1"),
            vec![b[0].clone(), a[0].clone()]
        );
    }

    #[test]
    fn a_keyring_from_raw_bytes_is_the_keyring_from_their_base64() {
        let raw = STANDARD.decode(KEY_A).unwrap();
        let sealed = Keyring::from_raw(&[&raw])
            .unwrap()
            .seal(b"token", b"row")
            .unwrap();
        let ring = Keyring::from_base64(&[KEY_A]).unwrap();
        assert_eq!(ring.open(&sealed, b"row").unwrap(), b"token");
        assert!(matches!(
            Keyring::from_raw(&[&raw[..16]]),
            Err(CryptoError::BadKey)
        ));
        assert!(matches!(
            Keyring::from_raw::<&[u8]>(&[]),
            Err(CryptoError::NoKeys)
        ));
    }

    #[test]
    fn keys_that_are_not_32_bytes_are_refused() {
        assert!(matches!(
            Keyring::from_base64(&["c2hvcnQ="]),
            Err(CryptoError::BadKey)
        ));
        assert!(matches!(
            Keyring::from_base64::<&str>(&[]),
            Err(CryptoError::NoKeys)
        ));
    }
}
