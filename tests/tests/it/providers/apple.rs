//! `preset = "apple"` against the Sign in with Apple fixture: the authorization response comes
//! back as a form POST (the binding cookie must be `SameSite=None`), the client secret is an
//! ES256 JWT minted from the configured `.p8` key and verified by the fixture with the key's
//! public half, the first login's `user` JSON names the user, logout revokes.

use http::{Method, StatusCode};
use integration_tests::fixtures::{AppleAppKey, AppleFixture, AppleSetup};
use integration_tests::{BackendKind, Harness};
use lambda_http::Body;

use super::on_both_stores;

const CLIENT_ID: &str = "com.example.web";
const TEAM_ID: &str = "ABCDE12345";
const KEY_ID: &str = "KEY1234567";

async fn rig(backend: BackendKind) -> (Harness, AppleFixture) {
    let key = AppleAppKey::generate();
    let fx = AppleFixture::spawn(AppleSetup {
        client_id: CLIENT_ID.into(),
        team_id: TEAM_ID.into(),
        key_id: KEY_ID.into(),
        public_key: key.public_key.clone(),
    })
    .await;
    let block = format!(
        "preset = \"apple\"\nclient_id = \"{CLIENT_ID}\"\nteam_id = \"{TEAM_ID}\"\n\
         key_id = \"{KEY_ID}\"\nissuer = \"{}\"\nprivate_key = \"\"\"\n{}\"\"\"\n",
        fx.issuer(),
        key.private_key_pem
    );
    let h = Harness::builder()
        .backend(backend)
        .provider_block("apple", &block)
        .spawn()
        .await;
    (h, fx)
}

async fn apple_signs_in_by_form_post_with_a_minted_secret_and_logs_out(backend: BackendKind) {
    let (h, fx) = rig(backend).await;
    let mut browser = h.browser();

    let login = browser.start_login("apple", Some("/app")).await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    let binding = login.set_cookie("__Host-auth_tx").expect("binding cookie");
    assert_eq!(binding.attribute("SameSite"), Some("None"));
    let form = fx.approve_form_post(login.location()).await;
    assert!(
        form.action.ends_with("/auth/apple/callback"),
        "{}",
        form.action
    );
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.fields.iter())
        .finish();
    let callback = browser
        .request(
            Method::POST,
            "/auth/apple/callback",
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::Text(body),
        )
        .await;
    assert_eq!(callback.status, StatusCode::FOUND, "{callback:?}");
    assert_eq!(callback.location(), "/app");
    assert!(
        fx.stats().client_secret_verified(),
        "the minted client secret verified with the key's public half: {:?}",
        fx.stats().client_secret
    );

    let session = browser.session().await;
    assert_eq!(session.status, StatusCode::OK, "{session:?}");
    let session = session.json();
    assert_eq!(session["provider"], "apple");
    assert!(
        session["profile"]["name"].is_string(),
        "first-login name: {session}"
    );

    let refreshed = browser.refresh(true).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");

    let logout = browser.logout().await;
    assert_eq!(logout.status, StatusCode::OK, "{logout:?}");
    assert_eq!(fx.stats().revoke.count, 1, "revoked at Apple");
    assert_eq!(browser.session().await.status, StatusCode::UNAUTHORIZED);
}

on_both_stores!(apple_signs_in_by_form_post_with_a_minted_secret_and_logs_out);
