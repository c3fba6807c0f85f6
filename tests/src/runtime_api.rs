//! A minimal implementation of the AWS Lambda Runtime API on 127.0.0.1, so tests can run the
//! real function binaries exactly as Lambda would and feed them API Gateway events.
//!
//! One [`RuntimeApi`] is one function; it can run several processes of it at once, like
//! separate Lambda instances: each takes the next queued event when it asks for one, so
//! concurrent invocations overlap across processes. Each process talks to its own loopback
//! listener, which tells which instance holds which invocation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

/// How long one invocation may take before [`RuntimeApi::invoke`] gives up.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function answered for one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `/response`: the handler's JSON result.
    Response(serde_json::Value),
    /// `/error`: the handler failed.
    Error(serde_json::Value),
}

/// Where a function process's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Kept, and returned by [`RuntimeApi::stop`]. For short runs: a process that writes more
    /// than a pipe holds blocks until it is stopped.
    Capture,
    /// Written to this process's own stdout and stderr.
    Inherit,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

#[derive(Clone)]
struct Shared {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, serde_json::Value)>>>,
    pending: Pending,
    /// Which instance (index into the children) took which invocation.
    holders: Arc<Mutex<HashMap<String, usize>>>,
    init_error: Arc<Mutex<Option<serde_json::Value>>>,
}

/// The state of one instance's listener.
#[derive(Clone)]
struct Instance {
    shared: Shared,
    index: usize,
}

/// A running Runtime API endpoint with the function processes attached to it.
pub struct RuntimeApi {
    shared: Shared,
    sender: mpsc::Sender<(String, serde_json::Value)>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    children: Mutex<Vec<tokio::process::Child>>,
    counter: AtomicU64,
}

impl RuntimeApi {
    /// Prepares the endpoint; each function process started on it gets a listener on a free
    /// loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(64);
        let shared = Shared {
            queue: Arc::new(tokio::sync::Mutex::new(receiver)),
            pending: Arc::default(),
            holders: Arc::default(),
            init_error: Arc::default(),
        };
        Ok(Self {
            shared,
            sender,
            servers: Vec::new(),
            children: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        })
    }

    /// Starts `binary` as the function, with the Lambda environment and `env` on top; its
    /// output is captured (see [`RuntimeApi::stop`]).
    pub fn spawn_function(
        &mut self,
        binary: &std::path::Path,
        env: &[(&str, &str)],
    ) -> std::io::Result<()> {
        self.spawn_instance(binary, env, Output::Capture)
    }

    /// Starts one more process of `binary` (one more Lambda instance) on this endpoint, with
    /// the Lambda environment and `env` on top. Must be called inside a Tokio runtime.
    pub fn spawn_instance(
        &mut self,
        binary: &std::path::Path,
        env: &[(&str, &str)],
        output: Output,
    ) -> std::io::Result<()> {
        let index = lock(&self.children).len();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Instance {
                shared: self.shared.clone(),
                index,
            });
        self.servers.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));

        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stdout, stderr) = match output {
            Output::Capture => (Stdio::piped(), Stdio::piped()),
            Output::Inherit => (Stdio::inherit(), Stdio::inherit()),
        };
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("test-stream-{index}"))
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        lock(&self.children).push(child);
        Ok(())
    }

    /// Sends one event and waits for the function's answer. Several invocations may be in
    /// flight at once; each goes to whichever instance asks for work first.
    pub async fn invoke(&self, event: serde_json::Value) -> Result<Outcome, String> {
        let id = request_id(self.counter.fetch_add(1, Ordering::Relaxed));
        let (tx, mut rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id.clone(), tx);
        let result = self.wait_for(&id, event, &mut rx).await;
        lock(&self.shared.pending).remove(&id);
        lock(&self.shared.holders).remove(&id);
        result
    }

    async fn wait_for(
        &self,
        id: &str,
        event: serde_json::Value,
        rx: &mut oneshot::Receiver<Outcome>,
    ) -> Result<Outcome, String> {
        self.sender
            .send((id.to_owned(), event))
            .await
            .map_err(|_| "runtime API stopped".to_owned())?;
        let deadline = tokio::time::Instant::now() + INVOCATION_TIMEOUT;
        loop {
            tokio::select! {
                answer = &mut *rx => {
                    return answer.map_err(|_| "the runtime API dropped the invocation".to_owned());
                }
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(e) = lock(&self.shared.init_error).clone() {
                        return Err(format!("the function failed to start: {e}"));
                    }
                    let holder = lock(&self.shared.holders).get(id).copied();
                    let (holder_exited, all_exited) = {
                        let mut children = lock(&self.children);
                        let exited: Vec<bool> = children
                            .iter_mut()
                            .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                            .collect();
                        (
                            holder.is_some_and(|i| exited.get(i).copied().unwrap_or(false)),
                            !exited.is_empty() && exited.iter().all(|e| *e),
                        )
                    };
                    if holder_exited || all_exited {
                        return Err("the function exited without answering".to_owned());
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(format!(
                            "no answer from the function within {} s",
                            INVOCATION_TIMEOUT.as_secs()
                        ));
                    }
                }
            }
        }
    }

    /// Kills every function process now (they are killed on drop as well).
    pub fn kill(&self) {
        for child in lock(&self.children).iter_mut() {
            let _ = child.start_kill();
        }
    }

    /// Stops the functions and returns what they wrote to stdout and stderr (when captured).
    pub async fn stop(self) -> String {
        for server in &self.servers {
            server.abort();
        }
        let children = std::mem::take(&mut *lock(&self.children));
        let mut logs = String::new();
        for mut child in children {
            let _ = child.start_kill();
            match child.wait_with_output().await {
                Ok(out) => {
                    logs.push_str(&String::from_utf8_lossy(&out.stdout));
                    logs.push_str(&String::from_utf8_lossy(&out.stderr));
                }
                Err(e) => logs.push_str(&e.to_string()),
            }
        }
        logs
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

/// A Lambda-style request id: a random UUID (version 4); the counter keeps ids distinct even
/// if randomness were unavailable.
fn request_id(counter: u64) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::SystemRandom::new().fill(&mut b).is_err() {
        b[8..].copy_from_slice(&counter.to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(instance): State<Instance>) -> Response {
    let s = &instance.shared;
    let Some((id, event)) = s.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    lock(&s.holders).insert(id.clone(), instance.index);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + INVOCATION_TIMEOUT.as_millis())
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

async fn response(
    State(instance): State<Instance>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    deliver(&instance.shared, &id, Outcome::Response(value))
}

async fn error(
    State(instance): State<Instance>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    deliver(&instance.shared, &id, Outcome::Error(value))
}

async fn init_error(State(instance): State<Instance>, body: String) -> StatusCode {
    *lock(&instance.shared.init_error) =
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
            // The whole workspace, as scripts/test builds it: selecting single packages would
            // resolve dependency features differently and rebuild the tree.
            .args(["build", "--workspace", "--bins"])
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
