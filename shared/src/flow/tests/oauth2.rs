//! A plain OAuth 2.0 provider (`preset = "oauth2"`) through the flows: no nonce, no id_token
//! check, the user from the userinfo endpoint, logout through RFC 7009.

use crate::flow::callback::Outcome;
use crate::flow::fakes::{Fault, Harness, param};
use crate::flow::session;
use crate::store::keys::session_key;

#[tokio::test]
async fn a_plain_oauth2_login_sends_no_nonce_and_identifies_the_user_by_userinfo() {
    let h = Harness::oauth2();
    let started = h.start_login().await;
    let url = &started.authorization_url;
    assert!(
        url.query_pairs().all(|(k, _)| k != "nonce"),
        "no nonce for plain OAuth 2.0: {url}"
    );
    assert_eq!(param(url, "code_challenge_method"), "S256");
    let redirect = h.approve(&started, "user-7");
    let Ok(Outcome::SignedIn { session_id, .. }) = h.complete(&started, &redirect).await else {
        panic!("login did not complete")
    };
    let session = session::info(h.deps(), &session_key(session_id.expose()))
        .await
        .unwrap();
    assert_eq!(session.subject, "user-7");
    assert!(
        session.profile.email.is_some(),
        "dev provider marks its e-mail verified"
    );
    assert!(
        h.http.sent().iter().any(|path| path.ends_with("/userinfo")),
        "the user came from userinfo: {:?}",
        h.http.sent()
    );
}

#[tokio::test]
async fn a_userinfo_endpoint_that_fails_fails_the_login_and_stores_nothing() {
    let h = Harness::oauth2();
    let started = h.start_login().await;
    let redirect = h.approve(&started, "user-7");
    h.http.fail("/userinfo", Fault::Unreachable);
    let outcome = h.complete(&started, &redirect).await.unwrap();
    let Outcome::Redirect(location) = outcome else {
        panic!("expected a redirect, got {outcome:?}")
    };
    assert!(location.contains("error=login_failed"), "{location}");
}

#[tokio::test]
async fn logout_of_a_plain_oauth2_session_revokes_at_the_configured_endpoint() {
    let h = Harness::oauth2();
    let key = h.sign_in("user-8").await;
    session::logout(h.deps(), &h.providers, &key).await.unwrap();
    assert!(
        h.http.sent().iter().any(|path| path.ends_with("/revoke")),
        "{:?}",
        h.http.sent()
    );
    assert!(
        session::info(h.deps(), &key).await.is_err(),
        "session deleted"
    );
}
