//! `GET /auth/{provider}/callback`: the transaction (state, browser binding, provider, TTL),
//! `iss`, provider errors, the code exchange and the session it creates.

use std::time::{Duration, Instant};

use dev_provider::Behavior;
use http::StatusCode;
use integration_tests::{
    CountingServer, Harness, PUBLIC_BASE_URL, Pending, client_id, form_value, query_param,
    sha256_b64url, submit_sign_in_form,
};

/// A change to a callback's query pairs.
type QueryEdit = Box<dyn Fn(Vec<(String, String)>) -> Vec<(String, String)>>;

/// The callback path of `pending` with its query rebuilt by `edit`.
fn with_query(
    pending: &Pending,
    edit: impl Fn(Vec<(String, String)>) -> Vec<(String, String)>,
) -> String {
    let path = pending.callback_path();
    let (route, query) = path.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(edit(pairs))
        .finish();
    format!("{route}?{query}")
}

/// A hand-built authorization response for the login behind `pending`.
fn response_path(pending: &Pending, issuer: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("state", &pending.state);
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.append_pair("iss", issuer);
    format!("/auth/dev/callback?{}", q.finish())
}

#[tokio::test]
async fn callback_signs_in_and_redirects_to_return_to() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", Some("/app/home")).await;

    let reply = browser.follow(&pending.callback_url).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/app/home");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    let session = reply
        .set_cookie("__Host-session")
        .unwrap_or_else(|| panic!("no session cookie in {reply:?}"));
    assert!(session.value.len() >= 43, "{session:?}");
    assert!(session.has("secure"), "{session:?}");
    assert!(session.has("httponly"), "{session:?}");
    assert_eq!(
        session.attribute("samesite").map(str::to_ascii_lowercase),
        Some("lax".into())
    );
    assert_eq!(session.attribute("path"), Some("/"));
    assert!(!session.has("domain"), "{session:?}");
    let tx = reply
        .set_cookie("__Host-auth_tx")
        .unwrap_or_else(|| panic!("the transaction cookie is not cleared: {reply:?}"));
    assert_eq!(tx.attribute("max-age"), Some("0"));

    let info = browser.session().await;
    assert_eq!(info.status, StatusCode::OK, "{info:?}");
    let info = info.json();
    assert_eq!(info["provider"], "dev");
    assert_eq!(info["subject"], "alice");
    assert_eq!(info["profile"]["name"], "Alice Example");
    assert_eq!(info["profile"]["email"], "alice@example.com");
    assert_eq!(info["profile"]["picture"], "https://example.com/alice.png");
}

#[tokio::test]
async fn callback_rejects_replayed_state() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", None).await;
    let mut replay = browser.clone(); // the same cookies as at the first delivery
    let first = browser.follow(&pending.callback_url).await;
    assert_eq!(first.status, StatusCode::FOUND, "{first:?}");

    let second = replay.follow(&pending.callback_url).await;

    second.assert_error(400, "invalid_state");
    assert!(second.set_cookie("__Host-session").is_none());
    assert_eq!(h.stats().authorization_code_grants, 1);
    assert_eq!(h.store.session_count().await, 1);
}

#[tokio::test]
async fn callback_rejects_missing_repeated_or_malformed_state_without_a_token_request() {
    let h = Harness::spawn().await;
    let unknown_but_well_formed = "A".repeat(43);
    let cases: Vec<(&str, QueryEdit)> = vec![
        (
            "missing",
            Box::new(|q| q.into_iter().filter(|(k, _)| k != "state").collect()),
        ),
        (
            "repeated",
            Box::new(|mut q| {
                let state = q.iter().find(|(k, _)| k == "state").unwrap().clone();
                q.push(state);
                q
            }),
        ),
        ("empty", Box::new(|q| replace_state(q, ""))),
        ("garbage", Box::new(|q| replace_state(q, "garbage"))),
        (
            "unicode",
            Box::new(|q| replace_state(q, "\u{2603}\u{1F600}")),
        ),
        (
            "unknown",
            Box::new(move |q| replace_state(q, &unknown_but_well_formed)),
        ),
    ];
    for (name, edit) in cases {
        let mut browser = h.browser();
        let pending = browser.begin("dev", "alice", None).await;

        let reply = browser.get(&with_query(&pending, edit)).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {reply:?}");
        reply.assert_error(400, "invalid_state");
    }
    assert_eq!(h.stats().authorization_code_grants, 0, "no token request");
    assert_eq!(h.store.session_count().await, 0);
}

fn replace_state(q: Vec<(String, String)>, state: &str) -> Vec<(String, String)> {
    q.into_iter()
        .map(|(k, v)| {
            if k == "state" {
                (k, state.to_owned())
            } else {
                (k, v)
            }
        })
        .collect()
}

#[tokio::test]
async fn callback_without_the_transaction_cookie_is_rejected_and_the_login_survives() {
    let h = Harness::spawn().await;
    let mut owner = h.browser();
    let pending = owner.begin("dev", "alice", None).await;
    let mut stranger = h.browser();

    let reply = stranger.follow(&pending.callback_url).await;

    reply.assert_error(400, "invalid_state");
    assert_eq!(h.stats().authorization_code_grants, 0, "no token request");
    let done = owner.follow(&pending.callback_url).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/");
    assert!(owner.session_id().is_some());
}

#[tokio::test]
async fn callback_with_another_browsers_cookie_is_rejected_and_the_login_survives() {
    let h = Harness::spawn().await;
    let mut victim = h.browser();
    let pending = victim.begin("dev", "alice", None).await;
    let mut attacker = h.browser();
    let _own = attacker.begin("dev", "mallory", None).await;
    assert!(attacker.cookie("__Host-auth_tx").is_some());

    let reply = attacker.follow(&pending.callback_url).await;

    reply.assert_error(400, "invalid_state");
    assert!(attacker.session_id().is_none());
    assert_eq!(h.stats().authorization_code_grants, 0, "no token request");
    let done = victim.follow(&pending.callback_url).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(victim.session().await.json()["subject"], "alice");
}

#[tokio::test]
async fn callback_rejects_a_state_delivered_to_another_provider() {
    let h = Harness::builder()
        .provider("alpha", "")
        .provider("beta", "")
        .spawn()
        .await;
    let mut browser = h.browser();
    let pending = browser.begin("alpha", "alice", None).await;
    let misdelivered = pending
        .callback_path()
        .replace("/auth/alpha/callback", "/auth/beta/callback");

    let reply = browser.get(&misdelivered).await;

    reply.assert_error(400, "invalid_state");
    assert_eq!(h.stats().authorization_code_grants, 0, "no token request");
    let done = browser.follow(&pending.callback_url).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(browser.session().await.json()["provider"], "alpha");
}

#[tokio::test]
async fn callback_rejects_a_transaction_older_than_transaction_ttl() {
    let h = Harness::spawn().await;
    // The app's clock jumps ahead of the provider's; keep its id_tokens valid meanwhile.
    h.set_behavior(Behavior {
        id_token_exp_offset: Some(86_400),
        ..Behavior::default()
    });
    let mut in_time = h.browser();
    let mut too_late = h.browser();
    let first = in_time.begin("dev", "alice", None).await;
    let second = too_late.begin("dev", "bob", None).await;

    h.clock.advance(599);
    let ok = in_time.follow(&first.callback_url).await;
    h.clock.advance(2);
    let expired = too_late.follow(&second.callback_url).await;

    assert_eq!(
        ok.status,
        StatusCode::FOUND,
        "599 s is within the TTL: {ok:?}"
    );
    assert!(in_time.session_id().is_some());
    expired.assert_error(400, "invalid_state");
    assert_eq!(
        h.stats().authorization_code_grants,
        1,
        "no token request when expired"
    );
}

#[tokio::test]
async fn callback_rejects_a_wrong_or_missing_iss_before_any_token_request() {
    let h = Harness::spawn().await;
    let issuer = h.issuer();
    let cases = [
        ("foreign issuer", Some(Some("https://evil".to_owned()))),
        ("trailing slash", Some(Some(format!("{issuer}/")))),
        (
            "other port",
            Some(Some(issuer.replace("127.0.0.1:", "127.0.0.1:1"))),
        ),
        // The discovery document advertises authorization_response_iss_parameter_supported.
        ("omitted", Some(None)),
    ];
    for (name, authorize_iss) in cases {
        h.set_behavior(Behavior {
            authorize_iss,
            ..Behavior::default()
        });
        let mut browser = h.browser();
        let pending = browser.begin("dev", "alice", None).await;

        let reply = browser.follow(&pending.callback_url).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {reply:?}");
        reply.assert_error(400, "invalid_issuer");
    }
    assert_eq!(h.stats().authorization_code_grants, 0, "no token request");
    assert_eq!(h.store.session_count().await, 0);
}

#[tokio::test]
async fn callback_sends_a_provider_denial_back_to_return_to() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let login = browser.start_login("dev", Some("/app/home")).await;
    let denied = submit_sign_in_form(login.location(), &[("action", "deny")]).await;
    assert_eq!(query_param(&denied, "error"), "access_denied");

    let reply = browser.follow(&denied).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/app/home?error=access_denied");
    assert!(reply.set_cookie("__Host-session").is_none());
    assert_eq!(
        reply
            .set_cookie("__Host-auth_tx")
            .unwrap()
            .attribute("max-age"),
        Some("0")
    );
    assert_eq!(h.stats().authorization_code_grants, 0);
    assert_eq!(h.store.session_count().await, 0);
}

#[tokio::test]
async fn callback_never_reflects_the_provider_error_description() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", Some("/app/home")).await;
    let path = response_path(
        &pending,
        &h.issuer(),
        &[
            ("error", "access_denied"),
            ("error_description", "<script>x</script>"),
            ("error_uri", "https://evil.test/why"),
        ],
    );

    let reply = browser.get(&path).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/app/home?error=access_denied");
    assert!(!reply.body.contains("script"), "{reply:?}");
    for (name, value) in &reply.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
        assert!(
            !value.contains("script") && !value.contains("evil"),
            "{name}: {value}"
        );
    }
    assert_eq!(h.stats().authorization_code_grants, 0);
}

#[tokio::test]
async fn callback_maps_unknown_provider_error_codes_to_access_denied() {
    let h = Harness::spawn().await;
    for code in ["totally_made_up", "<script>", "login_failed"] {
        let mut browser = h.browser();
        let pending = browser.begin("dev", "alice", Some("/app/home")).await;

        let reply = browser
            .get(&response_path(&pending, &h.issuer(), &[("error", code)]))
            .await;

        assert_eq!(reply.status, StatusCode::FOUND, "{code}: {reply:?}");
        assert_eq!(reply.location(), "/app/home?error=access_denied", "{code}");
    }
    assert_eq!(h.store.session_count().await, 0);
}

#[tokio::test]
async fn callback_authenticates_with_client_secret_basic_by_default() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    browser.sign_in("dev", "alice").await;

    assert_eq!(
        h.stats().last_client_auth.as_deref(),
        Some("client_secret_basic")
    );
}

#[tokio::test]
async fn callback_authenticates_with_client_secret_post_when_configured() {
    let h = Harness::builder()
        .provider("dev", "token_endpoint_auth_method = \"client_secret_post\"")
        .spawn()
        .await;
    let mut browser = h.browser();

    browser.sign_in("dev", "alice").await;

    let stats = h.stats();
    assert_eq!(
        stats.last_client_auth.as_deref(),
        Some("client_secret_post")
    );
    assert_eq!(
        form_value(&stats.last_token_form, "client_id"),
        Some(client_id("dev"))
    );
}

#[tokio::test]
async fn callback_token_request_carries_the_code_the_verifier_and_the_configured_redirect_uri() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", None).await;

    let reply = browser.follow(&pending.callback_url).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let form = h.stats().last_token_form;
    assert_eq!(
        form_value(&form, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(form_value(&form, "code"), Some(pending.code()));
    assert_eq!(
        form_value(&form, "redirect_uri"),
        Some(format!("{PUBLIC_BASE_URL}/auth/dev/callback"))
    );
    let verifier = form_value(&form, "code_verifier").expect("code_verifier sent");
    assert_eq!(
        sha256_b64url(&verifier),
        query_param(&pending.authorization_url, "code_challenge")
    );
    assert_eq!(h.stats().authorization_code_grants, 1);
}

#[tokio::test]
async fn callback_treats_token_endpoint_faults_as_login_failed() {
    let h = Harness::spawn().await;
    let faults = [
        (
            "invalid_grant",
            (400, r#"{"error":"invalid_grant"}"#.to_owned()),
        ),
        (
            "invalid_client",
            (401, r#"{"error":"invalid_client"}"#.to_owned()),
        ),
        ("server error", (500, "internal error".to_owned())),
        (
            "html error page",
            (502, "<html><body>bad gateway</body></html>".to_owned()),
        ),
        ("non-JSON 200", (200, "this is not JSON".to_owned())),
        (
            "JSON without access_token",
            (200, r#"{"token_type":"Bearer"}"#.to_owned()),
        ),
    ];
    for (name, fault) in faults {
        h.assert_login_failed(
            name,
            Behavior {
                token_error: Some(fault),
                ..Behavior::default()
            },
        )
        .await;
    }
    h.assert_login_failed(
        "oversize",
        Behavior {
            token_oversize: true,
            ..Behavior::default()
        },
    )
    .await;
}

#[tokio::test]
async fn callback_does_not_follow_a_token_endpoint_redirect() {
    let h = Harness::spawn().await;
    let elsewhere = CountingServer::spawn().await;

    h.assert_login_failed(
        "redirect",
        Behavior {
            token_redirect_to: Some(elsewhere.url.clone()),
            ..Behavior::default()
        },
    )
    .await;

    assert_eq!(elsewhere.connections(), 0, "the redirect was followed");
}

#[tokio::test]
async fn callback_gives_up_on_a_stalled_token_endpoint_within_the_timeout() {
    let h = Harness::spawn().await;
    h.set_behavior(Behavior {
        token_delay_ms: Some(12_000),
        ..Behavior::default()
    });
    let mut browser = h.browser();
    let pending = browser.begin("dev", "alice", Some("/app/home")).await;

    let started = Instant::now();
    let reply = browser.follow(&pending.callback_url).await;
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_millis(11_500), "took {elapsed:?}");
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/app/home?error=login_failed");
    assert_eq!(h.store.session_count().await, 0);
}

#[tokio::test]
async fn users_are_keyed_by_provider_and_subject() {
    let h = Harness::builder()
        .provider("alpha", "")
        .provider("beta", "")
        .spawn()
        .await;
    let mut at_alpha = h.browser();
    let mut at_beta = h.browser();

    let alpha_session = at_alpha.sign_in("alpha", "alice").await;
    let beta_session = at_beta.sign_in("beta", "alice").await;

    assert_ne!(alpha_session, beta_session);
    assert_eq!(h.store.session_count().await, 2);
    let alpha = at_alpha.session().await.json();
    let beta = at_beta.session().await.json();
    assert_eq!(
        (alpha["provider"].as_str(), alpha["subject"].as_str()),
        (Some("alpha"), Some("alice"))
    );
    assert_eq!(
        (beta["provider"].as_str(), beta["subject"].as_str()),
        (Some("beta"), Some("alice"))
    );
}

#[tokio::test]
async fn the_same_email_never_links_two_subjects() {
    let h = Harness::spawn().await;
    let mut sessions = Vec::new();
    for subject in ["alice", "bob"] {
        let mut browser = h.browser();
        let login = browser.start_login("dev", None).await;
        let callback = submit_sign_in_form(
            login.location(),
            &[
                ("action", "approve"),
                ("subject", subject),
                ("name", "Shared Name"),
                ("email", "shared@example.test"),
            ],
        )
        .await;
        let done = browser.follow(&callback).await;
        assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
        sessions.push((
            browser.session_id().unwrap(),
            browser.session().await.json(),
        ));
    }

    assert_ne!(sessions[0].0, sessions[1].0);
    assert_eq!(sessions[0].1["subject"], "alice");
    assert_eq!(sessions[1].1["subject"], "bob");
    for (_, info) in &sessions {
        assert_eq!(info["profile"]["email"], "shared@example.test");
    }
}

#[tokio::test]
async fn session_id_is_stored_only_as_its_hash() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    let session_id = browser.sign_in("dev", "alice").await;

    let now = h.now();
    assert!(
        h.store
            .get_session(&session_id, now)
            .await
            .unwrap()
            .is_none()
    );
    let stored = h
        .store
        .get_session(&sha256_b64url(&session_id), now)
        .await
        .unwrap()
        .expect("stored under the SHA-256 of the id");
    assert_eq!(stored.subject, "alice");
    assert_ne!(stored.key, session_id);
}
