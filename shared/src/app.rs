//! The application: configuration, store, HTTP client and providers, built once per cold start,
//! and the router that sends each request to its flow.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::Method;
use tracing::Instrument;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StoreConfig};
use crate::edge::{ApiError, Cookies, Request, Response, finish};
use crate::flow;
use crate::provider::Provider;
use crate::provider::client::HttpClient;
use crate::store::Store;
use crate::store::dynamodb::{DynamoSettings, DynamoStore};
use crate::store::memory::MemoryStore;
use crate::types::ProviderId;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The configuration could not be read from its source.
    #[error("reading the configuration")]
    Source(#[source] crate::source::SourceError),
    /// The outbound HTTP client could not be built.
    #[error("building the HTTP client")]
    Http(#[source] crate::provider::client::FetchError),
    /// Encryption keys are required for a store outside this process.
    #[error("encryption.keys is required for DynamoDB")]
    NoKeys,
    /// The table could not be created (`create_table = true`).
    #[error("creating the table")]
    Store(#[source] crate::store::StoreError),
}

/// Which Lambda function is running; each answers only its own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `GET /auth/{provider}/login`
    Login,
    /// `GET /auth/{provider}/callback`
    Callback,
    /// `POST /auth/refresh`
    Refresh,
    /// `GET /auth/session`, `POST /auth/logout`, `POST /auth/token`
    Session,
    /// Everything (the local runner).
    All,
}

/// A request's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Login(&'a str),
    Callback(&'a str),
    Refresh,
    Session,
    Logout,
    Token,
}

impl Route<'_> {
    fn name(self) -> &'static str {
        match self {
            Route::Login(_) => "login",
            Route::Callback(_) => "callback",
            Route::Refresh => "refresh",
            Route::Session => "session",
            Route::Logout => "logout",
            Route::Token => "token",
        }
    }

    fn function(self) -> Function {
        match self {
            Route::Login(_) => Function::Login,
            Route::Callback(_) => Function::Callback,
            Route::Refresh => Function::Refresh,
            Route::Session | Route::Logout | Route::Token => Function::Session,
        }
    }

    fn method(self) -> Method {
        match self {
            Route::Login(_) | Route::Callback(_) | Route::Session => Method::GET,
            Route::Refresh | Route::Logout | Route::Token => Method::POST,
        }
    }
}

/// Matches the end of the path, so a stage prefix (`/prod/auth/...`) does not matter.
fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "auth", p, "login"] => Some(Route::Login(p)),
        [.., "auth", p, "callback"] => Some(Route::Callback(p)),
        [.., "auth", "refresh"] => Some(Route::Refresh),
        [.., "auth", "session"] => Some(Route::Session),
        [.., "auth", "logout"] => Some(Route::Logout),
        [.., "auth", "token"] => Some(Route::Token),
        _ => None,
    }
}

/// Everything a request needs, built once per cold start.
pub struct App {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) http: HttpClient,
    pub(crate) providers: BTreeMap<ProviderId, Provider>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cookies: Cookies,
}

impl App {
    /// Builds the application from a configuration and a store.
    pub fn new(mut config: Config, store: Arc<dyn Store>) -> Result<Self, StartupError> {
        let http = HttpClient::new().map_err(StartupError::Http)?;
        let providers = std::mem::take(&mut config.providers)
            .into_iter()
            .map(|(id, cfg)| (id, Provider::new(cfg)))
            .collect();
        Ok(Self {
            cookies: Cookies::new(config.cookie_secure),
            config,
            store,
            http,
            providers,
            clock: Arc::new(SystemClock),
        })
    }

    /// Builds the application with the store the configuration names (clients built once).
    pub async fn from_config(mut config: Config) -> Result<Self, StartupError> {
        let keyring = config.encryption.take();
        let store: Arc<dyn Store> = match &config.store {
            StoreConfig::Memory => Arc::new(match keyring {
                Some(k) => MemoryStore::with_keyring(k),
                None => MemoryStore::new(),
            }),
            StoreConfig::Dynamodb {
                table,
                endpoint,
                region,
                create_table,
            } => {
                let keyring = keyring.ok_or(StartupError::NoKeys)?;
                let settings = DynamoSettings {
                    table: table.clone(),
                    endpoint: endpoint.clone(),
                    region: region.clone(),
                };
                let store = DynamoStore::connect(&settings, keyring).await;
                if *create_table {
                    store.ensure_table().await.map_err(StartupError::Store)?;
                }
                Arc::new(store)
            }
        };
        Self::new(config, store)
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A configured provider.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        ProviderId::parse(id).and_then(|id| self.providers.get(&id))
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Handles any route (the local runner).
    pub async fn handle(&self, req: Request) -> Response {
        self.handle_for(Function::All, req).await
    }

    /// Handles a request as `function` would: routes of other functions answer 404.
    pub async fn handle_for(&self, function: Function, req: Request) -> Response {
        let started = Instant::now();
        let route_name = self.route_for(function, &req).map_or("none", |r| r.name());
        let span = tracing::info_span!(
            "request",
            request_id = %request_id(&req),
            route = route_name,
        );
        async move {
            let resp = self.dispatch(function, &req).await;
            tracing::info!(
                status = resp.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "handled"
            );
            finish(resp)
        }
        .instrument(span)
        .await
    }

    fn route_for<'r>(&self, function: Function, req: &'r Request) -> Option<Route<'r>> {
        route(req.uri().path()).filter(|r| function == Function::All || r.function() == function)
    }

    async fn dispatch(&self, function: Function, req: &Request) -> Response {
        let Some(route) = self.route_for(function, req) else {
            return ApiError::NotFound.response();
        };
        if req.method() == Method::OPTIONS {
            let origin = crate::edge::allowed_origin(req, &self.config.allowed_origins);
            return crate::edge::preflight(origin);
        }
        if req.method() != route.method() {
            let mut resp = ApiError::MethodNotAllowed.response();
            if let Ok(allow) = http::HeaderValue::from_str(route.method().as_str()) {
                resp.headers_mut().insert(http::header::ALLOW, allow);
            }
            return resp;
        }
        match route {
            Route::Login(p) => flow::login::handle(self, p, req).await,
            Route::Callback(p) => flow::callback::handle(self, p, req).await,
            Route::Refresh => flow::refresh::handle(self, req).await,
            Route::Session => flow::session::handle_info(self, req).await,
            Route::Logout => flow::session::handle_logout(self, req).await,
            Route::Token => flow::handoff::handle(self, req).await,
        }
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

    #[test]
    fn routes_match_with_or_without_a_stage_prefix() {
        assert_eq!(route("/auth/google/login"), Some(Route::Login("google")));
        assert_eq!(
            route("/prod/auth/google/callback"),
            Some(Route::Callback("google"))
        );
        assert_eq!(route("/auth/refresh"), Some(Route::Refresh));
        assert_eq!(route("/auth/session/"), Some(Route::Session));
        assert_eq!(route("/auth/google"), None);
        assert_eq!(route("/other"), None);
    }
}
