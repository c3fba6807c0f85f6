//! `preset = "kakao"` with `openid` in its scopes: Kakao's OpenID Connect mode, against the dev
//! provider (an OpenID Connect peer) standing in for `kauth.kakao.com` through the `issuer` and
//! `revocation_endpoint` overrides: the user from the id_token, the secret in the body, and
//! logout through Kakao's logout call with the access token as a bearer.

use http::StatusCode;
use integration_tests::{BackendKind, Harness, query_param};

const NAME: &str = "kakao";

/// Kakao's logout endpoint stands in as the dev provider's userinfo, which counts bearer calls.
const BLOCK: &str = "preset = \"kakao\"\nscopes = [\"openid\"]\n\
                     revocation_endpoint = \"{issuer}/userinfo\"";

async fn kakao_with_openid_signs_in_by_id_token_refreshes_and_logs_out(backend: BackendKind) {
    let h = Harness::builder()
        .backend(backend)
        .provider(NAME, BLOCK)
        .spawn()
        .await;
    let mut browser = h.browser();

    let pending = browser.begin(NAME, "kakao-user-1", None).await;
    assert_eq!(query_param(&pending.authorization_url, "scope"), "openid");
    assert!(!query_param(&pending.authorization_url, "nonce").is_empty());
    let callback = browser.follow(&pending.callback_url).await;
    assert_eq!(callback.status, StatusCode::FOUND, "{callback:?}");
    assert_eq!(
        h.stats().userinfo_requests,
        0,
        "the id_token names the user"
    );
    assert_eq!(
        h.stats().last_client_auth.as_deref(),
        Some("client_secret_post")
    );
    let session = browser.session().await.json();
    assert_eq!(session["provider"], NAME);
    assert_eq!(session["subject"], "kakao-user-1");

    let refreshed = browser.refresh(true).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    assert_eq!(h.stats().refresh_token_grants, 1);

    let logout = browser.logout().await;
    assert_eq!(logout.status, StatusCode::OK, "{logout:?}");
    assert_eq!(
        h.stats().userinfo_requests,
        1,
        "logout called Kakao's logout endpoint with the live access token"
    );
    assert_eq!(browser.session().await.status, StatusCode::UNAUTHORIZED);
}

on_both_stores!(kakao_with_openid_signs_in_by_id_token_refreshes_and_logs_out);
