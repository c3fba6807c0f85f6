//! `GET /auth/session` (who is signed in) and `POST /auth/logout` (revoke, delete).

use super::store_error;
use crate::deps::Deps;
use crate::edge::ApiError;
use crate::provider::{Providers, token};
use crate::store::Session;

/// The live session stored under `key`, never a token.
#[tracing::instrument(name = "session", skip_all)]
pub async fn info(deps: Deps<'_>, key: &str) -> Result<Session, ApiError> {
    deps.store
        .get_session(key, deps.now())
        .await
        .map_err(store_error)?
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
        && let Ok(metadata) = provider.metadata(deps.http).await
    {
        // Best effort: the session is deleted whatever the provider answers.
        if let (Some(rt), Some(endpoint)) =
            (&session.tokens.refresh_token, &metadata.revocation_endpoint)
        {
            match token::revoke(deps.http, &provider.config, endpoint, rt).await {
                Ok(()) => tracing::info!("refresh token revoked"),
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::Chain(&e), "revocation failed");
                }
            }
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
