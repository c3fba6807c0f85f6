//! A small but real OpenID Connect provider (authorization code + PKCE + refresh tokens).
//!
//! It serves two purposes:
//! - the `local` runner mounts [`DevProvider::router`] under `/dev-provider/` so a newcomer can
//!   sign in through an HTML "sign in as" form without any real account;
//! - integration tests start it with [`DevProvider::spawn`] and switch it to misbehave with
//!   [`DevProvider::set_behavior`], then inspect what the token handler sent with
//!   [`DevProvider::stats`].
//!
//! Endpoints (relative to the issuer): `/.well-known/openid-configuration`, `/jwks`,
//! `/authorize` (GET page, POST form), `/token`, `/userinfo`, `/revoke`, `/end-session`.

mod authorize;
mod html;
mod keys;
mod misc;
mod token;
mod util;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::routing::{get, post};

use crate::keys::SigningKey;

/// A running (or mountable) dev OpenID provider. Cheap to clone: all clones share one state.
#[derive(Clone)]
pub struct DevProvider {
    inner: Arc<Inner>,
}

/// A registered OAuth client (confidential: it authenticates with `client_secret`).
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    /// `redirect_uri` must match exactly one of these; if empty, any http(s) `redirect_uri`
    /// (absolute, without fragment) is accepted.
    pub redirect_uris: Vec<String>,
}

/// Snapshot of what the provider has seen (see [`DevProvider::stats`]).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Token requests with `grant_type=authorization_code` (counted whether or not they succeed).
    pub authorization_code_grants: usize,
    /// Token requests with `grant_type=refresh_token` (counted whether or not they succeed).
    pub refresh_token_grants: usize,
    /// Every `refresh_token` value presented to the token endpoint, in order.
    pub refresh_tokens_received: Vec<String>,
    /// Every `token` posted to `/revoke`, in order.
    pub revoked_tokens: Vec<String>,
    /// `"client_secret_basic"` or `"client_secret_post"` for the last token request
    /// (`None` if it carried no client credentials at all).
    pub last_client_auth: Option<String>,
    /// Form fields of the last token request, `client_secret` removed.
    pub last_token_form: Vec<(String, String)>,
    /// Requests to `/userinfo` (counted whether or not they succeed).
    pub userinfo_requests: usize,
    /// `GET /jwks` requests, so tests can prove a key set was (not) fetched again.
    pub jwks_requests: usize,
    /// Every id_token the token endpoint issued, in order, so tests can prove none leaks.
    pub issued_id_tokens: Vec<String>,
    /// `GET /.well-known/openid-configuration` requests.
    pub discovery_requests: usize,
}

/// Ways to make the provider misbehave. `Behavior::default()` is a well-behaved provider.
#[derive(Clone, Debug, Default)]
pub struct Behavior {
    // --- id_token tampering (applied to id_tokens issued by the token endpoint) ---
    /// Override the `iss` claim.
    pub id_token_iss: Option<String>,
    /// Override the `aud` claim.
    pub id_token_aud: Option<String>,
    /// Add/override the `azp` claim.
    pub id_token_azp: Option<String>,
    /// Override (or, on refresh, add) the `nonce` claim.
    pub id_token_nonce: Option<String>,
    /// Override the `sub` claim.
    pub id_token_sub: Option<String>,
    /// `exp = now + offset` (e.g. -600 for expired); default +300.
    pub id_token_exp_offset: Option<i64>,
    /// `iat = now + offset` (e.g. +3600 = issued in the future); default 0.
    pub id_token_iat_offset: Option<i64>,
    /// When set, include `nbf = now + offset`.
    pub id_token_nbf_offset: Option<i64>,
    /// Emit an unsigned JWT: header `{"alg":"none","typ":"JWT"}`, empty signature segment.
    pub id_token_alg_none: bool,
    /// Sign with HS256 using the client secret as key (header still carries the real kid).
    pub id_token_hs256_with_secret: bool,
    /// Valid structure and kid, but the signature bytes are flipped.
    pub id_token_bad_signature: bool,
    /// Sign with the *next* key, whose kid is not in the JWKS until [`DevProvider::rotate_keys`]
    /// is called (rotation promotes exactly that key).
    pub id_token_unknown_kid_key: bool,
    /// Token responses carry no `id_token`.
    pub omit_id_token: bool,
    /// Refresh grant returns no `refresh_token` (the old one stays valid).
    pub omit_refresh_token_on_refresh: bool,
    /// Refresh grant returns the same refresh token again (the old one stays valid).
    pub no_rotation: bool,
    /// `expires_in` of access tokens; default 3600.
    pub access_token_expires_in: Option<u64>,
    // --- token endpoint failures (apply to BOTH grants) ---
    /// Respond with this status and this raw body.
    pub token_error: Option<(u16, String)>,
    /// Sleep this long before answering.
    pub token_delay_ms: Option<u64>,
    /// 200 with a valid-looking JSON body of more than 2 MiB (huge `padding` field).
    pub token_oversize: bool,
    /// 302 with this `Location` instead of answering.
    pub token_redirect_to: Option<String>,
    // --- authorization response ---
    /// `None`: normal (`iss` = issuer). `Some(None)`: omit `iss`. `Some(Some(x))`: `iss` = x.
    pub authorize_iss: Option<Option<String>>,
    /// `/userinfo` answers with this status (and a JSON error body).
    pub userinfo_error: Option<u16>,
    // --- discovery ---
    /// `GET /.well-known/openid-configuration` sleeps this long before answering.
    pub discovery_delay_ms: Option<u64>,
    /// `GET /.well-known/openid-configuration` answers with this status (and a JSON error).
    pub discovery_error: Option<u16>,
    // --- signing keys ---
    /// `GET /jwks` sleeps this long before answering.
    pub jwks_delay_ms: Option<u64>,
    /// `GET /jwks` sends this `Cache-Control` header.
    pub jwks_cache_control: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) issuer: String,
    pub(crate) clients: Vec<Client>,
    pub(crate) state: Mutex<State>,
}

/// Who signed in.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) subject: String,
    pub(crate) name: String,
    pub(crate) email: String,
}

/// What a code / refresh token stands for.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) identity: Identity,
    pub(crate) scope: String,
    /// Unix seconds of the sign-in.
    pub(crate) auth_time: i64,
    /// The provider session this sign-in made (the id_token's `sid`, as in OpenID Connect
    /// Back-Channel Logout 1.0): one per sign-in, kept through refreshes.
    pub(crate) sid: String,
}

pub(crate) struct PendingCode {
    pub(crate) grant: Grant,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) nonce: Option<String>,
    pub(crate) expires: Instant,
}

pub(crate) struct AccessGrant {
    pub(crate) client_id: String,
    pub(crate) identity: Identity,
    pub(crate) expires: Instant,
}

pub(crate) struct State {
    pub(crate) behavior: Behavior,
    pub(crate) stats: Stats,
    pub(crate) key: SigningKey,
    /// Not yet published; becomes `key` on rotation.
    pub(crate) next_key: SigningKey,
    pub(crate) codes: HashMap<String, PendingCode>,
    pub(crate) refresh_tokens: HashMap<String, Grant>,
    pub(crate) access_tokens: HashMap<String, AccessGrant>,
}

impl DevProvider {
    /// `issuer` is the full issuer URL, e.g. `"http://127.0.0.1:9000/dev-provider"` (a trailing
    /// slash is removed). All endpoint URLs are issuer + path.
    pub fn new(issuer: &str, clients: Vec<Client>) -> Self {
        let state = State {
            behavior: Behavior::default(),
            stats: Stats::default(),
            key: SigningKey::generate(),
            next_key: SigningKey::generate(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
        };
        DevProvider {
            inner: Arc::new(Inner {
                issuer: issuer.trim_end_matches('/').to_string(),
                clients,
                state: Mutex::new(state),
            }),
        }
    }

    /// The issuer URL (no trailing slash).
    pub fn issuer(&self) -> String {
        self.inner.issuer.clone()
    }

    /// Routes with paths relative to the issuer's path (e.g. `/authorize`). Nest it under the
    /// issuer's path (`Router::new().nest("/dev-provider", p.router())`), or serve it at the
    /// root when the issuer has no path.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(misc::discovery))
            .route("/jwks", get(misc::jwks))
            .route(
                "/authorize",
                get(authorize::get_authorize).post(authorize::post_authorize),
            )
            .route("/token", post(token::token))
            .route("/userinfo", get(misc::userinfo).post(misc::userinfo))
            .route("/revoke", post(misc::revoke))
            .route("/end-session", get(misc::end_session))
            .with_state(self.clone())
    }

    /// Binds 127.0.0.1:0 and serves [`Self::router`] at the root, so the issuer is
    /// `http://127.0.0.1:{port}`. The listener is bound before this returns. Aborting the
    /// handle stops the server (merely dropping a tokio `JoinHandle` detaches the task; it then
    /// ends with the runtime, e.g. at the end of a `#[tokio::test]`).
    pub async fn spawn(clients: Vec<Client>) -> (DevProvider, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the dev provider");
        let port = listener
            .local_addr()
            .expect("local address of the dev provider listener")
            .port();
        let provider = DevProvider::new(&format!("http://127.0.0.1:{port}"), clients);
        let router = provider.router();
        let handle = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "dev provider server stopped");
            }
        });
        (provider, handle)
    }

    /// Replaces the current behavior.
    pub fn set_behavior(&self, b: Behavior) {
        self.lock().behavior = b;
    }

    /// The current behavior.
    pub fn behavior(&self) -> Behavior {
        self.lock().behavior.clone()
    }

    /// Publishes a new signing key with a new kid; the JWKS then serves ONLY the new key.
    /// The new key is the one `id_token_unknown_kid_key` was signing with.
    pub fn rotate_keys(&self) {
        let fresh = SigningKey::generate();
        let mut st = self.lock();
        st.key = std::mem::replace(&mut st.next_key, fresh);
    }

    /// Signs `claims` as a JWT with the current signing key (the one the JWKS publishes),
    /// `typ` set to `typ`: for tests that need a token the provider vouches for, such as a
    /// back-channel logout token with chosen claims.
    pub fn sign(&self, typ: &str, claims: &serde_json::Map<String, serde_json::Value>) -> String {
        let key = self.lock().key.clone();
        key.sign_typed(typ, claims).expect("ES256 signing")
    }

    /// Like [`Self::sign`], with a key the JWKS does not publish.
    pub fn sign_with_unpublished_key(
        &self,
        typ: &str,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> String {
        let key = self.lock().next_key.clone();
        key.sign_typed(typ, claims).expect("ES256 signing")
    }

    /// A back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.4) for
    /// `client_id`, naming `sid` and `sub` when given: `iss`, `aud`, `iat`, `exp` (two minutes),
    /// a fresh `jti` and the logout event, `typ` `logout+jwt`.
    pub fn logout_token(&self, client_id: &str, sub: Option<&str>, sid: Option<&str>) -> String {
        self.sign("logout+jwt", &self.logout_claims(client_id, sub, sid))
    }

    /// The claims of [`Self::logout_token`], to be altered by tests before [`Self::sign`].
    pub fn logout_claims(
        &self,
        client_id: &str,
        sub: Option<&str>,
        sid: Option<&str>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let now = crate::util::now_unix();
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), self.issuer().into());
        claims.insert("aud".into(), client_id.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 120).into());
        claims.insert("jti".into(), crate::util::random_token(16).into());
        claims.insert(
            "events".into(),
            serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
        );
        if let Some(sub) = sub {
            claims.insert("sub".into(), sub.into());
        }
        if let Some(sid) = sid {
            claims.insert("sid".into(), sid.into());
        }
        claims
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Test helper doing what the approve form does, without HTML. `authorization_url` is the
    /// full URL the token handler produced; it must point at this provider's `/authorize` and
    /// is validated exactly as `GET /authorize` would. Returns the redirect URL
    /// (`redirect_uri?code=..&state=..&iss=..`) for user `subject` (name
    /// `"<Subject> Example"`, email `"<subject>@example.com"`), or why it was rejected.
    pub fn approve(&self, authorization_url: &str, subject: &str) -> Result<String, String> {
        authorize::approve(self, authorization_url, subject)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&Client> {
        self.inner.clients.iter().find(|c| c.client_id == client_id)
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.inner.issuer, path)
    }
}

impl std::fmt::Debug for DevProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevProvider")
            .field("issuer", &self.inner.issuer)
            .field("clients", &self.inner.clients.len())
            .finish()
    }
}
