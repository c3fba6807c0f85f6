//! `apigw-front`: an API-Gateway-like front for the end-to-end tests. It runs the real Lambda
//! binaries (login, callback, refresh, session, proxy, and the example `hello` behind the
//! `authorizer`), several processes of each under one Lambda
//! Runtime API per function, and turns each HTTP request into an API Gateway HTTP API
//! payload 2.0 event as API Gateway does, routed as in `infra/template.yaml`, and each
//! function's answer back into HTTP. It also serves the local runner's demo page at `/` (and its
//! browser client at `/client/index.js`).
//!
//! Usage: apigw-front --listen 127.0.0.1:PORT --config auth.toml [--instances 3]
//!        [--functions DIR]
//!
//! The functions get `AUTH_CONFIG_FILE`, the AWS variables (`AWS_*`), `RUST_LOG` and every
//! variable the configuration names as `${NAME}` from this process's environment, as a
//! deployment would set them. Their output goes to this process's stdout and stderr. Every
//! function process is stopped when the front exits (SIGTERM, SIGINT or an error).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use integration_tests::runtime_api::{Outcome, Output, RuntimeApi};
use serde_json::{Map, Value, json};
use shared::config::Config;

/// Lambda's limit on a synchronous invocation's request payload.
const MAX_BODY: usize = 6 * 1024 * 1024;
const DEMO_PAGE: &str = include_str!("../../../local/src/demo.html");
/// The browser client the demo page imports from `/client/index.js`, as the local runner serves it.
const CLIENT_JS: &str = include_str!("../../../clients/js/index.js");
const FUNCTIONS: [&str; 7] = [
    "login",
    "callback",
    "refresh",
    "session",
    "proxy",
    "authorizer",
    "hello",
];
/// The authorizer's index in [`FUNCTIONS`].
const AUTHORIZER: usize = 5;
/// The CORS configuration of the HTTP API in `infra/template.yaml`.
const CORS_ALLOW_METHODS: &str = "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS";
const CORS_ALLOW_HEADERS: &str = "content-type,x-requested-with,authorization,if-match,if-none-match,if-modified-since,if-unmodified-since";
const CORS_MAX_AGE: &str = "600";

struct Options {
    listen: SocketAddr,
    config_file: PathBuf,
    instances: usize,
    functions_dir: PathBuf,
}

fn usage() -> String {
    "usage: apigw-front --listen 127.0.0.1:PORT --config FILE [--instances N] [--functions DIR]"
        .into()
}

fn options() -> Result<Options, String> {
    let mut listen = None;
    let mut config_file = None;
    let mut instances = 3;
    let mut functions_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let raw = value()?;
                listen = Some(
                    raw.parse::<SocketAddr>()
                        .map_err(|_| format!("--listen: {raw} is not an address"))?,
                );
            }
            "--config" => config_file = Some(PathBuf::from(value()?)),
            "--instances" => {
                instances = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=16).contains(n))
                    .ok_or("--instances: a number from 1 to 16")?;
            }
            "--functions" => functions_dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}; {}", usage())),
        }
    }
    let functions_dir = match functions_dir {
        Some(dir) => dir,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .ok_or("cannot tell where the function binaries are; pass --functions")?,
    };
    Ok(Options {
        listen: listen.ok_or_else(usage)?,
        config_file: config_file.ok_or_else(usage)?,
        instances,
        functions_dir,
    })
}

/// Which function serves a request, and the API Gateway route it matched.
struct Route {
    function: usize,
    route_key: &'static str,
    provider: Option<String>,
    /// `{api}` and `{proxy+}` of the proxy route.
    api: Option<(String, String)>,
}

/// The routes of `infra/template.yaml`. Paths are matched segment by segment, as API Gateway
/// does; `{provider}` matches one non-empty segment.
fn route(method: &Method, raw_path: &str) -> Option<Route> {
    let segments: Vec<&str> = raw_path.split('/').collect();
    let fixed = |function, route_key| {
        Some(Route {
            function,
            route_key,
            provider: None,
            api: None,
        })
    };
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["", "auth", p, "login"]) if !p.is_empty() => Some(Route {
            function: 0,
            route_key: "GET /auth/{provider}/login",
            provider: Some(percent_decode(p)),
            api: None,
        }),
        (m @ ("GET" | "POST"), ["", "auth", p, "callback"]) if !p.is_empty() => Some(Route {
            function: 1,
            route_key: if m == "GET" {
                "GET /auth/{provider}/callback"
            } else {
                "POST /auth/{provider}/callback"
            },
            provider: Some(percent_decode(p)),
            api: None,
        }),
        ("POST", ["", "auth", p, "backchannel-logout"]) if !p.is_empty() => Some(Route {
            function: 3,
            route_key: "POST /auth/{provider}/backchannel-logout",
            provider: Some(percent_decode(p)),
            api: None,
        }),
        ("POST", ["", "auth", p, "native"]) if !p.is_empty() => Some(Route {
            function: 3,
            route_key: "POST /auth/{provider}/native",
            provider: Some(percent_decode(p)),
            api: None,
        }),
        (_, ["", "api", api, rest @ ..]) if !api.is_empty() && !rest.join("/").is_empty() => {
            Some(Route {
                function: 4,
                route_key: "ANY /api/{api}/{proxy+}",
                provider: None,
                api: Some((percent_decode(api), percent_decode(&rest.join("/")))),
            })
        }
        ("POST", ["", "auth", "refresh"]) => fixed(2, "POST /auth/refresh"),
        ("GET", ["", "auth", "session"]) => fixed(3, "GET /auth/session"),
        ("POST", ["", "auth", "logout"]) => fixed(3, "POST /auth/logout"),
        ("POST", ["", "auth", "token"]) => fixed(3, "POST /auth/token"),
        ("GET", ["", "auth", "health"]) => fixed(3, "GET /auth/health"),
        ("GET", ["", "me", "hello"]) => fixed(6, "GET /me/hello"),
        ("GET", ["", "app", "me", "hello"]) => fixed(6, "GET /app/me/hello"),
        _ => None,
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

struct Front {
    functions: Vec<RuntimeApi>,
    page: String,
    allowed_origins: Vec<String>,
    counter: AtomicU64,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("apigw-front: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let opts = options()?;
    let config_path = std::fs::canonicalize(&opts.config_file)
        .map_err(|e| format!("{}: {e}", opts.config_file.display()))?;
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
    let config = Config::from_toml(&text, |n| std::env::var(n).ok()).map_err(|e| e.to_string())?;
    let allowed_origins = config
        .allowed_origins
        .iter()
        .map(|o| o.as_str().to_owned())
        .collect();

    let env = function_env(&config_path, &text);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut functions = Vec::new();
    for name in FUNCTIONS {
        let binary = opts.functions_dir.join(name);
        if !binary.is_file() {
            return Err(format!(
                "{} is missing; run `cargo build --workspace --bins`",
                binary.display()
            ));
        }
        let mut api = RuntimeApi::start()
            .await
            .map_err(|e| format!("runtime API for {name}: {e}"))?;
        for _ in 0..opts.instances {
            api.spawn_instance(&binary, &env, Output::Inherit)
                .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        }
        functions.push(api);
    }

    let front = Arc::new(Front {
        functions,
        page: shared::demo::page(DEMO_PAGE, &config),
        allowed_origins,
        counter: AtomicU64::new(0),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&front));
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    eprintln!(
        "apigw-front: serving on http://{} ({} instances of each function)",
        opts.listen, opts.instances
    );
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    let result = tokio::select! {
        served = serve => served.map_err(|e| e.to_string()),
        () = integration_tests::shutdown_signal() => Ok(()),
    };
    for api in &front.functions {
        api.kill();
    }
    result
}

/// Runs the route's Lambda authorizer as API Gateway does (payload 2.0, simple responses, no
/// result cache here): the context it admits the request with, `None` when it does not, an
/// error when it failed.
async fn authorize(front: &Front, request: &Value) -> Result<Option<Value>, ()> {
    let event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:apigw-front/$default/GET/me/hello",
        "identitySource": [],
        "routeKey": request["routeKey"],
        "rawPath": request["rawPath"],
        "rawQueryString": request["rawQueryString"],
        "cookies": request.get("cookies").cloned().unwrap_or(json!([])),
        "headers": request["headers"],
        "requestContext": request["requestContext"],
    });
    let authorizer = front.functions.get(AUTHORIZER).ok_or(())?;
    match authorizer.invoke(event).await {
        Ok(Outcome::Response(answer)) if answer["isAuthorized"] == true => {
            Ok(Some(answer.get("context").cloned().unwrap_or(json!({}))))
        }
        Ok(Outcome::Response(_)) => Ok(None),
        Ok(Outcome::Error(e)) => {
            eprintln!("apigw-front: the authorizer failed: {e}");
            Err(())
        }
        Err(e) => {
            eprintln!("apigw-front: the authorizer: {e}");
            Err(())
        }
    }
}

/// The environment of a function process: the configuration file, the AWS variables and the
/// variables the configuration refers to.
fn function_env(config_path: &Path, text: &str) -> Vec<(String, String)> {
    let mut env = BTreeMap::new();
    env.insert(
        "AUTH_CONFIG_FILE".to_owned(),
        config_path.display().to_string(),
    );
    for (key, value) in std::env::vars() {
        if key.starts_with("AWS_") || key == "RUST_LOG" {
            env.insert(key, value);
        }
    }
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
        rest = &rest[end + 1..];
    }
    env.into_iter().collect()
}

async fn handle(
    State(front): State<Arc<Front>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let n = front.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("{:x}-{n:06}", now().as_millis());
    let mut resp = route_request(&front, peer, &request_id, req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

async fn route_request(
    front: &Front,
    peer: SocketAddr,
    request_id: &str,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    if method == Method::GET && raw_path == "/" {
        return Html(front.page.clone()).into_response();
    }
    if method == Method::GET && raw_path == "/client/index.js" {
        let headers = [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ];
        return (headers, CLIENT_JS).into_response();
    }
    if method == Method::OPTIONS {
        return preflight(front, req.headers());
    }
    let Some(route) = route(&method, &raw_path) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let mut event = event(&parts, &body, &route, peer, request_id);
    if route.route_key.ends_with("/me/hello") {
        match authorize(front, &event).await {
            Ok(Some(context)) => {
                event["requestContext"]["authorizer"] = json!({ "lambda": context });
            }
            Ok(None) => return message(StatusCode::FORBIDDEN, "Forbidden"),
            Err(()) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
    let Some(api) = front.functions.get(route.function) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    match api.invoke(event).await {
        Ok(Outcome::Response(value)) => response(&value),
        Ok(Outcome::Error(e)) => {
            eprintln!("apigw-front: {} failed: {e}", route.route_key);
            message(StatusCode::BAD_GATEWAY, "Internal Server Error")
        }
        Err(e) => {
            eprintln!("apigw-front: {}: {e}", route.route_key);
            message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
    }
}

/// API Gateway's own errors: `{"message": "..."}`.
fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": text }).to_string(),
    )
        .into_response()
}

/// API Gateway answers CORS preflights itself when the API has a CORS configuration.
fn preflight(front: &Front, headers: &HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| front.allowed_origins.iter().any(|a| a == o));
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(CORS_MAX_AGE),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    resp
}

/// The API Gateway HTTP API (payload format 2.0) event for one request.
fn event(
    parts: &axum::http::request::Parts,
    body: &[u8],
    route: &Route,
    peer: SocketAddr,
    request_id: &str,
) -> Value {
    let raw_path = parts.uri.path();
    let raw_query = parts.uri.query().unwrap_or("");
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let source_ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for") {
        Some(existing) => format!("{existing}, {source_ip}"),
        None => source_ip.clone(),
    };
    headers.insert("x-forwarded-for".into(), forwarded_for);
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert("x-forwarded-port".into(), peer_port(&parts.headers));
    headers.insert(
        "x-amzn-trace-id".into(),
        format!("Root=1-{:08x}-{:024x}", now().as_secs(), now().as_nanos()),
    );
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let domain = headers.get("host").cloned().unwrap_or_default();
    let domain_prefix = domain.split('.').next().unwrap_or_default().to_owned();

    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }

    let now = now();
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route.route_key));
    event.insert("rawPath".into(), json!(raw_path));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if let Some(provider) = &route.provider {
        event.insert("pathParameters".into(), json!({ "provider": provider }));
    }
    if let Some((api, rest)) = &route.api {
        event.insert(
            "pathParameters".into(),
            json!({ "api": api, "proxy": rest }),
        );
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": "123456789012",
            "apiId": "apigw-front",
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": parts.method.as_str(),
                "path": raw_path,
                "protocol": protocol(parts.version),
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": clf_time(now.as_secs()),
            "timeEpoch": u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
        }),
    );
    if body.is_empty() {
        event.insert("isBase64Encoded".into(), json!(false));
    } else {
        let content_type = headers.get("content-type").map_or("", String::as_str);
        match std::str::from_utf8(body) {
            Ok(text) if is_text(content_type) => {
                event.insert("body".into(), json!(text));
                event.insert("isBase64Encoded".into(), json!(false));
            }
            _ => {
                event.insert("body".into(), json!(STANDARD.encode(body)));
                event.insert("isBase64Encoded".into(), json!(true));
            }
        }
    }
    Value::Object(event)
}

/// HTTP APIs pass text bodies as they are and base64-encode everything else (form bodies
/// included).
fn is_text(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || matches!(
            media.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
        || media.ends_with("+json")
        || media.ends_with("+xml")
}

fn peer_port(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map_or_else(|| "80".to_owned(), |(_, port)| port.to_owned())
}

fn protocol(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `23/Nov/2026:00:00:00 +0000`, API Gateway's `requestContext.time`.
fn clf_time(unix: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = i64::try_from(unix / 86_400).unwrap_or_default();
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The HTTP response for a function's payload 2.0 answer. A JSON value without `statusCode`
/// is, as API Gateway does, a 200 `application/json` response with that value as the body.
fn response(value: &Value) -> Response {
    let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response();
    };
    let status = object
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok());
    let Some(status) = status else {
        return message(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if object.get("isBase64Encoded") == Some(&json!(true)) => {
            match STANDARD.decode(text) {
                Ok(bytes) => bytes,
                Err(_) => return message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
            }
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(headers) = object.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(value) = header_text(value) {
                append(h, name, &value);
            }
        }
    }
    if let Some(multi) = object.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                if let Some(value) = header_text(value) {
                    append(h, name, &value);
                }
            }
        }
    }
    for cookie in object
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(cookie) = cookie.as_str() {
            append(h, "set-cookie", cookie);
        }
    }
    resp
}

fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn append(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.append(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_template() {
        let r = route(&Method::GET, "/auth/basic/login").expect("login route");
        assert_eq!(r.function, 0);
        assert_eq!(r.provider.as_deref(), Some("basic"));
        assert_eq!(
            route(&Method::GET, "/auth/basic/callback")
                .expect("callback")
                .function,
            1
        );
        assert_eq!(
            route(&Method::POST, "/auth/refresh")
                .expect("refresh")
                .route_key,
            "POST /auth/refresh"
        );
        assert!(route(&Method::GET, "/auth/refresh").is_none());
        assert!(route(&Method::GET, "/auth//login").is_none());
        assert!(route(&Method::GET, "/auth/a/b/login").is_none());
        assert!(route(&Method::POST, "/auth/session").is_none());
    }

    #[test]
    fn requests_become_payload_2_events() {
        let (parts, ()) = axum::http::Request::builder()
            .method("GET")
            .uri("/auth/basic/login?return_to=%2Fapp&x=1&x=2")
            .header("Host", "127.0.0.1:9000")
            .header("User-Agent", "test-agent")
            .header("Accept", "text/html")
            .header("Accept", "application/json")
            .header("Cookie", "a=1; b=2")
            .header("Cookie", "c=3")
            .body(())
            .expect("request")
            .into_parts();
        let matched = route(&parts.method, parts.uri.path()).expect("route");
        let peer: SocketAddr = "127.0.0.1:5555".parse().expect("address");
        let e = event(&parts, b"", &matched, peer, "rid");
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "GET /auth/{provider}/login");
        assert_eq!(e["rawPath"], "/auth/basic/login");
        assert_eq!(e["rawQueryString"], "return_to=%2Fapp&x=1&x=2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2", "c=3"]));
        assert!(
            e["headers"].get("cookie").is_none(),
            "cookies are not headers"
        );
        assert_eq!(e["headers"]["accept"], "text/html,application/json");
        assert_eq!(e["headers"]["host"], "127.0.0.1:9000");
        assert_eq!(
            e["queryStringParameters"],
            json!({"return_to": "/app", "x": "1,2"})
        );
        assert_eq!(e["pathParameters"], json!({"provider": "basic"}));
        let ctx = &e["requestContext"];
        assert_eq!(ctx["http"]["method"], "GET");
        assert_eq!(ctx["http"]["path"], "/auth/basic/login");
        assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(ctx["http"]["userAgent"], "test-agent");
        assert_eq!(ctx["stage"], "$default");
        assert_eq!(ctx["requestId"], "rid");
        assert!(e.get("body").is_none());
        assert_eq!(e["isBase64Encoded"], false);

        let (parts, ()) = axum::http::Request::builder()
            .method("POST")
            .uri("/auth/token")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(())
            .expect("request")
            .into_parts();
        let matched = route(&parts.method, parts.uri.path()).expect("route");
        let e = event(&parts, b"code=a&code_verifier=b", &matched, peer, "rid");
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], STANDARD.encode("code=a&code_verifier=b"));
        assert!(e.get("queryStringParameters").is_none());
        assert!(e.get("pathParameters").is_none());
    }

    #[test]
    fn time_is_in_common_log_format() {
        assert_eq!(clf_time(1_795_392_000), "23/Nov/2026:00:00:00 +0000");
        assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn form_bodies_are_base64_encoded() {
        assert!(is_text("application/json; charset=utf-8"));
        assert!(is_text("text/plain"));
        assert!(!is_text("application/x-www-form-urlencoded"));
        assert!(!is_text(""));
    }

    #[test]
    fn a_response_without_status_code_is_200_json() {
        let resp = response(&json!({"hello": "world"}));
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = response(&json!({
            "statusCode": 302,
            "headers": {"location": "/x"},
            "cookies": ["a=1; Path=/", "b=2; Path=/"],
        }));
        assert_eq!(resp.status(), StatusCode::FOUND);
        assert_eq!(resp.headers().get_all("set-cookie").iter().count(), 2);
    }
}
