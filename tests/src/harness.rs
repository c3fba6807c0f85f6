//! The harness: one dev provider on 127.0.0.1, an [`App`] built from TOML text pointing at it,
//! a [`MemoryStore`] the test can inspect and a fake clock it can move.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dev_provider::{Behavior, Client, DevProvider, Stats};
use shared::App;
use shared::clock::Clock;
use shared::config::Config;
use shared::store::Session;
use tokio::task::JoinHandle;

use crate::browser::Browser;
use crate::stores::{BackendKind, StoreHandle};

/// Where the token handler is configured to live.
pub const PUBLIC_BASE_URL: &str = "https://auth.example.test";
/// The one frontend origin allowed.
pub const APP_ORIGIN: &str = "https://app.example.test";
/// The provider name of the default harness.
pub const PROVIDER: &str = "dev";

/// The OAuth client id the harness registers for `provider`.
pub fn client_id(provider: &str) -> String {
    format!("{provider}-client")
}

/// The client secret the harness registers for `provider`; distinctive, so logs can be searched.
pub fn client_secret(provider: &str) -> String {
    format!("{provider}-Secret-Zq8vW3kR5mN7pT2x")
}

fn secret_var(provider: &str) -> String {
    format!("SECRET_{}", provider.to_ascii_uppercase().replace('-', "_"))
}

/// A clock the test moves by hand; starts at the system time so that tokens the dev provider
/// signs with real timestamps stay valid. A real-time one also moves on by itself.
pub struct FakeClock {
    /// Seconds added by hand (real time) or the time itself (stopped).
    value: AtomicU64,
    real_time: bool,
}

impl FakeClock {
    /// A stopped clock at the current system time.
    pub fn at_system_time() -> Arc<Self> {
        Arc::new(Self {
            value: AtomicU64::new(shared::clock::SystemClock.now()),
            real_time: false,
        })
    }

    /// A clock that follows the system time (plus whatever [`FakeClock::advance`] adds), for
    /// tests where leases must run out in real time.
    pub fn real_time() -> Arc<Self> {
        Arc::new(Self {
            value: AtomicU64::new(0),
            real_time: true,
        })
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.value.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        let value = self.value.load(Ordering::SeqCst);
        if self.real_time {
            shared::clock::SystemClock.now() + value
        } else {
            value
        }
    }
}

/// How to build a [`Harness`].
pub struct HarnessBuilder {
    providers: Vec<(String, String)>,
    /// `[providers.<name>]` tables written as given, not backed by the dev provider.
    blocks: Vec<(String, String)>,
    settings: Vec<String>,
    cookie_secure: bool,
    backend: BackendKind,
    real_time: bool,
}

impl HarnessBuilder {
    /// The app's clock follows real time instead of standing still.
    pub fn real_time_clock(mut self) -> Self {
        self.real_time = true;
        self
    }

    /// Runs on this storage backend (the embedded store unless changed).
    pub fn backend(mut self, backend: BackendKind) -> Self {
        self.backend = backend;
        self
    }

    /// Adds a provider `name` (client `{name}-client` on the shared dev provider) with extra
    /// TOML lines for its table (e.g. `token_endpoint_auth_method = "client_secret_post"`).
    /// Lines naming `preset` or `scopes` replace the defaults (`oidc`, openid email profile
    /// offline_access); `{issuer}` in them stands for the dev provider's issuer.
    pub fn provider(mut self, name: &str, extra_toml: &str) -> Self {
        self.providers
            .push((name.to_owned(), extra_toml.to_owned()));
        self
    }

    /// Adds a provider table `[providers.{name}]` made of exactly `toml_lines` (for a provider
    /// served by something other than the dev provider, e.g. a fixture server). It leaves the
    /// dev provider alone: without [`HarnessBuilder::provider`] the default `dev` provider is
    /// still configured. `client_secret = "${SECRET_<NAME>}"` resolves to
    /// [`client_secret`]`(name)`.
    pub fn provider_block(mut self, name: &str, toml_lines: &str) -> Self {
        self.blocks.push((name.to_owned(), toml_lines.to_owned()));
        self
    }

    /// Adds a top-level TOML line (e.g. `refresh_skew = "60s"`).
    pub fn setting(mut self, line: &str) -> Self {
        self.settings.push(line.to_owned());
        self
    }

    /// `cookie_secure` (true unless changed).
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.cookie_secure = secure;
        self
    }

    /// Starts the dev provider and builds the app.
    pub async fn spawn(mut self) -> Harness {
        if self.providers.is_empty() {
            self.providers.push((PROVIDER.to_owned(), String::new()));
        }
        let clients = self
            .providers
            .iter()
            .map(|(name, _)| Client {
                client_id: client_id(name),
                client_secret: client_secret(name),
                redirect_uris: vec![format!("{PUBLIC_BASE_URL}/auth/{name}/callback")],
            })
            .collect();
        let (provider, server) = DevProvider::spawn(clients).await;
        let config_text = self.config_text(&provider.issuer());
        let names: Vec<String> = self
            .providers
            .iter()
            .chain(&self.blocks)
            .map(|(n, _)| n.clone())
            .collect();
        let config = Config::from_toml(&config_text, |var| {
            names
                .iter()
                .find(|n| secret_var(n) == var)
                .map(|n| client_secret(n))
        })
        .unwrap_or_else(|e| panic!("test configuration refused: {e}\n{config_text}"));
        let store = StoreHandle::new(self.backend).await;
        let clock = if self.real_time {
            FakeClock::real_time()
        } else {
            FakeClock::at_system_time()
        };
        let events = Arc::new(shared::events::Memory::default());
        let app = App::new(config, store.as_store())
            .expect("app builds")
            .with_clock(Arc::clone(&clock) as Arc<dyn Clock>)
            .with_event_sink(Arc::clone(&events) as Arc<dyn shared::events::Sink>)
            .with_metrics(METRICS_NAMESPACE);
        Harness {
            provider,
            app: Arc::new(app),
            events,
            store,
            clock,
            config_text,
            provider_names: names,
            server,
        }
    }

    fn config_text(&self, issuer: &str) -> String {
        let mut text = format!(
            "public_base_url = \"{PUBLIC_BASE_URL}\"\n\
             allowed_origins = [\"{APP_ORIGIN}\"]\n\
             cookie_secure = {}\n",
            self.cookie_secure
        );
        for line in &self.settings {
            text.push_str(line);
            text.push('\n');
        }
        for (name, extra) in &self.providers {
            // `extra` may name its own preset and scopes; `{issuer}` in it is the dev provider's.
            let extra = extra.replace("{issuer}", issuer);
            let preset = if extra.contains("preset =") {
                ""
            } else {
                "preset = \"oidc\"\n"
            };
            let scopes = if extra.contains("scopes =") {
                ""
            } else {
                "scopes = [\"openid\", \"email\", \"profile\", \"offline_access\"]\n"
            };
            text.push_str(&format!(
                "\n[providers.{name}]\n\
                 {preset}\
                 issuer = \"{issuer}\"\n\
                 client_id = \"{}\"\n\
                 client_secret = \"${{{}}}\"\n\
                 {scopes}\
                 {extra}\n",
                client_id(name),
                secret_var(name),
            ));
        }
        for (name, lines) in &self.blocks {
            text.push_str(&format!("\n[providers.{name}]\n{lines}\n"));
        }
        text
    }
}

/// The metrics namespace the harness's app writes EMF lines in.
pub const METRICS_NAMESPACE: &str = "TokenHandlerTest";

/// A running dev provider and an app configured against it.
pub struct Harness {
    /// The dev provider (behaviour switches, stats, approval).
    pub provider: DevProvider,
    /// The token handler under test.
    pub app: Arc<App>,
    /// The app's store, kept to inspect it.
    pub store: StoreHandle,
    /// The app's clock.
    pub clock: Arc<FakeClock>,
    /// The security events and metrics lines the app wrote.
    pub events: Arc<shared::events::Memory>,
    /// The configuration the app was built from.
    pub config_text: String,
    provider_names: Vec<String>,
    server: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    /// One provider called [`PROVIDER`], secure cookies, defaults everywhere else.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// A builder for other set-ups.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            providers: Vec::new(),
            blocks: Vec::new(),
            settings: Vec::new(),
            cookie_secure: true,
            backend: BackendKind::Memory,
            real_time: false,
        }
    }

    /// Another instance of the token handler, as a separate Lambda instance would be: its own
    /// App (HTTP client, caches) and its own store client on the same data, the same clock.
    pub async fn another_instance(&self) -> Arc<App> {
        let names = self.provider_names.clone();
        let config = Config::from_toml(&self.config_text, |var| {
            names
                .iter()
                .find(|n| secret_var(n) == var)
                .map(|n| client_secret(n))
        })
        .expect("the harness configuration is valid");
        let app = App::new(config, self.store.another_instance().await)
            .expect("app builds")
            .with_clock(Arc::clone(&self.clock) as Arc<dyn Clock>)
            .with_event_sink(Arc::clone(&self.events) as Arc<dyn shared::events::Sink>)
            .with_metrics(METRICS_NAMESPACE);
        Arc::new(app)
    }

    /// Signs in with the provider misbehaving as `behavior`; asserts the login failed cleanly:
    /// back to `return_to` with `error=login_failed`, no session cookie, the transaction cookie
    /// cleared, the code exchanged once, nothing stored.
    pub async fn assert_login_failed(&self, name: &str, behavior: Behavior) {
        self.set_behavior(behavior);
        let grants_before = self.stats().authorization_code_grants;
        let mut browser = self.browser();

        let reply = browser.try_sign_in("dev", "alice", Some("/app/home")).await;

        assert_eq!(reply.status, http::StatusCode::FOUND, "{name}: {reply:?}");
        assert_eq!(reply.location(), "/app/home?error=login_failed", "{name}");
        assert!(
            reply.set_cookie("__Host-session").is_none(),
            "{name}: {reply:?}"
        );
        assert!(browser.session_id().is_none(), "{name}");
        assert_eq!(
            reply.set_cookie("__Host-auth_tx").map(|c| c.is_removal()),
            Some(true),
            "{name}: transaction cookie cleared"
        );
        assert_eq!(
            self.stats().authorization_code_grants,
            grants_before + 1,
            "{name}: the code was exchanged"
        );
        assert_eq!(
            self.store.session_count().await,
            0,
            "{name}: nothing stored"
        );
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser::new(Arc::clone(&self.app), self.provider.clone())
    }

    /// What the provider has seen so far.
    pub fn stats(&self) -> Stats {
        self.provider.stats()
    }

    /// Switches the provider's behaviour.
    pub fn set_behavior(&self, behavior: Behavior) {
        self.provider.set_behavior(behavior);
    }

    /// Seconds of the app's `force_refresh_window` (from the configuration it was built from).
    pub fn app_force_window(&self) -> u64 {
        let names = self.provider_names.clone();
        Config::from_toml(&self.config_text, |var| {
            names
                .iter()
                .find(|n| secret_var(n) == var)
                .map(|n| client_secret(n))
        })
        .expect("the harness configuration is valid")
        .force_refresh_window
        .as_secs()
    }

    /// The app's current time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The issuer of the dev provider.
    pub fn issuer(&self) -> String {
        self.provider.issuer()
    }

    /// The session stored under `key` (the store's key, not the cookie value).
    pub async fn stored_session(&self, key: &str) -> Option<Session> {
        self.store
            .get_session(key, self.now())
            .await
            .expect("the store answers")
    }

    /// The session a session id (cookie value or bearer token) names, looked up by its hash.
    pub async fn session_for(&self, session_id: &str) -> Session {
        self.stored_session(&crate::sha256_b64url(session_id))
            .await
            .expect("a stored session for this session id")
    }
}
