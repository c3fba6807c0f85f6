//! The real Lambda binaries, run under a Runtime API on loopback and fed the sample API
//! Gateway v2 events kept in `events/` (the same files `cargo lambda invoke` uses).

use dev_provider::{Client, DevProvider};
use integration_tests::runtime_api::{Outcome, RuntimeApi, function_binary};
use serde_json::Value;

fn sample_event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("sample event exists");
    serde_json::from_str(&text).expect("sample event is JSON")
}

fn config(issuer: &str) -> String {
    format!(
        r#"
public_base_url = "https://auth.example.com"
allowed_origins = ["https://app.example.com"]

[providers.dev]
preset = "oidc"
issuer = "{issuer}"
client_id = "lambda-test"
client_secret = "${{DEV_SECRET}}"
"#
    )
}

/// Runs `function` with `event` and returns the API Gateway v2 response object.
async fn invoke(function: &str, event: &str, issuer: &str) -> (Value, String) {
    let binary = tokio::task::spawn_blocking({
        let f = function.to_owned();
        move || function_binary(&f)
    })
    .await
    .expect("build finished");
    let mut api = RuntimeApi::start().await.expect("runtime API starts");
    let cfg = config(issuer);
    api.spawn_function(
        &binary,
        &[("AUTH_CONFIG", &cfg), ("DEV_SECRET", "lambda-test-secret")],
    )
    .expect("function starts");
    let outcome = api.invoke(sample_event(event)).await;
    let logs = api.stop().await;
    match outcome {
        Ok(Outcome::Response(v)) => (v, logs),
        other => panic!("{function}: expected a response, got {other:?}\nlogs:\n{logs}"),
    }
}

fn header<'a>(resp: &'a Value, name: &str) -> Option<&'a str> {
    resp["headers"][name].as_str()
}

fn error_code(resp: &Value) -> String {
    let body: Value =
        serde_json::from_str(resp["body"].as_str().unwrap_or("{}")).unwrap_or_default();
    body["error"].as_str().unwrap_or_default().to_owned()
}

async fn provider() -> (DevProvider, tokio::task::JoinHandle<()>) {
    DevProvider::spawn(vec![Client {
        client_id: "lambda-test".into(),
        client_secret: "lambda-test-secret".into(),
        redirect_uris: vec!["https://auth.example.com/auth/dev/callback".into()],
    }])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn login_binary_redirects_to_the_provider() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("login", "login.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 302);
    let location = header(&resp, "location").expect("Location header");
    assert!(
        location.starts_with(&format!("{}/authorize?", provider.issuer())),
        "{location}"
    );
    assert!(location.contains("code_challenge_method=S256"));
    let cookies = resp["cookies"]
        .as_array()
        .expect("cookies in the v2 response");
    assert!(
        cookies
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.starts_with("__Host-auth_tx="))),
        "{cookies:?}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_binary_rejects_an_unknown_state() {
    let (provider, server) = provider().await;
    let (resp, logs) = invoke("callback", "callback-bad-state.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 400);
    assert_eq!(error_code(&resp), "invalid_state");
    assert_eq!(provider.stats().authorization_code_grants, 0);
    assert!(!logs.contains("sample-code"), "the code must not be logged");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_binary_answers_401_without_a_session() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("refresh", "refresh-no-session.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 401);
    assert_eq!(error_code(&resp), "unauthenticated");
    assert_eq!(header(&resp, "cache-control"), Some("no-store"));
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_answers_401_without_a_session() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("session", "session-no-session.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 401);
    assert_eq!(error_code(&resp), "unauthenticated");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_answers_404_for_another_functions_route() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("refresh", "session-no-session.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 404);
    server.abort();
}
