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

[apis.dev]
provider = "dev"
base_url = "{issuer}"
"#
    )
}

/// Runs `function` with the sample event `event` and returns the API Gateway v2 response object.
async fn invoke(function: &str, event: &str, issuer: &str) -> (Value, String) {
    invoke_event(function, sample_event(event), issuer).await
}

/// Runs `function` with `event` and returns the API Gateway v2 response object.
async fn invoke_event(function: &str, event: Value, issuer: &str) -> (Value, String) {
    invoke_configured(function, event, &config(issuer)).await
}

/// Runs `function` with `event` under the configuration `cfg`.
async fn invoke_configured(function: &str, event: Value, cfg: &str) -> (Value, String) {
    let binary = tokio::task::spawn_blocking({
        let f = function.to_owned();
        move || function_binary(&f)
    })
    .await
    .expect("build finished");
    let mut api = RuntimeApi::start().await.expect("runtime API starts");
    api.spawn_function(
        &binary,
        &[("AUTH_CONFIG", cfg), ("DEV_SECRET", "lambda-test-secret")],
    )
    .expect("function starts");
    let outcome = api.invoke(event).await;
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
async fn an_event_whose_uri_cannot_be_built_is_invalid_request_not_a_crash() {
    let (provider, server) = provider().await;
    for (host, query) in [("auth.`xample.com", ""), ("auth.example.com", "a=b c")] {
        let mut event = sample_event("session-no-session.json");
        event["headers"]["host"] = host.into();
        event["rawQueryString"] = query.into();

        let (resp, _) = invoke_event("session", event, &provider.issuer()).await;

        assert_eq!(resp["statusCode"], 400, "{host:?} {query:?}: {resp}");
        assert_eq!(error_code(&resp), "invalid_request");
        assert_eq!(header(&resp, "cache-control"), Some("no-store"));
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_answers_logout_and_token_sample_events() {
    let (provider, server) = provider().await;
    let (logout, _) = invoke("session", "logout-no-session.json", &provider.issuer()).await;
    let (token, logs) = invoke("session", "token-unknown-code.json", &provider.issuer()).await;
    assert_eq!(logout["statusCode"], 401);
    assert_eq!(error_code(&logout), "unauthenticated");
    assert_eq!(token["statusCode"], 400);
    assert_eq!(error_code(&token), "invalid_grant");
    assert!(
        !logs.contains("sample-verifier"),
        "the verifier must not be logged"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_refuses_a_logout_token_its_provider_did_not_sign() {
    let (provider, server) = provider().await;
    let (resp, logs) = invoke(
        "session",
        "backchannel-logout-invalid-token.json",
        &provider.issuer(),
    )
    .await;
    assert_eq!(resp["statusCode"], 400, "{resp}");
    assert_eq!(error_code(&resp), "invalid_request");
    assert!(logs.contains("logout token refused"), "{logs}");
    assert!(
        !logs.contains("c2lnbmF0dXJl"),
        "the token must not be logged"
    );
    server.abort();
}

/// The native sample event, for provider `provider` with the JSON `body`.
pub(super) fn native_event(provider: &str, body: &Value) -> Value {
    let mut event = sample_event("native-unsupported-kind.json");
    let path = format!("/auth/{provider}/native");
    event["rawPath"] = path.clone().into();
    event["requestContext"]["http"]["path"] = path.into();
    event["pathParameters"]["provider"] = provider.into();
    event["body"] = body.to_string().into();
    event
}

fn session_token(resp: &Value) -> String {
    assert_eq!(resp["statusCode"], 200, "{resp}");
    assert!(
        header(resp, "set-cookie").is_none(),
        "never a cookie: {resp}"
    );
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    body["session_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_answers_the_native_sample_event() {
    let (provider, server) = provider().await;
    let (resp, logs) = invoke(
        "session",
        "native-unsupported-kind.json",
        &provider.issuer(),
    )
    .await;
    assert_eq!(resp["statusCode"], 400, "{resp}");
    assert_eq!(error_code(&resp), "unsupported_grant_type");
    assert!(!logs.contains("sample-sdk-access-token"), "{logs}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_trades_our_apps_id_token_and_refuses_another_apps() {
    let (provider, server) = provider().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token_for = |aud: &str| {
        let claims = serde_json::json!({
            "iss": provider.issuer(), "sub": "alice", "aud": aud, "iat": now,
            "exp": now + 600, "nonce": "lambda-nonce", "jti": format!("jti-{aud}"),
        });
        provider.sign("JWT", claims.as_object().unwrap())
    };
    let ours = native_event(
        "dev",
        &serde_json::json!({ "id_token": token_for("lambda-test"), "nonce": "lambda-nonce" }),
    );
    let theirs = native_event(
        "dev",
        &serde_json::json!({ "id_token": token_for("another-app"), "nonce": "lambda-nonce" }),
    );

    let (accepted, logs) = invoke_event("session", ours, &provider.issuer()).await;
    let (refused, _) = invoke_event("session", theirs, &provider.issuer()).await;

    let session = session_token(&accepted);
    assert!(!logs.contains(&session), "the session token was logged");
    assert_eq!(refused["statusCode"], 400, "{refused}");
    assert_eq!(error_code(&refused), "invalid_grant");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_answers_404_for_another_functions_route() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("refresh", "session-no-session.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 404);
    server.abort();
}

/// Puts parameters into the test server's Parameter Store (moto), as an operator would.
async fn put_parameters(params: &[(&str, &str, bool)]) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(integration_tests::dynamodb_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    for (name, value, secure) in params {
        let kind = if *secure {
            aws_sdk_ssm::types::ParameterType::SecureString
        } else {
            aws_sdk_ssm::types::ParameterType::String
        };
        ssm.put_parameter()
            .name(*name)
            .value(*value)
            .r#type(kind)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
}

/// Runs `function` configured only through Parameter Store and the template's environment.
async fn invoke_with_ssm(function: &str, event: &str, prefix: &str) -> (Option<Value>, String) {
    let binary = tokio::task::spawn_blocking({
        let f = function.to_owned();
        move || function_binary(&f)
    })
    .await
    .expect("build finished");
    let endpoint = integration_tests::dynamodb_endpoint();
    let table = integration_tests::unique_table();
    let mut api = RuntimeApi::start().await.expect("runtime API starts");
    let config_parameter = format!("{prefix}/config");
    let secrets_path = format!("{prefix}/secrets");
    api.spawn_function(
        &binary,
        &[
            ("AUTH_CONFIG_SSM_PARAMETER", &config_parameter),
            ("AUTH_SECRETS_PATH", &secrets_path),
            ("AUTH_TABLE", &table),
            ("AWS_ENDPOINT_URL_SSM", &endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .expect("function starts");
    let outcome = api.invoke(sample_event(event)).await;
    let logs = api.stop().await;
    match outcome {
        Ok(Outcome::Response(v)) => (Some(v), logs),
        _ => (None, logs),
    }
}

fn ssm_config(issuer: &str) -> String {
    format!(
        r#"
public_base_url = "https://auth.example.com"
[store]
kind = "dynamodb"
table = "${{AUTH_TABLE}}"
endpoint = "{}"
region = "us-east-1"
create_table = true
[encryption]
keys = ["${{TOKEN_KEY_1}}"]
[providers.dev]
preset = "oidc"
issuer = "{issuer}"
client_id = "lambda-test"
client_secret = "${{DEV_SECRET}}"
"#,
        integration_tests::dynamodb_endpoint()
    )
}

/// Stores the configuration and the given secrets the way an operator would, under a fresh
/// prefix, and returns the prefix.
async fn operator_stores(issuer: &str, secrets: &[(&str, &str)]) -> String {
    let prefix = format!("/th-{}", integration_tests::unique_table());
    let config_name = format!("{prefix}/config");
    let config = ssm_config(issuer);
    let mut params = vec![(config_name.as_str(), config.as_str(), false)];
    let names: Vec<String> = secrets
        .iter()
        .map(|(name, _)| format!("{prefix}/secrets/{name}"))
        .collect();
    for (name, (_, value)) in names.iter().zip(secrets) {
        params.push((name.as_str(), value, true));
    }
    put_parameters(&params).await;
    prefix
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_read_configuration_and_secrets_from_parameter_store() {
    if !integration_tests::dynamodb_or_skip(
        "functions_read_configuration_and_secrets_from_parameter_store",
    ) {
        return;
    }
    let (provider, server) = provider().await;
    let prefix = operator_stores(
        &provider.issuer(),
        &[
            ("DEV_SECRET", "lambda-test-secret"),
            ("TOKEN_KEY_1", integration_tests::TEST_KEY),
        ],
    )
    .await;

    let (login, logs) = invoke_with_ssm("login", "login.json", &prefix).await;
    let (session, _) = invoke_with_ssm("session", "session-no-session.json", &prefix).await;

    let login = login.unwrap_or_else(|| panic!("login did not answer; logs:\n{logs}"));
    assert_eq!(login["statusCode"], 302, "{login}");
    assert!(
        !logs.contains("lambda-test-secret"),
        "a secret reached the logs"
    );
    assert_eq!(session.expect("session answers")["statusCode"], 401);
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_stops_start_up_naming_the_variable_not_a_value() {
    if !integration_tests::dynamodb_or_skip(
        "a_missing_secret_stops_start_up_naming_the_variable_not_a_value",
    ) {
        return;
    }
    let (provider, server) = provider().await;
    let prefix = operator_stores(
        &provider.issuer(),
        &[("TOKEN_KEY_1", integration_tests::TEST_KEY)],
    )
    .await;

    let (answer, logs) = invoke_with_ssm("login", "login.json", &prefix).await;

    assert!(
        answer.is_none(),
        "no handler runs with a half configuration: {answer:?}"
    );
    assert!(
        logs.contains("DEV_SECRET"),
        "the message names the variable:\n{logs}"
    );
    assert!(
        logs.contains("providers.dev.client_secret"),
        "and the key:\n{logs}"
    );
    assert!(
        !logs.contains(integration_tests::TEST_KEY),
        "no value is printed"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_binary_answers_401_without_a_session() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("proxy", "proxy-no-session.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 401, "{resp}");
    assert_eq!(error_code(&resp), "unauthenticated");
    assert_eq!(
        provider.stats().userinfo_requests,
        0,
        "nothing reached the API"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_binary_greets_the_user_the_authorizer_admitted() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("hello", "hello.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "hello": "alice", "provider": "dev" })
    );
    let mut without = sample_event("hello.json");
    without["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (resp, _) = invoke_event("hello", without, &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 401, "no authorizer context: {resp}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_binary_writes_the_security_event_and_an_emf_metrics_line() {
    let (provider, server) = provider().await;
    let (resp, logs) = invoke("login", "login.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 302);
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let event = lines
        .iter()
        .find(|l| l["class_uid"] == 3002)
        .unwrap_or_else(|| panic!("a security event in:\n{logs}"));
    assert_eq!(event["metadata"]["event_code"], "login_started");
    assert_eq!(event["metadata"]["product"]["feature"]["name"], "login");
    assert_eq!(event["src_endpoint"]["ip"], "192.0.2.1");
    assert_eq!(event["http_request"]["uid"], "sample-request-id");
    assert!(event["metadata"]["correlation_uid"].is_string());
    assert_eq!(event["user"]["domain"], "dev");
    let emf = lines
        .iter()
        .find(|l| l.get("_aws").is_some())
        .unwrap_or_else(|| panic!("an EMF line in:\n{logs}"));
    let directives = emf["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert!(emf["_aws"]["Timestamp"].is_u64());
    assert_eq!(directives[0]["Namespace"], "TokenHandler");
    assert_eq!(directives[0]["Metrics"][0]["Name"], "Events");
    assert_eq!(emf["Events"], 1);
    assert_eq!(emf["event"], "login_started");
    assert_eq!(emf["provider"], "dev");
    assert_eq!(emf["function"], "login");
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_binary_answers_the_health_sample_event() {
    let (provider, server) = provider().await;
    let (resp, _) = invoke("session", "health-deep.json", &provider.issuer()).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    assert_eq!(resp["body"], r#"{"status":"ok"}"#);
    server.abort();
}
