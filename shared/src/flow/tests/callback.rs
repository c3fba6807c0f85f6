use super::*;

#[test]
fn a_redirect_outcome_does_not_print_its_hand_off_code() {
    let outcome = Outcome::Redirect("com.example.app:/cb?code=handoff-SECRET".into());
    assert!(!format!("{outcome:?}").contains("SECRET"));
}

mod with_fakes {
    use super::*;
    use crate::clock::Clock;
    use crate::crypto::pkce_s256;
    use crate::flow::fakes::{
        APP_REDIRECT, FixedRandom, Harness, ISSUER, PROVIDER, param, with_param,
    };
    use crate::flow::login;
    use crate::store::Store;

    #[tokio::test]
    async fn a_completed_login_creates_a_session_for_the_approved_user() {
        let h = Harness::new();
        let now = h.clock.now();
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        let outcome = h.complete(&started, &redirect).await.unwrap();
        let Outcome::SignedIn {
            session_id,
            return_to,
        } = outcome
        else {
            panic!("not signed in: {outcome:?}");
        };
        // Draws: binding, state, verifier, nonce, then the session id.
        assert_eq!(session_id.expose(), FixedRandom::token_nth(4));
        assert_eq!(return_to, ReturnTo::Path("/home".into()));
        let session = h.session(&session_key(session_id.expose())).await.unwrap();
        assert_eq!(session.subject, "user-1");
        assert_eq!(session.provider.as_str(), PROVIDER);
        assert_eq!(session.profile.email.as_deref(), Some("user-1@example.com"));
        assert!(session.tokens.refresh_token.is_some());
        assert_eq!((session.created_at, session.version), (now, 0));
        assert_eq!(session.expires_at, now + h.settings.session_ttl);
        let stats = h.dev.stats();
        assert_eq!(stats.authorization_code_grants, 1);
        let sent = |name: &str| {
            let form = &stats.last_token_form;
            form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        };
        assert_eq!(sent("code_verifier"), Some(FixedRandom::token_nth(2)));
        assert_eq!(
            sent("redirect_uri"),
            Some(h.settings.redirect_uri(PROVIDER))
        );
    }

    #[tokio::test]
    async fn a_replayed_state_is_invalid_state() {
        let h = Harness::new();
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        assert!(matches!(
            h.complete(&started, &redirect).await,
            Ok(Outcome::SignedIn { .. })
        ));
        let replay = h.complete(&started, &redirect).await;
        assert_eq!(replay.unwrap_err(), ApiError::InvalidState);
        assert_eq!(h.dev.stats().authorization_code_grants, 1);
    }

    #[tokio::test]
    async fn a_transaction_that_expired_on_the_clock_is_invalid_state() {
        let h = Harness::new();
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        h.clock.advance_secs(h.settings.transaction_ttl + 1);
        let late = h.complete(&started, &redirect).await;
        assert_eq!(late.unwrap_err(), ApiError::InvalidState);
        assert_eq!(h.dev.stats().authorization_code_grants, 0);
    }

    #[tokio::test]
    async fn a_transaction_is_still_good_just_before_it_expires() {
        let h = Harness::new();
        // The dev provider signs with real time: keep its id_token valid on the moved clock.
        h.dev.set_behavior(dev_provider::Behavior {
            id_token_exp_offset: Some(3600),
            ..Default::default()
        });
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        h.clock.advance_secs(h.settings.transaction_ttl - 1);
        let outcome = h.complete(&started, &redirect).await;
        assert!(
            matches!(outcome, Ok(Outcome::SignedIn { .. })),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_state_from_another_browser_is_invalid_state_and_consumes_nothing() {
        let h = Harness::new();
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        let other_browser = FixedRandom::token_nth(99);
        let params = crate::flow::fakes::callback_params(&redirect, &other_browser).unwrap();
        let stolen = complete(h.deps(), &h.settings, h.provider(), params).await;
        assert_eq!(stolen.unwrap_err(), ApiError::InvalidState);
        assert!(matches!(
            h.complete(&started, &redirect).await,
            Ok(Outcome::SignedIn { .. })
        ));
    }

    #[tokio::test]
    async fn a_provider_error_goes_back_to_return_to_with_its_code() {
        let h = Harness::new();
        for (sent, passed_on) in [
            ("access_denied", "access_denied"),
            ("login_required", "login_required"),
            ("made_up<script>", "access_denied"),
        ] {
            let started = h.start_login().await;
            let state = param(&started.authorization_url, "state");
            let mut redirect = url::Url::parse(&h.settings.redirect_uri(PROVIDER)).unwrap();
            redirect
                .query_pairs_mut()
                .append_pair("error", sent)
                .append_pair("error_description", "the user said no")
                .append_pair("state", &state)
                .append_pair("iss", ISSUER);
            let outcome = h.complete(&started, &redirect).await.unwrap();
            let Outcome::Redirect(location) = outcome else {
                panic!("expected a redirect for {sent}");
            };
            assert_eq!(location, format!("/home?error={passed_on}"));
        }
        assert_eq!(h.dev.stats().authorization_code_grants, 0);
    }

    #[tokio::test]
    async fn an_authorization_response_from_another_issuer_is_invalid_issuer() {
        let h = Harness::new();
        for iss in [
            Some("https://evil.example"),
            Some(&format!("{ISSUER}/")),
            None,
        ] {
            let started = h.start_login().await;
            let redirect = with_param(&h.approve(&started, "user-1"), "iss", iss);
            let outcome = h.complete(&started, &redirect).await;
            assert_eq!(outcome.unwrap_err(), ApiError::InvalidIssuer, "{iss:?}");
        }
        assert_eq!(h.dev.stats().authorization_code_grants, 0);
    }

    #[tokio::test]
    async fn an_id_token_for_another_nonce_fails_the_login() {
        let h = Harness::new();
        h.dev.set_behavior(dev_provider::Behavior {
            id_token_nonce: Some(FixedRandom::token_nth(77)),
            ..Default::default()
        });
        let started = h.start_login().await;
        let redirect = h.approve(&started, "user-1");
        let outcome = h.complete(&started, &redirect).await.unwrap();
        let Outcome::Redirect(location) = outcome else {
            panic!("signed in with a foreign nonce");
        };
        assert_eq!(location, "/home?error=login_failed");
        assert_eq!(h.dev.stats().authorization_code_grants, 1);
        assert_eq!(h.random.drawn(), 4, "no session id was drawn");
    }

    #[tokio::test]
    async fn a_mobile_login_ends_in_a_hand_off_code_for_the_app() {
        let h = Harness::new();
        let challenge = pkce_s256(&FixedRandom::token_nth(50));
        let request = h.login_request(&format!(
            "app_redirect={APP_REDIRECT}&code_challenge={challenge}&code_challenge_method=S256"
        ));
        let started = login::start(h.deps(), &h.settings, h.provider(), request)
            .await
            .unwrap();
        let redirect = h.approve(&started, "user-1");
        let outcome = h.complete(&started, &redirect).await.unwrap();
        let Outcome::Redirect(location) = outcome else {
            panic!("a mobile login must not set a browser session");
        };
        let code = FixedRandom::token_nth(4);
        assert_eq!(location, format!("{APP_REDIRECT}?code={code}"));
        let handoff = h
            .store
            .take_handoff(&handoff_key(&code), h.clock.now())
            .await;
        let handoff = handoff.unwrap().unwrap();
        assert_eq!(handoff.challenge, challenge);
        assert_eq!(handoff.session.subject, "user-1");
        let expected_expiry = handoff.session.created_at + crate::flow::handoff::HANDOFF_TTL;
        assert_eq!(handoff.expires_at, expected_expiry);
    }
}
