//! ES256 signing keys, their JWKs, and id_token minting (including the deliberately broken kinds).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

use crate::Behavior;

/// A P-256 key pair with its kid and public coordinates.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pkcs8: Vec<u8>,
    x: String,
    y: String,
}

impl SigningKey {
    pub(crate) fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("generate a P-256 key pair");
        let pkcs8 = pair
            .to_pkcs8v1()
            .expect("serialize the P-256 key pair as PKCS#8")
            .as_ref()
            .to_vec();
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 public key");
        SigningKey {
            kid: crate::util::random_token(12),
            pkcs8,
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
        }
    }

    /// The public JWK.
    pub(crate) fn jwk(&self) -> Value {
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    fn sign(&self, claims: &Map<String, Value>) -> Result<String, String> {
        self.sign_typed("JWT", claims)
    }

    pub(crate) fn sign_typed(
        &self,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .map_err(|e| format!("ES256 signing failed: {e}"))
    }
}

/// Signs `claims` as an id_token, honouring the signing-related [`Behavior`] flags:
/// `alg_none` wins over `hs256_with_secret`, which wins over `unknown_kid_key`;
/// `bad_signature` then flips the signature of whatever was signed.
pub(crate) fn mint_id_token(
    claims: &Map<String, Value>,
    behavior: &Behavior,
    key: &SigningKey,
    next_key: &SigningKey,
    client_secret: &str,
) -> Result<String, String> {
    if behavior.id_token_alg_none {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
        return Ok(format!("{header}.{payload}."));
    }
    let token = if behavior.id_token_hs256_with_secret {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(client_secret.as_bytes()),
        )
        .map_err(|e| format!("HS256 signing failed: {e}"))?
    } else if behavior.id_token_unknown_kid_key {
        next_key.sign(claims)?
    } else {
        key.sign(claims)?
    };
    if behavior.id_token_bad_signature {
        return flip_signature(&token);
    }
    Ok(token)
}

fn flip_signature(token: &str) -> Result<String, String> {
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| "malformed JWT".to_string())?;
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("malformed JWT signature: {e}"))?;
    for b in &mut bytes {
        *b ^= 0xff;
    }
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes)))
}
