//! The `authorizer` Lambda function: wiring only; see `shared::flow::authorize` for the decision.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run_authorizer().await
}
