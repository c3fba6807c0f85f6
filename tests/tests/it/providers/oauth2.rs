//! `preset = "oauth2"` (any RFC 6749 server) against the generic fixture: the user from the
//! configured JSON pointers into the userinfo answer, refresh with rotation, RFC 7009
//! revocation at logout, and the ways a login or a refresh must fail.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use integration_tests::fixtures::{FixtureBehavior, FixtureKind, FixtureServer, UserinfoFailure};
use integration_tests::{BackendKind, client_id, client_secret, query_param};
use serde_json::json;

use super::{
    Rig, Stub, StubAnswer, access_of, assert_authorization_request, assert_expires_at,
    assert_logout, assert_pkce_verified, assert_reauth_required, credentials, refresh_ok, sent,
    session_json,
};

const NAME: &str = "acme";

/// The four endpoints of the fixture, and `userinfo_endpoint` instead when given.
fn endpoints(fx: &FixtureServer, userinfo: Option<&str>) -> String {
    format!(
        "authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n\
         revocation_endpoint = \"{}\"\n",
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        userinfo.map_or_else(|| fx.userinfo_endpoint(), str::to_owned),
        fx.revocation_endpoint().unwrap(),
    )
}

/// A generic block with these extra lines (subject, profile, scopes, ...).
async fn rig_with(extra: &str, userinfo: Option<&str>, backend: BackendKind) -> Rig {
    let extra = extra.to_owned();
    let userinfo = userinfo.map(str::to_owned);
    Rig::spawn(FixtureKind::Generic, NAME, backend, &[], move |fx| {
        format!(
            "preset = \"oauth2\"\n{}{}{extra}",
            credentials(NAME),
            endpoints(fx, userinfo.as_deref())
        )
    })
    .await
}

const MAPPED: &str = "subject = \"/id\"\n\
     profile = { name = \"/name\", email = \"/email\", picture = \"/avatar_url\" }\n\
     scopes = [\"read:user\"]\n";

async fn rig(backend: BackendKind) -> Rig {
    rig_with(MAPPED, None, backend).await
}

async fn oauth2_login_session_refresh_and_logout_work(backend: BackendKind) {
    let rig = rig(backend).await;

    let (mut browser, session_id, url) = rig.sign_in().await;

    assert_authorization_request(&url, NAME);
    assert_eq!(query_param(&url, "scope"), "read:user");
    assert_pkce_verified(&rig.fx, &url, NAME);
    let session = session_json(&mut browser).await;
    assert_eq!(session["provider"], NAME);
    assert_eq!(session["subject"], "4242");
    let profile = session["profile"].as_object().unwrap();
    assert_eq!(profile["name"], "Alice Example");
    assert_eq!(profile["picture"], "https://img.example.test/alice.png");
    assert!(
        profile
            .keys()
            .all(|k| ["name", "email", "picture"].contains(&k.as_str()))
    );
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), 3600);
    let first = rig.stored_access(&session_id).await;
    let first_refresh = rig.stored_refresh(&session_id).await.unwrap();

    assert_eq!(access_of(&refresh_ok(&mut browser, false).await), first);
    rig.h.clock.advance(3600);
    let fresh = refresh_ok(&mut browser, false).await;

    let stats = rig.fx.stats();
    let grant = stats.grant("refresh_token");
    assert_eq!(grant.count, 1);
    assert_eq!(sent(&grant, "refresh_token"), Some(first_refresh));
    assert_eq!(access_of(&fresh), stats.issued_access_tokens[1]);
    assert_eq!(fresh["scope"], "read:user");
    let rotated = rig.stored_refresh(&session_id).await.unwrap();
    assert_eq!(
        rotated, stats.issued_refresh_tokens[1],
        "the rotated one is kept"
    );

    assert_logout(&rig, &mut browser, &session_id).await;
    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.form("token"), Some(rotated.clone()));
    assert_eq!(
        revoke.form("token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert!(!rig.fx.refresh_token_is_live(&rotated));
    assert!(!rig.fx.access_token_is_live(&access_of(&fresh)));
}

async fn oauth2_invalid_grant_at_refresh_requires_reauthentication(backend: BackendKind) {
    let rig = rig(backend).await;
    let (mut browser, _, _) = rig.sign_in().await;
    rig.fx.revoke_all_refresh_tokens();

    assert_reauth_required(&rig, &mut browser, true).await;

    assert_eq!(rig.fx.stats().grant("refresh_token").count, 1);
}

on_both_stores!(
    oauth2_login_session_refresh_and_logout_work,
    oauth2_invalid_grant_at_refresh_requires_reauthentication,
);

#[tokio::test]
async fn oauth2_userinfo_without_the_subject_fails_the_login() {
    let rig = rig_with("subject = \"/sub\"\n", None, BackendKind::Memory).await;

    rig.assert_login_fails().await;

    assert_eq!(rig.fx.stats().userinfo.count, 1);
}

#[tokio::test]
async fn oauth2_profile_pointers_choose_the_fields() {
    let extra = "subject = \"/name\"\nprofile = { name = \"/email\" }\n";
    let rig = rig_with(extra, None, BackendKind::Memory).await;

    let (mut browser, _, _) = rig.sign_in().await;

    let session = session_json(&mut browser).await;
    assert_eq!(session["subject"], "Alice Example");
    assert_eq!(session["profile"], json!({ "name": "alice@example.com" }));
}

#[tokio::test]
async fn oauth2_nested_pointers_and_a_numeric_subject_are_read() {
    let userinfo = Stub::spawn(json!({
        "data": { "uid": 12_345_678_901_234_u64, "display": "Bob", "mail": "bob@example.com",
                  "mail_ok": true, "photo": { "href": "https://img.example.test/bob.png" } },
    }))
    .await;
    let extra = "subject = \"/data/uid\"\n\
        profile = { name = \"/data/display\", email = \"/data/mail\", \
        picture = \"/data/photo/href\", email_verified = \"/data/mail_ok\" }\n";
    let rig = rig_with(extra, Some(&userinfo.url), BackendKind::Memory).await;

    let (mut browser, _, _) = rig.sign_in().await;

    let session = session_json(&mut browser).await;
    assert_eq!(session["subject"], "12345678901234");
    assert_eq!(
        session["profile"],
        json!({
            "name": "Bob",
            "email": "bob@example.com",
            "picture": "https://img.example.test/bob.png",
        })
    );
}

#[tokio::test]
async fn oauth2_email_is_kept_only_when_the_verified_pointer_is_true() {
    let userinfo = Stub::spawn(json!({
        "id": "u-1", "name": "Carol", "email": "carol@example.com", "email_verified": false,
    }))
    .await;
    let extra = "subject = \"/id\"\n\
        profile = { name = \"/name\", email = \"/email\", email_verified = \"/email_verified\" }\n";
    let rig = rig_with(extra, Some(&userinfo.url), BackendKind::Memory).await;

    let (mut browser, _, _) = rig.sign_in().await;
    let session = session_json(&mut browser).await;
    assert_eq!(session["profile"], json!({ "name": "Carol" }), "false");

    userinfo.answer(json!({ "id": "u-1", "name": "Carol", "email": "carol@example.com" }));
    let (mut browser, _, _) = rig.sign_in().await;
    let session = session_json(&mut browser).await;
    assert_eq!(session["profile"], json!({ "name": "Carol" }), "missing");

    userinfo.answer(json!({
        "id": "u-1", "name": "Carol", "email": "carol@example.com", "email_verified": true,
    }));
    let (mut browser, _, _) = rig.sign_in().await;
    let session = session_json(&mut browser).await;
    assert_eq!(
        session["profile"]["email"], "carol@example.com",
        "marked verified"
    );
}

#[tokio::test]
async fn oauth2_subject_that_is_not_a_string_or_an_integer_fails_the_login() {
    let userinfo = Stub::spawn(json!({})).await;
    let rig = rig_with(
        "subject = \"/id\"\n",
        Some(&userinfo.url),
        BackendKind::Memory,
    )
    .await;

    for id in [
        json!(null),
        json!(""),
        json!(true),
        json!(1.5),
        json!({ "v": 1 }),
        json!([7]),
    ] {
        userinfo.answer(json!({ "id": id, "name": "Dan" }));
        rig.assert_login_fails().await;
    }
}

#[tokio::test]
async fn oauth2_userinfo_that_is_not_json_fails_the_login() {
    let userinfo = Stub::spawn(json!({})).await;
    let rig = rig_with(
        "subject = \"/id\"\n",
        Some(&userinfo.url),
        BackendKind::Memory,
    )
    .await;
    userinfo.answer_with(StubAnswer::Raw("text/html", "<html>id=7</html>".into()));

    rig.assert_login_fails().await;
}

#[tokio::test]
async fn oauth2_userinfo_over_the_size_cap_fails_the_login() {
    let userinfo = Stub::spawn(json!({})).await;
    let rig = rig_with(
        "subject = \"/id\"\n",
        Some(&userinfo.url),
        BackendKind::Memory,
    )
    .await;
    let padding = "x".repeat(1024 * 1024 + 16);
    let body = json!({ "id": "u-big", "padding": padding }).to_string();
    userinfo.answer_with(StubAnswer::Raw("application/json", body));

    rig.assert_login_fails().await;
}

#[tokio::test]
async fn oauth2_userinfo_redirect_is_not_followed() {
    let elsewhere = Stub::spawn(json!({ "id": "u-redirected", "name": "Eve" })).await;
    let userinfo = Stub::spawn(json!({})).await;
    let rig = rig_with(
        "subject = \"/id\"\n",
        Some(&userinfo.url),
        BackendKind::Memory,
    )
    .await;
    userinfo.answer_with(StubAnswer::Redirect(elsewhere.url.clone()));

    rig.assert_login_fails().await;
}

#[tokio::test]
async fn oauth2_userinfo_server_error_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ServerError),
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    assert_eq!(rig.fx.stats().userinfo.count, 1);
}

#[tokio::test]
async fn oauth2_userinfo_401_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ProviderError),
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;
}

#[tokio::test]
async fn oauth2_error_with_http_200_at_the_code_exchange_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        token_error_with_200: true,
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    assert_eq!(
        rig.fx.stats().userinfo.count,
        0,
        "an error is never a token"
    );
}

#[tokio::test]
async fn oauth2_client_authenticates_with_basic_by_default() {
    let rig = rig(BackendKind::Memory).await;

    rig.sign_in().await;

    let exchange = rig.fx.stats().grant("authorization_code");
    let basic = STANDARD.encode(format!("{}:{}", client_id(NAME), client_secret(NAME)));
    assert_eq!(
        exchange.header("authorization"),
        Some(format!("Basic {basic}"))
    );
    assert_eq!(exchange.form("client_secret"), None);
}

#[tokio::test]
async fn oauth2_client_authenticates_in_the_body_when_configured() {
    let extra = format!("{MAPPED}token_endpoint_auth_method = \"client_secret_post\"\n");
    let rig = rig_with(&extra, None, BackendKind::Memory).await;

    rig.sign_in().await;

    let exchange = rig.fx.stats().grant("authorization_code");
    assert_eq!(exchange.header("authorization"), None);
    assert_eq!(exchange.form("client_id"), Some(client_id(NAME)));
    assert_eq!(exchange.form("client_secret"), Some(client_secret(NAME)));
}

#[tokio::test]
async fn oauth2_unavailable_token_endpoint_at_refresh_keeps_the_tokens() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let refresh = rig.stored_refresh(&session_id).await;
    rig.behave(FixtureBehavior {
        token_server_error: Some(503),
        ..FixtureBehavior::default()
    });

    browser
        .refresh(true)
        .await
        .assert_error(503, "provider_unavailable");

    assert_eq!(
        rig.stored_refresh(&session_id).await,
        refresh,
        "tokens kept"
    );
    assert!(rig.fx.refresh_token_is_live(refresh.as_deref().unwrap()));
}

#[tokio::test]
async fn oauth2_userinfo_error_with_http_200_fails_the_login() {
    let userinfo = Stub::spawn(json!({ "error": "invalid_token", "id": "u-err" })).await;
    let rig = rig_with(
        "subject = \"/id\"\n",
        Some(&userinfo.url),
        BackendKind::Memory,
    )
    .await;

    rig.assert_login_fails().await;
}

#[tokio::test]
async fn oauth2_configured_issuer_must_match_the_callback_iss() {
    let extra = format!("{MAPPED}issuer = \"https://acme.example\"\n");
    let rig = rig_with(&extra, None, BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        authorize_iss: Some("https://acme.example".into()),
        ..FixtureBehavior::default()
    });
    rig.sign_in().await;

    rig.behave(FixtureBehavior {
        authorize_iss: Some("https://acme.example/".into()),
        ..FixtureBehavior::default()
    });
    let mut browser = rig.h.browser();
    let (_, reply) = rig.try_sign_in(&mut browser).await;

    reply.assert_error(400, "invalid_issuer");
    assert_eq!(
        rig.fx.stats().token.count,
        1,
        "no exchange for the second code"
    );
}
