//! `POST /auth/{provider}/native` with the access token a mobile app got from the Kakao, Naver
//! or Facebook SDK: accepted only once the provider says the token is for our app (Kakao
//! `access_token_info` `app_id`, Facebook `debug_token` `is_valid` and `app_id`; Naver only
//! when the provider block trusts it), the user then from the profile call; the bearer session
//! works on session, refresh and logout; another app's, an unknown or an expired token is
//! `invalid_grant`, a provider outage `provider_unavailable`, and providers without such a
//! check `unsupported_grant_type`. The fixtures speak the providers' documented formats.

use http::{Method, StatusCode};
use integration_tests::fixtures::{
    FixtureBehavior, FixtureKind, FixtureServer, SdkApp, SdkTokens, UserinfoFailure,
};
use integration_tests::{BackendKind, Harness, Reply, client_id, client_secret};
use lambda_http::Body;
use serde_json::{Value, json};

use super::providers::{Rig, credentials};

const KAKAO: &str = "kakao";
const NAVER: &str = "naver";
const FACEBOOK: &str = "facebook";

/// The Kakao block, with `app_id` set to the fixture's app id when `with_app_id`.
fn kakao_block(fx: &FixtureServer, with_app_id: bool) -> String {
    let app_id = if with_app_id {
        format!("app_id = \"{}\"\n", fx.kakao_app_id())
    } else {
        String::new()
    };
    format!(
        "preset = \"kakao\"\n{}{app_id}\
         scopes = [\"profile_nickname\", \"account_email\"]\n\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        credentials(KAKAO),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        fx.userinfo_endpoint(),
        fx.revocation_endpoint().unwrap(),
    )
}

/// The Naver block, with `native_trust_access_token = true` when `trust`.
fn naver_block(fx: &FixtureServer, trust: bool) -> String {
    let trust = if trust {
        "native_trust_access_token = true\n"
    } else {
        ""
    };
    format!(
        "preset = \"naver\"\n{}{trust}\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        credentials(NAVER),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        fx.userinfo_endpoint(),
        fx.revocation_endpoint().unwrap(),
    )
}

fn facebook_block(fx: &FixtureServer) -> String {
    format!(
        "preset = \"facebook\"\n{}\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        credentials(FACEBOOK),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        fx.userinfo_endpoint(),
        fx.revocation_endpoint().unwrap(),
    )
}

async fn kakao(backend: BackendKind) -> Rig {
    Rig::spawn(FixtureKind::KakaoOAuth2, KAKAO, backend, &[], |fx| {
        kakao_block(fx, true)
    })
    .await
}

async fn naver(backend: BackendKind, trust: bool) -> Rig {
    Rig::spawn(FixtureKind::Naver, NAVER, backend, &[], |fx| {
        naver_block(fx, trust)
    })
    .await
}

async fn facebook(backend: BackendKind) -> Rig {
    Rig::spawn(
        FixtureKind::Facebook,
        FACEBOOK,
        backend,
        &[],
        facebook_block,
    )
    .await
}

/// `POST /auth/{name}/native` with `body` as JSON.
pub(super) async fn post_native(h: &Harness, name: &str, body: &Value) -> Reply {
    h.browser()
        .request(
            Method::POST,
            &format!("/auth/{name}/native"),
            &[("content-type", "application/json")],
            Body::Text(body.to_string()),
        )
        .await
}

/// Posts the SDK's tokens as the app would: the access token, and the refresh token when the
/// SDK gave one.
async fn post_tokens(rig: &Rig, tokens: &SdkTokens) -> Reply {
    let mut body = json!({ "access_token": tokens.access_token });
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    post_native(&rig.h, rig.name, &body).await
}

/// Posts only an access token.
async fn post_access(rig: &Rig, access_token: &str) -> Reply {
    post_native(&rig.h, rig.name, &json!({ "access_token": access_token })).await
}

/// `method path` as the app, with its session token as a bearer (and `body` as JSON).
pub(super) async fn with_bearer(
    h: &Harness,
    method: Method,
    path: &str,
    session: &str,
    body: Body,
) -> Reply {
    let bearer = format!("Bearer {session}");
    let mut headers = vec![("authorization", bearer.as_str())];
    if matches!(body, Body::Text(_)) {
        headers.push(("content-type", "application/json"));
    }
    h.browser().request(method, path, &headers, body).await
}

/// Asserts the reply is our bearer session (and never a cookie); returns the session token.
#[track_caller]
pub(super) fn session_token(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert!(reply.set_cookies().is_empty(), "never a cookie: {reply:?}");
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().unwrap() > 0, "{body}");
    body["session_token"].as_str().unwrap().to_owned()
}

/// Asserts `reply` is the 400 `code` and nothing was stored.
async fn assert_refused(rig: &Rig, reply: &Reply, status: u16, code: &str) {
    reply.assert_error(status, code);
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
    assert_eq!(rig.h.store.session_count().await, 0, "no session stored");
}

/// The session of `session` names `name` and the fixture's user; `POST /auth/refresh` hands
/// back `access_token`; logout ends it.
async fn assert_session_works(rig: &Rig, session: &str, access_token: &str) {
    let who = with_bearer(&rig.h, Method::GET, "/auth/session", session, Body::Empty).await;
    assert_eq!(who.status, StatusCode::OK, "{who:?}");
    assert_eq!(who.json()["provider"], rig.name, "{who:?}");
    assert_eq!(who.json()["subject"], "4242", "{who:?}");

    let refreshed = with_bearer(&rig.h, Method::POST, "/auth/refresh", session, Body::Empty).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_eq!(
        refreshed.json()["access_token"],
        access_token,
        "the posted token, still valid: {refreshed:?}"
    );
    assert!(refreshed.json().get("refresh_token").is_none());

    let out = with_bearer(&rig.h, Method::POST, "/auth/logout", session, Body::Empty).await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    with_bearer(&rig.h, Method::GET, "/auth/session", session, Body::Empty)
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(rig.h.store.session_count().await, 0, "session deleted");
}

/// Posts a fresh SDK login with its refresh token, forces a refresh, and asserts the provider
/// was asked with exactly that refresh token and the new access token came back.
async fn assert_posted_refresh_token_renews(rig: &Rig) {
    let tokens = rig.fx.sdk_tokens(SdkApp::Ours);
    let posted_refresh = tokens.refresh_token.clone().unwrap();
    let session = session_token(&post_tokens(rig, &tokens).await);

    let force = Body::Text(json!({ "force": true }).to_string());
    let refreshed = with_bearer(&rig.h, Method::POST, "/auth/refresh", &session, force).await;

    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    let grant = rig.fx.stats().grant("refresh_token");
    assert_eq!(grant.count, 1, "one refresh at the provider");
    assert_eq!(
        grant
            .form("refresh_token")
            .or_else(|| grant.query("refresh_token")),
        Some(posted_refresh)
    );
    let fresh = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, tokens.access_token);
    assert!(
        rig.fx.access_token_is_live(&fresh),
        "issued by the provider"
    );
}

/// A token-information outage, then a profile outage: each is 503 `provider_unavailable` and
/// stores nothing.
async fn assert_outages_are_provider_unavailable(rig: &Rig) {
    let token = rig.fx.sdk_access_token(SdkApp::Ours);
    for failure in [
        FixtureBehavior {
            token_info_server_error: Some(503),
            ..FixtureBehavior::default()
        },
        FixtureBehavior {
            userinfo_failure: Some(UserinfoFailure::ServerError),
            ..FixtureBehavior::default()
        },
    ] {
        rig.behave(failure);
        let reply = post_access(rig, &token).await;
        assert_refused(rig, &reply, 503, "provider_unavailable").await;
    }
}

// ---- Kakao ----

async fn kakao_sdk_access_token_becomes_a_working_bearer_session(backend: BackendKind) {
    let rig = kakao(backend).await;
    let tokens = rig.fx.sdk_tokens(SdkApp::Ours);

    let session = session_token(&post_tokens(&rig, &tokens).await);

    let info = rig.fx.stats().token_info;
    assert_eq!(info.count, 1, "access_token_info asked once");
    assert_eq!(info.last_method.as_deref(), Some("GET"));
    assert_eq!(
        info.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token))
    );
    assert!(
        rig.fx.stats().userinfo.count >= 1,
        "the user from /v2/user/me"
    );
    let rows = format!("{:?}", rig.h.store.scan().await.unwrap());
    assert!(
        !rows.contains(&session),
        "session token stored in plain text"
    );
    assert_session_works(&rig, &session, &tokens.access_token).await;
}

async fn kakao_access_token_of_another_app_is_refused(backend: BackendKind) {
    let rig = kakao(backend).await;
    // Kakao's profile endpoint accepts it: only access_token_info's app_id tells.
    let theirs = rig.fx.sdk_access_token(SdkApp::Other);

    let reply = post_access(&rig, &theirs).await;

    assert_refused(&rig, &reply, 400, "invalid_grant").await;
    assert_eq!(rig.fx.stats().token_info.count, 1);
}

async fn kakao_unknown_or_expired_access_token_is_refused(backend: BackendKind) {
    let rig = kakao(backend).await;
    let expired = rig.fx.sdk_access_token(SdkApp::Ours);
    rig.fx.expire_access_token(&expired);

    for token in ["not-a-kakao-token", expired.as_str()] {
        let reply = post_access(&rig, token).await;
        assert_refused(&rig, &reply, 400, "invalid_grant").await;
    }
}

async fn kakao_outage_is_provider_unavailable(backend: BackendKind) {
    assert_outages_are_provider_unavailable(&kakao(backend).await).await;
}

async fn kakao_token_info_naming_another_user_than_the_profile_is_refused(backend: BackendKind) {
    let rig = kakao(backend).await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);
    rig.behave(FixtureBehavior {
        token_info_user_id: Some("9999999".into()),
        ..FixtureBehavior::default()
    });
    assert_refused(&rig, &post_access(&rig, &token).await, 400, "invalid_grant").await;
}

async fn facebook_token_debug_token_calls_invalid_is_refused_though_the_profile_answers(
    backend: BackendKind,
) {
    let rig = facebook(backend).await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);
    rig.behave(FixtureBehavior {
        token_info_is_valid: Some(false),
        ..FixtureBehavior::default()
    });
    assert_refused(&rig, &post_access(&rig, &token).await, 400, "invalid_grant").await;
    rig.behave(FixtureBehavior {
        token_info_user_id: Some("another-user".into()),
        ..FixtureBehavior::default()
    });
    assert_refused(&rig, &post_access(&rig, &token).await, 400, "invalid_grant").await;
}

async fn kakao_posted_refresh_token_renews_the_session(backend: BackendKind) {
    let rig = kakao(backend).await;
    assert_posted_refresh_token_renews(&rig).await;
}

#[tokio::test]
async fn kakao_without_app_id_does_not_accept_access_tokens() {
    let rig = Rig::spawn(
        FixtureKind::KakaoOAuth2,
        KAKAO,
        BackendKind::Memory,
        &[],
        |fx| kakao_block(fx, false),
    )
    .await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);

    let reply = post_access(&rig, &token).await;

    assert_refused(&rig, &reply, 400, "unsupported_grant_type").await;
    assert_eq!(rig.fx.stats().userinfo.count, 0, "nothing asked");
}

#[tokio::test]
async fn kakao_token_info_goes_to_the_origin_of_the_userinfo_endpoint() {
    let rig = kakao(BackendKind::Memory).await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);

    session_token(&post_access(&rig, &token).await);

    // The fixture serves /v1/user/access_token_info next to /v2/user/me; had the server asked
    // kapi.kakao.com instead, nothing would have arrived here (and there is no internet).
    assert_eq!(rig.fx.stats().token_info.count, 1);
    assert!(
        rig.fx
            .token_info_endpoint()
            .unwrap()
            .starts_with(&rig.fx.base_url())
    );
}

// ---- Facebook ----

async fn facebook_sdk_access_token_becomes_a_working_bearer_session(backend: BackendKind) {
    let rig = facebook(backend).await;
    let tokens = rig.fx.sdk_tokens(SdkApp::Ours);

    let session = session_token(&post_tokens(&rig, &tokens).await);

    let info = rig.fx.stats().token_info;
    assert_eq!(info.count, 1, "debug_token asked once");
    assert_eq!(
        info.query("input_token").as_deref(),
        Some(tokens.access_token.as_str())
    );
    let app_token = info.query("access_token").or_else(|| {
        info.header("authorization")
            .map(|h| h.replace("Bearer ", ""))
    });
    assert_eq!(
        app_token,
        Some(format!(
            "{}|{}",
            client_id(FACEBOOK),
            client_secret(FACEBOOK)
        )),
        "the app access token"
    );
    assert!(rig.fx.stats().userinfo.count >= 1, "the user from /me");
    assert_session_works(&rig, &session, &tokens.access_token).await;
}

async fn facebook_access_token_of_another_app_is_refused(backend: BackendKind) {
    let rig = facebook(backend).await;
    let theirs = rig.fx.sdk_access_token(SdkApp::Other);

    let reply = post_access(&rig, &theirs).await;

    assert_refused(&rig, &reply, 400, "invalid_grant").await;
    let stats = rig.fx.stats();
    assert_eq!(stats.token_info.count, 1, "debug_token asked");
    assert_eq!(stats.userinfo.count, 0, "refused on debug_token's app_id");
}

async fn facebook_invalid_or_expired_access_token_is_refused(backend: BackendKind) {
    let rig = facebook(backend).await;
    // Expired: debug_token still names our app, with is_valid false.
    let expired = rig.fx.sdk_access_token(SdkApp::Ours);
    rig.fx.expire_access_token(&expired);

    for token in ["EAAnot-a-facebook-token", expired.as_str()] {
        let reply = post_access(&rig, token).await;
        assert_refused(&rig, &reply, 400, "invalid_grant").await;
    }
    assert_eq!(rig.fx.stats().token_info.count, 2);
}

async fn facebook_outage_is_provider_unavailable(backend: BackendKind) {
    assert_outages_are_provider_unavailable(&facebook(backend).await).await;
}

// ---- Naver ----

async fn naver_access_token_is_refused_unless_the_provider_block_trusts_it(backend: BackendKind) {
    let rig = naver(backend, false).await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);

    let reply = post_access(&rig, &token).await;

    assert_refused(&rig, &reply, 400, "invalid_grant").await;
}

async fn naver_trusted_access_token_becomes_a_working_bearer_session(backend: BackendKind) {
    let rig = naver(backend, true).await;
    let tokens = rig.fx.sdk_tokens(SdkApp::Ours);

    let session = session_token(&post_tokens(&rig, &tokens).await);

    let me = rig.fx.stats().userinfo;
    assert!(me.count >= 1, "the user from /v1/nid/me");
    assert_eq!(
        me.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token))
    );
    assert_session_works(&rig, &session, &tokens.access_token).await;
}

async fn naver_trusted_but_invalid_access_token_is_refused(backend: BackendKind) {
    let rig = naver(backend, true).await;

    let reply = post_access(&rig, "AAAAnot-a-naver-token").await;

    assert_refused(&rig, &reply, 400, "invalid_grant").await;
}

async fn naver_outage_is_provider_unavailable(backend: BackendKind) {
    let rig = naver(backend, true).await;
    let token = rig.fx.sdk_access_token(SdkApp::Ours);
    rig.behave(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ServerError),
        ..FixtureBehavior::default()
    });

    let reply = post_access(&rig, &token).await;

    assert_refused(&rig, &reply, 503, "provider_unavailable").await;
}

async fn naver_posted_refresh_token_renews_the_session(backend: BackendKind) {
    let rig = naver(backend, true).await;
    assert_posted_refresh_token_renews(&rig).await;
}

on_both_stores!(
    kakao_sdk_access_token_becomes_a_working_bearer_session,
    kakao_access_token_of_another_app_is_refused,
    kakao_unknown_or_expired_access_token_is_refused,
    kakao_outage_is_provider_unavailable,
    kakao_posted_refresh_token_renews_the_session,
    kakao_token_info_naming_another_user_than_the_profile_is_refused,
    facebook_token_debug_token_calls_invalid_is_refused_though_the_profile_answers,
    facebook_sdk_access_token_becomes_a_working_bearer_session,
    facebook_access_token_of_another_app_is_refused,
    facebook_invalid_or_expired_access_token_is_refused,
    facebook_outage_is_provider_unavailable,
    naver_access_token_is_refused_unless_the_provider_block_trusts_it,
    naver_trusted_access_token_becomes_a_working_bearer_session,
    naver_trusted_but_invalid_access_token_is_refused,
    naver_outage_is_provider_unavailable,
    naver_posted_refresh_token_renews_the_session,
);

// ---- Providers without an access-token check ----

#[tokio::test]
async fn access_tokens_are_unsupported_for_google_github_and_oidc() {
    let h = Harness::builder()
        .backend(BackendKind::Memory)
        .provider("dev", "")
        .provider("google", "preset = \"google\"\n")
        .provider(
            "github",
            "preset = \"github\"\nauthorization_endpoint = \"{issuer}/authorize\"\n\
             token_endpoint = \"{issuer}/token\"\nuserinfo_endpoint = \"{issuer}/userinfo\"\n\
             scopes = [\"read:user\"]\n",
        )
        .spawn()
        .await;

    for name in ["google", "github", "dev"] {
        let reply = post_native(&h, name, &json!({ "access_token": "ya29.a0-token" })).await;
        reply.assert_error(400, "unsupported_grant_type");
    }
    assert_eq!(h.store.session_count().await, 0);
}
