//! Test doubles for the flows' ports and the setup the flow tests share: a clock the test moves,
//! counter-based randomness, the dev provider answering in-process (no sockets), and a
//! [`Harness`] that wires them to a [`MemoryStore`] and a configuration pointing at the dev
//! provider.

use std::time::Duration;

use dev_provider::{Client, DevProvider};
use url::Url;

use super::Settings;
use super::callback::{self, CallbackParams, Outcome};
use super::login::{self, LoginRequest, LoginStarted};
use crate::clock::Clock;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::deps::Deps;
use crate::edge::{ApiError, Query};
use crate::provider::client::{FetchError, Outbound};
use crate::provider::{Provider, Providers};
use crate::random::Random;
use crate::secret::{AccessToken, RefreshToken};
use crate::store::keys::session_key;
use crate::store::memory::MemoryStore;
use crate::store::{Profile, Session, Store, TokenSet};
use crate::types::ProviderId;

mod ports;
mod provider;

pub(crate) use ports::{FakeClock, FixedRandom};
pub(crate) use provider::{Fault, InProcessProvider};

/// The provider's name in routes and storage keys.
pub(crate) const PROVIDER: &str = "dev";
/// Scheme and authority of the dev provider's issuer; nothing listens there.
const ISSUER_ORIGIN: &str = "http://127.0.0.1:1";
/// The path the dev provider's router is nested under.
const ISSUER_PATH: &str = "/dev-provider";
/// The dev provider's issuer, as configured and as it names itself.
pub(crate) const ISSUER: &str = "http://127.0.0.1:1/dev-provider";
/// Where the token handler is configured to live.
pub(crate) const PUBLIC_BASE_URL: &str = "https://auth.example.test";
/// The OAuth client registered at the dev provider.
pub(crate) const CLIENT_ID: &str = "th-client";
const CLIENT_SECRET: &str = "th-Secret-Zq8vW3kR5mN7pT2x";
/// The one registered mobile redirect.
pub(crate) const APP_REDIRECT: &str = "com.example.app:/oauth";

/// Access token lifetime [`Harness::sign_in_stale`] has the dev provider issue.
pub(crate) const SHORT_ACCESS_SECS: u64 = 120;
/// How far [`Harness::sign_in_stale`] moves the clock after the login.
pub(crate) const STALE_AFTER_SECS: u64 = 100;

/// The dev provider as a plain OAuth 2.0 server: its endpoints configured by hand, the user
/// from its userinfo endpoint through JSON pointers.
fn oauth2_block() -> String {
    format!(
        r#"
[providers.{PROVIDER}]
preset = "oauth2"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
authorization_endpoint = "{ISSUER}/authorize"
token_endpoint = "{ISSUER}/token"
userinfo_endpoint = "{ISSUER}/userinfo"
revocation_endpoint = "{ISSUER}/revoke"
subject = "/sub"
profile = {{ name = "/name", email = "/email", email_verified = "/email_verified" }}
scopes = ["openid", "email", "profile"]
"#
    )
}

/// The dev provider under Google's preset (its issuer overridden to the dev provider's).
fn google_block() -> String {
    format!(
        r#"
[providers.{PROVIDER}]
preset = "google"
issuer = "{ISSUER}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#
    )
}

/// The dev provider as an OpenID Connect provider.
fn oidc_block() -> String {
    format!(
        r#"
[providers.{PROVIDER}]
preset = "oidc"
issuer = "{ISSUER}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#
    )
}

/// The configuration the flow tests run with.
fn config_text(provider_block: &str) -> String {
    format!(
        r#"
public_base_url = "{PUBLIC_BASE_URL}"
default_return_to = "/home"
allowed_origins = ["https://app.example.test"]
mobile_redirects = ["{APP_REDIRECT}"]
transaction_ttl = "10m"
refresh_skew = "60s"
force_refresh_window = "5s"
{provider_block}"#
    )
}

/// A query parsed the way the edge parses one (`raw` without the leading `?`).
pub(crate) fn query(raw: &str) -> Query {
    let req = http::Request::builder()
        .uri(format!("/any?{raw}"))
        .body(lambda_http::Body::Empty)
        .expect("request");
    Query::from_request(&req).expect("well-formed query")
}

/// The authorization response in `redirect` (the URL the provider sent the browser to), as
/// the callback route would read it with the binding cookie `binding`.
pub(crate) fn callback_params(redirect: &Url, binding: &str) -> Result<CallbackParams, ApiError> {
    CallbackParams::from_query(&query(redirect.query().unwrap_or("")), Some(binding))
}

/// The query of `url` as pairs, in order.
pub(crate) fn pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

/// The one value of `name` in `url`'s query.
pub(crate) fn param(url: &Url, name: &str) -> String {
    let values: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(values.len(), 1, "{name} in {url}");
    values[0].clone()
}

/// `url` with every `name` parameter removed and, when `value` is given, one `name=value` added.
pub(crate) fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let kept: Vec<(String, String)> = pairs(url).into_iter().filter(|(k, _)| k != name).collect();
    let mut out = url.clone();
    {
        let mut q = out.query_pairs_mut();
        q.clear().extend_pairs(kept);
        if let Some(value) = value {
            q.append_pair(name, value);
        }
    }
    out
}

/// Everything a flow needs, faked: the dev provider in-process, a stopped clock, counter-based
/// randomness and an in-memory store, plus the configuration and settings they go with.
pub(crate) struct Harness {
    pub(crate) dev: DevProvider,
    pub(crate) http: InProcessProvider,
    pub(crate) clock: FakeClock,
    pub(crate) random: FixedRandom,
    pub(crate) store: MemoryStore,
    pub(crate) config: Config,
    pub(crate) settings: Settings,
    pub(crate) providers: Providers,
}

impl Harness {
    /// The dev provider as an OpenID Connect provider.
    pub(crate) fn new() -> Self {
        Self::with_block(&oidc_block())
    }

    /// The dev provider configured as a plain OAuth 2.0 server (`preset = "oauth2"`).
    pub(crate) fn oauth2() -> Self {
        Self::with_block(&oauth2_block())
    }

    /// The dev provider configured under `preset = "google"`.
    pub(crate) fn google() -> Self {
        Self::with_block(&google_block())
    }

    fn with_block(provider_block: &str) -> Self {
        let text = config_text(provider_block);
        let mut config = Config::from_toml(&text, |_| None).expect("test configuration");
        let settings = Settings::from_config(&config);
        let dev = DevProvider::new(
            ISSUER,
            vec![Client {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                redirect_uris: vec![settings.redirect_uri(PROVIDER)],
            }],
        );
        assert_eq!(dev.issuer(), ISSUER);
        let providers = std::mem::take(&mut config.providers)
            .into_iter()
            .map(|(id, provider)| (id, Provider::new(provider)))
            .collect();
        Self {
            http: InProcessProvider::new(&dev),
            dev,
            clock: FakeClock::new(),
            random: FixedRandom::new(),
            store: MemoryStore::new(),
            config,
            settings,
            providers,
        }
    }

    pub(crate) fn deps(&self) -> Deps<'_> {
        Deps {
            store: &self.store,
            http: &self.http,
            clock: &self.clock,
            random: &self.random,
        }
    }

    /// The dev provider as configured.
    pub(crate) fn provider(&self) -> &Provider {
        &self.providers[&ProviderId::parse(PROVIDER).expect("provider id")]
    }

    /// A login request as the login route would parse `raw_query`.
    pub(crate) fn login_request(&self, raw_query: &str) -> LoginRequest {
        LoginRequest::from_query(&query(raw_query), &self.config).expect("login request")
    }

    /// A browser login with the default `return_to`.
    pub(crate) async fn start_login(&self) -> LoginStarted {
        login::start(
            self.deps(),
            &self.settings,
            self.provider(),
            self.login_request(""),
        )
        .await
        .expect("login starts")
    }

    /// The dev provider's redirect back to the callback after `subject` approves.
    pub(crate) fn approve(&self, started: &LoginStarted, subject: &str) -> Url {
        let redirect = self
            .dev
            .approve(started.authorization_url.as_str(), subject)
            .expect("dev provider approves");
        Url::parse(&redirect).expect("redirect URL")
    }

    /// Runs the callback for `redirect` with the binding of `started`.
    pub(crate) async fn complete(
        &self,
        started: &LoginStarted,
        redirect: &Url,
    ) -> Result<Outcome, ApiError> {
        let params = callback_params(redirect, started.binding.expose())?;
        callback::complete(self.deps(), &self.settings, self.provider(), params).await
    }

    /// A whole browser login for `subject`: the key of the session it created.
    pub(crate) async fn sign_in(&self, subject: &str) -> String {
        let started = self.start_login().await;
        let redirect = self.approve(&started, subject);
        match self.complete(&started, &redirect).await {
            Ok(Outcome::SignedIn { session_id, .. }) => session_key(session_id.expose()),
            other => panic!("login did not complete: {other:?}"),
        }
    }

    /// Like [`Harness::sign_in`], but with access tokens that live [`SHORT_ACCESS_SECS`], and
    /// the clock then moved [`STALE_AFTER_SECS`] on: the stored token is inside the refresh
    /// skew, while the id_tokens the dev provider signs with real time still verify.
    pub(crate) async fn sign_in_stale(&self, subject: &str) -> String {
        self.dev.set_behavior(dev_provider::Behavior {
            access_token_expires_in: Some(SHORT_ACCESS_SECS),
            ..Default::default()
        });
        let key = self.sign_in(subject).await;
        self.clock.advance_secs(STALE_AFTER_SECS);
        let session = self.session(&key).await.expect("session");
        assert!(session.tokens.access_expires_at <= self.clock.now() + self.settings.refresh_skew);
        key
    }

    /// A session for `subject` at the dev provider as a login would make it now, with tokens
    /// the dev provider never issued; its `key` is empty.
    pub(crate) fn new_session(&self, subject: &str) -> Session {
        let now = self.clock.now();
        Session {
            key: String::new(),
            provider: ProviderId::parse(PROVIDER).expect("provider id"),
            subject: subject.to_owned(),
            profile: Profile::default(),
            sid: None,
            client: None,
            tokens: TokenSet {
                access_token: AccessToken::new("at-made-up"),
                access_expires_at: now + 3600,
                refresh_token: Some(RefreshToken::new("rt-made-up")),
                scope: None,
                refreshed_at: 0,
            },
            version: 0,
            lease_until: 0,
            created_at: now,
            expires_at: now + self.settings.session_ttl,
        }
    }

    /// Stores [`Harness::new_session`] under the id `session_id`: its key.
    pub(crate) async fn put_session(&self, subject: &str, session_id: &str) -> String {
        let key = session_key(session_id);
        let session = Session {
            key: key.clone(),
            ..self.new_session(subject)
        };
        self.store.create_session(&session).await.expect("store");
        key
    }

    /// The session stored under `key`, if live now.
    pub(crate) async fn session(&self, key: &str) -> Option<Session> {
        self.store
            .get_session(key, self.clock.now())
            .await
            .expect("store")
    }

    /// A request deadline of `budget` on the fake clock.
    pub(crate) fn deadline(&self, budget: Duration) -> Deadline<'_> {
        Deadline::after(&self.clock, budget)
    }
}

mod tests {
    use super::*;
    use crate::crypto::is_token_shaped;

    #[test]
    fn fixed_tokens_differ_and_are_token_shaped() {
        let random = FixedRandom::new();
        let (a, b) = (random.token(32), random.token(32));
        assert_ne!(a, b);
        assert!(is_token_shaped(&a) && is_token_shaped(&b), "{a} {b}");
        assert_eq!(a, FixedRandom::token_nth(0));
        assert_eq!(b, FixedRandom::token_nth(1));
        assert_ne!(random.token(16), random.token(16));
        assert_eq!(random.drawn(), 4);
        assert_eq!(random.below(7), 0);
    }

    #[tokio::test]
    async fn the_fake_clock_moves_wall_and_monotonic_time_together() {
        let clock = FakeClock::new();
        let (wall, mono) = (clock.now(), clock.monotonic());
        clock.sleep(Duration::from_millis(1500)).await;
        assert_eq!(clock.monotonic() - mono, Duration::from_millis(1500));
        assert_eq!(clock.now(), wall + 1);
        clock.advance_secs(10);
        assert_eq!(clock.now(), wall + 11);
        assert_eq!(clock.elapsed(), Duration::from_millis(11_500));
    }

    #[tokio::test]
    async fn the_in_process_provider_serves_the_dev_provider_under_its_issuer() {
        let h = Harness::new();
        let url = Url::parse(&format!("{ISSUER}/.well-known/openid-configuration")).unwrap();
        let fetched = h
            .http
            .send(crate::provider::client::get(&url))
            .await
            .unwrap();
        assert_eq!(fetched.status, http::StatusCode::OK);
        let doc: serde_json::Value = serde_json::from_slice(&fetched.body).unwrap();
        assert_eq!(doc["issuer"], ISSUER);
        let elsewhere = Url::parse("http://127.0.0.1:2/dev-provider/jwks").unwrap();
        assert!(matches!(
            h.http.send(crate::provider::client::get(&elsewhere)).await,
            Err(FetchError::Connect)
        ));
        assert_eq!(
            h.http.sent(),
            ["GET /dev-provider/.well-known/openid-configuration"]
        );
    }
}
