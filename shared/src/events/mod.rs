//! Security events and metrics. Each request that is a security outcome (login started,
//! succeeded or failed, a callback replay, a refresh served, refreshed or coalesced, a logout, a
//! refused CSRF check, a hand-off, a proxied call, an authorizer decision) writes one JSON line:
//! an OCSF Authentication event ([`ocsf`]). In Lambda a second line carries CloudWatch
//! Embedded Metric Format metrics ([`emf`]). Both go to standard output: no SDK call, no wait.
//!
//! Handlers, flows and clients note facts as the request runs ([`notes`]); which event those
//! facts make is decided in [`classify`]. Subjects and session keys are written only as keyed
//! hashes, never a token, code, state, cookie or secret.

pub mod classify;
pub mod emf;
pub mod notes;
pub mod ocsf;
pub mod operator;
pub mod sink;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use classify::{EventCode, Reason, Route};
pub use notes::{Notes, Source, collect, note, note_provider_call, note_session, note_store_call};
pub use sink::{Memory, Sink, Stdout};

/// The client's address, for runners without API Gateway (the local runner puts the
/// connection's peer address in the request's extensions).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Longest `User-Agent`, path and method an event carries, in bytes: each is the caller's text.
pub const MAX_USER_AGENT: usize = 512;
/// See [`MAX_USER_AGENT`].
pub const MAX_PATH: usize = 256;
/// See [`MAX_USER_AGENT`].
pub const MAX_METHOD: usize = 16;

/// `text` cut to at most `max` bytes at a character boundary.
pub fn truncated(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The label the event-hash key is derived under from the first encryption key.
pub const HASH_KEY_LABEL: &[u8] = b"token-handler event-hash v1";

/// Where a request came from and how it was answered, from the API Gateway request context.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The request id of the logs (Lambda's, else API Gateway's, else a fresh one).
    pub request_id: String,
    /// API Gateway's request id, as its access logs show it, when there is one.
    pub api_request_id: Option<String>,
    /// The function that served it (`login`, …, `all` in the local runner).
    pub function: &'static str,
    /// The HTTP method.
    pub method: String,
    /// The route's path, never its query (which can carry codes and states).
    pub path: String,
    /// The client's IP address as API Gateway saw it.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The status answered.
    pub status: Option<u16>,
    /// How long the request took.
    pub duration_ms: u64,
}

/// The identifying facts of an event, keyed-hashed where they identify a person or session.
#[derive(Debug, Default)]
pub struct Hashed {
    /// The provider's name.
    pub provider: Option<String>,
    /// Keyed hash of (provider, subject).
    pub subject: Option<String>,
    /// Keyed hash of the session's store key.
    pub session: Option<String>,
    /// The API's status, for a proxied call.
    pub upstream_status: Option<u16>,
    /// How many sessions a back-channel logout (or an operator) ended.
    pub sessions_ended: Option<usize>,
}

/// Writes events (and, in Lambda, metrics) for requests.
pub struct EventLog {
    sink: Arc<dyn Sink>,
    hash_key: hmac::Key,
    metrics_namespace: Option<String>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("metrics_namespace", &self.metrics_namespace)
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// Events to `sink`, hashed under `hash_key` (derive it with
    /// [`crate::crypto::Keyring::derived_key`] so hashes stay stable across cold starts), no
    /// metrics.
    pub fn new(sink: Arc<dyn Sink>, hash_key: hmac::Key) -> Self {
        Self {
            sink,
            hash_key,
            metrics_namespace: None,
        }
    }

    /// Events hashed under a key of this process only (no encryption keys configured).
    pub fn ephemeral(sink: Arc<dyn Sink>) -> Self {
        let key = crate::crypto::random_token(32);
        Self::new(sink, hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()))
    }

    /// Adds a metrics line in `namespace` to each request.
    pub fn set_metrics(&mut self, namespace: String) {
        self.metrics_namespace = Some(namespace);
    }

    /// Sends lines to `sink` instead.
    pub fn set_sink(&mut self, sink: Arc<dyn Sink>) {
        self.sink = sink;
    }

    /// Writes the event (and metrics) for a request that took `route` and noted `notes`.
    pub fn record(&self, route: Route, preflight: bool, context: &Context, notes: &Notes) {
        let decided = classify::decide(route, preflight, notes);
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut lines = String::new();
        if let Some((code, reason)) = decided {
            let hashed = self.hashed(notes);
            let event = ocsf::event(route, code, reason, context, &hashed, time_ms);
            lines.push_str(&event.to_string());
        }
        if let Some(namespace) = &self.metrics_namespace
            && !preflight
            && let Some(line) = emf::line(
                namespace,
                context.function,
                decided.map(|(code, _)| code),
                notes,
                time_ms,
            )
        {
            if !lines.is_empty() {
                lines.push('\n');
            }
            lines.push_str(&line.to_string());
        }
        // One write for both lines: one system call per request.
        if !lines.is_empty() {
            self.sink.write(&lines);
        }
    }

    fn hashed(&self, notes: &Notes) -> Hashed {
        let provider = notes.provider.as_ref().map(|p| p.as_str().to_owned());
        Hashed {
            subject: notes
                .subject
                .as_ref()
                .map(|subject| self.user_uid(provider.as_deref().unwrap_or_default(), subject)),
            session: notes.session_key.as_ref().map(|key| self.session_uid(key)),
            provider,
            upstream_status: notes.upstream_status,
            sessions_ended: notes.sessions_ended,
        }
    }

    /// The `user.uid` of events about `subject` at `provider`.
    pub fn user_uid(&self, provider: &str, subject: &str) -> String {
        self.hash(format!("subject\n{provider}\n{subject}").as_bytes())
    }

    /// The `session.uid` of events about the session stored under `key`: how operators name
    /// one session without its id ([`crate::flow::session_admin`]).
    pub fn session_uid(&self, key: &str) -> String {
        self.hash(format!("session\n{key}").as_bytes())
    }

    /// 128 bits of HMAC-SHA256, base64url: enough to tell subjects and sessions apart and
    /// follow one through the logs, and useless for finding the subject or session id.
    fn hash(&self, input: &[u8]) -> String {
        let tag = hmac::sign(&self.hash_key, input);
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
    }
}
