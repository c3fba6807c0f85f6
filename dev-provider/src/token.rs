//! `/token`: client authentication, the authorization_code and refresh_token grants, and the
//! token-endpoint faults of [`crate::Behavior`].

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::util::{
    form_decode, json_no_store, no_store_headers, now_unix, oauth_error, random_token,
    s256_challenge, secure_eq, single, single_nonempty, valid_code_verifier,
};
use crate::{AccessGrant, Behavior, Client, DevProvider, Grant};

/// Default `expires_in` of access tokens.
const ACCESS_TOKEN_LIFETIME: u64 = 3600;
/// Default id_token lifetime.
const ID_TOKEN_LIFETIME: i64 = 300;
/// Size of the `padding` field of `Behavior::token_oversize` responses.
const OVERSIZE_PADDING: usize = 2 * 1024 * 1024;

/// The HTTP Basic credentials in `Authorization`, if that header uses the Basic scheme.
/// `Err` if the header is present but unusable.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or("malformed Authorization header")?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("Authorization header must use the Basic scheme");
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or("Basic credentials have no ':'")?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// The client-authentication method a request attempts, for [`crate::Stats::last_client_auth`].
pub(crate) fn auth_method(headers: &HeaderMap, form: &[(String, String)]) -> Option<String> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if basic {
        Some("client_secret_basic".into())
    } else if form.iter().any(|(k, _)| k == "client_secret") {
        Some("client_secret_post".into())
    } else {
        None
    }
}

/// An OAuth error answer of the token (and revocation) endpoint.
#[derive(Debug)]
pub(crate) struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let mut resp = oauth_error(self.status, self.error, &self.description);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"dev-provider\""),
            );
        }
        resp
    }
}

/// Authenticates the client by HTTP Basic (RFC 6749 §2.3.1, components form-urlencoded) or
/// by `client_id` + `client_secret` form fields; using both at once is an error.
pub(crate) fn authenticate(
    p: &DevProvider,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Client, TokenError> {
    let form_id = single_nonempty(form, "client_id").map_err(TokenError::invalid_request)?;
    let form_secret = single(form, "client_secret").map_err(TokenError::invalid_request)?;
    let (client_id, secret) =
        match basic_credentials(headers).map_err(TokenError::invalid_client)? {
            Some((id, secret)) => {
                if form_secret.is_some() {
                    return Err(TokenError::invalid_request(
                        "use one client authentication method, not both Basic and client_secret",
                    ));
                }
                if form_id.is_some_and(|f| f != id) {
                    return Err(TokenError::invalid_client(
                        "client_id in the form differs from the Basic credentials",
                    ));
                }
                (id, secret)
            }
            None => match (form_id, form_secret) {
                (Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
                _ => {
                    return Err(TokenError::invalid_client(
                        "client authentication is missing",
                    ));
                }
            },
        };
    match p.client(&client_id) {
        Some(c) if secure_eq(&c.client_secret, &secret) => Ok(c.clone()),
        _ => Err(TokenError::invalid_client(
            "unknown client or wrong client secret",
        )),
    }
}

/// Content type of a `Behavior::token_error` body.
fn guess_content_type(body: &str) -> &'static str {
    if serde_json::from_str::<Value>(body).is_ok() {
        "application/json"
    } else if body.trim_start().starts_with('<') {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// The configured token-endpoint fault, if any (after the delay has been served).
fn injected_fault(b: &Behavior) -> Option<Response> {
    if let Some((status, body)) = &b.token_error {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut headers = no_store_headers();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(guess_content_type(body)),
        );
        return Some((status, headers, body.clone()).into_response());
    }
    if let Some(location) = &b.token_redirect_to {
        let mut headers = no_store_headers();
        if let Ok(v) = HeaderValue::from_str(location) {
            headers.insert(header::LOCATION, v);
        }
        return Some((StatusCode::FOUND, headers).into_response());
    }
    if b.token_oversize {
        let body = json!({
            "access_token": random_token(32),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "padding": "A".repeat(OVERSIZE_PADDING),
        });
        return Some(json_no_store(StatusCode::OK, &body));
    }
    None
}

/// `POST /token`.
pub(crate) async fn token(
    State(p): State<DevProvider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = crate::util::parse_form(&body);
    let grant_type = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let behavior = {
        let mut st = p.lock();
        let stats = &mut st.stats;
        match grant_type.as_str() {
            "authorization_code" => stats.authorization_code_grants += 1,
            "refresh_token" => stats.refresh_token_grants += 1,
            _ => {}
        }
        stats.refresh_tokens_received.extend(
            form.iter()
                .filter(|(k, _)| k == "refresh_token")
                .map(|(_, v)| v.clone()),
        );
        stats.last_client_auth = auth_method(&headers, &form);
        stats.last_token_form = form
            .iter()
            .filter(|(k, _)| k != "client_secret")
            .cloned()
            .collect();
        st.behavior.clone()
    };

    if let Some(ms) = behavior.token_delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(resp) = injected_fault(&behavior) {
        return resp;
    }

    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    for (k, _) in &form {
        if single(&form, k).is_err() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("parameter {k} is repeated"),
            );
        }
    }
    let client = match authenticate(&p, &headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let result = match grant_type.as_str() {
        "authorization_code" => code_grant(&p, &client, &form, &behavior),
        "refresh_token" => refresh_grant(&p, &client, &form, &behavior),
        "" => Err(TokenError::invalid_request("grant_type is missing")),
        other => Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported"),
        )),
    };
    match result {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    single_nonempty(form, name).ok().flatten()
}

fn code_grant(
    p: &DevProvider,
    client: &Client,
    form: &[(String, String)],
    behavior: &Behavior,
) -> Result<Value, TokenError> {
    let Some(code) = param(form, "code") else {
        return Err(TokenError::invalid_request("code is missing"));
    };
    // The code is consumed whatever happens next.
    let pending = p.lock().codes.remove(code);
    let Some(pending) = pending else {
        return Err(TokenError::invalid_grant("unknown or already used code"));
    };
    if pending.expires <= Instant::now() {
        return Err(TokenError::invalid_grant("code expired"));
    }
    if pending.grant.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if param(form, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return Err(TokenError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match param(form, "code_verifier") {
        Some(v) if valid_code_verifier(v) && s256_challenge(v) == pending.code_challenge => {}
        Some(_) => return Err(TokenError::invalid_grant("PKCE verification failed")),
        None => return Err(TokenError::invalid_grant("code_verifier is missing")),
    }
    issue_tokens(
        p,
        client,
        &pending.grant,
        pending.nonce.as_deref(),
        behavior,
        None,
    )
}

fn refresh_grant(
    p: &DevProvider,
    client: &Client,
    form: &[(String, String)],
    behavior: &Behavior,
) -> Result<Value, TokenError> {
    let Some(presented) = param(form, "refresh_token") else {
        return Err(TokenError::invalid_request("refresh_token is missing"));
    };
    let grant = {
        let mut st = p.lock();
        match st.refresh_tokens.get(presented) {
            Some(g) if g.client_id == client.client_id => {}
            Some(_) => {
                return Err(TokenError::invalid_grant(
                    "refresh token was issued to another client",
                ));
            }
            None => {
                return Err(TokenError::invalid_grant(
                    "unknown, rotated or revoked refresh token",
                ));
            }
        }
        let keep_old = behavior.omit_refresh_token_on_refresh || behavior.no_rotation;
        if keep_old {
            st.refresh_tokens.get(presented).cloned()
        } else {
            st.refresh_tokens.remove(presented)
        }
    };
    let Some(grant) = grant else {
        return Err(TokenError::invalid_grant("unknown refresh token"));
    };
    let refresh = if behavior.omit_refresh_token_on_refresh {
        RefreshOut::Omit
    } else if behavior.no_rotation {
        RefreshOut::Same(presented.to_string())
    } else {
        RefreshOut::New
    };
    issue_tokens(p, client, &grant, None, behavior, Some(refresh))
}

/// What the refresh grant does with the refresh token.
enum RefreshOut {
    Omit,
    Same(String),
    New,
}

/// Issues access token, refresh token and id_token for `grant`. `refresh` is `None` for the
/// authorization_code grant (always a new refresh token).
fn issue_tokens(
    p: &DevProvider,
    client: &Client,
    grant: &Grant,
    nonce: Option<&str>,
    behavior: &Behavior,
    refresh: Option<RefreshOut>,
) -> Result<Value, TokenError> {
    let expires_in = behavior
        .access_token_expires_in
        .unwrap_or(ACCESS_TOKEN_LIFETIME);
    let access_token = random_token(32);
    let refresh_token = match refresh {
        None | Some(RefreshOut::New) => Some(random_token(32)),
        Some(RefreshOut::Same(t)) => Some(t),
        Some(RefreshOut::Omit) => None,
    };
    let (key, next_key) = {
        let mut st = p.lock();
        let now = Instant::now();
        st.access_tokens.retain(|_, a| a.expires > now);
        st.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                client_id: client.client_id.clone(),
                identity: grant.identity.clone(),
                expires: now + Duration::from_secs(expires_in),
            },
        );
        if let Some(t) = &refresh_token {
            st.refresh_tokens.insert(t.clone(), grant.clone());
        }
        (st.key.clone(), st.next_key.clone())
    };

    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(expires_in));
    if let Some(t) = refresh_token {
        body.insert("refresh_token".into(), json!(t));
    }
    if !behavior.omit_id_token {
        let claims = id_token_claims(p, client, grant, nonce, behavior);
        let id_token =
            crate::keys::mint_id_token(&claims, behavior, &key, &next_key, &client.client_secret)
                .map_err(|e| {
                tracing::error!(error = %e, "dev provider: cannot sign id_token");
                TokenError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e)
            })?;
        p.lock().stats.issued_id_tokens.push(id_token.clone());
        body.insert("id_token".into(), json!(id_token));
    }
    if !grant.scope.is_empty() {
        body.insert("scope".into(), json!(grant.scope));
    }
    Ok(Value::Object(body))
}

fn id_token_claims(
    p: &DevProvider,
    client: &Client,
    grant: &Grant,
    nonce: Option<&str>,
    b: &Behavior,
) -> Map<String, Value> {
    let now = now_unix();
    let id = &grant.identity;
    let mut c = Map::new();
    c.insert(
        "iss".into(),
        json!(b.id_token_iss.clone().unwrap_or_else(|| p.issuer())),
    );
    c.insert(
        "sub".into(),
        json!(b.id_token_sub.clone().unwrap_or_else(|| id.subject.clone())),
    );
    c.insert(
        "aud".into(),
        json!(
            b.id_token_aud
                .clone()
                .unwrap_or_else(|| client.client_id.clone())
        ),
    );
    if let Some(azp) = &b.id_token_azp {
        c.insert("azp".into(), json!(azp));
    }
    c.insert(
        "exp".into(),
        json!(now.saturating_add(b.id_token_exp_offset.unwrap_or(ID_TOKEN_LIFETIME))),
    );
    c.insert(
        "iat".into(),
        json!(now.saturating_add(b.id_token_iat_offset.unwrap_or(0))),
    );
    if let Some(off) = b.id_token_nbf_offset {
        c.insert("nbf".into(), json!(now.saturating_add(off)));
    }
    c.insert("auth_time".into(), json!(grant.auth_time));
    c.insert("sid".into(), json!(grant.sid));
    if let Some(n) = b.id_token_nonce.as_deref().or(nonce) {
        c.insert("nonce".into(), json!(n));
    }
    c.insert("name".into(), json!(id.name));
    c.insert("email".into(), json!(id.email));
    c.insert("email_verified".into(), json!(true));
    c.insert(
        "picture".into(),
        json!(format!("https://example.com/{}.png", id.subject)),
    );
    c
}
