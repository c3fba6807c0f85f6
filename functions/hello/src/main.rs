//! `hello`: the example route behind the authorizer (`GET /me/hello`). Wiring only; see
//! `shared::authorized` for what a function behind the authorizer can read.

use shared::authorized::{AuthorizedUser, hello};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::telemetry::init();
    let handler = lambda_http::service_fn(|req: lambda_http::Request| async move {
        Ok::<_, std::convert::Infallible>(hello(AuthorizedUser::from_request(&req).as_ref()))
    });
    lambda_http::run(handler).await
}
