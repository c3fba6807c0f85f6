//! `/authorize`: request validation, the sign-in page, and issuing authorization codes.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::util::{random_token, single, single_nonempty, valid_s256_challenge};
use crate::{DevProvider, Grant, Identity, PendingCode, html};

/// How long an authorization code stays usable.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Form fields of the sign-in page that are not authorization request parameters.
const FORM_FIELDS: [&str; 4] = ["subject", "name", "email", "action"];

/// A validated authorization request.
#[derive(Debug)]
pub(crate) struct AuthzRequest {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
}

/// Why an authorization request was rejected.
#[derive(Debug)]
pub(crate) enum AuthzError {
    /// The client or its redirect_uri cannot be trusted: show an error page, never redirect.
    Page(String),
    /// Anything else: reported to the client through its (validated) redirect_uri.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl AuthzError {
    fn describe(&self) -> String {
        match self {
            AuthzError::Page(msg) => msg.clone(),
            AuthzError::Redirect {
                error, description, ..
            } => format!("{error}: {description}"),
        }
    }
}

/// Validates an authorization request exactly as `GET /authorize` does.
pub(crate) fn validate(
    p: &DevProvider,
    params: &[(String, String)],
) -> Result<AuthzRequest, AuthzError> {
    let client_id = single_nonempty(params, "client_id")
        .map_err(AuthzError::Page)?
        .ok_or_else(|| AuthzError::Page("client_id is missing".into()))?;
    let client = p
        .client(client_id)
        .ok_or_else(|| AuthzError::Page(format!("unknown client_id {client_id:?}")))?;
    let redirect_uri = single_nonempty(params, "redirect_uri")
        .map_err(AuthzError::Page)?
        .ok_or_else(|| AuthzError::Page("redirect_uri is missing".into()))?;
    let parsed = Url::parse(redirect_uri).map_err(|e| {
        AuthzError::Page(format!(
            "redirect_uri {redirect_uri:?} is not an absolute URL: {e}"
        ))
    })?;
    if client.redirect_uris.is_empty() {
        if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
            return Err(AuthzError::Page(format!(
                "redirect_uri {redirect_uri:?} must be an http(s) URL without fragment"
            )));
        }
    } else if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(AuthzError::Page(format!(
            "redirect_uri {redirect_uri:?} is not registered for client {client_id:?}"
        )));
    }

    // From here on, errors go back to the client.
    let state = single_nonempty(params, "state").ok().flatten();
    let fail = |error: &'static str, description: String| AuthzError::Redirect {
        redirect_uri: redirect_uri.to_string(),
        state: state.map(str::to_string),
        error,
        description,
    };
    for (k, _) in params {
        if single(params, k).is_err() {
            return Err(fail(
                "invalid_request",
                format!("parameter {k} is repeated"),
            ));
        }
    }
    match single(params, "response_type").ok().flatten() {
        Some("code") => {}
        Some(other) => {
            return Err(fail(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => return Err(fail("invalid_request", "response_type is missing".into())),
    }
    let Some(state) = state else {
        return Err(fail("invalid_request", "state is missing".into()));
    };
    let scope = single(params, "scope").ok().flatten().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("invalid_scope", "scope must include openid".into()));
    }
    match single(params, "code_challenge_method").ok().flatten() {
        Some("S256") => {}
        Some(other) => {
            return Err(fail(
                "invalid_request",
                format!("code_challenge_method {other:?} is not supported; use S256"),
            ));
        }
        None => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method is missing; use S256".into(),
            ));
        }
    }
    let code_challenge = match single(params, "code_challenge").ok().flatten() {
        Some(c) if valid_s256_challenge(c) => c,
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 value".into(),
            ));
        }
        None => return Err(fail("invalid_request", "code_challenge is missing".into())),
    };
    let nonce = single_nonempty(params, "nonce").ok().flatten();
    Ok(AuthzRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: state.to_string(),
        nonce: nonce.map(str::to_string),
        code_challenge: code_challenge.to_string(),
        scope: scope.to_string(),
    })
}

/// Builds the authorization response URL: `redirect_uri` plus `pairs` plus `iss` (subject to
/// `Behavior::authorize_iss`).
fn response_url(p: &DevProvider, redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let iss = match p.behavior().authorize_iss {
        None => Some(p.issuer()),
        Some(over) => over,
    };
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
                if let Some(iss) = &iss {
                    q.append_pair("iss", iss);
                }
            }
            url.to_string()
        }
        // Validation only lets absolute URLs through, so this is not reached.
        Err(_) => redirect_uri.to_string(),
    }
}

fn error_url(
    p: &DevProvider,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    response_url(p, redirect_uri, &pairs)
}

/// Stores a fresh code for `req` and `identity`; returns the success redirect URL.
fn issue_code(p: &DevProvider, req: AuthzRequest, identity: Identity) -> String {
    let code = random_token(32);
    {
        let mut st = p.lock();
        let now = Instant::now();
        st.codes.retain(|_, c| c.expires > now);
        st.codes.insert(
            code.clone(),
            PendingCode {
                grant: Grant {
                    client_id: req.client_id,
                    identity,
                    scope: req.scope,
                    auth_time: crate::util::now_unix(),
                    sid: crate::util::random_token(16),
                },
                redirect_uri: req.redirect_uri.clone(),
                code_challenge: req.code_challenge,
                nonce: req.nonce,
                expires: now + CODE_LIFETIME,
            },
        );
    }
    response_url(
        p,
        &req.redirect_uri,
        &[("code", &code), ("state", &req.state)],
    )
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => html::error_page(
            StatusCode::BAD_REQUEST,
            "redirect URL is not a valid header",
        ),
    }
}

fn reject(p: &DevProvider, err: AuthzError) -> Response {
    match err {
        AuthzError::Page(msg) => html::error_page(StatusCode::BAD_REQUEST, &msg),
        AuthzError::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => found(&error_url(
            p,
            &redirect_uri,
            state.as_deref(),
            error,
            &description,
        )),
    }
}

/// `GET /authorize`: validate, then show the sign-in page.
pub(crate) async fn get_authorize(
    State(p): State<DevProvider>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = crate::util::parse_form(query.unwrap_or_default().as_bytes());
    match validate(&p, &params) {
        Ok(req) => {
            let carried: Vec<(String, String)> = params
                .into_iter()
                .filter(|(k, _)| !FORM_FIELDS.contains(&k.as_str()))
                .collect();
            html::sign_in_page(&req.client_id, &carried)
        }
        Err(e) => reject(&p, e),
    }
}

/// `POST /authorize`: the sign-in form was submitted (approve or deny).
pub(crate) async fn post_authorize(State(p): State<DevProvider>, body: Bytes) -> Response {
    let all = crate::util::parse_form(&body);
    let (fields, params): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(k, _)| FORM_FIELDS.contains(&k.as_str()));
    let req = match validate(&p, &params) {
        Ok(req) => req,
        Err(e) => return reject(&p, e),
    };
    let field = |name: &str| {
        single(&fields, name)
            .ok()
            .flatten()
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    match field("action").as_str() {
        "approve" => {
            let subject = field("subject");
            if subject.is_empty() {
                return html::error_page(StatusCode::BAD_REQUEST, "subject must not be empty");
            }
            let identity = Identity {
                name: field("name"),
                email: field("email"),
                subject,
            };
            tracing::info!(client_id = %req.client_id, subject = %identity.subject, "dev provider: sign-in approved");
            found(&issue_code(&p, req, identity))
        }
        "deny" => found(&error_url(
            &p,
            &req.redirect_uri,
            Some(&req.state),
            "access_denied",
            "the user denied the sign-in",
        )),
        _ => html::error_page(StatusCode::BAD_REQUEST, "action must be approve or deny"),
    }
}

/// See [`DevProvider::approve`].
pub(crate) fn approve(
    p: &DevProvider,
    authorization_url: &str,
    subject: &str,
) -> Result<String, String> {
    let url = Url::parse(authorization_url)
        .map_err(|e| format!("authorization URL {authorization_url:?} does not parse: {e}"))?;
    let mut endpoint = url.clone();
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    let expected = p.endpoint("/authorize");
    let expected_norm = Url::parse(&expected)
        .map(|u| u.to_string())
        .unwrap_or(expected);
    if endpoint.as_str() != expected_norm {
        return Err(format!(
            "authorization URL points at {endpoint}, not at this provider's {expected_norm}"
        ));
    }
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let req = validate(p, &params).map_err(|e| e.describe())?;
    if subject.is_empty() {
        return Err("subject must not be empty".into());
    }
    let mut chars = subject.chars();
    let capitalized: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let identity = Identity {
        subject: subject.to_string(),
        name: format!("{capitalized} Example"),
        email: format!("{subject}@example.com"),
    };
    Ok(issue_code(p, req, identity))
}
