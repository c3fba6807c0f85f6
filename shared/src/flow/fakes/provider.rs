//! The dev provider answering in-process, through the Outbound port, with scriptable faults.

use std::sync::Mutex;

use axum::Router;
use dev_provider::DevProvider;
use tower::ServiceExt;

use super::{ISSUER_ORIGIN, ISSUER_PATH};
use crate::provider::client::{FetchError, Fetched, Outbound, OutboundRequest};

/// A way for the in-process provider to misbehave that `dev_provider::Behavior` cannot express
/// without real time passing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fault {
    /// The request fails as if the connection were refused.
    Unreachable,
    /// The request never gets an answer (only a deadline ends it).
    Hang,
}

/// [`Outbound`] that hands each request to the dev provider's router in this process. Requests
/// to any origin but the issuer's fail as unreachable; requests whose path ends with a scripted
/// suffix get that [`Fault`].
pub(crate) struct InProcessProvider {
    router: Router,
    sent: Mutex<Vec<String>>,
    faults: Mutex<Vec<(String, Fault)>>,
}

impl InProcessProvider {
    pub(crate) fn new(dev: &DevProvider) -> Self {
        Self {
            router: Router::new().nest(ISSUER_PATH, dev.router()),
            sent: Mutex::default(),
            faults: Mutex::default(),
        }
    }

    /// From now on, requests whose path ends with `suffix` get `fault`.
    pub(crate) fn fail(&self, suffix: &str, fault: Fault) {
        self.faults
            .lock()
            .expect("faults lock")
            .push((suffix.to_owned(), fault));
    }

    /// From now on, no request gets a scripted fault.
    pub(crate) fn heal(&self) {
        self.faults.lock().expect("faults lock").clear();
    }

    /// Every request sent so far, as `METHOD path`.
    pub(crate) fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("sent lock").clone()
    }

    fn fault_for(&self, path: &str) -> Option<Fault> {
        self.faults
            .lock()
            .expect("faults lock")
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, fault)| *fault)
    }
}

#[async_trait::async_trait]
impl Outbound for InProcessProvider {
    async fn send_capped(
        &self,
        request: OutboundRequest,
        max_body: usize,
    ) -> Result<Fetched, FetchError> {
        let (mut parts, body) = request.into_parts();
        let origin = format!(
            "{}://{}",
            parts.uri.scheme_str().unwrap_or_default(),
            parts
                .uri
                .authority()
                .map(|a| a.as_str())
                .unwrap_or_default()
        );
        if origin != ISSUER_ORIGIN {
            return Err(FetchError::Connect);
        }
        let path = parts.uri.path().to_owned();
        self.sent
            .lock()
            .expect("sent lock")
            .push(format!("{} {path}", parts.method));
        match self.fault_for(&path) {
            Some(Fault::Unreachable) => return Err(FetchError::Connect),
            Some(Fault::Hang) => std::future::pending::<()>().await,
            None => {}
        }
        // The router routes on the path (the issuer's path prefix included, as nested).
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .expect("a path and query is a valid URI");
        let request = http::Request::from_parts(parts, axum::body::Body::from(body));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, max_body)
            .await
            .map_err(|_| FetchError::TooLarge)?;
        Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body: body.to_vec(),
        })
    }
}
