//! Network helpers: a server that only counts connections, and the dev provider's HTML
//! sign-in form submitted over real HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A TCP server on 127.0.0.1 that counts accepted connections and answers each with a 500.
pub struct CountingServer {
    /// `http://127.0.0.1:{port}/`.
    pub url: String,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CountingServer {
    /// Binds a free port and starts accepting.
    pub async fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let port = listener.local_addr().expect("local address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}/token"),
            connections,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Submits the dev provider's sign-in form for `authorization_url` over HTTP with `fields`
/// (`action` = approve/deny, `subject`, `name`, `email`) and returns the redirect `Location`.
pub async fn submit_sign_in_form(authorization_url: &str, fields: &[(&str, &str)]) -> String {
    let (endpoint, query) = authorization_url
        .split_once('?')
        .expect("authorization URL has a query");
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        body.append_pair(&k, &v);
    }
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let resp = client
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .expect("the dev provider answers");
    assert_eq!(resp.status().as_u16(), 302, "sign-in form: {resp:?}");
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location from the sign-in form")
        .to_owned()
}

/// SIGTERM or SIGINT, for the test servers that run as processes (`apigw-front`,
/// `apple-fixture`); never, when the signals cannot be listened to.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// A port on 127.0.0.1 that nothing listened on a moment ago, drawn from outside Linux's
/// ephemeral range (32768-60999): the many `bind(0)` calls of tests running in parallel can
/// never be handed it, so it stays free for the process the test starts on it, or closed when
/// the test needs a port where nothing answers.
pub fn unused_port() -> u16 {
    loop {
        let port = 20_000 + (shared::crypto::random_below(12_000) as u16);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
