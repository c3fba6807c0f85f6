//! API Gateway (HTTP API, payload 2.0) events through the translation into a request (the
//! runtime loop's check, then lambda_http's conversion, which must then never panic) and the
//! whole edge of the token handler: never a 500, always the contract's headers.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared::App;
use shared::config::Config;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: App,
}

/// The provider's issuer is a closed loopback port: discovery fails at once with 503.
const CONFIG: &str = r#"
public_base_url = "https://auth.example.com"
allowed_origins = ["https://app.example.com"]
mobile_redirects = ["com.example.app:/oauth", "http://127.0.0.1/cb"]

[providers.dev]
preset = "oidc"
issuer = "http://127.0.0.1:9"
client_id = "client-1"
client_secret = "secret-1"
"#;

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let config = Config::from_toml(CONFIG, |_| None).expect("the fixture configuration");
        let app = runtime
            .block_on(App::from_config(config))
            .expect("the app builds");
        Fixture { runtime, app }
    })
}

fuzz_target!(|data: &str| {
    let Some(req) = shared::lambda::request_from_event(data) else {
        return;
    };
    let f = fixture();
    let resp = f.runtime.block_on(f.app.handle(req));
    let status = resp.status();
    assert!(
        status.as_u16() < 500 || status.as_u16() == 503,
        "{status} for {data:?}"
    );
    assert_eq!(
        resp.headers()
            .get(http::header::CACHE_CONTROL)
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
});
