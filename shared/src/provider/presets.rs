//! Presets: what each named provider fills in (issuer, scopes, client authentication, extra
//! authorization parameters), as data. A configuration may override all of it but the issuer.

use crate::config::ClientAuthMethod;

/// Parameters the flows set themselves; configuring them as extras would break the protocol.
pub const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// What a preset fills in for an OpenID Connect provider; every value can be overridden
/// except the issuer.
pub struct OidcPreset {
    pub issuer: Option<&'static str>,
    pub scopes: &'static [&'static str],
    pub client_auth: ClientAuthMethod,
    pub extra_auth_params: &'static [(&'static str, &'static str)],
}

impl OidcPreset {
    /// The preset called `name`, if this version has it.
    pub fn named(name: &str) -> Option<Self> {
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
