//! All integration tests, in one test binary: the flows driven in-process through
//! `App::handle` against the real dev provider on loopback, and the Lambda binaries.

#![allow(clippy::unwrap_used)]

/// Generates one `#[tokio::test]` per store (the embedded one and DynamoDB, skipped with a
/// reason when no DynamoDB endpoint is set) for each `async fn(BackendKind)` named.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(integration_tests::BackendKind::Memory).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if integration_tests::dynamodb_or_skip(stringify!($name)) {
                    super::$name(integration_tests::BackendKind::Dynamodb).await
                }
            })*
        }
    };
}

mod admin;
mod authorizer;
mod backchannel;
mod callback;
mod concurrency;
mod cors;
mod dynamodb;
mod edge;
mod events;
mod fixtures;
mod form_post;
mod headers;
mod health;
mod hostile;
mod id_token;
mod kms;
mod lambda;
mod local_runner;
mod login;
mod logs;
mod mobile;
mod native;
mod native_code;
mod native_presets;
mod native_sdk;
mod openapi;
mod providers;
mod proxy;
mod refresh;
mod session;
mod shared_discovery;
mod store;
mod template;
