//! Security events and metrics: each outcome writes one OCSF Authentication event with hashed
//! identifiers only, and (in Lambda) one CloudWatch Embedded Metric Format line.

use std::sync::Arc;

use http::StatusCode;
use integration_tests::{
    BackendKind, Browser, Harness, METRICS_NAMESPACE, PROVIDER, client_secret, query_param,
};
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};

/// The OCSF events written so far.
fn security_events(h: &Harness) -> Vec<Value> {
    h.events
        .lines()
        .into_iter()
        .filter(|l| l["class_uid"] == 3002)
        .collect()
}

/// The EMF lines written so far.
fn metrics_lines(h: &Harness) -> Vec<Value> {
    h.events
        .lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect()
}

fn codes(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["metadata"]["event_code"].as_str().unwrap().to_owned())
        .collect()
}

fn last_event(h: &Harness) -> Value {
    security_events(h).pop().expect("an event")
}

/// Checks a line against the EMF specification's rules: `_aws` with a numeric `Timestamp` and
/// `CloudWatchMetrics` directives, each in our namespace, every dimension named in a set a
/// string member of the root, every metric a number member, units CloudWatch knows.
fn assert_valid_emf(doc: &Value) {
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_u64(), "Timestamp: {doc}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty(), "{doc}");
    for d in directives {
        assert_eq!(d["Namespace"], METRICS_NAMESPACE, "{doc}");
        for set in d["Dimensions"].as_array().expect("dimension sets") {
            for name in set.as_array().expect("a dimension set") {
                let name = name.as_str().expect("a dimension name");
                assert!(doc[name].is_string(), "dimension {name} is not in {doc}");
            }
        }
        for metric in d["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("a metric name");
            assert!(doc[name].is_number(), "metric {name} is not in {doc}");
            assert!(
                ["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()),
                "{doc}"
            );
        }
    }
}

on_both_stores!(
    a_login_refresh_and_logout_write_their_events_with_hashed_ids_only,
    a_provider_outage_is_an_event_and_a_metric,
    a_proxied_call_is_an_event_with_the_apis_status,
);

async fn a_login_refresh_and_logout_write_their_events_with_hashed_ids_only(backend: BackendKind) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin(PROVIDER, "alice", None).await;
    let state = pending.state.clone();
    let code = query_param(&pending.callback_url, "code");
    let callback = browser.follow(&pending.callback_url).await;
    assert_eq!(callback.status, StatusCode::FOUND);
    let session_id = browser.session_id().expect("a session");
    let served = browser.refresh(false).await;
    assert_eq!(served.status, StatusCode::OK);
    let refreshed = browser.refresh(true).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(browser.logout().await.status, StatusCode::OK);

    let events = security_events(&h);
    assert_eq!(
        codes(&events),
        [
            "login_started",
            "login_succeeded",
            "refresh_served_from_store",
            "refresh_refreshed",
            "logout"
        ]
    );
    for e in &events {
        assert_eq!(e["class_name"], "Authentication");
        assert_eq!(e["category_uid"], 3);
        assert_eq!(e["status"], "Success", "{e}");
        assert_eq!(e["user"]["domain"], PROVIDER, "{e}");
        assert!(e["metadata"]["correlation_uid"].is_string(), "{e}");
        assert!(e["time"].is_u64());
    }
    assert_eq!(events[0]["activity_name"], "Preauth");
    assert_eq!(events[1]["activity_name"], "Logon");
    assert_eq!(events[4]["activity_name"], "Logoff");
    // One user and one session, followed through the log by their hashes.
    let user = &events[1]["user"]["uid"];
    let session = &events[1]["session"]["uid"];
    assert!(user.as_str().is_some_and(|u| u.len() == 22), "{user}");
    assert!(session.as_str().is_some_and(|s| s.len() == 22), "{session}");
    for e in &events[2..] {
        assert_eq!(&e["user"]["uid"], user, "{e}");
        assert_eq!(&e["session"]["uid"], session, "{e}");
    }
    assert_ne!(user, session);

    // Nothing that opens the session or names the user is written.
    let text = h.events.raw().join("\n");
    let access_tokens = [served.json(), refreshed.json()];
    let mut secrets = vec![
        session_id.clone(),
        shared::store::keys::session_key(&session_id),
        "alice".to_owned(),
        client_secret(PROVIDER),
        state,
        code,
    ];
    secrets.extend(
        access_tokens
            .iter()
            .map(|t| t["access_token"].as_str().unwrap().to_owned()),
    );
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret} was written: {text}");
    }
}

async fn a_provider_outage_is_an_event_and_a_metric(backend: BackendKind) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    browser.sign_in(PROVIDER, "bob").await;
    h.set_behavior(dev_provider::Behavior {
        token_error: Some((503, "temporarily_unavailable".into())),
        ..Default::default()
    });
    let answer = browser.refresh(true).await;
    answer.assert_error(503, "provider_unavailable");

    let event = last_event(&h);
    assert_eq!(
        event["metadata"]["event_code"],
        "refresh_provider_unavailable"
    );
    assert_eq!(event["status"], "Failure");
    assert_eq!(event["status_detail"], "provider_unavailable");
    let line = metrics_lines(&h).pop().expect("a metrics line");
    assert_valid_emf(&line);
    assert_eq!(line["ProviderUnavailable"], 1, "{line}");
    assert_eq!(line["event"], "refresh_provider_unavailable");
    assert_eq!(line["provider"], PROVIDER);
    assert!(line["ProviderLatency"].as_f64().unwrap() > 0.0, "{line}");
}

#[tokio::test]
async fn every_metrics_line_is_valid_emf_and_counts_the_event_beside_it() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    browser.sign_in(PROVIDER, "carol").await;
    browser.refresh(true).await;
    browser.session().await;
    let lines = h.events.lines();
    let mut counted = 0;
    for pair in lines.windows(2) {
        let (event, metrics) = (&pair[0], &pair[1]);
        if event["class_uid"] != 3002 {
            continue;
        }
        assert_valid_emf(metrics);
        assert_eq!(metrics["Events"], 1, "{metrics}");
        assert_eq!(metrics["event"], event["metadata"]["event_code"]);
        counted += 1;
    }
    assert_eq!(
        counted, 4,
        "login_started, login_succeeded, refresh, session: {lines:?}"
    );
    // The refresh called the provider's token endpoint and the store.
    let refresh = lines
        .iter()
        .find(|l| l["event"] == "refresh_refreshed")
        .expect("the refresh's metrics");
    assert!(
        refresh["ProviderLatency"].as_f64().unwrap() > 0.0,
        "{refresh}"
    );
}

#[tokio::test]
async fn a_replayed_callback_is_a_callback_replay_and_a_missing_csrf_header_is_csrf_rejected() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin(PROVIDER, "dave", None).await;
    assert_eq!(browser.follow(&pending.callback_url).await.status, 302);
    browser
        .follow(&pending.callback_url)
        .await
        .assert_error(400, "invalid_state");
    let replay = last_event(&h);
    assert_eq!(replay["metadata"]["event_code"], "callback_replay");
    assert_eq!(replay["status_detail"], "invalid_state");
    assert_eq!(replay["severity"], "Medium");

    let no_header = browser
        .request(http::Method::POST, "/auth/refresh", &[], Body::Empty)
        .await;
    no_header.assert_error(403, "csrf_rejected");
    let csrf = last_event(&h);
    assert_eq!(csrf["metadata"]["event_code"], "csrf_rejected");
    assert_eq!(csrf["activity_name"], "Token Refresh");
    assert_eq!(csrf["http_response"]["code"], 403);
}

#[tokio::test]
async fn a_login_that_fails_at_the_provider_names_its_reason() {
    let h = Harness::spawn().await;
    h.set_behavior(dev_provider::Behavior {
        id_token_bad_signature: true,
        ..Default::default()
    });
    let mut browser = h.browser();
    let reply = browser.try_sign_in(PROVIDER, "erin", None).await;
    assert!(reply.location().contains("error=login_failed"), "{reply:?}");
    let event = last_event(&h);
    assert_eq!(event["metadata"]["event_code"], "login_failed");
    assert_eq!(event["status_detail"], "id_token_rejected");
    assert_eq!(event["user"]["domain"], PROVIDER);
    assert!(event["user"].get("uid").is_none(), "{event}");
}

#[tokio::test]
async fn a_forced_refresh_right_after_another_is_coalesced() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    browser.sign_in(PROVIDER, "frank").await;
    assert_eq!(browser.refresh(true).await.status, 200);
    assert_eq!(browser.refresh(true).await.status, 200);
    let events = security_events(&h);
    assert_eq!(
        codes(&events[2..]),
        ["refresh_refreshed", "refresh_coalesced"]
    );
}

#[tokio::test]
async fn the_client_address_is_api_gateways_never_x_forwarded_for() {
    let h = Harness::spawn().await;
    let context: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
        serde_json::from_value(json!({
            "requestId": "req-123",
            "http": {"method": "GET", "path": "/auth/session", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "agent"},
        }))
        .unwrap();
    let req = http::Request::builder()
        .uri("/auth/session?code=not-logged")
        .header("x-forwarded-for", "198.51.100.1")
        .header("user-agent", "TestAgent/1.0")
        .body(Body::Empty)
        .unwrap()
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    let answer = h.app.handle(req).await;
    assert_eq!(answer.status(), 401);

    let event = last_event(&h);
    assert_eq!(event["metadata"]["event_code"], "session_refused");
    assert_eq!(event["src_endpoint"]["ip"], "203.0.113.7");
    assert_eq!(event["http_request"]["user_agent"], "TestAgent/1.0");
    assert_eq!(event["http_request"]["url"]["path"], "/auth/session");
    assert_eq!(event["metadata"]["correlation_uid"], "req-123");
    let text = h.events.raw().join("\n");
    assert!(!text.contains("198.51.100.1"), "{text}");
    assert!(
        !text.contains("not-logged"),
        "the query is never written: {text}"
    );
}

#[tokio::test]
async fn the_authorizer_writes_its_decision() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in(PROVIDER, "gina").await;
    let event = |cookies: Vec<String>| {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeKey": "GET /me/hello",
            "rawPath": "/me/hello",
            "cookies": cookies,
            "headers": {"user-agent": "Agent"},
            "requestContext": {"requestId": "authz-1",
                "http": {"method": "GET", "path": "/me/hello", "sourceIp": "192.0.2.9", "userAgent": "Agent"}},
        })
    };
    let allowed = h
        .app
        .authorize(&event(vec![format!("__Host-session={session_id}")]))
        .await
        .unwrap();
    assert_eq!(allowed["isAuthorized"], true);
    let denied = h.app.authorize(&event(vec![])).await.unwrap();
    assert_eq!(denied["isAuthorized"], false);

    let events = security_events(&h);
    let [.., allow, deny] = events.as_slice() else {
        panic!("two authorizer events: {events:?}")
    };
    assert_eq!(allow["metadata"]["event_code"], "authorizer_allowed");
    assert_eq!(allow["user"]["uid"], events[1]["user"]["uid"]);
    assert_eq!(allow["src_endpoint"]["ip"], "192.0.2.9");
    assert_eq!(allow["http_request"]["url"]["path"], "/me/hello");
    assert_eq!(deny["metadata"]["event_code"], "authorizer_denied");
    assert_eq!(deny["status_detail"], "unauthenticated");
}

#[tokio::test]
async fn a_refused_hand_off_and_a_health_check_are_told_apart() {
    let h = Harness::spawn().await;
    let mut app = Browser::new(Arc::clone(&h.app), h.provider.clone());
    let refused = app
        .request(
            http::Method::POST,
            "/auth/token",
            &[("content-type", "application/json")],
            Body::Text(
                r#"{"code": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "code_verifier": "x"}"#
                    .into(),
            ),
        )
        .await;
    refused.assert_error(400, "invalid_grant");
    assert_eq!(last_event(&h)["metadata"]["event_code"], "handoff_refused");
    let before = security_events(&h).len();
    assert_eq!(app.get("/auth/health").await.status, 200);
    assert_eq!(
        security_events(&h).len(),
        before,
        "a health check is not an event"
    );
}

#[tokio::test]
async fn what_the_caller_writes_is_cut_short_and_escaped_in_the_event() {
    let h = Harness::spawn().await;
    let provider = "p".repeat(5000);
    let agent = format!("evil\"}}{{\"injected\":1 {}", "a".repeat(600));
    let req = http::Request::builder()
        .uri(format!("/auth/{provider}/login"))
        .header(
            "user-agent",
            http::HeaderValue::from_bytes(agent.as_bytes()).unwrap(),
        )
        .body(Body::Empty)
        .unwrap();
    let answer = h.app.handle(req).await;
    assert_eq!(answer.status(), 404);
    let raw = h.events.raw();
    let line = raw
        .iter()
        .find(|l| l.contains("login_failed"))
        .expect("an event");
    assert!(line.len() < 2000, "{} bytes", line.len());
    let event: Value = serde_json::from_str(line).unwrap();
    assert!(event.get("injected").is_none());
    let logged_agent = event["http_request"]["user_agent"].as_str().unwrap();
    assert!(logged_agent.starts_with("evil\"}{\"injected\"") && logged_agent.len() == 512);
    assert_eq!(event["status_detail"], "unknown_provider");
    assert!(event["http_request"]["url"]["path"].as_str().unwrap().len() <= 256);
    assert!(
        event["user"].get("domain").is_none(),
        "an unknown provider is not named"
    );
}

#[tokio::test]
async fn a_mobile_login_and_its_redemption_are_a_login_and_a_hand_off_of_one_user() {
    let h = crate::mobile::mobile_harness().await;
    let mut browser = h.browser();
    let landed = crate::mobile::browser_part(&h, &mut browser, crate::mobile::APP_REDIRECT).await;
    let code = query_param(&landed, "code");
    let mut app = h.browser();
    let redeemed = crate::mobile::redeem(&mut app, &code, crate::mobile::VERIFIER).await;
    assert_eq!(redeemed.status, StatusCode::OK);
    let again = crate::mobile::redeem(&mut app, &code, crate::mobile::VERIFIER).await;
    again.assert_error(400, "invalid_grant");

    let events = security_events(&h);
    assert_eq!(
        codes(&events),
        [
            "login_started",
            "login_succeeded",
            "handoff_redeemed",
            "handoff_refused"
        ]
    );
    // One user throughout; the session exists from the redemption on.
    assert_eq!(events[1]["user"]["uid"], events[2]["user"]["uid"]);
    assert!(events[1].get("session").is_none(), "{}", events[1]);
    assert!(events[2]["session"]["uid"].is_string());
    let text = h.events.raw().join("\n");
    assert!(!text.contains(&code), "the hand-off code was written");
    let token = redeemed.json()["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!text.contains(&token), "the session token was written");
}

async fn a_proxied_call_is_an_event_with_the_apis_status(backend: BackendKind) {
    let (h, _up) = crate::proxy::rig(backend, "").await;
    let (mut browser, _) = crate::proxy::signed_in(&h).await;
    let answer =
        crate::proxy::call(&mut browser, http::Method::GET, "/api/up/items?secret=q").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let refused = crate::proxy::call(&mut browser, http::Method::GET, "/api/nope/x").await;
    refused.assert_error(404, "unknown_api");

    let events = security_events(&h);
    let [.., call, refused] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(call["metadata"]["event_code"], "proxy_call");
    assert_eq!(call["unmapped"]["upstream_status"], 200);
    assert_eq!(call["http_request"]["url"]["path"], "/api/up");
    assert_eq!(call["activity_name"], "API Call");
    assert!(call["user"]["uid"].is_string() && call["session"]["uid"].is_string());
    assert_eq!(refused["metadata"]["event_code"], "proxy_refused");
    assert_eq!(refused["status_detail"], "unknown_api");
    assert!(!h.events.raw().join("\n").contains("secret=q"));
}
