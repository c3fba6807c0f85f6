//! The mobile flow (RFC 8252): login with the app's redirect and S256 challenge, a one-time
//! hand-off code at the app's redirect, redeemed at `POST /auth/token` for a bearer session.

use http::{Method, StatusCode};
use integration_tests::{Browser, Harness, sha256_b64url};
use lambda_http::Body;

pub(crate) const APP_REDIRECT: &str = "com.example.app:/oauth";
/// An RFC 7636 verifier (43–128 unreserved characters) and its S256 challenge.
pub(crate) const VERIFIER: &str = "app-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

fn challenge() -> String {
    sha256_b64url(VERIFIER)
}

pub(crate) async fn mobile_harness() -> Harness {
    Harness::builder()
        .setting(r#"mobile_redirects = ["com.example.app:/oauth", "http://127.0.0.1/cb"]"#)
        .spawn()
        .await
}

fn login_path(app_redirect: &str, challenge: &str, method: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("app_redirect", app_redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", method)
        .finish();
    format!("/auth/dev/login?{q}")
}

/// Runs the browser part of a mobile login; returns where the browser was finally sent.
pub(crate) async fn browser_part(h: &Harness, browser: &mut Browser, app_redirect: &str) -> String {
    let login = browser
        .get(&login_path(app_redirect, &challenge(), "S256"))
        .await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    let callback = h.provider.approve(login.location(), "mia").unwrap();
    let done = browser.follow(&callback).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert!(
        done.set_cookie("__Host-session").is_none(),
        "a mobile login sets no session cookie"
    );
    done.location().to_owned()
}

pub(crate) async fn redeem(
    browser: &mut Browser,
    code: &str,
    verifier: &str,
) -> integration_tests::Reply {
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("code_verifier", verifier)
        .finish();
    browser
        .request(
            Method::POST,
            "/auth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::Text(form),
        )
        .await
}

#[tokio::test]
async fn mobile_login_hands_off_a_one_time_code_redeemed_for_a_bearer_session() {
    let h = mobile_harness().await;
    let mut browser = h.browser();

    let landed = browser_part(&h, &mut browser, APP_REDIRECT).await;
    assert!(
        landed.starts_with("com.example.app:/oauth?code="),
        "{landed}"
    );
    let code = integration_tests::query_param(&landed, "code");
    let mut app = h.browser();
    let redeemed = redeem(&mut app, &code, VERIFIER).await;

    assert_eq!(redeemed.status, StatusCode::OK, "{redeemed:?}");
    let body = redeemed.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 30 * 86_400);
    let token = body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    let bearer = format!("Bearer {token}");
    let session = app
        .request(
            Method::GET,
            "/auth/session",
            &[("authorization", &bearer)],
            Body::Empty,
        )
        .await;
    assert_eq!(session.status, StatusCode::OK, "{session:?}");
    assert_eq!(session.json()["subject"], "mia");
    let refreshed = app
        .request(
            Method::POST,
            "/auth/refresh",
            &[("authorization", &bearer)],
            Body::Empty,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    // The session exists only from redemption on, stored under the token's hash.
    assert!(h.stored_session(&sha256_b64url(&token)).await.is_some());
}

#[tokio::test]
async fn a_hand_off_code_works_once() {
    let h = mobile_harness().await;
    let mut browser = h.browser();
    let code =
        integration_tests::query_param(&browser_part(&h, &mut browser, APP_REDIRECT).await, "code");
    let mut app = h.browser();

    assert_eq!(
        redeem(&mut app, &code, VERIFIER).await.status,
        StatusCode::OK
    );
    redeem(&mut app, &code, VERIFIER)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.store.session_count().await, 1);
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_burns_the_code() {
    let h = mobile_harness().await;
    let mut browser = h.browser();
    let code =
        integration_tests::query_param(&browser_part(&h, &mut browser, APP_REDIRECT).await, "code");
    let mut app = h.browser();

    redeem(
        &mut app,
        &code,
        "another-verifier-0123456789-abcdefghijklmnopqrs",
    )
    .await
    .assert_error(400, "invalid_grant");
    redeem(&mut app, &code, VERIFIER)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(h.store.session_count().await, 0);
}

#[tokio::test]
async fn a_hand_off_code_expires_after_60_seconds() {
    let h = mobile_harness().await;
    h.set_behavior(dev_provider::Behavior {
        id_token_exp_offset: Some(86_400),
        ..dev_provider::Behavior::default()
    });
    let mut browser = h.browser();
    let code =
        integration_tests::query_param(&browser_part(&h, &mut browser, APP_REDIRECT).await, "code");
    let mut app = h.browser();

    h.clock.advance(61);

    redeem(&mut app, &code, VERIFIER)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn the_token_endpoint_accepts_json_and_refuses_malformed_requests() {
    let h = mobile_harness().await;
    let mut browser = h.browser();
    let code =
        integration_tests::query_param(&browser_part(&h, &mut browser, APP_REDIRECT).await, "code");
    let mut app = h.browser();

    let missing = app
        .request(
            Method::POST,
            "/auth/token",
            &[("content-type", "application/json")],
            Body::Text(r#"{"code": "x"}"#.into()),
        )
        .await;
    missing.assert_error(400, "invalid_request");
    let garbage = app
        .request(
            Method::POST,
            "/auth/token",
            &[("content-type", "application/json")],
            Body::Text("{not json".into()),
        )
        .await;
    garbage.assert_error(400, "invalid_request");
    let json = serde_json::json!({"code": code, "code_verifier": VERIFIER}).to_string();
    let ok = app
        .request(
            Method::POST,
            "/auth/token",
            &[("content-type", "application/json")],
            Body::Text(json),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
}

#[tokio::test]
async fn unregistered_app_redirects_are_refused_without_a_redirect() {
    let h = mobile_harness().await;

    for bad in [
        "com.example.app:/other",
        "com.evil.app:/oauth",
        "https://evil.test/oauth",
        "http://localhost:5000/cb",
        "http://127.0.0.1:5000/cb/extra",
        "com.example.app:/oauth#frag",
    ] {
        let reply = h
            .browser()
            .get(&login_path(bad, &challenge(), "S256"))
            .await;
        reply.assert_error(400, "invalid_app_redirect");
        assert!(reply.header("location").is_none(), "{bad}");
    }
    assert_eq!(h.store.transaction_count().await, 0);
}

#[tokio::test]
async fn a_mobile_login_needs_an_s256_challenge() {
    let h = mobile_harness().await;

    for (challenge, method) in [
        (challenge(), "plain"),
        (challenge(), ""),
        (String::new(), "S256"),
        ("too-short".to_owned(), "S256"),
        (VERIFIER.to_owned(), "plain"),
    ] {
        let reply = h
            .browser()
            .get(&login_path(APP_REDIRECT, &challenge, method))
            .await;
        reply.assert_error(400, "invalid_request");
    }
    let no_challenge = h
        .browser()
        .get("/auth/dev/login?app_redirect=com.example.app%3A%2Foauth")
        .await;
    no_challenge.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn a_registered_loopback_redirect_matches_on_any_port() {
    let h = mobile_harness().await;
    let mut browser = h.browser();

    let landed = browser_part(&h, &mut browser, "http://127.0.0.1:53117/cb").await;

    assert!(
        landed.starts_with("http://127.0.0.1:53117/cb?code="),
        "{landed}"
    );
}

#[tokio::test]
async fn a_provider_denial_in_a_mobile_login_goes_back_to_the_app() {
    let h = mobile_harness().await;
    let mut browser = h.browser();
    let login = browser
        .get(&login_path(APP_REDIRECT, &challenge(), "S256"))
        .await;
    let state = integration_tests::query_param(login.location(), "state");
    let iss: String = url::form_urlencoded::byte_serialize(h.issuer().as_bytes()).collect();

    let done = browser
        .get(&format!(
            "/auth/dev/callback?error=access_denied&error_description=nope&state={state}&iss={iss}"
        ))
        .await;

    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(
        done.location(),
        "com.example.app:/oauth?error=access_denied"
    );
}
