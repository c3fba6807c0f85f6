//! The token handler's library: every decision the Lambda functions and the local runner make.
//!
//! Binaries only wire: they load a [`config::Config`], build an [`app::App`] once per cold start
//! and hand each request to [`app::App::handle_for`], which runs it through the function's
//! route table ([`routes`]). Handlers parse requests into typed ones and run the [`flow`]s over
//! the narrow [`deps::Deps`] ports.

pub mod app;
pub mod authorized;
pub mod aws;
pub mod caller;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod deadline;
pub mod demo;
pub mod deps;
pub mod edge;
pub mod events;
pub mod flow;
pub mod kms;
pub mod lambda;
pub mod provider;
pub mod random;
pub mod routes;
pub mod secret;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod types;

pub use app::App;
