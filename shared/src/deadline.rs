//! How long a request may still run: the Lambda invocation's deadline when there is one, else
//! a fixed budget, measured on the application's clock. Flows check it before they start an
//! outbound call they could not finish.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::Clock;

/// Kept back from a Lambda deadline for writing the response and the last log line.
const LAMBDA_MARGIN: Duration = Duration::from_millis(500);

/// A point in (monotonic) time by which the work must be done, on one clock.
#[derive(Clone, Copy)]
pub struct Deadline<'c> {
    at: Duration,
    clock: &'c dyn Clock,
}

impl std::fmt::Debug for Deadline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// The work did not finish before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline passed")]
pub struct Elapsed;

impl<'c> Deadline<'c> {
    /// `budget` from now on `clock`.
    pub fn after(clock: &'c dyn Clock, budget: Duration) -> Self {
        Self {
            at: clock.monotonic() + budget,
            clock,
        }
    }

    /// The earlier of `budget` from now and the Lambda invocation's deadline (unix
    /// milliseconds, less a margin) when there is one.
    pub fn for_request(clock: &'c dyn Clock, budget: Duration, lambda_ms: Option<u64>) -> Self {
        let own = Self::after(clock, budget);
        let Some(lambda_ms) = lambda_ms else {
            return own;
        };
        // The Lambda deadline is wall time; it becomes a budget on this clock.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let left = Duration::from_millis(lambda_ms.saturating_sub(now_ms));
        own.min(Self::after(clock, left.saturating_sub(LAMBDA_MARGIN)))
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Self) -> Self {
        if other.at < self.at { other } else { self }
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_sub(self.clock.monotonic())
    }

    /// This deadline brought forward by `reserve` (for work that must still fit after it).
    pub fn less(self, reserve: Duration) -> Self {
        let now = self.clock.monotonic();
        Self {
            at: self.at.checked_sub(reserve).unwrap_or(self.at.min(now)),
            clock: self.clock,
        }
    }

    /// Runs `work` until it finishes or this deadline passes, whichever is first.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T, Elapsed> {
        let work = std::pin::pin!(work);
        let timer = std::pin::pin!(self.clock.sleep(self.remaining()));
        match futures_select(work, timer).await {
            Some(value) => Ok(value),
            None => Err(Elapsed),
        }
    }
}

/// The first of `work` (preferred when both are ready) and `timer` to finish.
async fn futures_select<T>(
    mut work: std::pin::Pin<&mut impl Future<Output = T>>,
    mut timer: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<T> {
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(value) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(value));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[test]
    fn a_lambda_deadline_shortens_the_budget() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = Deadline::for_request(&SystemClock, Duration::from_secs(27), Some(now_ms + 3_000));
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
    fn without_a_lambda_deadline_the_budget_applies() {
        let d = Deadline::for_request(&SystemClock, Duration::from_secs(5), None);
        assert!(d.remaining() > Duration::from_secs(4));
        assert_eq!(d.less(Duration::from_secs(10)).remaining(), Duration::ZERO);
    }

    #[tokio::test]
    async fn work_that_outlasts_its_deadline_is_cut_off() {
        let d = Deadline::after(&SystemClock, Duration::from_millis(20));
        let slow = d.within(tokio::time::sleep(Duration::from_secs(5))).await;
        assert_eq!(slow, Err(Elapsed));
        let quick = d.within(async { 7 }).await;
        assert_eq!(quick, Ok(7));
    }
}
