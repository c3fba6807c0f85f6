//! id_token verification: signature from the provider's JWKS with an algorithm allowlist, then
//! `iss`, `aud`, `azp`, `exp`, `iat`, `nbf` (bounded skew) and `nonce`.

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::client::Outbound;
use super::discovery::Metadata;
use super::jwks::JwksCache;
use crate::crypto::constant_time_eq;
use crate::secret::IdToken;

/// Asymmetric algorithms accepted. `none` and the HMAC family are never accepted: an HMAC
/// "signature" keyed with the client secret proves nothing about the provider.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const MAX_SKEW: u64 = 60;

/// Why an id_token was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// Not a JWS, or its header is unreadable.
    #[error("malformed id_token")]
    Malformed,
    /// `alg` outside the allowlist (including `none` and HS*).
    #[error("id_token algorithm not allowed")]
    Algorithm,
    /// No key in the JWKS matches the token's `kid` and `alg`, even after a refetch.
    #[error("no matching signing key")]
    UnknownKey,
    /// The JWKS could not be fetched or read.
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
    /// Signature, issuer, audience, expiry or not-before check failed.
    #[error("id_token invalid: {0}")]
    Invalid(String),
    /// `iat` lies in the future.
    #[error("id_token issued in the future")]
    IssuedInFuture,
    /// `azp` present (or required) and not our client id.
    #[error("id_token azp mismatch")]
    Azp,
    /// `nonce` missing or not the one sent at login.
    #[error("id_token nonce mismatch")]
    Nonce,
}

/// `aud` is a string or an array of strings.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// The claims read from a verified id_token.
#[derive(Debug, Deserialize, Clone)]
pub struct Claims {
    /// Subject: the user's stable id at the provider.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: Audience,
    /// Authorized party.
    #[serde(default)]
    pub azp: Option<String>,
    /// Nonce echoed from login.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Issued-at, unix seconds.
    pub iat: u64,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Not-before, unix seconds.
    #[serde(default)]
    pub nbf: Option<u64>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Casual name (Kakao's id_tokens carry it instead of `name`).
    #[serde(default)]
    pub nickname: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the provider verified the e-mail (a boolean; some providers send the text).
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// The token's unique id, when the provider gives one.
    #[serde(default)]
    pub jti: Option<String>,
    /// The provider's session id (OpenID Connect Front-/Back-Channel Logout), when it keeps one.
    #[serde(default)]
    pub sid: Option<String>,
}

/// What a valid id_token must say.
pub struct Expected<'a> {
    /// The issuers accepted (the provider's, and a documented alternative spelling).
    pub issuers: &'a [String],
    /// Our client id.
    pub client_id: &'a str,
    /// Our apps' client ids, accepted as `aud` and `azp` too (native sign-ins only; empty for
    /// the browser login, whose id_token is issued to `client_id`).
    pub apps: &'a [String],
    /// The login's nonce; `None` for refreshed id_tokens, which carry none.
    pub nonce: Option<&'a str>,
    /// Whether the token may carry the nonce's SHA-256 (hex or base64url) instead of the nonce
    /// itself, as some providers' mobile SDKs send it.
    pub nonce_may_be_hashed: bool,
    /// Current unix time.
    pub now: u64,
}

/// Verifies `token` and returns its claims.
pub async fn verify(
    token: &IdToken,
    expected: &Expected<'_>,
    metadata: &Metadata,
    jwks: &JwksCache,
    http: &dyn Outbound,
) -> Result<Claims, IdTokenError> {
    let signed = Signed {
        issuers: expected.issuers,
        audience: expected.client_id,
        also: expected.apps,
        required: &["exp", "iss", "aud", "sub"],
        now: expected.now,
    };
    let claims = signed
        .claims::<Claims>(token.expose(), metadata, jwks, http)
        .await?;
    check_claims(claims, expected)
}

/// The checks every JWT a provider signs for us shares (id_tokens, logout tokens): a JWS
/// with an allowed algorithm, signed by a key of the provider's JWKS, from one of `issuers`,
/// for `audience`, with the `required` claims present. Times are the caller's to check.
pub struct Signed<'a> {
    /// The issuers accepted.
    pub issuers: &'a [String],
    /// Our client id: the audience the token must name (or one of `also`).
    pub audience: &'a str,
    /// Other audiences of ours.
    pub also: &'a [String],
    /// Claims that must be present.
    pub required: &'a [&'a str],
    /// Current unix time (for the JWKS cache).
    pub now: u64,
}

impl Signed<'_> {
    /// Verifies the signature, issuer and audience of `raw` and reads its claims as `T`.
    pub async fn claims<T: serde::de::DeserializeOwned>(
        &self,
        raw: &str,
        metadata: &Metadata,
        jwks: &JwksCache,
        http: &dyn Outbound,
    ) -> Result<T, IdTokenError> {
        let header = jsonwebtoken::decode_header(raw).map_err(|_| IdTokenError::Malformed)?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(IdTokenError::Algorithm);
        }
        let jwks_uri = metadata
            .jwks_uri
            .as_ref()
            .ok_or_else(|| IdTokenError::Jwks("no jwks_uri".into()))?;
        let key = jwks
            .key_for(http, jwks_uri, header.kid.as_deref(), header.alg, self.now)
            .await?;

        let mut validation = Validation::new(header.alg);
        validation.leeway = MAX_SKEW;
        // Times are checked by the caller against the application's clock, the same one every
        // other expiry uses; jsonwebtoken would read the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(self.issuers);
        let mut audiences = vec![self.audience];
        audiences.extend(self.also.iter().map(String::as_str));
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(self.required);
        Ok(jsonwebtoken::decode::<T>(raw, &key, &validation)
            .map_err(|e| IdTokenError::Invalid(e.kind_name()))?
            .claims)
    }
}

/// The checks on a signed token's claims that are judged on the application's clock or are
/// not jsonwebtoken's: expiry, not-before and issued-at with bounded skew, `azp`, `nonce`.
fn check_claims(claims: Claims, expected: &Expected<'_>) -> Result<Claims, IdTokenError> {
    if claims.exp.saturating_add(MAX_SKEW) <= expected.now {
        return Err(IdTokenError::Invalid("expired".into()));
    }
    if claims.nbf.is_some_and(|nbf| nbf > expected.now + MAX_SKEW) {
        return Err(IdTokenError::Invalid("not yet valid (nbf)".into()));
    }
    if claims.iat > expected.now + MAX_SKEW {
        return Err(IdTokenError::IssuedInFuture);
    }
    let several_audiences = matches!(&claims.aud, Audience::Many(list) if list.len() > 1);
    let ours = |azp: &str| azp == expected.client_id || expected.apps.iter().any(|a| a == azp);
    match &claims.azp {
        Some(azp) if !ours(azp) => return Err(IdTokenError::Azp),
        None if several_audiences => return Err(IdTokenError::Azp),
        _ => {}
    }
    if let Some(nonce) = expected.nonce {
        let accepted = accepted_nonces(nonce, expected.nonce_may_be_hashed);
        let matches = claims
            .nonce
            .as_deref()
            .is_some_and(|got| accepted.iter().any(|n| constant_time_eq(got, n)));
        if !matches {
            return Err(IdTokenError::Nonce);
        }
    }
    Ok(claims)
}

/// The nonce values a token may carry: the nonce itself, and where the provider's SDK hashes
/// it, its SHA-256 in lowercase hex and in base64url.
fn accepted_nonces(nonce: &str, hashed: bool) -> Vec<String> {
    let mut accepted = vec![nonce.to_owned()];
    if hashed {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        accepted.push(hex);
        accepted.push(crate::crypto::sha256_b64url(nonce.as_bytes()));
    }
    accepted
}

/// A short, value-free name for a jsonwebtoken error, for logs.
trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> String {
        use jsonwebtoken::errors::ErrorKind as K;
        match self.kind() {
            K::InvalidSignature => "signature".into(),
            K::ExpiredSignature => "expired".into(),
            K::ImmatureSignature => "not yet valid (nbf)".into(),
            K::InvalidIssuer => "issuer".into(),
            K::InvalidAudience => "audience".into(),
            K::MissingRequiredClaim(c) => format!("missing claim {c}"),
            K::InvalidAlgorithm => "algorithm".into(),
            K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => "malformed".into(),
            _ => "verification failed".into(),
        }
    }
}
