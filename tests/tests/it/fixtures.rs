//! The provider fixtures themselves, over real HTTP: the documented success shapes, the
//! documented errors (and their statuses), one-time codes, PKCE, rotation and revocation.

mod apple;
mod facebook;
mod github;
mod google;

use integration_tests::fixtures::{FixtureBehavior, FixtureKind, FixtureServer, UserinfoFailure};
use integration_tests::{query_param, sha256_b64url};
use serde_json::Value;

pub(super) const ID: &str = "fixture-client";
pub(super) const SECRET: &str = "fixture-Secret-9xQ2";
pub(super) const REDIRECT: &str = "https://auth.example.test/auth/p/callback";
pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An HTTP answer: status, content type, body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub(super) async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("the fixture answers");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Answer {
        status: resp.status().as_u16(),
        content_type,
        body: resp.text().await.expect("body"),
    }
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub(super) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub(super) async fn post_form(url: &str, pairs: &[(&str, &str)]) -> Answer {
    send(
        client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs)),
    )
    .await
}

/// Runs the authorization request with PKCE and `extra` parameters; returns the code.
pub(super) async fn code(fx: &FixtureServer, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", ID),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
        ("code_challenge_method", "S256"),
    ];
    let challenge = sha256_b64url(VERIFIER);
    pairs.push(("code_challenge", &challenge));
    pairs.extend_from_slice(extra);
    let location = fx
        .approve(&format!("{}?{}", fx.authorization_endpoint(), form(&pairs)))
        .await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state"), "st-1");
    query_param(&location, "code")
}

#[tokio::test]
async fn naver_answers_string_expires_in_errors_with_200_and_cascading_revocation() {
    let fx = FixtureServer::spawn(FixtureKind::Naver, ID, SECRET).await;
    let code = code(&fx, &[]).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("client_id", ID),
        ("client_secret", SECRET),
        ("code", code.as_str()),
        ("state", "st-1"),
        ("code_verifier", VERIFIER),
    ];
    let tokens = post_form(&fx.token_endpoint(), &exchange).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let tokens = tokens.json();
    assert_eq!(tokens["expires_in"], "3600");
    assert_eq!(tokens["token_type"], "bearer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let reused = post_form(&fx.token_endpoint(), &exchange).await;
    assert_eq!(reused.status, 200, "Naver answers errors with 200");
    assert_eq!(reused.json()["error"], "invalid_request");

    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("client_id", ID),
        ("client_secret", SECRET),
        ("refresh_token", refresh.as_str()),
    ];
    let refreshed = post_form(&fx.token_endpoint(), &refresh_form).await.json();
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    assert_eq!(refreshed["expires_in"], "3600");

    let me = send(client().get(fx.userinfo_endpoint()).bearer_auth(&access)).await;
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(
        (&me["resultcode"], &me["response"]["id"]),
        (&"00".into(), &"4242".into())
    );
    let bare = send(client().get(fx.userinfo_endpoint())).await;
    assert_eq!(
        (bare.status, bare.json()["resultcode"].clone()),
        (401, "028".into())
    );

    let revoke = [
        ("client_id", ID),
        ("client_secret", SECRET),
        ("token", access.as_str()),
    ];
    let revoked = post_form(&fx.revocation_endpoint().unwrap(), &revoke).await;
    assert_eq!((revoked.status, revoked.body.as_str()), (200, ""));
    let me = send(client().get(fx.userinfo_endpoint()).bearer_auth(&access)).await;
    assert_eq!(
        (me.status, me.json()["resultcode"].clone()),
        (401, "024".into())
    );
    assert!(
        !fx.refresh_token_is_live(&refresh),
        "the pair is revoked together"
    );
    assert_eq!(
        fx.stats().revoke.form("token").as_deref(),
        Some(access.as_str())
    );
}

#[tokio::test]
async fn kakao_records_comma_scopes_and_rotates_only_an_old_refresh_token() {
    let fx = FixtureServer::spawn(FixtureKind::KakaoOAuth2, ID, SECRET).await;
    let exchange = |code: String| {
        [
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", ID.to_owned()),
            ("client_secret", SECRET.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code", code),
            ("code_verifier", VERIFIER.to_owned()),
        ]
    };
    let code1 = code(&fx, &[("scope", "profile_nickname,account_email")]).await;
    assert_eq!(
        fx.stats().authorize.query("scope").as_deref(),
        Some("profile_nickname,account_email")
    );
    let pairs = exchange(code1);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tokens = post_form(&fx.token_endpoint(), &pairs).await.json();
    assert_eq!(tokens["refresh_token_expires_in"], 5_183_999);
    assert_eq!(tokens["scope"], "profile_nickname account_email");
    let reused = post_form(&fx.token_endpoint(), &pairs).await;
    assert_eq!(
        (reused.status, reused.json()["error_code"].clone()),
        (400, "KOE320".into())
    );

    let refresh = async |token: &str| {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("client_id", ID),
            ("client_secret", SECRET),
            ("refresh_token", token),
        ];
        post_form(&fx.token_endpoint(), &pairs).await
    };
    let fresh = refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json();
    assert!(fresh.get("refresh_token").is_none(), "{fresh}");

    fx.set_behavior(FixtureBehavior {
        refresh_token_lifetime: Some(86_400),
        ..FixtureBehavior::default()
    });
    let pairs = exchange(code(&fx, &[]).await);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tokens = post_form(&fx.token_endpoint(), &pairs).await.json();
    let old = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated = refresh(&old).await.json();
    assert!(rotated["refresh_token"].is_string(), "{rotated}");
    let dead = refresh(&old).await;
    assert_eq!(
        (dead.status, dead.json()["error_code"].clone()),
        (400, "KOE322".into())
    );

    let access = rotated["access_token"].as_str().unwrap();
    let me = send(client().get(fx.userinfo_endpoint()).bearer_auth(access))
        .await
        .json();
    assert_eq!(
        (me["id"].as_u64(), me["kakao_account"]["email"].clone()),
        (Some(4242), "alice@example.com".into())
    );
    let out = send(
        client()
            .post(fx.revocation_endpoint().unwrap())
            .bearer_auth(access),
    )
    .await;
    assert_eq!(out.json()["id"], 4242);
    let me = send(client().get(fx.userinfo_endpoint()).bearer_auth(access)).await;
    assert_eq!((me.status, me.json()["code"].clone()), (401, (-401).into()));
}

#[tokio::test]
async fn generic_checks_pkce_rotates_refresh_tokens_and_obeys_the_fault_knobs() {
    let fx = FixtureServer::spawn(FixtureKind::Generic, ID, SECRET).await;
    let exchange = |code: String, verifier: &'static str| {
        client()
            .post(fx.token_endpoint())
            .basic_auth(ID, Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ]))
    };
    let wrong = send(exchange(
        code(&fx, &[]).await,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    ))
    .await;
    assert_eq!(
        (wrong.status, wrong.json()["error"].clone()),
        (400, "invalid_grant".into())
    );
    let tokens = send(exchange(code(&fx, &[]).await, VERIFIER)).await.json();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let me = send(
        client()
            .get(fx.userinfo_endpoint())
            .bearer_auth(tokens["access_token"].as_str().unwrap()),
    )
    .await
    .json();
    assert_eq!(
        (&me["id"], &me["avatar_url"]),
        (&"4242".into(), &"https://img.example.test/alice.png".into())
    );

    let refresh_with = async |token: &str| {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", ID),
            ("client_secret", SECRET),
        ];
        post_form(&fx.token_endpoint(), &pairs).await
    };
    let rotated = refresh_with(&refresh).await.json();
    assert_eq!(
        refresh_with(&refresh).await.status,
        400,
        "the old refresh token is dead"
    );
    fx.revoke_all_refresh_tokens();
    let dead = refresh_with(rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (dead.status, dead.json()["error"].clone()),
        (400, "invalid_grant".into())
    );

    fx.set_behavior(FixtureBehavior {
        token_server_error: Some(503),
        ..FixtureBehavior::default()
    });
    assert_eq!(refresh_with("x").await.status, 503);
    fx.set_behavior(FixtureBehavior {
        token_error_with_200: true,
        ..FixtureBehavior::default()
    });
    let in_200 = refresh_with("x").await;
    assert_eq!(
        (in_200.status, in_200.json()["error"].clone()),
        (200, "invalid_grant".into())
    );
    fx.set_behavior(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ServerError),
        ..FixtureBehavior::default()
    });
    assert_eq!(send(client().get(fx.userinfo_endpoint())).await.status, 503);

    let revoked = send(
        client()
            .post(fx.revocation_endpoint().unwrap())
            .basic_auth(ID, Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", "unknown-token")])),
    )
    .await;
    assert_eq!(revoked.status, 200, "RFC 7009: unknown tokens are fine");
    assert_eq!(fx.stats().grant("refresh_token").count, 5);
}
