//! The provider's signing keys: fetched once per cold start, refetched once when an id_token
//! names an unknown `kid` (key rotation), and such refetches rate-limited.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use url::Url;

use super::client::HttpClient;
use super::id_token::IdTokenError;

/// At most one unknown-`kid` refetch in this interval, so forged tokens cannot make us hammer
/// the provider.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    keys: Option<Vec<Jwk>>,
    last_refetch: Option<Instant>,
}

/// Cached JWKS of one provider.
#[derive(Default)]
pub struct JwksCache {
    state: Mutex<State>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCache")
    }
}

impl JwksCache {
    /// The key that verifies a token with this `kid` and `alg`.
    pub async fn key_for(
        &self,
        http: &HttpClient,
        jwks_uri: &Url,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, IdTokenError> {
        // Held across the fetch on purpose: concurrent first callers wait for one fetch.
        let mut state = self.state.lock().await;
        if state.keys.is_none() {
            state.keys = Some(fetch(http, jwks_uri).await?);
        }
        if let Some(jwk) = state
            .keys
            .as_deref()
            .and_then(|keys| select(keys, kid, alg))
        {
            return to_key(jwk);
        }
        let may_refetch = state
            .last_refetch
            .is_none_or(|at| at.elapsed() >= MIN_REFETCH_INTERVAL);
        if !may_refetch {
            return Err(IdTokenError::UnknownKey);
        }
        state.last_refetch = Some(Instant::now());
        state.keys = Some(fetch(http, jwks_uri).await?);
        match state
            .keys
            .as_deref()
            .and_then(|keys| select(keys, kid, alg))
        {
            Some(jwk) => to_key(jwk),
            None => Err(IdTokenError::UnknownKey),
        }
    }
}

fn to_key(jwk: &Jwk) -> Result<DecodingKey, IdTokenError> {
    DecodingKey::from_jwk(jwk).map_err(|_| IdTokenError::UnknownKey)
}

/// A signing key with this kid (or the only signing key when the token names none) whose
/// declared algorithm, if any, is the token's.
fn select<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let usable = |k: &&Jwk| {
        let for_signing = matches!(
            k.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        let alg_ok = k
            .common
            .key_algorithm
            .is_none_or(|ka| Algorithm::try_from(ka).is_ok_and(|a| a == alg));
        for_signing && alg_ok
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(usable)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut candidates = keys.iter().filter(usable);
            let first = candidates.next();
            if candidates.next().is_some() {
                None
            } else {
                first
            }
        }
    }
}

async fn fetch(http: &HttpClient, jwks_uri: &Url) -> Result<Vec<Jwk>, IdTokenError> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let fetched = http
        .fetch(http.reqwest().get(jwks_uri.clone()))
        .await
        .map_err(|e| IdTokenError::Jwks(e.to_string()))?;
    if !fetched.status.is_success() {
        return Err(IdTokenError::Jwks(format!(
            "JWKS answered {}",
            fetched.status
        )));
    }
    let raw: RawSet = serde_json::from_slice(&fetched.body)
        .map_err(|e| IdTokenError::Jwks(format!("JWKS is not a key set: {e}")))?;
    // A key type we do not understand must not hide the keys we do.
    Ok(raw
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
        .collect())
}
