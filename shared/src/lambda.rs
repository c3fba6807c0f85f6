//! The Lambda entry point every function binary calls: telemetry, configuration and clients
//! once per cold start, then the runtime loop. The binaries run it on a current-thread tokio
//! runtime: Lambda hands an instance one event at a time, so worker threads would only add
//! start-up work and cross-thread wake-ups to every request.
//!
//! API Gateway events pass one check before lambda_http turns them into requests: lambda_http
//! panics (and Lambda then answers 500) on a `Host`, `X-Forwarded-Proto`, path or raw query
//! that does not make a valid URI. Such an event is answered 400 `invalid_request` here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use lambda_http::Error;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, LambdaEvent, Service, service_fn};
use serde::Serialize;
use tracing::Instrument;

use crate::app::{App, Function};
use crate::edge::{ApiError, Request};

/// Runs `function` under the Lambda runtime. A bad configuration stops start-up with one message.
pub async fn run(function: Function) -> Result<(), Error> {
    let app = start().await?;
    app.router(function);
    let handler = service_fn(move |req: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(app.handle_for(function, req).await) }
    });
    lambda_http::lambda_runtime::run(Guard(Adapter::from(handler))).await
}

/// Runs the authorizer under the Lambda runtime: each event (any JSON, so a malformed one is a
/// denial rather than a runtime error) gets [`App::authorize`]'s simple response.
pub async fn run_authorizer() -> Result<(), Error> {
    let app = start().await?;
    let handler =
        lambda_http::lambda_runtime::service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let app = Arc::clone(&app);
            async move {
                let span = tracing::info_span!("request", request_id = %event.context.request_id);
                let answer = app.authorize(&event.payload).instrument(span).await;
                answer.map_err(|e| {
                    tracing::error!(error = %crate::telemetry::Chain(&e), "authorizer failed");
                    Error::from("the session store is unavailable")
                })
            }
        });
    lambda_http::lambda_runtime::run(handler).await
}

/// Telemetry, then the application from its configuration source, once per cold start.
async fn start() -> Result<Arc<App>, Error> {
    crate::telemetry::init();
    match load().await {
        Ok(app) => Ok(Arc::new(app)),
        Err(e) => {
            // One message with the whole chain: it names the configuration key at fault.
            let message = crate::telemetry::Chain(&e).to_string();
            tracing::error!(error = %message, "start-up failed");
            Err(message.into())
        }
    }
}

async fn load() -> Result<App, crate::app::StartupError> {
    let config = crate::source::load()
        .await
        .map_err(crate::app::StartupError::Source)?;
    let namespace = std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|ns| !ns.trim().is_empty())
        .unwrap_or_else(|| crate::events::emf::DEFAULT_NAMESPACE.to_owned());
    Ok(App::from_config(config).await?.with_metrics(namespace))
}

/// True when lambda_http can turn `event` into a request: the URI it builds from the `Host`
/// header (or the API's domain), `X-Forwarded-Proto`, the raw path and the raw query parses.
/// Mirrors `lambda_http::request`'s construction, which unwraps instead of failing.
pub fn convertible(event: &LambdaRequest) -> bool {
    let LambdaRequest::ApiGatewayV2(ag) = event else {
        return true;
    };
    let header = |name: &str| ag.headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").or(ag.request_context.domain_name.as_deref());
    let scheme = header("x-forwarded-proto").unwrap_or("https");
    let path = ag.raw_path.as_deref().unwrap_or_default();
    // lambda_http puts a named stage in front of the path; that changes nothing that can fail,
    // so the stage is not looked at here.
    let mut uri = match host {
        Some(host) => match url::Url::parse(&format!("{scheme}://{host}{path}")) {
            Ok(url) => url.to_string(),
            Err(_) => return false,
        },
        None => match url::Url::parse(&format!("http://localhost{path}")) {
            Ok(url) => url.path().to_owned(),
            Err(_) => return false,
        },
    };
    if let Some(query) = ag.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    uri.parse::<http::Uri>().is_ok()
}

/// An API Gateway (payload 2.0) event as the request the handlers take, or `None` when it is
/// refused at the edge; what the runtime loop does, for tests and fuzzing.
pub fn request_from_event(json: &str) -> Option<Request> {
    let event: LambdaRequest = serde_json::from_str(json).ok()?;
    convertible(&event).then(|| event.into())
}

/// The answer to an event: the handler's, or the edge's refusal.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer<T> {
    Handled(T),
    Refused(Refusal),
}

/// An API Gateway payload 2.0 response with the contract's `invalid_request` error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Refusal {
    status_code: u16,
    headers: std::collections::BTreeMap<&'static str, &'static str>,
    body: String,
    is_base64_encoded: bool,
}

impl Refusal {
    fn invalid_request() -> Self {
        let error = ApiError::InvalidRequest;
        let body = serde_json::json!({
            "error": error.to_string(),
            "error_description": error.description(),
        });
        Self {
            status_code: error.status().as_u16(),
            headers: [
                ("content-type", "application/json"),
                ("cache-control", "no-store"),
                ("referrer-policy", "no-referrer"),
                ("x-content-type-options", "nosniff"),
            ]
            .into_iter()
            .collect(),
            body: body.to_string(),
            is_base64_encoded: false,
        }
    }
}

/// Refuses events that lambda_http could not convert; hands the others to its adapter.
struct Guard<A>(A);

impl<A, T> Service<LambdaEvent<LambdaRequest>> for Guard<A>
where
    A: Service<LambdaEvent<LambdaRequest>, Response = T>,
    A::Future: Send + 'static,
    A::Error: Send + 'static,
    T: Serialize + Send + 'static,
{
    type Response = Answer<T>;
    type Error = A::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Answer<T>, A::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        if !convertible(&event.payload) {
            tracing::warn!(
                request_id = %event.context.request_id,
                "event refused: its host, path or query makes no valid URI"
            );
            return Box::pin(std::future::ready(Ok(Answer::Refused(
                Refusal::invalid_request(),
            ))));
        }
        let handled = self.0.call(event);
        Box::pin(async move { handled.await.map(Answer::Handled) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(host: &str, raw_path: &str, raw_query: &str) -> String {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "GET /auth/session",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": {"host": host},
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "auth.example.com",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "GET /auth/session", "stage": "$default",
                "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 0
            },
            "isBase64Encoded": false
        })
        .to_string()
    }

    #[test]
    fn events_whose_uri_lambda_http_cannot_build_are_refused_not_panicked_on() {
        for (host, query) in [
            ("auth.`xample.com", ""),
            ("auth example.com", ""),
            ("auth.example.com", "a=\"b\""),
            ("auth.example.com", "a=b c"),
        ] {
            let json = event(host, "/auth/session", query);
            assert!(request_from_event(&json).is_none(), "{host:?} {query:?}");
            // Why the check exists: lambda_http itself panics on these events.
            let converted = std::panic::catch_unwind(|| lambda_http::request::from_str(&json));
            assert!(
                converted.is_err(),
                "lambda_http converts {host:?} {query:?} now"
            );
        }
    }

    #[test]
    fn ordinary_events_convert() {
        assert!(request_from_event(&event("auth.example.com", "/auth/session", "a={b}")).is_some());
        let req = request_from_event(&event("auth.example.com", "/auth/session", "a=%22b%22"))
            .expect("converts");
        assert_eq!(req.uri().path(), "/auth/session");
        assert_eq!(req.uri().query(), Some("a=%22b%22"));
    }

    #[test]
    fn the_refusal_is_the_contracts_json_error() {
        let json = serde_json::to_value(Answer::<()>::Refused(Refusal::invalid_request())).unwrap();
        assert_eq!(json["statusCode"], 400);
        assert_eq!(json["headers"]["cache-control"], "no-store");
        let body: serde_json::Value = serde_json::from_str(json["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}
