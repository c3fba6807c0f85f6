//! `apple-fixture`: the Sign in with Apple fixture as a process, for the end-to-end tests
//! (`tests/e2e/apple.test.mjs`). It generates an app key (as Apple's `.p8` download would give
//! it), serves the fixture for one app with any `redirect_uri` allowed (Apple accepts only
//! HTTPS with a domain name; the tests run on plain loopback http), and prints one JSON line
//! on stdout:
//!
//! `{"issuer", "client_id", "team_id", "key_id", "private_key_pem", "sub", "control_url"}`
//!
//! `issuer` is `http://{--host}:PORT` (default `localhost`) although the fixture listens on
//! 127.0.0.1 only: a browser then sees it as another site than a server at `127.0.0.1`. The
//! control server at `control_url` (127.0.0.1, another port) answers `GET /stats` (counters,
//! the last client secret's header and claims, and the NAMES of the last authorization
//! response's fields) and `GET /issued` (every token value the fixture issued and the last
//! client secret it saw, for a test to look for in logs).
//!
//! Usage: apple-fixture [--host localhost]. It exits on SIGTERM, SIGINT or when stdin closes.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::get;
use integration_tests::fixtures::{
    AppleAppKey, AppleBehavior, AppleFixture, AppleSetup, AppleStats, AppleUser,
};
use serde_json::{Value, json};

const CLIENT_ID: &str = "com.example.e2e.web";
const TEAM_ID: &str = "E2ETEAM123";
const KEY_ID: &str = "E2EKEY4567";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("apple-fixture: {e}");
        std::process::exit(2);
    }
}

fn host() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let mut host = "localhost".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().ok_or("--host needs a value")?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: apple-fixture [--host NAME]"
                ));
            }
        }
    }
    Ok(host)
}

async fn run() -> Result<(), String> {
    let host = host()?;
    let key = AppleAppKey::generate();
    let fixture = AppleFixture::spawn_at(
        AppleSetup {
            client_id: CLIENT_ID.into(),
            team_id: TEAM_ID.into(),
            key_id: KEY_ID.into(),
            public_key: key.public_key.clone(),
        },
        &host,
    )
    .await;
    fixture.set_behavior(AppleBehavior {
        allow_any_redirect_uri: true,
        ..AppleBehavior::default()
    });
    let fixture = Arc::new(fixture);

    let control = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let control_url = format!(
        "http://{}",
        control.local_addr().map_err(|e| e.to_string())?
    );
    let app = Router::new()
        .route("/stats", get(stats))
        .route("/issued", get(issued))
        .with_state(Arc::clone(&fixture));

    println!(
        "{}",
        json!({
            "issuer": fixture.issuer(),
            "client_id": CLIENT_ID,
            "team_id": TEAM_ID,
            "key_id": KEY_ID,
            "private_key_pem": key.private_key_pem,
            "sub": AppleUser::default().sub,
            "control_url": control_url,
        })
    );
    eprintln!(
        "apple-fixture: issuer {}, control {control_url}",
        fixture.issuer()
    );

    let serve = axum::serve(control, app);
    tokio::select! {
        served = serve => served.map_err(|e| e.to_string()),
        () = shutdown() => Ok(()),
    }
}

/// SIGTERM, SIGINT or the end of stdin (the test that started this process is gone).
async fn shutdown() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    tokio::select! {
        () = integration_tests::shutdown_signal() => {}
        _ = rx => {}
    }
}

fn counts(stats: &AppleStats) -> Value {
    let by_grant: serde_json::Map<String, Value> = stats
        .token_by_grant
        .iter()
        .map(|(grant, s)| (grant.clone(), s.count.into()))
        .collect();
    let secret = stats.client_secret.as_ref();
    json!({
        "discovery": stats.discovery.count,
        "keys": stats.keys.count,
        "authorize": stats.authorize.count,
        "token": stats.token.count,
        "token_by_grant": by_grant,
        "revoke": stats.revoke.count,
        "client_secrets_verified": stats.client_secrets_verified,
        "client_secrets_rejected": stats.client_secrets_rejected,
        "last_client_secret": secret.map(|c| json!({
            "verified": c.verified,
            "failure": c.failure,
            "header": c.header,
            "claims": c.claims,
        })),
        "last_authorization_response_fields": stats
            .last_authorization_response
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
    })
}

async fn stats(State(fixture): State<Arc<AppleFixture>>) -> Json<Value> {
    Json(counts(&fixture.stats()))
}

async fn issued(State(fixture): State<Arc<AppleFixture>>) -> Json<Value> {
    let stats = fixture.stats();
    let client_secret = stats.token.form("client_secret");
    Json(json!({
        "access_tokens": stats.issued_access_tokens,
        "refresh_tokens": stats.issued_refresh_tokens,
        "id_tokens": stats.issued_id_tokens,
        "client_secret": client_secret,
    }))
}
