//! The client secret a provider is sent: the configured one, or, for Sign in with Apple, an
//! ES256 JWT minted from the app's `.p8` key (`iss` team id, `sub` client id, `aud`
//! `https://appleid.apple.com`, header `kid`), cached and minted again a day before it expires.
//! https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::secret::ClientSecret;

/// The audience Apple requires in a client secret.
pub const APPLE_AUDIENCE: &str = "https://appleid.apple.com";
/// How long a minted client secret is valid (Apple allows at most six months, 15 777 000 s).
pub const MINTED_LIFETIME: u64 = 30 * 86_400;
const _: () = assert!(MINTED_LIFETIME <= 15_777_000);
/// A minted secret with less than this left is minted again.
const RENEW_BEFORE: u64 = 86_400;

/// Why no client secret could be produced.
#[derive(Debug, thiserror::Error)]
#[error("the client secret could not be minted")]
pub struct MintError(#[source] jsonwebtoken::errors::Error);

/// What authenticates the client at the token endpoint.
pub enum ClientCredential {
    /// A configured secret.
    Secret(ClientSecret),
    /// A key that mints the secret (Sign in with Apple).
    Minted(MintingKey),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::Minted(key) => f
                .debug_struct("Minted")
                .field("team_id", &key.team_id)
                .field("key_id", &key.key_id)
                .finish_non_exhaustive(),
        }
    }
}

impl ClientCredential {
    /// The secret to send now.
    pub fn current(&self) -> Result<ClientSecret, MintError> {
        match self {
            Self::Secret(secret) => Ok(secret.clone()),
            Self::Minted(key) => key.current(SystemClock.now()),
        }
    }
}

/// One client registered with the provider, as a token-endpoint call authenticates: the web
/// client (`client_id`), or the app a native server auth code was issued to.
#[derive(Clone, Copy, Debug)]
pub struct TokenClient<'a> {
    /// The client id sent.
    pub id: &'a str,
    /// Its secret, configured or minted for this id.
    pub credential: &'a ClientCredential,
}

impl TokenClient<'_> {
    /// The secret to send now.
    pub fn secret(&self) -> Result<ClientSecret, MintError> {
        self.credential.current()
    }
}

/// An app's signing key and the identifiers a minted secret names.
pub struct MintingKey {
    team_id: String,
    key_id: String,
    client_id: String,
    key: EncodingKey,
    cache: Mutex<Option<(ClientSecret, u64)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl MintingKey {
    /// Reads the PEM (PKCS#8) P-256 key and mints once to prove it signs.
    pub fn new(
        team_id: String,
        key_id: String,
        client_id: String,
        private_key_pem: &str,
    ) -> Result<Self, MintError> {
        let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes()).map_err(MintError)?;
        let minting = Self {
            team_id,
            key_id,
            client_id,
            key,
            cache: Mutex::new(None),
        };
        minting.mint(SystemClock.now())?;
        Ok(minting)
    }

    /// The cached secret, or a fresh one when it has less than a day left at `now`.
    pub fn current(&self, now: u64) -> Result<ClientSecret, MintError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((secret, exp)) = cache.as_ref()
            && *exp > now + RENEW_BEFORE
        {
            return Ok(secret.clone());
        }
        let (secret, exp) = self.mint(now)?;
        *cache = Some((secret.clone(), exp));
        Ok(secret)
    }

    /// A new secret valid from `now` for [`MINTED_LIFETIME`], and its expiry.
    fn mint(&self, now: u64) -> Result<(ClientSecret, u64), MintError> {
        let exp = now + MINTED_LIFETIME;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            sub: &self.client_id,
            aud: APPLE_AUDIENCE,
            iat: now,
            exp,
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key).map_err(MintError)?;
        Ok((ClientSecret::new(jwt), exp))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use jsonwebtoken::{DecodingKey, Validation};

    /// A fresh P-256 key as Apple's `.p8` download holds it (PKCS#8 PEM), and its public point.
    pub(crate) fn p8() -> (String, Vec<u8>) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        (pem, pair.public_key().as_ref().to_vec())
    }

    fn decode(jwt: &str, public: &[u8]) -> serde_json::Value {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&public[1..33]);
        let y = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&public[33..]);
        let key = DecodingKey::from_ec_components(&x, &y).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[APPLE_AUDIENCE]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn a_minted_secret_is_an_es256_jwt_apple_can_verify() {
        let (pem, public) = p8();
        let key = MintingKey::new(
            "TEAM123456".into(),
            "KEY1234567".into(),
            "com.example.web".into(),
            &pem,
        )
        .unwrap();
        let jwt = key.current(1_000).unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("KEY1234567"));
        let claims = decode(jwt.expose(), &public);
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["aud"], APPLE_AUDIENCE);
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_000 + MINTED_LIFETIME);
    }

    #[test]
    fn a_minted_secret_is_reused_until_a_day_before_it_expires() {
        let (pem, _) = p8();
        let key = MintingKey::new("T".into(), "K".into(), "c".into(), &pem).unwrap();
        let first = key.current(1_000).unwrap();
        let later = key
            .current(1_000 + MINTED_LIFETIME - RENEW_BEFORE - 1)
            .unwrap();
        assert_eq!(first.expose(), later.expose());
        let renewed = key.current(1_000 + MINTED_LIFETIME - RENEW_BEFORE).unwrap();
        assert_ne!(first.expose(), renewed.expose());
    }

    #[test]
    fn a_key_that_is_not_a_p256_pem_is_refused_and_never_printed() {
        let err = MintingKey::new(
            "T".into(),
            "K".into(),
            "c".into(),
            "-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n",
        );
        assert!(err.is_err());
        let credential = ClientCredential::Secret(ClientSecret::new("s-SECRET"));
        assert!(!format!("{credential:?}").contains("SECRET"));
    }
}
