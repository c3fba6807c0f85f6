//! Google's quirk: `iss` may name the issuer without its scheme (`accounts.google.com`), in
//! the authorization response and in id_tokens. Accepted for the google preset only, and
//! required by neither.

use dev_provider::Behavior;

use crate::edge::ApiError;
use crate::flow::callback::Outcome;
use crate::flow::fakes::{Harness, ISSUER, with_param};

fn schemeless() -> &'static str {
    ISSUER.trim_start_matches("http://")
}

fn schemeless_id_tokens(h: &Harness) {
    h.dev.set_behavior(Behavior {
        id_token_iss: Some(schemeless().into()),
        ..Default::default()
    });
}

#[tokio::test]
async fn google_accepts_its_issuer_without_the_scheme_in_the_callback_and_the_id_token() {
    let h = Harness::google();
    schemeless_id_tokens(&h);
    let started = h.start_login().await;
    let redirect = with_param(&h.approve(&started, "user-1"), "iss", Some(schemeless()));
    let outcome = h.complete(&started, &redirect).await.unwrap();
    assert!(matches!(outcome, Outcome::SignedIn { .. }), "{outcome:?}");
}

#[tokio::test]
async fn google_accepts_its_full_issuer_too() {
    let h = Harness::google();
    let started = h.start_login().await;
    let redirect = h.approve(&started, "user-1");
    let outcome = h.complete(&started, &redirect).await.unwrap();
    assert!(matches!(outcome, Outcome::SignedIn { .. }), "{outcome:?}");
}

#[tokio::test]
async fn another_oidc_provider_refuses_the_issuer_without_its_scheme() {
    let h = Harness::new();
    let started = h.start_login().await;
    let redirect = with_param(&h.approve(&started, "user-1"), "iss", Some(schemeless()));
    let refused = h.complete(&started, &redirect).await;
    assert_eq!(refused.unwrap_err(), ApiError::InvalidIssuer);

    schemeless_id_tokens(&h);
    let started = h.start_login().await;
    let redirect = h.approve(&started, "user-1");
    let Outcome::Redirect(location) = h.complete(&started, &redirect).await.unwrap() else {
        panic!("an id_token from another issuer must not sign in")
    };
    assert!(location.contains("error=login_failed"), "{location}");
}
