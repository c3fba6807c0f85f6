//! `GET /auth/{provider}/login`: the redirect to the provider, the transaction cookie and
//! the `return_to` rules.

use http::{Method, StatusCode};
use integration_tests::{
    Harness, PUBLIC_BASE_URL, client_id, client_secret, form_value, is_base64url, query_param,
    query_values, sha256_b64url,
};
use lambda_http::Body;

#[tokio::test]
async fn login_redirects_to_the_authorization_endpoint_with_pkce_state_and_nonce() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    let reply = browser.start_login("dev", None).await;

    assert_eq!(reply.status, StatusCode::FOUND);
    let location = reply.location().to_owned();
    assert!(
        location.starts_with(&format!("{}/authorize?", h.issuer())),
        "{location}"
    );
    assert_eq!(query_param(&location, "response_type"), "code");
    assert_eq!(query_param(&location, "client_id"), client_id("dev"));
    assert_eq!(
        query_param(&location, "redirect_uri"),
        format!("{PUBLIC_BASE_URL}/auth/dev/callback")
    );
    assert_eq!(
        query_param(&location, "scope"),
        "openid email profile offline_access"
    );
    assert!(
        is_base64url(&query_param(&location, "state"), 43),
        "{location}"
    );
    let challenge = query_param(&location, "code_challenge");
    assert!(is_base64url(&challenge, 43), "{location}");
    assert_eq!(query_param(&location, "code_challenge_method"), "S256");
    assert!(!query_param(&location, "nonce").is_empty());

    // The challenge is S256 of the verifier the token request later presents.
    let callback = h.provider.approve(&location, "alice").unwrap();
    let done = browser.follow(&callback).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let verifier = form_value(&h.stats().last_token_form, "code_verifier").unwrap();
    assert_eq!(sha256_b64url(&verifier), challenge);
}

#[tokio::test]
async fn login_ignores_client_supplied_oauth_parameters_and_host_headers() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();
    let hostile_query = "client_id=evil-client\
        &redirect_uri=https%3A%2F%2Fevil.test%2Fcb\
        &scope=admin\
        &response_type=token\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
        &code_challenge_method=plain\
        &state=attacker-state\
        &nonce=attacker-nonce";

    let reply = browser
        .request(
            Method::GET,
            &format!("/auth/dev/login?{hostile_query}"),
            &[
                ("host", "evil.test"),
                ("x-forwarded-host", "evil.test"),
                ("x-forwarded-proto", "http"),
            ],
            Body::Empty,
        )
        .await;

    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let location = reply.location();
    assert!(!location.contains("evil"), "{location}");
    let one = |name: &str| {
        let values = query_values(location, name);
        assert_eq!(values.len(), 1, "exactly one {name} in {location}");
        values[0].clone()
    };
    assert_eq!(one("client_id"), client_id("dev"));
    assert_eq!(
        one("redirect_uri"),
        format!("{PUBLIC_BASE_URL}/auth/dev/callback")
    );
    assert_eq!(one("scope"), "openid email profile offline_access");
    assert_eq!(one("response_type"), "code");
    assert_eq!(one("code_challenge_method"), "S256");
    assert_ne!(
        one("code_challenge"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_ne!(one("state"), "attacker-state");
    assert_ne!(one("nonce"), "attacker-nonce");
}

#[tokio::test]
async fn login_for_an_unknown_provider_is_404_unknown_provider() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    let reply = browser.start_login("nope", Some("/app")).await;

    reply.assert_error(404, "unknown_provider");
    assert!(reply.header("location").is_none());
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
    assert_eq!(h.store.transaction_count().await, 0);
}

#[tokio::test]
async fn login_refuses_unsafe_return_to_without_redirecting() {
    let h = Harness::spawn().await;
    let bad = [
        "//evil.test",
        "//evil.test/app",
        "/\\evil.test",
        "\\\\evil.test",
        "https://evil.test/",
        "https://app.example.test.evil.test/",
        "http://app.example.test/",
        "https://app.example.test:8443/",
        "javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "evil.test",
        "/\t/evil.test",
        "/\n/evil.test",
        "/app\r\nLocation: https://evil.test/",
        "/app\thome",
    ];
    for return_to in bad {
        let mut browser = h.browser();

        let reply = browser.start_login("dev", Some(return_to)).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{return_to:?} must be refused: {reply:?}"
        );
        reply.assert_error(400, "invalid_return_to");
        assert!(
            reply.header("location").is_none(),
            "{return_to:?}: never a redirect"
        );
        assert!(
            reply.set_cookie("__Host-auth_tx").is_none(),
            "{return_to:?}"
        );
    }
    assert_eq!(
        h.store.transaction_count().await,
        0,
        "no transaction stored"
    );
}

#[tokio::test]
async fn login_accepts_paths_and_allowed_origins_and_lands_there_after_callback() {
    let h = Harness::spawn().await;
    let good = [
        "/app/home",
        "/app/home?tab=1#top",
        "/%09/evil",
        "https://app.example.test/x",
        "https://app.example.test/x?y=1",
    ];
    for return_to in good {
        let mut browser = h.browser();

        let login = browser.start_login("dev", Some(return_to)).await;
        assert_eq!(login.status, StatusCode::FOUND, "{return_to:?}: {login:?}");
        let callback = h.provider.approve(login.location(), "alice").unwrap();
        let done = browser.follow(&callback).await;

        assert_eq!(done.status, StatusCode::FOUND, "{return_to:?}: {done:?}");
        assert_eq!(done.location(), return_to);
        assert!(browser.session_id().is_some(), "{return_to:?}: signed in");
    }
}

#[tokio::test]
async fn login_without_return_to_lands_on_default_return_to() {
    let h = Harness::builder()
        .setting("default_return_to = \"https://app.example.test/welcome\"")
        .spawn()
        .await;
    let mut browser = h.browser();

    let done = browser.try_sign_in("dev", "alice", None).await;

    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "https://app.example.test/welcome");
}

#[tokio::test]
async fn accepted_non_ascii_return_to_is_delivered_percent_encoded_after_callback() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    let login = browser.start_login("dev", Some("/caf\u{e9}")).await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    let callback = h.provider.approve(login.location(), "alice").unwrap();
    let done = browser.follow(&callback).await;

    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    // Percent-encoded, so the Location header stays ASCII.
    assert_eq!(done.headers["location"], "/caf%C3%A9");
}

#[tokio::test]
async fn login_sets_a_host_prefixed_transaction_cookie_for_the_transaction_ttl() {
    let h = Harness::spawn().await;
    let mut browser = h.browser();

    let reply = browser.start_login("dev", None).await;

    assert_eq!(reply.status, StatusCode::FOUND);
    let cookie = reply
        .set_cookie("__Host-auth_tx")
        .unwrap_or_else(|| panic!("no __Host-auth_tx in {reply:?}"));
    assert!(!cookie.value.is_empty());
    assert!(cookie.has("secure"), "{cookie:?}");
    assert!(cookie.has("httponly"), "{cookie:?}");
    assert_eq!(
        cookie.attribute("samesite").map(str::to_ascii_lowercase),
        Some("lax".into())
    );
    assert_eq!(cookie.attribute("path"), Some("/"));
    assert_eq!(cookie.attribute("max-age"), Some("600"));
    assert!(!cookie.has("domain"), "{cookie:?}");
}

#[tokio::test]
async fn transaction_cookie_max_age_follows_the_configured_transaction_ttl() {
    let h = Harness::builder()
        .setting("transaction_ttl = \"5m\"")
        .spawn()
        .await;
    let mut browser = h.browser();

    let reply = browser.start_login("dev", None).await;

    let cookie = reply.set_cookie("__Host-auth_tx").unwrap();
    assert_eq!(cookie.attribute("max-age"), Some("300"));
}

#[tokio::test]
async fn development_cookies_drop_secure_and_the_host_prefix() {
    let h = Harness::builder().cookie_secure(false).spawn().await;
    let mut browser = h.browser();

    let login = browser.start_login("dev", None).await;
    let tx = login.set_cookie("auth_tx").expect("auth_tx cookie");
    assert!(login.set_cookie("__Host-auth_tx").is_none());
    assert!(!tx.has("secure"), "{tx:?}");
    let callback = h.provider.approve(login.location(), "alice").unwrap();
    let done = browser.follow(&callback).await;

    let session = done.set_cookie("session").expect("session cookie");
    assert!(!session.has("secure"), "{session:?}");
    assert!(session.has("httponly"));
    assert_eq!(browser.session().await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_parameters_are_fresh_for_every_login() {
    let h = Harness::spawn().await;
    let mut browsers = [h.browser(), h.browser()];
    let mut locations = Vec::new();

    // Two logins in one browser (two tabs), one in another browser.
    for which in [0, 0, 1] {
        let reply = browsers[which].start_login("dev", None).await;
        assert_eq!(reply.status, StatusCode::FOUND);
        locations.push(reply.location().to_owned());
    }

    for name in ["state", "nonce", "code_challenge"] {
        let mut values: Vec<String> = locations.iter().map(|l| query_param(l, name)).collect();
        values.sort();
        values.dedup();
        assert_eq!(values.len(), 3, "{name} must differ per login: {values:?}");
    }
    assert_eq!(h.store.transaction_count().await, 3);
}

#[tokio::test]
async fn login_location_never_carries_the_client_secret_or_the_verifier() {
    let h = Harness::builder()
        .provider("dev", "token_endpoint_auth_method = \"client_secret_post\"")
        .spawn()
        .await;
    let mut browser = h.browser();

    let pending = browser.begin("dev", "alice", None).await;
    let done = browser.follow(&pending.callback_url).await;

    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let secret = client_secret("dev");
    let verifier = form_value(&h.stats().last_token_form, "code_verifier").unwrap();
    for url in [&pending.authorization_url, &pending.callback_url] {
        assert!(!url.contains(&secret), "secret in {url}");
        assert!(!url.contains(&verifier), "verifier in {url}");
    }
}
