//! `cargo run -p local`: every route on 127.0.0.1:9000 from the same handlers the Lambda
//! functions run, with the embedded store. Without a configuration file it also serves a
//! development OpenID provider under `/dev-provider/` and a demo page at `/`.
//!
//! A client that sends its headers or its body slowly is cut off (see [`HEADER_READ_TIMEOUT`]
//! and [`BODY_READ_TIMEOUT`]), so half-sent requests cannot hold connections open.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::Request;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use dev_provider::{Client, DevProvider};
use shared::App;
use shared::config::Config;

/// Largest request body forwarded to the handlers: Lambda's payload limit, which the proxy
/// route (`/api/...`) carries; every other route caps its own body far below it.
const MAX_BODY: usize = 6 * 1024 * 1024;
/// Longest a client may take to send a request's headers (also while a connection idles).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

const DEMO_PAGE: &str = include_str!("demo.html");
/// The browser client (`clients/js/`), served for the demo page at `/client/index.js`.
const CLIENT_JS: &str = include_str!("../../clients/js/index.js");

/// `GET /client/index.js`: the browser client as a JavaScript module.
async fn client_js() -> impl IntoResponse {
    (
        [
            (http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        CLIENT_JS,
    )
}

/// Serves every route of the token handler on one address, from the Lambda functions' handlers.
#[derive(clap::Parser)]
#[command(name = "local", version)]
struct Options {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// A configuration file (TOML). Without one, a development OpenID provider is served under
    /// /dev-provider/ and used.
    #[arg(long = "config", env = "AUTH_CONFIG_FILE")]
    config_file: Option<String>,
}

/// The configuration used when none is given: the built-in provider `dev`, plain-http cookies.
fn development_config(base: &str, client_secret: &str) -> Result<Config, String> {
    let text = format!(
        r#"
public_base_url = "{base}"
default_return_to = "/"
allowed_origins = ["{base}"]
cookie_secure = false

[providers.dev]
preset = "oidc"
issuer = "{base}/dev-provider"
client_id = "local-dev"
client_secret = "${{DEV_CLIENT_SECRET}}"
scopes = ["openid", "email", "profile", "offline_access"]

# /api/dev/userinfo calls the dev provider's userinfo endpoint with the session's token.
[apis.dev]
provider = "dev"
base_url = "{base}/dev-provider"
"#
    );
    let secret = client_secret.to_owned();
    Config::from_toml(&text, move |name| {
        (name == "DEV_CLIENT_SECRET").then(|| secret.clone())
    })
    .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    shared::telemetry::init();
    if let Err(e) = run().await {
        eprintln!("local: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let opts = <Options as clap::Parser>::parse();
    let base = format!("http://{}", opts.listen);
    let mut router = Router::new();
    let config = match &opts.config_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            Config::from_toml(&text, |n| std::env::var(n).ok()).map_err(|e| e.to_string())?
        }
        None => {
            let secret = shared::crypto::random_token(32);
            let provider = DevProvider::new(
                &format!("{base}/dev-provider"),
                vec![Client {
                    client_id: "local-dev".into(),
                    client_secret: secret.clone(),
                    redirect_uris: vec![format!("{base}/auth/dev/callback")],
                }],
            );
            router = router.nest("/dev-provider", provider.router());
            development_config(&base, &secret)?
        }
    };
    let page = shared::demo::page(DEMO_PAGE, &config);
    let app = App::from_config(config)
        .await
        .map_err(|e| shared::telemetry::Chain(&e).to_string())?;
    // A server, unlike a Lambda instance, can afford readiness before its first request: with
    // `create_table = true` the table exists once the runner listens.
    app.prepare_store()
        .await
        .map_err(|e| format!("preparing the store: {}", shared::telemetry::Chain(&e)))?;
    let app = Arc::new(app);
    let protected = Arc::clone(&app);
    let hello = get(move |req: Request| me_hello(Arc::clone(&protected), req));
    let router = router
        .route("/", get(move || async move { Html(page.clone()) }))
        .route("/client/index.js", get(client_js))
        .route("/me/hello", hello.clone())
        .route("/app/me/hello", hello)
        .fallback(move |req: Request| forward(Arc::clone(&app), req));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    tracing::info!(address = %opts.listen, url = %base, "local runner listening");
    if std::io::stdout().is_terminal() {
        eprintln!("local: serving on {base}");
    }
    serve(listener, router).await
}

/// `GET /me/hello` (and `/app/me/hello`, its bearer-token twin in the SAM template), the
/// example route behind the authorizer, as API Gateway would run it.
async fn me_hello(app: Arc<App>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let req = http::Request::from_parts(parts, lambda_http::Body::Empty);
    let resp = shared::authorized::behind_authorizer(&app, &req, shared::authorized::hello).await;
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, lambda_body_to_axum(body))
}

/// Serves HTTP/1.1 with a header-read timeout on every connection.
async fn serve(listener: tokio::net::TcpListener, router: Router) -> Result<(), String> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // The connection's address is the client's, as API Gateway's `sourceIp` would be.
        let client = shared::events::ClientIp(peer.ip().to_string());
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(client.clone());
                    req
                },
            ));
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// Hands a request to the shared handler as API Gateway would, and its answer back.
async fn forward(app: Arc<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes =
        match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                let (parts, body) = shared::edge::ApiError::PayloadTooLarge
                    .response()
                    .into_parts();
                return Response::from_parts(parts, lambda_body_to_axum(body));
            }
            Err(_) => {
                let mut resp =
                    (http::StatusCode::REQUEST_TIMEOUT, "request body too slow").into_response();
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                return resp;
            }
        };
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    let resp = app.handle(http::Request::from_parts(parts, body)).await;
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, lambda_body_to_axum(body))
}

fn lambda_body_to_axum(body: lambda_http::Body) -> AxumBody {
    match body {
        lambda_http::Body::Text(t) => AxumBody::from(t),
        lambda_http::Body::Binary(b) => AxumBody::from(b),
        _ => AxumBody::empty(),
    }
}
