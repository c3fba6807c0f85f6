//! Randomness as a port: state, nonce, PKCE verifiers, session ids, lease owners and jitter all
//! come from here, so a test can fix them.

use crate::crypto::{random_below, random_token};

/// Where a flow's random values come from.
pub trait Random: Send + Sync {
    /// `bytes` random bytes, base64url without padding.
    fn token(&self, bytes: usize) -> String;
    /// A uniformly random number below `n` (0 when `n` is 0).
    fn below(&self, n: u64) -> u64;
}

/// The operating system's CSPRNG (through aws-lc-rs).
pub struct OsRandom;

impl Random for OsRandom {
    fn token(&self, bytes: usize) -> String {
        random_token(bytes)
    }

    fn below(&self, n: u64) -> u64 {
        random_below(n)
    }
}
