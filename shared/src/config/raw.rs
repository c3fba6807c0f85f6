//! The configuration file as written: serde structures that refuse unknown keys, before any
//! value is checked.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) public_base_url: String,
    #[serde(default)]
    pub(super) default_return_to: Option<String>,
    #[serde(default)]
    pub(super) allowed_origins: Vec<String>,
    #[serde(default)]
    pub(super) mobile_redirects: Vec<String>,
    #[serde(default)]
    pub(super) session_ttl: Option<RawDuration>,
    #[serde(default)]
    pub(super) transaction_ttl: Option<RawDuration>,
    #[serde(default)]
    pub(super) refresh_skew: Option<RawDuration>,
    #[serde(default)]
    pub(super) force_refresh_window: Option<RawDuration>,
    #[serde(default)]
    pub(super) cookie_secure: Option<bool>,
    #[serde(default)]
    pub(super) store: Option<RawStore>,
    #[serde(default)]
    pub(super) encryption: Option<RawEncryption>,
    #[serde(default)]
    pub(super) providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub(super) apis: BTreeMap<String, super::apis::RawApi>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawDuration {
    Seconds(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) kind: String,
    pub(super) table: Option<String>,
    pub(super) endpoint: Option<String>,
    pub(super) region: Option<String>,
    #[serde(default)]
    pub(super) create_table: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEncryption {
    /// Raw keys (base64 of 32 bytes).
    pub(super) keys: Option<Vec<String>>,
    /// Or: the KMS key that wrapped `wrapped_keys`, the blobs, and a local KMS server.
    pub(super) kms_key_id: Option<String>,
    pub(super) wrapped_keys: Option<Vec<String>>,
    pub(super) kms_endpoint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) preset: String,
    pub(super) issuer: Option<String>,
    pub(super) client_id: String,
    /// Required unless the preset mints it (`apple`).
    pub(super) client_secret: Option<String>,
    pub(super) scopes: Option<Vec<String>>,
    pub(super) token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub(super) extra_auth_params: BTreeMap<String, String>,
    pub(super) authorization_endpoint: Option<String>,
    pub(super) token_endpoint: Option<String>,
    pub(super) userinfo_endpoint: Option<String>,
    pub(super) revocation_endpoint: Option<String>,
    pub(super) jwks_uri: Option<String>,
    /// JSON pointer to the user id in the userinfo answer (`oauth2`).
    pub(super) subject: Option<String>,
    /// JSON pointers to the profile fields in the userinfo answer (`oauth2`).
    pub(super) profile: Option<RawProfile>,
    /// Facebook's Graph API version (`v23.0`).
    pub(super) api_version: Option<String>,
    /// `query` or `form_post` (OAuth 2.0 Form Post Response Mode).
    pub(super) response_mode: Option<String>,
    /// Extra `aud` values for `POST /auth/{provider}/native` (the apps' own client ids).
    #[serde(default)]
    pub(super) native_client_ids: Vec<String>,
    /// Kakao's numeric app id, as `/v1/user/access_token_info` reports it.
    pub(super) app_id: Option<String>,
    /// Accept native access tokens the provider cannot attribute to an app.
    #[serde(default)]
    pub(super) native_trust_access_token: bool,
    /// Apple: the team id, key id and `.p8` private key the client secret is minted from.
    pub(super) team_id: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) private_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) picture: Option<String>,
    /// A boolean that must be true for the e-mail to be kept.
    pub(super) email_verified: Option<String>,
}
