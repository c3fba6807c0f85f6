//! Configuration files: loading never panics; an accepted configuration keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::config::Config;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fuzz_target!(|data: &str| {
    if let Ok(config) = Config::from_toml(data, |_| Some(KEY.to_owned())) {
        let scheme = config.public_base_url.scheme();
        assert!(scheme == "https" || scheme == "http");
        assert!(!config.providers.is_empty());
        if config.cookie_secure {
            assert!(
                config
                    .allowed_origins
                    .iter()
                    .all(|o| o.is_https_or_loopback())
            );
        }
    }
});
