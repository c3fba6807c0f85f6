//! The application: configuration, store, HTTP client, providers, clock and randomness, built
//! once per cold start. Which route goes to which flow is decided in [`crate::routes`].

use std::sync::{Arc, OnceLock};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Encryption, StoreConfig};
use crate::deps::Deps;
use crate::edge::{Cookies, Request, Response};
use crate::events::{self, EventLog};
use crate::flow::Settings;
use crate::provider::client::HttpClient;
use crate::provider::{Provider, Providers};
use crate::random::{OsRandom, Random};
use crate::store::Store;
use crate::store::dynamodb::{DynamoSettings, DynamoStore};
use crate::store::memory::MemoryStore;
use crate::types::ProviderId;

pub use crate::routes::Function;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The configuration could not be read from its source.
    #[error("reading the configuration")]
    Source(#[source] crate::source::SourceError),
    /// Encryption keys are required for a store outside this process.
    #[error("encryption.keys is required for DynamoDB")]
    NoKeys,
    /// The trusted certificate authorities could not be assembled.
    #[error("assembling the trusted certificate authorities")]
    Tls(#[source] crate::tls::TlsError),
    /// The KMS-wrapped data keys (`encryption.wrapped_keys`) could not be unwrapped.
    #[error("unwrapping the data keys with KMS")]
    Kms(#[source] crate::kms::KmsError),
}

/// The keyring `encryption` names: raw keys as they are, KMS-wrapped keys unwrapped (one KMS
/// client, only when they are configured). The functions and `admin` both start here.
pub async fn keyring(
    encryption: Option<Encryption>,
) -> Result<Option<crate::crypto::Keyring>, StartupError> {
    Ok(match encryption {
        None => None,
        Some(Encryption::Keys(keyring)) => Some(keyring),
        Some(Encryption::Kms(kms)) => Some(
            crate::kms::unwrap_keys(&kms)
                .await
                .map_err(StartupError::Kms)?,
        ),
    })
}

/// Everything a request needs, built once per cold start: configuration, store, HTTP client,
/// providers, clock and randomness, plus each function's route table built on first use.
pub struct App {
    shared: Arc<Shared>,
    routers: [OnceLock<axum::Router>; Function::COUNT],
}

/// The part of [`App`] the route handlers hold.
pub struct Shared {
    config: Config,
    settings: Settings,
    store: Arc<dyn Store>,
    http: HttpClient,
    providers: Providers,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    cookies: Cookies,
    events: EventLog,
}

impl std::ops::Deref for App {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl App {
    /// Builds the application from a configuration and a store. Keys wrapped by KMS are not
    /// unwrapped here (see [`App::from_config`]): with them, events hash under a random key.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, StartupError> {
        let hash_key = config
            .encryption
            .as_ref()
            .and_then(Encryption::keyring)
            .and_then(|k| k.derived_key(events::HASH_KEY_LABEL).ok());
        Self::build(config, store, hash_key)
    }

    /// [`App::new`] with the key security events hash subjects and sessions under (derived
    /// from the first encryption key, so hashes match across instances); `None`: a random one.
    fn build(
        mut config: Config,
        store: Arc<dyn Store>,
        hash_key: Option<aws_lc_rs::hmac::Key>,
    ) -> Result<Self, StartupError> {
        let sink: Arc<dyn events::Sink> = Arc::new(events::Stdout);
        let events = match hash_key {
            Some(key) => EventLog::new(sink, key),
            None => EventLog::ephemeral(sink),
        };
        let http = HttpClient::new().map_err(StartupError::Tls)?;
        let providers = std::mem::take(&mut config.providers)
            .into_iter()
            .map(|(id, cfg)| (id, Provider::new(cfg)))
            .collect();
        Ok(Self::from_shared(Shared {
            cookies: Cookies::new(config.cookie_secure),
            settings: Settings::from_config(&config),
            config,
            store,
            http,
            providers,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            events,
        }))
    }

    /// Builds the application with the store the configuration names (clients built once).
    /// KMS-wrapped keys are unwrapped here, once; raw keys build no KMS client.
    pub async fn from_config(mut config: Config) -> Result<Self, StartupError> {
        let keyring = keyring(config.encryption.take()).await?;
        let hash_key = keyring
            .as_ref()
            .and_then(|k| k.derived_key(events::HASH_KEY_LABEL).ok());
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
                    create_table: *create_table,
                };
                let store = DynamoStore::connect(&settings, keyring)
                    .await
                    .map_err(StartupError::Tls)?;
                Arc::new(store)
            }
        };
        Self::build(config, store, hash_key)
    }

    fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
            routers: Default::default(),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.with_parts(|s| s.clock = clock)
    }

    /// Replaces the source of randomness (tests).
    pub fn with_random(self, random: Arc<dyn Random>) -> Self {
        self.with_parts(|s| s.random = random)
    }

    /// Writes security events (and metrics) to `sink` instead of standard output (tests).
    pub fn with_event_sink(self, sink: Arc<dyn events::Sink>) -> Self {
        self.with_parts(|s| s.events.set_sink(sink))
    }

    /// Adds a CloudWatch Embedded Metric Format line in `namespace` to each request (Lambda).
    pub fn with_metrics(self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        self.with_parts(|s| s.events.set_metrics(namespace))
    }

    fn with_parts(self, change: impl FnOnce(&mut Shared)) -> Self {
        let Ok(mut shared) = Arc::try_unwrap(self.shared) else {
            unreachable!("an App is changed only before it is shared")
        };
        change(&mut shared);
        Self::from_shared(shared)
    }

    /// Handles any route (the local runner, tests).
    pub async fn handle(&self, req: Request) -> Response {
        self.handle_for(Function::All, req).await
    }

    /// Makes the store ready before the first request ([`Store::prepare`]): for servers.
    pub async fn prepare_store(&self) -> Result<(), crate::store::StoreError> {
        self.store.prepare().await
    }

    /// Answers an API Gateway authorizer event (payload 2.0) with a simple response; a store
    /// failure is an error (API Gateway then answers 500 and caches nothing).
    pub async fn authorize(
        &self,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, crate::store::StoreError> {
        let started = std::time::Instant::now();
        let req = crate::edge::request_from_authorizer_event(event);
        let (decision, notes) = events::collect(crate::flow::authorize::decide(
            self.shared.deps(),
            self.shared.cookies,
            &req,
        ))
        .await;
        let mut context = crate::edge::authorizer_event_context(event);
        context.duration_ms = started.elapsed().as_millis() as u64;
        self.events
            .record(events::Route::Authorizer, false, &context, &notes);
        Ok(decision?.simple_response())
    }

    /// Handles a request as `function` would: routes of other functions answer 404.
    pub async fn handle_for(&self, function: Function, req: Request) -> Response {
        crate::routes::serve(self.router(function), req, &self.events, function).await
    }

    /// `function`'s route table, built on first use; a Lambda binary builds its own at start-up
    /// so that the first request does not pay for it.
    pub fn router(&self, function: Function) -> &axum::Router {
        self.routers[function as usize]
            .get_or_init(|| crate::routes::router(Arc::clone(&self.shared), function))
    }
}

impl Shared {
    /// A configured provider.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        ProviderId::parse(id).and_then(|id| self.providers.get(&id))
    }

    /// The ports the flows take.
    pub fn deps(&self) -> Deps<'_> {
        Deps {
            store: self.store.as_ref(),
            http: &self.http,
            clock: self.clock.as_ref(),
            random: self.random.as_ref(),
        }
    }

    /// The configuration values the flows act on.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The configured providers.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The cookies' names and attributes.
    pub fn cookies(&self) -> Cookies {
        self.cookies
    }
}
