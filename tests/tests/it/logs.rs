//! Logs never carry a secret: the client secret, the code, the state, the PKCE verifier, the
//! session id, the transaction cookie, or any provider token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dev_provider::Behavior;
use http::StatusCode;
use integration_tests::{CapturedLogs, Harness, client_id, client_secret, form_value, query_param};

// A current-thread runtime (the default of #[tokio::test]), so every event of the handler
// happens on this thread and reaches the thread-local subscriber.
#[tokio::test]
async fn logs_never_contain_secrets() {
    let logs = CapturedLogs::new();
    let _guard = logs.install();
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let mut secrets: Vec<(&str, String)> = vec![
        ("client secret", client_secret("dev")),
        (
            "basic credentials",
            STANDARD.encode(format!("{}:{}", client_id("dev"), client_secret("dev"))),
        ),
    ];

    // A failed login: error paths log reasons.
    h.set_behavior(Behavior {
        id_token_bad_signature: true,
        ..Behavior::default()
    });
    let failed = browser.begin("dev", "alice", None).await;
    secrets.push(("failed login's code", failed.code()));
    assert_eq!(
        browser.follow(&failed.callback_url).await.location(),
        "/?error=login_failed"
    );
    h.set_behavior(Behavior::default());

    // login → callback → refresh (forced, then a failing one) → logout
    let pending = browser.begin("dev", "alice", None).await;
    secrets.push((
        "transaction cookie",
        browser.cookie("__Host-auth_tx").unwrap(),
    ));
    secrets.push(("state", pending.state.clone()));
    secrets.push(("nonce", query_param(&pending.authorization_url, "nonce")));
    secrets.push(("code", pending.code()));
    let signed_in = browser.follow(&pending.callback_url).await;
    assert_eq!(signed_in.status, StatusCode::FOUND, "{signed_in:?}");
    secrets.push((
        "code verifier",
        form_value(&h.stats().last_token_form, "code_verifier").unwrap(),
    ));
    let session_id = browser.session_id().unwrap();
    let tokens = h.session_for(&session_id).await.tokens;
    secrets.push(("session id", session_id.clone()));
    secrets.push(("access token", tokens.access_token.expose().to_owned()));
    secrets.push((
        "refresh token",
        tokens.refresh_token.unwrap().expose().to_owned(),
    ));
    secrets.push(("id_token", h.stats().issued_id_tokens[0].clone()));

    let refreshed = browser.refresh(true).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let tokens = h.session_for(&session_id).await.tokens;
    secrets.push((
        "refreshed access token",
        tokens.access_token.expose().to_owned(),
    ));
    secrets.push((
        "rotated refresh token",
        tokens.refresh_token.unwrap().expose().to_owned(),
    ));
    h.set_behavior(Behavior {
        token_error: Some((500, "provider down".into())),
        ..Behavior::default()
    });
    h.clock.advance(h.app_force_window());
    assert_eq!(
        browser.refresh(true).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    h.set_behavior(Behavior::default());
    let logout = browser.logout().await;
    assert_eq!(logout.status, StatusCode::OK, "{logout:?}");

    let text = logs.text();
    // The capture must have seen every request (each logs with its request id), or this test
    // could not fail: 2 logins, 2 callbacks, 2 refreshes, 1 logout.
    let request_lines = text.lines().filter(|l| l.contains("request_id")).count();
    assert!(request_lines >= 7, "every request logged: {text}");
    for (name, secret) in &secrets {
        assert!(!secret.is_empty(), "{name}");
        assert!(
            !text.contains(secret.as_str()),
            "the {name} was logged:\n{text}"
        );
    }
}
