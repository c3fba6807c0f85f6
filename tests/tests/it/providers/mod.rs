//! The plain OAuth 2.0 presets (naver, facebook, github, kakao without openid) and the generic
//! `oauth2` kind, end to end against fixture servers that speak each provider's documented
//! wire format: a four-line provider block, login → approval → callback → session → refresh →
//! logout on both stores, then each provider's quirks. What is expected comes from the
//! contract and the providers' documentation, never from the presets.

pub(crate) mod apple;
mod facebook;
mod github;
mod kakao;
mod kakao_oidc;
mod naver;
mod oauth2;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use integration_tests::fixtures::{EndpointStats, FixtureBehavior, FixtureKind, FixtureServer};
use integration_tests::{
    BackendKind, Browser, Harness, PUBLIC_BASE_URL, Reply, client_id, client_secret, is_base64url,
    query_param, query_values, sha256_b64url,
};
use serde_json::Value;

/// Where every login here asks to return.
pub(super) const RETURN_TO: &str = "/app/home";

/// A fixture provider and a token handler configured for it under one provider name.
pub(super) struct Rig {
    pub(super) h: Harness,
    pub(super) fx: FixtureServer,
    pub(super) name: &'static str,
}

/// `client_id` and `client_secret` lines for `name` (the secret through `${SECRET_<NAME>}`,
/// as a deployment would name it).
pub(super) fn credentials(name: &str) -> String {
    format!(
        "client_id = \"{}\"\nclient_secret = \"${{SECRET_{}}}\"\n",
        client_id(name),
        name.to_ascii_uppercase()
    )
}

impl Rig {
    /// Starts a `kind` fixture registered for `name`'s client, then a token handler on
    /// `backend` whose `[providers.{name}]` table is `block(&fixture)`, with top-level
    /// `settings` lines.
    pub(super) async fn spawn(
        kind: FixtureKind,
        name: &'static str,
        backend: BackendKind,
        settings: &[&str],
        block: impl FnOnce(&FixtureServer) -> String,
    ) -> Self {
        let fx = FixtureServer::spawn(kind, &client_id(name), &client_secret(name)).await;
        let mut builder = Harness::builder()
            .backend(backend)
            .provider_block(name, &block(&fx));
        for line in settings {
            builder = builder.setting(line);
        }
        let h = builder.spawn().await;
        Rig { h, fx, name }
    }

    /// Switches the fixture's behaviour (everything else default).
    pub(super) fn behave(&self, behavior: FixtureBehavior) {
        self.fx.set_behavior(behavior);
    }

    /// `GET /auth/{name}/login?return_to=/app/home`; asserts a 302 to the fixture's
    /// authorization endpoint and returns that URL.
    pub(super) async fn start(&self, browser: &mut Browser) -> String {
        let login = browser.start_login(self.name, Some(RETURN_TO)).await;
        assert_eq!(login.status, StatusCode::FOUND, "login: {login:?}");
        let url = login.location().to_owned();
        let endpoint = format!("{}?", self.fx.authorization_endpoint());
        assert!(url.starts_with(&endpoint), "{url} is not on {endpoint}");
        url
    }

    /// The whole browser flow; returns the authorization URL and the callback's answer.
    pub(super) async fn try_sign_in(&self, browser: &mut Browser) -> (String, Reply) {
        let url = self.start(browser).await;
        let callback = self.fx.approve(&url).await;
        let path = callback
            .strip_prefix(PUBLIC_BASE_URL)
            .unwrap_or_else(|| panic!("the fixture redirected to {callback}"));
        (url, browser.get(path).await)
    }

    /// Signs in; asserts the callback set a session cookie and sent the browser to
    /// `return_to`. Returns the browser, the session id and the authorization URL.
    pub(super) async fn sign_in(&self) -> (Browser, String, String) {
        let mut browser = self.h.browser();
        let (url, reply) = self.try_sign_in(&mut browser).await;
        assert_eq!(reply.status, StatusCode::FOUND, "callback: {reply:?}");
        assert_eq!(reply.location(), RETURN_TO, "callback: {reply:?}");
        let session_id = browser
            .session_id()
            .expect("a session cookie after the callback");
        (browser, session_id, url)
    }

    /// Signs in with the fixture behaving as it does now; asserts the login failed cleanly:
    /// back to `return_to` with `error=login_failed`, no session cookie, nothing stored.
    pub(super) async fn assert_login_fails(&self) {
        let mut browser = self.h.browser();
        let (_, reply) = self.try_sign_in(&mut browser).await;
        assert_eq!(reply.status, StatusCode::FOUND, "callback: {reply:?}");
        assert_eq!(
            reply.location(),
            format!("{RETURN_TO}?error=login_failed"),
            "{reply:?}"
        );
        assert!(reply.set_cookie("__Host-session").is_none(), "{reply:?}");
        assert!(browser.session_id().is_none());
        assert_eq!(self.h.store.session_count().await, 0, "nothing stored");
        browser.session().await.assert_error(401, "unauthenticated");
    }

    /// The access token stored for `session_id`.
    pub(super) async fn stored_access(&self, session_id: &str) -> String {
        let session = self.h.session_for(session_id).await;
        session.tokens.access_token.expose().to_owned()
    }

    /// The refresh token stored for `session_id`, if any.
    pub(super) async fn stored_refresh(&self, session_id: &str) -> Option<String> {
        let session = self.h.session_for(session_id).await;
        session.tokens.refresh_token.map(|t| t.expose().to_owned())
    }
}

/// The login's authorization request as RFC 6749 §4.1.1 and RFC 7636 want it, without nonce
/// (plain OAuth 2.0): `response_type=code`, the client id, the configured callback, a fresh
/// state of at least 128 bits and an S256 challenge.
pub(super) fn assert_authorization_request(url: &str, name: &str) {
    assert_eq!(query_param(url, "response_type"), "code");
    assert_eq!(query_param(url, "client_id"), client_id(name));
    assert_eq!(
        query_param(url, "redirect_uri"),
        format!("{PUBLIC_BASE_URL}/auth/{name}/callback")
    );
    let state = query_param(url, "state");
    assert!(
        state.len() >= 22 && is_base64url(&state, state.len()),
        "{state}"
    );
    assert!(is_base64url(&query_param(url, "code_challenge"), 43));
    assert_eq!(query_param(url, "code_challenge_method"), "S256");
    assert!(query_values(url, "nonce").is_empty(), "no nonce: {url}");
    assert!(
        !url.contains(&client_secret(name)),
        "no secret in the URL: {url}"
    );
}

/// A parameter of a request: its form field, else its query parameter.
pub(super) fn sent(stats: &EndpointStats, name: &str) -> Option<String> {
    stats.form(name).or_else(|| stats.query(name))
}

/// Asserts that the code exchange presented the verifier of the authorization URL's challenge,
/// and the redirect URI.
pub(super) fn assert_pkce_verified(fx: &FixtureServer, authorization_url: &str, name: &str) {
    let exchange = fx.stats().grant("authorization_code");
    assert_eq!(exchange.count, 1, "one code exchange");
    let verifier = sent(&exchange, "code_verifier").expect("code_verifier sent");
    assert_eq!(
        sha256_b64url(&verifier),
        query_param(authorization_url, "code_challenge")
    );
    assert_eq!(
        sent(&exchange, "redirect_uri"),
        Some(format!("{PUBLIC_BASE_URL}/auth/{name}/callback"))
    );
}

/// `GET /auth/session`, asserted 200, as JSON.
pub(super) async fn session_json(browser: &mut Browser) -> Value {
    let reply = browser.session().await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.json()
}

/// `POST /auth/refresh`, asserted 200 and free of the refresh token; returns the body.
pub(super) async fn refresh_ok(browser: &mut Browser, force: bool) -> Value {
    let reply = browser.refresh(force).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    body
}

/// The access token of a refresh answer.
pub(super) fn access_of(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

/// Asserts `POST /auth/refresh` answers 401 `reauth_required` and the session is gone.
pub(super) async fn assert_reauth_required(rig: &Rig, browser: &mut Browser, force: bool) {
    browser
        .refresh(force)
        .await
        .assert_error(401, "reauth_required");
    assert_eq!(
        rig.h.store.session_count().await,
        0,
        "the session is deleted"
    );
    browser.session().await.assert_error(401, "unauthenticated");
}

/// Logs out; asserts 200 `{"logged_out": true}`, the provider's revoke endpoint called once
/// more, and the old cookie then refused by session and refresh.
pub(super) async fn assert_logout(rig: &Rig, browser: &mut Browser, session_id: &str) {
    let revokes = rig.fx.stats().revoke.count;
    let out = browser.logout().await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    assert_eq!(out.json()["logged_out"], true, "{out:?}");
    assert_eq!(
        rig.fx.stats().revoke.count,
        revokes + 1,
        "revoked at the provider"
    );
    assert_eq!(rig.h.store.session_count().await, 0, "session deleted");
    browser.put_cookie("__Host-session", session_id);
    browser.session().await.assert_error(401, "unauthenticated");
    browser
        .refresh(true)
        .await
        .assert_error(401, "unauthenticated");
}

/// Asserts `expires_at` is `now + secs`, give or take two seconds.
#[track_caller]
pub(super) fn assert_expires_at(expires_at: &Value, now: u64, secs: u64) {
    let at = expires_at
        .as_u64()
        .unwrap_or_else(|| panic!("{expires_at}"));
    assert!(
        at.abs_diff(now + secs) <= 2,
        "expires_at {at}, expected about {now} + {secs}"
    );
}

/// What a [`Stub`] answers.
#[derive(Clone)]
pub(super) enum StubAnswer {
    /// 200 with this JSON.
    Json(Value),
    /// 200 with this content type and body.
    Raw(&'static str, String),
    /// 302 to this URL.
    Redirect(String),
}

/// A userinfo endpoint (`{url}`) answering whatever it is told, to whoever asks: for answers
/// a fixture cannot give.
pub(super) struct Stub {
    answer: Arc<Mutex<StubAnswer>>,
    pub(super) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    /// Serves `GET /userinfo` with `answer` as JSON.
    pub(super) async fn spawn(answer: Value) -> Self {
        let answer = Arc::new(Mutex::new(StubAnswer::Json(answer)));
        let reply = |State(a): State<Arc<Mutex<StubAnswer>>>| async move {
            let answer = a.lock().unwrap().clone();
            let resp: Response = match answer {
                StubAnswer::Json(v) => axum::Json(v).into_response(),
                StubAnswer::Raw(content_type, body) => {
                    ([(http::header::CONTENT_TYPE, content_type)], body).into_response()
                }
                StubAnswer::Redirect(to) => {
                    (StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response()
                }
            };
            resp
        };
        let router = axum::Router::new()
            .route("/userinfo", axum::routing::get(reply))
            .with_state(Arc::clone(&answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/userinfo", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Stub { answer, url, task }
    }

    /// Answers 200 with `answer` from now on.
    pub(super) fn answer(&self, answer: Value) {
        *self.answer.lock().unwrap() = StubAnswer::Json(answer);
    }

    /// Answers this way from now on.
    pub(super) fn answer_with(&self, answer: StubAnswer) {
        *self.answer.lock().unwrap() = answer;
    }
}
