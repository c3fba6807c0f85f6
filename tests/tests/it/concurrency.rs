//! Refresh under concurrency, rotation and crashes, on both backends: many tabs, app instances
//! and Lambda instances refreshing one session at once must spend its refresh token once.

use std::collections::BTreeSet;
use std::time::Duration;

use dev_provider::Behavior;
use http::StatusCode;
use integration_tests::{BackendKind, Browser, Harness};

/// Signs in on a harness over `backend`; returns the harness and the signed-in browser.
async fn signed_in(backend: BackendKind) -> (Harness, Browser, String) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    (h, browser, session_id)
}

/// `n` concurrent forced refreshes, each through its own instance of the token handler.
async fn forced_refreshes_on_separate_instances(
    h: &Harness,
    browser: &Browser,
    n: usize,
) -> Vec<(StatusCode, serde_json::Value)> {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(browser.on(h.another_instance().await));
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut b| {
            tokio::spawn(async move {
                let r = b.refresh(true).await;
                let body = r.json();
                (r.status, body)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn distinct_tokens(answers: &[(StatusCode, serde_json::Value)]) -> BTreeSet<String> {
    answers
        .iter()
        .map(|(_, b)| b["access_token"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_stores!(
    twenty_forced_refreshes_on_separate_instances_make_one_grant_and_share_its_token,
    twenty_forced_refreshes_wait_for_a_slow_provider_and_share_its_token,
    a_crashed_lease_holder_is_taken_over_after_its_lease_runs_out,
    a_rotated_refresh_token_replaces_the_old_one_which_is_never_sent_again,
    a_failed_refresh_releases_the_lease_and_keeps_the_tokens,
    a_refreshed_id_token_naming_another_subject_issuer_or_audience_ends_the_session,
    invalid_grant_during_concurrent_refreshes_ends_the_session_once,
    a_slow_provider_and_a_slow_key_set_never_cost_the_holder_its_lease,
    a_caller_without_time_for_a_provider_call_does_not_start_one,
);

async fn twenty_forced_refreshes_on_separate_instances_make_one_grant_and_share_its_token(
    backend: BackendKind,
) {
    let (h, browser, _) = signed_in(backend).await;
    h.set_behavior(Behavior {
        token_delay_ms: Some(200),
        ..Behavior::default()
    });

    let answers = forced_refreshes_on_separate_instances(&h, &browser, 20).await;

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(h.stats().refresh_token_grants, 1, "exactly one grant");
    assert_eq!(distinct_tokens(&answers).len(), 1, "{answers:?}");
}

async fn twenty_forced_refreshes_wait_for_a_slow_provider_and_share_its_token(
    backend: BackendKind,
) {
    let (h, browser, _) = signed_in(backend).await;
    h.set_behavior(Behavior {
        token_delay_ms: Some(2_000),
        ..Behavior::default()
    });

    let answers = forced_refreshes_on_separate_instances(&h, &browser, 20).await;

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(h.stats().refresh_token_grants, 1);
    assert_eq!(distinct_tokens(&answers).len(), 1);
}

async fn a_crashed_lease_holder_is_taken_over_after_its_lease_runs_out(backend: BackendKind) {
    let (h, browser, session_id) = signed_in(backend).await;
    let key = integration_tests::sha256_b64url(&session_id);
    let before = h.session_for(&session_id).await;
    // A holder took the lease for 5 s and died without releasing it.
    h.store
        .acquire_refresh_lease(
            &key,
            before.version,
            "crashed-instance",
            h.now(),
            h.now() + 5,
        )
        .await
        .unwrap();

    let refreshes = {
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let mut b = browser.on(h.another_instance().await);
            tasks.push(tokio::spawn(async move {
                let r = b.refresh(true).await;
                (r.status, r.json())
            }));
        }
        tasks
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        h.stats().refresh_token_grants,
        0,
        "everyone waits while the lease is live"
    );
    h.clock.advance(6);
    let mut answers = Vec::new();
    for t in refreshes {
        answers.push(t.await.unwrap());
    }

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(
        h.stats().refresh_token_grants,
        1,
        "one taker-over refreshes"
    );
    assert_eq!(distinct_tokens(&answers).len(), 1);
    let after = h.session_for(&session_id).await;
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.lease_until, 0, "the lease ended with the write");
}

async fn a_rotated_refresh_token_replaces_the_old_one_which_is_never_sent_again(
    backend: BackendKind,
) {
    let (h, browser, _) = signed_in(backend).await;
    // Network latency to a real provider: long enough that each round's calls overlap.
    h.set_behavior(Behavior {
        token_delay_ms: Some(150),
        ..Behavior::default()
    });

    // Rounds further apart than the window in which a forced refresh reuses the last one.
    let window = h.app_force_window();
    let first = forced_refreshes_on_separate_instances(&h, &browser, 10).await;
    h.clock.advance(window);
    let second = forced_refreshes_on_separate_instances(&h, &browser, 10).await;
    h.clock.advance(window);
    let third = forced_refreshes_on_separate_instances(&h, &browser, 10).await;

    for answers in [&first, &second, &third] {
        assert!(
            answers.iter().all(|(s, _)| *s == StatusCode::OK),
            "{answers:?}"
        );
        assert_eq!(distinct_tokens(answers).len(), 1);
    }
    let sent = h.stats().refresh_tokens_received;
    assert_eq!(sent.len(), 3, "one grant per round: {sent:?}");
    let unique: BTreeSet<&String> = sent.iter().collect();
    assert_eq!(
        unique.len(),
        3,
        "no refresh token was presented twice: {sent:?}"
    );
}

async fn a_failed_refresh_releases_the_lease_and_keeps_the_tokens(backend: BackendKind) {
    let (h, mut browser, session_id) = signed_in(backend).await;
    let before = h.session_for(&session_id).await;
    h.set_behavior(Behavior {
        token_error: Some((502, "bad gateway".into())),
        ..Behavior::default()
    });

    browser
        .refresh(true)
        .await
        .assert_error(503, "provider_unavailable");

    let after = h.session_for(&session_id).await;
    assert_eq!(after.lease_until, 0, "lease released");
    assert_eq!(after.version, before.version);
    assert_eq!(
        after.tokens.refresh_token.unwrap().expose(),
        before.tokens.refresh_token.unwrap().expose()
    );
    h.set_behavior(Behavior::default());
    let retry = browser.refresh(true).await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
}

async fn a_refreshed_id_token_naming_another_subject_issuer_or_audience_ends_the_session(
    backend: BackendKind,
) {
    let cases = [
        (
            "another subject",
            Behavior {
                id_token_sub: Some("mallory".into()),
                ..Behavior::default()
            },
        ),
        (
            "another issuer",
            Behavior {
                id_token_iss: Some("https://evil.example".into()),
                ..Behavior::default()
            },
        ),
        (
            "another audience",
            Behavior {
                id_token_aud: Some("someone-else".into()),
                ..Behavior::default()
            },
        ),
    ];
    for (name, behavior) in cases {
        let (h, mut browser, session_id) = signed_in(backend).await;
        h.set_behavior(behavior);

        browser
            .refresh(true)
            .await
            .assert_error(401, "reauth_required");

        assert_eq!(h.stats().refresh_token_grants, 1, "{name}");
        assert!(
            h.stored_session(&integration_tests::sha256_b64url(&session_id))
                .await
                .is_none(),
            "{name}: the session ended, its tokens were not replaced"
        );
        assert_eq!(h.store.session_count().await, 0, "{name}");
        browser.session().await.assert_error(401, "unauthenticated");
    }
}

async fn invalid_grant_during_concurrent_refreshes_ends_the_session_once(backend: BackendKind) {
    let (h, browser, session_id) = signed_in(backend).await;
    h.set_behavior(Behavior {
        token_error: Some((400, r#"{"error":"invalid_grant"}"#.into())),
        token_delay_ms: Some(200),
        ..Behavior::default()
    });

    let answers = forced_refreshes_on_separate_instances(&h, &browser, 10).await;

    assert_eq!(
        h.stats().refresh_token_grants,
        1,
        "no retry loop: {answers:?}"
    );
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "reauth_required");
    }
    assert!(
        h.stored_session(&integration_tests::sha256_b64url(&session_id))
            .await
            .is_none()
    );
}

async fn a_slow_provider_and_a_slow_key_set_never_cost_the_holder_its_lease(backend: BackendKind) {
    // Leases run out in real time here, as they do in production.
    let h = Harness::builder()
        .backend(backend)
        .real_time_clock()
        .spawn()
        .await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    // The refreshed id_token is signed with a key the app has not seen: verifying it needs a
    // JWKS refetch, and both the token endpoint and the JWKS take 9 s.
    h.provider.rotate_keys();
    h.set_behavior(Behavior {
        token_delay_ms: Some(9_000),
        jwks_delay_ms: Some(9_000),
        ..Behavior::default()
    });

    let answers = forced_refreshes_on_separate_instances(&h, &browser, 2).await;

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(h.stats().refresh_token_grants, 1, "one grant");
    let sent = h.stats().refresh_tokens_received;
    let unique: BTreeSet<&String> = sent.iter().collect();
    assert_eq!(
        unique.len(),
        sent.len(),
        "no refresh token sent twice: {sent:?}"
    );
    assert_eq!(distinct_tokens(&answers).len(), 1);
    let after = h.session_for(&session_id).await;
    assert_eq!(after.version, 1, "the session survived, refreshed once");
    h.set_behavior(Behavior::default());
    let info = browser.session().await;
    assert_eq!(info.status, StatusCode::OK, "{info:?}");
}

async fn a_caller_without_time_for_a_provider_call_does_not_start_one(backend: BackendKind) {
    let (h, _, session_id) = signed_in(backend).await;
    let key = integration_tests::sha256_b64url(&session_id);

    let deps = h.app.deps();
    let answer = shared::flow::refresh::access_token(
        deps,
        h.app.settings(),
        h.app.providers(),
        &key,
        true,
        shared::deadline::Deadline::after(deps.clock, Duration::from_secs(3)),
    )
    .await;

    assert!(
        matches!(answer, Err(shared::edge::ApiError::ProviderUnavailable)),
        "{answer:?}"
    );
    assert_eq!(h.stats().refresh_token_grants, 0);
    let after = h.session_for(&session_id).await;
    assert_eq!(after.lease_until, 0, "no lease taken");
    assert_eq!(after.version, 0);
}
