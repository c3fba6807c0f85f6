//! The configuration file: TOML → a typed, validated [`Config`], or one error naming the key.
//!
//! Values may name environment variables as `${NAME}`; that is how secrets arrive. Nothing is
//! half-applied: [`Config::from_toml`] returns a complete configuration or an error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::crypto::Keyring;
use crate::secret::ClientSecret;
use crate::types::{Origin, ProviderId, ReturnTo};

/// A configuration that cannot be used, with the key at fault. The message never holds a value
/// that came from the environment.
#[derive(Debug, thiserror::Error)]
#[error("configuration error at `{key}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending key (`providers.google.client_id`), or `(file)`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration, validated.
#[derive(Debug)]
pub struct Config {
    /// Where the token handler is reachable; callback URLs are built from this only.
    pub public_base_url: Url,
    /// Where the browser goes after login when the request names no `return_to`.
    pub default_return_to: ReturnTo,
    /// Origins allowed as `return_to`, for CORS and for the `Origin` check.
    pub allowed_origins: Vec<Origin>,
    /// Exact redirect URIs mobile apps may use (RFC 8252).
    pub mobile_redirects: Vec<String>,
    /// Lifetime of a session.
    pub session_ttl: Duration,
    /// Lifetime of a login transaction (and of its cookie).
    pub transaction_ttl: Duration,
    /// A stored access token with less than this left is refreshed.
    pub refresh_skew: Duration,
    /// A forced refresh this soon after the last completed one returns that one's token.
    pub force_refresh_window: Duration,
    /// `Secure` cookies with the `__Host-` prefix; false only for plain-http development.
    pub cookie_secure: bool,
    /// Where transactions and sessions live.
    pub store: StoreConfig,
    /// Keys for tokens at rest; `None` means a random key for this process (embedded store only).
    pub encryption: Option<Keyring>,
    /// The configured providers by name.
    pub providers: BTreeMap<ProviderId, ProviderConfig>,
}

/// Which storage backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In-process store: for local runs and tests; loses everything on restart.
    Memory,
    /// One DynamoDB table.
    Dynamodb {
        /// Table name.
        table: String,
        /// Endpoint override for a local DynamoDB-compatible server.
        endpoint: Option<Url>,
        /// Region override.
        region: Option<String>,
        /// Create the table (and its TTL) when it is missing; local runs only.
        create_table: bool,
    },
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

/// What kind of protocol a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect with discovery at `{issuer}/.well-known/openid-configuration`.
    Oidc {
        /// The issuer identifier, compared exactly.
        issuer: String,
    },
}

/// One provider, validated.
#[derive(Debug)]
pub struct ProviderConfig {
    /// Name used in routes.
    pub id: ProviderId,
    /// Protocol and where to find it.
    pub kind: ProviderKind,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: ClientSecret,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
    /// Token endpoint client authentication.
    pub client_auth: ClientAuthMethod,
    /// Extra authorization request parameters (for example `prompt`, `access_type`).
    pub extra_auth_params: Vec<(String, String)>,
}

impl ProviderConfig {
    /// The OIDC issuer, for providers that have one.
    pub fn issuer(&self) -> &str {
        match &self.kind {
            ProviderKind::Oidc { issuer } => issuer,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    public_base_url: String,
    #[serde(default)]
    default_return_to: Option<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    mobile_redirects: Vec<String>,
    #[serde(default)]
    session_ttl: Option<RawDuration>,
    #[serde(default)]
    transaction_ttl: Option<RawDuration>,
    #[serde(default)]
    refresh_skew: Option<RawDuration>,
    #[serde(default)]
    force_refresh_window: Option<RawDuration>,
    #[serde(default)]
    cookie_secure: Option<bool>,
    #[serde(default)]
    store: Option<RawStore>,
    #[serde(default)]
    encryption: Option<RawEncryption>,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    kind: String,
    table: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    #[serde(default)]
    create_table: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncryption {
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    preset: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: String,
    scopes: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    extra_auth_params: BTreeMap<String, String>,
}

/// Parameters the flows set themselves; configuring them as extras would break the protocol.
const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

impl Config {
    /// Parses and validates TOML text; `env` resolves `${NAME}` references.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new("(file)", format!("not valid TOML: {}", e.message()))
        })?;
        expand_table(&mut table, "", &env)?;
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                ConfigError::new(
                    if key == "." { "(file)".into() } else { key },
                    e.into_inner().to_string(),
                )
            })?;
        validate(raw)
    }
}

fn expand_table(
    table: &mut toml::Table,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        expand_value(value, &path, env)?;
    }
    Ok(())
}

fn expand_value(
    value: &mut toml::Value,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => *s = expand_string(s, path, env)?,
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => expand_table(t, path, env)?,
        _ => {}
    }
    Ok(())
}

/// Replaces each `${NAME}` with the variable's value.
fn expand_string(
    s: &str,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ConfigError::new(path, "unterminated `${` reference"))?;
        let name = &after[..end];
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(ConfigError::new(
                path,
                "`${…}` must name an environment variable of letters, digits and `_`",
            ));
        }
        let value = env(name).ok_or_else(|| {
            ConfigError::new(path, format!("environment variable {name} is not set"))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses "90s", "10m", "1h", "30d" (or a bare number of seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor).map(Duration::from_secs)
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

/// True for hosts on this machine, where plain http is acceptable.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// An http(s) URL without query, fragment or user info; plain http only for loopback.
fn service_url(raw: &str, key: &str) -> Result<Url, ConfigError> {
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

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut public_base_url = service_url(&raw.public_base_url, "public_base_url")?;
    let trimmed = public_base_url.path().trim_end_matches('/').to_owned();
    public_base_url.set_path(&trimmed);

    let cookie_secure = raw.cookie_secure.unwrap_or(true);
    let mut allowed_origins = Vec::new();
    for (i, o) in raw.allowed_origins.iter().enumerate() {
        let key = format!("allowed_origins[{i}]");
        let origin = Origin::parse(o).ok_or_else(|| {
            ConfigError::new(
                &key,
                "must be an origin such as https://app.example.com (no path)",
            )
        })?;
        // A plain-http origin gets credentialed CORS and trusted return_to URLs; anyone on its
        // network path could then read tokens. Only loopback is exempt, for development.
        if cookie_secure && !origin.is_https_or_loopback() {
            return Err(ConfigError::new(
                &key,
                "must use https while cookie_secure is true (http only for 127.0.0.1/localhost)",
            ));
        }
        allowed_origins.push(origin);
    }
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

    let minute = Duration::from_secs(60);
    let day = Duration::from_secs(86_400);
    let session_ttl = duration(raw.session_ttl, "session_ttl", 30 * day, minute, 400 * day)?;
    let transaction_ttl = duration(
        raw.transaction_ttl,
        "transaction_ttl",
        10 * minute,
        minute,
        60 * minute,
    )?;
    let refresh_skew = duration(
        raw.refresh_skew,
        "refresh_skew",
        minute,
        Duration::ZERO,
        60 * minute,
    )?;
    let force_refresh_window = duration(
        raw.force_refresh_window,
        "force_refresh_window",
        Duration::from_secs(5),
        Duration::ZERO,
        minute,
    )?;

    let store = match raw.store {
        None => StoreConfig::Memory,
        Some(s) => match s.kind.as_str() {
            "memory" => StoreConfig::Memory,
            "dynamodb" => StoreConfig::Dynamodb {
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
            },
            _ => {
                return Err(ConfigError::new(
                    "store.kind",
                    "must be \"memory\" or \"dynamodb\"",
                ));
            }
        },
    };

    let encryption = match raw.encryption {
        None => None,
        Some(e) => {
            for (i, k) in e.keys.iter().enumerate() {
                Keyring::from_base64(&[k]).map_err(|err| {
                    ConfigError::new(format!("encryption.keys[{i}]"), err.to_string())
                })?;
            }
            Some(
                Keyring::from_base64(&e.keys)
                    .map_err(|err| ConfigError::new("encryption.keys", err.to_string()))?,
            )
        }
    };
    if encryption.is_none() && store != StoreConfig::Memory {
        return Err(ConfigError::new(
            "encryption.keys",
            "required when tokens are stored outside this process",
        ));
    }

    if raw.providers.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "configure at least one provider",
        ));
    }
    let mut providers = BTreeMap::new();
    for (name, p) in raw.providers {
        let key = format!("providers.{name}");
        let id = ProviderId::parse(&name).ok_or_else(|| {
            ConfigError::new(
                &key,
                "provider names are 1-32 characters of a-z, 0-9, - and _",
            )
        })?;
        let provider = validate_provider(id.clone(), p, &key)?;
        providers.insert(id, provider);
    }

    Ok(Config {
        public_base_url,
        default_return_to,
        allowed_origins,
        mobile_redirects,
        session_ttl,
        transaction_ttl,
        refresh_skew,
        force_refresh_window,
        cookie_secure,
        store,
        encryption,
        providers,
    })
}

/// What a preset fills in for an OpenID Connect provider; every value can be overridden
/// except the issuer.
struct OidcPreset {
    issuer: Option<&'static str>,
    scopes: &'static [&'static str],
    client_auth: ClientAuthMethod,
    extra_auth_params: &'static [(&'static str, &'static str)],
}

impl OidcPreset {
    fn named(name: &str) -> Option<Self> {
        match name {
            "oidc" => Some(Self {
                issuer: None,
                scopes: &["openid", "email", "profile"],
                client_auth: ClientAuthMethod::ClientSecretBasic,
                extra_auth_params: &[],
            }),
            // Google issues a refresh token only for access_type=offline.
            "google" => Some(Self {
                issuer: Some("https://accounts.google.com"),
                scopes: &["openid", "email", "profile"],
                client_auth: ClientAuthMethod::ClientSecretBasic,
                extra_auth_params: &[("access_type", "offline")],
            }),
            // Kakao Login with OpenID Connect enabled; Kakao takes the secret in the body.
            "kakao" => Some(Self {
                issuer: Some("https://kauth.kakao.com"),
                scopes: &["openid"],
                client_auth: ClientAuthMethod::ClientSecretPost,
                extra_auth_params: &[],
            }),
            _ => None,
        }
    }
}

fn validate_provider(
    id: ProviderId,
    p: RawProvider,
    key: &str,
) -> Result<ProviderConfig, ConfigError> {
    let preset = OidcPreset::named(&p.preset).ok_or_else(|| {
        ConfigError::new(
            format!("{key}.preset"),
            format!(
                "unknown or unsupported preset \"{}\"; this version supports \"oidc\", \"google\" \
                 and \"kakao\" (plain OAuth 2.0 providers such as Naver, Facebook and GitHub are \
                 not supported yet)",
                p.preset
            ),
        )
    })?;
    let raw_issuer = match (preset.issuer, p.issuer) {
        (None, Some(issuer)) => issuer,
        (None, None) => {
            return Err(ConfigError::new(
                format!("{key}.issuer"),
                "required for preset = \"oidc\"",
            ));
        }
        (Some(fixed), None) => fixed.to_owned(),
        (Some(fixed), Some(given)) if given == fixed => given,
        (Some(fixed), Some(_)) => {
            return Err(ConfigError::new(
                format!("{key}.issuer"),
                format!("is fixed by the preset ({fixed}); leave it out or use preset = \"oidc\""),
            ));
        }
    };
    service_url(&raw_issuer, &format!("{key}.issuer"))?;
    // Kept exactly as written: the discovery document and the id_token must repeat it to the
    // character, trailing slash included.
    let kind = ProviderKind::Oidc { issuer: raw_issuer };
    if p.client_id.trim().is_empty() {
        return Err(ConfigError::new(
            format!("{key}.client_id"),
            "must not be empty",
        ));
    }
    if p.client_secret.is_empty() {
        return Err(ConfigError::new(
            format!("{key}.client_secret"),
            "must not be empty",
        ));
    }
    let scopes = p
        .scopes
        .unwrap_or_else(|| preset.scopes.iter().map(|s| (*s).to_owned()).collect());
    if let Some(bad) = scopes
        .iter()
        .find(|s| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\'))
    {
        let _ = bad;
        return Err(ConfigError::new(
            format!("{key}.scopes"),
            "each scope is one non-empty word without spaces or quotes",
        ));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ConfigError::new(
            format!("{key}.scopes"),
            "an OpenID Connect provider needs the \"openid\" scope",
        ));
    }
    let client_auth = match p.token_endpoint_auth_method.as_deref() {
        None => preset.client_auth,
        Some("client_secret_basic") => ClientAuthMethod::ClientSecretBasic,
        Some("client_secret_post") => ClientAuthMethod::ClientSecretPost,
        Some(_) => {
            return Err(ConfigError::new(
                format!("{key}.token_endpoint_auth_method"),
                "must be \"client_secret_basic\" or \"client_secret_post\"",
            ));
        }
    };
    let mut extra_auth_params: Vec<(String, String)> = preset
        .extra_auth_params
        .iter()
        .filter(|(name, _)| !p.extra_auth_params.contains_key(*name))
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    for (name, value) in p.extra_auth_params {
        if RESERVED_AUTH_PARAMS.contains(&name.as_str()) {
            return Err(ConfigError::new(
                format!("{key}.extra_auth_params.{name}"),
                "is set by the token handler itself",
            ));
        }
        extra_auth_params.push((name, value));
    }
    Ok(ProviderConfig {
        id,
        kind,
        client_id: p.client_id,
        client_secret: ClientSecret::new(p.client_secret),
        scopes,
        client_auth,
        extra_auth_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn base() -> String {
        r#"
public_base_url = "https://auth.example.com/"
allowed_origins = ["https://app.example.com"]
session_ttl = "30d"
transaction_ttl = "10m"
refresh_skew = "60s"

[encryption]
keys = ["${TOKEN_KEY}"]

[providers.corp]
preset = "oidc"
issuer = "https://login.example.com"
client_id = "client-1"
client_secret = "${CORP_SECRET}"
"#
        .to_owned()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN_KEY" => Some(KEY.into()),
            "CORP_SECRET" => Some("s3cr3t-value".into()),
            _ => None,
        }
    }

    fn error_key(text: &str) -> String {
        match Config::from_toml(text, env) {
            Ok(_) => panic!("expected a configuration error"),
            Err(e) => e.key,
        }
    }

    #[test]
    fn valid_configuration_is_typed_and_expanded() {
        let c = Config::from_toml(&base(), env).unwrap();
        assert_eq!(c.public_base_url.as_str(), "https://auth.example.com/");
        assert_eq!(c.session_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.transaction_ttl, Duration::from_secs(600));
        assert!(c.cookie_secure);
        let corp = &c.providers[&ProviderId::parse("corp").unwrap()];
        assert_eq!(corp.client_secret.expose(), "s3cr3t-value");
        assert_eq!(corp.client_auth, ClientAuthMethod::ClientSecretBasic);
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn missing_environment_variable_names_the_key_not_the_value() {
        let err =
            Config::from_toml(&base(), |n| (n == "TOKEN_KEY").then(|| KEY.into())).unwrap_err();
        assert_eq!(err.key, "providers.corp.client_secret");
        assert!(err.message.contains("CORP_SECRET"));
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let text = base().replace("refresh_skew = \"60s\"", "refresh_skw = \"60s\"");
        let err = Config::from_toml(&text, env).unwrap_err();
        assert!(err.message.contains("refresh_skw"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            error_key(&base().replace("\"10m\"", "\"ten minutes\"")),
            "transaction_ttl"
        );
        assert_eq!(
            error_key(&base().replace("https://login.example.com", "http://login.example.com")),
            "providers.corp.issuer"
        );
        assert_eq!(
            error_key(&base().replace(
                "[\"https://app.example.com\"]",
                "[\"https://app.example.com/x\"]"
            )),
            "allowed_origins[0]"
        );
        assert_eq!(
            error_key(&base().replace("preset = \"oidc\"", "preset = \"myspace\"")),
            "providers.corp.preset"
        );
        assert_eq!(
            error_key(&format!("{}\nscopes = [\"email\"]\n", base())),
            "providers.corp.scopes"
        );
        assert_eq!(
            error_key(&base().replace("${TOKEN_KEY}", "c2hvcnQ=")),
            "encryption.keys[0]"
        );
        assert_eq!(
            error_key(&format!(
                "default_return_to = \"//evil.example\"\n{}",
                base()
            )),
            "default_return_to"
        );
        assert_eq!(
            error_key(&format!("mobile_redirects = [\"myapp:/cb\"]\n{}", base())),
            "mobile_redirects[0]"
        );
    }

    #[test]
    fn google_and_kakao_presets_fill_in_their_issuer_and_defaults() {
        let text = format!(
            "{}\n[providers.google]\npreset = \"google\"\nclient_id = \"g\"\nclient_secret = \"gs\"\n\
             \n[providers.kakao]\npreset = \"kakao\"\nclient_id = \"k\"\nclient_secret = \"ks\"\n",
            base()
        );
        let c = Config::from_toml(&text, env).unwrap();
        let google = &c.providers[&ProviderId::parse("google").unwrap()];
        assert_eq!(google.issuer(), "https://accounts.google.com");
        assert_eq!(google.client_auth, ClientAuthMethod::ClientSecretBasic);
        assert_eq!(
            google.extra_auth_params,
            [("access_type".to_owned(), "offline".to_owned())]
        );
        let kakao = &c.providers[&ProviderId::parse("kakao").unwrap()];
        assert_eq!(kakao.issuer(), "https://kauth.kakao.com");
        assert_eq!(kakao.client_auth, ClientAuthMethod::ClientSecretPost);
        assert_eq!(kakao.scopes, ["openid"]);
    }

    #[test]
    fn a_preset_issuer_cannot_be_changed_and_unsupported_presets_are_named() {
        let moved = format!(
            "{}\n[providers.google]\npreset = \"google\"\nissuer = \"https://evil.example\"\n\
             client_id = \"g\"\nclient_secret = \"gs\"\n",
            base()
        );
        assert_eq!(error_key(&moved), "providers.google.issuer");
        let naver = base().replace("preset = \"oidc\"", "preset = \"naver\"");
        let err = Config::from_toml(&naver, env).unwrap_err();
        assert_eq!(err.key, "providers.corp.preset");
        assert!(err.message.contains("naver"), "{err}");
    }

    #[test]
    fn plain_http_origins_are_refused_while_cookies_are_secure() {
        let http = base().replace(
            "[\"https://app.example.com\"]",
            "[\"http://app.example.com\"]",
        );
        let err = Config::from_toml(&http, env).unwrap_err();
        assert_eq!(err.key, "allowed_origins[0]");
        assert!(err.message.contains("https"), "{err}");
        // Development: loopback over plain http, or every origin once cookies are not secure.
        let loopback = base().replace(
            "[\"https://app.example.com\"]",
            "[\"http://127.0.0.1:3000\", \"http://localhost:5173\"]",
        );
        assert!(Config::from_toml(&loopback, env).is_ok());
        let insecure = format!("cookie_secure = false\n{http}");
        assert!(Config::from_toml(&insecure, env).is_ok());
    }

    #[test]
    fn a_default_return_to_with_dot_segments_stops_start_up() {
        for bad in [
            "/..//evil.example",
            "/.//evil.example",
            "/%2e%2e//evil.example",
        ] {
            let text = format!("default_return_to = \"{bad}\"\n{}", base());
            assert_eq!(error_key(&text), "default_return_to", "{bad}");
        }
    }

    #[test]
    fn type_errors_name_the_nested_key() {
        let text = base().replace("client_id = \"client-1\"", "client_id = 5");
        assert_eq!(error_key(&text), "providers.corp.client_id");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5w"), None);
    }
}
