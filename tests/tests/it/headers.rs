//! Headers every auth response carries, and the shape of every error.

use http::{Method, StatusCode};
use integration_tests::{Harness, Reply};
use lambda_http::Body;

#[tokio::test]
async fn every_auth_response_is_uncacheable_and_every_error_is_contract_json() {
    let h = Harness::spawn().await;
    let mut replies: Vec<(&str, Reply)> = Vec::new();

    let mut browser = h.browser();
    replies.push(("login ok", browser.start_login("dev", None).await));
    replies.push((
        "login unknown provider",
        browser.start_login("nope", None).await,
    ));
    replies.push((
        "login bad return_to",
        browser.start_login("dev", Some("//evil.test")).await,
    ));
    let pending = browser.begin("dev", "alice", None).await;
    let mut stranger = h.browser();
    replies.push((
        "callback invalid_state",
        stranger.follow(&pending.callback_url).await,
    ));
    replies.push(("callback ok", browser.follow(&pending.callback_url).await));
    replies.push((
        "callback replayed",
        browser.follow(&pending.callback_url).await,
    ));
    replies.push(("refresh ok", browser.refresh(false).await));
    replies.push(("refresh unauthenticated", h.browser().refresh(false).await));
    replies.push((
        "refresh csrf",
        browser
            .request(Method::POST, "/auth/refresh", &[], Body::Empty)
            .await,
    ));
    replies.push((
        "refresh bad body",
        browser.fetch_post("/auth/refresh", Some("{")).await,
    ));
    replies.push(("refresh wrong method", browser.get("/auth/refresh").await));
    replies.push(("session ok", browser.session().await));
    replies.push(("session unauthenticated", h.browser().session().await));
    replies.push((
        "session wrong method",
        browser
            .request(Method::DELETE, "/auth/session", &[], Body::Empty)
            .await,
    ));
    replies.push(("logout unauthenticated", h.browser().logout().await));
    replies.push(("logout ok", browser.logout().await));
    replies.push((
        "unknown route",
        browser.get("/auth/nothing/here/at/all").await,
    ));

    let statuses: Vec<u16> = replies.iter().map(|(_, r)| r.status.as_u16()).collect();
    assert!(statuses.contains(&200) && statuses.contains(&302) && statuses.contains(&401));
    for (name, reply) in &replies {
        assert_eq!(
            reply.header("cache-control"),
            Some("no-store"),
            "{name}: {reply:?}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{name}: {reply:?}"
        );
        if reply.status.as_u16() >= 400 {
            assert_eq!(
                reply.header("content-type"),
                Some("application/json"),
                "{name}: {reply:?}"
            );
            let body = reply.json();
            let object = body.as_object().unwrap_or_else(|| panic!("{name}: {body}"));
            assert!(body["error"].is_string(), "{name}: {body}");
            assert!(body["error_description"].is_string(), "{name}: {body}");
            assert_eq!(object.len(), 2, "{name}: {body}");
        }
        assert!(reply.status != StatusCode::INTERNAL_SERVER_ERROR, "{name}");
    }
}
