//! An upstream API for the proxy tests, on `http://127.0.0.1:{port}`: it records every request
//! exactly as it arrived (raw path and query, headers, body) and answers like a resource
//! server that takes bearer tokens (RFC 6750): a request without `Authorization: Bearer`, or
//! with a token it has been told to refuse, gets 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`.
//!
//! Paths under `/_/` misbehave on purpose: `/_/redirect` (302 to another host),
//! `/_/status/{code}`, `/_/big/{bytes}` (a body that long), `/_/slow/{ms}`, `/_/headers`
//! (cookies, hop-by-hop, CORS and a content security policy of its own). Any other path
//! answers 200 with JSON describing the request: `{"method", "path", "query", "body_len"}`.
//! It stops when dropped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::task::JoinHandle;

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The path exactly as sent (percent-encoding kept).
    pub path: String,
    pub query: Option<String>,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The bearer token it carried.
    pub fn bearer(&self) -> Option<String> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    refused: HashSet<String>,
    refuse_all: bool,
}

/// A running upstream API.
pub struct UpstreamApi {
    base_url: String,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Drop for UpstreamApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UpstreamApi {
    /// Binds a free loopback port and serves.
    pub async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the upstream API");
        let port = listener.local_addr().expect("local address").port();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        UpstreamApi {
            base_url: format!("http://127.0.0.1:{port}"),
            inner,
            task,
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// From now on refuses every token it has seen so far (as if they were revoked early).
    pub fn refuse_tokens_seen_so_far(&self) {
        let mut inner = self.lock();
        let seen: Vec<String> = inner.received.iter().filter_map(Received::bearer).collect();
        inner.refused.extend(seen);
    }

    /// From now on refuses `token`.
    pub fn refuse(&self, token: &str) {
        self.lock().refused.insert(token.to_owned());
    }

    /// Refuses every token (`true`) or only the refused ones again (`false`).
    pub fn refuse_all(&self, refuse: bool) {
        self.lock().refuse_all = refuse;
    }
}

async fn answer(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
            .collect(),
        body: body.to_vec(),
    };
    let token = received.bearer();
    let allowed = {
        let mut inner = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.received.push(received.clone());
        token.is_some_and(|t| !inner.refuse_all && !inner.refused.contains(&t))
    };
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            "",
        )
            .into_response();
    }
    // The misbehaving paths work under any base path.
    let path = received
        .path
        .find("/_/")
        .map_or("", |at| &received.path[at..]);
    let arg = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
    };
    if path == "/_/redirect" {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, "https://elsewhere.example/next")],
        )
            .into_response();
    }
    if let Some(code) = arg("/_/status/") {
        let status = StatusCode::from_u16(code as u16).unwrap_or(StatusCode::IM_A_TEAPOT);
        return (status, "status on request").into_response();
    }
    if let Some(len) = arg("/_/big/") {
        return (StatusCode::OK, Body::from(vec![b'x'; len as usize])).into_response();
    }
    if let Some(ms) = arg("/_/slow/") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if path == "/_/headers" {
        return (
            StatusCode::OK,
            [
                ("content-type", "text/html"),
                ("etag", "\"v7\""),
                ("set-cookie", "upstream=1; Path=/"),
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("access-control-allow-origin", "*"),
                ("content-security-policy", "script-src *"),
                ("x-upstream", "yes"),
            ],
            "<script>alert(1)</script>",
        )
            .into_response();
    }
    let described = json!({
        "method": received.method,
        "path": received.path,
        "query": received.query,
        "body_len": received.body.len(),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        described.to_string(),
    )
        .into_response()
}
