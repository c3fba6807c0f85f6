//! `GET /auth/session` and `POST /auth/logout`.

use http::{Method, StatusCode};
use integration_tests::Harness;
use lambda_http::Body;

#[tokio::test]
async fn session_describes_the_signed_in_user_without_tokens() {
    let h = Harness::spawn().await;
    let started = h.now();
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let tokens = h.session_for(&session_id).await.tokens;

    let reply = browser.session().await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token_expires_at",
            "profile",
            "provider",
            "session_expires_at",
            "subject"
        ]
    );
    assert_eq!(body["provider"], "dev");
    assert_eq!(body["subject"], "alice");
    assert_eq!(
        body["profile"],
        serde_json::json!({
            "name": "Alice Example",
            "email": "alice@example.com",
            "picture": "https://example.com/alice.png",
        })
    );
    assert_eq!(body["access_token_expires_at"], started + 3600);
    assert_eq!(body["session_expires_at"], started + 30 * 86_400);
    let id_token = h.stats().issued_id_tokens[0].clone();
    for secret in [
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
        id_token.as_str(),
        session_id.as_str(),
    ] {
        assert!(!reply.body.contains(secret), "a secret in {}", reply.body);
    }
}

#[tokio::test]
async fn session_without_a_valid_session_is_unauthenticated() {
    let h = Harness::spawn().await;
    let mut anonymous = h.browser();
    let mut garbage = h.browser();
    garbage.put_cookie("__Host-session", "garbage");
    let mut unknown = h.browser();
    unknown.put_cookie("__Host-session", &"A".repeat(43));

    for reply in [
        anonymous.session().await,
        garbage.session().await,
        unknown.session().await,
    ] {
        reply.assert_error(401, "unauthenticated");
    }
}

#[tokio::test]
async fn session_ends_after_session_ttl() {
    let h = Harness::builder()
        .setting("session_ttl = \"1h\"")
        .spawn()
        .await;
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;

    h.clock.advance(3599);
    assert_eq!(browser.session().await.status, StatusCode::OK);
    h.clock.advance(2);

    browser.session().await.assert_error(401, "unauthenticated");
    browser
        .refresh(false)
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn session_by_bearer_token() {
    let h = Harness::spawn().await;
    let session_id = h.browser().sign_in("dev", "alice").await;

    let reply = h
        .browser()
        .request(
            Method::GET,
            "/auth/session",
            &[("authorization", &format!("Bearer {session_id}"))],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json()["subject"], "alice");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_ends_the_session() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let refresh_token = h
        .session_for(&session_id)
        .await
        .tokens
        .refresh_token
        .unwrap()
        .expose()
        .to_owned();
    let mut old_cookie = browser.clone();

    let reply = browser.logout().await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["logged_out"], true);
    let end_session = body["end_session_url"].as_str().expect("end_session_url");
    assert!(
        end_session.starts_with(&format!("{}/end-session", h.issuer())),
        "{end_session}"
    );
    assert!(!reply.body.contains(&refresh_token));
    assert_eq!(h.stats().revoked_tokens, vec![refresh_token]);
    let cleared = reply.set_cookie("__Host-session").expect("cookie cleared");
    assert!(cleared.is_removal(), "{cleared:?}");
    // A __Host- cookie is only replaced (deleted) by one with Secure and Path=/.
    assert!(cleared.has("secure"));
    assert_eq!(cleared.attribute("path"), Some("/"));
    assert!(browser.session_id().is_none());
    assert_eq!(h.store.session_count().await, 0);

    old_cookie
        .session()
        .await
        .assert_error(401, "unauthenticated");
    old_cookie
        .refresh(true)
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn logout_by_cookie_needs_the_csrf_header() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;

    let without_header = browser
        .request(Method::POST, "/auth/logout", &[], Body::Empty)
        .await;
    let foreign = browser
        .request(
            Method::POST,
            "/auth/logout",
            &[
                ("x-requested-with", "fetch"),
                ("origin", "https://evil.test"),
            ],
            Body::Empty,
        )
        .await;

    without_header.assert_error(403, "csrf_rejected");
    foreign.assert_error(403, "csrf_rejected");
    assert!(h.stats().revoked_tokens.is_empty());
    assert_eq!(browser.session().await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_session_is_unauthenticated() {
    let h = Harness::spawn().await;

    let reply = h.browser().logout().await;

    reply.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_session_cookie_sent_to_login_is_never_reused() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let first = browser.sign_in("dev", "alice").await;

    // The old session cookie travels with the next login and its callback.
    let second = browser.sign_in("dev", "alice").await;

    assert_ne!(first, second, "the callback issued a new session id");
    assert_eq!(
        h.store.session_count().await,
        1,
        "the replaced session was ended"
    );
    let mut old = h.browser();
    old.put_cookie("__Host-session", &first);
    old.session().await.assert_error(401, "unauthenticated");
    assert_eq!(browser.session().await.status, StatusCode::OK);
}
