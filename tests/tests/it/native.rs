//! `POST /auth/{provider}/native`: a provider SDK's id_token traded for a bearer session, and
//! every way another app's, an old or a forged credential is refused, on both stores.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use integration_tests::{BackendKind, Harness, Reply, client_id, sha256_b64url};
use lambda_http::Body;
use serde_json::{Map, Value, json};

const IOS_APP: &str = "com.example.ios";
const ANDROID_APP: &str = "123-android.apps.example";
const NONCE: &str = "app-nonce-0123456789abcdefghijklmnop";

async fn harness(backend: BackendKind) -> Harness {
    Harness::builder()
        .backend(backend)
        .provider(
            "dev",
            &format!("native_client_ids = [\"{IOS_APP}\", \"{ANDROID_APP}\"]\n"),
        )
        .provider(
            "github",
            "preset = \"github\"\nauthorization_endpoint = \"{issuer}/authorize\"\n\
             token_endpoint = \"{issuer}/token\"\nuserinfo_endpoint = \"{issuer}/userinfo\"\n\
             scopes = [\"read:user\"]\n",
        )
        .spawn()
        .await
}

/// The claims the provider's SDK would put in an id_token for `aud`, with `nonce`.
fn claims(h: &Harness, aud: Value, nonce: &str) -> Map<String, Value> {
    let now = h.now();
    json!({
        "iss": h.issuer(), "sub": "alice", "aud": aud, "iat": now, "exp": now + 600,
        "nonce": nonce, "name": "Alice Example", "email": "alice@example.com",
        "email_verified": true, "sid": "provider-session-1",
        "jti": format!("jti-{}", integration_tests::unique_table()),
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn signed(h: &Harness, claims: &Map<String, Value>) -> String {
    h.provider.sign("JWT", claims)
}

async fn post(h: &Harness, path: &str, body: Value) -> Reply {
    h.browser()
        .request(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Body::Text(body.to_string()),
        )
        .await
}

async fn native(h: &Harness, id_token: &str, nonce: &str) -> Reply {
    post(
        h,
        "/auth/dev/native",
        json!({"id_token": id_token, "nonce": nonce}),
    )
    .await
}

async fn with_bearer(h: &Harness, method: Method, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    h.browser()
        .request(method, path, &[("authorization", &bearer)], Body::Empty)
        .await
}

fn session_token(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.set_cookies().is_empty(), "never a cookie: {reply:?}");
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    body["session_token"].as_str().unwrap().to_owned()
}

async fn an_app_id_token_becomes_a_bearer_session_without_a_provider_token(backend: BackendKind) {
    let h = harness(backend).await;
    let token = signed(&h, &claims(&h, json!(IOS_APP), NONCE));
    let session = session_token(&native(&h, &token, NONCE).await);

    let who = with_bearer(&h, Method::GET, "/auth/session", &session).await;
    assert_eq!(who.status, StatusCode::OK, "{who:?}");
    assert_eq!(who.json()["subject"], "alice");
    assert_eq!(who.json()["provider"], "dev");
    assert_eq!(who.json()["profile"]["email"], "alice@example.com");
    // The session is valid, but holds nothing to hand out.
    with_bearer(&h, Method::POST, "/auth/refresh", &session)
        .await
        .assert_error(409, "no_provider_token");
    assert_eq!(h.stats().refresh_token_grants, 0);
    assert_eq!(
        with_bearer(&h, Method::GET, "/auth/session", &session)
            .await
            .status,
        StatusCode::OK,
        "a 409 does not end the session"
    );
    // The table holds neither the session token nor the id_token.
    let rows = format!("{:?}", h.store.scan().await.unwrap());
    for secret in [session.as_str(), token.as_str(), "alice@example.com"] {
        assert!(!rows.contains(secret), "stored in plain text: {secret}");
    }
    let logout = with_bearer(&h, Method::POST, "/auth/logout", &session).await;
    assert_eq!(logout.status, StatusCode::OK, "{logout:?}");
    with_bearer(&h, Method::GET, "/auth/session", &session)
        .await
        .assert_error(401, "unauthenticated");
    let lines = h.events.raw().join("\n");
    assert!(lines.contains("\"native_signed_in\""), "{lines}");
}

async fn every_one_of_our_audiences_and_each_nonce_form_is_accepted(backend: BackendKind) {
    let h = harness(backend).await;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, NONCE.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let b64 = URL_SAFE_NO_PAD.encode(digest.as_ref());
    let cases = [
        (json!(IOS_APP), NONCE.to_owned()),
        (json!(ANDROID_APP), hex),
        (json!(client_id("dev")), b64),
    ];
    for (aud, in_token) in cases {
        let token = signed(&h, &claims(&h, aud.clone(), &in_token));
        session_token(&native(&h, &token, NONCE).await);
    }
    // Several audiences, all ours or not, are fine with an azp of ours.
    let mut several = claims(&h, json!([IOS_APP, "someone-else"]), NONCE);
    several.insert("azp".into(), json!(IOS_APP));
    session_token(&native(&h, &signed(&h, &several), NONCE).await);
}

async fn another_apps_old_forged_or_replayed_id_token_is_refused(backend: BackendKind) {
    let h = harness(backend).await;
    let base = || claims(&h, json!(IOS_APP), NONCE);
    let with = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut c = base();
        change(&mut c);
        signed(&h, &c)
    };
    let now = h.now();
    let valid = signed(&h, &base());
    let (head, sig) = valid.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[0] ^= 1;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another app's token",
            with(&|c| {
                c.insert("aud".into(), json!("com.evil.app"));
            }),
            NONCE,
        ),
        (
            "several audiences, no azp",
            with(&|c| {
                c.insert("aud".into(), json!([IOS_APP, "com.evil.app"]));
            }),
            NONCE,
        ),
        (
            "another app as azp",
            with(&|c| {
                c.insert("azp".into(), json!("com.evil.app"));
            }),
            NONCE,
        ),
        (
            "wrong issuer",
            with(&|c| {
                c.insert("iss".into(), json!("https://elsewhere.example"));
            }),
            NONCE,
        ),
        (
            "expired",
            with(&|c| {
                c.insert("iat".into(), json!(now - 7200));
                c.insert("exp".into(), json!(now - 3600));
            }),
            NONCE,
        ),
        (
            "another nonce",
            valid.clone(),
            "another-nonce-0123456789abcdef",
        ),
        (
            "a hash of another nonce",
            with(&|c| {
                c.insert("nonce".into(), json!(sha256_b64url("other")));
            }),
            NONCE,
        ),
        (
            "no nonce in the token",
            with(&|c| {
                c.remove("nonce");
            }),
            NONCE,
        ),
        (
            "bad signature",
            format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes)),
            NONCE,
        ),
        (
            "unpublished key",
            h.provider.sign_with_unpublished_key("JWT", &base()),
            NONCE,
        ),
        ("not a JWT", "not-a-jwt".to_owned(), NONCE),
    ];
    for (name, token, nonce) in &cases {
        let reply = native(&h, token, nonce).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {reply:?}");
        reply.assert_error(400, "invalid_grant");
        assert!(!reply.body.contains(token.as_str()), "{name}: echoed");
    }
    assert_eq!(
        h.store.session_count().await,
        0,
        "no session from a refused token"
    );
    // Replay: the valid token once, then never again, also when raced.
    session_token(&native(&h, &valid, NONCE).await);
    native(&h, &valid, NONCE)
        .await
        .assert_error(400, "invalid_grant");
    let racing = signed(&h, &base());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut app = h.browser();
        let body = json!({"id_token": racing, "nonce": NONCE}).to_string();
        calls.spawn(async move {
            app.request(
                Method::POST,
                "/auth/dev/native",
                &[("content-type", "application/json")],
                Body::Text(body),
            )
            .await
            .status
        });
    }
    let statuses = calls.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    let lines = h.events.raw().join("\n");
    assert!(lines.contains("\"native_refused\""), "{lines}");
}

async fn malformed_requests_and_kinds_not_accepted_are_refused(backend: BackendKind) {
    let h = harness(backend).await;
    let token = signed(&h, &claims(&h, json!(IOS_APP), NONCE));
    for (name, body) in [
        ("no credential", json!({})),
        ("no nonce", json!({"id_token": token})),
        ("empty nonce", json!({"id_token": token, "nonce": ""})),
        (
            "two kinds",
            json!({"id_token": token, "nonce": NONCE, "access_token": "at"}),
        ),
        (
            "nonce with an access token",
            json!({"access_token": "at", "nonce": NONCE}),
        ),
        (
            "refresh token with an id_token",
            json!({"id_token": token, "nonce": NONCE, "refresh_token": "rt"}),
        ),
        ("not a string", json!({"id_token": 7, "nonce": NONCE})),
        ("empty code", json!({"authorization_code": ""})),
    ] {
        post(&h, "/auth/dev/native", body)
            .await
            .assert_error(400, "invalid_request");
        let _ = name;
    }
    // Not JSON.
    h.browser()
        .request(
            Method::POST,
            "/auth/dev/native",
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::Text(format!("id_token={token}&nonce={NONCE}")),
        )
        .await
        .assert_error(400, "invalid_request");
    // Kinds this version does not accept, and an id_token for a provider without them.
    post(&h, "/auth/dev/native", json!({"authorization_code": "c-1"}))
        .await
        .assert_error(400, "unsupported_grant_type");
    post(&h, "/auth/dev/native", json!({"access_token": "at-1"}))
        .await
        .assert_error(400, "unsupported_grant_type");
    post(
        &h,
        "/auth/github/native",
        json!({"id_token": token, "nonce": NONCE}),
    )
    .await
    .assert_error(400, "unsupported_grant_type");
    post(
        &h,
        "/auth/nope/native",
        json!({"id_token": token, "nonce": NONCE}),
    )
    .await
    .assert_error(404, "unknown_provider");
    let get = h.browser().get("/auth/dev/native").await;
    get.assert_error(405, "method_not_allowed");
    assert_eq!(h.store.session_count().await, 0);
    // None of that burnt the token.
    session_token(&native(&h, &token, NONCE).await);
}

/// Kakao with `openid`: the Kakao SDK's `token.idToken` (its `aud` is the app key, Kakao's
/// `client_id`), against the dev provider standing in for `kauth.kakao.com`.
async fn kakao_sdk_id_token_becomes_a_session_and_another_apps_is_refused(backend: BackendKind) {
    let h = Harness::builder()
        .backend(backend)
        .provider(
            "kakao",
            "preset = \"kakao\"\nscopes = [\"openid\"]\napp_id = \"1234567\"\n",
        )
        .spawn()
        .await;
    let mut ours = claims(&h, json!(client_id("kakao")), NONCE);
    ours.remove("email_verified");
    let token = signed(&h, &ours);
    let reply = post(
        &h,
        "/auth/kakao/native",
        json!({"id_token": token, "nonce": NONCE}),
    )
    .await;
    let session = session_token(&reply);
    let who = with_bearer(&h, Method::GET, "/auth/session", &session).await;
    assert_eq!(who.json()["provider"], "kakao");
    assert_eq!(who.json()["subject"], "alice");
    assert_eq!(
        who.json()["profile"]["email"],
        "alice@example.com",
        "Kakao documents its id_token e-mail as verified"
    );

    let theirs = signed(&h, &claims(&h, json!("another-kakao-app-key"), NONCE));
    post(
        &h,
        "/auth/kakao/native",
        json!({"id_token": theirs, "nonce": NONCE}),
    )
    .await
    .assert_error(400, "invalid_grant");
    let wrong_nonce = signed(&h, &claims(&h, json!(client_id("kakao")), "other-nonce"));
    post(
        &h,
        "/auth/kakao/native",
        json!({"id_token": wrong_nonce, "nonce": NONCE}),
    )
    .await
    .assert_error(400, "invalid_grant");
    assert_eq!(h.store.session_count().await, 1);
}

on_both_stores!(
    kakao_sdk_id_token_becomes_a_session_and_another_apps_is_refused,
    an_app_id_token_becomes_a_bearer_session_without_a_provider_token,
    every_one_of_our_audiences_and_each_nonce_form_is_accepted,
    another_apps_old_forged_or_replayed_id_token_is_refused,
    malformed_requests_and_kinds_not_accepted_are_refused,
);
