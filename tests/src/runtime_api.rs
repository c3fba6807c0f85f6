//! A minimal implementation of the AWS Lambda Runtime API on 127.0.0.1, so tests can run the
//! real function binaries exactly as Lambda would and feed them API Gateway events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

/// What the function answered for one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `/response`: the handler's JSON result.
    Response(serde_json::Value),
    /// `/error`: the handler failed.
    Error(serde_json::Value),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

#[derive(Clone)]
struct Shared {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, serde_json::Value)>>>,
    pending: Pending,
    init_error: Arc<Mutex<Option<serde_json::Value>>>,
}

/// A running Runtime API endpoint with one function process attached to it.
pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::Sender<(String, serde_json::Value)>,
    pending: Pending,
    init_error: Arc<Mutex<Option<serde_json::Value>>>,
    server: tokio::task::JoinHandle<()>,
    child: Option<tokio::process::Child>,
    counter: u64,
}

impl RuntimeApi {
    /// Starts the endpoint on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(16);
        let shared = Shared {
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
            pending: Arc::default(),
            init_error: Arc::default(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            sender,
            pending: shared.pending,
            init_error: shared.init_error,
            server,
            child: None,
            counter: 0,
        })
    }

    /// Starts `binary` as the function, with the Lambda environment and `env` on top.
    pub fn spawn_function(
        &mut self,
        binary: &std::path::Path,
        env: &[(&str, &str)],
    ) -> std::io::Result<()> {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test-stream")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn()?);
        Ok(())
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&mut self, event: serde_json::Value) -> Result<Outcome, String> {
        self.counter += 1;
        let id = format!("req-{}", self.counter);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        self.sender
            .send((id, event))
            .await
            .map_err(|_| "runtime API stopped".to_owned())?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut rx = rx;
        loop {
            tokio::select! {
                answer = &mut rx => {
                    return answer.map_err(|_| "the runtime API dropped the invocation".to_owned());
                }
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(e) = lock(&self.init_error).clone() {
                        return Err(format!("the function failed to start: {e}"));
                    }
                    let exited = self
                        .child
                        .as_mut()
                        .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
                    if exited {
                        return Err("the function exited without answering".to_owned());
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err("no answer from the function within 30 s".to_owned());
                    }
                }
            }
        }
    }

    /// Stops the function and returns what it wrote to stdout and stderr.
    pub async fn stop(mut self) -> String {
        self.server.abort();
        let Some(mut child) = self.child.take() else {
            return String::new();
        };
        let _ = child.start_kill();
        match child.wait_with_output().await {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => e.to_string(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(s): State<Shared>) -> Response {
    let Some((id, event)) = s.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    put("lambda-runtime-aws-request-id", id);
    put("lambda-runtime-deadline-ms", deadline.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    (headers, event.to_string()).into_response()
}

fn deliver(s: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&s.pending).remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(State(s): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    deliver(&s, &id, Outcome::Response(value))
}

async fn error(State(s): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    deliver(&s, &id, Outcome::Error(value))
}

async fn init_error(State(s): State<Shared>, body: String) -> StatusCode {
    *lock(&s.init_error) =
        Some(serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)));
    StatusCode::ACCEPTED
}

/// The workspace's debug build of a function binary, built once on first use.
pub fn function_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(&workspace)
            .args([
                "build", "-p", "login", "-p", "callback", "-p", "refresh", "-p", "session",
            ])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "building the function binaries failed"
        );
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    target.join("debug").join(name)
}
