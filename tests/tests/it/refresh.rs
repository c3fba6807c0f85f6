//! `POST /auth/refresh`: the cached token, provider refreshes and rotation, failures, and
//! the CSRF / CORS rules of a state-changing cookie request.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dev_provider::Behavior;
use http::{Method, StatusCode};
use integration_tests::{APP_ORIGIN, Browser, Harness, client_id, client_secret};
use lambda_http::Body;

/// The refresh token stored for `session_id`.
async fn stored_refresh_token(h: &Harness, session_id: &str) -> String {
    h.session_for(session_id)
        .await
        .tokens
        .refresh_token
        .expect("a refresh token is stored")
        .expose()
        .to_owned()
}

/// The access token stored for `session_id`.
async fn stored_access_token(h: &Harness, session_id: &str) -> String {
    h.session_for(session_id)
        .await
        .tokens
        .access_token
        .expose()
        .to_owned()
}

async fn signed_in(h: &Harness) -> (Browser, String) {
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    (browser, session_id)
}

#[tokio::test]
async fn refresh_returns_the_stored_access_token_without_calling_the_provider() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let stored = h.session_for(&session_id).await.tokens;

    let reply = browser.refresh(false).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["access_token"], stored.access_token.expose());
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(body["scope"], "openid email profile offline_access");
    assert_eq!(h.stats().refresh_token_grants, 0, "no provider call");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        !keys
            .iter()
            .any(|k| *k == "refresh_token" || *k == "id_token"),
        "{keys:?}"
    );
    assert!(!reply.body.contains(stored.refresh_token.unwrap().expose()));
    assert!(!reply.body.contains(&h.stats().issued_id_tokens[0]));
}

#[tokio::test]
async fn refresh_reports_the_seconds_the_cached_token_has_left() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;

    h.clock.advance(1000);
    let reply = browser.refresh(false).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.json()["expires_in"], 2600);
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn forced_refresh_gets_a_new_token_and_stores_the_rotated_refresh_token() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let first_access = stored_access_token(&h, &session_id).await;
    let first_refresh = stored_refresh_token(&h, &session_id).await;

    let reply = browser.refresh(true).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let new_access = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_access, first_access);
    assert_eq!(new_access, stored_access_token(&h, &session_id).await);
    assert_eq!(h.stats().refresh_token_grants, 1);
    let rotated = stored_refresh_token(&h, &session_id).await;
    assert_ne!(
        rotated, first_refresh,
        "the rotated refresh token is stored"
    );
    assert!(!reply.body.contains(&rotated));

    h.clock.advance(h.app_force_window());
    let again = browser.refresh(true).await;

    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(
        h.stats().refresh_tokens_received,
        vec![first_refresh, rotated],
        "the second refresh presents the rotated token"
    );
}

#[tokio::test]
async fn refresh_renews_a_token_within_refresh_skew_without_force() {
    let h = Harness::spawn().await;
    h.set_behavior(Behavior {
        access_token_expires_in: Some(30),
        ..Behavior::default()
    });
    let (mut browser, session_id) = signed_in(&h).await;
    let old_access = stored_access_token(&h, &session_id).await;

    let reply = browser.refresh(false).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ne!(reply.json()["access_token"], old_access.as_str());
    assert_eq!(h.stats().refresh_token_grants, 1);
}

#[tokio::test]
async fn refresh_skew_boundary_follows_the_clock() {
    let h = Harness::builder()
        .setting("refresh_skew = \"60s\"")
        .spawn()
        .await;
    // The app's clock jumps ahead of the provider's; keep its id_tokens valid meanwhile.
    h.set_behavior(Behavior {
        id_token_exp_offset: Some(86_400),
        ..Behavior::default()
    });
    let (mut browser, _) = signed_in(&h).await;

    h.clock.advance(3539); // 61 s left: still fresh
    let cached = browser.refresh(false).await;
    assert_eq!(cached.status, StatusCode::OK, "{cached:?}");
    assert_eq!(h.stats().refresh_token_grants, 0);

    h.clock.advance(2); // 59 s left: inside the skew
    let renewed = browser.refresh(false).await;
    assert_eq!(renewed.status, StatusCode::OK, "{renewed:?}");
    assert_eq!(h.stats().refresh_token_grants, 1);
    assert_eq!(renewed.json()["expires_in"], 3600);
}

#[tokio::test]
async fn refresh_keeps_the_old_refresh_token_when_the_provider_sends_none() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let original = stored_refresh_token(&h, &session_id).await;
    h.set_behavior(Behavior {
        omit_refresh_token_on_refresh: true,
        ..Behavior::default()
    });

    let first = browser.refresh(true).await;
    h.clock.advance(h.app_force_window());
    let second = browser.refresh(true).await;

    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    assert_eq!(
        h.stats().refresh_tokens_received,
        vec![original.clone(), original.clone()]
    );
    assert_eq!(stored_refresh_token(&h, &session_id).await, original);
}

#[tokio::test]
async fn refresh_rejected_with_invalid_grant_ends_the_session() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;
    let mut stale = browser.clone();
    h.set_behavior(Behavior {
        token_error: Some((400, r#"{"error":"invalid_grant"}"#.into())),
        ..Behavior::default()
    });

    let reply = browser.refresh(true).await;

    reply.assert_error(401, "reauth_required");
    assert_eq!(
        h.store.session_count().await,
        0,
        "session and tokens deleted"
    );
    stale.session().await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn refresh_after_revocation_at_the_provider_requires_reauth() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let refresh_token = stored_refresh_token(&h, &session_id).await;
    let basic = STANDARD.encode(format!("{}:{}", client_id("dev"), client_secret("dev")));
    let revoked = reqwest::Client::new()
        .post(format!("{}/revoke", h.issuer()))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={refresh_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);

    let reply = browser.refresh(true).await;

    reply.assert_error(401, "reauth_required");
    browser.session().await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn refresh_keeps_tokens_when_the_provider_is_unavailable() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let original = stored_refresh_token(&h, &session_id).await;
    let b = Behavior::default;
    let faults = [
        (
            "500",
            Behavior {
                token_error: Some((500, "internal error".into())),
                ..b()
            },
        ),
        (
            "503 with an invalid_grant body",
            Behavior {
                token_error: Some((503, r#"{"error":"invalid_grant"}"#.into())),
                ..b()
            },
        ),
        (
            "502 HTML",
            Behavior {
                token_error: Some((502, "<html>bad gateway</html>".into())),
                ..b()
            },
        ),
        (
            "non-JSON 200",
            Behavior {
                token_error: Some((200, "not JSON".into())),
                ..b()
            },
        ),
        (
            "oversize",
            Behavior {
                token_oversize: true,
                ..b()
            },
        ),
    ];
    for (name, behavior) in faults {
        h.set_behavior(behavior);

        let reply = browser.refresh(true).await;

        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{name}: {reply:?}"
        );
        reply.assert_error(503, "provider_unavailable");
        assert_eq!(
            stored_refresh_token(&h, &session_id).await,
            original,
            "{name}"
        );
    }

    h.set_behavior(Behavior::default());
    let reply = browser.refresh(true).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let received = h.stats().refresh_tokens_received;
    assert_eq!(received.len(), 6);
    assert!(received.iter().all(|t| *t == original), "{received:?}");
}

#[tokio::test]
async fn refresh_gives_up_on_a_stalled_provider_and_keeps_tokens() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let original = stored_refresh_token(&h, &session_id).await;
    h.set_behavior(Behavior {
        token_delay_ms: Some(12_000),
        ..Behavior::default()
    });

    let started = Instant::now();
    let reply = browser.refresh(true).await;
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_millis(11_500), "took {elapsed:?}");
    reply.assert_error(503, "provider_unavailable");
    assert_eq!(stored_refresh_token(&h, &session_id).await, original);
    h.set_behavior(Behavior::default());
    let retry = browser.refresh(true).await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
    assert_eq!(h.stats().refresh_tokens_received.last(), Some(&original));
}

#[tokio::test]
async fn concurrent_refreshes_of_one_session_cause_one_provider_call() {
    // Contract: "Concurrent calls for one session cause one provider call; all get the new token."
    let h = Harness::spawn().await;
    h.set_behavior(Behavior {
        access_token_expires_in: Some(30),
        ..Behavior::default()
    });
    let (mut first, _) = signed_in(&h).await;
    let mut second = first.clone();
    h.set_behavior(Behavior {
        access_token_expires_in: Some(30),
        token_delay_ms: Some(300),
        ..Behavior::default()
    });

    let (a, b) = tokio::join!(first.refresh(false), second.refresh(false));

    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(b.status, StatusCode::OK, "{b:?}");
    assert_eq!(a.json()["access_token"], b.json()["access_token"]);
    assert_eq!(h.stats().refresh_token_grants, 1);
}

#[tokio::test]
async fn refresh_by_cookie_without_x_requested_with_is_csrf_rejected() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;

    let reply = browser
        .request(
            Method::POST,
            "/auth/refresh",
            &[("origin", APP_ORIGIN), ("content-type", "application/json")],
            Body::Text(r#"{"force": true}"#.into()),
        )
        .await;

    reply.assert_error(403, "csrf_rejected");
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn refresh_from_a_foreign_origin_is_csrf_rejected_without_cors_headers() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;

    let reply = browser
        .request(
            Method::POST,
            "/auth/refresh",
            &[
                ("x-requested-with", "fetch"),
                ("origin", "https://evil.test"),
            ],
            Body::Text(r#"{"force": true}"#.into()),
        )
        .await;

    reply.assert_error(403, "csrf_rejected");
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "{reply:?}"
    );
    assert!(reply.header("access-control-allow-credentials").is_none());
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn refresh_from_the_allowed_origin_gets_credentialed_cors_headers() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;

    let reply = browser.refresh(false).await; // X-Requested-With: fetch, Origin: the app

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn refresh_by_cookie_without_an_origin_header_is_allowed() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;

    let reply = browser
        .request(
            Method::POST,
            "/auth/refresh",
            &[("x-requested-with", "fetch")],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn foreign_origins_never_get_cors_headers() {
    let h = Harness::spawn().await;
    let (mut browser, session_id) = signed_in(&h).await;
    let evil = [("origin", "https://evil.test")];
    let bearer = format!("Bearer {session_id}");

    let replies = [
        browser
            .request(Method::GET, "/auth/session", &evil, Body::Empty)
            .await,
        browser
            .request(
                Method::OPTIONS,
                "/auth/refresh",
                &[
                    ("origin", "https://evil.test"),
                    ("access-control-request-method", "POST"),
                ],
                Body::Empty,
            )
            .await,
        h.browser()
            .request(
                Method::POST,
                "/auth/refresh",
                &[("origin", "https://evil.test"), ("authorization", &bearer)],
                Body::Empty,
            )
            .await,
    ];

    for reply in replies {
        assert!(reply.status.as_u16() < 500, "{reply:?}");
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{reply:?}"
        );
        assert!(
            reply.header("access-control-allow-credentials").is_none(),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn refresh_by_bearer_session_token_needs_no_csrf_header() {
    let h = Harness::spawn().await;
    let (_, session_id) = signed_in(&h).await;
    let mut app = h.browser(); // no cookies

    let reply = app
        .request(
            Method::POST,
            "/auth/refresh",
            &[("authorization", &format!("Bearer {session_id}"))],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.json()["access_token"],
        h.session_for(&session_id)
            .await
            .tokens
            .access_token
            .expose()
    );
}

#[tokio::test]
async fn refresh_without_a_session_is_unauthenticated() {
    let h = Harness::spawn().await;
    let (_, _) = signed_in(&h).await;
    let mut anonymous = h.browser();
    let mut unknown = h.browser();
    unknown.put_cookie("__Host-session", &"A".repeat(43));
    let mut wrong_bearer = h.browser();

    let replies = [
        anonymous.refresh(false).await,
        unknown.refresh(false).await,
        wrong_bearer
            .request(
                Method::POST,
                "/auth/refresh",
                &[("authorization", &format!("Bearer {}", "B".repeat(43)))],
                Body::Empty,
            )
            .await,
    ];

    for reply in replies {
        reply.assert_error(401, "unauthenticated");
    }
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn refresh_answers_other_methods_with_405() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = browser
            .request(
                method.clone(),
                "/auth/refresh",
                &[("x-requested-with", "fetch")],
                Body::Empty,
            )
            .await;

        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}: {reply:?}"
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn refresh_with_a_malformed_body_is_invalid_request() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;
    for body in [
        r#"{"force": tru"#,
        "[1, 2]",
        r#"{"force": "yes"}"#,
        "force=true",
        "null",
    ] {
        let reply = browser.fetch_post("/auth/refresh", Some(body)).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
        reply.assert_error(400, "invalid_request");
    }
    assert_eq!(h.stats().refresh_token_grants, 0);
}

#[tokio::test]
async fn a_forced_refresh_right_after_another_returns_its_token() {
    let h = Harness::spawn().await;
    let (mut browser, _) = signed_in(&h).await;
    let first = browser.refresh(true).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");

    let again = browser.refresh(true).await;

    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.json()["access_token"], first.json()["access_token"]);
    assert_eq!(
        h.stats().refresh_token_grants,
        1,
        "coalesced, no second grant"
    );

    h.clock.advance(h.app_force_window());
    let later = browser.refresh(true).await;
    assert_eq!(later.status, StatusCode::OK, "{later:?}");
    assert_ne!(later.json()["access_token"], first.json()["access_token"]);
    assert_eq!(
        h.stats().refresh_token_grants,
        2,
        "past the window, a new grant"
    );
}

#[tokio::test]
async fn the_force_window_can_be_switched_off() {
    let h = Harness::builder()
        .setting("force_refresh_window = \"0s\"")
        .spawn()
        .await;
    let (mut browser, _) = signed_in(&h).await;
    for _ in 0..2 {
        let r = browser.refresh(true).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    assert_eq!(h.stats().refresh_token_grants, 2);
}
