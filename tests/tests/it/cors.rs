//! CORS: answers (preflight included) only for `allowed_origins`, with credentials, never
//! reflecting another origin.

use http::{Method, StatusCode};
use integration_tests::{APP_ORIGIN, Harness};
use lambda_http::Body;

async fn preflight(h: &Harness, path: &str, origin: &str) -> integration_tests::Reply {
    h.browser()
        .request(
            Method::OPTIONS,
            path,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "x-requested-with, content-type",
                ),
            ],
            Body::Empty,
        )
        .await
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_admits_credentials_and_the_csrf_header() {
    let h = Harness::spawn().await;

    for path in ["/auth/refresh", "/auth/logout", "/auth/session"] {
        let reply = preflight(&h, path, APP_ORIGIN).await;

        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}: {reply:?}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(APP_ORIGIN)
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        let allowed = reply
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(allowed.contains("x-requested-with"), "{path}: {allowed}");
        assert!(
            reply
                .header("access-control-allow-methods")
                .is_some_and(|m| m.contains("POST")),
            "{path}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn preflight_from_a_foreign_origin_gets_no_cors_permission() {
    let h = Harness::spawn().await;

    for origin in [
        "https://evil.test",
        "null",
        "https://app.example.test.evil.test",
    ] {
        let reply = preflight(&h, "/auth/refresh", origin).await;

        assert!(reply.status.is_success(), "{origin}: {reply:?}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            None,
            "{origin}"
        );
        assert_eq!(
            reply.header("access-control-allow-headers"),
            None,
            "{origin}"
        );
        assert!(!reply.body.contains(origin), "{origin} reflected");
    }
}

#[tokio::test]
async fn cors_never_uses_a_wildcard() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;

    let reply = browser
        .request(
            Method::POST,
            "/auth/refresh",
            &[("origin", APP_ORIGIN), ("x-requested-with", "fetch")],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(
        reply
            .header("vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_preflight_on_an_api_allows_that_apis_methods_and_the_headers_passed_on() {
    let h = Harness::builder()
        .setting(
            "apis.files = { provider = \"dev\", base_url = \"https://files.example.test\", \
             methods = [\"GET\", \"PUT\", \"DELETE\"] }",
        )
        .spawn()
        .await;
    let reply = h
        .browser()
        .request(
            Method::OPTIONS,
            "/api/files/docs/1",
            &[
                ("origin", APP_ORIGIN),
                ("access-control-request-method", "PUT"),
                (
                    "access-control-request-headers",
                    "if-match, x-requested-with",
                ),
            ],
            Body::Empty,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    let headers = reply
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers.contains("if-match") && headers.contains("x-requested-with"),
        "{headers}"
    );

    let unknown = h
        .browser()
        .request(
            Method::OPTIONS,
            "/api/nope/x",
            &[
                ("origin", APP_ORIGIN),
                ("access-control-request-method", "GET"),
            ],
            Body::Empty,
        )
        .await;
    assert_eq!(unknown.header("access-control-allow-methods"), None);
}
