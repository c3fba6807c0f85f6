//! `GET /auth/health`: the configuration has loaded (or this instance would not be running);
//! with `?deep=1`, one store read as well. It says nothing about the configuration.

use super::store_error;
use crate::deps::Deps;
use crate::edge::{ApiError, Query, Request};
use crate::store::keys::session_key;

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The configuration only.
    Shallow,
    /// The configuration and one store read.
    Deep,
}

impl Depth {
    /// `deep=1` (or `true`) asks for the store read, `deep=0` (or `false`) or no `deep` does
    /// not; any other value, or `deep` twice, is `invalid_request`. Other parameters are
    /// ignored, as load balancers add their own.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let query = Query::from_request(req).map_err(|_| ApiError::InvalidRequest)?;
        match query.single("deep").map_err(|_| ApiError::InvalidRequest)? {
            None | Some("0" | "false") => Ok(Self::Shallow),
            Some("1" | "true") => Ok(Self::Deep),
            Some(_) => Err(ApiError::InvalidRequest),
        }
    }
}

/// Runs the check: for [`Depth::Deep`], one read of a session key nobody holds (a random id),
/// so that it reaches the table with the permissions the session function already has and can
/// find nothing. A failed read is `store_unavailable`.
pub async fn check(deps: Deps<'_>, depth: Depth) -> Result<(), ApiError> {
    if depth == Depth::Deep {
        let key = session_key(&deps.token());
        deps.store
            .get_session(&key, deps.now())
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;

    fn depth(uri: &str) -> Result<Depth, ApiError> {
        Depth::from_request(&http::Request::builder().uri(uri).body(Body::Empty).unwrap())
    }

    #[test]
    fn deep_is_one_or_true_and_anything_else_but_zero_or_false_is_refused() {
        assert_eq!(depth("/auth/health"), Ok(Depth::Shallow));
        assert_eq!(depth("/auth/health?deep=0&probe=elb"), Ok(Depth::Shallow));
        assert_eq!(depth("/auth/health?deep=false"), Ok(Depth::Shallow));
        assert_eq!(depth("/auth/health?deep=1"), Ok(Depth::Deep));
        assert_eq!(depth("/auth/health?deep=true"), Ok(Depth::Deep));
        for bad in [
            "deep=2",
            "deep=",
            "deep=1&deep=1",
            "deep=%31%00",
            "deep=yes",
        ] {
            assert_eq!(
                depth(&format!("/auth/health?{bad}")),
                Err(ApiError::InvalidRequest),
                "{bad}"
            );
        }
    }
}
