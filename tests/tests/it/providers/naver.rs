//! `preset = "naver"` against the Naver fixture: `state` again at the code exchange, the
//! credentials as parameters, `expires_in` as a string, errors with HTTP 200, the profile in
//! Naver's `{"resultcode", "response"}` envelope, refresh without rotation, revoke at logout.

use integration_tests::BackendKind;
use integration_tests::fixtures::{FixtureBehavior, FixtureKind, FixtureServer, UserinfoFailure};
use integration_tests::{client_id, client_secret, query_param};
use serde_json::json;

use super::{
    Rig, Stub, access_of, assert_authorization_request, assert_expires_at, assert_logout,
    assert_pkce_verified, assert_reauth_required, credentials, refresh_ok, sent, session_json,
};

const NAME: &str = "naver";

fn block(fx: &FixtureServer) -> String {
    block_with(fx, &fx.userinfo_endpoint())
}

/// The block with another profile endpoint.
fn block_with(fx: &FixtureServer, userinfo: &str) -> String {
    format!(
        "preset = \"naver\"\n{}\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        credentials(NAME),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        userinfo,
        fx.revocation_endpoint().unwrap(),
    )
}

async fn rig(backend: BackendKind) -> Rig {
    Rig::spawn(FixtureKind::Naver, NAME, backend, &[], block).await
}

async fn naver_login_session_refresh_and_logout_work(backend: BackendKind) {
    let rig = rig(backend).await;

    let (mut browser, session_id, url) = rig.sign_in().await;

    assert_authorization_request(&url, NAME);
    assert_pkce_verified(&rig.fx, &url, NAME);
    let session = session_json(&mut browser).await;
    assert_eq!(session["provider"], NAME);
    assert_eq!(session["subject"], "4242");
    assert_eq!(
        session["profile"],
        json!({
            "name": "Alice Example",
            "email": "alice@example.com",
            "picture": "https://img.example.test/alice.png",
        })
    );
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), 3600);

    let first = rig.stored_access(&session_id).await;
    let cached = refresh_ok(&mut browser, false).await;
    assert_eq!(
        access_of(&cached),
        first,
        "the stored token while it is valid"
    );
    assert_eq!(rig.fx.stats().grant("refresh_token").count, 0);

    rig.h.clock.advance(3600);
    let fresh = refresh_ok(&mut browser, false).await;

    let stats = rig.fx.stats();
    let grant = stats.grant("refresh_token");
    assert_eq!(grant.count, 1, "refreshed once the token was due");
    assert_eq!(
        sent(&grant, "refresh_token").as_deref(),
        Some(stats.issued_refresh_tokens[0].as_str())
    );
    assert_eq!(
        access_of(&fresh),
        *stats.issued_access_tokens.last().unwrap()
    );
    assert_ne!(access_of(&fresh), first);
    assert_eq!(fresh["expires_in"], 3600);

    assert_logout(&rig, &mut browser, &session_id).await;
    assert!(!rig.fx.access_token_is_live(&access_of(&fresh)));
    assert!(
        !rig.fx
            .refresh_token_is_live(&stats.issued_refresh_tokens[0])
    );
}

on_both_stores!(naver_login_session_refresh_and_logout_work);

#[tokio::test]
async fn naver_code_exchange_repeats_the_state_and_sends_the_credentials_as_parameters() {
    let rig = rig(BackendKind::Memory).await;

    let (_, _, url) = rig.sign_in().await;

    let exchange = rig.fx.stats().grant("authorization_code");
    assert_eq!(sent(&exchange, "state"), Some(query_param(&url, "state")));
    assert_eq!(sent(&exchange, "client_id"), Some(client_id(NAME)));
    assert_eq!(sent(&exchange, "client_secret"), Some(client_secret(NAME)));
}

#[tokio::test]
async fn naver_string_expires_in_sets_the_token_lifetime() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        access_token_expires_in: Some(1234),
        ..FixtureBehavior::default()
    });
    let (mut browser, session_id, _) = rig.sign_in().await;
    let first = rig.stored_access(&session_id).await;

    let session = session_json(&mut browser).await;
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), 1234);

    rig.h.clock.advance(1234 - 61);
    let cached = refresh_ok(&mut browser, false).await;
    assert_eq!(access_of(&cached), first);
    assert_eq!(cached["expires_in"], 61);
    assert_eq!(rig.fx.stats().grant("refresh_token").count, 0);

    rig.h.clock.advance(2);
    let fresh = refresh_ok(&mut browser, false).await;
    assert_ne!(access_of(&fresh), first, "refreshed within refresh_skew");
    assert_eq!(fresh["expires_in"], 1234);
    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
}

#[tokio::test]
async fn naver_error_with_http_200_at_the_code_exchange_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        token_error_with_200: true,
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    let stats = rig.fx.stats();
    assert_eq!(stats.token.count, 1, "the code was exchanged");
    assert_eq!(stats.userinfo.count, 0, "an error is never a token");
}

#[tokio::test]
async fn naver_profile_error_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ProviderError),
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    assert_eq!(rig.fx.stats().userinfo.count, 1);
}

#[tokio::test]
async fn naver_profile_envelope_with_a_failing_resultcode_fails_the_login_even_with_http_200() {
    // The profile answer of Naver's documentation, but with an error `resultcode`: the
    // `response` it carries must not be taken for the user.
    let profile = |resultcode: &str| {
        json!({
            "resultcode": resultcode,
            "message": if resultcode == "00" { "success" } else { "Authentication failed" },
            "response": { "id": "naver-77", "name": "Nari", "email": "nari@example.com" },
        })
    };
    let stub = Stub::spawn(profile("024")).await;
    let url = stub.url.clone();
    let rig = Rig::spawn(FixtureKind::Naver, NAME, BackendKind::Memory, &[], |fx| {
        block_with(fx, &url)
    })
    .await;

    rig.assert_login_fails().await;

    stub.answer(profile("00"));
    let (mut browser, _, _) = rig.sign_in().await;
    assert_eq!(session_json(&mut browser).await["subject"], "naver-77");
}

#[tokio::test]
async fn naver_refresh_keeps_the_refresh_token_it_does_not_rotate() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let original = rig
        .stored_refresh(&session_id)
        .await
        .expect("a refresh token");

    rig.h.clock.advance(3600);
    refresh_ok(&mut browser, false).await;
    assert_eq!(
        rig.stored_refresh(&session_id).await,
        Some(original.clone())
    );
    rig.h.clock.advance(3600);
    refresh_ok(&mut browser, false).await;

    let grant = rig.fx.stats().grant("refresh_token");
    assert_eq!(grant.count, 2);
    assert_eq!(sent(&grant, "refresh_token"), Some(original.clone()));
    assert_eq!(rig.stored_refresh(&session_id).await, Some(original));
}

#[tokio::test]
async fn naver_dead_refresh_token_requires_reauthentication() {
    // Naver answers a dead refresh token with HTTP 200 and its own error code (the fixture
    // sends `invalid_request`, the documented codes have no `invalid_grant`): nothing can
    // renew the token, so the session must end rather than answer 503 forever.
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, _, _) = rig.sign_in().await;
    rig.fx.revoke_all_refresh_tokens();
    rig.h.clock.advance(3600);

    assert_reauth_required(&rig, &mut browser, false).await;

    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
}

#[tokio::test]
async fn naver_invalid_grant_with_http_200_at_refresh_requires_reauthentication() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        refresh_error_code: Some("invalid_grant".into()),
        ..FixtureBehavior::default()
    });
    let (mut browser, _, _) = rig.sign_in().await;
    rig.fx.revoke_all_refresh_tokens();

    assert_reauth_required(&rig, &mut browser, true).await;
}

#[tokio::test]
async fn naver_logout_revokes_the_grant_with_the_client_credentials() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let access = rig.stored_access(&session_id).await;
    let refresh = rig.stored_refresh(&session_id).await.unwrap();

    assert_logout(&rig, &mut browser, &session_id).await;

    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.last_method.as_deref(), Some("POST"));
    assert_eq!(revoke.form("client_id"), Some(client_id(NAME)));
    assert_eq!(revoke.form("client_secret"), Some(client_secret(NAME)));
    let token = revoke.form("token").expect("a token to revoke");
    assert!(token == access || token == refresh, "revoked {token}");
    assert!(!rig.fx.access_token_is_live(&access));
    assert!(!rig.fx.refresh_token_is_live(&refresh));
}
