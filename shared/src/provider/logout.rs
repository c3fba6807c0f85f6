//! Ending the grant at the provider when a user logs out, each provider's way: RFC 7009
//! revocation, Naver's revoke, Facebook's `DELETE /me/permissions`, GitHub's grant deletion,
//! Kakao's logout. Best effort: the session is deleted whatever the provider answers.

use url::Url;

use super::client::{self, Outbound};
use super::client_secret::TokenClient;
use super::discovery::Metadata;
use super::quirks::Logout;
use super::userinfo::with_proof;
use super::{ProviderError, token};
use crate::config::ProviderConfig;
use crate::store::TokenSet;

/// Ends the grant behind `tokens`, issued to `client`. `Ok(false)` when the provider offers no
/// way to.
pub async fn end_grant(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    client: TokenClient<'_>,
    metadata: &Metadata,
    tokens: &TokenSet,
) -> Result<bool, ProviderError> {
    let endpoint = metadata.revocation_endpoint.as_ref();
    let access = &tokens.access_token;
    let request = match (provider.quirks.logout, endpoint) {
        (Logout::Rfc7009, Some(endpoint)) => {
            let (token, hint) = match &tokens.refresh_token {
                Some(rt) => (rt.expose(), "refresh_token"),
                None => (access.expose(), "access_token"),
            };
            token::revoke(http, provider, client, endpoint, token, hint).await?;
            return Ok(true);
        }
        (Logout::NaverRevoke, Some(endpoint)) => {
            token::revoke(
                http,
                provider,
                client,
                endpoint,
                access.expose(),
                "access_token",
            )
            .await?;
            return Ok(true);
        }
        (Logout::FacebookPermissions, _) => {
            let Some(me) = provider.endpoints.userinfo.as_ref() else {
                return Ok(false);
            };
            let mut request = client::get(&with_proof(provider, &permissions(me), access)?);
            *request.method_mut() = http::Method::DELETE;
            client::bearer(&mut request, access);
            request
        }
        (Logout::GithubGrant, Some(endpoint)) => {
            let body = serde_json::json!({ "access_token": access.expose() }).to_string();
            let mut request = client::get(endpoint);
            *request.method_mut() = http::Method::DELETE;
            token::basic_auth(&mut request, provider)?;
            request.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            *request.body_mut() = body.into_bytes();
            request
        }
        (Logout::KakaoLogout, Some(endpoint)) => {
            let mut request = client::get(endpoint);
            *request.method_mut() = http::Method::POST;
            client::bearer(&mut request, access);
            request
        }
        (_, None) => return Ok(false),
    };
    let fetched = http.send(request).await?;
    if fetched.status.is_success() {
        Ok(true)
    } else {
        Err(ProviderError::Invalid(format!(
            "logout endpoint answered {}",
            fetched.status
        )))
    }
}

/// `{graph}/{version}/me/permissions` from the profile endpoint `{graph}/{version}/me`.
fn permissions(me: &Url) -> Url {
    let mut url = me.clone();
    let path = format!("{}/permissions", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url
}
