//! The Lambda authorizer for a team's own routes behind the same API: a live session admits
//! the request, with its provider and subject for the route to use; anything else does not.
//! One store read, never a provider call, never a token in the answer. It applies no CSRF rule
//! (API Gateway caches its answer per cookie or `Authorization` header, whatever the method):
//! the session cookie is `SameSite=Lax`, so a cross-site form cannot send it with a POST, and
//! routes that change state can require `X-Requested-With` themselves (see the README).

use crate::caller::authenticate;
use crate::deps::Deps;
use crate::edge::{ApiError, Cookies, Request};
use crate::store::StoreError;
use crate::types::ProviderId;

/// Whether the caller may use the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A live session: whose.
    Allow {
        /// The provider the user signed in with.
        provider: ProviderId,
        /// Their subject there.
        subject: String,
    },
    /// No session, an ended one, or no usable credential.
    Deny,
}

impl Decision {
    /// The authorizer's simple response (payload 2.0): `isAuthorized` and, when admitted, the
    /// context the route receives.
    pub fn simple_response(&self) -> serde_json::Value {
        match self {
            Decision::Allow { provider, subject } => serde_json::json!({
                "isAuthorized": true,
                "context": { "provider": provider.as_str(), "subject": subject },
            }),
            Decision::Deny => serde_json::json!({ "isAuthorized": false }),
        }
    }
}

/// Decides for the request's session cookie or bearer session token. A store failure is an
/// error, not a denial: API Gateway would cache a denial and lock the user out meanwhile.
/// The decision is noted for the request's security event (a denial as `unauthenticated`).
#[tracing::instrument(name = "authorize", skip_all)]
pub async fn decide(
    deps: Deps<'_>,
    cookies: Cookies,
    req: &Request,
) -> Result<Decision, StoreError> {
    let decision = lookup(deps, cookies, req).await;
    crate::events::note(|n| match &decision {
        Ok(Decision::Allow { .. }) => {}
        Ok(Decision::Deny) => n.error = Some(ApiError::Unauthenticated),
        Err(_) => {
            n.error = Some(ApiError::StoreUnavailable);
            n.store_unavailable = true;
        }
    });
    decision
}

async fn lookup(deps: Deps<'_>, cookies: Cookies, req: &Request) -> Result<Decision, StoreError> {
    let Ok((key, _)) = authenticate(req, cookies, &[], false) else {
        tracing::info!(decision = "deny", reason = "no session credential");
        return Ok(Decision::Deny);
    };
    match deps.store.get_session(&key, deps.now()).await? {
        Some(session) => {
            tracing::info!(decision = "allow", provider = %session.provider);
            crate::events::note_session(&key, &session.provider, &session.subject);
            Ok(Decision::Allow {
                provider: session.provider,
                subject: session.subject,
            })
        }
        None => {
            tracing::info!(decision = "deny", reason = "no live session");
            Ok(Decision::Deny)
        }
    }
}
