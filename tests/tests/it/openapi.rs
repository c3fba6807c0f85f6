//! `openapi.yaml` checked against the router: every route of `ROUTES` is documented with its
//! methods, every documented operation is served (and each route only by its own function),
//! the `Error` schema lists exactly `ApiError::ALL` under the statuses `ApiError::status()`
//! gives, and what each route really answers (status, error code, headers) is what the
//! description lists for that operation.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use dev_provider::Behavior;
use http::{HeaderName, Method, StatusCode};
use integration_tests::upstream::UpstreamApi;
use integration_tests::{APP_ORIGIN, Harness, Reply, query_param, sha256_b64url};
use lambda_http::Body;
use serde_json::Value;
use shared::edge::ApiError;
use shared::routes::{Function, ROUTES, RouteSpec};

const SPEC_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");

/// What `ANY` stands for in the description: one operation per method.
const ANY_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// The keys of a path item that are operations.
const OPERATION_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Methods tried on every documented path: the ones it does not list must get 405.
const TRIED_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

/// Headers every answer carries (`shared::edge::finish`).
const FINISH_HEADERS: &[&str] = &[
    "cache-control",
    "pragma",
    "referrer-policy",
    "x-content-type-options",
];

/// Response headers that, when the app sends them, the answer's description must list.
const CHECKED_HEADERS: &[&str] = &[
    "location",
    "set-cookie",
    "allow",
    "www-authenticate",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "vary",
    "content-security-policy",
    "cache-control",
    "pragma",
    "referrer-policy",
    "x-content-type-options",
];

/// Every function with routes of its own.
const FUNCTIONS: &[Function] = &[
    Function::Login,
    Function::Callback,
    Function::Refresh,
    Function::Session,
    Function::Proxy,
];

/// Provider names in the rig: `dev` and `other` (plain query callbacks), `formpost`
/// (`response_mode = "form_post"`, so `POST .../callback` is served for it).
const FORM_POST_PROVIDER: &str = "formpost";
const MOBILE_REDIRECT: &str = "com.example.app:/oauth";
const VERIFIER: &str = "app-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(SPEC_FILE)
        .unwrap_or_else(|e| panic!("cannot read {SPEC_FILE}: {e}"));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("openapi.yaml does not parse as YAML/JSON values: {e}"))
});

// ---- reading the description ----

/// `value` with local `$ref`s (`#/...`) followed.
fn resolve(mut value: &'static Value) -> &'static Value {
    for _ in 0..8 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("openapi.yaml: only local $refs are expected: {reference}"));
        value = SPEC
            .pointer(pointer)
            .unwrap_or_else(|| panic!("openapi.yaml: $ref {reference} points nowhere"));
    }
    panic!("openapi.yaml: $refs nested too deep")
}

fn paths() -> &'static serde_json::Map<String, Value> {
    SPEC["paths"]
        .as_object()
        .expect("openapi.yaml has a `paths` object")
}

/// One documented operation.
struct Operation {
    path: &'static str,
    method: String,
    op: &'static Value,
}

fn operations() -> Vec<Operation> {
    paths()
        .iter()
        .flat_map(|(path, item)| {
            OPERATION_KEYS.iter().filter_map(move |key| {
                item.get(*key).map(|op| Operation {
                    path: path.as_str(),
                    method: key.to_ascii_uppercase(),
                    op,
                })
            })
        })
        .collect()
}

fn operation(path: &str, method: &str) -> Option<&'static Value> {
    paths()
        .get(path)
        .and_then(|item| item.get(method.to_ascii_lowercase()))
}

/// The `ROUTES` path a documented path stands for: its `x-route`, else the path itself.
fn route_of(path: &'static str) -> &'static str {
    paths()[path]
        .get("x-route")
        .and_then(Value::as_str)
        .unwrap_or(path)
}

/// The documented path of a `ROUTES` entry.
fn documented_path(spec: &RouteSpec) -> &'static str {
    paths()
        .keys()
        .map(String::as_str)
        .find(|p| route_of(p) == spec.path)
        .unwrap_or_else(|| {
            panic!(
                "ROUTES serves {} ({:?}); openapi.yaml has no path for it (for `{{proxy+}}`, \
                 document `{{proxy}}` with `x-route: {}`)",
                spec.path, spec.function, spec.path
            )
        })
}

/// The methods a `ROUTES` entry answers (`ANY` spelled out).
fn methods_of(spec: &RouteSpec) -> Vec<&'static str> {
    if spec.methods == ["ANY"] {
        ANY_METHODS.to_vec()
    } else {
        spec.methods.to_vec()
    }
}

fn function_name(function: Function) -> String {
    format!("{function:?}").to_ascii_lowercase()
}

/// A request path for a documented path, with sample values for its parameters.
fn concrete(path: &str) -> String {
    path.replace("{provider}", FORM_POST_PROVIDER)
        .replace("{api}", "up")
        .replace("{proxy}", "v1/items")
}

/// The error codes a documented answer allows.
#[derive(Debug)]
enum Codes {
    /// Not an `Error` answer.
    NotError,
    /// The `Error` schema, any code.
    Any,
    /// The `Error` schema narrowed to these codes.
    Listed(Vec<String>),
}

fn is_error_schema(schema: &Value) -> bool {
    schema.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/Error")
}

fn error_codes(response: &Value) -> Codes {
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Codes::NotError;
    };
    if is_error_schema(schema) {
        return Codes::Any;
    }
    let Some(all_of) = schema.get("allOf").and_then(Value::as_array) else {
        return Codes::NotError;
    };
    if !all_of.iter().any(is_error_schema) {
        return Codes::NotError;
    }
    let listed: Vec<String> = all_of
        .iter()
        .filter_map(|s| s.pointer("/properties/error/enum"))
        .filter_map(Value::as_array)
        .flatten()
        .map(|c| c.as_str().expect("error codes are strings").to_owned())
        .collect();
    if listed.is_empty() {
        Codes::Any
    } else {
        Codes::Listed(listed)
    }
}

/// The response headers an answer's description lists, lower-cased.
fn documented_headers(response: &Value) -> BTreeSet<String> {
    response
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

/// Every documented answer of an operation, resolved, with its status key.
fn responses(op: &'static Value) -> Vec<(&'static str, &'static Value)> {
    op["responses"]
        .as_object()
        .expect("an operation has responses")
        .iter()
        .map(|(status, r)| (status.as_str(), resolve(r)))
        .collect()
}

fn api_error(code: &str) -> Option<ApiError> {
    ApiError::ALL.into_iter().find(|e| e.to_string() == code)
}

/// Asserts that the description lists `reply` for `method path`: its status (or `default`),
/// its error code under that status, and each checked header it carries.
#[track_caller]
fn assert_documented(path: &str, method: &Method, reply: &Reply) {
    let op = operation(path, method.as_str())
        .unwrap_or_else(|| panic!("openapi.yaml has no operation {method} {path}"));
    let status = reply.status.as_str();
    let (key, response) = op["responses"]
        .get(status)
        .map(|r| (status, r))
        .or_else(|| op["responses"].get("default").map(|r| ("default", r)))
        .unwrap_or_else(|| {
            panic!(
                "{method} {path} answered {status} {}, a status openapi.yaml does not list for it",
                reply.body
            )
        });
    let response = resolve(response);
    let error = serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    if key != "default"
        && let Some(error) = error
    {
        match error_codes(response) {
            Codes::NotError => panic!(
                "{method} {path} answered {status} `{error}`, but openapi.yaml documents that \
                 answer without the Error schema"
            ),
            Codes::Any => {}
            Codes::Listed(codes) => assert!(
                codes.contains(&error),
                "{method} {path} answered {status} `{error}`; openapi.yaml lists only {codes:?} \
                 under {status}"
            ),
        }
    }
    let documented = documented_headers(response);
    for name in CHECKED_HEADERS {
        if reply.headers.contains_key(*name) {
            assert!(
                documented.contains(*name),
                "{method} {path} answered {status} with `{name}`, which openapi.yaml does not \
                 list for that answer (it lists {documented:?})"
            );
        }
    }
}

/// Asserts `reply` is `status` (with error `code`) and documented as such.
#[track_caller]
fn expect(path: &str, method: Method, reply: &Reply, status: u16, code: Option<&str>) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{method} {path}: expected {status} {code:?}, got {reply:?}"
    );
    if let Some(code) = code {
        assert_eq!(reply.json()["error"], code, "{method} {path}: {reply:?}");
    }
    assert_documented(path, &method, reply);
}

// ---- the running app ----

/// The dev provider under three names, a mobile redirect, and APIs on a recording upstream:
/// `up` (every method), `readonly` (the default `GET`, `HEAD`), `down` (a closed port).
async fn rig() -> (Harness, UpstreamApi) {
    let up = UpstreamApi::spawn().await;
    let closed = integration_tests::unused_port();
    let base = up.base_url();
    let h = Harness::builder()
        .provider("dev", "")
        .provider("other", "")
        .provider(FORM_POST_PROVIDER, "response_mode = \"form_post\"")
        .setting(&format!("mobile_redirects = [\"{MOBILE_REDIRECT}\"]"))
        .setting("force_refresh_window = \"0s\"")
        .setting(&format!(
            "apis.up = {{ provider = \"dev\", base_url = \"{base}\", \
             methods = [\"GET\", \"PUT\", \"POST\", \"DELETE\", \"PATCH\", \"HEAD\"] }}"
        ))
        .setting(&format!(
            "apis.readonly = {{ provider = \"dev\", base_url = \"{base}\" }}"
        ))
        .setting(&format!(
            "apis.down = {{ provider = \"dev\", base_url = \"http://127.0.0.1:{closed}\" }}"
        ))
        .spawn()
        .await;
    (h, up)
}

/// `method uri` straight to `function` (no cookies), from the allowed origin.
async fn send(h: &Harness, function: Function, method: &str, uri: &str) -> Reply {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("origin", APP_ORIGIN)
        .body(Body::Empty)
        .unwrap();
    let (parts, body) = h.app.handle_for(function, req).await.into_parts();
    let body = match body {
        Body::Text(t) => t,
        Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn is_not_found(reply: &Reply) -> bool {
    reply.status == StatusCode::NOT_FOUND
        && serde_json::from_str::<Value>(&reply.body).is_ok_and(|v| v["error"] == "not_found")
}

fn fetch_headers() -> Vec<(&'static str, &'static str)> {
    vec![("x-requested-with", "fetch"), ("origin", APP_ORIGIN)]
}

// ---- the description against the route table ----

#[test]
fn every_served_route_is_documented() {
    for spec in ROUTES {
        let path = documented_path(spec);
        let item = &paths()[path];
        assert_eq!(
            item.get("x-function").and_then(Value::as_str),
            Some(function_name(spec.function).as_str()),
            "openapi.yaml: {path} should say `x-function: {}` (ROUTES serves it there)",
            function_name(spec.function)
        );
        let mut served: BTreeSet<String> = methods_of(spec).iter().map(|m| m.to_string()).collect();
        // Every route answers OPTIONS as a CORS preflight.
        served.insert("OPTIONS".into());
        let documented: BTreeSet<String> = OPERATION_KEYS
            .iter()
            .filter(|k| item.get(**k).is_some())
            .map(|k| k.to_ascii_uppercase())
            .collect();
        if let Some(method) = served.difference(&documented).next() {
            panic!(
                "ROUTES serves {method} {} ({:?}); openapi.yaml does not document {method} {path}",
                spec.path, spec.function
            );
        }
        if let Some(method) = documented.difference(&served).next() {
            panic!(
                "openapi.yaml documents {method} {path}, which ROUTES does not serve \
                 (it lists {:?} for {})",
                spec.methods, spec.path
            );
        }
    }
    for path in paths().keys() {
        let route = route_of(path);
        assert!(
            ROUTES.iter().any(|r| r.path == route),
            "openapi.yaml documents {path} (route {route}), which is not in ROUTES"
        );
        assert!(
            !path.contains('+'),
            "openapi.yaml: write {path} with `{{proxy}}` and `x-route` (OpenAPI has no `{{proxy+}}`)"
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let (h, _up) = rig().await;
    for Operation { path, method, .. } in operations() {
        let uri = concrete(path);
        let reply = send(&h, Function::All, &method, &uri).await;
        assert!(
            !is_not_found(&reply),
            "openapi.yaml documents {method} {path}, but {method} {uri} is 404 not_found"
        );
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "openapi.yaml documents {method} {path}, but {method} {uri} is 405: {reply:?}"
        );
        let method: Method = method.parse().unwrap();
        assert_documented(path, &method, &reply);
    }
}

#[tokio::test]
async fn each_route_is_served_by_its_own_function_only() {
    let (h, _up) = rig().await;
    for spec in ROUTES {
        let uri = concrete(documented_path(spec));
        for method in methods_of(spec) {
            let own = send(&h, spec.function, method, &uri).await;
            assert!(
                !is_not_found(&own),
                "{method} {} is not served by its own function {:?}: {own:?}",
                spec.path,
                spec.function
            );
            if method == "HEAD" {
                // A HEAD answer has no body to tell `not_found` from another 404.
                continue;
            }
            for other in FUNCTIONS.iter().filter(|f| **f != spec.function) {
                let reply = send(&h, *other, method, &uri).await;
                assert!(
                    is_not_found(&reply),
                    "{method} {} belongs to {:?}, yet function {other:?} answers it: {reply:?}",
                    spec.path,
                    spec.function
                );
            }
        }
    }
}

#[tokio::test]
async fn other_methods_get_405_with_the_documented_allow() {
    let (h, _up) = rig().await;
    for (path, item) in paths() {
        let Some(allow) = item.get("x-allow").and_then(Value::as_str) else {
            assert!(
                route_of(path).contains("{proxy+}"),
                "openapi.yaml: {path} has no `x-allow` (the Allow header of its 405)"
            );
            continue;
        };
        let documented: Vec<String> = TRIED_METHODS
            .iter()
            .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            allow,
            documented.join(", "),
            "openapi.yaml: {path}'s `x-allow` should name its documented methods"
        );
        for method in TRIED_METHODS
            .iter()
            .filter(|m| !documented.contains(&m.to_string()))
        {
            let reply = send(&h, Function::All, method, &concrete(path)).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: openapi.yaml says 405 for undocumented methods: {reply:?}"
            );
            assert_eq!(
                reply.header("allow"),
                Some(allow),
                "{method} {path}: Allow differs from openapi.yaml's x-allow"
            );
            if *method != "HEAD" {
                assert_eq!(
                    reply.json()["error"],
                    "method_not_allowed",
                    "{method} {path}"
                );
            }
        }
    }
}

#[test]
fn the_error_table_matches_the_documented_codes() {
    let documented: Vec<&str> = SPEC
        .pointer("/components/schemas/Error/properties/error/enum")
        .and_then(Value::as_array)
        .expect("openapi.yaml: components.schemas.Error.properties.error.enum")
        .iter()
        .map(|c| c.as_str().expect("error codes are strings"))
        .collect();
    let codes: Vec<String> = ApiError::ALL.iter().map(ToString::to_string).collect();
    for code in &codes {
        assert!(
            documented.contains(&code.as_str()),
            "ApiError::ALL has `{code}`; the Error schema's enum in openapi.yaml does not"
        );
    }
    for code in &documented {
        assert!(
            codes.iter().any(|c| c == code),
            "openapi.yaml's Error schema lists `{code}`, which is not in ApiError::ALL"
        );
    }
    let unique: BTreeSet<&&str> = documented.iter().collect();
    assert_eq!(
        unique.len(),
        documented.len(),
        "the Error enum repeats a code"
    );

    let mut used = BTreeSet::new();
    for Operation { path, method, op } in operations() {
        for (status, response) in responses(op) {
            let Codes::Listed(listed) = error_codes(response) else {
                continue;
            };
            for code in listed {
                let error = api_error(&code).unwrap_or_else(|| {
                    panic!("{method} {path} lists `{code}` under {status}: not in ApiError::ALL")
                });
                assert_eq!(
                    error.status().as_str(),
                    status,
                    "{method} {path} lists `{code}` under {status}, but ApiError::{error:?} \
                     answers {}",
                    error.status()
                );
                used.insert(code);
            }
        }
    }
    // `not_found` names no route, so no operation can answer it (the description says so).
    for code in codes.iter().filter(|c| *c != "not_found") {
        assert!(
            used.contains(code),
            "no operation in openapi.yaml lists `{code}` among its answers"
        );
    }
}

#[test]
fn every_documented_answer_lists_the_headers_the_router_always_sends() {
    for Operation { path, method, op } in operations() {
        for (status, response) in responses(op) {
            let headers = documented_headers(response);
            let mut required: Vec<&str> = FINISH_HEADERS.to_vec();
            match status {
                "302" => required.push("location"),
                "401" => required.push("www-authenticate"),
                "405" => required.push("allow"),
                _ => {}
            }
            for name in required {
                assert!(
                    headers.contains(name),
                    "{method} {path} {status}: openapi.yaml does not list `{name}` \
                     (it lists {headers:?})"
                );
            }
        }
    }
}

// ---- what each route answers, against what its operation lists ----

#[tokio::test]
async fn login_answers_are_documented() {
    let path = "/auth/{provider}/login";
    let (h, _up) = rig().await;
    let mut browser = h.browser();

    let started = browser.start_login("dev", Some("/app")).await;
    expect(path, Method::GET, &started, 302, None);
    assert!(started.set_cookie("__Host-auth_tx").is_some());

    let mobile = |redirect: &str, method: &str| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("app_redirect", redirect)
            .append_pair("code_challenge", &sha256_b64url(VERIFIER))
            .append_pair("code_challenge_method", method)
            .finish();
        format!("/auth/dev/login?{q}")
    };
    for (uri, code) in [
        (
            "/auth/dev/login?return_to=//evil.example".to_owned(),
            "invalid_return_to",
        ),
        (
            mobile("com.evil.app:/oauth", "S256"),
            "invalid_app_redirect",
        ),
        (mobile(MOBILE_REDIRECT, "plain"), "invalid_request"),
    ] {
        let reply = browser.get(&uri).await;
        expect(path, Method::GET, &reply, 400, Some(code));
    }
    let unknown = browser.get("/auth/nope/login").await;
    expect(path, Method::GET, &unknown, 404, Some("unknown_provider"));
    let preflight = browser
        .request(
            Method::OPTIONS,
            "/auth/dev/login",
            &fetch_headers(),
            Body::Empty,
        )
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);

    // A provider whose discovery fails (before anything was cached).
    let cold = Harness::spawn().await;
    cold.set_behavior(Behavior {
        discovery_error: Some(503),
        ..Behavior::default()
    });
    let reply = cold.browser().start_login("dev", None).await;
    expect(path, Method::GET, &reply, 503, Some("provider_unavailable"));
}

#[tokio::test]
async fn callback_answers_are_documented() {
    let path = "/auth/{provider}/callback";
    let (h, _up) = rig().await;
    let mut browser = h.browser();

    let pending = browser.begin("dev", "alice", Some("/app")).await;
    let signed_in = browser.follow(&pending.callback_url).await;
    expect(path, Method::GET, &signed_in, 302, None);
    assert!(signed_in.set_cookie("__Host-session").is_some());
    let replayed = browser.follow(&pending.callback_url).await;
    expect(path, Method::GET, &replayed, 400, Some("invalid_state"));

    let pending = browser.begin("dev", "alice", Some("/app")).await;
    let denied = browser
        .get(&format!(
            "/auth/dev/callback?state={}&error=access_denied&iss={}",
            pending.state,
            url::form_urlencoded::byte_serialize(h.issuer().as_bytes()).collect::<String>()
        ))
        .await;
    expect(path, Method::GET, &denied, 302, None);
    assert_eq!(denied.location(), "/app?error=access_denied");

    let pending = browser.begin("dev", "alice", None).await;
    let two_issuers = browser
        .get(&format!(
            "{}&iss=https%3A%2F%2Fevil.example",
            pending.callback_path()
        ))
        .await;
    expect(path, Method::GET, &two_issuers, 400, Some("invalid_issuer"));

    h.set_behavior(Behavior {
        token_error: Some((500, "{}".into())),
        ..Behavior::default()
    });
    let failed = browser.try_sign_in("dev", "alice", Some("/app")).await;
    expect(path, Method::GET, &failed, 302, None);
    assert_eq!(failed.location(), "/app?error=login_failed");
    h.set_behavior(Behavior::default());

    let unknown = browser.get("/auth/nope/callback?state=x").await;
    expect(path, Method::GET, &unknown, 404, Some("unknown_provider"));

    // The form post: only for a form_post provider.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let not_form_post = browser
        .request(
            Method::POST,
            "/auth/dev/callback",
            &form,
            Body::Text("state=x".into()),
        )
        .await;
    expect(
        path,
        Method::POST,
        &not_form_post,
        405,
        Some("method_not_allowed"),
    );
    assert_eq!(not_form_post.header("allow"), Some("GET"));

    let pending = browser.begin(FORM_POST_PROVIDER, "alice", None).await;
    let body = pending.callback_url.split_once('?').unwrap().1.to_owned();
    let callback = format!("/auth/{FORM_POST_PROVIDER}/callback");
    let posted = browser
        .request(Method::POST, &callback, &form, Body::Text(body.clone()))
        .await;
    expect(path, Method::POST, &posted, 302, None);
    let replayed = browser
        .request(Method::POST, &callback, &form, Body::Text(body.clone()))
        .await;
    expect(path, Method::POST, &replayed, 400, Some("invalid_state"));
    let not_a_form = browser
        .request(
            Method::POST,
            &callback,
            &[("content-type", "text/plain")],
            Body::Text(body),
        )
        .await;
    expect(
        path,
        Method::POST,
        &not_a_form,
        400,
        Some("invalid_request"),
    );

    let preflight = browser
        .request(Method::OPTIONS, &callback, &fetch_headers(), Body::Empty)
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);
}

#[tokio::test]
async fn refresh_answers_are_documented() {
    let path = "/auth/refresh";
    let (h, _up) = rig().await;
    let mut browser = h.browser();

    let anonymous = browser.refresh(false).await;
    expect(path, Method::POST, &anonymous, 401, Some("unauthenticated"));

    browser.sign_in("dev", "alice").await;
    let fresh = browser.refresh(false).await;
    expect(path, Method::POST, &fresh, 200, None);
    let forced = browser.refresh(true).await;
    expect(path, Method::POST, &forced, 200, None);

    let no_header = browser
        .request(Method::POST, path, &[("origin", APP_ORIGIN)], Body::Empty)
        .await;
    expect(path, Method::POST, &no_header, 403, Some("csrf_rejected"));
    let foreign = browser
        .request(
            Method::POST,
            path,
            &[
                ("x-requested-with", "fetch"),
                ("origin", "https://evil.example"),
            ],
            Body::Empty,
        )
        .await;
    expect(path, Method::POST, &foreign, 403, Some("csrf_rejected"));
    let bad_json = browser.fetch_post(path, Some("{")).await;
    expect(path, Method::POST, &bad_json, 400, Some("invalid_request"));

    h.set_behavior(Behavior {
        token_error: Some((503, "{}".into())),
        ..Behavior::default()
    });
    let unavailable = browser.refresh(true).await;
    expect(
        path,
        Method::POST,
        &unavailable,
        503,
        Some("provider_unavailable"),
    );
    h.set_behavior(Behavior {
        token_error: Some((400, r#"{"error":"invalid_grant"}"#.into())),
        ..Behavior::default()
    });
    let ended = browser.refresh(true).await;
    expect(path, Method::POST, &ended, 401, Some("reauth_required"));

    let preflight = browser
        .request(Method::OPTIONS, path, &fetch_headers(), Body::Empty)
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);
}

#[tokio::test]
async fn session_and_logout_answers_are_documented() {
    let (h, _up) = rig().await;
    let mut browser = h.browser();

    let anonymous = browser.session().await;
    expect(
        "/auth/session",
        Method::GET,
        &anonymous,
        401,
        Some("unauthenticated"),
    );
    let not_a_token = browser
        .request(
            Method::GET,
            "/auth/session",
            &[("authorization", "Bearer nope")],
            Body::Empty,
        )
        .await;
    expect(
        "/auth/session",
        Method::GET,
        &not_a_token,
        401,
        Some("unauthenticated"),
    );

    browser.sign_in("dev", "alice").await;
    let session = browser.session().await;
    expect("/auth/session", Method::GET, &session, 200, None);

    let no_header = browser
        .request(Method::POST, "/auth/logout", &[], Body::Empty)
        .await;
    expect(
        "/auth/logout",
        Method::POST,
        &no_header,
        403,
        Some("csrf_rejected"),
    );
    let logged_out = browser.logout().await;
    expect("/auth/logout", Method::POST, &logged_out, 200, None);
    assert!(
        logged_out
            .set_cookie("__Host-session")
            .is_some_and(|c| c.is_removal())
    );
    let again = browser.logout().await;
    expect(
        "/auth/logout",
        Method::POST,
        &again,
        401,
        Some("unauthenticated"),
    );

    for path in ["/auth/session", "/auth/logout"] {
        let preflight = browser
            .request(Method::OPTIONS, path, &fetch_headers(), Body::Empty)
            .await;
        expect(path, Method::OPTIONS, &preflight, 204, None);
    }
}

#[tokio::test]
async fn token_answers_are_documented() {
    let path = "/auth/token";
    let (h, _up) = rig().await;
    let mut browser = h.browser();

    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("app_redirect", MOBILE_REDIRECT)
        .append_pair("code_challenge", &sha256_b64url(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let login = browser.get(&format!("/auth/dev/login?{q}")).await;
    let callback = h.provider.approve(login.location(), "mia").unwrap();
    let landed = browser.follow(&callback).await;
    let code = query_param(landed.location(), "code");
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &code)
        .append_pair("code_verifier", VERIFIER)
        .finish();
    let form_type = [("content-type", "application/x-www-form-urlencoded")];

    let redeemed = browser
        .request(Method::POST, path, &form_type, Body::Text(form.clone()))
        .await;
    expect(path, Method::POST, &redeemed, 200, None);
    let again = browser
        .request(Method::POST, path, &form_type, Body::Text(form))
        .await;
    expect(path, Method::POST, &again, 400, Some("invalid_grant"));
    let bad_json = browser
        .request(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            Body::Text("{".into()),
        )
        .await;
    expect(path, Method::POST, &bad_json, 400, Some("invalid_request"));

    let preflight = browser
        .request(Method::OPTIONS, path, &fetch_headers(), Body::Empty)
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);
}

#[tokio::test]
async fn health_answers_are_documented() {
    let path = "/auth/health";
    let (h, _up) = rig().await;
    let mut browser = h.browser();
    for uri in ["/auth/health", "/auth/health?deep=1"] {
        let reply = browser.get(uri).await;
        expect(path, Method::GET, &reply, 200, None);
    }
    let bad = browser.get("/auth/health?deep=2").await;
    expect(path, Method::GET, &bad, 400, Some("invalid_request"));
    let preflight = browser
        .request(Method::OPTIONS, path, &fetch_headers(), Body::Empty)
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);
}

#[tokio::test]
async fn proxy_answers_are_documented() {
    let path = "/api/{api}/{proxy}";
    let (h, _up) = rig().await;
    let mut browser = h.browser();
    let fetch = fetch_headers();

    let anonymous = browser
        .request(Method::GET, "/api/up/v1/items", &fetch, Body::Empty)
        .await;
    expect(path, Method::GET, &anonymous, 401, Some("unauthenticated"));
    let preflight = browser
        .request(Method::OPTIONS, "/api/up/v1/items", &fetch, Body::Empty)
        .await;
    expect(path, Method::OPTIONS, &preflight, 204, None);

    browser.sign_in("dev", "alice").await;
    for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"] {
        let method: Method = method.parse().unwrap();
        let reply = browser
            .request(method.clone(), "/api/up/v1/items", &fetch, Body::Empty)
            .await;
        expect(path, method, &reply, 200, None);
    }
    let no_header = browser
        .request(Method::GET, "/api/up/v1/items", &[], Body::Empty)
        .await;
    expect(path, Method::GET, &no_header, 403, Some("csrf_rejected"));
    let unknown = browser
        .request(Method::GET, "/api/nope/v1/items", &fetch, Body::Empty)
        .await;
    expect(path, Method::GET, &unknown, 404, Some("unknown_api"));
    let not_listed = browser
        .request(Method::PUT, "/api/readonly/v1/items", &fetch, Body::Empty)
        .await;
    expect(
        path,
        Method::PUT,
        &not_listed,
        405,
        Some("method_not_allowed"),
    );
    assert_eq!(not_listed.header("allow"), Some("GET, HEAD"));
    let escaping = browser
        .request(Method::GET, "/api/up/v1%2F..%2F..%2Fx", &fetch, Body::Empty)
        .await;
    expect(path, Method::GET, &escaping, 400, Some("invalid_request"));
    let too_big = browser
        .request(
            Method::POST,
            "/api/up/v1/items",
            &fetch,
            Body::Binary(vec![b'x'; 6 * 1024 * 1024 + 1]),
        )
        .await;
    expect(path, Method::POST, &too_big, 413, Some("payload_too_large"));
    let down = browser
        .request(Method::GET, "/api/down/x", &fetch, Body::Empty)
        .await;
    expect(path, Method::GET, &down, 502, Some("upstream_unavailable"));

    let mut other = h.browser();
    other.sign_in("other", "bob").await;
    let wrong = other
        .request(Method::GET, "/api/up/v1/items", &fetch, Body::Empty)
        .await;
    expect(path, Method::GET, &wrong, 403, Some("wrong_provider"));
}

/// The request headers the description's security rule names are the ones the code reads.
#[test]
fn the_cookie_scheme_and_csrf_header_are_the_ones_the_code_reads() {
    let cookie = &SPEC["components"]["securitySchemes"]["sessionCookie"];
    assert_eq!(cookie["type"], "apiKey");
    assert_eq!(cookie["in"], "cookie");
    assert_eq!(
        cookie["name"],
        shared::edge::Cookies::new(true).session_name()
    );
    let bearer = &SPEC["components"]["securitySchemes"]["sessionBearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    let csrf = resolve(&SPEC["components"]["parameters"]["XRequestedWith"]);
    assert_eq!(csrf["in"], "header");
    assert_eq!(csrf["schema"]["const"], "fetch");
    let name = HeaderName::from_bytes(csrf["name"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(name, HeaderName::from_static("x-requested-with"));
    // Each state-changing cookie route documents the header.
    for route in ["/auth/refresh", "/auth/logout", "/api/{api}/{proxy}"] {
        let params = paths()[route]["parameters"].as_array().unwrap();
        assert!(
            params.iter().any(|p| resolve(p)["name"] == csrf["name"]),
            "openapi.yaml: {route} should document the X-Requested-With parameter"
        );
    }
}
