//! `preset = "github"` against the GitHub fixture: `Accept: application/json` at the token
//! endpoint, errors with HTTP 200, the private e-mail from `/user/emails`, RFC 9207 `iss`,
//! non-expiring OAuth app tokens or a GitHub App's expiring ones with rotating refresh tokens,
//! and logout by deleting the grant with Basic client credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use integration_tests::fixtures::{FixtureBehavior, FixtureKind, FixtureServer, FixtureUser};
use integration_tests::{BackendKind, client_id, client_secret};
use serde_json::{Value, json};

use super::{
    Rig, access_of, assert_authorization_request, assert_expires_at, assert_logout,
    assert_pkce_verified, assert_reauth_required, credentials, refresh_ok, sent, session_json,
};

const NAME: &str = "github";
/// A GitHub App's user access tokens live 8 hours.
const EXPIRING: u64 = 28_800;

fn block(fx: &FixtureServer) -> String {
    format!(
        "preset = \"github\"\n{}\
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
    Rig::spawn(FixtureKind::GitHub, NAME, backend, &[], block).await
}

/// The block plus `extra` lines.
async fn rig_with(extra: &'static str) -> Rig {
    Rig::spawn(FixtureKind::GitHub, NAME, BackendKind::Memory, &[], |fx| {
        format!("{}{extra}", block(fx))
    })
    .await
}

fn expiring() -> FixtureBehavior {
    FixtureBehavior {
        github_expiring_tokens: true,
        ..FixtureBehavior::default()
    }
}

async fn github_oauth_app_login_session_refresh_and_logout_work(backend: BackendKind) {
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
    let stored = rig.stored_access(&session_id).await;
    assert_eq!(rig.stored_refresh(&session_id).await, None);

    // An OAuth app's token does not expire: returned as long as the session lives.
    rig.h.clock.advance(20 * 86_400);
    let cached = refresh_ok(&mut browser, false).await;
    let forced = refresh_ok(&mut browser, true).await;
    assert_eq!(access_of(&cached), stored);
    assert_eq!(access_of(&forced), stored);
    assert_eq!(
        rig.fx.stats().token.count,
        1,
        "no token call after the callback"
    );

    assert_logout(&rig, &mut browser, &session_id).await;
    assert!(!rig.fx.access_token_is_live(&stored));
}

async fn github_app_expiring_tokens_refresh_with_rotation(backend: BackendKind) {
    let rig = rig(backend).await;
    rig.behave(expiring());
    let (mut browser, session_id, _) = rig.sign_in().await;
    let first_refresh = rig
        .stored_refresh(&session_id)
        .await
        .expect("a refresh token");
    let session = session_json(&mut browser).await;
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), EXPIRING);

    rig.h.clock.advance(EXPIRING);
    let fresh = refresh_ok(&mut browser, false).await;

    let stats = rig.fx.stats();
    let accept = stats.grant("refresh_token").header("accept");
    assert!(accept.unwrap_or_default().contains("application/json"));
    assert_eq!(
        sent(&stats.grant("refresh_token"), "refresh_token"),
        Some(first_refresh.clone())
    );
    assert_eq!(access_of(&fresh), stats.issued_access_tokens[1]);
    let rotated = rig.stored_refresh(&session_id).await.unwrap();
    assert_eq!(
        rotated, stats.issued_refresh_tokens[1],
        "the rotated token is kept"
    );

    rig.h.clock.advance(EXPIRING);
    refresh_ok(&mut browser, false).await;
    let grant = rig.fx.stats().grant("refresh_token");
    assert_eq!(grant.count, 2);
    assert_eq!(sent(&grant, "refresh_token"), Some(rotated));

    assert_logout(&rig, &mut browser, &session_id).await;
}

on_both_stores!(
    github_oauth_app_login_session_refresh_and_logout_work,
    github_app_expiring_tokens_refresh_with_rotation,
);

#[tokio::test]
async fn github_token_request_asks_for_json_and_sends_the_credentials() {
    let rig = rig(BackendKind::Memory).await;

    rig.sign_in().await;

    let exchange = rig.fx.stats().grant("authorization_code");
    let accept = exchange.header("accept").unwrap_or_default();
    assert!(accept.contains("application/json"), "Accept: {accept}");
    assert_eq!(sent(&exchange, "client_id"), Some(client_id(NAME)));
    assert_eq!(sent(&exchange, "client_secret"), Some(client_secret(NAME)));
}

#[tokio::test]
async fn github_error_with_http_200_at_the_code_exchange_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        token_error_with_200: true,
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    let stats = rig.fx.stats();
    assert_eq!(stats.token.count, 1);
    assert_eq!(stats.userinfo.count, 0, "an error is never a token");
}

#[tokio::test]
async fn github_private_email_is_the_primary_verified_one_from_user_emails() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        github_private_email: true,
        ..FixtureBehavior::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    assert_eq!(rig.fx.stats().emails.count, 1, "/user/emails asked");
    let session = session_json(&mut browser).await;
    assert_eq!(session["profile"]["email"], "alice@example.com");
}

#[tokio::test]
async fn github_private_unverified_email_is_left_out() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        github_private_email: true,
        ..FixtureBehavior::default()
    });
    rig.fx.set_user(FixtureUser {
        email_verified: false,
        ..FixtureUser::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    let session = session_json(&mut browser).await;
    assert_eq!(session["profile"].get("email"), None, "{session}");
    assert_eq!(session["profile"]["name"], "Alice Example");
}

#[tokio::test]
async fn github_private_email_without_the_user_email_scope_signs_in_without_an_email() {
    // Without `user:email`, GitHub answers /user/emails with 404; the e-mail is optional, the
    // user is still identified by /user.
    let rig = rig_with("scopes = [\"read:user\"]\n").await;
    rig.behave(FixtureBehavior {
        github_private_email: true,
        ..FixtureBehavior::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    let session = session_json(&mut browser).await;
    assert_eq!(session["subject"], "4242");
    assert_eq!(session["profile"].get("email"), None, "{session}");
}

#[tokio::test]
async fn github_callback_with_githubs_issuer_is_accepted() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        authorize_iss: Some("https://github.com/login/oauth".into()),
        ..FixtureBehavior::default()
    });

    let (mut browser, _, _) = rig.sign_in().await;

    assert_eq!(session_json(&mut browser).await["subject"], "4242");
}

#[tokio::test]
async fn github_callback_with_another_issuer_is_refused_before_the_exchange() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        authorize_iss: Some("https://github.example.com/login/oauth".into()),
        ..FixtureBehavior::default()
    });
    let mut browser = rig.h.browser();

    let (_, reply) = rig.try_sign_in(&mut browser).await;

    reply.assert_error(400, "invalid_issuer");
    assert_eq!(rig.fx.stats().token.count, 0, "no code exchange");
    assert!(browser.session_id().is_none());
    assert_eq!(rig.h.store.session_count().await, 0);
}

#[tokio::test]
async fn github_logout_deletes_the_grant_with_basic_client_credentials() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let token = rig.stored_access(&session_id).await;

    assert_logout(&rig, &mut browser, &session_id).await;

    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.last_method.as_deref(), Some("DELETE"));
    let basic = STANDARD.encode(format!("{}:{}", client_id(NAME), client_secret(NAME)));
    assert_eq!(
        revoke.header("authorization"),
        Some(format!("Basic {basic}"))
    );
    let body: Value = serde_json::from_str(&revoke.last_body).unwrap();
    assert_eq!(body, json!({ "access_token": token }));
    assert!(!rig.fx.access_token_is_live(&token), "the grant is deleted");
}

#[tokio::test]
async fn github_bad_refresh_token_requires_reauthentication() {
    // GitHub answers a dead refresh token with HTTP 200 and `bad_refresh_token`, its name
    // for `invalid_grant`.
    let rig = rig(BackendKind::Memory).await;
    rig.behave(expiring());
    let (mut browser, _, _) = rig.sign_in().await;
    rig.fx.revoke_all_refresh_tokens();
    rig.h.clock.advance(EXPIRING);

    assert_reauth_required(&rig, &mut browser, false).await;

    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
}

#[tokio::test]
async fn github_app_refresh_against_an_unavailable_provider_keeps_the_tokens() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(expiring());
    let (mut browser, session_id, _) = rig.sign_in().await;
    let refresh = rig.stored_refresh(&session_id).await;
    rig.behave(FixtureBehavior {
        token_server_error: Some(502),
        ..expiring()
    });
    rig.h.clock.advance(EXPIRING);

    let reply = browser.refresh(false).await;

    reply.assert_error(503, "provider_unavailable");
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        rig.stored_refresh(&session_id).await,
        refresh,
        "tokens kept"
    );
}
