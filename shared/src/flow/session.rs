//! `GET /auth/session` (who is signed in) and `POST /auth/logout` (revoke, delete).

use super::store_error;
use crate::deps::Deps;
use crate::edge::ApiError;
use crate::provider::{Providers, logout};
use crate::store::Session;

/// The live session stored under `key`, never a token.
#[tracing::instrument(name = "session", skip_all)]
pub async fn info(deps: Deps<'_>, key: &str) -> Result<Session, ApiError> {
    super::refresh::read(deps, key)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// Revokes the refresh token at the provider when it can (best effort), deletes the session
/// and returns the provider's end-session URL, when it has one.
#[tracing::instrument(name = "logout", skip_all)]
pub async fn logout(
    deps: Deps<'_>,
    providers: &Providers,
    key: &str,
) -> Result<Option<String>, ApiError> {
    let session = info(deps, key).await?;
    let mut end_session_url = None;
    if let Some(provider) = providers.get(&session.provider)
        && let Ok(metadata) = provider.metadata(deps).await
    {
        // Best effort: the session is deleted whatever the provider answers.
        let config = &provider.config;
        match config.client_named(session.client.as_deref()) {
            Some(client) => {
                match logout::end_grant(deps.http, config, client, &metadata, &session.tokens).await
                {
                    Ok(true) => tracing::info!("grant ended at the provider"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %crate::telemetry::Chain(&e), "revocation failed");
                    }
                }
            }
            None => tracing::warn!(
                "the app the tokens were issued to is no longer configured; not revoked"
            ),
        }
        end_session_url = metadata.end_session_endpoint.as_ref().map(|u| {
            let mut u = u.clone();
            u.query_pairs_mut()
                .append_pair("client_id", &provider.config.client_id);
            u.to_string()
        });
    }
    deps.store.delete_session(key).await.map_err(store_error)?;
    Ok(end_session_url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::fakes::{CLIENT_ID, Fault, FixedRandom, Harness, ISSUER};

    #[tokio::test]
    async fn info_returns_the_signed_in_users_session() {
        let h = Harness::new();
        let key = h.sign_in("user-1").await;
        let session = info(h.deps(), &key).await.unwrap();
        assert_eq!(session.subject, "user-1");
        assert_eq!(session.key, key);
        assert_eq!(session.profile.name.as_deref(), Some("User-1 Example"));
    }

    #[tokio::test]
    async fn an_unknown_session_is_unauthenticated() {
        let h = Harness::new();
        h.put_session("user-1", &FixedRandom::token_nth(1)).await;
        let unknown = crate::store::keys::session_key(&FixedRandom::token_nth(2));
        assert_eq!(
            info(h.deps(), &unknown).await.unwrap_err(),
            ApiError::Unauthenticated
        );
        let logout = logout(h.deps(), &h.providers, &unknown).await;
        assert_eq!(logout.unwrap_err(), ApiError::Unauthenticated);
        assert!(h.http.sent().is_empty());
    }

    #[tokio::test]
    async fn a_session_ends_after_its_ttl_on_the_clock() {
        let h = Harness::new();
        let key = h.put_session("user-1", &FixedRandom::token_nth(1)).await;
        h.clock.advance_secs(h.settings.session_ttl - 1);
        assert!(info(h.deps(), &key).await.is_ok());
        h.clock.advance_secs(1);
        assert_eq!(
            info(h.deps(), &key).await.unwrap_err(),
            ApiError::Unauthenticated
        );
    }

    #[tokio::test]
    async fn logout_revokes_the_refresh_token_and_deletes_the_session() {
        let h = Harness::new();
        let key = h.sign_in("user-1").await;
        let stored = info(h.deps(), &key).await.unwrap();
        let refresh_token = stored.tokens.refresh_token.unwrap();
        let end_session = logout(h.deps(), &h.providers, &key).await.unwrap();
        assert_eq!(
            end_session.as_deref(),
            Some(format!("{ISSUER}/end-session?client_id={CLIENT_ID}").as_str())
        );
        assert_eq!(h.dev.stats().revoked_tokens, [refresh_token.expose()]);
        assert_eq!(
            info(h.deps(), &key).await.unwrap_err(),
            ApiError::Unauthenticated
        );
    }

    #[tokio::test]
    async fn logout_deletes_the_session_when_revocation_fails() {
        let h = Harness::new();
        let key = h.sign_in("user-1").await;
        h.http.fail("/revoke", Fault::Unreachable);
        let end_session = logout(h.deps(), &h.providers, &key).await.unwrap();
        assert!(end_session.is_some());
        assert!(h.dev.stats().revoked_tokens.is_empty());
        assert!(h.session(&key).await.is_none());
    }

    #[tokio::test]
    async fn logout_deletes_the_session_when_the_provider_is_unreachable() {
        let h = Harness::new();
        let key = h.put_session("user-1", &FixedRandom::token_nth(1)).await;
        h.http.fail("/openid-configuration", Fault::Unreachable);
        let end_session = logout(h.deps(), &h.providers, &key).await.unwrap();
        assert_eq!(end_session, None);
        assert!(h.session(&key).await.is_none());
    }
}
