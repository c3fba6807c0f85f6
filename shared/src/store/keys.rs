//! How each record is found again: its storage key is a hash of the secret (or secrets) that
//! name it, so the table never holds a session id, a state, a binding cookie or a code.

use crate::crypto::sha256_b64url;

/// The key of a session: SHA-256 of its id (the cookie value or the bearer session token).
pub fn session_key(session_id: &str) -> String {
    sha256_b64url(session_id.as_bytes())
}

/// The key of a login transaction: only someone holding the state, the browser's binding
/// cookie and the provider name can find (and so consume) it.
pub fn transaction_key(provider: &str, state: &str, binding: &str) -> String {
    sha256_b64url(format!("tx\n{provider}\n{state}\n{binding}").as_bytes())
}

/// The key of a mobile hand-off: SHA-256 of its one-time code.
pub fn handoff_key(code: &str) -> String {
    sha256_b64url(format!("handoff\n{code}").as_bytes())
}

/// The key under which a used one-time value (a logout token's `jti`) is remembered: SHA-256
/// of what it is, where it came from and the value, so values of different issuers never meet.
pub fn used_key(what: &str, issuer: &str, value: &str) -> String {
    sha256_b64url(format!("used\n{what}\n{issuer}\n{value}").as_bytes())
}
