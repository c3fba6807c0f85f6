//! The provider's signing keys: fetched on first use, kept for the `max-age` the provider's
//! `Cache-Control` gives (bounded to [`MIN_MAX_AGE`]..[`MAX_MAX_AGE`]) so a withdrawn key stops
//! being trusted, refetched once when an id_token names an unknown `kid` (key rotation), and
//! such refetches rate-limited. Ages are counted on the application's clock.

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use url::Url;

use super::client::{self, Outbound};
use super::id_token::IdTokenError;

/// At most one unknown-`kid` refetch in this many seconds, so forged tokens cannot make us
/// hammer the provider.
pub const MIN_REFETCH_INTERVAL: u64 = 60;
/// Shortest time a key set is kept, whatever `Cache-Control` says (`no-cache` included).
pub const MIN_MAX_AGE: u64 = 5 * 60;
/// Longest time a key set is kept, whatever `Cache-Control` says.
pub const MAX_MAX_AGE: u64 = 24 * 3600;
/// How long a key set is kept when the provider sends no `max-age`.
pub const DEFAULT_MAX_AGE: u64 = 3600;
/// After a failed fetch, seconds before the next one is tried (verifications fail meanwhile).
pub const FAILED_FETCH_BACKOFF: u64 = 5;

#[derive(Default)]
struct State {
    keys: Option<Vec<Jwk>>,
    /// Until when (app clock) the keys may be used without a refetch.
    fresh_until: u64,
    last_refetch: Option<u64>,
    /// No fetch before this time (app clock): the last one failed.
    retry_after: u64,
    /// A fixed key set that is never fetched.
    fixed: bool,
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
    /// A fixed key set that is never fetched or refetched (tests and fuzzing).
    pub fn fixed(keys: Vec<Jwk>) -> Self {
        Self {
            state: Mutex::new(State {
                keys: Some(keys),
                fresh_until: u64::MAX,
                last_refetch: None,
                retry_after: 0,
                fixed: true,
            }),
        }
    }

    /// The key that verifies a token with this `kid` and `alg`, at `now` (unix seconds).
    pub async fn key_for(
        &self,
        http: &dyn Outbound,
        jwks_uri: &Url,
        kid: Option<&str>,
        alg: Algorithm,
        now: u64,
    ) -> Result<DecodingKey, IdTokenError> {
        // Held across the fetch on purpose: concurrent callers wait for one fetch.
        let mut state = self.state.lock().await;
        if state.keys.is_none() || now >= state.fresh_until {
            // Expired keys are not used again: if the refetch fails, verification fails.
            state.keys = None;
            refill(&mut state, http, jwks_uri, now).await?;
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
            .is_none_or(|at| now >= at + MIN_REFETCH_INTERVAL);
        if !may_refetch {
            return Err(IdTokenError::UnknownKey);
        }
        state.last_refetch = Some(now);
        refill(&mut state, http, jwks_uri, now).await?;
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

async fn refill(
    state: &mut State,
    http: &dyn Outbound,
    jwks_uri: &Url,
    now: u64,
) -> Result<(), IdTokenError> {
    if state.fixed {
        return Err(IdTokenError::UnknownKey);
    }
    if now < state.retry_after {
        return Err(IdTokenError::Jwks(
            "the last JWKS fetch failed moments ago".into(),
        ));
    }
    match fetch(http, jwks_uri).await {
        Ok((keys, max_age)) => {
            state.keys = Some(keys);
            state.fresh_until = now + max_age;
            Ok(())
        }
        Err(e) => {
            state.retry_after = now + FAILED_FETCH_BACKOFF;
            Err(e)
        }
    }
}

/// Seconds to keep a key set, from its `Cache-Control` header, bounded.
pub fn max_age(cache_control: Option<&str>) -> u64 {
    let declared = cache_control.and_then(|value| {
        value.split(',').find_map(|directive| {
            let (name, seconds) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| seconds.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    declared
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE)
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

async fn fetch(http: &dyn Outbound, jwks_uri: &Url) -> Result<(Vec<Jwk>, u64), IdTokenError> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let fetched = http
        .send(client::get(jwks_uri))
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
    let cache_control = fetched
        .headers
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok());
    // A key type we do not understand must not hide the keys we do.
    let keys = raw
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
        .collect();
    Ok((keys, max_age(cache_control)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_honours_cache_control_within_bounds() {
        assert_eq!(max_age(Some("public, max-age=7200")), 7200);
        assert_eq!(max_age(Some("max-age=\"900\", must-revalidate")), 900);
        assert_eq!(max_age(Some("MAX-AGE=20000")), 20000);
        assert_eq!(max_age(Some("max-age=10")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("no-cache")), DEFAULT_MAX_AGE);
        assert_eq!(max_age(Some("max-age=31536000")), MAX_MAX_AGE);
        assert_eq!(max_age(Some("max-age=-1")), DEFAULT_MAX_AGE);
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
    }
}
