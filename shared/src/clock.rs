//! The application's clock: every expiry (sessions, transactions, leases, id_tokens, JWKS) and
//! every deadline and pause of a request is judged by it, so tests can move time.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Wall time for expiries, monotonic time for deadlines, and waiting: one port, so a test's
/// clock moves all three together.
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    /// Seconds since the epoch.
    fn now(&self) -> u64;

    /// Monotonic time since an arbitrary start: what deadlines are measured on.
    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }

    /// Waits `duration` of this clock's time.
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
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
