//! `preset = "facebook"` against the Facebook Login / Graph API fixture: the code's token
//! exchanged for a long-lived one at the callback, `appsecret_proof` on every Graph call, no
//! refresh (the long-lived token until it expires, then `reauth_required`), Graph's error
//! envelope, and logout through `DELETE /me/permissions`.

use aws_lc_rs::hmac;
use integration_tests::fixtures::{
    FixtureBehavior, FixtureKind, FixtureServer, ProofSeen, UserinfoFailure,
};
use integration_tests::{BackendKind, client_id, client_secret};
use serde_json::json;

use super::{
    Rig, access_of, assert_authorization_request, assert_expires_at, assert_logout,
    assert_pkce_verified, credentials, refresh_ok, sent, session_json,
};

const NAME: &str = "facebook";
/// The long-lived token's lifetime in Facebook's documented sample (about 60 days).
const LONG_LIVED: u64 = 5_183_944;

fn block(fx: &FixtureServer) -> String {
    format!(
        "preset = \"facebook\"\n{}\
         authorization_endpoint = \"{}\"\n\
         token_endpoint = \"{}\"\n\
         userinfo_endpoint = \"{}\"\n",
        credentials(NAME),
        fx.authorization_endpoint(),
        fx.token_endpoint(),
        fx.userinfo_endpoint(),
    )
}

/// Sessions outlive the long-lived token here, so that its expiry can be seen.
async fn rig(backend: BackendKind) -> Rig {
    Rig::spawn(
        FixtureKind::Facebook,
        NAME,
        backend,
        &["session_ttl = \"90d\""],
        block,
    )
    .await
}

/// Lowercase hex of HMAC-SHA256(key = app secret, message = access token).
fn proof(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret(NAME).as_bytes());
    hmac::sign(&key, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn facebook_login_session_stored_token_and_logout_work(backend: BackendKind) {
    let rig = rig(backend).await;

    let (mut browser, session_id, url) = rig.sign_in().await;

    assert_authorization_request(&url, NAME);
    assert_pkce_verified(&rig.fx, &url, NAME);
    let session = session_json(&mut browser).await;
    assert_eq!(session["provider"], NAME);
    assert_eq!(session["subject"], "4242");
    assert_eq!(
        session["profile"],
        json!({
            "name": "Alice Example",
            "email": "alice@example.com",
            "picture": "https://img.example.test/alice.png",
        })
    );
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), LONG_LIVED);
    let stored = rig.stored_access(&session_id).await;
    assert_eq!(rig.stored_refresh(&session_id).await, None);

    let cached = refresh_ok(&mut browser, false).await;
    let forced = refresh_ok(&mut browser, true).await;
    assert_eq!(access_of(&cached), stored);
    assert_eq!(
        access_of(&forced),
        stored,
        "nothing can renew it: force too"
    );
    assert_eq!(
        rig.fx.stats().token.count,
        2,
        "no token call after the callback"
    );

    assert_logout(&rig, &mut browser, &session_id).await;
    assert!(!rig.fx.access_token_is_live(&stored));

    // A second session lives until its long-lived token expires, then needs a new login.
    let (mut second, _, _) = rig.sign_in().await;
    rig.h.clock.advance(LONG_LIVED + 1);
    second
        .refresh(true)
        .await
        .assert_error(401, "reauth_required");
    second
        .refresh(false)
        .await
        .assert_error(401, "reauth_required");
}

on_both_stores!(
    facebook_login_session_stored_token_and_logout_work,
    facebook_apis_called_through_the_proxy_carry_our_appsecret_proof,
);

#[tokio::test]
async fn facebook_callback_exchanges_the_code_token_for_a_long_lived_one() {
    let rig = rig(BackendKind::Memory).await;

    let (mut browser, session_id, _) = rig.sign_in().await;

    let stats = rig.fx.stats();
    let exchange = stats.grant("fb_exchange_token");
    assert_eq!(exchange.count, 1, "{:?}", stats.token_by_grant.keys());
    assert_eq!(
        sent(&exchange, "fb_exchange_token").as_deref(),
        Some(stats.issued_access_tokens[0].as_str()),
        "the code's short-lived token is exchanged"
    );
    assert_eq!(sent(&exchange, "client_id"), Some(client_id(NAME)));
    assert_eq!(sent(&exchange, "client_secret"), Some(client_secret(NAME)));
    assert_eq!(
        rig.stored_access(&session_id).await,
        stats.issued_access_tokens[1],
        "the long-lived token is stored"
    );
    let session = session_json(&mut browser).await;
    assert_expires_at(&session["access_token_expires_at"], rig.h.now(), LONG_LIVED);
}

#[tokio::test]
async fn facebook_graph_calls_carry_a_valid_appsecret_proof() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let token = rig.stored_access(&session_id).await;

    let profile_call = rig.fx.stats().userinfo;
    assert_eq!(
        profile_call.query("appsecret_proof"),
        Some(proof(&token)),
        "the profile call proves the long-lived token"
    );
    assert_logout(&rig, &mut browser, &session_id).await;

    let stats = rig.fx.stats();
    assert_eq!(stats.revoke.query("appsecret_proof"), Some(proof(&token)));
    let proofs = stats.appsecret_proof;
    assert_eq!((proofs.valid, proofs.invalid, proofs.missing), (2, 0, 0));
    assert_eq!(proofs.last, Some(ProofSeen::Valid));
}

#[tokio::test]
async fn facebook_error_envelope_with_http_200_at_the_code_exchange_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        token_error_with_200: true,
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    let stats = rig.fx.stats();
    assert_eq!(stats.token.count, 1);
    assert_eq!(stats.userinfo.count, 0, "an error is never a token");
}

#[tokio::test]
async fn facebook_graph_error_at_the_profile_fails_the_login() {
    let rig = rig(BackendKind::Memory).await;
    rig.behave(FixtureBehavior {
        userinfo_failure: Some(UserinfoFailure::ProviderError),
        ..FixtureBehavior::default()
    });

    rig.assert_login_fails().await;

    assert_eq!(rig.fx.stats().userinfo.count, 1);
}

#[tokio::test]
async fn facebook_token_is_returned_until_it_expires_since_nothing_can_renew_it() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let stored = rig.stored_access(&session_id).await;

    // refresh_skew does not apply: 30 s left is still the stored token, also with force.
    rig.h.clock.advance(LONG_LIVED - 30);
    let late = refresh_ok(&mut browser, true).await;
    assert_eq!(access_of(&late), stored);
    assert_eq!(late["expires_in"], 30);
    assert_eq!(rig.fx.stats().token.count, 2, "no token call");

    rig.h.clock.advance(31);
    browser
        .refresh(true)
        .await
        .assert_error(401, "reauth_required");
    assert_eq!(rig.fx.stats().token.count, 2, "still no token call");
}

#[tokio::test]
async fn facebook_logout_deletes_the_permissions_with_the_access_token() {
    let rig = rig(BackendKind::Memory).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let token = rig.stored_access(&session_id).await;

    assert_logout(&rig, &mut browser, &session_id).await;

    let revoke = rig.fx.stats().revoke;
    assert_eq!(revoke.last_method.as_deref(), Some("DELETE"));
    let bearer = revoke.header("authorization");
    let sent_token = bearer
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| revoke.query("access_token"));
    assert_eq!(sent_token, Some(token.clone()));
    assert!(
        !rig.fx.access_token_is_live(&token),
        "the app is de-authorized"
    );
}

async fn facebook_apis_called_through_the_proxy_carry_our_appsecret_proof(backend: BackendKind) {
    let up = integration_tests::upstream::UpstreamApi::spawn().await;
    let api = format!(
        "apis.graph = {{ provider = \"{NAME}\", base_url = \"{}/v23.0\" }}",
        up.base_url()
    );
    let rig = Rig::spawn(FixtureKind::Facebook, NAME, backend, &[&api], block).await;
    let (mut browser, session_id, _) = rig.sign_in().await;
    let token = rig.stored_access(&session_id).await;

    let reply = browser
        .request(
            http::Method::GET,
            "/api/graph/me?fields=id%2Cname&appsecret_proof=forged",
            &[("x-requested-with", "fetch")],
            lambda_http::Body::Empty,
        )
        .await;

    assert_eq!(reply.status, 200, "{reply:?}");
    let got = &up.received()[0];
    assert_eq!(got.path, "/v23.0/me");
    assert_eq!(got.bearer().as_deref(), Some(token.as_str()));
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(got.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let proofs: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "appsecret_proof")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(proofs, [proof(&token)], "ours only, never the caller's");
    assert!(query.contains(&("fields".into(), "id,name".into())));
}
