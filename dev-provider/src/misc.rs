//! Discovery, JWKS, userinfo, revocation and end-session endpoints.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::util::{json_no_store, oauth_error, parse_form, single_nonempty};
use crate::{DevProvider, html};

/// `GET /.well-known/openid-configuration`, after the configured delay, or the configured
/// error status.
pub(crate) async fn discovery(State(p): State<DevProvider>) -> Response {
    let (delay, error) = {
        let mut st = p.lock();
        st.stats.discovery_requests += 1;
        (st.behavior.discovery_delay_ms, st.behavior.discovery_error)
    };
    if let Some(ms) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(status) = error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (status, Json(json!({"error": "temporarily_unavailable"}))).into_response();
    }
    Json(json!({
        "issuer": p.issuer(),
        "authorization_endpoint": p.endpoint("/authorize"),
        "token_endpoint": p.endpoint("/token"),
        "userinfo_endpoint": p.endpoint("/userinfo"),
        "jwks_uri": p.endpoint("/jwks"),
        "revocation_endpoint": p.endpoint("/revoke"),
        "end_session_endpoint": p.endpoint("/end-session"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
            "name", "email", "email_verified", "picture"
        ],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// `GET /jwks`: only the current signing key, after the configured delay and with the
/// configured `Cache-Control`.
pub(crate) async fn jwks(State(p): State<DevProvider>) -> Response {
    let (delay, cache_control) = {
        let mut st = p.lock();
        st.stats.jwks_requests += 1;
        (
            st.behavior.jwks_delay_ms,
            st.behavior.jwks_cache_control.clone(),
        )
    };
    if let Some(ms) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    // The key served is the one current when the answer is sent.
    let jwk = p.lock().key.jwk();
    let mut resp = Json(json!({ "keys": [jwk] })).into_response();
    if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    resp
}

fn invalid_token(description: &str) -> Response {
    let mut resp = json_no_store(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": "invalid_token", "error_description": description }),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    resp
}

/// `GET|POST /userinfo` with `Authorization: Bearer <access_token>`.
pub(crate) async fn userinfo(State(p): State<DevProvider>, headers: HeaderMap) -> Response {
    let behavior = {
        let mut st = p.lock();
        st.stats.userinfo_requests += 1;
        st.behavior.clone()
    };
    if let Some(status) = behavior.userinfo_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return json_no_store(
            status,
            &json!({ "error": "server_error", "error_description": "injected userinfo failure" }),
        );
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return invalid_token("a Bearer access token is required");
    };
    let identity = {
        let st = p.lock();
        st.access_tokens
            .get(token)
            .filter(|a| a.expires > Instant::now())
            .map(|a| a.identity.clone())
    };
    match identity {
        Some(id) => json_no_store(
            StatusCode::OK,
            &json!({
                "sub": id.subject,
                "name": id.name,
                "email": id.email,
                "email_verified": true,
                "picture": format!("https://example.com/{}.png", id.subject),
            }),
        ),
        None => invalid_token("unknown, expired or revoked access token"),
    }
}

/// `POST /revoke` (RFC 7009): records the token, authenticates the client, and invalidates
/// the token if it is a refresh or access token of that client. Unknown tokens still get 200.
pub(crate) async fn revoke(
    State(p): State<DevProvider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone());
    if let Some(t) = &token {
        p.lock().stats.revoked_tokens.push(t.clone());
    }
    let client = match crate::token::authenticate(&p, &headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(token) = single_nonempty(&form, "token").ok().flatten() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "exactly one token parameter is required",
        );
    };
    let mut st = p.lock();
    if st
        .refresh_tokens
        .get(token)
        .is_some_and(|g| g.client_id == client.client_id)
    {
        st.refresh_tokens.remove(token);
    }
    if st
        .access_tokens
        .get(token)
        .is_some_and(|a| a.client_id == client.client_id)
    {
        st.access_tokens.remove(token);
    }
    (StatusCode::OK, crate::util::no_store_headers()).into_response()
}

/// `GET /end-session`: a plain "signed out" page; links to `post_logout_redirect_uri` (only
/// if it is an http(s) URL) but never redirects.
pub(crate) async fn end_session(RawQuery(query): RawQuery) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    let target = params
        .iter()
        .find(|(k, _)| k == "post_logout_redirect_uri")
        .map(|(_, v)| v.as_str())
        .filter(|v| url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
    html::signed_out_page(target)
}
