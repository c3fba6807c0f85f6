//! `preset = "kakao"` without `openid` (plain OAuth 2.0) against the Kakao fixture: scopes
//! comma-separated at the authorization endpoint, the secret in the body, the numeric `id` of
//! `/v2/user/me`, the e-mail only when verified, a refresh token returned only near its expiry
//! (kept otherwise), `KOE322` for a dead one, and logout through `/v1/user/logout`.

use integration_tests::fixtures::{FixtureBehavior, FixtureKind, FixtureServer, FixtureUser};
use integration_tests::{BackendKind, client_id, client_secret, query_param};
use serde_json::json;

use super::{
    Rig, access_of, assert_authorization_request, assert_expires_at, assert_logout,
    assert_pkce_verified, assert_reauth_required, credentials, refresh_ok, sent, session_json,
};

const NAME: &str = "kakao";
/// Access-token lifetime in Kakao's documented answers.
const ACCESS_TTL: u64 = 21_599;
/// A refresh-token lifetime under a month: Kakao then returns a new one on refresh.
const NEAR_EXPIRY: u64 = 20 * 86_400;

fn block(fx: &FixtureServer) -> String {
    format!(
        "preset = \"kakao\"\n{}\
         scopes = [\"profile_nickname\", \"account_email\"]\n\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        credentials(NAME),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        fx.userinfo_endpoint(),
        fx.revocation_endpoint().unwrap(),
    )
}

async fn rig(backend: BackendKind) -> Rig {
    Rig::spawn(FixtureKind::KakaoOAuth2, NAME, backend, &[], block).await
}

async fn kakao_login_session_refresh_and_logout_work(backend: BackendKind) {
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
            "name": "alice",
            "email": "alice@example.com",
            "picture": "https://img.example.test/alice.png",
        })
    );
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), ACCESS_TTL);
    let first = rig.stored_access(&session_id).await;
    let original_refresh = rig.stored_refresh(&session_id).await.unwrap();

    assert_eq!(access_of(&refresh_ok(&mut browser, false).await), first);
    assert_eq!(rig.fx.stats().grant("refresh_token").count, 0);
    rig.h.clock.advance(ACCESS_TTL);
    let fresh = refresh_ok(&mut browser, false).await;

    let stats = rig.fx.stats();
    let grant = stats.grant("refresh_token");
    assert_eq!(grant.count, 1);
    assert_eq!(
        sent(&grant, "refresh_token"),
        Some(original_refresh.clone())
    );
    assert_eq!(access_of(&fresh), stats.issued_access_tokens[1]);
    assert_eq!(
        rig.stored_refresh(&session_id).await,
        Some(original_refresh),
        "none returned: the old refresh token is kept"
    );

    assert_logout(&rig, &mut browser, &session_id).await;
    assert!(!rig.fx.access_token_is_live(&access_of(&fresh)));
}

async fn kakao_dead_refresh_token_koe322_requires_reauthentication(backend: BackendKind) {
    let rig = rig(backend).await;
    let (mut browser, _, _) = rig.sign_in().await;
    rig.fx.revoke_all_refresh_tokens();
    rig.h.clock.advance(ACCESS_TTL);

    assert_reauth_required(&rig, &mut browser, false).await;

    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
}

on_both_stores!(
    kakao_login_session_refresh_and_logout_work,
    kakao_dead_refresh_token_koe322_requires_reauthentication,
);

#[tokio::test]
async fn kakao_scopes_are_comma_separated_at_the_authorization_endpoint() {
    let rig = rig(BackendKind::Memory).await;

    let (_, _, url) = rig.sign_in().await;

    assert_eq!(query_param(&url, "scope"), "profile_nickname,account_email");
    assert_eq!(
        rig.fx.stats().authorize.query("scope").as_deref(),
        Some("profile_nickname,account_email")
    );
}

#[tokio::test]
async fn kakao_code_exchange_sends_the_secret_in_the_body() {
    let rig = rig(BackendKind::Memory).await;

    rig.sign_in().await;

    let exchange = rig.fx.stats().grant("authorization_code");
    assert_eq!(exchange.form("client_id"), Some(client_id(NAME)));
    assert_eq!(exchange.form("client_secret"), Some(client_secret(NAME)));
}

#[tokio::test]
async fn kakao_numeric_id_is_the_subject_as_a_string() {
    let rig = rig(BackendKind::Memory).await;
    // Beyond 32 bits, below 2^53: a number an i32 or f32 would mangle.
    rig.fx.set_user(FixtureUser {
        id: "3141592653589793".into(),
        ..FixtureUser::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    assert_eq!(
        session_json(&mut browser).await["subject"],
        "3141592653589793"
    );
}

#[tokio::test]
async fn kakao_email_is_dropped_when_it_is_not_verified() {
    let rig = rig(BackendKind::Memory).await;
    rig.fx.set_user(FixtureUser {
        email_verified: false,
        ..FixtureUser::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    let session = session_json(&mut browser).await;
    assert_eq!(session["profile"].get("email"), None, "{session}");
    assert_eq!(session["profile"]["name"], "alice");
}

#[tokio::test]
async fn kakao_refresh_stores_a_returned_refresh_token_and_uses_it_next() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        refresh_token_lifetime: Some(NEAR_EXPIRY),
        ..FixtureBehavior::default()
    });
    let (mut browser, session_id, _) = rig.sign_in().await;
    let original = rig.stored_refresh(&session_id).await.unwrap();

    rig.h.clock.advance(ACCESS_TTL);
    refresh_ok(&mut browser, false).await;

    let stats = rig.fx.stats();
    let rotated = rig.stored_refresh(&session_id).await.unwrap();
    assert_ne!(rotated, original);
    assert_eq!(rotated, stats.issued_refresh_tokens[1]);
    assert!(
        !rig.fx.refresh_token_is_live(&original),
        "Kakao retired the old one"
    );

    rig.h.clock.advance(ACCESS_TTL);
    refresh_ok(&mut browser, false).await;
    let grant = rig.fx.stats().grant("refresh_token");
    assert_eq!(grant.count, 2);
    assert_eq!(sent(&grant, "refresh_token"), Some(rotated));
}

#[tokio::test]
async fn kakao_logout_calls_user_logout_with_the_access_token() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let access = rig.stored_access(&session_id).await;
    let refresh = rig.stored_refresh(&session_id).await.unwrap();

    assert_logout(&rig, &mut browser, &session_id).await;

    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.last_method.as_deref(), Some("POST"));
    assert_eq!(
        revoke.header("authorization"),
        Some(format!("Bearer {access}"))
    );
    assert!(!rig.fx.access_token_is_live(&access));
    assert!(!rig.fx.refresh_token_is_live(&refresh));
}

#[tokio::test]
async fn kakao_logout_ends_the_session_even_when_the_provider_fails() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    rig.behave(FixtureBehavior {
        revoke_server_error: Some(500),
        ..FixtureBehavior::default()
    });

    assert_logout(&rig, &mut browser, &session_id).await;
}
