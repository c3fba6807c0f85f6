//! Fake clock and fixed randomness for the flow tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::{Clock, SystemClock};
use crate::random::Random;

/// A clock that moves only when told to (or when something sleeps on it). Wall time starts at
/// the system time, so id_tokens the dev provider signs with real timestamps stay valid; wall
/// seconds and monotonic time move together.
pub(crate) struct FakeClock {
    start: u64,
    elapsed: Mutex<Duration>,
}

impl FakeClock {
    /// A stopped clock at the current system time.
    pub(crate) fn new() -> Self {
        Self {
            start: SystemClock.now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves wall and monotonic time forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        *self.elapsed.lock().expect("clock lock") += by;
    }

    /// Moves the clock forward by whole seconds.
    pub(crate) fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    /// How far the clock has moved since it was made.
    pub(crate) fn elapsed(&self) -> Duration {
        *self.elapsed.lock().expect("clock lock")
    }
}

#[async_trait::async_trait]
impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.start + self.elapsed().as_secs()
    }

    fn monotonic(&self) -> Duration {
        self.elapsed()
    }

    /// Lets other futures run once, then moves the clock by `duration` and returns. Yielding
    /// first means that a timer raced against work that is merely not ready on its first poll
    /// (see `Deadline::within`) moves no time when the work then finishes.
    async fn sleep(&self, duration: Duration) {
        tokio::task::yield_now().await;
        self.advance(duration);
    }
}

/// Randomness from a counter: the k-th token drawn is [`FixedRandom::nth`]`(k, bytes)`, so
/// successive tokens differ and a test can say which one a flow used. `below` is always 0.
pub(crate) struct FixedRandom {
    next: AtomicU64,
}

impl FixedRandom {
    pub(crate) fn new() -> Self {
        Self {
            next: AtomicU64::new(0),
        }
    }

    /// The token the `k`-th call of `token(bytes)` returns (counting from 0).
    pub(crate) fn nth(k: u64, bytes: usize) -> String {
        let counter = k.to_le_bytes();
        let raw: Vec<u8> = (0..bytes)
            .map(|i| counter.get(i).copied().unwrap_or(0xA0 ^ (i as u8)))
            .collect();
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The 32-byte token the `k`-th draw returns: state, nonce, verifier, ids.
    pub(crate) fn token_nth(k: u64) -> String {
        Self::nth(k, crate::crypto::TOKEN_BYTES)
    }

    /// How many tokens have been drawn so far (the index of the next one).
    pub(crate) fn drawn(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }
}

impl Random for FixedRandom {
    fn token(&self, bytes: usize) -> String {
        Self::nth(self.next.fetch_add(1, Ordering::SeqCst), bytes)
    }

    fn below(&self, _n: u64) -> u64 {
        0
    }
}
