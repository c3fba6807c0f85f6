//! The lease holder of one refresh: one refresh_token grant to a deadline, then one
//! conditional write, whatever a slow key set does after the provider has answered.

use std::pin::pin;

use super::{Issued, MIN_PROVIDER_CALL, STORE_WRITE_BUDGET, end_session, issued, read};
use crate::deadline::Deadline;
use crate::deps::Deps;
use crate::edge::ApiError;
use crate::events::Source;
use crate::flow::store_error;
use crate::provider::discovery::Metadata;
use crate::provider::id_token::{self, Expected, IdTokenError};
use crate::provider::outcome::{self, Failure, Grant};
use crate::provider::token::TokenResponse;
use crate::provider::{Provider, token};
use crate::secret::{IdToken, RefreshToken};
use crate::store::{Session, StoreError, TokenSet};
use crate::telemetry::Chain;

/// What the refreshed id_token says about the session.
enum Verdict {
    /// No id_token, or one that names the session's user.
    Same,
    /// An id_token that fails verification or names someone else: the session must end.
    Refused,
    /// The signing keys could not be fetched: the tokens stand, unverified.
    Unverifiable,
}

/// The lease holder of one refresh.
pub(super) struct Holder<'a> {
    pub(super) deps: Deps<'a>,
    pub(super) session: &'a Session,
    pub(super) provider: &'a Provider,
    pub(super) metadata: &'a Metadata,
    pub(super) owner: &'a str,
    /// The end of this holder's turn: the earlier of the lease and the request's deadline.
    pub(super) turn: Deadline<'a>,
    /// The request's own deadline.
    pub(super) request: Deadline<'a>,
}

impl Holder<'_> {
    /// One refresh_token grant, then one conditional write. The grant starts only when it can
    /// end before the turn does with time left for the write; once the provider has answered,
    /// its tokens are written whatever happens next (a rotated refresh token is spendable only
    /// once). A refreshed id_token is checked before the write when that fits in the turn, else
    /// after it, ending the session when it names someone else.
    #[tracing::instrument(name = "lease_holder", skip_all, fields(provider = %self.session.provider))]
    pub(super) async fn refresh(self) -> Result<Issued, ApiError> {
        let Some(refresh_token) = self.session.tokens.refresh_token.as_ref() else {
            self.release().await;
            return Err(ApiError::ReauthRequired);
        };
        let response = match self.grant(refresh_token).await {
            Ok(response) => response,
            Err(Failure::Reauthenticate) => return self.end().await,
            Err(_) => {
                self.release().await;
                return Err(ApiError::ProviderUnavailable);
            }
        };
        let now = self.deps.now();
        let (tokens, id_token) = outcome::token_set(
            response,
            Some(&self.session.tokens),
            now,
            self.session.expires_at,
        );
        let mut verdict = pin!(self.verify(id_token.as_ref(), now));
        match self
            .turn
            .less(STORE_WRITE_BUDGET)
            .within(&mut verdict)
            .await
        {
            Ok(Verdict::Refused) => self.end().await,
            Ok(Verdict::Same) => self.write(&tokens, now).await,
            Ok(Verdict::Unverifiable) => {
                tracing::warn!(provider = %self.session.provider, "refreshed id_token unverifiable (JWKS unavailable); tokens kept");
                self.write(&tokens, now).await
            }
            Err(_) => {
                // The signing keys are slow: store first, then finish the check.
                let issued = self.write(&tokens, now).await?;
                match self.request.within(verdict).await {
                    Ok(Verdict::Refused) => {
                        end_session(self.deps, &self.session.key).await;
                        Err(ApiError::ReauthRequired)
                    }
                    _ => Ok(issued),
                }
            }
        }
    }

    /// The refresh_token grant, started only when it can end in time for the write.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn grant(&self, refresh_token: &RefreshToken) -> Result<TokenResponse, Failure> {
        let call = self.turn.less(STORE_WRITE_BUDGET);
        if call.remaining() < MIN_PROVIDER_CALL {
            return Err(Failure::RetryLater);
        }
        let provider = &self.session.provider;
        let config = &self.provider.config;
        // The tokens of a native server auth code belong to the app's client id.
        let Some(client) = config.client_named(self.session.client.as_deref()) else {
            tracing::warn!(%provider, "the app the tokens were issued to is no longer configured");
            return Err(Failure::Reauthenticate);
        };
        let grant = token::refresh(self.deps.http, config, client, self.metadata, refresh_token);
        match call.within(grant).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                let failure =
                    outcome::classify(Grant::RefreshToken, &e, &self.provider.config.quirks);
                if failure == Failure::Reauthenticate {
                    tracing::info!(%provider, error = %Chain(&e), "refresh token no longer valid");
                } else {
                    tracing::warn!(%provider, error = %Chain(&e), "refresh failed");
                }
                Err(failure)
            }
            Err(_) => {
                tracing::warn!(%provider, "refresh ran out of time");
                Err(Failure::RetryLater)
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn verify(&self, id_token: Option<&IdToken>, now: u64) -> Verdict {
        let config = &self.provider.config;
        // A plain OAuth 2.0 provider has no keys to check an id_token with; it never named the
        // user by one either.
        let Some(id_token) = id_token.filter(|_| config.is_oidc()) else {
            return Verdict::Same;
        };
        // A native sign-in's tokens name the app (Apple: `aud` is its bundle id; Google: `azp`
        // is the Android or iOS client), as the native route accepted them.
        let expected = Expected {
            issuers: &config.accepted_issuers,
            client_id: &config.client_id,
            apps: &config.native.client_ids,
            nonce: None,
            now,
            nonce_may_be_hashed: false,
        };
        match id_token::verify(
            id_token,
            &expected,
            self.metadata,
            &self.provider.jwks,
            self.deps.http,
        )
        .await
        {
            Ok(claims) if claims.sub == self.session.subject => Verdict::Same,
            Ok(_) => {
                tracing::warn!(provider = %self.session.provider, "refreshed id_token names another subject");
                Verdict::Refused
            }
            Err(IdTokenError::Jwks(e)) => {
                tracing::warn!(provider = %self.session.provider, error = %e, "JWKS unavailable");
                Verdict::Unverifiable
            }
            Err(e) => {
                tracing::warn!(provider = %self.session.provider, error = %e, "refreshed id_token rejected");
                Verdict::Refused
            }
        }
    }

    /// The conditional write that stores the tokens, bumps the version and ends the lease.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn write(&self, tokens: &TokenSet, now: u64) -> Result<Issued, ApiError> {
        let key = self.session.key.as_str();
        match self
            .deps
            .store
            .replace_tokens(key, self.session.version, self.owner, tokens)
            .await
        {
            Ok(()) => {
                tracing::info!(provider = %self.session.provider, "tokens refreshed");
                Ok(issued(tokens, now, Source::Provider))
            }
            Err(StoreError::Conflict) => self.lost_lease().await,
            Err(e) => {
                tracing::error!(error = %Chain(&e), "refreshed tokens could not be stored");
                Err(store_error(e))
            }
        }
    }

    /// Ends the session, but only while still holding its lease.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn end(&self) -> Result<Issued, ApiError> {
        match self
            .deps
            .store
            .delete_session_as_holder(&self.session.key, self.owner)
            .await
        {
            Ok(()) => Err(ApiError::ReauthRequired),
            Err(StoreError::Conflict) => self.lost_lease().await,
            Err(e) => Err(store_error(e)),
        }
    }

    /// The lease is no longer ours (the session ended, or the lease was taken over).
    async fn lost_lease(&self) -> Result<Issued, ApiError> {
        match read(self.deps, &self.session.key).await? {
            Some(current) if current.version > self.session.version => {
                Ok(issued(&current.tokens, self.deps.now(), Source::Coalesced))
            }
            Some(_) => Err(ApiError::ProviderUnavailable),
            None => Err(ApiError::ReauthRequired),
        }
    }

    async fn release(&self) {
        if let Err(e) = self
            .deps
            .store
            .release_refresh_lease(&self.session.key, self.owner)
            .await
        {
            tracing::warn!(error = %e, "could not release a refresh lease; it will expire");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dev_provider::Behavior;

    use super::super::{LEASE_SECS, REQUEST_BUDGET, access_token};
    use super::*;
    use crate::flow::fakes::{Fault, Harness};

    async fn refresh(h: &Harness, key: &str) -> Result<Issued, ApiError> {
        let deadline = h.deadline(REQUEST_BUDGET);
        access_token(h.deps(), &h.settings, &h.providers, key, false, deadline).await
    }

    #[tokio::test]
    async fn a_token_endpoint_that_never_answers_is_cut_off_in_time_for_the_write() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        let before = h.session(&key).await.unwrap();
        h.http.fail("/token", Fault::Hang);
        let start = h.clock.elapsed();
        assert_eq!(
            refresh(&h, &key).await.unwrap_err(),
            ApiError::ProviderUnavailable
        );
        // The call gets the lease (less the second lost to whole store seconds) minus the
        // time kept for the write; then the lease is given back.
        let lease = Duration::from_secs(LEASE_SECS - 1);
        assert_eq!(h.clock.elapsed() - start, lease - STORE_WRITE_BUDGET);
        let after = h.session(&key).await.unwrap();
        assert_eq!((after.version, after.lease_until), (0, 0));
        let rt = |s: &Session| s.tokens.refresh_token.as_ref().unwrap().expose().to_owned();
        assert_eq!(rt(&after), rt(&before));
        h.http.heal();
        assert!(
            refresh(&h, &key).await.is_ok(),
            "the next caller may refresh"
        );
        assert_eq!(h.dev.stats().refresh_token_grants, 1);
    }

    #[tokio::test]
    async fn a_provider_outage_keeps_the_session_and_releases_the_lease() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        h.dev.set_behavior(Behavior {
            token_error: Some((503, "down for maintenance".into())),
            ..Default::default()
        });
        assert_eq!(
            refresh(&h, &key).await.unwrap_err(),
            ApiError::ProviderUnavailable
        );
        let after = h.session(&key).await.unwrap();
        assert_eq!((after.version, after.lease_until), (0, 0));
        h.dev.set_behavior(Behavior::default());
        assert!(refresh(&h, &key).await.is_ok());
        assert_eq!(h.dev.stats().refresh_token_grants, 2);
    }

    #[tokio::test]
    async fn a_refreshed_id_token_that_fails_verification_ends_the_session() {
        for behavior in [
            Behavior {
                id_token_sub: Some("someone-else".into()),
                ..Default::default()
            },
            Behavior {
                id_token_bad_signature: true,
                ..Default::default()
            },
            Behavior {
                id_token_aud: Some("another-client".into()),
                ..Default::default()
            },
        ] {
            let h = Harness::new();
            let key = h.sign_in_stale("user-1").await;
            h.dev.set_behavior(behavior.clone());
            let result = refresh(&h, &key).await;
            assert_eq!(
                result.unwrap_err(),
                ApiError::ReauthRequired,
                "{behavior:?}"
            );
            assert!(h.session(&key).await.is_none(), "{behavior:?}");
        }
    }

    #[tokio::test]
    async fn a_slow_key_set_does_not_keep_the_refreshed_tokens_from_being_stored() {
        let h = Harness::new();
        let key = h.sign_in_stale("user-1").await;
        // The refreshed id_token names a key the cached set lacks: the key set is fetched
        // again, and that fetch never ends.
        h.dev.set_behavior(Behavior {
            id_token_unknown_kid_key: true,
            ..Default::default()
        });
        h.http.fail("/jwks", Fault::Hang);
        let start = h.clock.elapsed();
        let issued = refresh(&h, &key).await.unwrap();
        let after = h.session(&key).await.unwrap();
        assert_eq!(after.version, 1);
        assert_eq!(
            after.tokens.access_token.expose(),
            issued.access_token.expose()
        );
        // The check went on after the write, until the request's deadline.
        assert_eq!(h.clock.elapsed() - start, REQUEST_BUDGET);
    }
}
