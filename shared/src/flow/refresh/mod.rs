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

pub(super) fn issued(tokens: &TokenSet, now: u64) -> Issued {
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

pub(super) async fn read(deps: Deps<'_>, key: &str) -> Result<Option<Session>, ApiError> {
    deps.store
        .get_session(key, deps.now())
        .await
        .map_err(store_error)
}

/// The stored token when no provider call is needed (or possible).
fn from_store(
    settings: &Settings,
    session: &Session,
    force: bool,
    now: u64,
) -> Option<Result<Issued, ApiError>> {
    let tokens = &session.tokens;
    let skew = settings.refresh_skew;
    if !force && tokens.access_expires_at > now + skew {
        return Some(Ok(issued(tokens, now)));
    }
    if tokens.refresh_token.is_none() {
        // Nothing to refresh with: hand out what is still valid, else the user must log in.
        return Some(if tokens.access_expires_at > now {
            Ok(issued(tokens, now))
        } else {
            Err(ApiError::ReauthRequired)
        });
    }
    // A script (or XSS) forcing refreshes in a loop must not spend the provider quota: within
    // the window, a forced refresh gets the token the last one produced.
    let window = settings.force_refresh_window;
    let just_refreshed = tokens.refreshed_at > 0 && now < tokens.refreshed_at + window;
    if force && just_refreshed && tokens.access_expires_at > now {
        tracing::info!("forced refresh coalesced with the one just completed");
        return Some(Ok(issued(tokens, now)));
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
    if let Some(answer) = from_store(settings, &session, force, deps.now()) {
        return answer;
    }
    let Some(provider) = providers.get(&session.provider) else {
        // The provider was removed from the configuration: this session cannot continue.
        end_session(deps, key).await;
        return Err(ApiError::ReauthRequired);
    };
    // Discovery (cached after the first call) happens before the lease, never on its time.
    let metadata = match deadline.within(provider.metadata(deps.http)).await {
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
            return Ok(Turn::Done(issued(&session.tokens, now)));
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
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::flow::fakes::{Harness, SHORT_ACCESS_SECS};
    use crate::secret::RefreshToken;
    use crate::store::Store;

    async fn refresh(h: &Harness, key: &str, force: bool) -> Result<Issued, ApiError> {
        let deadline = h.deadline(REQUEST_BUDGET);
        access_token(h.deps(), &h.settings, &h.providers, key, force, deadline).await
    }

    fn grants(h: &Harness) -> usize {
        h.dev.stats().refresh_token_grants
    }

    #[tokio::test]
    async fn a_fresh_token_is_served_from_the_store_without_calling_the_provider() {
        let h = Harness::new();
        let key = h.sign_in("user-1").await;
        let stored = h.session(&key).await.unwrap();
        h.clock.advance_secs(1000);
        let sent_before = h.http.sent().len();
        let issued = refresh(&h, &key, false).await.unwrap();
        assert_eq!(
            issued.access_token.expose(),
            stored.tokens.access_token.expose()
        );
        assert_eq!(
            issued.expires_in,
            stored.tokens.access_expires_at - h.clock.now()
        );
        assert_eq!(h.http.sent().len(), sent_before, "{:?}", h.http.sent());
        assert_eq!(grants(&h), 0);
        assert_eq!(h.session(&key).await.unwrap().version, 0);
    }

    #[tokio::test]
    async fn a_token_inside_the_skew_is_refreshed_and_the_version_moves() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        let before = h.session(&key).await.unwrap();
        let old_refresh = before.tokens.refresh_token.clone().unwrap();
        let issued = refresh(&h, &key, false).await.unwrap();
        assert_ne!(
            issued.access_token.expose(),
            before.tokens.access_token.expose()
        );
        assert_eq!(issued.expires_in, SHORT_ACCESS_SECS);
        let stats = h.dev.stats();
        assert_eq!(stats.refresh_token_grants, 1);
        assert_eq!(stats.refresh_tokens_received, [old_refresh.expose()]);
        let after = h.session(&key).await.unwrap();
        assert_eq!(after.version, 1);
        assert_eq!(after.lease_until, 0, "the write ends the lease");
        assert_eq!(
            after.tokens.access_token.expose(),
            issued.access_token.expose()
        );
        let rotated = after
            .tokens
            .refresh_token
            .as_ref()
            .map(RefreshToken::expose);
        assert!(rotated.is_some_and(|rt| rt != old_refresh.expose()));
        assert_eq!(after.tokens.refreshed_at, h.clock.now());
    }

    #[tokio::test]
    async fn a_refresh_token_the_provider_refuses_ends_the_session() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        h.dev.set_behavior(dev_provider::Behavior {
            token_error: Some((400, r#"{"error":"invalid_grant"}"#.into())),
            ..Default::default()
        });
        let result = refresh(&h, &key, false).await;
        assert_eq!(result.unwrap_err(), ApiError::ReauthRequired);
        assert_eq!(grants(&h), 1);
        assert!(h.session(&key).await.is_none(), "the session is deleted");
    }

    #[tokio::test]
    async fn a_forced_refresh_within_the_window_returns_the_last_refreshed_token() {
        let h = Harness::new();
        let key = h.sign_in("user-1").await;
        let first = refresh(&h, &key, true).await.unwrap();
        assert_eq!(grants(&h), 1, "a forced refresh calls the provider");
        h.clock.advance_secs(h.settings.force_refresh_window - 1);
        let again = refresh(&h, &key, true).await.unwrap();
        assert_eq!(again.access_token.expose(), first.access_token.expose());
        assert_eq!(grants(&h), 1);
        h.clock.advance_secs(1);
        let later = refresh(&h, &key, true).await.unwrap();
        assert_ne!(later.access_token.expose(), first.access_token.expose());
        assert_eq!(grants(&h), 2);
    }

    #[tokio::test]
    async fn an_unknown_session_is_unauthenticated() {
        let h = Harness::new();
        let result = refresh(&h, "no-such-session", false).await;
        assert_eq!(result.unwrap_err(), ApiError::Unauthenticated);
        assert!(h.http.sent().is_empty());
    }

    /// Takes the lease of the session under `key` as someone else would, for `LEASE_SECS`.
    async fn lease_elsewhere(h: &Harness, key: &str, owner: &str) -> u64 {
        let now = h.clock.now();
        let until = now + LEASE_SECS;
        h.store
            .acquire_refresh_lease(key, 0, owner, now, until)
            .await
            .unwrap();
        until
    }

    #[tokio::test]
    async fn a_caller_that_finds_a_live_lease_waits_and_returns_the_holders_token() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        lease_elsewhere(&h, &key, "other-holder").await;
        let now = h.clock.now();
        let theirs = TokenSet {
            access_token: AccessToken::new("at-from-the-other-holder"),
            access_expires_at: now + 3600,
            refresh_token: Some(RefreshToken::new("rt-from-the-other-holder")),
            scope: None,
            refreshed_at: now,
        };
        let start = h.clock.elapsed();
        // The other holder stores its tokens once the waiter has paused at least once.
        let holder = async {
            for _ in 0..1000 {
                if h.clock.elapsed() > start {
                    return h
                        .store
                        .replace_tokens(&key, 0, "other-holder", &theirs)
                        .await;
                }
                tokio::task::yield_now().await;
            }
            panic!("the caller never paused");
        };
        let (issued, stored) = tokio::join!(refresh(&h, &key, false), holder);
        stored.unwrap();
        let issued = issued.unwrap();
        assert_eq!(issued.access_token.expose(), "at-from-the-other-holder");
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(grants(&h), 0);
        assert!(h.clock.elapsed() - start < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_caller_gives_up_when_its_deadline_passes_while_another_holds_the_lease() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        let until = lease_elsewhere(&h, &key, "other-holder").await;
        let start = h.clock.elapsed();
        let deadline = h.deadline(Duration::from_secs(3));
        let result = access_token(h.deps(), &h.settings, &h.providers, &key, false, deadline).await;
        assert_eq!(result.unwrap_err(), ApiError::ProviderUnavailable);
        assert_eq!(h.clock.elapsed() - start, Duration::from_secs(3));
        assert_eq!(grants(&h), 0);
        let session = h.session(&key).await.unwrap();
        assert_eq!((session.version, session.lease_until), (0, until));
    }

    #[tokio::test]
    async fn too_little_time_left_starts_no_provider_call_and_takes_no_lease() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        let budget = MIN_PROVIDER_CALL + STORE_WRITE_BUDGET - Duration::from_millis(1);
        let deadline = h.deadline(budget);
        let drawn = h.random.drawn();
        let result = access_token(h.deps(), &h.settings, &h.providers, &key, false, deadline).await;
        assert_eq!(result.unwrap_err(), ApiError::ProviderUnavailable);
        assert_eq!(h.random.drawn(), drawn, "no lease owner was made");
        assert_eq!(grants(&h), 0);
        let token_requests = h
            .http
            .sent()
            .iter()
            .filter(|r| r.ends_with("/token"))
            .count();
        assert_eq!(token_requests, 1, "only the login's code exchange");
        assert_eq!(h.session(&key).await.unwrap().lease_until, 0);
    }

    #[tokio::test]
    async fn just_enough_time_for_a_call_and_a_write_refreshes() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        let deadline = h.deadline(MIN_PROVIDER_CALL + STORE_WRITE_BUDGET);
        let result = access_token(h.deps(), &h.settings, &h.providers, &key, false, deadline).await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(grants(&h), 1);
        assert_eq!(h.session(&key).await.unwrap().version, 1);
    }
}
