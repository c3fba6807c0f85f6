//! The local runner as a process (`cargo run -p local`): slow clients are cut off instead of
//! holding connections open, and what it prints is JSON log lines.

use std::process::Stdio;
use std::time::Duration;

use integration_tests::runtime_api::function_binary;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running `local` binary with its development configuration.
pub(super) struct Local {
    child: tokio::process::Child,
    pub(super) addr: String,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

impl Local {
    /// The runner with its development configuration (and its built-in provider).
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// The runner with the configuration file `config`, when given.
    pub(super) async fn start_with(config: Option<&std::path::Path>) -> Self {
        let port = integration_tests::unused_port();
        let addr = format!("127.0.0.1:{port}");
        let dir = std::env::temp_dir();
        let tag = shared::crypto::random_token(6);
        let stdout = dir.join(format!("local-{tag}.out"));
        let stderr = dir.join(format!("local-{tag}.err"));
        let mut command = tokio::process::Command::new(function_binary("local"));
        command
            .args(["--listen", &addr])
            .env_remove("AUTH_CONFIG_FILE");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("the local runner starts");
        for _ in 0..300 {
            if TcpStream::connect(&addr).await.is_ok() {
                return Self {
                    child,
                    addr,
                    stdout,
                    stderr,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the local runner did not listen on {addr}");
    }

    /// Sends `bytes` and waits (at most `limit`) for the server to answer or hang up.
    async fn send_and_wait(&self, bytes: &[u8], limit: Duration) -> Option<String> {
        let mut stream = TcpStream::connect(&self.addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
        read.ok()
            .map(|_| String::from_utf8_lossy(&answer).into_owned())
    }

    /// Signs in through the development provider as `subject` (the binding cookie carried to
    /// the callback, as a browser would) and returns the session cookie's value.
    async fn sign_in(&self, http: &reqwest::Client, subject: &str) -> String {
        let login = http
            .get(format!("http://{}/auth/dev/login?return_to=%2F", self.addr))
            .header("user-agent", "LocalRunnerTest/1")
            .send()
            .await
            .unwrap();
        let tx = set_cookie(&login, "auth_tx").expect("binding cookie");
        let authorize = login.headers()["location"].to_str().unwrap().to_owned();
        let callback = integration_tests::submit_sign_in_form(
            &authorize,
            &[("action", "approve"), ("subject", subject)],
        )
        .await;
        let signed_in = http
            .get(&callback)
            .header("cookie", format!("auth_tx={tx}"))
            .send()
            .await
            .unwrap();
        set_cookie(&signed_in, "session").expect("session cookie")
    }

    pub(super) async fn stop(mut self) -> (String, String) {
        let _ = self.child.kill().await;
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let _ = std::fs::remove_file(&self.stdout);
        let _ = std::fs::remove_file(&self.stderr);
        (out, err)
    }
}

#[tokio::test]
async fn the_local_runner_hangs_up_on_headers_that_never_finish() {
    let local = Local::start().await;

    let answer = local
        .send_and_wait(
            b"GET /auth/session HTTP/1.1\r\nHost: x\r\n",
            Duration::from_secs(20),
        )
        .await;

    let answer = answer.expect("the connection was closed within the header-read timeout");
    assert!(!answer.contains("200 OK"), "{answer}");
    local.stop().await;
}

#[tokio::test]
async fn the_local_runner_gives_up_on_a_body_that_never_finishes() {
    let local = Local::start().await;

    let answer = local
        .send_and_wait(
            b"POST /auth/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"code\":",
            Duration::from_secs(25),
        )
        .await;

    let answer = answer.expect("the request was ended within the body-read timeout");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    local.stop().await;
}

#[tokio::test]
async fn the_local_runner_prints_only_json_log_lines_when_not_on_a_terminal() {
    let local = Local::start().await;
    let answer = local
        .send_and_wait(
            b"GET /auth/session HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .await;
    assert!(answer.is_some());

    let (stdout, stderr) = local.stop().await;

    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    assert!(
        lines.iter().any(|l| l.contains("local runner listening")),
        "{stdout}\n{stderr}"
    );
    for line in lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line:?}"
        );
    }
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_runner_proxies_the_dev_providers_api_and_guards_me_hello_with_the_session() {
    let local = Local::start().await;
    let base = format!("http://{}", local.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = local.sign_in(&http, "alice").await;
    let cookie = format!("session={session}");
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("x-requested-with", "fetch")
            .send()
    };

    let userinfo = get("/api/dev/userinfo").await.unwrap();
    assert_eq!(userinfo.status(), 200);
    let userinfo: serde_json::Value =
        serde_json::from_str(&userinfo.text().await.unwrap()).unwrap();
    assert_eq!(
        userinfo["sub"], "alice",
        "the dev provider's userinfo, through the proxy"
    );
    let hello = get("/me/hello").await.unwrap();
    assert_eq!(hello.status(), 200);
    let hello: serde_json::Value = serde_json::from_str(&hello.text().await.unwrap()).unwrap();
    assert_eq!(
        hello,
        serde_json::json!({ "hello": "alice", "provider": "dev" })
    );

    let logout = http
        .post(format!("{base}/auth/logout"))
        .header("cookie", &cookie)
        .header("x-requested-with", "fetch")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(
        get("/me/hello").await.unwrap().status(),
        403,
        "an ended session"
    );
    assert_eq!(get("/api/dev/userinfo").await.unwrap().status(), 401);
    local.stop().await;
}

#[tokio::test]
async fn a_login_refresh_and_logout_through_the_local_runner_print_their_security_events() {
    let local = Local::start().await;
    let base = format!("http://{}", local.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session_id = local.sign_in(&client, "zoe").await;
    let session = format!("session={session_id}");
    for path in ["/auth/refresh", "/auth/logout"] {
        let answer = client
            .post(format!("{base}{path}"))
            .header("cookie", &session)
            .header("x-requested-with", "fetch")
            .header("origin", &base)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }

    let (stdout, _) = local.stop().await;
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let events: Vec<&serde_json::Value> = lines.iter().filter(|l| l["class_uid"] == 3002).collect();
    let codes: Vec<&str> = events
        .iter()
        .map(|e| e["metadata"]["event_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "login_started",
            "login_succeeded",
            "refresh_served_from_store",
            "logout"
        ]
    );
    for e in &events {
        assert_eq!(e["src_endpoint"]["ip"], "127.0.0.1", "{e}");
        assert_eq!(e["metadata"]["product"]["feature"]["name"], "all");
        assert_eq!(e["user"]["domain"], "dev");
    }
    assert_eq!(events[0]["http_request"]["user_agent"], "LocalRunnerTest/1");
    // The local runner prints events, not CloudWatch metrics.
    assert!(lines.iter().all(|l| l.get("_aws").is_none()));
    assert!(!stdout.contains(&session_id), "the session id was printed");
    // (The built-in development provider logs its own sign-ins; the events never name the user.)
    let events_text: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    assert!(
        !events_text.join("\n").contains("zoe"),
        "the subject was printed"
    );
}
