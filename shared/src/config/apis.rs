//! `[apis.NAME]`: the upstream APIs `ANY /api/{api}/{path}` may call with a session's access
//! token, each tied to one provider, one base URL and a list of methods.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use url::Url;

use super::ConfigError;
use super::validate::service_url;
use crate::types::ProviderId;

/// One configured upstream API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The `{api}` segment of the route.
    pub name: ProviderId,
    /// Whose sessions may call it: their access token is attached.
    pub provider: ProviderId,
    /// Where `/{path}` is appended; its path has no trailing slash (`""` for the root).
    pub base_url: Url,
    /// The methods it may be called with (default `GET`, `HEAD`).
    pub methods: Vec<Method>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    provider: String,
    base_url: String,
    methods: Option<Vec<String>>,
}

/// Methods an API may allow: those with defined semantics for a resource.
const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Validates every `[apis.NAME]` against the configured providers.
pub(super) fn apis(
    raw: BTreeMap<String, RawApi>,
    providers: &BTreeMap<ProviderId, super::ProviderConfig>,
) -> Result<BTreeMap<ProviderId, ApiConfig>, ConfigError> {
    let mut apis = BTreeMap::new();
    for (name, api) in raw {
        let key = format!("apis.{name}");
        let name = ProviderId::parse(&name).ok_or_else(|| {
            ConfigError::new(&key, "API names are 1-32 characters of a-z, 0-9, - and _")
        })?;
        let provider = ProviderId::parse(&api.provider)
            .filter(|p| providers.contains_key(p))
            .ok_or_else(|| {
                ConfigError::new(format!("{key}.provider"), "must name a configured provider")
            })?;
        let mut base_url = service_url(&api.base_url, &format!("{key}.base_url"))?;
        let trimmed = base_url.path().trim_end_matches('/').to_owned();
        base_url.set_path(&trimmed);
        let methods = methods(api.methods, &format!("{key}.methods"))?;
        apis.insert(
            name.clone(),
            ApiConfig {
                name,
                provider,
                base_url,
                methods,
            },
        );
    }
    Ok(apis)
}

fn methods(raw: Option<Vec<String>>, key: &str) -> Result<Vec<Method>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(vec![Method::GET, Method::HEAD]);
    };
    if raw.is_empty() {
        return Err(ConfigError::new(key, "list at least one method"));
    }
    let mut methods = Vec::with_capacity(raw.len());
    for m in raw {
        if !KNOWN_METHODS.contains(&m.as_str()) {
            return Err(ConfigError::new(
                key,
                format!("each method must be one of {}", KNOWN_METHODS.join(", ")),
            ));
        }
        let method = Method::from_bytes(m.as_bytes())
            .map_err(|_| ConfigError::new(key, "not an HTTP method"))?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}
