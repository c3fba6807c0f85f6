//! One handler per route: parse the request into its typed form (the contract's error when it
//! cannot be), run the flow with the application's ports, shape the response.

use std::sync::Arc;

use axum::extract::{RawPathParams, Request as AxumRequest, State};
use axum::response::Response as AxumResponse;
use http::StatusCode;
use lambda_http::RequestExt;
use serde_json::json;

use super::{into_axum, to_lambda_body};
use crate::app::Shared;
use crate::caller::authenticate;
use crate::crypto::is_token_shaped;
use crate::deadline::Deadline;
use crate::edge::{
    ApiError, Request, add_cookie, add_cors, allowed_origin, cookie, json_response,
    preflight as preflight_response, proxy_preflight, redirect,
};
use crate::flow::backchannel::LogoutNotice;
use crate::flow::callback::{CallbackParams, Outcome};
use crate::flow::handoff::Redemption;
use crate::flow::login::LoginRequest;
use crate::flow::native::Credential;
use crate::flow::proxy::ProxyRequest;
use crate::flow::refresh::{REQUEST_BUDGET, RefreshRequest};
use crate::flow::{backchannel, callback, handoff, health, login, native, proxy, refresh, session};
use crate::provider::Provider;
use crate::provider::presets::ResponseMode;
use crate::store::keys::session_key;

/// The request with its body in memory, as the parsers take it.
async fn buffered(req: AxumRequest) -> Request {
    let (parts, body) = req.into_parts();
    http::Request::from_parts(parts, to_lambda_body(body).await.unwrap_or_default())
}

/// The provider the path names, or `unknown_provider`.
fn provider<'a>(shared: &'a Shared, params: &RawPathParams) -> Result<&'a Provider, ApiError> {
    let provider = params
        .iter()
        .find(|(name, _)| *name == "provider")
        .and_then(|(_, value)| shared.provider(value))
        .ok_or(ApiError::UnknownProvider)?;
    let id = provider.config.id.clone();
    crate::events::note(|n| n.provider = Some(id));
    Ok(provider)
}

/// `OPTIONS` on any route: a CORS preflight for allowed origins.
pub(super) async fn preflight(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    into_axum(preflight_response(allowed_origin(
        &req,
        &shared.config().allowed_origins,
    )))
}

/// `GET /auth/{provider}/login`
pub(super) async fn login(
    State(shared): State<Arc<Shared>>,
    params: RawPathParams,
    req: AxumRequest,
) -> AxumResponse {
    let req = buffered(req).await;
    let cookies = shared.cookies();
    let result = async {
        let provider = provider(&shared, &params)?;
        let request = LoginRequest::from_request(&req, shared.config(), cookies)?;
        let started = login::start(shared.deps(), shared.settings(), provider, request).await?;
        Ok::<_, ApiError>((started, provider.config.response_mode))
    }
    .await;
    into_axum(match result {
        Ok((started, mode)) => {
            let mut resp = redirect(started.authorization_url.as_str());
            let ttl = shared.settings().transaction_ttl;
            let binding = started.binding.expose();
            let set = match mode {
                ResponseMode::FormPost => cookies.set_cross_site(cookies.tx_name(), binding, ttl),
                ResponseMode::Query => cookies.set(cookies.tx_name(), binding, ttl),
            };
            add_cookie(&mut resp, &set);
            resp
        }
        Err(e) => e.response(),
    })
}

/// `GET /auth/{provider}/callback`
pub(super) async fn callback(
    State(shared): State<Arc<Shared>>,
    params: RawPathParams,
    req: AxumRequest,
) -> AxumResponse {
    run_callback(&shared, &params, req, false).await
}

/// `POST /auth/{provider}/callback`: the form-post authorization response of a provider
/// configured with `response_mode = "form_post"` (405 for any other).
pub(super) async fn callback_form(
    State(shared): State<Arc<Shared>>,
    params: RawPathParams,
    req: AxumRequest,
) -> AxumResponse {
    run_callback(&shared, &params, req, true).await
}

/// Both callbacks: the authorization response from the query or, `posted`, from a form body;
/// then the same flow.
async fn run_callback(
    shared: &Shared,
    path: &RawPathParams,
    req: AxumRequest,
    posted: bool,
) -> AxumResponse {
    let req = buffered(req).await;
    let result = async {
        let provider = provider(shared, path)?;
        let params = if !posted {
            CallbackParams::from_request(&req, shared.cookies())?
        } else if provider.config.response_mode == ResponseMode::FormPost {
            CallbackParams::from_form(&req, shared.cookies())?
        } else {
            return Err(ApiError::MethodNotAllowed);
        };
        callback::complete(shared.deps(), shared.settings(), provider, params).await
    }
    .await;
    callback_response(shared, &req, result).await
}

/// The callback's answer: the session cookie and `return_to`, or the redirect the flow chose,
/// the transaction cookie cleared either way; or the contract's error.
async fn callback_response(
    shared: &Shared,
    req: &Request,
    result: Result<Outcome, ApiError>,
) -> AxumResponse {
    let cookies = shared.cookies();
    into_axum(match result {
        Ok(Outcome::SignedIn {
            session_id,
            return_to,
        }) => {
            // The browser's previous session (if any) is replaced by the new cookie: end it
            // rather than leave its tokens at rest until it expires.
            if let Some(old) = cookie(req, cookies.session_name()).filter(|c| is_token_shaped(c))
                && let Err(e) = shared.deps().store.delete_session(&session_key(old)).await
            {
                tracing::warn!(error = %e, "could not delete the replaced session");
            }
            let mut resp = redirect(&return_to.location());
            let ttl = shared.settings().session_ttl;
            add_cookie(
                &mut resp,
                &cookies.set(cookies.session_name(), session_id.expose(), ttl),
            );
            add_cookie(&mut resp, &cookies.clear(cookies.tx_name()));
            resp
        }
        Ok(Outcome::Redirect(location)) => {
            let mut resp = redirect(&location);
            add_cookie(&mut resp, &cookies.clear(cookies.tx_name()));
            resp
        }
        Err(ApiError::MethodNotAllowed) => {
            let mut resp = ApiError::MethodNotAllowed.response();
            resp.headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
            resp
        }
        Err(e) => e.response(),
    })
}

/// `POST /auth/refresh`
pub(super) async fn refresh(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let origin = allowed_origin(&req, &shared.config().allowed_origins);
    let result = async {
        let request = RefreshRequest::from_request(&req, shared.config(), shared.cookies())?;
        let deps = shared.deps();
        let lambda_deadline = req.lambda_context_ref().map(|ctx| ctx.deadline);
        let deadline = Deadline::for_request(deps.clock, REQUEST_BUDGET, lambda_deadline);
        refresh::access_token(
            deps,
            shared.settings(),
            shared.providers(),
            &request.session_key,
            request.force,
            deadline,
        )
        .await
    }
    .await;
    let mut resp = match result {
        Ok(issued) => json_response(
            StatusCode::OK,
            &json!({
                "access_token": issued.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope.unwrap_or_default(),
            }),
        ),
        Err(e) => e.response(),
    };
    add_cors(&mut resp, origin);
    into_axum(resp)
}

/// `ANY /api/{api}/{path}`
pub(super) async fn proxy(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let config = shared.config();
    let origin = allowed_origin(&req, &config.allowed_origins);
    let api = proxy::api_for(config, req.uri().path());
    if req.method() == http::Method::OPTIONS {
        let methods = api.map(|api| api.methods.as_slice()).unwrap_or_default();
        return into_axum(proxy_preflight(origin, methods));
    }
    let result = async {
        let api = api?;
        let request = ProxyRequest::from_request(&req, api, config, shared.cookies())?;
        let deps = shared.deps();
        let lambda_deadline = req.lambda_context_ref().map(|ctx| ctx.deadline);
        let deadline = Deadline::for_request(deps.clock, REQUEST_BUDGET, lambda_deadline);
        proxy::call(
            deps,
            shared.settings(),
            shared.providers(),
            api,
            request,
            deadline,
        )
        .await
    }
    .await;
    let mut resp = match result {
        Ok(answer) => {
            let body = match String::from_utf8(answer.body) {
                Ok(text) if text.is_empty() => lambda_http::Body::Empty,
                Ok(text) => lambda_http::Body::Text(text),
                Err(binary) => lambda_http::Body::Binary(binary.into_bytes()),
            };
            let mut resp = http::Response::new(body);
            *resp.status_mut() = answer.status;
            *resp.headers_mut() = answer.headers;
            resp
        }
        Err(ApiError::MethodNotAllowed) => {
            let mut resp = ApiError::MethodNotAllowed.response();
            let methods = api.map(|api| api.methods.as_slice()).unwrap_or_default();
            let allowed: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
            if let Ok(value) = http::HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(http::header::ALLOW, value);
            }
            resp
        }
        Err(e) => e.response(),
    };
    add_cors(&mut resp, origin);
    into_axum(resp)
}

/// `GET /auth/session`
pub(super) async fn session(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let origins = &shared.config().allowed_origins;
    let result = async {
        let (key, _) = authenticate(&req, shared.cookies(), origins, false)?;
        session::info(shared.deps(), &key).await
    }
    .await;
    let mut resp = match result {
        Ok(s) => json_response(
            StatusCode::OK,
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
    add_cors(&mut resp, allowed_origin(&req, origins));
    into_axum(resp)
}

/// `POST /auth/logout`
pub(super) async fn logout(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let origins = &shared.config().allowed_origins;
    let cookies = shared.cookies();
    let result = async {
        let (key, _) = authenticate(&req, cookies, origins, true)?;
        session::logout(shared.deps(), shared.providers(), &key).await
    }
    .await;
    let mut resp = match result {
        Ok(url) => {
            let mut body = json!({"logged_out": true});
            if let Some(url) = url {
                body["end_session_url"] = json!(url);
            }
            let mut resp = json_response(StatusCode::OK, &body);
            add_cookie(&mut resp, &cookies.clear(cookies.session_name()));
            resp
        }
        Err(e) => e.response(),
    };
    add_cors(&mut resp, allowed_origin(&req, origins));
    into_axum(resp)
}

/// `POST /auth/token`
pub(super) async fn token(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let result = async {
        let redemption = Redemption::from_request(&req)?;
        handoff::redeem(shared.deps(), redemption).await
    }
    .await;
    session_token_response(result)
}

/// `POST /auth/{provider}/native`: the bearer session for a provider SDK's credential; never a
/// cookie.
pub(super) async fn native(
    State(shared): State<Arc<Shared>>,
    params: RawPathParams,
    req: AxumRequest,
) -> AxumResponse {
    let req = buffered(req).await;
    let result = async {
        let provider = provider(&shared, &params)?;
        let credential = Credential::from_request(&req)?;
        native::sign_in(shared.deps(), shared.settings(), provider, credential).await
    }
    .await;
    session_token_response(result)
}

/// A new bearer session (`/auth/token`, `/auth/{provider}/native`), or the contract's error.
fn session_token_response(result: Result<handoff::Redeemed, ApiError>) -> AxumResponse {
    into_axum(match result {
        Ok(r) => json_response(
            StatusCode::OK,
            &json!({
                "session_token": r.session_token.expose(),
                "token_type": "Bearer",
                "expires_in": r.expires_in,
            }),
        ),
        Err(e) => e.response(),
    })
}

/// `POST /auth/{provider}/backchannel-logout`: 200 with an empty body, or the contract's error
/// (an invalid or replayed logout token is `invalid_request`). Server to server: no cookies,
/// no CORS.
pub(super) async fn backchannel_logout(
    State(shared): State<Arc<Shared>>,
    params: RawPathParams,
    req: AxumRequest,
) -> AxumResponse {
    let req = buffered(req).await;
    let result = async {
        let provider = provider(&shared, &params)?;
        let notice = LogoutNotice::from_request(&req)?;
        backchannel::end_sessions(shared.deps(), provider, notice).await
    }
    .await;
    into_axum(match result {
        Ok(_) => {
            let mut resp = crate::edge::Response::new(lambda_http::Body::Empty);
            resp.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => e.response(),
    })
}

/// `GET /auth/health`
pub(super) async fn health(State(shared): State<Arc<Shared>>, req: AxumRequest) -> AxumResponse {
    let req = buffered(req).await;
    let result = async {
        let depth = health::Depth::from_request(&req)?;
        health::check(shared.deps(), depth).await
    }
    .await;
    into_axum(match result {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Err(e) => e.response(),
    })
}
