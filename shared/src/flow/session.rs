//! `GET /auth/session` and `POST /auth/logout`.

use serde_json::json;

use crate::app::App;
use crate::edge::{
    ApiError, Request, Response, add_cookie, add_cors, allowed_origin, json_response,
};
use crate::provider::token;

use super::store_error;
use crate::caller::authenticate;

/// `GET /auth/session`: who is signed in, never a token.
pub async fn handle_info(app: &App, req: &Request) -> Response {
    let origin = allowed_origin(req, &app.config.allowed_origins);
    let result = async {
        let (key, _) = authenticate(req, app.cookies, &app.config.allowed_origins, false)?;
        app.store
            .get_session(&key, app.now())
            .await
            .map_err(store_error)?
            .ok_or(ApiError::Unauthenticated)
    }
    .await;
    let mut resp = match result {
        Ok(s) => json_response(
            http::StatusCode::OK,
            &json!({
                "provider": s.provider.as_str(),
                "subject": s.subject,
                "profile": s.profile,
                "access_token_expires_at": s.tokens.access_expires_at,
                "session_expires_at": s.expires_at,
            }),
        ),
        Err(e) => e.response(),
    };
    add_cors(&mut resp, origin);
    resp
}

/// `POST /auth/logout`: revoke at the provider when it can, delete the session, clear the cookie.
pub async fn handle_logout(app: &App, req: &Request) -> Response {
    let origin = allowed_origin(req, &app.config.allowed_origins);
    let result = async {
        let (key, _) = authenticate(req, app.cookies, &app.config.allowed_origins, true)?;
        let session = app
            .store
            .get_session(&key, app.now())
            .await
            .map_err(store_error)?
            .ok_or(ApiError::Unauthenticated)?;
        let mut end_session_url = None;
        if let Some(provider) = app.providers.get(&session.provider)
            && let Ok(metadata) = provider.metadata(&app.http).await
        {
            // Best effort: the session is deleted whatever the provider answers.
            if let (Some(rt), Some(endpoint)) =
                (&session.tokens.refresh_token, &metadata.revocation_endpoint)
            {
                match token::revoke(&app.http, &provider.config, endpoint, rt).await {
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
        app.store.delete_session(&key).await.map_err(store_error)?;
        Ok::<_, ApiError>(end_session_url)
    }
    .await;
    let mut resp = match result {
        Ok(url) => {
            let mut body = json!({"logged_out": true});
            if let Some(url) = url {
                body["end_session_url"] = json!(url);
            }
            let mut resp = json_response(http::StatusCode::OK, &body);
            add_cookie(&mut resp, &app.cookies.clear(app.cookies.session_name()));
            resp
        }
        Err(e) => e.response(),
    };
    add_cors(&mut resp, origin);
    resp
}
