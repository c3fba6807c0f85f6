//! The lease holder of one refresh: one refresh_token grant to a deadline, then one
//! conditional write, whatever a slow key set does after the provider has answered.

use std::pin::pin;

use super::{
    DEFAULT_EXPIRES_IN, Issued, MIN_PROVIDER_CALL, STORE_WRITE_BUDGET, end_session, issued, read,
};
use crate::app::App;
use crate::deadline::Deadline;
use crate::edge::ApiError;
use crate::provider::discovery::Metadata;
use crate::provider::id_token::{self, Expected, IdTokenError};
use crate::provider::{OAuthError, Provider, ProviderError, token};
use crate::store::{Session, StoreError, TokenSet};
use crate::telemetry::Chain;

use crate::flow::store_error;

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
    pub(super) app: &'a App,
    pub(super) session: &'a Session,
    pub(super) provider: &'a Provider,
    pub(super) metadata: &'a Metadata,
    pub(super) owner: &'a str,
    /// The end of this holder's turn: the earlier of the lease and the request's deadline.
    pub(super) turn: Deadline,
    /// The request's own deadline.
    pub(super) request: Deadline,
}

impl Holder<'_> {
    /// One refresh_token grant, then one conditional write. The grant starts only when it can
    /// end before the turn does with time left for the write; once the provider has answered,
    /// its tokens are written whatever happens next (a rotated refresh token is spendable only
    /// once). A refreshed id_token is checked before the write when that fits in the turn, else
    /// after it, ending the session when it names someone else.
    #[tracing::instrument(name = "lease_holder", skip_all, fields(provider = %self.session.provider))]
    pub(super) async fn refresh(self) -> Result<Issued, ApiError> {
        let app = self.app;
        let call_budget = self.turn.less(STORE_WRITE_BUDGET).remaining();
        if call_budget < MIN_PROVIDER_CALL {
            self.release().await;
            return Err(ApiError::ProviderUnavailable);
        }
        let Some(refresh_token) = self.session.tokens.refresh_token.as_ref() else {
            self.release().await;
            return Err(ApiError::ReauthRequired);
        };
        let grant = token::refresh(
            &app.http,
            &self.provider.config,
            self.metadata,
            refresh_token,
        );
        let response = match tokio::time::timeout(call_budget, grant).await {
            Ok(Ok(r)) => r,
            Ok(Err(ProviderError::Rejected {
                error: OAuthError::InvalidGrant,
            })) => {
                tracing::info!(provider = %self.session.provider, "refresh token no longer valid");
                return self.end().await;
            }
            Ok(Err(e)) => {
                tracing::warn!(provider = %self.session.provider, error = %Chain(&e), "refresh failed");
                self.release().await;
                return Err(ApiError::ProviderUnavailable);
            }
            Err(_) => {
                tracing::warn!(provider = %self.session.provider, "refresh ran out of time");
                self.release().await;
                return Err(ApiError::ProviderUnavailable);
            }
        };
        let now = app.now();
        let old = &self.session.tokens;
        let tokens = TokenSet {
            access_token: response.access_token,
            access_expires_at: now + response.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
            // A response without a refresh token keeps the old one (RFC 6749 §6).
            refresh_token: response.refresh_token.or_else(|| old.refresh_token.clone()),
            scope: response.scope.or_else(|| old.scope.clone()),
            refreshed_at: now,
        };

        let mut verdict = pin!(self.verify(response.id_token.as_ref(), now));
        let in_turn = self.turn.less(STORE_WRITE_BUDGET).remaining();
        match tokio::time::timeout(in_turn, &mut verdict).await {
            Ok(Verdict::Refused) => self.end().await,
            Ok(Verdict::Same) => self.write(&tokens, now).await,
            Ok(Verdict::Unverifiable) => {
                tracing::warn!(provider = %self.session.provider, "refreshed id_token unverifiable (JWKS unavailable); tokens kept");
                self.write(&tokens, now).await
            }
            Err(_) => {
                // The signing keys are slow: store first, then finish the check.
                let issued = self.write(&tokens, now).await?;
                match tokio::time::timeout(self.request.remaining(), verdict).await {
                    Ok(Verdict::Refused) => {
                        end_session(app, &self.session.key).await;
                        Err(ApiError::ReauthRequired)
                    }
                    _ => Ok(issued),
                }
            }
        }
    }

    async fn verify(&self, id_token: Option<&crate::secret::IdToken>, now: u64) -> Verdict {
        let Some(id_token) = id_token else {
            return Verdict::Same;
        };
        let config = &self.provider.config;
        let expected = Expected {
            issuer: config.issuer(),
            client_id: &config.client_id,
            nonce: None,
            now,
        };
        let app = self.app;
        match id_token::verify(
            id_token,
            &expected,
            self.metadata,
            &self.provider.jwks,
            &app.http,
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
    async fn write(&self, tokens: &TokenSet, now: u64) -> Result<Issued, ApiError> {
        let app = self.app;
        let key = self.session.key.as_str();
        match app
            .store
            .replace_tokens(key, self.session.version, self.owner, tokens)
            .await
        {
            Ok(()) => {
                tracing::info!(provider = %self.session.provider, "tokens refreshed");
                Ok(issued(tokens, now))
            }
            Err(StoreError::Conflict) => self.lost_lease().await,
            Err(e) => {
                tracing::error!(error = %Chain(&e), "refreshed tokens could not be stored");
                Err(store_error(e))
            }
        }
    }

    /// Ends the session, but only while still holding its lease.
    async fn end(&self) -> Result<Issued, ApiError> {
        match self
            .app
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
        match read(self.app, &self.session.key).await? {
            Some(current) if current.version > self.session.version => {
                Ok(issued(&current.tokens, self.app.now()))
            }
            Some(_) => Err(ApiError::ProviderUnavailable),
            None => Err(ApiError::ReauthRequired),
        }
    }

    async fn release(&self) {
        if let Err(e) = self
            .app
            .store
            .release_refresh_lease(&self.session.key, self.owner)
            .await
        {
            tracing::warn!(error = %e, "could not release a refresh lease; it will expire");
        }
    }
}
