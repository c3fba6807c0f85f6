//! `POST /auth/{provider}/native` against the Apple and Google fixtures: the SDKs' id_tokens
//! (Apple's `identityToken` with its hashed nonce, Credential Manager's with the Android app
//! as `azp`), and server auth codes: Sign in with Apple's
//! `authorizationCode` (exchanged as the app's bundle id, with a client secret minted for it)
//! and Google's `serverAuthCode` (exchanged as the web client the app named), both without a
//! redirect URI. The session holds the provider's tokens, refreshes and revokes as the client
//! the code was issued to; another app's, a used, an expired or a made-up code is
//! `invalid_grant`, a replay never reaches the provider, and an outage can be retried. On both
//! stores.

use http::{Method, StatusCode};
use integration_tests::fixtures::{
    AppleAppKey, AppleBehavior, AppleFixture, AppleSetup, EndpointStats, GoogleBehavior,
    GoogleFixture, GoogleSetup, ServerAuthCode,
};
use integration_tests::{BackendKind, Harness, Reply};
use lambda_http::Body;
use serde_json::json;

use super::native_sdk::{post_native, session_token, with_bearer};

const SERVICES_ID: &str = "com.example.web";
const BUNDLE_ID: &str = "com.example.ios";
const OTHER_APP: &str = "com.attacker.app";
const TEAM_ID: &str = "ABCDE12345";
const KEY_ID: &str = "KEY1234567";
/// The SHA-256 hex an app puts in `ASAuthorizationAppleIDRequest.nonce`.
const HASHED_NONCE: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

const WEB_CLIENT: &str = "1234-web.apps.googleusercontent.com";
const WEB_SECRET: &str = "GOCSPX-web-secret";
const ANDROID_CLIENT: &str = "1234-android.apps.googleusercontent.com";

async fn post_code(h: &Harness, name: &str, code: &str) -> Reply {
    post_native(h, name, &json!({ "authorization_code": code })).await
}

/// Asserts `reply` is `status` `code` and no session was stored.
async fn assert_refused(h: &Harness, reply: &Reply, status: u16, code: &str) {
    reply.assert_error(status, code);
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
    assert_eq!(h.store.session_count().await, 0, "no session stored");
}

/// A forced `POST /auth/refresh`: the new access token.
async fn forced_refresh(h: &Harness, session: &str) -> String {
    let force = Body::Text(json!({ "force": true }).to_string());
    let refreshed = with_bearer(h, Method::POST, "/auth/refresh", session, force).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn logout(h: &Harness, session: &str) {
    let out = with_bearer(h, Method::POST, "/auth/logout", session, Body::Empty).await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    with_bearer(h, Method::GET, "/auth/session", session, Body::Empty)
        .await
        .assert_error(401, "unauthenticated");
}

/// The table holds none of these in plain text.
async fn assert_not_stored(h: &Harness, secrets: &[&str]) {
    let rows = format!("{:?}", h.store.scan().await.unwrap());
    for secret in secrets {
        assert!(!rows.contains(secret), "stored in plain text: {secret}");
    }
}

// ---- Apple ----

struct AppleRig {
    h: Harness,
    fx: AppleFixture,
}

/// The Apple fixture with our Services ID and our app's bundle id registered, and a harness
/// whose `apple` block lists `native_client_ids`.
async fn apple(backend: BackendKind, native_client_ids: &[&str]) -> AppleRig {
    let key = AppleAppKey::generate();
    let fx = AppleFixture::spawn(AppleSetup {
        client_id: SERVICES_ID.into(),
        team_id: TEAM_ID.into(),
        key_id: KEY_ID.into(),
        public_key: key.public_key.clone(),
    })
    .await;
    fx.add_native_app(BUNDLE_ID);
    let ids: Vec<String> = native_client_ids
        .iter()
        .map(|id| format!("{id:?}"))
        .collect();
    let block = format!(
        "preset = \"apple\"\nclient_id = \"{SERVICES_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
         key_id = \"{KEY_ID}\"\nissuer = \"{}\"\nnative_client_ids = [{}]\n\
         private_key = \"\"\"\n{}\"\"\"\n",
        fx.issuer(),
        ids.join(", "),
        key.private_key_pem
    );
    let h = Harness::builder()
        .backend(backend)
        .provider_block("apple", &block)
        .spawn()
        .await;
    AppleRig { h, fx }
}

async fn an_apple_authorization_code_becomes_a_session_that_refreshes_as_the_app(
    backend: BackendKind,
) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, Some(HASHED_NONCE));

    let session = session_token(&post_code(&rig.h, "apple", &code).await);

    // Exchanged as the app: its bundle id, a secret minted for it, no redirect URI, no PKCE.
    let stats = rig.fx.stats();
    let exchange = stats.grant("authorization_code");
    assert_eq!(exchange.count, 1);
    assert_eq!(exchange.form("client_id").as_deref(), Some(BUNDLE_ID));
    assert_eq!(exchange.form("redirect_uri"), None);
    assert_eq!(exchange.form("code_verifier"), None);
    let secret = stats
        .client_secret
        .clone()
        .expect("a client secret was checked");
    assert!(secret.verified, "{:?}", secret.failure);
    assert_eq!(secret.claims["sub"], BUNDLE_ID);
    let refresh_token = stats.issued_refresh_tokens[0].clone();
    let access_token = stats.issued_access_tokens[0].clone();

    let who = with_bearer(&rig.h, Method::GET, "/auth/session", &session, Body::Empty).await;
    assert_eq!(who.status, StatusCode::OK, "{who:?}");
    assert_eq!(who.json()["provider"], "apple");
    assert_eq!(
        who.json()["subject"],
        "001234.5f0c7f3e1b9d4e6a8c2b7d9e0f1a2b3c.1234"
    );
    assert_eq!(who.json()["profile"]["email"], "alice@example.com");
    assert_not_stored(&rig.h, &[&session, &code, &refresh_token, &access_token]).await;

    // The stored access token is handed out; a forced refresh asks Apple as the app again, and
    // the refreshed id_token (aud: the bundle id) is accepted.
    let served = with_bearer(&rig.h, Method::POST, "/auth/refresh", &session, Body::Empty).await;
    assert_eq!(served.json()["access_token"], access_token.as_str());
    let fresh = forced_refresh(&rig.h, &session).await;
    assert_ne!(fresh, access_token);
    assert!(rig.fx.access_token_is_live(&fresh));
    let refresh = rig.fx.stats().grant("refresh_token");
    assert_eq!(refresh.count, 1);
    assert_eq!(refresh.form("client_id").as_deref(), Some(BUNDLE_ID));
    assert_eq!(
        refresh.form("refresh_token").as_deref(),
        Some(refresh_token.as_str())
    );
    assert_eq!(
        with_bearer(&rig.h, Method::GET, "/auth/session", &session, Body::Empty)
            .await
            .status,
        StatusCode::OK,
        "the refreshed id_token kept the session"
    );

    // Logout revokes as the app: the refresh token dies at Apple.
    logout(&rig.h, &session).await;
    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.count, 1);
    assert_eq!(revoke.form("client_id").as_deref(), Some(BUNDLE_ID));
    assert!(!rig.fx.refresh_token_is_live(&refresh_token));
    let lines = rig.h.events.raw().join("\n");
    assert!(lines.contains("\"native_signed_in\""), "{lines}");
}

async fn an_apple_code_is_accepted_once_and_a_replay_never_reaches_apple(backend: BackendKind) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    session_token(&post_code(&rig.h, "apple", &code).await);

    let again = post_code(&rig.h, "apple", &code).await;

    again.assert_error(400, "invalid_grant");
    assert_eq!(rig.h.store.session_count().await, 1, "only the first");
    assert_eq!(
        rig.fx.stats().grant("authorization_code").count,
        1,
        "the replay was refused before the provider"
    );

    // Eight concurrent posts of one fresh code: one session, one exchange.
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut app = rig.h.browser();
        let body = json!({ "authorization_code": code }).to_string();
        posts.spawn(async move {
            app.request(
                Method::POST,
                "/auth/apple/native",
                &[("content-type", "application/json")],
                Body::Text(body),
            )
            .await
        });
    }
    let replies = posts.join_all().await;
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        reply.assert_error(400, "invalid_grant");
    }
    assert_eq!(rig.fx.stats().grant("authorization_code").count, 2);
    assert_eq!(rig.h.store.session_count().await, 2);
}

async fn another_apps_expired_or_made_up_apple_code_is_refused(backend: BackendKind) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    // A malicious app's code: Apple refuses it to our bundle id.
    let theirs = rig.fx.sdk_authorization_code(OTHER_APP, None);
    let reply = post_code(&rig.h, "apple", &theirs).await;
    assert_refused(&rig.h, &reply, 400, "invalid_grant").await;

    let expired = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    rig.fx.expire_codes();
    let reply = post_code(&rig.h, "apple", &expired).await;
    assert_refused(&rig.h, &reply, 400, "invalid_grant").await;

    let reply = post_code(&rig.h, "apple", "c0ffee.made-up.code").await;
    assert_refused(&rig.h, &reply, 400, "invalid_grant").await;

    // Without the app's id configured, the code goes out as the Services ID, and Apple
    // refuses a code issued to the app.
    let web_only = apple(backend, &[]).await;
    let code = web_only.fx.sdk_authorization_code(BUNDLE_ID, None);
    let reply = post_code(&web_only.h, "apple", &code).await;
    assert_refused(&web_only.h, &reply, 400, "invalid_grant").await;
    let exchange = web_only.fx.stats().grant("authorization_code");
    assert_eq!(exchange.form("client_id").as_deref(), Some(SERVICES_ID));
}

async fn an_apple_outage_is_retryable_with_the_same_code(backend: BackendKind) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    rig.fx.set_behavior(AppleBehavior {
        token_server_error: Some(503),
        ..AppleBehavior::default()
    });

    let reply = post_code(&rig.h, "apple", &code).await;

    assert_refused(&rig.h, &reply, 503, "provider_unavailable").await;
    rig.fx.set_behavior(AppleBehavior::default());
    session_token(&post_code(&rig.h, "apple", &code).await);
}

/// The `identityToken` of Sign in with Apple's native sheet: `aud` the bundle id, `nonce` the
/// SHA-256 hex of the app's raw nonce, e-mail flags as strings.
async fn an_apple_identity_token_is_accepted_for_our_app_once(backend: BackendKind) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    let raw_nonce = "apple-raw-nonce-0123456789abcdef";
    let hashed = sha256_hex(raw_nonce);
    let token = rig.fx.sdk_identity_token(BUNDLE_ID, Some(&hashed));
    let body = json!({ "id_token": token, "nonce": raw_nonce });

    let session = session_token(&post_native(&rig.h, "apple", &body).await);

    let who = with_bearer(&rig.h, Method::GET, "/auth/session", &session, Body::Empty).await;
    assert_eq!(who.json()["profile"]["email"], "alice@example.com");
    with_bearer(&rig.h, Method::POST, "/auth/refresh", &session, Body::Empty)
        .await
        .assert_error(409, "no_provider_token");
    // The same token again, another app's, and one whose nonce is not the hash of ours.
    let theirs = rig.fx.sdk_identity_token(OTHER_APP, Some(&hashed));
    let other_nonce = rig
        .fx
        .sdk_identity_token(BUNDLE_ID, Some(&sha256_hex("not-ours")));
    for id_token in [token, theirs, other_nonce] {
        let body = json!({ "id_token": id_token, "nonce": raw_nonce });
        post_native(&rig.h, "apple", &body)
            .await
            .assert_error(400, "invalid_grant");
    }
    assert_eq!(rig.h.store.session_count().await, 1);
    assert_eq!(
        rig.fx.stats().token.count,
        0,
        "an id_token needs no exchange"
    );
}

/// Apple names a user only on their first authorization; a native sign-in after a web login
/// shows the name that login kept.
async fn an_apple_native_session_shows_the_name_a_web_login_kept(backend: BackendKind) {
    let rig = apple(backend, &[BUNDLE_ID]).await;
    let before = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    let unnamed = session_token(&post_code(&rig.h, "apple", &before).await);
    let who = with_bearer(&rig.h, Method::GET, "/auth/session", &unnamed, Body::Empty).await;
    assert!(who.json()["profile"]["name"].is_null(), "{who:?}");

    rig.fx.forget_authorizations();
    crate::providers::apple::sign_in(&rig.fx, &mut rig.h.browser()).await;
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    let named = session_token(&post_code(&rig.h, "apple", &code).await);

    let who = with_bearer(&rig.h, Method::GET, "/auth/session", &named, Body::Empty).await;
    assert_eq!(who.json()["profile"]["name"], "Alice Example", "{who:?}");
}

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

// ---- Google ----

struct GoogleRig {
    h: Harness,
    fx: GoogleFixture,
}

/// The Google fixture with our web client, and a harness whose `google` block lists
/// `native_client_ids`.
async fn google(backend: BackendKind, native_client_ids: &[&str]) -> GoogleRig {
    let fx = GoogleFixture::spawn(GoogleSetup {
        web_client_id: WEB_CLIENT.into(),
        web_client_secret: WEB_SECRET.into(),
    })
    .await;
    let ids: Vec<String> = native_client_ids
        .iter()
        .map(|id| format!("{id:?}"))
        .collect();
    let block = format!(
        "preset = \"google\"\nclient_id = \"{WEB_CLIENT}\"\nclient_secret = \"{WEB_SECRET}\"\n\
         issuer = \"{}\"\nnative_client_ids = [{}]\n",
        fx.issuer(),
        ids.join(", ")
    );
    let h = Harness::builder()
        .backend(backend)
        .provider_block("google", &block)
        .spawn()
        .await;
    GoogleRig { h, fx }
}

/// The client id and secret of the last request's HTTP Basic authentication (RFC 6749
/// §2.3.1: each form-urlencoded).
fn basic_client(stats: &EndpointStats) -> (String, String) {
    use base64::Engine;
    let header = stats
        .header("authorization")
        .expect("HTTP Basic client authentication");
    let encoded = header.strip_prefix("Basic ").expect("Basic");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let pair = String::from_utf8(decoded).unwrap();
    let (id, secret) = pair.split_once(':').unwrap();
    let plain = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    (plain(id), plain(secret))
}

/// The `serverAuthCode` an Android app gets when it asks for server access as `server`.
fn server_auth_code(fx: &GoogleFixture, server: &str) -> String {
    fx.sdk_server_auth_code(ServerAuthCode {
        server_client_id: server.into(),
        app_client_id: ANDROID_CLIENT.into(),
        nonce: None,
        offline: true,
    })
}

async fn a_google_server_auth_code_becomes_a_session_that_refreshes_as_the_web_client(
    backend: BackendKind,
) {
    let rig = google(backend, &[WEB_CLIENT, ANDROID_CLIENT]).await;
    let code = server_auth_code(&rig.fx, WEB_CLIENT);

    let session = session_token(&post_code(&rig.h, "google", &code).await);

    let stats = rig.fx.stats();
    let exchange = stats.grant("authorization_code");
    assert_eq!(exchange.count, 1);
    assert_eq!(exchange.form("redirect_uri"), None, "no redirect URI");
    assert_eq!(exchange.form("code_verifier"), None);
    assert_eq!(
        basic_client(&exchange),
        (WEB_CLIENT.into(), WEB_SECRET.into())
    );
    let refresh_token = stats.issued_refresh_tokens[0].clone();
    let who = with_bearer(&rig.h, Method::GET, "/auth/session", &session, Body::Empty).await;
    assert_eq!(who.json()["provider"], "google");
    assert_eq!(who.json()["subject"], "110169484474386276334");
    assert_eq!(who.json()["profile"]["email"], "alice@example.com");
    assert_not_stored(&rig.h, &[&session, &code, &refresh_token]).await;

    // The refreshed id_token names the Android app as azp: still ours.
    let fresh = forced_refresh(&rig.h, &session).await;
    assert!(rig.fx.access_token_is_live(&fresh));
    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
    assert_eq!(
        with_bearer(&rig.h, Method::GET, "/auth/session", &session, Body::Empty)
            .await
            .status,
        StatusCode::OK
    );
    logout(&rig.h, &session).await;
    assert_eq!(rig.fx.stats().revoke.count, 1);
    assert!(!rig.fx.refresh_token_is_live(&refresh_token));
}

async fn google_codes_for_another_server_or_sent_as_the_android_client_are_refused(
    backend: BackendKind,
) {
    let rig = google(backend, &[WEB_CLIENT, ANDROID_CLIENT]).await;
    // Another server's code (a malicious app's serverClientId): Google refuses it to us.
    let theirs = server_auth_code(&rig.fx, "9999-attacker.apps.googleusercontent.com");
    let reply = post_code(&rig.h, "google", &theirs).await;
    assert_refused(&rig.h, &reply, 400, "invalid_grant").await;
    let expired = server_auth_code(&rig.fx, WEB_CLIENT);
    rig.fx.expire_codes();
    let reply = post_code(&rig.h, "google", &expired).await;
    assert_refused(&rig.h, &reply, 400, "invalid_grant").await;

    // With the Android client first, the code goes out as that client, which has no secret at
    // Google: refused (the README says to list the web client first).
    let android_first = google(backend, &[ANDROID_CLIENT, WEB_CLIENT]).await;
    let code = server_auth_code(&android_first.fx, WEB_CLIENT);
    let reply = post_code(&android_first.h, "google", &code).await;
    assert_refused(&android_first.h, &reply, 400, "invalid_grant").await;
    let exchange = android_first.fx.stats().grant("authorization_code");
    assert_eq!(basic_client(&exchange).0, ANDROID_CLIENT);
}

async fn a_google_outage_is_retryable_and_a_replay_never_reaches_google(backend: BackendKind) {
    let rig = google(backend, &[WEB_CLIENT, ANDROID_CLIENT]).await;
    let code = server_auth_code(&rig.fx, WEB_CLIENT);
    rig.fx.set_behavior(GoogleBehavior {
        token_server_error: Some(503),
        ..GoogleBehavior::default()
    });
    let reply = post_code(&rig.h, "google", &code).await;
    assert_refused(&rig.h, &reply, 503, "provider_unavailable").await;

    rig.fx.set_behavior(GoogleBehavior::default());
    session_token(&post_code(&rig.h, "google", &code).await);
    post_code(&rig.h, "google", &code)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(rig.fx.stats().grant("authorization_code").count, 2);
}

/// Credential Manager's id_token: `aud` the web client (`serverClientId`), `azp` the Android
/// client; another app's azp or audience is refused.
async fn a_google_sdk_id_token_is_accepted_for_our_clients_only(backend: BackendKind) {
    let rig = google(backend, &[WEB_CLIENT, ANDROID_CLIENT]).await;
    let nonce = "google-nonce-0123456789abcdef";
    let ours = rig.fx.sdk_id_token(WEB_CLIENT, ANDROID_CLIENT, Some(nonce));
    let reply = post_native(&rig.h, "google", &json!({"id_token": ours, "nonce": nonce})).await;
    let session = session_token(&reply);
    with_bearer(&rig.h, Method::POST, "/auth/refresh", &session, Body::Empty)
        .await
        .assert_error(409, "no_provider_token");

    for (aud, azp) in [
        (
            WEB_CLIENT,
            "5555-attacker-android.apps.googleusercontent.com",
        ),
        (
            "5555-attacker-web.apps.googleusercontent.com",
            ANDROID_CLIENT,
        ),
    ] {
        let theirs = rig.fx.sdk_id_token(aud, azp, Some(nonce));
        let body = json!({"id_token": theirs, "nonce": nonce});
        post_native(&rig.h, "google", &body)
            .await
            .assert_error(400, "invalid_grant");
    }
    assert_eq!(rig.h.store.session_count().await, 1);
}

on_both_stores!(
    an_apple_authorization_code_becomes_a_session_that_refreshes_as_the_app,
    an_apple_code_is_accepted_once_and_a_replay_never_reaches_apple,
    another_apps_expired_or_made_up_apple_code_is_refused,
    an_apple_outage_is_retryable_with_the_same_code,
    an_apple_identity_token_is_accepted_for_our_app_once,
    an_apple_native_session_shows_the_name_a_web_login_kept,
    a_google_server_auth_code_becomes_a_session_that_refreshes_as_the_web_client,
    google_codes_for_another_server_or_sent_as_the_android_client_are_refused,
    a_google_outage_is_retryable_and_a_replay_never_reaches_google,
    a_google_sdk_id_token_is_accepted_for_our_clients_only,
);

#[tokio::test]
async fn a_code_with_anything_else_is_an_invalid_request() {
    let rig = apple(BackendKind::Memory, &[BUNDLE_ID]).await;
    let code = rig.fx.sdk_authorization_code(BUNDLE_ID, None);
    for body in [
        json!({ "authorization_code": code, "refresh_token": "rt" }),
        json!({ "authorization_code": code, "nonce": "n" }),
        json!({ "authorization_code": code, "access_token": "at" }),
        json!({ "authorization_code": "" }),
        json!({ "authorization_code": "x".repeat(4097) }),
        json!({ "authorization_code": 42 }),
    ] {
        let reply = post_native(&rig.h, "apple", &body).await;
        assert_refused(&rig.h, &reply, 400, "invalid_request").await;
    }
    // One key twice (which code would be exchanged?), and a form instead of JSON.
    for (content_type, body) in [
        (
            "application/json",
            format!(r#"{{"authorization_code": "{code}", "authorization_code": "other"}}"#),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("authorization_code={code}"),
        ),
    ] {
        let reply = rig
            .h
            .browser()
            .request(
                Method::POST,
                "/auth/apple/native",
                &[("content-type", content_type)],
                Body::Text(body),
            )
            .await;
        assert_refused(&rig.h, &reply, 400, "invalid_request").await;
    }
    assert_eq!(rig.fx.stats().token.count, 0, "nothing reached Apple");
    // The code was not burnt by the malformed requests.
    session_token(&post_code(&rig.h, "apple", &code).await);
}
