//! Test support for the integration tests: a dev provider on a free loopback port, an [`App`]
//! configured from TOML text that points at it, an in-process browser with a cookie jar, and
//! small helpers (a fake clock, captured logs, a connection-counting server).
//!
//! [`App`]: shared::App

pub mod fixtures;
pub mod runtime_api;
pub mod upstream;

mod browser;
mod harness;
mod logs;
mod net;
mod stores;

pub use browser::{Browser, Pending, Reply, SetCookie};
pub use harness::{
    APP_ORIGIN, FakeClock, Harness, HarnessBuilder, METRICS_NAMESPACE, PROVIDER, PUBLIC_BASE_URL,
    client_id, client_secret,
};
pub use logs::{CapturedLogs, LogGuard};
pub use net::{CountingServer, shutdown_signal, submit_sign_in_form, unused_port};
pub use stores::{
    Backend, BackendKind, StoreHandle, TEST_KEY, assert_scan_has_no, dynamo_store,
    dynamodb_endpoint, dynamodb_or_skip, unique_table,
};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url (no padding) of SHA-256, computed independently of the code under test.
pub fn sha256_b64url(input: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Every value of the query parameter `name` in `url` (absolute or a path with a query).
pub fn query_values(url: &str, name: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The single value of the query parameter `name`; panics when it is absent or repeated.
pub fn query_param(url: &str, name: &str) -> String {
    let mut values = query_values(url, name);
    assert_eq!(values.len(), 1, "expected exactly one `{name}` in {url}");
    values.remove(0)
}

/// True for a base64url string (no padding) of exactly `len` characters.
pub fn is_base64url(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of `name` in a form (e.g. [`dev_provider::Stats::last_token_form`]).
pub fn form_value(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}
