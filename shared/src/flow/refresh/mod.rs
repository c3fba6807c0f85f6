//! `POST /auth/refresh`: the stored access token while it is fresh enough, otherwise one from
//! the provider through the stored refresh token. The lease holder's part is in `holder`.

use std::time::Duration;

use serde::Deserialize;

use super::{Settings, store_error};
use crate::caller::authenticate;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::deps::Deps;
use crate::edge::{ApiError, Cookies, Request, body_bytes};
use crate::events::{self, Source};
use crate::provider::Providers;
use crate::secret::AccessToken;
use crate::store::{Session, StoreError, TokenSet};

mod holder;

use holder::Holder;

/// What the frontend receives: never the refresh token or the id_token.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds it has left.
    pub expires_in: u64,
    /// Its scope, when known.
    pub scope: Option<String>,
}

/// `POST /auth/refresh` as the caller sent it: whose session, and whether to force a grant.
#[derive(Debug)]
pub struct RefreshRequest {
    /// The caller's session key (bearer token or cookie, CSRF-checked).
    pub session_key: String,
    /// Refresh even when the stored token is still fresh.
    pub force: bool,
}

#[derive(Deserialize, Default)]
struct Options {
    #[serde(default)]
    force: bool,
}

impl RefreshRequest {
    /// Authenticates the caller, then reads the optional JSON body `{"force": bool}`.
    pub fn from_request(
        req: &Request,
        config: &Config,
        cookies: Cookies,
    ) -> Result<Self, ApiError> {
        let (session_key, _) = authenticate(req, cookies, &config.allowed_origins, true)?;
        let body = body_bytes(req).ok_or(ApiError::InvalidRequest)?;
        let options: Options = if body.iter().all(u8::is_ascii_whitespace) {
            Options::default()
        } else {
            serde_json::from_slice(body).map_err(|_| ApiError::InvalidRequest)?
        };
        Ok(Self {
            session_key,
            force: options.force,
        })
    }
}

/// What the caller gets, noted with where it came from.
pub(super) fn issued(tokens: &TokenSet, now: u64, source: Source) -> Issued {
    events::note(|n| n.token_source = Some(source));
    Issued {
        access_token: tokens.access_token.clone(),
        expires_in: tokens.access_expires_at.saturating_sub(now),
        scope: tokens.scope.clone(),
    }
}

/// Seconds a refresh lease lasts. The holder's provider call must end [`STORE_WRITE_BUDGET`]
/// before it (and its whole turn well inside it), so a live holder never loses its lease; a
/// crashed holder's lease is taken over once it runs out.
pub const LEASE_SECS: u64 = 20;

/// Time kept back after a provider call for the store write that ends the holder's turn
/// (DynamoDB requests are capped at 5 s including retries).
pub(super) const STORE_WRITE_BUDGET: Duration = Duration::from_secs(6);

/// A provider call is not started with less time than this left for it.
pub(super) const MIN_PROVIDER_CALL: Duration = Duration::from_secs(2);

/// Longest a refresh may take when no Lambda deadline says otherwise: inside the refresh
/// function's 29 s timeout and API Gateway's 30 s.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(27);

/// First and longest pause between two looks at a session whose lease someone else holds.
const FIRST_PAUSE_MS: u64 = 20;
const LONGEST_PAUSE_MS: u64 = 250;

pub(crate) async fn read(deps: Deps<'_>, key: &str) -> Result<Option<Session>, ApiError> {
    let session = deps
        .store
        .get_session(key, deps.now())
        .await
        .map_err(store_error)?;
    if let Some(s) = &session {
        events::note_session(key, &s.provider, &s.subject);
    }
    Ok(session)
}

/// Why a caller asks for an access token.
#[derive(Debug, Clone)]
pub enum Need {
    /// A valid one: the stored token unless it is due for a refresh.
    Valid,
    /// A fresh one from the provider (`{"force": true}`), subject to `force_refresh_window`.
    Forced,
    /// Another one than `rejected`, which an API just refused (401): the stored token when a
    /// concurrent caller has replaced it already, else a refresh.
    Replacing(AccessToken),
}

/// The stored token when no provider call is needed (or possible).
fn from_store(
    settings: &Settings,
    session: &Session,
    need: &Need,
    now: u64,
) -> Option<Result<Issued, ApiError>> {
    let tokens = &session.tokens;
    let skew = settings.refresh_skew;
    let due = tokens.access_expires_at <= now + skew;
    let fresh_enough = match need {
        Need::Valid => !due,
        Need::Forced => false,
        Need::Replacing(rejected) => !due && tokens.access_token.expose() != rejected.expose(),
    };
    if fresh_enough {
        return Some(Ok(issued(tokens, now, Source::Store)));
    }
    if tokens.refresh_token.is_none() {
        // Nothing to refresh with: hand out what is still valid, else the user must log in.
        return Some(if tokens.access_expires_at > now {
            Ok(issued(tokens, now, Source::Store))
        } else {
            Err(ApiError::ReauthRequired)
        });
    }
    // A script (or XSS) forcing refreshes in a loop must not spend the provider quota: within
    // the window, a forced refresh gets the token the last one produced.
    let window = settings.force_refresh_window;
    let just_refreshed = tokens.refreshed_at > 0 && now < tokens.refreshed_at + window;
    if matches!(need, Need::Forced) && just_refreshed && tokens.access_expires_at > now {
        tracing::info!("forced refresh coalesced with the one just completed");
        return Some(Ok(issued(tokens, now, Source::Coalesced)));
    }
    None
}

/// Returns a valid access token for the session stored under `key`.
///
/// Single flight across processes: of all callers that find the token in need of a refresh,
/// one takes the session's lease (a conditional write) and calls the provider; the others wait
/// with bounded backoff until the version moves on and return what the winner stored. So a
/// refresh token is never spent twice, and a rotated one replaces the old in the same write
/// that stores the new access token. Nobody starts a provider call that could not end, and be
/// written, before both its lease and `deadline` run out.
#[tracing::instrument(name = "refresh", skip_all, fields(force = force))]
pub async fn access_token(
    deps: Deps<'_>,
    settings: &Settings,
    providers: &Providers,
    key: &str,
    force: bool,
    deadline: Deadline<'_>,
) -> Result<Issued, ApiError> {
    let session = read(deps, key).await?.ok_or(ApiError::Unauthenticated)?;
    let need = if force { Need::Forced } else { Need::Valid };
    token_for(deps, settings, providers, key, session, need, deadline).await
}

/// [`access_token`] for a session the caller has read already (it is stored under `key`).
pub async fn token_for(
    deps: Deps<'_>,
    settings: &Settings,
    providers: &Providers,
    key: &str,
    session: Session,
    need: Need,
    deadline: Deadline<'_>,
) -> Result<Issued, ApiError> {
    // A native sign-in with an id_token alone: a valid session, with nothing to hand out.
    if !session.tokens.holds_access_token() {
        return Err(ApiError::NoProviderToken);
    }
    if let Some(answer) = from_store(settings, &session, &need, deps.now()) {
        return answer;
    }
    let Some(provider) = providers.get(&session.provider) else {
        // The provider was removed from the configuration: this session cannot continue.
        end_session(deps, key).await;
        return Err(ApiError::ReauthRequired);
    };
    // Discovery (cached after the first call) happens before the lease, never on its time.
    let metadata = match deadline.within(provider.metadata(deps)).await {
        Ok(Ok(m)) => m,
        _ => return Err(ApiError::ProviderUnavailable),
    };
    match take_turn(deps, key, session, deadline).await? {
        Turn::Done(issued) => Ok(issued),
        Turn::Lease {
            session,
            owner,
            lease,
        } => {
            Holder {
                deps,
                session: &session,
                provider,
                metadata: &metadata,
                owner: &owner,
                turn: deadline.min(lease),
                request: deadline,
            }
            .refresh()
            .await
        }
    }
}

/// How the wait for a session's refresh lease ended.
enum Turn<'c> {
    /// This caller holds the lease until `lease`: it refreshes.
    Lease {
        session: Box<Session>,
        owner: String,
        lease: Deadline<'c>,
    },
    /// Someone else refreshed meanwhile: their token.
    Done(Issued),
}

/// Takes the session's lease, or waits with bounded, jittered backoff until whoever holds it
/// has stored a newer version. Gives up when too little of `deadline` is left to refresh.
#[tracing::instrument(level = "debug", skip_all)]
async fn take_turn<'c>(
    deps: Deps<'c>,
    key: &str,
    mut session: Session,
    deadline: Deadline<'c>,
) -> Result<Turn<'c>, ApiError> {
    let seen_version = session.version;
    let mut pause = FIRST_PAUSE_MS;
    loop {
        let now = deps.now();
        if session.version > seen_version {
            // Someone refreshed since we looked: theirs is the new token.
            return Ok(Turn::Done(issued(&session.tokens, now, Source::Coalesced)));
        }
        if session.lease_until <= now {
            if deadline.remaining() < MIN_PROVIDER_CALL + STORE_WRITE_BUDGET {
                tracing::warn!("too little time left to refresh; not starting a provider call");
                return Err(ApiError::ProviderUnavailable);
            }
            let owner = deps.random.token(16);
            // The lease is counted in whole store seconds from `now`: it may end up to a
            // second before LEASE_SECS of real time has passed.
            let lease = Deadline::after(deps.clock, Duration::from_secs(LEASE_SECS - 1));
            match deps
                .store
                .acquire_refresh_lease(key, session.version, &owner, now, now + LEASE_SECS)
                .await
            {
                Ok(()) => {
                    return Ok(Turn::Lease {
                        session: Box::new(session),
                        owner,
                        lease,
                    });
                }
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        let left = deadline.remaining();
        if left.is_zero() {
            tracing::warn!("gave up waiting for another refresh of this session");
            return Err(ApiError::ProviderUnavailable);
        }
        let jittered = Duration::from_millis(pause / 2 + deps.random.below(pause / 2 + 1));
        deps.clock.sleep(jittered.min(left)).await;
        pause = (pause * 2).min(LONGEST_PAUSE_MS);
        // Gone while we waited: the holder got invalid_grant (or the user logged out).
        session = read(deps, key).await?.ok_or(ApiError::ReauthRequired)?;
    }
}

pub(super) async fn end_session(deps: Deps<'_>, key: &str) {
    if let Err(e) = deps.store.delete_session(key).await {
        tracing::warn!(error = %e, "could not delete an ended session");
    }
}

#[cfg(test)]
mod tests;
