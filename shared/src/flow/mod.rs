//! The flows: login, callback, refresh and session. Each `handle` turns a request into a
//! response; the decisions live in the typed functions beside it.

pub mod callback;
pub mod handoff;
pub mod login;
pub mod refresh;
pub mod session;

use crate::edge::ApiError;
use crate::store::StoreError;

/// Store failures as the client sees them.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Corrupt(_) => {
            tracing::error!(error = %e, "stored data could not be read");
            ApiError::Internal
        }
        other => {
            tracing::warn!(error = %crate::telemetry::Chain(&other), "store failure");
            ApiError::StoreUnavailable
        }
    }
}
