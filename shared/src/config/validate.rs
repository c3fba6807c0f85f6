//! Every rule a configuration must meet, applied to the raw file: one error naming the key,
//! or a complete [`Config`].

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use super::raw::{RawConfig, RawDuration, RawEncryption, RawProvider, RawStore};
use super::{
    Config, ConfigError, Encryption, KmsKeyId, KmsKeys, ProviderConfig, StoreConfig, WrappedKey,
};
use crate::crypto::Keyring;
use crate::types::{Origin, ProviderId, ReturnTo, is_loopback};

/// Units a duration may use: seconds to days. Weeks, months and years are refused, since no
/// setting here is meant to be that long and a typo should not pass.
const DURATION_UNITS: &[&str] = &[
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr",
    "hrs", "hour", "hours", "d", "day", "days",
];

/// Parses a duration with humantime ("90s", "10m", "1h", "30d", "1h 30m") in the units of
/// [`DURATION_UNITS`], or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(Duration::from_secs);
    }
    let units_ok = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|unit| !unit.is_empty())
        .all(|unit| DURATION_UNITS.contains(&unit));
    units_ok
        .then(|| humantime::parse_duration(text).ok())
        .flatten()
}

fn duration(
    raw: Option<RawDuration>,
    key: &str,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let value = match raw {
        None => default,
        Some(RawDuration::Seconds(s)) => Duration::from_secs(s),
        Some(RawDuration::Text(t)) => parse_duration(&t).ok_or_else(|| {
            ConfigError::new(
                key,
                "expected a duration such as \"90s\", \"10m\", \"1h\" or \"30d\"",
            )
        })?,
    };
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("must be between {}s and {}s", min.as_secs(), max.as_secs()),
        ));
    }
    Ok(value)
}

/// An http(s) URL without query, fragment or user info; plain http only for loopback.
pub(super) fn service_url(raw: &str, key: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(key, format!("not a URL: {e}")))?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    if !scheme_ok {
        return Err(ConfigError::new(
            key,
            "must use https (http only for 127.0.0.1/localhost)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::new(
            key,
            "must not have a query, fragment or user info",
        ));
    }
    Ok(url)
}

fn validate_mobile_redirect(raw: &str, key: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(key, format!("not a URI: {e}")))?;
    if url.fragment().is_some() {
        return Err(ConfigError::new(key, "must not have a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback_ip = matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
            if !loopback_ip {
                return Err(ConfigError::new(
                    key,
                    "plain http is only allowed for the loopback IPs 127.0.0.1 and [::1] (RFC 8252 §7.3)",
                ));
            }
        }
        scheme if scheme.contains('.') => {}
        _ => {
            return Err(ConfigError::new(
                key,
                "use a reverse-domain private-use scheme (com.example.app:/cb), https or http://127.0.0.1",
            ));
        }
    }
    Ok(raw.to_owned())
}

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut public_base_url = service_url(&raw.public_base_url, "public_base_url")?;
    let trimmed = public_base_url.path().trim_end_matches('/').to_owned();
    public_base_url.set_path(&trimmed);
    let cookie_secure = raw.cookie_secure.unwrap_or(true);
    let allowed_origins = allowed_origins(&raw.allowed_origins, cookie_secure)?;
    let default_return_to = raw.default_return_to.as_deref().unwrap_or("/");
    let default_return_to =
        ReturnTo::parse(default_return_to, &allowed_origins).ok_or_else(|| {
            ConfigError::new(
                "default_return_to",
                "must be a path starting with a single / or a URL on one of allowed_origins",
            )
        })?;
    let mobile_redirects = raw
        .mobile_redirects
        .iter()
        .enumerate()
        .map(|(i, r)| validate_mobile_redirect(r, &format!("mobile_redirects[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let store = store(raw.store)?;
    let encryption = encryption(raw.encryption)?;
    if encryption.is_none() && store != StoreConfig::Memory {
        return Err(ConfigError::new(
            "encryption.keys",
            "required (or kms_key_id with wrapped_keys) when tokens are stored outside this \
             process",
        ));
    }
    let minute = Duration::from_secs(60);
    let day = Duration::from_secs(86_400);
    let providers = providers(raw.providers)?;
    let apis = super::apis::apis(raw.apis, &providers)?;
    Ok(Config {
        public_base_url,
        default_return_to,
        allowed_origins,
        mobile_redirects,
        session_ttl: duration(raw.session_ttl, "session_ttl", 30 * day, minute, 400 * day)?,
        transaction_ttl: duration(
            raw.transaction_ttl,
            "transaction_ttl",
            10 * minute,
            minute,
            60 * minute,
        )?,
        refresh_skew: duration(
            raw.refresh_skew,
            "refresh_skew",
            minute,
            Duration::ZERO,
            60 * minute,
        )?,
        force_refresh_window: duration(
            raw.force_refresh_window,
            "force_refresh_window",
            Duration::from_secs(5),
            Duration::ZERO,
            minute,
        )?,
        cookie_secure,
        store,
        encryption,
        providers,
        apis,
    })
}

/// Exact origins; with secure cookies only https (plain http on loopback): a plain-http origin
/// gets credentialed CORS and trusted return_to URLs, so anyone on its network path could read
/// tokens.
fn allowed_origins(raw: &[String], cookie_secure: bool) -> Result<Vec<Origin>, ConfigError> {
    let mut origins = Vec::with_capacity(raw.len());
    for (i, o) in raw.iter().enumerate() {
        let key = format!("allowed_origins[{i}]");
        let origin = Origin::parse(o).ok_or_else(|| {
            ConfigError::new(
                &key,
                "must be an origin such as https://app.example.com (no path)",
            )
        })?;
        if cookie_secure && !origin.is_https_or_loopback() {
            return Err(ConfigError::new(
                &key,
                "must use https while cookie_secure is true (http only for 127.0.0.1/localhost)",
            ));
        }
        origins.push(origin);
    }
    Ok(origins)
}

fn store(raw: Option<RawStore>) -> Result<StoreConfig, ConfigError> {
    let Some(s) = raw else {
        return Ok(StoreConfig::Memory);
    };
    match s.kind.as_str() {
        "memory" => Ok(StoreConfig::Memory),
        "dynamodb" => Ok(StoreConfig::Dynamodb {
            table: s.table.filter(|t| !t.is_empty()).ok_or_else(|| {
                ConfigError::new("store.table", "required for kind = \"dynamodb\"")
            })?,
            endpoint: s
                .endpoint
                .as_deref()
                .map(|e| {
                    Url::parse(e).map_err(|err| {
                        ConfigError::new("store.endpoint", format!("not a URL: {err}"))
                    })
                })
                .transpose()?,
            region: s.region,
            create_table: s.create_table,
        }),
        _ => Err(ConfigError::new(
            "store.kind",
            "must be \"memory\" or \"dynamodb\"",
        )),
    }
}

/// `[encryption]`: raw `keys`, or `kms_key_id` with `wrapped_keys` (and an optional
/// `kms_endpoint`); never both, so which keys seal is never a guess.
fn encryption(raw: Option<RawEncryption>) -> Result<Option<Encryption>, ConfigError> {
    let Some(e) = raw else {
        return Ok(None);
    };
    let kms_named = e.kms_key_id.is_some() || e.wrapped_keys.is_some() || e.kms_endpoint.is_some();
    match &e.keys {
        Some(_) if kms_named => Err(ConfigError::new(
            "encryption",
            "set either `keys` or `kms_key_id` with `wrapped_keys`, not both",
        )),
        Some(keys) => raw_keys(keys).map(|k| Some(Encryption::Keys(k))),
        None if kms_named => kms_keys(e).map(|k| Some(Encryption::Kms(k))),
        None => Err(ConfigError::new(
            "encryption",
            "set `keys`, or `kms_key_id` with `wrapped_keys`",
        )),
    }
}

fn raw_keys(keys: &[String]) -> Result<Keyring, ConfigError> {
    for (i, k) in keys.iter().enumerate() {
        Keyring::from_base64(&[k])
            .map_err(|err| ConfigError::new(format!("encryption.keys[{i}]"), err.to_string()))?;
    }
    Keyring::from_base64(keys).map_err(|err| ConfigError::new("encryption.keys", err.to_string()))
}

fn kms_keys(e: RawEncryption) -> Result<KmsKeys, ConfigError> {
    let key_id = e
        .kms_key_id
        .as_deref()
        .ok_or_else(|| {
            ConfigError::new(
                "encryption.kms_key_id",
                "required with wrapped_keys: the KMS key that wrapped them",
            )
        })
        .and_then(|id| {
            KmsKeyId::parse(id).ok_or_else(|| {
                ConfigError::new(
                    "encryption.kms_key_id",
                    "must be a KMS key id, key ARN, alias name or alias ARN",
                )
            })
        })?;
    let blobs = e.wrapped_keys.unwrap_or_default();
    if blobs.is_empty() {
        return Err(ConfigError::new(
            "encryption.wrapped_keys",
            "list at least one data key wrapped by kms_key_id (scripts/new-data-key makes one)",
        ));
    }
    let wrapped = blobs
        .iter()
        .enumerate()
        .map(|(i, blob)| {
            WrappedKey::from_base64(blob).ok_or_else(|| {
                ConfigError::new(
                    format!("encryption.wrapped_keys[{i}]"),
                    "must be the base64 CiphertextBlob of a data key wrapped by KMS",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = e
        .kms_endpoint
        .as_deref()
        .map(|url| {
            Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    ConfigError::new("encryption.kms_endpoint", "must be an http(s) URL")
                })
        })
        .transpose()?;
    Ok(KmsKeys {
        key_id,
        wrapped,
        endpoint,
    })
}

fn providers(
    raw: BTreeMap<String, RawProvider>,
) -> Result<BTreeMap<ProviderId, ProviderConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "configure at least one provider",
        ));
    }
    let mut providers = BTreeMap::new();
    for (name, p) in raw {
        let key = format!("providers.{name}");
        let id = ProviderId::parse(&name).ok_or_else(|| {
            ConfigError::new(
                &key,
                "provider names are 1-32 characters of a-z, 0-9, - and _",
            )
        })?;
        let provider = super::provider::validate_provider(id.clone(), p, &key)?;
        providers.insert(id, provider);
    }
    Ok(providers)
}
