//! `response_mode = "form_post"` (OAuth 2.0 Form Post Response Mode, as Sign in with Apple
//! answers): the callback arrives as a cross-site `POST` with a form body. The binding cookie
//! is `SameSite=None` so the browser sends it on that POST; the same single-use, binding and
//! `iss` rules as the GET callback apply.

use http::{Method, StatusCode};
use integration_tests::{Harness, query_param};
use lambda_http::Body;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn form_post_harness() -> Harness {
    Harness::builder()
        .provider("dev", "response_mode = \"form_post\"")
        .spawn()
        .await
}

/// The authorization response the provider would post: the callback URL's query as a body.
fn form_of(callback_url: &str) -> String {
    callback_url
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_form_post_login_signs_in_through_a_cross_site_post() {
    let h = form_post_harness().await;
    let mut browser = h.browser();
    let login = browser.start_login("dev", Some("/app")).await;
    assert_eq!(query_param(login.location(), "response_mode"), "form_post");
    let binding = login.set_cookie("__Host-auth_tx").expect("binding cookie");
    assert_eq!(binding.attribute("SameSite"), Some("None"));
    assert!(binding.has("Secure") && binding.has("HttpOnly"));

    let pending = browser.begin("dev", "alice", Some("/app")).await;
    let body = form_of(&pending.callback_url);
    let reply = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(body.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/app");
    assert_eq!(browser.session().await.status, StatusCode::OK);

    let replay = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(body),
        )
        .await;
    replay.assert_error(400, "invalid_state");
}

#[tokio::test]
async fn a_forged_post_without_the_binding_cookie_is_refused_and_consumes_nothing() {
    let h = form_post_harness().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", None).await;
    let body = form_of(&pending.callback_url);
    let mut attacker = h.browser();
    let forged = attacker
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(body.clone()),
        )
        .await;
    forged.assert_error(400, "invalid_state");
    assert_eq!(h.stats().authorization_code_grants, 0, "no code exchanged");
    let genuine = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(body),
        )
        .await;
    assert_eq!(genuine.status, StatusCode::FOUND, "{genuine:?}");
}

#[tokio::test]
async fn a_form_callback_that_is_not_a_form_is_invalid_request() {
    let h = form_post_harness().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", None).await;
    let body = form_of(&pending.callback_url);
    for content_type in ["application/json", "text/plain", "multipart/form-data"] {
        let reply = browser
            .request(
                Method::POST,
                "/auth/dev/callback",
                &[("content-type", content_type)],
                Body::Text(body.clone()),
            )
            .await;
        reply.assert_error(400, "invalid_request");
    }
    let too_big = format!("{body}&pad={}", "x".repeat(9 * 1024));
    let reply = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(too_big),
        )
        .await;
    reply.assert_error(400, "invalid_request");
    assert_eq!(h.stats().authorization_code_grants, 0);
}

#[tokio::test]
async fn a_provider_without_form_post_refuses_a_posted_callback_with_405() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", None).await;
    let reply = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &[FORM],
            Body::Text(form_of(&pending.callback_url)),
        )
        .await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
    let login = browser.start_login("dev", None).await;
    let binding = login.set_cookie("__Host-auth_tx").expect("binding cookie");
    assert_eq!(
        binding.attribute("SameSite"),
        Some("Lax"),
        "Lax for every other provider"
    );
}
