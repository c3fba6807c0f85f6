//! How long a request may still run: the Lambda invocation's deadline when there is one, else
//! a fixed budget. Flows check it before they start an outbound call they could not finish.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::RequestExt;

use crate::edge::Request;

/// Kept back from a Lambda deadline for writing the response and the last log line.
const LAMBDA_MARGIN: Duration = Duration::from_millis(500);

/// A point in (monotonic) time by which the work must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    /// The earlier of `budget` from now and the Lambda invocation's deadline (less a margin).
    pub fn for_request(req: &Request, budget: Duration) -> Self {
        let own = Self::after(budget);
        let Some(ctx) = req.lambda_context_ref() else {
            return own;
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let left = Duration::from_millis(ctx.deadline.saturating_sub(now_ms));
        own.min(Self::after(left.saturating_sub(LAMBDA_MARGIN)))
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Self) -> Self {
        std::cmp::min(self, other)
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// This deadline brought forward by `reserve` (for work that must still fit after it).
    pub fn less(self, reserve: Duration) -> Self {
        Self(
            self.0
                .checked_sub(reserve)
                .unwrap_or(self.0.min(Instant::now())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_lambda_deadline(in_ms: u64) -> Request {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut ctx = lambda_http::Context::default();
        ctx.deadline = now_ms + in_ms;
        http::Request::builder()
            .uri("/auth/refresh")
            .body(lambda_http::Body::Empty)
            .unwrap()
            .with_lambda_context(ctx)
    }

    #[test]
    fn a_lambda_deadline_shortens_the_budget() {
        let d = Deadline::for_request(
            &request_with_lambda_deadline(3_000),
            Duration::from_secs(27),
        );
        assert!(
            d.remaining() <= Duration::from_millis(2_500),
            "{:?}",
            d.remaining()
        );
        assert!(
            d.remaining() >= Duration::from_millis(2_000),
            "{:?}",
            d.remaining()
        );
    }

    #[test]
    fn without_a_lambda_context_the_budget_applies() {
        let req = http::Request::builder()
            .body(lambda_http::Body::Empty)
            .unwrap();
        let d = Deadline::for_request(&req, Duration::from_secs(5));
        assert!(d.remaining() > Duration::from_secs(4));
        assert_eq!(d.less(Duration::from_secs(10)).remaining(), Duration::ZERO);
    }
}
