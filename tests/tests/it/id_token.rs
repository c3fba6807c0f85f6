//! id_token verification at the callback, and JWKS caching and key rotation.

use dev_provider::Behavior;
use integration_tests::{Harness, client_id};

#[tokio::test]
async fn callback_rejects_invalid_id_tokens_and_creates_no_session() {
    let h = Harness::spawn().await;
    let issuer = h.issuer();
    let b = Behavior::default;
    let cases = [
        (
            "wrong iss",
            Behavior {
                id_token_iss: Some(format!("{issuer}/other")),
                ..b()
            },
        ),
        (
            "wrong aud",
            Behavior {
                id_token_aud: Some("someone-else".into()),
                ..b()
            },
        ),
        (
            "wrong azp",
            Behavior {
                id_token_azp: Some("someone-else".into()),
                ..b()
            },
        ),
        (
            "wrong nonce",
            Behavior {
                id_token_nonce: Some("not-the-login-nonce".into()),
                ..b()
            },
        ),
        (
            "expired",
            Behavior {
                id_token_exp_offset: Some(-600),
                ..b()
            },
        ),
        (
            "issued in the future",
            Behavior {
                id_token_iat_offset: Some(3600),
                ..b()
            },
        ),
        (
            "not yet valid",
            Behavior {
                id_token_nbf_offset: Some(3600),
                ..b()
            },
        ),
        (
            "bad signature",
            Behavior {
                id_token_bad_signature: true,
                ..b()
            },
        ),
        (
            "alg none",
            Behavior {
                id_token_alg_none: true,
                ..b()
            },
        ),
        (
            "HS256 keyed with the client secret",
            Behavior {
                id_token_hs256_with_secret: true,
                ..b()
            },
        ),
        (
            "no id_token",
            Behavior {
                omit_id_token: true,
                ..b()
            },
        ),
    ];
    for (name, behavior) in cases {
        h.assert_login_failed(name, behavior).await;
    }

    // The same flow with a well-behaved provider signs in: the failures above were the tokens.
    h.set_behavior(Behavior::default());
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;
    assert_eq!(h.store.session_count().await, 1);
}

#[tokio::test]
async fn id_token_with_the_matching_azp_is_accepted() {
    let h = Harness::spawn().await;
    h.set_behavior(Behavior {
        id_token_azp: Some(client_id("dev")),
        ..Behavior::default()
    });
    let mut browser = h.browser();

    browser.sign_in("dev", "alice").await;

    assert_eq!(h.store.session_count().await, 1);
}

#[tokio::test]
async fn jwks_is_cached_refetched_once_for_a_rotated_key_and_rate_limited() {
    let h = Harness::spawn().await;

    h.browser().sign_in("dev", "alice").await;
    h.browser().sign_in("dev", "bob").await;
    assert_eq!(h.stats().jwks_requests, 1, "the key set is cached");

    h.provider.rotate_keys();
    h.browser().sign_in("dev", "carol").await;
    assert_eq!(h.stats().jwks_requests, 2, "one refetch for the new kid");

    h.set_behavior(Behavior {
        id_token_unknown_kid_key: true,
        ..Behavior::default()
    });
    let reply = h.browser().try_sign_in("dev", "dave", Some("/app")).await;
    assert_eq!(reply.location(), "/app?error=login_failed", "{reply:?}");
    assert_eq!(
        h.stats().jwks_requests,
        2,
        "no second refetch within the rate-limit window"
    );
    assert_eq!(h.store.session_count().await, 3);
}

#[tokio::test]
async fn a_cached_key_set_is_refetched_once_its_max_age_has_passed() {
    let h = Harness::spawn().await;
    // The app's clock moves ahead of the provider's: keep its id_tokens valid meanwhile.
    h.set_behavior(Behavior {
        jwks_cache_control: Some("public, max-age=600".into()),
        id_token_exp_offset: Some(7200),
        ..Behavior::default()
    });
    h.browser().sign_in("dev", "alice").await;
    assert_eq!(h.stats().jwks_requests, 1);

    h.clock.advance(599);
    h.browser().sign_in("dev", "bob").await;
    assert_eq!(h.stats().jwks_requests, 1, "still within max-age");

    h.clock.advance(2);
    h.browser().sign_in("dev", "carol").await;
    assert_eq!(
        h.stats().jwks_requests,
        2,
        "a known kid is not trusted past the key set's max-age"
    );
}

#[tokio::test]
async fn a_key_set_without_max_age_is_kept_at_most_the_default() {
    let h = Harness::spawn().await;
    h.set_behavior(Behavior {
        id_token_exp_offset: Some(7200),
        ..Behavior::default()
    });
    h.browser().sign_in("dev", "alice").await;
    h.clock.advance(shared::provider::jwks::DEFAULT_MAX_AGE);
    h.browser().sign_in("dev", "bob").await;
    assert_eq!(h.stats().jwks_requests, 2);
}
