//! Malformed input is refused at the edge with the contract's code, before any store or
//! provider call; what was stored and then edited reads as absent, never as a 500.

use dev_provider::Behavior;
use http::{Method, StatusCode};
use integration_tests::Harness;
use lambda_http::Body;
use shared::store::item::{Attr, attr};

#[tokio::test]
async fn malformed_login_parameters_get_the_parameters_own_error_code() {
    let h = Harness::spawn().await;
    for (query, code) in [
        ("return_to=%zz", "invalid_return_to"),
        ("return_to=/a%00b", "invalid_return_to"),
        ("return_to=/a%0d%0aSet-Cookie:x", "invalid_return_to"),
        ("return_to=/%ff%fe", "invalid_return_to"),
        (
            "app_redirect=com.example.app:/oauth%0a",
            "invalid_app_redirect",
        ),
        ("prompt=%zz", "invalid_request"),
        ("x%00=1", "invalid_request"),
    ] {
        let reply = h.browser().get(&format!("/auth/dev/login?{query}")).await;
        reply.assert_error(400, code);
    }
    assert_eq!(h.stats().discovery_requests, 0, "no provider call");
    assert_eq!(h.store.item_count().await, 0, "nothing stored");
}

#[tokio::test]
async fn a_malformed_callback_is_refused_without_consuming_the_login() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", Some("/app")).await;
    let code = pending.code();
    let state = pending.state.clone();

    for (query, error) in [
        (format!("code={code}%00&state={state}"), "invalid_request"),
        (format!("code={code}&state={state}%0a"), "invalid_state"),
        (format!("code=%zz&state={state}"), "invalid_request"),
        (
            format!("code={code}&state={state}&iss=%ff"),
            "invalid_request",
        ),
    ] {
        let reply = browser.get(&format!("/auth/dev/callback?{query}")).await;
        reply.assert_error(400, error);
    }
    assert_eq!(h.stats().authorization_code_grants, 0, "no code exchange");

    let signed_in = browser.follow(&pending.callback_url).await;
    assert_eq!(signed_in.status, StatusCode::FOUND, "{signed_in:?}");
    assert_eq!(signed_in.location(), "/app", "the login was still there");
}

#[tokio::test]
async fn a_malformed_hand_off_form_is_invalid_request() {
    let h = Harness::spawn().await;
    for body in [
        "code=%zz&code_verifier=x",
        "code=a%00&code_verifier=b",
        "code=%ff",
    ] {
        let reply = h
            .browser()
            .request(
                Method::POST,
                "/auth/token",
                &[("content-type", "application/x-www-form-urlencoded")],
                Body::Text(body.into()),
            )
            .await;
        reply.assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_token_response_without_token_type_bearer_fails_the_login() {
    let h = Harness::spawn().await;
    for body in [
        r#"{"access_token":"at","expires_in":3600}"#,
        r#"{"access_token":"at","token_type":"N_A"}"#,
        r#"{"error":"invalid_grant","access_token":"at","token_type":"Bearer"}"#,
    ] {
        h.assert_login_failed(
            body,
            Behavior {
                token_error: Some((200, body.into())),
                ..Behavior::default()
            },
        )
        .await;
    }
}

#[tokio::test]
async fn an_edited_session_row_is_unauthenticated_not_a_server_error() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let pk = format!("session#{}", integration_tests::sha256_b64url(&session_id));

    h.store
        .edit_item(&pk, |item| {
            item.insert(attr::EXPIRES_AT.into(), Attr::N(u64::MAX / 2));
        })
        .await;

    browser.session().await.assert_error(401, "unauthenticated");
    browser
        .refresh(true)
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(h.stats().refresh_token_grants, 0);
}
