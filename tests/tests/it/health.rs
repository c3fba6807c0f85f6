//! `GET /auth/health`: 200 `{"status": "ok"}` once the configuration has loaded, with no
//! configuration value in it; `?deep=1` also reads the store, 503 `store_unavailable` when it
//! cannot.

use std::sync::Arc;

use http::StatusCode;
use integration_tests::{BackendKind, Harness, PROVIDER, client_id, client_secret};
use lambda_http::Body;
use shared::App;
use shared::crypto::Keyring;
use shared::store::dynamodb::{DynamoSettings, DynamoStore};

async fn get(app: &App, uri: &str) -> (StatusCode, String) {
    let req = http::Request::builder().uri(uri).body(Body::Empty).unwrap();
    let resp = app.handle_for(shared::app::Function::Session, req).await;
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (resp.status(), body)
}

on_both_stores!(health_says_ok_and_nothing_about_the_configuration);

async fn health_says_ok_and_nothing_about_the_configuration(backend: BackendKind) {
    let h = Harness::builder().backend(backend).spawn().await;
    for uri in [
        "/auth/health",
        "/auth/health?deep=1",
        "/prod/auth/health?deep=0&elb=1",
    ] {
        let (status, body) = get(&h.app, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"status": "ok"})
        );
        for value in [client_id(PROVIDER), client_secret(PROVIDER), h.issuer()] {
            assert!(!body.contains(&value), "{uri} names {value}");
        }
    }
    let (status, body) = get(&h.app, "/auth/health?deep=1&deep=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_deep_check_answers_503_store_unavailable_when_the_store_cannot_be_read() {
    // A DynamoDB endpoint on a loopback port nobody listens on.
    let port = integration_tests::unused_port();
    let settings = DynamoSettings {
        table: "nowhere".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}").parse().unwrap()),
        region: Some("us-east-1".into()),
        create_table: false,
    };
    let keyring = Keyring::from_base64(&["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]).unwrap();
    let store = DynamoStore::connect(&settings, keyring).await.unwrap();
    let h = Harness::spawn().await;
    let config = shared::config::Config::from_toml(&h.config_text, |_| Some("x".into())).unwrap();
    let app = App::new(config, Arc::new(store)).unwrap();

    let (status, body) = get(&app, "/auth/health").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the shallow check reads nothing: {body}"
    );
    let (status, body) = get(&app, "/auth/health?deep=1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("\"store_unavailable\""), "{body}");
}
