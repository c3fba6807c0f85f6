//! Presets: each named provider's documented wire format as data (protocol, endpoints, scopes,
//! client authentication, how the user is identified, quirks). A configuration may override
//! every endpoint, the scopes, the client authentication and the extras.

use super::quirks::{EmailFallback, Logout, Quirks, ScopeSeparator, TokenAttribution};
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

/// The Graph API version Facebook's endpoints are pinned to unless `api_version` says otherwise.
pub const FACEBOOK_GRAPH_VERSION: &str = "v23.0";

/// Which protocol a preset speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect with discovery; `issuer` fixed by the preset or configured (`oidc`).
    Oidc,
    /// Plain OAuth 2.0: endpoints from the preset or the configuration, the user from the
    /// userinfo endpoint.
    OAuth2,
}

/// Where a preset finds the user in its userinfo answer: JSON pointers (RFC 6901); for the
/// profile fields, the first pointer with a string wins.
#[derive(Debug, Clone, Copy)]
pub struct UserinfoPreset {
    /// The stable user id (a string or an integer).
    pub subject: &'static str,
    /// Display name candidates.
    pub name: &'static [&'static str],
    /// E-mail candidates.
    pub email: &'static [&'static str],
    /// Picture URL candidates.
    pub picture: &'static [&'static str],
    /// Booleans that must all be `true` for the e-mail to be kept; empty when the provider
    /// documents its e-mail as verified.
    pub email_verified: &'static [&'static str],
    /// A member that must hold this string for the answer to be a success (Naver's envelope).
    pub success: Option<(&'static str, &'static str)>,
}

/// What a preset fills in; everything but the protocol can be overridden by configuration.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// OIDC or plain OAuth 2.0.
    pub protocol: Protocol,
    /// The issuer: discovery's for OIDC; for OAuth 2.0 the `iss` its authorization responses
    /// carry (RFC 9207), when it sends one.
    pub issuer: Option<&'static str>,
    /// Authorization endpoint (`{version}` stands for the Graph API version).
    pub authorization_endpoint: Option<&'static str>,
    /// Token endpoint.
    pub token_endpoint: Option<&'static str>,
    /// Userinfo / profile endpoint.
    pub userinfo_endpoint: Option<&'static str>,
    /// Revocation, unlink or logout endpoint (`{client_id}` stands for the client id).
    pub revocation_endpoint: Option<&'static str>,
    /// Default scopes.
    pub scopes: &'static [&'static str],
    /// Token endpoint client authentication.
    pub client_auth: ClientAuthMethod,
    /// Extra authorization parameters.
    pub extra_auth_params: &'static [(&'static str, &'static str)],
    /// How the user is identified (plain OAuth 2.0 presets).
    pub userinfo: Option<UserinfoPreset>,
    /// Its departures from the protocol.
    pub quirks: Quirks,
    /// How the authorization response comes back.
    pub response_mode: ResponseMode,
    /// The client secret is minted from a key (`team_id`, `key_id`, `private_key`), not
    /// configured.
    pub minted_secret: bool,
    /// The scopes must include `openid` (Apple's are `name email`).
    pub needs_openid_scope: bool,
}

/// How the authorization response reaches the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// `GET /auth/{provider}/callback?code=…&state=…` (the default).
    #[default]
    Query,
    /// `POST /auth/{provider}/callback` with a form body (OAuth 2.0 Form Post Response Mode):
    /// a cross-site POST, so the binding cookie is `SameSite=None`.
    FormPost,
}

const OIDC: Preset = Preset {
    protocol: Protocol::Oidc,
    issuer: None,
    authorization_endpoint: None,
    token_endpoint: None,
    userinfo_endpoint: None,
    revocation_endpoint: None,
    scopes: &["openid", "email", "profile"],
    client_auth: ClientAuthMethod::ClientSecretBasic,
    extra_auth_params: &[],
    userinfo: None,
    quirks: Quirks {
        dead_grant_errors: &[],
        scope_separator: ScopeSeparator::Space,
        state_in_code_exchange: false,
        long_lived_exchange: false,
        graph_api: false,
        schemeless_issuer: false,
        id_token_email_verified: false,
        logout: Logout::Rfc7009,
        email_fallback: EmailFallback::None,
        name_on_first_login_only: false,
        token_attribution: TokenAttribution::NotAccepted,
        native_code_exchange: false,
    },
    response_mode: ResponseMode::Query,
    minted_secret: false,
    needs_openid_scope: true,
};

/// Google: https://developers.google.com/identity/openid-connect/openid-connect (refresh
/// tokens need `access_type=offline`; `iss` is `https://accounts.google.com` or
/// `accounts.google.com`).
const GOOGLE: Preset = Preset {
    issuer: Some("https://accounts.google.com"),
    extra_auth_params: &[("access_type", "offline")],
    quirks: Quirks {
        schemeless_issuer: true,
        native_code_exchange: true,
        ..OIDC.quirks
    },
    ..OIDC
};

/// Kakao Login with OpenID Connect enabled:
/// https://developers.kakao.com/docs/latest/en/kakaologin/rest-api (scopes comma-separated,
/// the secret in the body, logout through `kapi.kakao.com/v1/user/logout`).
const KAKAO_OIDC: Preset = Preset {
    issuer: Some("https://kauth.kakao.com"),
    revocation_endpoint: Some("https://kapi.kakao.com/v1/user/logout"),
    scopes: &["openid"],
    client_auth: ClientAuthMethod::ClientSecretPost,
    quirks: Quirks {
        scope_separator: ScopeSeparator::Comma,
        id_token_email_verified: true,
        logout: Logout::KakaoLogout,
        token_attribution: TokenAttribution::KakaoTokenInfo,
        ..OIDC.quirks
    },
    ..OIDC
};

/// Kakao Login without OpenID Connect (the same page): the user from `/v2/user/me` (numeric
/// `id`; `kakao_account.email` only when `is_email_valid` and `is_email_verified`).
const KAKAO_OAUTH2: Preset = Preset {
    protocol: Protocol::OAuth2,
    needs_openid_scope: false,
    issuer: None,
    authorization_endpoint: Some("https://kauth.kakao.com/oauth/authorize"),
    token_endpoint: Some("https://kauth.kakao.com/oauth/token"),
    userinfo_endpoint: Some("https://kapi.kakao.com/v2/user/me"),
    scopes: &[],
    userinfo: Some(UserinfoPreset {
        subject: "/id",
        name: &["/kakao_account/profile/nickname", "/properties/nickname"],
        email: &["/kakao_account/email"],
        picture: &[
            "/kakao_account/profile/profile_image_url",
            "/properties/profile_image",
        ],
        email_verified: &[
            "/kakao_account/is_email_valid",
            "/kakao_account/is_email_verified",
        ],
        success: None,
    }),
    ..KAKAO_OIDC
};

/// Naver Login: https://developers.naver.com/docs/login/api/api.md and
/// https://developers.naver.com/docs/login/profile/profile.md (`state` again at the code
/// exchange, credentials as parameters, `expires_in` as a string, errors with HTTP 200, the
/// profile inside `{"resultcode": "00", "response": {...}}`; no scope parameter: the consent
/// items are chosen in the developer console). The e-mail is the account's registered address.
const NAVER: Preset = Preset {
    protocol: Protocol::OAuth2,
    issuer: None,
    authorization_endpoint: Some("https://nid.naver.com/oauth2.0/authorize"),
    token_endpoint: Some("https://nid.naver.com/oauth2.0/token"),
    userinfo_endpoint: Some("https://openapi.naver.com/v1/nid/me"),
    revocation_endpoint: Some("https://nid.naver.com/oauth2.0/revoke"),
    scopes: &[],
    client_auth: ClientAuthMethod::ClientSecretPost,
    extra_auth_params: &[],
    userinfo: Some(UserinfoPreset {
        subject: "/response/id",
        name: &["/response/name", "/response/nickname"],
        email: &["/response/email"],
        picture: &["/response/profile_image"],
        email_verified: &[],
        success: Some(("/resultcode", "00")),
    }),
    quirks: Quirks {
        dead_grant_errors: &["invalid_request"],
        state_in_code_exchange: true,
        logout: Logout::NaverRevoke,
        token_attribution: TokenAttribution::Unattributable,
        ..OIDC.quirks
    },
    response_mode: ResponseMode::Query,
    minted_secret: false,
    needs_openid_scope: false,
};

/// Facebook Login: https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
/// and https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived
/// (no refresh token: the long-lived token is kept; `appsecret_proof` on Graph calls:
/// https://developers.facebook.com/docs/graph-api/securing-requests). Graph answers `email` only
/// for a valid, confirmed address.
const FACEBOOK: Preset = Preset {
    protocol: Protocol::OAuth2,
    issuer: None,
    authorization_endpoint: Some("https://www.facebook.com/{version}/dialog/oauth"),
    token_endpoint: Some("https://graph.facebook.com/{version}/oauth/access_token"),
    userinfo_endpoint: Some("https://graph.facebook.com/{version}/me"),
    revocation_endpoint: None,
    scopes: &["public_profile", "email"],
    client_auth: ClientAuthMethod::ClientSecretPost,
    extra_auth_params: &[],
    userinfo: Some(UserinfoPreset {
        subject: "/id",
        name: &["/name"],
        email: &["/email"],
        picture: &["/picture/data/url"],
        email_verified: &[],
        success: None,
    }),
    quirks: Quirks {
        long_lived_exchange: true,
        graph_api: true,
        logout: Logout::FacebookPermissions,
        token_attribution: TokenAttribution::FacebookDebugToken,
        ..OIDC.quirks
    },
    response_mode: ResponseMode::Query,
    minted_secret: false,
    needs_openid_scope: false,
};

/// GitHub OAuth apps and GitHub apps:
/// https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
/// (`Accept: application/json`, errors with HTTP 200, `iss` in the callback; expiring user
/// tokens with rotating refresh tokens for GitHub apps), the user from
/// https://docs.github.com/en/rest/users/users (numeric `id`; the public `email` is one of the
/// user's verified addresses) and /user/emails, revocation through
/// https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-authorization.
const GITHUB: Preset = Preset {
    protocol: Protocol::OAuth2,
    issuer: Some("https://github.com/login/oauth"),
    authorization_endpoint: Some("https://github.com/login/oauth/authorize"),
    token_endpoint: Some("https://github.com/login/oauth/access_token"),
    userinfo_endpoint: Some("https://api.github.com/user"),
    revocation_endpoint: Some("https://api.github.com/applications/{client_id}/grant"),
    scopes: &["read:user", "user:email"],
    client_auth: ClientAuthMethod::ClientSecretPost,
    extra_auth_params: &[],
    userinfo: Some(UserinfoPreset {
        subject: "/id",
        name: &["/name", "/login"],
        email: &["/email"],
        picture: &["/avatar_url"],
        email_verified: &[],
        success: None,
    }),
    quirks: Quirks {
        dead_grant_errors: &["bad_refresh_token"],
        logout: Logout::GithubGrant,
        email_fallback: EmailFallback::GithubEmails,
        ..OIDC.quirks
    },
    response_mode: ResponseMode::Query,
    minted_secret: false,
    needs_openid_scope: false,
};

/// Any plain OAuth 2.0 server: every endpoint and the subject pointer come from configuration.
const OAUTH2: Preset = Preset {
    protocol: Protocol::OAuth2,
    scopes: &[],
    needs_openid_scope: false,
    ..OIDC
};

/// Sign in with Apple: https://developer.apple.com/documentation/signinwithapple/request-an-authorization-to-the-sign-in-with-apple-server
/// (`response_mode=form_post` whenever `name` or `email` is requested; scopes `name email`),
/// the client secret an ES256 JWT minted from the app's key, `client_secret_post`, tokens
/// revoked at the discovered `revocation_endpoint` (`appleid.apple.com/auth/revoke`).
const APPLE: Preset = Preset {
    issuer: Some("https://appleid.apple.com"),
    scopes: &["name", "email"],
    client_auth: ClientAuthMethod::ClientSecretPost,
    response_mode: ResponseMode::FormPost,
    minted_secret: true,
    needs_openid_scope: false,
    quirks: Quirks {
        name_on_first_login_only: true,
        native_code_exchange: true,
        ..OIDC.quirks
    },
    ..OIDC
};

impl Preset {
    /// The preset called `name` for these scopes (Kakao speaks OIDC only when `openid` is
    /// requested), if this version has it.
    pub fn named(name: &str, scopes: Option<&[String]>) -> Option<Self> {
        let wants_openid = |default: &Preset| match scopes {
            Some(scopes) => scopes.iter().any(|s| s == "openid"),
            None => default.scopes.contains(&"openid"),
        };
        Some(match name {
            "oidc" => OIDC,
            "google" => GOOGLE,
            "kakao" if wants_openid(&KAKAO_OIDC) => KAKAO_OIDC,
            "kakao" => KAKAO_OAUTH2,
            "naver" => NAVER,
            "facebook" => FACEBOOK,
            "github" => GITHUB,
            "oauth2" => OAUTH2,
            "apple" => APPLE,
            _ => return None,
        })
    }

    /// The names of every preset, for error messages.
    pub const NAMES: &'static str = "oidc, google, kakao, naver, facebook, github, apple, oauth2";
}
