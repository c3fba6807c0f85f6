//! The narrow ports a flow may touch: the store, outbound HTTP, the clock and randomness.
//! Flows take these plus typed requests, never the whole application, so each flow can be run
//! in a unit test with a fake clock, fixed randomness and an in-memory provider.

use crate::clock::Clock;
use crate::provider::client::Outbound;
use crate::random::Random;
use crate::store::Store;

/// What a flow works with besides its request and settings.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    /// Transactions, sessions and hand-offs.
    pub store: &'a dyn Store,
    /// Calls to providers.
    pub http: &'a dyn Outbound,
    /// Expiries, deadlines and pauses.
    pub clock: &'a dyn Clock,
    /// State, nonce, verifiers, ids and jitter.
    pub random: &'a dyn Random,
}

impl Deps<'_> {
    /// The current time in unix seconds.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// A fresh 256-bit token (state, nonce, verifier, session id, hand-off code).
    pub fn token(&self) -> String {
        self.random.token(crate::crypto::TOKEN_BYTES)
    }
}
