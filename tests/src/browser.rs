//! An in-process browser: sends requests to `App::handle`, keeps a cookie jar from
//! `Set-Cookie`, and walks the login flow by following redirects by hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use dev_provider::DevProvider;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use lambda_http::Body;
use serde_json::Value;
use shared::App;

use crate::harness::PUBLIC_BASE_URL;

/// A response of the token handler, body as text.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (lossy UTF-8 for a binary body).
    pub body: String,
}

impl Reply {
    fn from_response(resp: http::Response<Body>) -> Self {
        let (parts, body) = resp.into_parts();
        let body = match body {
            Body::Empty => String::new(),
            Body::Text(t) => t,
            Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        };
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// One header as text (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` header; panics when absent.
    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location in {self:?}"))
    }

    /// The body as JSON; panics when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// Every `Set-Cookie`, parsed.
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SetCookie::parse)
            .collect()
    }

    /// The `Set-Cookie` for `name`, if any (panics when there are several).
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        let mut found: Vec<SetCookie> = self
            .set_cookies()
            .into_iter()
            .filter(|c| c.name == name)
            .collect();
        assert!(found.len() <= 1, "several Set-Cookie for {name}: {found:?}");
        found.pop()
    }

    /// Asserts a contract error: this status, JSON content type, and a body of exactly
    /// `error` (= `code`) and a string `error_description`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {self:?}"
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "errors are JSON: {self:?}"
        );
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(body["error"], code, "error code in {self:?}");
        assert!(
            body["error_description"].is_string(),
            "error_description in {self:?}"
        );
        assert_eq!(object.len(), 2, "only error and error_description: {body}");
    }
}

/// A parsed `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
    /// Attributes, names lower-cased, in order.
    pub attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    /// Parses `name=value; Attr; Attr=v`.
    pub fn parse(raw: &str) -> Self {
        let mut parts = raw.split(';');
        let (name, value) = parts
            .next()
            .and_then(|p| p.split_once('='))
            .unwrap_or_else(|| panic!("malformed Set-Cookie {raw:?}"));
        let attributes = parts
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                None => (p.to_ascii_lowercase(), None),
            })
            .collect();
        Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
        }
    }

    /// The value of attribute `name` (case-insensitive), if present.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// True when the flag attribute `name` (e.g. `Secure`) is present.
    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// True when this header deletes the cookie.
    pub fn is_removal(&self) -> bool {
        self.attribute("max-age") == Some("0") || self.value.is_empty()
    }
}

/// A login that reached the provider and was approved, but whose callback was not delivered.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The provider's authorization URL the token handler redirected to.
    pub authorization_url: String,
    /// The `state` in it.
    pub state: String,
    /// Where the provider sends the browser back (absolute, on [`PUBLIC_BASE_URL`]).
    pub callback_url: String,
}

impl Pending {
    /// The authorization code in the callback URL.
    pub fn code(&self) -> String {
        crate::query_param(&self.callback_url, "code")
    }

    /// The callback as path and query, as the token handler receives it.
    pub fn callback_path(&self) -> String {
        path_of(&self.callback_url)
    }
}

/// `/path?query` of an absolute URL on the token handler's host.
fn path_of(url: &str) -> String {
    let rest = url
        .strip_prefix(PUBLIC_BASE_URL)
        .unwrap_or_else(|| panic!("{url} is not on {PUBLIC_BASE_URL}"));
    assert!(rest.starts_with('/'), "{url} has no path");
    rest.to_owned()
}

/// A browser: cookie jar, `Host: auth.example.test`, redirects followed by hand.
#[derive(Clone)]
pub struct Browser {
    app: Arc<App>,
    provider: DevProvider,
    jar: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with an empty jar.
    pub fn new(app: Arc<App>, provider: DevProvider) -> Self {
        Self {
            app,
            provider,
            jar: BTreeMap::new(),
        }
    }

    /// The same browser (same cookies) talking to another instance of the token handler.
    pub fn on(&self, app: Arc<App>) -> Self {
        Self {
            app,
            provider: self.provider.clone(),
            jar: self.jar.clone(),
        }
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).cloned()
    }

    /// Puts a cookie in the jar (as if another site or an attacker had set it).
    pub fn put_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// Empties the jar.
    pub fn clear_cookies(&mut self) {
        self.jar.clear();
    }

    /// The `Cookie` header this browser would send.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.jar.is_empty()).then(|| {
            self.jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Sends `req` to the app: adds `Host` and this browser's cookies unless the request sets
    /// them itself, then stores the cookies of the answer.
    pub async fn send(&mut self, mut req: http::Request<Body>) -> Reply {
        let headers = req.headers_mut();
        if !headers.contains_key(header::HOST) {
            headers.insert(header::HOST, HeaderValue::from_static("auth.example.test"));
        }
        if !headers.contains_key(header::COOKIE)
            && let Some(cookies) = self.cookie_header()
        {
            headers.insert(
                header::COOKIE,
                HeaderValue::from_str(&cookies).expect("cookie jar holds header-safe values"),
            );
        }
        let reply = Reply::from_response(self.app.handle(req).await);
        for c in reply.set_cookies() {
            if c.is_removal() {
                self.jar.remove(&c.name);
            } else {
                self.jar.insert(c.name.clone(), c.value.clone());
            }
        }
        reply
    }

    /// Sends `method path` with extra headers and a body.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Reply {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        self.send(builder.body(body).expect("request builds")).await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Body::Empty).await
    }

    /// `POST path` the way the SPA's `fetch` does: `X-Requested-With: fetch`, the allowed
    /// `Origin`, a JSON body when given.
    pub async fn fetch_post(&mut self, path: &str, json: Option<&str>) -> Reply {
        let mut headers = vec![
            ("x-requested-with", "fetch"),
            ("origin", crate::harness::APP_ORIGIN),
        ];
        let body = match json {
            Some(text) => {
                headers.push(("content-type", "application/json"));
                Body::Text(text.to_owned())
            }
            None => Body::Empty,
        };
        self.request(Method::POST, path, &headers, body).await
    }

    /// `POST /auth/refresh` from the SPA, with `{"force": true}` when `force`.
    pub async fn refresh(&mut self, force: bool) -> Reply {
        let body = force.then_some(r#"{"force": true}"#);
        self.fetch_post("/auth/refresh", body).await
    }

    /// `GET /auth/session`.
    pub async fn session(&mut self) -> Reply {
        self.get("/auth/session").await
    }

    /// `POST /auth/logout` from the SPA.
    pub async fn logout(&mut self) -> Reply {
        self.fetch_post("/auth/logout", None).await
    }

    /// `GET /auth/{provider}/login`, with `return_to` when given.
    pub async fn start_login(&mut self, provider: &str, return_to: Option<&str>) -> Reply {
        let mut path = format!("/auth/{provider}/login");
        if let Some(rt) = return_to {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", rt)
                .finish();
            path.push('?');
            path.push_str(&q);
        }
        self.get(&path).await
    }

    /// Login, then approval at the provider as `subject`; the callback is not delivered.
    pub async fn begin(
        &mut self,
        provider: &str,
        subject: &str,
        return_to: Option<&str>,
    ) -> Pending {
        let login = self.start_login(provider, return_to).await;
        assert_eq!(login.status, StatusCode::FOUND, "login: {login:?}");
        let authorization_url = login.location().to_owned();
        let state = crate::query_param(&authorization_url, "state");
        let callback_url = self
            .provider
            .approve(&authorization_url, subject)
            .unwrap_or_else(|e| panic!("the provider refused the authorization request: {e}"));
        Pending {
            authorization_url,
            state,
            callback_url,
        }
    }

    /// Delivers a callback (an absolute URL on the token handler's host).
    pub async fn follow(&mut self, url: &str) -> Reply {
        self.get(&path_of(url)).await
    }

    /// The whole flow as `subject`; returns the callback's answer without judging it.
    pub async fn try_sign_in(
        &mut self,
        provider: &str,
        subject: &str,
        return_to: Option<&str>,
    ) -> Reply {
        let pending = self.begin(provider, subject, return_to).await;
        self.follow(&pending.callback_url).await
    }

    /// The whole flow as `subject`; asserts it signed in and returns the session id.
    pub async fn sign_in(&mut self, provider: &str, subject: &str) -> String {
        let reply = self.try_sign_in(provider, subject, None).await;
        assert_eq!(reply.status, StatusCode::FOUND, "callback: {reply:?}");
        assert_eq!(reply.location(), "/", "callback: {reply:?}");
        self.session_id().expect("a session cookie after sign-in")
    }

    /// The session cookie's value (secure or development name).
    pub fn session_id(&self) -> Option<String> {
        self.cookie("__Host-session")
            .or_else(|| self.cookie("session"))
    }
}
