//! The `proxy` Lambda function: wiring only; see `shared::app::Function::Proxy` for its routes.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::run(shared::app::Function::Proxy).await
}
