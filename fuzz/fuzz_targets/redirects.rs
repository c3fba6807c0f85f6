//! `return_to` and `app_redirect`: an accepted `return_to` never sends a browser off our
//! origin or the allowed one, and is always a valid header value; an accepted `app_redirect`
//! is one of the registered ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::types::{AppRedirect, Origin, ReturnTo};
use url::Url;

fuzz_target!(|data: &str| {
    let Some(app) = Origin::parse("https://app.example.com") else {
        return;
    };
    if let Some(rt) = ReturnTo::parse(data, &[app]) {
        for location in [rt.location(), rt.with_error("login_failed")] {
            assert!(
                http::HeaderValue::from_str(&location).is_ok(),
                "{location:?}"
            );
            let landed = Url::parse("https://auth.example.com/auth/dev/callback")
                .and_then(|base| base.join(&location))
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            assert!(
                landed == "https://auth.example.com" || landed == "https://app.example.com",
                "{data:?} -> {location:?} -> {landed:?}"
            );
        }
    }
    let registered = [
        "com.example.app:/oauth".to_owned(),
        "http://127.0.0.1/cb".to_owned(),
        "https://app.example.com/cb".to_owned(),
    ];
    if let Some(redirect) = AppRedirect::parse(data, &registered) {
        let got = Url::parse(redirect.as_str()).expect("accepted redirects are URLs");
        let matches_one = registered.iter().any(|r| {
            let reg = Url::parse(r).expect("registered redirects are URLs");
            got.scheme() == reg.scheme()
                && got.host_str() == reg.host_str()
                && got.path() == reg.path()
                && got.query() == reg.query()
                && got.username() == reg.username()
                && got.password() == reg.password()
                && (got.port() == reg.port() || reg.host_str() == Some("127.0.0.1"))
        });
        assert!(matches_one, "{data:?}");
    }
});
