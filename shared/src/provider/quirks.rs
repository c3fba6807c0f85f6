//! The small, named ways a provider departs from plain OAuth 2.0 / OpenID Connect. A preset is
//! data plus a [`Quirks`] value; the flows consult it at the few points where providers differ
//! (the authorization request, the code exchange, identity, logout), never a copy of the flow.

/// How scopes are joined in the authorization request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeSeparator {
    /// RFC 6749 §3.3: space-delimited.
    #[default]
    Space,
    /// Kakao: comma-separated.
    Comma,
}

impl ScopeSeparator {
    /// The scopes as the authorization request carries them.
    pub fn join(self, scopes: &[String]) -> String {
        scopes.join(match self {
            Self::Space => " ",
            Self::Comma => ",",
        })
    }
}

/// How logout ends the grant at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Logout {
    /// RFC 7009 at `revocation_endpoint` (the refresh token, else the access token), with the
    /// client's authentication; nothing when there is no endpoint.
    #[default]
    Rfc7009,
    /// Naver: `POST revocation_endpoint` with the client credentials and the access token.
    NaverRevoke,
    /// Facebook: `DELETE {graph}/me/permissions` with the access token and `appsecret_proof`.
    FacebookPermissions,
    /// GitHub: `DELETE revocation_endpoint` (`/applications/{client_id}/grant`) with HTTP Basic
    /// client credentials and `{"access_token": ...}`.
    GithubGrant,
    /// Kakao: `POST revocation_endpoint` (`/v1/user/logout`) with the access token.
    KakaoLogout,
}

/// Where an e-mail address may come from besides the profile answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailFallback {
    /// Only the profile answer.
    #[default]
    None,
    /// GitHub: when `/user` has no e-mail, the primary verified one of `/user/emails`.
    GithubEmails,
}

/// How the provider says which app an access token was issued to, for a mobile SDK's token
/// posted to `POST /auth/{provider}/native`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAttribution {
    /// Access tokens are not accepted there (OpenID providers send id_tokens instead).
    #[default]
    NotAccepted,
    /// Kakao: `GET kapi/v1/user/access_token_info` answers the token's `app_id` and user `id`.
    KakaoTokenInfo,
    /// Facebook: `GET graph/{version}/debug_token` with the app token answers `is_valid`,
    /// `app_id` and `user_id`.
    FacebookDebugToken,
    /// Naver: nothing names the app a token was issued to; accepted only when the operator
    /// trusts every token (`native_trust_access_token = true`).
    Unattributable,
}

/// A provider's departures from the protocol, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Error codes that, answered to a refresh_token grant, mean the grant is dead (besides
    /// `invalid_grant`): GitHub's `bad_refresh_token`, Naver's `invalid_request` (Naver
    /// documents no `invalid_grant`).
    pub dead_grant_errors: &'static [&'static str],
    /// How scopes are joined at the authorization endpoint.
    pub scope_separator: ScopeSeparator,
    /// Naver: `state` is sent again with the code exchange.
    pub state_in_code_exchange: bool,
    /// Facebook: the code's short-lived token is exchanged for a long-lived one
    /// (`grant_type=fb_exchange_token`) before it is stored.
    pub long_lived_exchange: bool,
    /// Facebook: every Graph call carries `appsecret_proof` (hex HMAC-SHA256 of the access
    /// token keyed by the client secret) and the profile call names its `fields`.
    pub graph_api: bool,
    /// Google: id_tokens (and authorization responses) may name the issuer without its scheme
    /// (`accounts.google.com`); both spellings are accepted, neither required.
    pub schemeless_issuer: bool,
    /// Kakao: an id_token's `email` is documented as verified (sent only for a valid, verified
    /// address) even without `email_verified`.
    pub id_token_email_verified: bool,
    /// How logout ends the grant.
    pub logout: Logout,
    /// Where else an e-mail address may come from.
    pub email_fallback: EmailFallback,
    /// Apple: the user's name comes once, in the first login's `user` form field, and is kept
    /// (sealed, per user) for their later logins.
    pub name_on_first_login_only: bool,
    /// How a native access token is traced to the app it was issued to.
    pub token_attribution: TokenAttribution,
    /// Apple, Google: the native SDK hands the app a server auth code (Apple's
    /// `authorizationCode`, Google's `serverAuthCode`) that the server exchanges without a
    /// redirect URI.
    pub native_code_exchange: bool,
}
