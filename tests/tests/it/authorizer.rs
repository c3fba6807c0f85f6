//! The Lambda authorizer for a team's own routes: a live session (cookie or bearer session
//! token) is admitted with its provider and subject, anything else is refused; one store read,
//! never a provider call, never a token in the answer. In process through `App::authorize`,
//! through the local runner's `/me/hello`-equivalent, and as the real binary under a Lambda
//! Runtime API with a session stored in DynamoDB.

use integration_tests::runtime_api::{Outcome, RuntimeApi, function_binary};
use integration_tests::{BackendKind, Harness, TEST_KEY};
use serde_json::{Value, json};

/// An authorizer event (payload 2.0) carrying `cookies` and `headers`.
fn event(cookies: &[&str], headers: Value) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/me/hello",
        "identitySource": [],
        "routeKey": "GET /me/hello",
        "rawPath": "/me/hello",
        "rawQueryString": "",
        "cookies": cookies,
        "headers": headers,
        "requestContext": { "http": { "method": "GET", "path": "/me/hello" } },
    })
}

fn cookie_event(session_id: &str) -> Value {
    let cookie = format!("__Host-session={session_id}");
    event(
        &["theme=dark", &cookie],
        json!({ "host": "api.example.com" }),
    )
}

async fn a_live_session_is_admitted_with_its_provider_and_subject_only(backend: BackendKind) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let before = h.provider.stats();

    let by_cookie = h.app.authorize(&cookie_event(&session_id)).await.unwrap();
    let bearer = json!({ "authorization": format!("Bearer {session_id}") });
    let by_bearer = h.app.authorize(&event(&[], bearer)).await.unwrap();

    let admitted = json!({
        "isAuthorized": true,
        "context": { "provider": "dev", "subject": "alice" },
    });
    assert_eq!(by_cookie, admitted);
    assert_eq!(by_bearer, admitted);
    let stored = h.session_for(&session_id).await;
    let text = by_cookie.to_string();
    assert!(
        !text.contains(stored.tokens.access_token.expose()),
        "no token in the context"
    );
    assert!(!text.contains(&session_id), "no session id in the context");
    let after = h.provider.stats();
    assert_eq!(
        after.userinfo_requests, before.userinfo_requests,
        "no provider call"
    );
    assert_eq!(after.refresh_token_grants, before.refresh_token_grants);
}

async fn an_ended_or_absent_session_is_refused(backend: BackendKind) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let refused = json!({ "isAuthorized": false });

    assert_eq!(browser.logout().await.status, 200);
    let ended = h.app.authorize(&cookie_event(&session_id)).await.unwrap();
    assert_eq!(ended, refused, "a logged-out session");

    let unknown = "A".repeat(43);
    for event in [
        event(&[], json!({})),
        cookie_event(&unknown),
        cookie_event("not-a-session-id"),
        event(&[&format!("session={session_id}")], json!({})),
        event(&[], json!({ "authorization": "Basic YWxpY2U6cHc=" })),
        event(
            &[],
            json!({ "authorization": format!("Bearer {session_id}x") }),
        ),
        json!(null),
        json!({ "headers": 7, "cookies": "x" }),
    ] {
        let answer = h.app.authorize(&event).await.unwrap();
        assert_eq!(answer, refused, "{event}");
    }
}

async fn an_expired_access_token_does_not_change_the_answer_or_call_the_provider(
    backend: BackendKind,
) {
    let h = Harness::builder().backend(backend).spawn().await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    h.clock.advance(7200);

    let answer = h.app.authorize(&cookie_event(&session_id)).await.unwrap();

    assert_eq!(
        answer["isAuthorized"], true,
        "the session lives on; its token is not our business"
    );
    assert_eq!(h.provider.stats().refresh_token_grants, 0);
}

on_both_stores!(
    a_live_session_is_admitted_with_its_provider_and_subject_only,
    an_ended_or_absent_session_is_refused,
    an_expired_access_token_does_not_change_the_answer_or_call_the_provider,
);

/// The authorizer binary under a Lambda Runtime API, on the harness's DynamoDB table.
async fn invoke_binary(h: &Harness, events: Vec<Value>) -> (Vec<Outcome>, String) {
    let binary = tokio::task::spawn_blocking(|| function_binary("authorizer"))
        .await
        .expect("build finished");
    let config = format!(
        r#"
public_base_url = "https://auth.example.com"
[store]
kind = "dynamodb"
table = "{}"
endpoint = "{}"
region = "us-east-1"
[encryption]
keys = ["${{TOKEN_KEY_1}}"]
[providers.dev]
preset = "oidc"
issuer = "https://issuer.invalid"
client_id = "unused"
client_secret = "unused"
"#,
        h.store.table,
        integration_tests::dynamodb_endpoint()
    );
    let mut api = RuntimeApi::start().await.expect("runtime API starts");
    api.spawn_function(
        &binary,
        &[
            ("AUTH_CONFIG", &config),
            ("TOKEN_KEY_1", TEST_KEY),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .expect("authorizer starts");
    let mut outcomes = Vec::new();
    for event in events {
        outcomes.push(api.invoke(event).await.expect("the authorizer answers"));
    }
    (outcomes, api.stop().await)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authorizer_binary_admits_a_stored_session_and_refuses_the_sample_event() {
    if !integration_tests::dynamodb_or_skip("the_authorizer_binary_admits_a_stored_session") {
        return;
    }
    let h = Harness::builder()
        .backend(BackendKind::Dynamodb)
        .spawn()
        .await;
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", "alice").await;
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../events/authorizer-no-session.json"),
        )
        .expect("sample event"),
    )
    .expect("sample event is JSON");

    let (outcomes, logs) = invoke_binary(&h, vec![cookie_event(&session_id), sample]).await;

    let answers: Vec<Value> = outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Response(v) => v,
            other => panic!("expected an answer, got {other:?}\nlogs:\n{logs}"),
        })
        .collect();
    assert_eq!(
        answers[0],
        json!({ "isAuthorized": true, "context": { "provider": "dev", "subject": "alice" } }),
        "logs:\n{logs}"
    );
    assert_eq!(answers[1], json!({ "isAuthorized": false }));
    assert!(
        !logs.contains(&session_id),
        "the session id reached the logs"
    );
}
