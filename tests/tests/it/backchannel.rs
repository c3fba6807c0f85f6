//! `POST /auth/{provider}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): logout
//! tokens signed by the dev provider's published key, valid and broken every way the contract
//! names, on both stores.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_provider::Behavior;
use http::{Method, StatusCode};
use integration_tests::{BackendKind, Browser, Harness, Reply, client_id, sha256_b64url};
use lambda_http::Body;
use serde_json::{Map, Value, json};
use shared::store::item::Attr;

const PATH: &str = "/auth/dev/backchannel-logout";

async fn harness(backend: BackendKind) -> Harness {
    Harness::builder()
        .backend(backend)
        .provider(
            "github",
            "preset = \"github\"\nauthorization_endpoint = \"{issuer}/authorize\"\n\
             token_endpoint = \"{issuer}/token\"\nuserinfo_endpoint = \"{issuer}/userinfo\"\n\
             scopes = [\"read:user\"]\n",
        )
        .provider("dev", "")
        .spawn()
        .await
}

/// The claims of a JWT, unverified (the test reads what the provider put in).
fn claims_of(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Signs in `subject` in a fresh browser: the browser, its session id and the provider
/// session id (`sid`) of the id_token that sign-in got.
async fn signed_in(h: &Harness, subject: &str) -> (Browser, String, String) {
    let mut browser = h.browser();
    let session_id = browser.sign_in("dev", subject).await;
    let id_token = h.stats().issued_id_tokens.last().unwrap().clone();
    let sid = claims_of(&id_token)["sid"].as_str().unwrap().to_owned();
    (browser, session_id, sid)
}

/// Posts `body` as the provider does (a form, no cookies).
async fn post_form(h: &Harness, path: &str, body: &str) -> Reply {
    let mut provider_side = h.browser();
    provider_side
        .request(
            Method::POST,
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Body::Text(body.to_owned()),
        )
        .await
}

async fn post_token(h: &Harness, token: &str) -> Reply {
    post_form(h, PATH, &format!("logout_token={token}")).await
}

fn ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, "", "an empty body");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

async fn alive(h: &Harness, session_id: &str) -> bool {
    h.stored_session(&sha256_b64url(session_id)).await.is_some()
}

async fn a_logout_token_with_a_sid_ends_that_provider_sessions_sessions_and_no_other(
    backend: BackendKind,
) {
    let h = harness(backend).await;
    let (mut first, first_id, first_sid) = signed_in(&h, "alice").await;
    let (_, second_id, second_sid) = signed_in(&h, "alice").await;
    let (_, bob_id, _) = signed_in(&h, "bob").await;
    assert_ne!(first_sid, second_sid, "one provider session per sign-in");
    // A second session of ours from the same provider session (an app that signed in through
    // the same provider session): written as the callback would, with the same sid.
    let mut twin = h.session_for(&first_id).await;
    twin.key = sha256_b64url("twin-session-id");
    h.store.create_session(&twin).await.unwrap();

    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("alice"), Some(&first_sid));
    ok(&post_token(&h, &token).await);

    assert!(!alive(&h, &first_id).await, "the named session ended");
    assert!(
        !alive(&h, "twin-session-id").await,
        "every session of that sid ended"
    );
    assert!(
        alive(&h, &second_id).await,
        "another provider session of alice lives"
    );
    assert!(alive(&h, &bob_id).await, "bob is untouched");
    first.session().await.assert_error(401, "unauthenticated");
    first
        .refresh(false)
        .await
        .assert_error(401, "unauthenticated");
}

async fn a_logout_token_with_only_a_sub_ends_every_session_of_that_user(backend: BackendKind) {
    let h = harness(backend).await;
    let (mut first, first_id, _) = signed_in(&h, "alice").await;
    let (_, second_id, _) = signed_in(&h, "alice").await;
    let (mut bob, bob_id, _) = signed_in(&h, "bob").await;

    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("alice"), None);
    ok(&post_token(&h, &token).await);

    assert!(!alive(&h, &first_id).await);
    assert!(!alive(&h, &second_id).await);
    first.session().await.assert_error(401, "unauthenticated");
    assert!(alive(&h, &bob_id).await);
    assert_eq!(bob.session().await.status, StatusCode::OK);
    // The event names the outcome and how many sessions ended, never who by name.
    let lines = h.events.raw().join("\n");
    assert!(lines.contains("\"backchannel_logout\""), "{lines}");
    assert!(lines.contains("\"sessions_ended\":2"), "{lines}");
}

async fn a_logout_token_naming_nobody_signed_in_is_accepted_and_ends_nothing(backend: BackendKind) {
    let h = harness(backend).await;
    let (_, alice_id, _) = signed_in(&h, "alice").await;
    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("carol"), Some("no-such-sid"));
    ok(&post_token(&h, &token).await);
    assert!(alive(&h, &alice_id).await);
}

async fn a_logout_token_is_accepted_once_even_when_replayed_concurrently(backend: BackendKind) {
    let h = harness(backend).await;
    let (_, alice_id, sid) = signed_in(&h, "alice").await;
    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("alice"), Some(&sid));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut provider_side = h.browser();
        let body = format!("logout_token={token}");
        calls.spawn(async move {
            provider_side
                .request(
                    Method::POST,
                    PATH,
                    &[("content-type", "application/x-www-form-urlencoded")],
                    Body::Text(body),
                )
                .await
        });
    }
    let replies = calls.join_all().await;
    let accepted = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(accepted, 1, "{replies:?}");
    for r in replies.iter().filter(|r| r.status != StatusCode::OK) {
        r.assert_error(400, "invalid_request");
    }
    assert!(!alive(&h, &alice_id).await);
    // Later, the same token again (a new session of the same sid would not end by it).
    post_token(&h, &token)
        .await
        .assert_error(400, "invalid_request");
    let lines = h.events.raw().join("\n");
    assert!(lines.contains("\"backchannel_logout_refused\""), "{lines}");
}

async fn invalid_logout_tokens_are_refused_and_end_nothing(backend: BackendKind) {
    let h = harness(backend).await;
    let (mut browser, alice_id, sid) = signed_in(&h, "alice").await;
    // Every broken token below carries the same jti as the valid one sent last: a refused
    // token must not burn it.
    let base = || {
        let mut claims = h
            .provider
            .logout_claims(&client_id("dev"), Some("alice"), Some(&sid));
        claims.insert("jti".into(), json!("shared-jti"));
        claims
    };
    let with = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut claims = base();
        change(&mut claims);
        h.provider.sign("logout+jwt", &claims)
    };
    let now = h.now();
    let issuer = h.issuer();
    let valid = h.provider.sign("logout+jwt", &base());
    let (signed_part, signature) = valid.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[0] ^= 1;
    let bad_signature = format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(sig));
    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"logout+jwt"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(base()).to_string());
    let alg_none = format!("{header_none}.{payload}.");
    let id_token = h.stats().issued_id_tokens.last().unwrap().clone();

    let cases: Vec<(&str, String)> = vec![
        (
            "wrong iss",
            with(&|c| {
                c.insert("iss".into(), json!(format!("{issuer}/other")));
            }),
        ),
        (
            "wrong aud",
            with(&|c| {
                c.insert("aud".into(), json!("another-client"));
            }),
        ),
        (
            "aud list without us",
            with(&|c| {
                c.insert("aud".into(), json!(["another-client", "third"]));
            }),
        ),
        (
            "missing events",
            with(&|c| {
                c.remove("events");
            }),
        ),
        (
            "another event",
            with(&|c| {
                c.insert(
                    "events".into(),
                    json!({"http://schemas.openid.net/event/other": {}}),
                );
            }),
        ),
        (
            "event not an object",
            with(&|c| {
                c.insert(
                    "events".into(),
                    json!({"http://schemas.openid.net/event/backchannel-logout": true}),
                );
            }),
        ),
        (
            "nonce present",
            with(&|c| {
                c.insert("nonce".into(), json!("n-1"));
            }),
        ),
        (
            "neither sid nor sub",
            with(&|c| {
                c.remove("sid");
                c.remove("sub");
            }),
        ),
        (
            "missing jti",
            with(&|c| {
                c.remove("jti");
            }),
        ),
        (
            "expired",
            with(&|c| {
                c.insert("iat".into(), json!(now - 900));
                c.insert("exp".into(), json!(now - 600));
            }),
        ),
        (
            "issued in the future",
            with(&|c| {
                c.insert("iat".into(), json!(now + 3600));
                c.insert("exp".into(), json!(now + 3720));
            }),
        ),
        (
            "missing exp",
            with(&|c| {
                c.remove("exp");
            }),
        ),
        (
            "missing iat",
            with(&|c| {
                c.remove("iat");
            }),
        ),
        ("bad signature", bad_signature),
        ("alg none", alg_none),
        (
            "a key the JWKS does not publish",
            h.provider.sign_with_unpublished_key("logout+jwt", &base()),
        ),
        ("the login's id_token", id_token),
        ("not a JWT", "not-a-jwt".into()),
    ];
    for (name, token) in &cases {
        let reply = post_token(&h, token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {reply:?}");
        reply.assert_error(400, "invalid_request");
        assert!(
            !reply.body.contains(token.as_str()),
            "{name}: the token is echoed"
        );
        assert!(alive(&h, &alice_id).await, "{name} ended the session");
    }
    assert_eq!(browser.session().await.status, StatusCode::OK);
    // The refused tokens did not burn the jti: the valid token with it is accepted, once.
    ok(&post_token(&h, &valid).await);
    browser.session().await.assert_error(401, "unauthenticated");
    post_token(&h, &valid)
        .await
        .assert_error(400, "invalid_request");
}

async fn malformed_requests_are_refused_and_end_nothing(backend: BackendKind) {
    let h = harness(backend).await;
    let (_, alice_id, sid) = signed_in(&h, "alice").await;
    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("alice"), Some(&sid));
    let twice = format!("logout_token={token}&logout_token={token}");
    for (name, body) in [
        ("empty body", String::new()),
        ("empty token", "logout_token=".to_owned()),
        ("another parameter only", format!("id_token_hint={token}")),
        ("the token twice", twice),
        ("bad percent-encoding", "logout_token=%zz".to_owned()),
    ] {
        post_form(&h, PATH, &body)
            .await
            .assert_error(400, "invalid_request");
        assert!(alive(&h, &alice_id).await, "{name}");
    }
    // The token as JSON instead of a form.
    let mut other = h.browser();
    other
        .request(
            Method::POST,
            PATH,
            &[("content-type", "application/json")],
            Body::Text(json!({"logout_token": token}).to_string()),
        )
        .await
        .assert_error(400, "invalid_request");
    // Too large.
    let huge = format!("logout_token={}", "a".repeat(20_000));
    post_form(&h, PATH, &huge)
        .await
        .assert_error(400, "invalid_request");
    // Other methods.
    let reply = other.get(PATH).await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    // Unknown provider, and a provider without id_tokens (nothing to verify a token with).
    post_form(
        &h,
        "/auth/nope/backchannel-logout",
        &format!("logout_token={token}"),
    )
    .await
    .assert_error(404, "unknown_provider");
    post_form(
        &h,
        "/auth/github/backchannel-logout",
        &format!("logout_token={token}"),
    )
    .await
    .assert_error(400, "invalid_request");
    assert!(alive(&h, &alice_id).await);
    // After all that, the valid token still works (nothing above burnt its jti).
    ok(&post_token(&h, &token).await);
    assert!(!alive(&h, &alice_id).await);
}

async fn a_refresh_in_flight_when_its_session_ends_answers_401_and_never_writes_it_back(
    backend: BackendKind,
) {
    let h = harness(backend).await;
    let (mut browser, alice_id, sid) = signed_in(&h, "alice").await;
    let key = sha256_b64url(&alice_id);
    h.set_behavior(Behavior {
        token_delay_ms: Some(1_500),
        ..Behavior::default()
    });
    let refresh = tokio::spawn(async move { browser.refresh(true).await });
    // Wait until the refresh holds its lease (the grant is then on its way to the provider).
    let mut leased = false;
    for _ in 0..100 {
        if h.stored_session(&key)
            .await
            .is_some_and(|s| s.lease_until > 0)
        {
            leased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(leased, "the refresh never took its lease");
    let token = h
        .provider
        .logout_token(&client_id("dev"), Some("alice"), Some(&sid));
    ok(&post_token(&h, &token).await);

    let reply = refresh.await.unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert!(!reply.body.contains("access_token"), "{reply:?}");
    assert_eq!(h.stats().refresh_token_grants, 1, "the grant did happen");
    // Nothing was written back: no session row under that key.
    let rows = h.store.scan().await.unwrap();
    let session_pk = format!("session#{key}");
    assert!(
        !rows
            .iter()
            .any(|row| row.get("pk") == Some(&Attr::S(session_pk.clone()))),
        "the session row came back"
    );
}

async fn the_table_holds_only_keyed_hashes_of_subjects_sids_and_jtis(backend: BackendKind) {
    let h = harness(backend).await;
    let (_, _, sid) = signed_in(&h, "alice-unique-subject").await;
    let (_, bob_id, _) = signed_in(&h, "bob").await;
    let claims = h
        .provider
        .logout_claims(&client_id("dev"), Some("bob"), None);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    ok(&post_token(&h, &h.provider.sign("logout+jwt", &claims)).await);
    assert!(!alive(&h, &bob_id).await);
    let rows = format!("{:?}", h.store.scan().await.unwrap());
    for plain in ["alice-unique-subject", sid.as_str(), jti.as_str()] {
        assert!(
            !rows.contains(plain),
            "{plain} stored in plain text: {rows}"
        );
    }
}

on_both_stores!(
    a_logout_token_with_a_sid_ends_that_provider_sessions_sessions_and_no_other,
    a_logout_token_with_only_a_sub_ends_every_session_of_that_user,
    a_logout_token_naming_nobody_signed_in_is_accepted_and_ends_nothing,
    a_logout_token_is_accepted_once_even_when_replayed_concurrently,
    invalid_logout_tokens_are_refused_and_end_nothing,
    malformed_requests_are_refused_and_end_nothing,
    a_refresh_in_flight_when_its_session_ends_answers_401_and_never_writes_it_back,
    the_table_holds_only_keyed_hashes_of_subjects_sids_and_jtis,
);
