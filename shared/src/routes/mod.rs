//! The route table: one axum [`Router`] per Lambda function (each mounts only its own routes;
//! the local runner mounts them all), with unknown routes and methods answered through the
//! contract's error mapping. Handlers, in `handlers`, turn a request into a typed one, run the
//! flow and shape the response.

mod handlers;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request as AxumRequest;
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::{HeaderValue, Method, header};
use lambda_http::Body;
use tower::ServiceExt;
use tracing::Instrument;

use crate::app::Shared;
use crate::edge::{ApiError, Request, Response, finish};
use crate::events::{self, EventLog, MAX_METHOD, MAX_PATH, MAX_USER_AGENT, truncated};

/// Which Lambda function is running; each answers only its own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `GET /auth/{provider}/login`
    Login,
    /// `GET /auth/{provider}/callback`, `POST /auth/{provider}/callback` (form_post)
    Callback,
    /// `POST /auth/refresh`
    Refresh,
    /// `GET /auth/session`, `POST /auth/logout`, `POST /auth/token`,
    /// `POST /auth/{provider}/backchannel-logout`, `POST /auth/{provider}/native`,
    /// `GET /auth/health`
    Session,
    /// `ANY /api/{api}/{path}`
    Proxy,
    /// Everything (the local runner).
    All,
}

impl Function {
    /// How many there are.
    pub const COUNT: usize = 6;

    /// The function's name in events and metrics (`all` for the local runner).
    pub fn name(self) -> &'static str {
        match self {
            Function::Login => "login",
            Function::Callback => "callback",
            Function::Refresh => "refresh",
            Function::Session => "session",
            Function::Proxy => "proxy",
            Function::All => "all",
        }
    }

    fn serves(self, other: Function) -> bool {
        self == Function::All || self == other
    }
}

/// One route of the contract: its path (API Gateway's template syntax), its methods and the
/// function that serves it. [`router`] is built from [`ROUTES`], so this table is what is served
/// (and what `openapi.yaml` is checked against).
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// The function that serves it.
    pub function: Function,
    /// The path as API Gateway writes it (`{provider}`, `{proxy+}`).
    pub path: &'static str,
    /// The methods it answers (besides `OPTIONS`, the CORS preflight); `ANY` for every one.
    pub methods: &'static [&'static str],
}

/// Every route, by function.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        function: Function::Login,
        path: "/auth/{provider}/login",
        methods: &["GET"],
    },
    RouteSpec {
        function: Function::Callback,
        path: "/auth/{provider}/callback",
        methods: &["GET", "POST"],
    },
    RouteSpec {
        function: Function::Refresh,
        path: "/auth/refresh",
        methods: &["POST"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/session",
        methods: &["GET"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/logout",
        methods: &["POST"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/token",
        methods: &["POST"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/{provider}/backchannel-logout",
        methods: &["POST"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/{provider}/native",
        methods: &["POST"],
    },
    RouteSpec {
        function: Function::Session,
        path: "/auth/health",
        methods: &["GET"],
    },
    RouteSpec {
        function: Function::Proxy,
        path: "/api/{api}/{proxy+}",
        methods: &["ANY"],
    },
];

/// The routes `function` answers.
pub fn router(shared: Arc<Shared>, function: Function) -> Router {
    let mut router = Router::new();
    for spec in ROUTES.iter().filter(|r| function.serves(r.function)) {
        router = match spec.path {
            "/auth/{provider}/login" => {
                router.route("/auth/{provider}/login", only(Method::GET, handlers::login))
            }
            "/auth/{provider}/callback" => {
                // POST only for form_post providers (Sign in with Apple); the handler says 405
                // else.
                let callback = on(MethodFilter::GET, handlers::callback)
                    .on(MethodFilter::POST, handlers::callback_form);
                router.route(spec.path, with_preflight(callback, "GET, POST"))
            }
            "/auth/refresh" => router.route(spec.path, only(Method::POST, handlers::refresh)),
            "/auth/session" => router.route(spec.path, only(Method::GET, handlers::session)),
            "/auth/logout" => router.route(spec.path, only(Method::POST, handlers::logout)),
            "/auth/token" => router.route(spec.path, only(Method::POST, handlers::token)),
            "/auth/health" => router.route(spec.path, only(Method::GET, handlers::health)),
            "/auth/{provider}/backchannel-logout" => {
                router.route(spec.path, only(Method::POST, handlers::backchannel_logout))
            }
            "/auth/{provider}/native" => {
                router.route(spec.path, only(Method::POST, handlers::native))
            }
            // Every method: which ones an API allows is its configuration's business (405
            // there); the handler answers OPTIONS as a preflight. As API Gateway's `{proxy+}`,
            // the rest of the path must not be empty.
            "/api/{api}/{proxy+}" => {
                router.route("/api/{api}/{*path}", axum::routing::any(handlers::proxy))
            }
            other => unreachable!("ROUTES names {other}, which has no handler"),
        };
    }
    router
        .fallback(|| async { ApiError::NotFound.into_response() })
        .with_state(shared)
}

/// A route that answers `method` with `handler`, `OPTIONS` with a CORS preflight, and every
/// other method (`HEAD` included) with 405 and `Allow: <method>`.
fn only<H, T>(method: Method, handler: H) -> MethodRouter<Arc<Shared>>
where
    H: axum::handler::Handler<T, Arc<Shared>>,
    T: 'static,
{
    let (filter, allow) = if method == Method::GET {
        (MethodFilter::GET, "GET")
    } else {
        (MethodFilter::POST, "POST")
    };
    with_preflight(on(filter, handler), allow)
}

/// `routes` plus `OPTIONS` as a CORS preflight and every other method (`HEAD` included) as
/// 405 with `Allow: <allow>`.
fn with_preflight(
    routes: MethodRouter<Arc<Shared>>,
    allow: &'static str,
) -> MethodRouter<Arc<Shared>> {
    let not_allowed = move || async move {
        let mut resp = ApiError::MethodNotAllowed.into_response();
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        resp
    };
    routes
        .on(MethodFilter::OPTIONS, handlers::preflight)
        .on(MethodFilter::HEAD, not_allowed)
        .fallback(not_allowed)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        into_axum(self.response())
    }
}

fn into_axum(resp: Response) -> axum::response::Response {
    let (parts, body) = resp.into_parts();
    axum::response::Response::from_parts(parts, to_axum_body(body))
}

/// lambda_http's body as axum's.
fn to_axum_body(body: Body) -> axum::body::Body {
    match body {
        Body::Text(t) => axum::body::Body::from(t),
        Body::Binary(b) => axum::body::Body::from(b),
        _ => axum::body::Body::empty(),
    }
}

/// axum's body as lambda_http's: text when it is UTF-8. Bodies are already in memory (API
/// Gateway delivers them in the event; the local runner caps and buffers them first).
async fn to_lambda_body(body: axum::body::Body) -> Option<Body> {
    let bytes = axum::body::to_bytes(body, usize::MAX).await.ok()?;
    Some(if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    })
}

/// Auth routes match the end of the path, so a stage (`/prod/auth/...`) or a custom domain's
/// base path in front does not matter; a trailing slash does not either. API routes
/// (`/api/{api}/...`, after at most one stage segment) keep the rest of the path exactly as it
/// came, percent-encoding and trailing slash included: it is the upstream's path. Returns the
/// route's own path, or `None` when the path names no route.
pub fn route_path(path: &str) -> Option<String> {
    let after_stage = |n: usize| path.splitn(n + 2, '/').nth(n + 1);
    for stage_segments in [0, 1] {
        let first = path.split('/').nth(stage_segments + 1);
        if first == Some("api")
            && let Some(rest) = after_stage(stage_segments + 1)
            && rest.contains('/')
        {
            return Some(format!("/api/{rest}"));
        }
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [
            ..,
            "auth",
            p,
            last @ ("login" | "callback" | "backchannel-logout" | "native"),
        ] => Some(format!("/auth/{p}/{last}")),
        [.., "auth", last] => Some(format!("/auth/{last}")),
        _ => None,
    }
}

/// Runs one request through `router`: its route's own path, a span with the request id and
/// route, the headers every answer carries, the body as lambda_http has it, and the request's
/// security event (and metrics) written to `events`.
pub async fn serve(
    router: &Router,
    req: Request,
    events: &EventLog,
    function: Function,
) -> Response {
    let started = Instant::now();
    let request_id = request_id(&req);
    let span =
        tracing::info_span!("request", request_id = %request_id, route = tracing::field::Empty);
    async move {
        let mut context = events::Context {
            request_id,
            function: function.name(),
            method: truncated(req.method().as_str(), MAX_METHOD),
            ..client(&req)
        };
        let preflight = req.method() == Method::OPTIONS;
        let mut route = events::Route::Quiet;
        let (mut parts, body) = req.into_parts();
        if let Some(path) = route_path(parts.uri.path()) {
            let name = route_name(&path);
            tracing::Span::current().record("route", name.as_str());
            route = name;
            context.path = logged_path(&path);
            let mut uri = http::uri::Parts::from(parts.uri.clone());
            let path_and_query = match parts.uri.query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            uri.path_and_query = path_and_query.parse().ok();
            if let Ok(rewritten) = http::Uri::from_parts(uri) {
                parts.uri = rewritten;
            }
        }
        let body = match body {
            Body::Text(t) => axum::body::Body::from(t),
            Body::Binary(b) => axum::body::Body::from(b),
            _ => axum::body::Body::empty(),
        };
        let answer = router.clone().oneshot(AxumRequest::from_parts(parts, body));
        let (resp, notes) = events::collect(async {
            match answer.await {
                Ok(resp) => from_axum(resp).await,
                Err(never) => match never {},
            }
        })
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(status = resp.status().as_u16(), elapsed_ms, "handled");
        context.status = Some(resp.status().as_u16());
        context.duration_ms = elapsed_ms;
        events.record(route, preflight, &context, &notes);
        finish(resp)
    }
    .instrument(span)
    .await
}

/// The route as events name it; health checks and unknown paths are not security events.
fn route_name(path: &str) -> events::Route {
    use events::Route;
    match path.rsplit('/').next() {
        _ if path.starts_with("/api/") => Route::Proxy,
        Some("login") => Route::Login,
        Some("callback") => Route::Callback,
        Some("refresh") => Route::Refresh,
        Some("session") => Route::Session,
        Some("logout") => Route::Logout,
        Some("token") => Route::Token,
        Some("backchannel-logout") => Route::BackchannelLogout,
        Some("native") => Route::Native,
        _ => Route::Quiet,
    }
}

/// The path an event records: an auth route's own path (it names the provider at most), or
/// `/api/{api}` for a proxied call, whose rest is the API's business and may identify things.
/// Either is the caller's text, so it is cut at [`MAX_PATH`] bytes.
fn logged_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/api/") {
        let api = rest.split('/').next().unwrap_or_default();
        return truncated(&format!("/api/{api}"), MAX_PATH);
    }
    truncated(path, MAX_PATH)
}

/// The client's address and `User-Agent`, from API Gateway's request context (the local runner
/// fills one in from the connection). `X-Forwarded-For` is never read: anyone can write it.
fn client(req: &Request) -> events::Context {
    use lambda_http::RequestExt;
    let (source_ip, api_request_id) = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
            (c.http.source_ip.clone(), c.request_id.clone())
        }
        _ => (
            req.extensions()
                .get::<events::ClientIp>()
                .map(|ip| ip.0.clone()),
            None,
        ),
    };
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncated(ua, MAX_USER_AGENT));
    events::Context {
        source_ip,
        api_request_id,
        user_agent,
        ..events::Context::default()
    }
}

/// An axum response as lambda_http's.
async fn from_axum(resp: axum::response::Response) -> Response {
    let (parts, body) = resp.into_parts();
    match to_lambda_body(body).await {
        Some(body) => http::Response::from_parts(parts, body),
        None => ApiError::Internal.response(),
    }
}

/// The id API Gateway or Lambda gave this request, or a fresh one.
fn request_id(req: &Request) -> String {
    use lambda_http::RequestExt;
    if let Some(ctx) = req.lambda_context_ref() {
        return ctx.request_id.clone();
    }
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
            c.request_id.clone().unwrap_or_default()
        }
        _ => crate::crypto::random_token(9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::store::memory::MemoryStore;

    fn app() -> App {
        let config = crate::config::sample();
        App::new(config, Arc::new(MemoryStore::new())).unwrap()
    }

    async fn call(app: &App, function: Function, method: &str, uri: &str) -> (u16, Response) {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("origin", "https://app.example.com")
            .body(Body::Empty)
            .unwrap();
        let resp = app.handle_for(function, req).await;
        (resp.status().as_u16(), resp)
    }

    fn error_code(resp: &Response) -> String {
        let Body::Text(text) = resp.body() else {
            panic!("a JSON body")
        };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["error"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn each_function_answers_only_its_own_routes() {
        let app = app();
        let (status, resp) = call(&app, Function::Login, "GET", "/auth/session").await;
        assert_eq!((status, error_code(&resp).as_str()), (404, "not_found"));
        let (status, resp) = call(&app, Function::Session, "GET", "/auth/session").await;
        assert_eq!(
            (status, error_code(&resp).as_str()),
            (401, "unauthenticated")
        );
        let (status, resp) = call(&app, Function::All, "GET", "/nowhere").await;
        assert_eq!((status, error_code(&resp).as_str()), (404, "not_found"));
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let (status, resp) = call(&app, Function::Login, "GET", "/auth/nope/login").await;
        assert_eq!(
            (status, error_code(&resp).as_str()),
            (404, "unknown_provider")
        );
    }

    #[tokio::test]
    async fn other_methods_get_405_with_the_routes_own_method_in_allow() {
        let app = app();
        for (method, uri, allow) in [
            ("HEAD", "/auth/session", "GET"),
            ("DELETE", "/auth/session", "GET"),
            ("GET", "/auth/refresh", "POST"),
            ("PUT", "/auth/token", "POST"),
            ("HEAD", "/auth/p/callback", "GET, POST"),
            ("PUT", "/auth/p/callback", "GET, POST"),
        ] {
            let (status, resp) = call(&app, Function::All, method, uri).await;
            assert_eq!(status, 405, "{method} {uri}");
            assert_eq!(resp.headers()["allow"], allow, "{method} {uri}");
            if method != "HEAD" {
                assert_eq!(error_code(&resp), "method_not_allowed");
            }
        }
    }

    #[tokio::test]
    async fn a_stage_prefix_or_trailing_slash_reaches_the_same_route() {
        let app = app();
        for uri in [
            "/prod/auth/session",
            "/auth/session/",
            "/a/b/auth/session?x=1",
        ] {
            let (status, resp) = call(&app, Function::Session, "GET", uri).await;
            assert_eq!(
                (status, error_code(&resp).as_str()),
                (401, "unauthenticated"),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn a_preflight_from_an_allowed_origin_is_answered_on_every_route() {
        let app = app();
        let (status, resp) = call(&app, Function::Refresh, "OPTIONS", "/auth/refresh").await;
        assert_eq!(status, 204);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
    }

    #[test]
    fn routes_match_with_or_without_a_stage_prefix() {
        assert_eq!(
            route_path("/auth/google/login").as_deref(),
            Some("/auth/google/login")
        );
        assert_eq!(
            route_path("/prod/auth/google/callback").as_deref(),
            Some("/auth/google/callback")
        );
        assert_eq!(
            route_path("/auth/refresh").as_deref(),
            Some("/auth/refresh")
        );
        assert_eq!(
            route_path("/auth/session/").as_deref(),
            Some("/auth/session")
        );
        assert_eq!(
            route_path("/prod/auth/corp/backchannel-logout").as_deref(),
            Some("/auth/corp/backchannel-logout")
        );
        assert_eq!(
            route_path("/prod/auth/kakao/native").as_deref(),
            Some("/auth/kakao/native")
        );
        assert_eq!(route_path("/auth/google").as_deref(), Some("/auth/google"));
        assert_eq!(route_path("/other"), None);
    }

    #[test]
    fn api_routes_keep_the_upstream_path_exactly() {
        for (path, expected) in [
            ("/api/kakao/v2/user/me", Some("/api/kakao/v2/user/me")),
            (
                "/prod/api/kakao/v2/user/me/",
                Some("/api/kakao/v2/user/me/"),
            ),
            ("/api/kakao/", Some("/api/kakao/")),
            ("/api/kakao/a%2Fb/..%2f", Some("/api/kakao/a%2Fb/..%2f")),
            // An API path ending like an auth route is still the API's.
            ("/api/kakao/auth/refresh", Some("/api/kakao/auth/refresh")),
            (
                "/prod/api/kakao/auth/session",
                Some("/api/kakao/auth/session"),
            ),
            ("/api/kakao", None),
            ("/a/b/api/kakao/x", None),
        ] {
            assert_eq!(route_path(path).as_deref(), expected, "{path}");
        }
    }
}
