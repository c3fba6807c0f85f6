//! For a team's own functions behind the authorizer: who API Gateway says is calling (the
//! authorizer's context: provider and subject, never a token), and the example route
//! `GET /me/hello` that the SAM template and the local runner put behind it.

use http::StatusCode;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::json;

use crate::edge::{ApiError, Request, Response, json_response};

/// The user the authorizer admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedUser {
    /// The provider they signed in with.
    pub provider: String,
    /// Their subject there.
    pub subject: String,
}

impl AuthorizedUser {
    /// The authorizer's context in an API Gateway (payload 2.0) request, if there is one.
    pub fn from_request(req: &Request) -> Option<Self> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            return None;
        };
        let fields = &ctx.authorizer.as_ref()?.fields;
        let text = |key: &str| fields.get(key)?.as_str().map(str::to_owned);
        Some(Self {
            provider: text("provider")?,
            subject: text("subject")?,
        })
    }
}

/// What API Gateway does for a route behind the authorizer, for runners without it (the local
/// runner): asks [`App::authorize`] about `req`, then answers `route` for the admitted user, or
/// API Gateway's own 403 `{"message":"Forbidden"}` (500 when the authorizer failed).
pub async fn behind_authorizer(
    app: &crate::App,
    req: &Request,
    route: fn(Option<&AuthorizedUser>) -> Response,
) -> Response {
    let event = crate::edge::authorizer_event_for(req);
    let gateway =
        |status: StatusCode, message: &str| json_response(status, &json!({ "message": message }));
    match app.authorize(&event).await {
        Ok(answer) if answer["isAuthorized"] == true => {
            let text = |key: &str| answer["context"][key].as_str().map(str::to_owned);
            let user = text("provider")
                .zip(text("subject"))
                .map(|(provider, subject)| AuthorizedUser { provider, subject });
            route(user.as_ref())
        }
        Ok(_) => gateway(StatusCode::FORBIDDEN, "Forbidden"),
        Err(_) => gateway(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// `GET /me/hello`: greets the admitted user; 401 when the request carries no authorizer
/// context (the route was deployed without the authorizer).
pub fn hello(user: Option<&AuthorizedUser>) -> Response {
    match user {
        Some(user) => json_response(
            StatusCode::OK,
            &json!({ "hello": user.subject, "provider": user.provider }),
        ),
        None => ApiError::Unauthenticated.response(),
    }
}
