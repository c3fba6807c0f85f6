//! `ANY /api/{api}/{path}`: a signed-in browser (or app) calls an upstream API through the
//! token handler, which attaches the session's access token, keeps the path under the API's
//! base, filters headers both ways, refreshes a due token first and heals one upstream 401 with
//! one refresh shared by every concurrent caller. The upstream records what it received.

use std::sync::Arc;

use dev_provider::Behavior;
use http::{Method, StatusCode};
use integration_tests::upstream::UpstreamApi;
use integration_tests::{APP_ORIGIN, BackendKind, Browser, Harness, Reply};
use lambda_http::Body;

/// Seconds after sign-in when the dev provider's one-hour token is inside the 60 s refresh
/// skew: due for a refresh, not yet expired.
const DUE_AFTER: u64 = 3541;

/// The API's base path at the upstream: calls must stay under it.
const BASE_PATH: &str = "/v1";

pub(crate) async fn rig(backend: BackendKind, methods: &str) -> (Harness, UpstreamApi) {
    let up = UpstreamApi::spawn().await;
    let h = Harness::builder()
        .backend(backend)
        // Concurrent callers share a refresh by the single flight alone, not by the window
        // that coalesces forced refreshes.
        .setting("force_refresh_window = \"0s\"")
        .setting(&format!(
            "apis.up = {{ provider = \"dev\", base_url = \"{}{BASE_PATH}\"{methods} }}",
            up.base_url()
        ))
        .spawn()
        .await;
    (h, up)
}

/// A signed-in browser and its session's access token as stored.
pub(crate) async fn signed_in(h: &Harness) -> (Browser, String) {
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let token = h
        .session_for(&session_id)
        .await
        .tokens
        .access_token
        .expose()
        .to_owned();
    (browser, token)
}

/// `method path` the way the SPA's `fetch` sends it (cookie, CSRF header, allowed origin).
pub(crate) async fn call(browser: &mut Browser, method: Method, path: &str) -> Reply {
    call_with(browser, method, path, &[]).await
}

async fn call_with(
    browser: &mut Browser,
    method: Method,
    path: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("x-requested-with", "fetch"), ("origin", APP_ORIGIN)];
    headers.extend_from_slice(extra);
    browser.request(method, path, &headers, Body::Empty).await
}

/// Moves the app's clock to [`DUE_AFTER`], keeping the provider's id_tokens valid meanwhile
/// (the provider's clock does not move).
fn jump_ahead(h: &Harness) {
    h.set_behavior(Behavior {
        id_token_exp_offset: Some(86_400),
        ..Behavior::default()
    });
    h.clock.advance(DUE_AFTER);
}

fn refresh_grants(h: &Harness) -> usize {
    h.provider.stats().refresh_token_grants
}

async fn a_browser_calls_the_api_with_the_session_token_and_never_sees_it(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, token) = signed_in(&h).await;

    let reply = call(
        &mut browser,
        Method::GET,
        "/api/up/users/me?fields=a%20b&x=1",
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["path"], "/v1/users/me");
    assert_eq!(body["query"], "fields=a%20b&x=1");
    assert!(
        !reply.body.contains(&token),
        "the page never sees the token"
    );
    let received = up.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].bearer().as_deref(), Some(token.as_str()));
    assert_eq!(refresh_grants(&h), 0, "a fresh token is not refreshed");
}

async fn only_allowlisted_headers_reach_the_api(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, token) = signed_in(&h).await;
    let extra = [
        ("accept", "application/json"),
        ("accept-language", "ko-KR"),
        ("if-none-match", "\"v1\""),
        ("x-custom", "1"),
        ("x-forwarded-for", "10.0.0.1"),
    ];

    let reply = call_with(&mut browser, Method::GET, "/api/up/x", &extra).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let got = &up.received()[0];
    assert_eq!(got.header("accept"), Some("application/json"));
    assert_eq!(got.header("accept-language"), Some("ko-KR"));
    assert_eq!(got.header("if-none-match"), Some("\"v1\""));
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    for absent in [
        "cookie",
        "x-custom",
        "x-forwarded-for",
        "x-requested-with",
        "origin",
    ] {
        assert_eq!(got.header(absent), None, "{absent} reached the API");
    }
}

async fn the_apis_cookies_hop_by_hop_and_cors_headers_do_not_come_back(backend: BackendKind) {
    let (h, _up) = rig(backend, "").await;
    let (mut browser, _) = signed_in(&h).await;

    let reply = call(&mut browser, Method::GET, "/api/up/_/headers").await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
    assert_eq!(reply.header("x-hop"), None);
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert_eq!(reply.header("etag"), Some("\"v7\""));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN),
        "our CORS, not the API's *"
    );
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("sandbox") && !csp.contains("script-src *"),
        "{csp}"
    );
}

async fn paths_that_leave_the_base_are_refused_before_any_call(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, _) = signed_in(&h).await;
    for path in [
        "/api/up/../admin",
        "/api/up/a/../../admin",
        "/api/up/%2e%2e/admin",
        "/api/up/.%2E/admin",
        "/api/up/..%2fadmin",
        "/api/up/a%2F..%2F..%2Fadmin",
        "/api/up/..%5cadmin",
        "/api/up/%252e%252e/admin",
        "/api/up/..;/admin",
        "/api/up/..%3B/admin",
        "/api/up/a%zz",
    ] {
        let reply = call(&mut browser, Method::GET, path).await;
        reply.assert_error(400, "invalid_request");
    }
    assert!(up.received().is_empty(), "nothing reached the API");
    // Inside the base, dot segments are resolved before the call.
    let reply = call(&mut browser, Method::GET, "/api/up/a/b/../c").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(up.received()[0].path, "/v1/a/c");
}

async fn unknown_apis_methods_not_listed_and_callers_without_a_session_are_refused(
    backend: BackendKind,
) {
    let (h, up) = rig(backend, ", methods = [\"GET\", \"POST\"]").await;
    let (mut browser, _) = signed_in(&h).await;

    call(&mut browser, Method::GET, "/api/nope/x")
        .await
        .assert_error(404, "unknown_api");
    // As API Gateway's `{proxy+}`: an empty rest of the path names no route.
    call(&mut browser, Method::GET, "/api/up/")
        .await
        .assert_error(404, "not_found");
    let put = call(&mut browser, Method::PUT, "/api/up/x").await;
    put.assert_error(405, "method_not_allowed");
    assert_eq!(put.header("allow"), Some("GET, POST"));
    let post = call(&mut browser, Method::POST, "/api/up/x").await;
    assert_eq!(post.status, StatusCode::OK, "{post:?}");

    let no_csrf = browser.get("/api/up/x").await;
    no_csrf.assert_error(403, "csrf_rejected");
    let mut stranger = h.browser();
    call(&mut stranger, Method::GET, "/api/up/x")
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(
        up.received().len(),
        1,
        "only the allowed call reached the API"
    );
}

async fn a_session_of_another_provider_is_refused(backend: BackendKind) {
    let up = UpstreamApi::spawn().await;
    let h = Harness::builder()
        .backend(backend)
        .provider("dev", "")
        .provider("other", "")
        .setting(&format!(
            "apis.up = {{ provider = \"other\", base_url = \"{}\" }}",
            up.base_url()
        ))
        .spawn()
        .await;
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;

    let reply = call(&mut browser, Method::GET, "/api/up/x").await;

    reply.assert_error(403, "wrong_provider");
    assert!(up.received().is_empty());
}

async fn a_mobile_app_calls_the_api_with_its_bearer_session(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (_, session_id) = {
        let mut b = h.browser();
        let id = b.sign_in("dev", "alice").await;
        (b, id)
    };
    let mut app = h.browser();
    let bearer = format!("Bearer {session_id}");

    let reply = app
        .request(
            Method::GET,
            "/api/up/x",
            &[("authorization", &bearer)],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let sent = up.received()[0].bearer().unwrap();
    assert_ne!(
        sent, session_id,
        "the API gets the access token, not our session token"
    );
}

async fn a_due_token_is_refreshed_before_the_call(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, old) = signed_in(&h).await;
    jump_ahead(&h);

    let reply = call(&mut browser, Method::GET, "/api/up/x").await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(refresh_grants(&h), 1);
    let sent = up.received()[0].bearer().unwrap();
    assert_ne!(sent, old, "the refreshed token went to the API");
}

async fn an_upstream_401_is_healed_by_one_refresh_and_one_retry(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, old) = signed_in(&h).await;
    up.refuse(&old);

    let reply = call(&mut browser, Method::GET, "/api/up/x").await;

    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(refresh_grants(&h), 1);
    let tokens: Vec<String> = up.received().iter().filter_map(|r| r.bearer()).collect();
    assert_eq!(tokens.len(), 2, "one call, one retry");
    assert_eq!(tokens[0], old);
    assert_ne!(tokens[1], old);
}

async fn a_second_upstream_401_is_passed_on(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, _) = signed_in(&h).await;
    up.refuse_all(true);

    let reply = call(&mut browser, Method::GET, "/api/up/x").await;

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\""),
        "the API's own answer"
    );
    assert_eq!(refresh_grants(&h), 1, "one refresh");
    assert_eq!(up.received().len(), 2, "one retry");
}

/// `n` calls at once from one session; their statuses.
async fn concurrent_calls(h: &Harness, browser: &Browser, n: usize) -> Vec<StatusCode> {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut b = browser.on(Arc::clone(&h.app));
        calls.spawn(async move { call(&mut b, Method::GET, "/api/up/x").await.status });
    }
    calls.join_all().await
}

async fn twenty_concurrent_calls_with_an_expired_token_cause_one_refresh_grant(
    backend: BackendKind,
) {
    let (h, up) = rig(backend, "").await;
    let (browser, old) = signed_in(&h).await;
    jump_ahead(&h);

    let statuses = concurrent_calls(&h, &browser, 20).await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(refresh_grants(&h), 1, "one refresh grant for twenty calls");
    let tokens: Vec<String> = up.received().iter().filter_map(|r| r.bearer()).collect();
    assert_eq!(tokens.len(), 20);
    assert!(
        tokens.iter().all(|t| *t == tokens[0] && *t != old),
        "one new token for all"
    );
}

async fn twenty_concurrent_calls_refused_by_the_api_share_one_refresh(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (browser, old) = signed_in(&h).await;
    up.refuse(&old);

    let statuses = concurrent_calls(&h, &browser, 20).await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        refresh_grants(&h),
        1,
        "one refresh grant for twenty refused calls"
    );
    let retried: Vec<String> = up
        .received()
        .iter()
        .filter_map(|r| r.bearer())
        .filter(|t| *t != old)
        .collect();
    assert_eq!(retried.len(), 20);
}

async fn redirects_come_back_unfollowed_and_failures_are_502(backend: BackendKind) {
    let (h, up) = rig(backend, "").await;
    let (mut browser, _) = signed_in(&h).await;

    let redirect = call(&mut browser, Method::GET, "/api/up/_/redirect").await;
    assert_eq!(redirect.status, StatusCode::FOUND, "{redirect:?}");
    assert_eq!(
        redirect.header("location"),
        Some("https://elsewhere.example/next")
    );
    assert_eq!(up.received().len(), 1, "not followed");

    let status = call(&mut browser, Method::GET, "/api/up/_/status/503").await;
    assert_eq!(
        status.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "passed on as it is"
    );

    let six_mb = 6 * 1024 * 1024;
    let big = call(
        &mut browser,
        Method::GET,
        &format!("/api/up/_/big/{}", six_mb + 1),
    )
    .await;
    big.assert_error(502, "upstream_unavailable");
    let fits = call(
        &mut browser,
        Method::GET,
        &format!("/api/up/_/big/{six_mb}"),
    )
    .await;
    assert_eq!(fits.status, StatusCode::OK);
    assert_eq!(fits.body.len(), six_mb);

    let body = Body::Binary(vec![b'x'; six_mb + 1]);
    let headers = [
        ("x-requested-with", "fetch"),
        ("content-type", "text/plain"),
    ];
    let too_big = browser
        .request(Method::GET, "/api/up/x", &headers, body)
        .await;
    too_big.assert_error(413, "payload_too_large");
}

async fn an_unreachable_api_is_502(backend: BackendKind) {
    let closed = integration_tests::unused_port();
    let h = Harness::builder()
        .backend(backend)
        .setting(&format!(
            "apis.up = {{ provider = \"dev\", base_url = \"http://127.0.0.1:{closed}\" }}"
        ))
        .spawn()
        .await;
    let mut browser = h.browser();
    browser.sign_in("dev", "alice").await;

    let reply = call(&mut browser, Method::GET, "/api/up/x").await;

    reply.assert_error(502, "upstream_unavailable");
}

on_both_stores!(
    a_browser_calls_the_api_with_the_session_token_and_never_sees_it,
    only_allowlisted_headers_reach_the_api,
    the_apis_cookies_hop_by_hop_and_cors_headers_do_not_come_back,
    paths_that_leave_the_base_are_refused_before_any_call,
    unknown_apis_methods_not_listed_and_callers_without_a_session_are_refused,
    a_session_of_another_provider_is_refused,
    a_mobile_app_calls_the_api_with_its_bearer_session,
    a_due_token_is_refreshed_before_the_call,
    an_upstream_401_is_healed_by_one_refresh_and_one_retry,
    a_second_upstream_401_is_passed_on,
    twenty_concurrent_calls_with_an_expired_token_cause_one_refresh_grant,
    twenty_concurrent_calls_refused_by_the_api_share_one_refresh,
    redirects_come_back_unfollowed_and_failures_are_502,
    an_unreachable_api_is_502,
);
