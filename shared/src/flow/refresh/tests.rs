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

async fn replacing(h: &Harness, key: &str, rejected: &str) -> Result<Issued, ApiError> {
    let session = h.session(key).await.unwrap();
    let need = Need::Replacing(AccessToken::new(rejected.to_owned()));
    let deadline = h.deadline(REQUEST_BUDGET);
    token_for(
        h.deps(),
        &h.settings,
        &h.providers,
        key,
        session,
        need,
        deadline,
    )
    .await
}

#[tokio::test]
async fn a_token_an_api_refused_is_replaced_by_a_refresh() {
    let h = Harness::new();
    let key = h.sign_in("user-1").await;
    let stored = h.session(&key).await.unwrap().tokens.access_token;
    let issued = replacing(&h, &key, stored.expose()).await.unwrap();
    assert_ne!(issued.access_token.expose(), stored.expose());
    assert_eq!(grants(&h), 1);
}

#[tokio::test]
async fn a_refused_token_already_replaced_by_another_caller_is_not_refreshed_again() {
    let h = Harness::new();
    let key = h.sign_in("user-1").await;
    let stored = h.session(&key).await.unwrap().tokens.access_token;
    // Another caller got the API's 401 for an older token and has refreshed since.
    let issued = replacing(&h, &key, "an-older-token").await.unwrap();
    assert_eq!(issued.access_token.expose(), stored.expose());
    assert_eq!(grants(&h), 0);
}

#[tokio::test]
async fn tokens_of_an_app_no_longer_configured_are_not_refreshed_and_the_session_ends() {
    let h = Harness::new();
    let key = h.sign_in_stale("user-1").await;
    let mut session = h.session(&key).await.unwrap();
    // A native code's session whose app was since removed from `native_client_ids`.
    session.client = Some("com.example.removed".into());
    h.store.delete_session(&key).await.unwrap();
    h.store.create_session(&session).await.unwrap();

    let result = refresh(&h, &key, false).await;

    assert_eq!(result.unwrap_err(), ApiError::ReauthRequired);
    assert_eq!(grants(&h), 0, "never sent as another client");
    assert!(h.session(&key).await.is_none(), "the session is deleted");
}
