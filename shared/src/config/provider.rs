//! One provider block: the preset's data with the configured overrides applied and checked.

use std::collections::BTreeMap;

use url::Url;

use super::raw::{RawProfile, RawProvider};
use super::validate::service_url;
use super::{ClientAuthMethod, ConfigError};
use crate::provider::client_secret::{ClientCredential, MintingKey, TokenClient};
use crate::provider::presets::{
    FACEBOOK_GRAPH_VERSION, Preset, Protocol, RESERVED_AUTH_PARAMS, ResponseMode, UserinfoPreset,
};
use crate::provider::quirks::Quirks;
use crate::secret::ClientSecret;
use crate::types::ProviderId;

/// What kind of protocol a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect with discovery at `{issuer}/.well-known/openid-configuration`.
    Oidc {
        /// The issuer identifier, compared exactly.
        issuer: String,
    },
    /// Plain OAuth 2.0: no discovery, no id_token; the user from the userinfo endpoint.
    OAuth2 {
        /// The `iss` its authorization responses carry (RFC 9207), when it sends one.
        issuer: Option<String>,
    },
}

/// Endpoints set by the preset or the configuration. For OIDC each one overrides what discovery
/// says; for plain OAuth 2.0 authorization, token and userinfo are always present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Where login sends the browser.
    pub authorization: Option<Url>,
    /// Where codes and refresh tokens are exchanged.
    pub token: Option<Url>,
    /// The user's profile.
    pub userinfo: Option<Url>,
    /// Revocation, unlink or logout.
    pub revocation: Option<Url>,
    /// Signing keys (OIDC).
    pub jwks: Option<Url>,
}

/// Where the user is in a userinfo answer: JSON pointers (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserinfoMap {
    /// The stable user id: a string or an integer.
    pub subject: String,
    /// Display name candidates; the first string wins.
    pub name: Vec<String>,
    /// E-mail candidates.
    pub email: Vec<String>,
    /// Picture URL candidates.
    pub picture: Vec<String>,
    /// Booleans that must all be `true` for the e-mail to be kept (empty: the provider
    /// documents its e-mail as verified).
    pub email_verified: Vec<String>,
    /// A member that must hold this string for the answer to be a success.
    pub success: Option<(String, String)>,
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
    /// OAuth client secret, configured or minted.
    pub client_secret: ClientCredential,
    /// How the authorization response comes back.
    pub response_mode: ResponseMode,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
    /// Token endpoint client authentication.
    pub client_auth: ClientAuthMethod,
    /// Extra authorization request parameters (for example `prompt`, `access_type`).
    pub extra_auth_params: Vec<(String, String)>,
    /// Endpoints from the preset or the configuration.
    pub endpoints: Endpoints,
    /// How the user is identified from the userinfo answer (plain OAuth 2.0).
    pub userinfo: Option<UserinfoMap>,
    /// Issuers accepted in id_tokens and authorization responses (empty: none expected).
    pub accepted_issuers: Vec<String>,
    /// The provider's departures from the protocol.
    pub quirks: Quirks,
    /// The app a native server auth code is issued to, when `native_client_ids` names one.
    pub app_client: Option<AppClient>,
    /// How the apps' own SDK sign-ins are accepted (`POST /auth/{provider}/native`).
    pub native: NativeApps,
}

/// A client registered with the provider besides the web one: the first of
/// `native_client_ids` and its secret (Apple: minted for the app's bundle id; otherwise the
/// configured secret).
#[derive(Debug)]
pub struct AppClient {
    /// The app's client id.
    pub id: String,
    /// Its secret.
    pub credential: ClientCredential,
}

/// The keys of a provider block for mobile SDK sign-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativeApps {
    /// Client ids of the iOS and Android apps: accepted as an id_token's `aud` or `azp` besides
    /// `client_id`; the first is the client id a server auth code is exchanged with.
    pub client_ids: Vec<String>,
    /// Kakao's numeric app id (`/v1/user/access_token_info` `app_id`).
    pub app_id: Option<String>,
    /// Accept an access token the provider cannot attribute to this app.
    pub trust_access_token: bool,
}

impl ProviderConfig {
    /// The issuer, for providers that have one.
    pub fn issuer(&self) -> Option<&str> {
        match &self.kind {
            ProviderKind::Oidc { issuer } => Some(issuer),
            ProviderKind::OAuth2 { issuer } => issuer.as_deref(),
        }
    }

    /// The web client: `client_id` and its secret.
    pub fn web_client(&self) -> TokenClient<'_> {
        TokenClient {
            id: &self.client_id,
            credential: &self.client_secret,
        }
    }

    /// The client a native server auth code is exchanged as: the first of
    /// `native_client_ids` when set, else the web client.
    pub fn code_client(&self) -> TokenClient<'_> {
        match &self.app_client {
            Some(app) => TokenClient {
                id: &app.id,
                credential: &app.credential,
            },
            None => self.web_client(),
        }
    }

    /// The client a session's tokens were issued to (`None`: the web client), while this
    /// configuration still has it.
    pub fn client_named(&self, id: Option<&str>) -> Option<TokenClient<'_>> {
        match id {
            None => Some(self.web_client()),
            Some(id) if id == self.client_id => Some(self.web_client()),
            Some(id) => Some(self.code_client()).filter(|c| c.id == id),
        }
    }

    /// True for OpenID Connect providers (id_token, nonce, discovery).
    pub fn is_oidc(&self) -> bool {
        matches!(self.kind, ProviderKind::Oidc { .. })
    }
}

/// Validates one `[providers.<name>]` block.
pub(super) fn validate_provider(
    id: ProviderId,
    p: RawProvider,
    key: &str,
) -> Result<ProviderConfig, ConfigError> {
    let preset = Preset::named(&p.preset, p.scopes.as_deref()).ok_or_else(|| {
        ConfigError::new(
            format!("{key}.preset"),
            format!(
                "unknown or unsupported preset \"{}\"; this version supports {}",
                p.preset,
                Preset::NAMES
            ),
        )
    })?;
    if p.client_id.trim().is_empty() {
        return Err(ConfigError::new(
            format!("{key}.client_id"),
            "must not be empty",
        ));
    }
    let client_secret = credential(&preset, &p, key, p.client_id.trim())?;
    // A native server auth code is issued to the app: exchanged (and refreshed, revoked) as the
    // first of `native_client_ids`, with a secret minted for that id where secrets are minted.
    let app_client = match p.native_client_ids.first() {
        Some(id) if !id.is_empty() => Some(AppClient {
            id: id.clone(),
            credential: credential(&preset, &p, key, id)?,
        }),
        _ => None,
    };
    let response_mode = match p.response_mode.as_deref() {
        None => preset.response_mode,
        Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => {
            return Err(ConfigError::new(
                format!("{key}.response_mode"),
                "must be \"query\" or \"form_post\"",
            ));
        }
    };
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
    let kind = kind(&preset, p.issuer.clone(), key)?;
    let endpoints = endpoints(&preset, &p, key)?;
    let userinfo = userinfo_map(&preset, p.subject.clone(), p.profile, key)?;
    let accepted_issuers = accepted_issuers(&kind, &preset.quirks);
    Ok(ProviderConfig {
        id,
        kind,
        scopes: scopes(&preset, p.scopes, key)?,
        extra_auth_params: extra_auth_params(&preset, p.extra_auth_params, key)?,
        client_secret,
        response_mode,
        client_id: p.client_id,
        client_auth,
        endpoints,
        userinfo,
        accepted_issuers,
        quirks: preset.quirks,
        app_client,
        native: native_apps(
            &p.preset,
            p.native_client_ids,
            p.app_id,
            p.native_trust_access_token,
            key,
        )?,
    })
}

/// `native_client_ids`, `app_id` (Kakao only) and `native_trust_access_token`.
fn native_apps(
    preset: &str,
    client_ids: Vec<String>,
    app_id: Option<String>,
    trust_access_token: bool,
    key: &str,
) -> Result<NativeApps, ConfigError> {
    for (i, id) in client_ids.iter().enumerate() {
        if id.is_empty()
            || id.len() > 255
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::new(
                format!("{key}.native_client_ids[{i}]"),
                "must be an app's client id (no spaces)",
            ));
        }
    }
    if let Some(app_id) = &app_id {
        if preset != "kakao" {
            return Err(ConfigError::new(
                format!("{key}.app_id"),
                "only the kakao preset has an app id",
            ));
        }
        if app_id.is_empty() || app_id.len() > 20 || !app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::new(
                format!("{key}.app_id"),
                "must be Kakao's numeric app id",
            ));
        }
    }
    Ok(NativeApps {
        client_ids,
        app_id,
        trust_access_token,
    })
}

/// The configured secret, or for a preset that mints it (Apple) the key it is minted from;
/// never both. Key errors name the key, never its value.
fn credential(
    preset: &Preset,
    p: &RawProvider,
    key: &str,
    client_id: &str,
) -> Result<ClientCredential, ConfigError> {
    let minting = [
        ("team_id", &p.team_id),
        ("key_id", &p.key_id),
        ("private_key", &p.private_key),
    ];
    if !preset.minted_secret {
        if let Some((name, _)) = minting.iter().find(|(_, v)| v.is_some()) {
            return Err(ConfigError::new(
                format!("{key}.{name}"),
                "only for preset = \"apple\"",
            ));
        }
        return match p.client_secret.as_deref() {
            Some(secret) if !secret.is_empty() => {
                Ok(ClientCredential::Secret(ClientSecret::new(secret)))
            }
            _ => Err(ConfigError::new(
                format!("{key}.client_secret"),
                "must not be empty",
            )),
        };
    }
    if p.client_secret.is_some() {
        return Err(ConfigError::new(
            format!("{key}.client_secret"),
            "is minted from team_id, key_id and private_key; leave it out",
        ));
    }
    let mut values = Vec::new();
    for (name, value) in minting {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => values.push(v.to_owned()),
            _ => {
                return Err(ConfigError::new(
                    format!("{key}.{name}"),
                    "required: the client secret is minted from it",
                ));
            }
        }
    }
    let [team_id, key_id, pem] = <[String; 3]>::try_from(values)
        .map_err(|_| ConfigError::new(format!("{key}.private_key"), "required"))?;
    MintingKey::new(team_id, key_id, client_id.to_owned(), &pem)
        .map(ClientCredential::Minted)
        .map_err(|_| {
            ConfigError::new(
                format!("{key}.private_key"),
                "is not a PEM (PKCS#8) P-256 private key such as Apple's .p8 file",
            )
        })
}

/// The protocol with its issuer: the preset's unless configured (`oidc` requires one). Kept
/// exactly as written: discovery and id_tokens must repeat it to the character.
fn kind(
    preset: &Preset,
    configured: Option<String>,
    key: &str,
) -> Result<ProviderKind, ConfigError> {
    let issuer = configured.or_else(|| preset.issuer.map(str::to_owned));
    if let Some(issuer) = &issuer {
        service_url(issuer, &format!("{key}.issuer"))?;
    }
    match (preset.protocol, issuer) {
        (Protocol::Oidc, Some(issuer)) => Ok(ProviderKind::Oidc { issuer }),
        (Protocol::Oidc, None) => Err(ConfigError::new(
            format!("{key}.issuer"),
            "required for preset = \"oidc\"",
        )),
        (Protocol::OAuth2, issuer) => Ok(ProviderKind::OAuth2 { issuer }),
    }
}

/// The issuer, and for providers documented to drop the scheme (Google), the issuer without it.
fn accepted_issuers(kind: &ProviderKind, quirks: &Quirks) -> Vec<String> {
    let issuer = match kind {
        ProviderKind::Oidc { issuer } => Some(issuer),
        ProviderKind::OAuth2 { issuer } => issuer.as_ref(),
    };
    let Some(issuer) = issuer else {
        return Vec::new();
    };
    let mut accepted = vec![issuer.clone()];
    if quirks.schemeless_issuer
        && let Some(bare) = issuer
            .strip_prefix("https://")
            .or_else(|| issuer.strip_prefix("http://"))
    {
        accepted.push(bare.to_owned());
    }
    accepted
}

/// The preset's endpoints with the configured overrides; `{version}` and `{client_id}` in a
/// preset's URL are filled in. Every URL must be https (http only on loopback).
fn endpoints(preset: &Preset, p: &RawProvider, key: &str) -> Result<Endpoints, ConfigError> {
    let version = match &p.api_version {
        Some(v) if is_graph_version(v) => v.as_str(),
        Some(_) => {
            return Err(ConfigError::new(
                format!("{key}.api_version"),
                "must look like \"v23.0\"",
            ));
        }
        None => FACEBOOK_GRAPH_VERSION,
    };
    let fill = |template: &str| {
        template
            .replace("{version}", version)
            .replace("{client_id}", p.client_id.trim())
    };
    let pick = |name: &str, configured: &Option<String>, preset: Option<&str>| {
        let raw = configured.clone().or_else(|| preset.map(fill));
        raw.map(|raw| service_url(&raw, &format!("{key}.{name}")))
            .transpose()
    };
    let endpoints = Endpoints {
        authorization: pick(
            "authorization_endpoint",
            &p.authorization_endpoint,
            preset.authorization_endpoint,
        )?,
        token: pick("token_endpoint", &p.token_endpoint, preset.token_endpoint)?,
        userinfo: pick(
            "userinfo_endpoint",
            &p.userinfo_endpoint,
            preset.userinfo_endpoint,
        )?,
        revocation: pick(
            "revocation_endpoint",
            &p.revocation_endpoint,
            preset.revocation_endpoint,
        )?,
        jwks: pick("jwks_uri", &p.jwks_uri, None)?,
    };
    if preset.protocol == Protocol::OAuth2 {
        for (name, url) in [
            ("authorization_endpoint", &endpoints.authorization),
            ("token_endpoint", &endpoints.token),
            ("userinfo_endpoint", &endpoints.userinfo),
        ] {
            if url.is_none() {
                return Err(ConfigError::new(
                    format!("{key}.{name}"),
                    "required for a plain OAuth 2.0 provider",
                ));
            }
        }
    }
    Ok(endpoints)
}

fn is_graph_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let number = |s: Option<&str>| {
        s.is_some_and(|s| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

/// The preset's userinfo map with the configured pointers in front; `oauth2` needs `subject`.
fn userinfo_map(
    preset: &Preset,
    subject: Option<String>,
    profile: Option<RawProfile>,
    key: &str,
) -> Result<Option<UserinfoMap>, ConfigError> {
    let base = preset.userinfo.unwrap_or(UserinfoPreset {
        subject: "",
        name: &[],
        email: &[],
        picture: &[],
        email_verified: &[],
        success: None,
    });
    if preset.protocol == Protocol::Oidc {
        if subject.is_some() || profile.is_some() {
            return Err(ConfigError::new(
                format!("{key}.subject"),
                "an OpenID Connect provider identifies the user by the id_token's sub",
            ));
        }
        return Ok(None);
    }
    let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let subject = subject.unwrap_or_else(|| base.subject.to_owned());
    let profile = profile.unwrap_or(RawProfile {
        name: None,
        email: None,
        picture: None,
        email_verified: None,
    });
    let map = UserinfoMap {
        name: profile.name.map_or_else(|| owned(base.name), |p| vec![p]),
        email: profile.email.map_or_else(|| owned(base.email), |p| vec![p]),
        picture: profile
            .picture
            .map_or_else(|| owned(base.picture), |p| vec![p]),
        email_verified: profile
            .email_verified
            .map_or_else(|| owned(base.email_verified), |p| vec![p]),
        success: base.success.map(|(k, v)| (k.to_owned(), v.to_owned())),
        subject,
    };
    check_pointers(&map, key)?;
    Ok(Some(map))
}

/// Every pointer of `map` is an RFC 6901 JSON pointer.
fn check_pointers(map: &UserinfoMap, key: &str) -> Result<(), ConfigError> {
    let pointers = std::iter::once(("subject", &map.subject))
        .chain(map.name.iter().map(|p| ("profile.name", p)))
        .chain(map.email.iter().map(|p| ("profile.email", p)))
        .chain(map.picture.iter().map(|p| ("profile.picture", p)))
        .chain(
            map.email_verified
                .iter()
                .map(|p| ("profile.email_verified", p)),
        );
    for (name, pointer) in pointers {
        if !pointer.starts_with('/') {
            return Err(ConfigError::new(
                format!("{key}.{name}"),
                "must be a JSON pointer such as \"/id\"",
            ));
        }
    }
    Ok(())
}

fn scopes(
    preset: &Preset,
    configured: Option<Vec<String>>,
    key: &str,
) -> Result<Vec<String>, ConfigError> {
    let scopes =
        configured.unwrap_or_else(|| preset.scopes.iter().map(|s| (*s).to_owned()).collect());
    let malformed = |s: &String| {
        s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == ',')
    };
    if scopes.iter().any(malformed) {
        return Err(ConfigError::new(
            format!("{key}.scopes"),
            "each scope is one non-empty word without spaces, commas or quotes",
        ));
    }
    if preset.protocol == Protocol::Oidc
        && preset.needs_openid_scope
        && !scopes.iter().any(|s| s == "openid")
    {
        return Err(ConfigError::new(
            format!("{key}.scopes"),
            "an OpenID Connect provider needs the \"openid\" scope",
        ));
    }
    Ok(scopes)
}

/// The preset's extras (unless configured otherwise) and the configured ones, none of them a
/// parameter the flow sets itself.
fn extra_auth_params(
    preset: &Preset,
    configured: BTreeMap<String, String>,
    key: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut params: Vec<(String, String)> = preset
        .extra_auth_params
        .iter()
        .filter(|(name, _)| !configured.contains_key(*name))
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    for (name, value) in configured {
        if RESERVED_AUTH_PARAMS.contains(&name.as_str()) {
            return Err(ConfigError::new(
                format!("{key}.extra_auth_params.{name}"),
                "is set by the token handler itself",
            ));
        }
        params.push((name, value));
    }
    Ok(params)
}
