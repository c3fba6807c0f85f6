//! The application's clock: every expiry (sessions, transactions, leases, id_tokens, JWKS) is
//! judged by it, so tests can move time.

/// Current time in unix seconds; a trait so tests can move time.
pub trait Clock: Send + Sync {
    /// Seconds since the epoch.
    fn now(&self) -> u64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
