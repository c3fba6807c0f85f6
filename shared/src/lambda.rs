//! The Lambda entry point every function binary calls: telemetry, configuration and clients
//! once per cold start, then the runtime loop.

use std::sync::Arc;

pub use lambda_http::Error;
use lambda_http::service_fn;

use crate::app::{App, Function};

/// Runs `function` under the Lambda runtime. A bad configuration stops start-up with one message.
pub async fn run(function: Function) -> Result<(), Error> {
    crate::telemetry::init();
    let app = match load().await {
        Ok(app) => Arc::new(app),
        Err(e) => {
            // One message with the whole chain: it names the configuration key at fault.
            let message = crate::telemetry::Chain(&e).to_string();
            tracing::error!(error = %message, "start-up failed");
            return Err(message.into());
        }
    };
    lambda_http::run(service_fn(move |req| {
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(app.handle_for(function, req).await) }
    }))
    .await
}

async fn load() -> Result<App, crate::app::StartupError> {
    let config = crate::source::load()
        .await
        .map_err(crate::app::StartupError::Source)?;
    App::from_config(config).await
}
