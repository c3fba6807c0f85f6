//! All integration tests, in one test binary: the flows driven in-process through
//! `App::handle` against the real dev provider on loopback, and the Lambda binaries.

#![allow(clippy::unwrap_used)]

mod authorizer;
mod callback;
mod concurrency;
mod cors;
mod dynamodb;
mod edge;
mod fixtures;
mod form_post;
mod headers;
mod hostile;
mod id_token;
mod lambda;
mod local_runner;
mod login;
mod logs;
mod mobile;
mod providers;
mod proxy;
mod refresh;
mod session;
mod store;
