//! The whole flow on DynamoDB (moto), what its table then shows, and how the handlers answer
//! when DynamoDB cannot be reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use integration_tests::{
    BackendKind, Browser, Harness, TEST_KEY, assert_scan_has_no, dynamo_store, dynamodb_endpoint,
    unique_table,
};
use shared::App;
use shared::config::Config;
use shared::store::RawItems;
use shared::store::item::{Attr, attr};

#[tokio::test(flavor = "multi_thread")]
async fn login_callback_refresh_and_logout_work_on_dynamodb_and_its_table_holds_no_secret() {
    if !integration_tests::dynamodb_or_skip(
        "login_callback_refresh_and_logout_work_on_dynamodb_and_its_table_holds_no_secret",
    ) {
        return;
    }
    let h = Harness::builder()
        .backend(BackendKind::Dynamodb)
        .spawn()
        .await;
    let mut browser = h.browser();

    let pending = browser.begin("dev", "dora", Some("/after")).await;
    let code = integration_tests::query_param(&pending.callback_url, "code");
    let login_items = h.store.scan().await.unwrap();
    assert_eq!(
        login_items.len(),
        1,
        "one transaction while the login is in flight"
    );
    let done = browser.follow(&pending.callback_url).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/after");
    let session_id = browser.session_id().expect("session cookie");
    assert_eq!(h.store.transaction_count().await, 0, "transaction consumed");

    let cached = browser.refresh(false).await;
    assert_eq!(cached.status, StatusCode::OK, "{cached:?}");
    let forced = browser.refresh(true).await;
    assert_eq!(forced.status, StatusCode::OK, "{forced:?}");
    assert_ne!(cached.json()["access_token"], forced.json()["access_token"]);
    assert_eq!(h.stats().refresh_token_grants, 1);
    let session = browser.session().await;
    assert_eq!(session.json()["subject"], "dora");

    // What a table scan shows now: a session, and none of the secrets that made it.
    let stored = h.session_for(&session_id).await;
    let first_refresh = h.stats().refresh_tokens_received[0].clone();
    let access_1 = cached.json()["access_token"].as_str().unwrap().to_owned();
    let access_2 = forced.json()["access_token"].as_str().unwrap().to_owned();
    let current_refresh = stored.tokens.refresh_token.unwrap().expose().to_owned();
    let id_tokens = h.stats().issued_id_tokens;
    let mut secrets = vec![
        pending.state.as_str(),
        code.as_str(),
        session_id.as_str(),
        access_1.as_str(),
        access_2.as_str(),
        first_refresh.as_str(),
        current_refresh.as_str(),
        "dora@example.com",
    ];
    secrets.extend(id_tokens.iter().map(String::as_str));
    assert_scan_has_no(&*h.store, &secrets).await;
    // The session, and the pointer a back-channel logout finds it by (its id_token had a sid).
    let items = h.store.scan().await.unwrap();
    let mut kinds: Vec<_> = items.iter().map(|i| i.get(attr::TYPE).cloned()).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        [Some(Attr::S("session".into())), Some(Attr::S("sid".into()))]
    );

    let out = browser.logout().await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    assert_eq!(
        h.stats().revoked_tokens,
        vec![current_refresh.clone()],
        "revoked at the provider"
    );
    assert!(h.store.scan().await.unwrap().is_empty(), "session deleted");
    browser.put_cookie("__Host-session", &session_id);
    browser.session().await.assert_error(401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_callbacks_with_one_state_on_separate_instances_sign_in_once() {
    if !integration_tests::dynamodb_or_skip(
        "concurrent_callbacks_with_one_state_on_separate_instances_sign_in_once",
    ) {
        return;
    }
    let h = Harness::builder()
        .backend(BackendKind::Dynamodb)
        .spawn()
        .await;
    let mut first = h.browser();
    let pending = first.begin("dev", "erin", None).await;
    let tx_cookie = first.cookie("__Host-auth_tx").unwrap();

    // Eight Lambda instances, each with its own DynamoDB client, receive the same callback.
    let config_text = h.config_text.clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = h.store.another_instance().await;
        let config = Config::from_toml(&config_text, |_| {
            Some(integration_tests::client_secret("dev"))
        })
        .unwrap();
        let app = Arc::new(App::new(config, store).unwrap());
        let mut browser = Browser::new(app, h.provider.clone());
        browser.put_cookie("__Host-auth_tx", &tx_cookie);
        let url = pending.callback_url.clone();
        tasks.push(tokio::spawn(
            async move { browser.follow(&url).await.status },
        ));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let signed_in = statuses.iter().filter(|s| **s == StatusCode::FOUND).count();
    assert_eq!(signed_in, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::FOUND || *s == StatusCode::BAD_REQUEST)
    );
    assert_eq!(h.stats().authorization_code_grants, 1, "one code exchange");
    assert_eq!(h.store.session_count().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_dynamodb_store_creates_its_table_and_serves_a_login() {
    if !integration_tests::dynamodb_or_skip(
        "configured_dynamodb_store_creates_its_table_and_serves_a_login",
    ) {
        return;
    }
    let (provider, server) = dev_provider::DevProvider::spawn(vec![dev_provider::Client {
        client_id: "c".into(),
        client_secret: "s".into(),
        redirect_uris: vec![],
    }])
    .await;
    let table = unique_table();
    let app = app_on_dynamodb(&table, &dynamodb_endpoint(), &provider.issuer(), true).await;
    let mut browser = Browser::new(app, provider.clone());

    let reply = browser.start_login("dev", None).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let inspect = dynamo_store(&table, &[TEST_KEY]).await;
    let items = inspect.scan().await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].get(attr::TYPE), Some(&Attr::S("tx".into())));
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_prepares_its_store_has_the_table_before_any_request() {
    if !integration_tests::dynamodb_or_skip(
        "a_server_that_prepares_its_store_has_the_table_before_any_request",
    ) {
        return;
    }
    let table = unique_table();
    let app = app_on_dynamodb(
        &table,
        &dynamodb_endpoint(),
        "https://issuer.example.test",
        true,
    )
    .await;
    let settings = shared::store::dynamodb::DynamoSettings {
        table: table.clone(),
        endpoint: Some(dynamodb_endpoint().parse().unwrap()),
        region: Some("us-east-1".into()),
        create_table: false,
    };
    let keyring = shared::crypto::Keyring::from_base64(&[TEST_KEY]).unwrap();
    let inspect = shared::store::dynamodb::DynamoStore::connect(&settings, keyring)
        .await
        .unwrap();
    // A Lambda instance sends nothing at start-up: no table yet.
    assert!(inspect.scan().await.is_err(), "no table before a request");

    // The local runner prepares its store when it starts.
    app.prepare_store().await.unwrap();

    assert_eq!(inspect.scan().await.unwrap().len(), 0, "an empty table");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_dynamodb_answers_store_unavailable_quickly() {
    let (provider, server) = dev_provider::DevProvider::spawn(vec![dev_provider::Client {
        client_id: "c".into(),
        client_secret: "s".into(),
        redirect_uris: vec![],
    }])
    .await;
    // A port nothing listens on.
    let port = integration_tests::unused_port();
    let app = app_on_dynamodb(
        "auth",
        &format!("http://127.0.0.1:{port}"),
        &provider.issuer(),
        false,
    )
    .await;
    let mut browser = Browser::new(app, provider.clone());
    browser.put_cookie("__Host-session", &"A".repeat(43));

    let started = Instant::now();
    let session = browser.session().await;
    let login = browser.start_login("dev", None).await;

    session.assert_error(503, "store_unavailable");
    login.assert_error(503, "store_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    server.abort();
}

/// An app configured (as an operator would) with the DynamoDB store at `endpoint`.
async fn app_on_dynamodb(
    table: &str,
    endpoint: &str,
    issuer: &str,
    create_table: bool,
) -> Arc<App> {
    let text = format!(
        r#"
public_base_url = "https://auth.example.test"
[store]
kind = "dynamodb"
table = "{table}"
endpoint = "{endpoint}"
region = "us-east-1"
create_table = {create_table}
[encryption]
keys = ["{TEST_KEY}"]
[providers.dev]
preset = "oidc"
issuer = "{issuer}"
client_id = "c"
client_secret = "s"
"#
    );
    Arc::new(
        App::from_config(Config::from_toml(&text, |_| None).unwrap())
            .await
            .unwrap(),
    )
}

/// A DynamoDB endpoint that throttles every request, counting them.
async fn throttling_dynamodb() -> (
    String,
    Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let router = axum::Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::BAD_REQUEST,
                [
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amzn-errortype", "ProvisionedThroughputExceededException"),
                ],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, hits, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_dynamodb_is_retried_a_bounded_number_of_times_then_store_unavailable() {
    if !integration_tests::dynamodb_or_skip(
        "throttled_dynamodb_is_retried_a_bounded_number_of_times_then_store_unavailable",
    ) {
        return;
    }
    let (endpoint, hits, server) = throttling_dynamodb().await;
    let app = app_on_dynamodb("auth", &endpoint, "https://issuer.example.test", false).await;
    let (provider, provider_server) = dev_provider::DevProvider::spawn(vec![]).await;
    let mut browser = Browser::new(app, provider);
    browser.put_cookie("__Host-session", &"A".repeat(43));

    let reply = browser.session().await;

    reply.assert_error(503, "store_unavailable");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "three attempts, then give up"
    );
    server.abort();
    provider_server.abort();
}
