//! `preset = "apple"` against the Sign in with Apple fixture: the authorization response comes
//! back as a form POST (the binding cookie must be `SameSite=None`), the client secret is an
//! ES256 JWT minted from the configured `.p8` key and verified by the fixture with the key's
//! public half, the first login's `user` JSON names the user, logout revokes.

use http::{Method, StatusCode};
use integration_tests::fixtures::{AppleAppKey, AppleFixture, AppleSetup, AppleUser, FormPost};
use integration_tests::{BackendKind, Harness, assert_scan_has_no, query_param, sha256_b64url};
use integration_tests::{Browser, Reply};
use lambda_http::Body;

const CLIENT_ID: &str = "com.example.web";
const TEAM_ID: &str = "ABCDE12345";
const KEY_ID: &str = "KEY1234567";
const APP_REDIRECT: &str = "com.example.app:/oauth";

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
        .setting(&format!("mobile_redirects = [\"{APP_REDIRECT}\"]"))
        .spawn()
        .await;
    (h, fx)
}

/// Starts a login in `browser`, has the fixture approve it and posts its form back as the
/// browser would; answers the callback's reply.
pub(crate) async fn sign_in(fx: &AppleFixture, browser: &mut Browser) -> Reply {
    sign_in_at(fx, browser, "/auth/apple/login?return_to=%2Fapp").await
}

/// [`sign_in`] starting at `login_path`.
async fn sign_in_at(fx: &AppleFixture, browser: &mut Browser, login_path: &str) -> Reply {
    let login = browser.get(login_path).await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    let form = fx.approve_form_post(login.location()).await;
    let callback = post_back(browser, &form).await;
    assert_eq!(callback.status, StatusCode::FOUND, "{callback:?}");
    callback
}

/// Posts the fixture's auto-submitting form to our callback, as the browser would.
async fn post_back(browser: &mut Browser, form: &FormPost) -> Reply {
    assert!(
        form.action.ends_with("/auth/apple/callback"),
        "{}",
        form.action
    );
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.fields.iter())
        .finish();
    browser
        .request(
            Method::POST,
            "/auth/apple/callback",
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::Text(body),
        )
        .await
}

/// The name `GET /auth/session` shows for the browser's session.
async fn shown_name(browser: &mut Browser) -> Option<String> {
    let session = browser.session().await;
    assert_eq!(session.status, StatusCode::OK, "{session:?}");
    session.json()["profile"]["name"]
        .as_str()
        .map(str::to_owned)
}

/// Whether Apple's last authorization response carried the first-login `user` field.
fn sent_user_json(fx: &AppleFixture) -> bool {
    let stats = fx.stats();
    stats
        .last_authorization_response
        .iter()
        .any(|(k, _)| k == "user")
}

async fn apple_keeps_the_first_logins_name_for_later_logins(backend: BackendKind) {
    let (h, fx) = rig(backend).await;

    let mut first = h.browser();
    sign_in(&fx, &mut first).await;
    assert!(
        sent_user_json(&fx),
        "Apple names the user on the first login"
    );
    assert_eq!(
        shown_name(&mut first).await.as_deref(),
        Some("Alice Example")
    );
    assert_eq!(h.store.user_count().await, 1, "the name is remembered");

    let mut later = h.browser();
    sign_in(&fx, &mut later).await;
    assert!(!sent_user_json(&fx), "and never again");
    assert_eq!(
        shown_name(&mut later).await.as_deref(),
        Some("Alice Example")
    );

    // Another user's first login names them, and their later logins keep their own name.
    fx.set_user(AppleUser {
        sub: "000999.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.0999".into(),
        first_name: "Bob".into(),
        last_name: "Builder".into(),
        ..AppleUser::default()
    });
    sign_in(&fx, &mut h.browser()).await;
    let mut bob = h.browser();
    sign_in(&fx, &mut bob).await;
    assert!(!sent_user_json(&fx));
    assert_eq!(shown_name(&mut bob).await.as_deref(), Some("Bob Builder"));
    assert_eq!(h.store.user_count().await, 2);

    // Sealed and keyed: the table shows neither the names nor the subjects.
    let alice = AppleUser::default().sub;
    let hidden = [
        "Alice Example",
        "Bob Builder",
        alice.as_str(),
        "000999.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.0999",
    ];
    assert_scan_has_no(&*h.store, &hidden).await;
}

async fn a_user_who_never_gave_a_name_gets_none_and_nothing_is_remembered(backend: BackendKind) {
    let (h, fx) = rig(backend).await;
    let mut behavior = fx.behavior();
    behavior.user_json = Some(false);
    fx.set_behavior(behavior);
    let mut browser = h.browser();
    sign_in(&fx, &mut browser).await;
    assert_eq!(shown_name(&mut browser).await, None);
    assert_eq!(h.store.user_count().await, 0);
}

async fn a_mobile_app_signs_in_with_apple_through_the_hand_off(backend: BackendKind) {
    let (h, fx) = rig(backend).await;
    let verifier = "app-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let login_path = format!(
        "/auth/apple/login?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("app_redirect", APP_REDIRECT)
            .append_pair("code_challenge", &sha256_b64url(verifier))
            .append_pair("code_challenge_method", "S256")
            .finish()
    );
    // The system browser (ASWebAuthenticationSession) holds the binding through Apple's POST.
    let landed = sign_in_at(&fx, &mut h.browser(), &login_path).await;
    let location = landed.location();
    assert!(
        location.starts_with("com.example.app:/oauth?code="),
        "{location}"
    );

    let mut app = h.browser();
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &query_param(location, "code"))
        .append_pair("code_verifier", verifier)
        .finish();
    let content_type = [("content-type", "application/x-www-form-urlencoded")];
    let redeemed = app
        .request(Method::POST, "/auth/token", &content_type, Body::Text(form))
        .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{redeemed:?}");
    let bearer = format!(
        "Bearer {}",
        redeemed.json()["session_token"].as_str().unwrap()
    );
    let authorization = [("authorization", bearer.as_str())];
    let session = app
        .request(Method::GET, "/auth/session", &authorization, Body::Empty)
        .await;
    assert_eq!(session.status, StatusCode::OK, "{session:?}");
    assert_eq!(session.json()["provider"], "apple");
    assert_eq!(session.json()["profile"]["name"], "Alice Example");
    let forced = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let body = Body::Text(r#"{"force":true}"#.into());
    let refreshed = app
        .request(Method::POST, "/auth/refresh", &forced, body)
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_eq!(
        fx.stats().grant("refresh_token").count,
        1,
        "refreshed at Apple"
    );
}

async fn apple_signs_in_by_form_post_with_a_minted_secret_and_logs_out(backend: BackendKind) {
    let (h, fx) = rig(backend).await;
    let mut browser = h.browser();

    let login = browser.start_login("apple", Some("/app")).await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    let binding = login.set_cookie("__Host-auth_tx").expect("binding cookie");
    assert_eq!(binding.attribute("SameSite"), Some("None"));
    let form = fx.approve_form_post(login.location()).await;
    let callback = post_back(&mut browser, &form).await;
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

on_both_stores!(
    apple_signs_in_by_form_post_with_a_minted_secret_and_logs_out,
    apple_keeps_the_first_logins_name_for_later_logins,
    a_user_who_never_gave_a_name_gets_none_and_nothing_is_remembered,
    a_mobile_app_signs_in_with_apple_through_the_hand_off,
);
