//! The demo page the local runner and the e2e front serve at `/`: its template filled from the
//! configuration (the login buttons' providers, the path the proxy button calls first).

use crate::config::Config;

/// `template` (`local/src/demo.html`) with `{{PROVIDERS}}` (a JSON list of provider names) and
/// `{{API_PATH}}` (the dev provider's userinfo through the first API when it is called `dev`,
/// else the first API's root, else empty) filled in.
pub fn page(template: &str, config: &Config) -> String {
    let providers: Vec<&str> = config.providers.keys().map(|p| p.as_str()).collect();
    let api_path = config.apis.keys().next().map_or_else(String::new, |name| {
        let userinfo = if name.as_str() == "dev" {
            "userinfo"
        } else {
            ""
        };
        format!("/api/{name}/{userinfo}")
    });
    template
        .replace("{{PROVIDERS}}", &serde_json::json!(providers).to_string())
        .replace("{{API_PATH}}", &api_path)
}
