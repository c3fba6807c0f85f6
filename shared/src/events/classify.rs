//! Which event a request's outcome is: the route it took plus what it noted decide one
//! [`EventCode`] and, for a failure, one [`Reason`].

use crate::edge::ApiError;
use crate::provider::ProviderError;

use super::notes::{Notes, Source};

/// The route a request took, as far as events care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /auth/{provider}/login`
    Login,
    /// `GET|POST /auth/{provider}/callback`
    Callback,
    /// `POST /auth/refresh`
    Refresh,
    /// `GET /auth/session`
    Session,
    /// `POST /auth/logout`
    Logout,
    /// `POST /auth/token` (the mobile hand-off)
    Token,
    /// `POST /auth/{provider}/backchannel-logout`
    BackchannelLogout,
    /// `POST /auth/{provider}/native`
    Native,
    /// `ANY /api/{api}/{proxy+}`
    Proxy,
    /// The authorizer's decision.
    Authorizer,
    /// Health checks, preflights and unknown paths: no event.
    Quiet,
}

impl Route {
    /// The name logs and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Callback => "callback",
            Route::Refresh => "refresh",
            Route::Session => "session",
            Route::Logout => "logout",
            Route::Token => "token",
            Route::BackchannelLogout => "backchannel_logout",
            Route::Native => "native",
            Route::Proxy => "proxy",
            Route::Authorizer => "authorizer",
            Route::Quiet => "none",
        }
    }
}

/// One outcome. The names are the `metadata.event_code` of the event and the `event` dimension
/// of the `Events` metric; README lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCode {
    /// The browser was sent to the provider.
    LoginStarted,
    /// A login did not complete (at `/login` or at the callback).
    LoginFailed,
    /// A login completed: a session (browser) or a hand-off code (app) was stored.
    LoginSucceeded,
    /// A callback whose `state` names no live transaction of this browser: a replay, or a
    /// forged, expired or other browser's one (transactions are deleted on use, so these look
    /// alike).
    CallbackReplay,
    /// A hand-off code was redeemed for a session token.
    HandoffRedeemed,
    /// A hand-off redemption was refused (wrong verifier, used or expired code).
    HandoffRefused,
    /// `/auth/refresh` handed out the stored access token.
    RefreshServedFromStore,
    /// `/auth/refresh` refreshed at the provider.
    RefreshRefreshed,
    /// `/auth/refresh` handed out the token another caller's refresh produced.
    RefreshCoalesced,
    /// The provider no longer honours the refresh token: the session ended.
    RefreshReauthRequired,
    /// The provider was unreachable, slow or failing: tokens kept.
    RefreshProviderUnavailable,
    /// `/auth/refresh` failed otherwise (no session, bad request, store down).
    RefreshFailed,
    /// `/auth/session` answered who is signed in.
    SessionRead,
    /// `/auth/session` found no session (or failed).
    SessionRefused,
    /// A session ended by logout.
    Logout,
    /// A logout was refused (no session, or the store failed).
    LogoutFailed,
    /// A cookie request without `X-Requested-With`, or from a foreign `Origin`.
    CsrfRejected,
    /// A call through `/api/...` reached the API (whatever it answered).
    ProxyCall,
    /// A call through `/api/...` was refused or failed before or at the API.
    ProxyRefused,
    /// The authorizer admitted a request.
    AuthorizerAllowed,
    /// The authorizer denied a request.
    AuthorizerDenied,
    /// A provider's back-channel logout ended a user's sessions (possibly none).
    BackchannelLogout,
    /// A back-channel logout was refused (invalid or replayed logout token) or failed.
    BackchannelLogoutRefused,
    /// A mobile app traded a provider SDK's credential for a session.
    NativeSignedIn,
    /// A native sign-in was refused (another app's, expired, replayed or forged credential,
    /// an unsupported kind) or failed.
    NativeRefused,
}

impl EventCode {
    /// Every code, for documentation checks.
    pub const ALL: [EventCode; 25] = [
        EventCode::LoginStarted,
        EventCode::LoginFailed,
        EventCode::LoginSucceeded,
        EventCode::CallbackReplay,
        EventCode::HandoffRedeemed,
        EventCode::HandoffRefused,
        EventCode::RefreshServedFromStore,
        EventCode::RefreshRefreshed,
        EventCode::RefreshCoalesced,
        EventCode::RefreshReauthRequired,
        EventCode::RefreshProviderUnavailable,
        EventCode::RefreshFailed,
        EventCode::SessionRead,
        EventCode::SessionRefused,
        EventCode::Logout,
        EventCode::LogoutFailed,
        EventCode::CsrfRejected,
        EventCode::ProxyCall,
        EventCode::ProxyRefused,
        EventCode::AuthorizerAllowed,
        EventCode::AuthorizerDenied,
        EventCode::BackchannelLogout,
        EventCode::BackchannelLogoutRefused,
        EventCode::NativeSignedIn,
        EventCode::NativeRefused,
    ];

    /// The code as written.
    pub fn as_str(self) -> &'static str {
        use EventCode::*;
        match self {
            LoginStarted => "login_started",
            LoginFailed => "login_failed",
            LoginSucceeded => "login_succeeded",
            CallbackReplay => "callback_replay",
            HandoffRedeemed => "handoff_redeemed",
            HandoffRefused => "handoff_refused",
            RefreshServedFromStore => "refresh_served_from_store",
            RefreshRefreshed => "refresh_refreshed",
            RefreshCoalesced => "refresh_coalesced",
            RefreshReauthRequired => "refresh_reauth_required",
            RefreshProviderUnavailable => "refresh_provider_unavailable",
            RefreshFailed => "refresh_failed",
            SessionRead => "session_read",
            SessionRefused => "session_refused",
            Logout => "logout",
            LogoutFailed => "logout_failed",
            CsrfRejected => "csrf_rejected",
            ProxyCall => "proxy_call",
            ProxyRefused => "proxy_refused",
            AuthorizerAllowed => "authorizer_allowed",
            AuthorizerDenied => "authorizer_denied",
            BackchannelLogout => "backchannel_logout",
            BackchannelLogoutRefused => "backchannel_logout_refused",
            NativeSignedIn => "native_signed_in",
            NativeRefused => "native_refused",
        }
    }

    /// Whether the outcome is what the caller asked for.
    pub fn succeeded(self) -> bool {
        use EventCode::*;
        matches!(
            self,
            LoginStarted
                | LoginSucceeded
                | HandoffRedeemed
                | RefreshServedFromStore
                | RefreshRefreshed
                | RefreshCoalesced
                | SessionRead
                | Logout
                | ProxyCall
                | AuthorizerAllowed
                | BackchannelLogout
                | NativeSignedIn
        )
    }

    /// Outcomes an attacker's requests produce: worth a look even one at a time.
    pub fn suspicious(self) -> bool {
        matches!(
            self,
            EventCode::CallbackReplay
                | EventCode::CsrfRejected
                | EventCode::HandoffRefused
                | EventCode::BackchannelLogoutRefused
                | EventCode::NativeRefused
        )
    }
}

/// Why an outcome failed (`status_detail`): a contract error code, or what went wrong at the
/// provider or the store during a callback, whose answer is a redirect rather than an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The contract error the answer carried.
    Error(ApiError),
    /// The provider sent `error=…` (the user declined, or the provider refused the request).
    ProviderDenied,
    /// The provider was unreachable, answered 5xx or timed out.
    ProviderUnavailable,
    /// The token endpoint refused the code (an OAuth error such as `invalid_grant`).
    ProviderRejected,
    /// The provider answered outside the protocol (bad JSON, a redirect, too large, no subject).
    ProviderProtocol,
    /// The id_token failed verification (signature, `iss`, `aud`, `nonce`, times).
    IdTokenRejected,
    /// The authorization response had no usable `code`.
    MissingCode,
    /// The store failed.
    StoreUnavailable,
}

impl Reason {
    /// The reason as written.
    pub fn as_str(self) -> String {
        match self {
            Reason::Error(e) => e.to_string(),
            Reason::ProviderDenied => "provider_denied".into(),
            Reason::ProviderUnavailable => "provider_unavailable".into(),
            Reason::ProviderRejected => "provider_rejected".into(),
            Reason::ProviderProtocol => "provider_protocol_error".into(),
            Reason::IdTokenRejected => "id_token_rejected".into(),
            Reason::MissingCode => "missing_code".into(),
            Reason::StoreUnavailable => "store_unavailable".into(),
        }
    }
}

impl From<&ProviderError> for Reason {
    fn from(e: &ProviderError) -> Self {
        match e {
            ProviderError::Unreachable(_) | ProviderError::Unavailable(_) => {
                Reason::ProviderUnavailable
            }
            ProviderError::Rejected { .. } => Reason::ProviderRejected,
            ProviderError::Invalid(_) | ProviderError::TooLarge(_) => Reason::ProviderProtocol,
            ProviderError::IdToken(_) => Reason::IdTokenRejected,
        }
    }
}

/// The event a request's outcome is, or `None` for requests that are not security events
/// (health checks, CORS preflights, unknown paths).
pub fn decide(route: Route, preflight: bool, notes: &Notes) -> Option<(EventCode, Option<Reason>)> {
    use EventCode::*;
    if preflight {
        return None;
    }
    let error = notes.error.map(Reason::Error);
    if notes.error == Some(ApiError::CsrfRejected) {
        return Some((CsrfRejected, error));
    }
    let code = match (route, notes.error) {
        (Route::Quiet, _) => return None,
        (Route::Login, None) => LoginStarted,
        (Route::Login, Some(_)) => LoginFailed,
        (Route::Callback, Some(ApiError::InvalidState)) => CallbackReplay,
        (Route::Callback, Some(_)) => LoginFailed,
        (Route::Callback, None) if notes.signed_in => LoginSucceeded,
        (Route::Callback, None) => {
            return Some((
                LoginFailed,
                Some(notes.login_failure.unwrap_or(Reason::ProviderDenied)),
            ));
        }
        (Route::Refresh, Some(ApiError::ReauthRequired)) => RefreshReauthRequired,
        (Route::Refresh, Some(ApiError::ProviderUnavailable)) => RefreshProviderUnavailable,
        (Route::Refresh, Some(_)) => RefreshFailed,
        (Route::Refresh, None) => match notes.token_source {
            Some(Source::Provider) => RefreshRefreshed,
            Some(Source::Coalesced) => RefreshCoalesced,
            Some(Source::Store) | None => RefreshServedFromStore,
        },
        (Route::Session, None) => SessionRead,
        (Route::Session, Some(_)) => SessionRefused,
        (Route::Logout, None) => Logout,
        (Route::Logout, Some(_)) => LogoutFailed,
        (Route::Token, None) => HandoffRedeemed,
        (Route::Token, Some(_)) => HandoffRefused,
        (Route::Proxy, None) => ProxyCall,
        (Route::Proxy, Some(_)) => ProxyRefused,
        (Route::Authorizer, None) => AuthorizerAllowed,
        (Route::Authorizer, Some(_)) => AuthorizerDenied,
        (Route::BackchannelLogout, None) => BackchannelLogout,
        (Route::BackchannelLogout, Some(_)) => BackchannelLogoutRefused,
        (Route::Native, None) => NativeSignedIn,
        (Route::Native, Some(_)) => NativeRefused,
    };
    Some((code, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Notes)) -> Notes {
        let mut notes = Notes::default();
        f(&mut notes);
        notes
    }

    fn code(route: Route, notes: &Notes) -> Option<(&'static str, Option<String>)> {
        decide(route, false, notes).map(|(c, r)| (c.as_str(), r.map(Reason::as_str)))
    }

    #[test]
    fn a_refused_csrf_check_is_its_own_event_on_every_route() {
        let notes = with(|n| n.error = Some(ApiError::CsrfRejected));
        for route in [Route::Refresh, Route::Logout, Route::Proxy] {
            assert_eq!(
                code(route, &notes),
                Some(("csrf_rejected", Some("csrf_rejected".into())))
            );
        }
    }

    #[test]
    fn refresh_outcomes_follow_where_the_token_came_from() {
        for (source, expected) in [
            (Source::Store, "refresh_served_from_store"),
            (Source::Provider, "refresh_refreshed"),
            (Source::Coalesced, "refresh_coalesced"),
        ] {
            let notes = with(|n| n.token_source = Some(source));
            assert_eq!(code(Route::Refresh, &notes), Some((expected, None)));
        }
        let reauth = with(|n| n.error = Some(ApiError::ReauthRequired));
        assert_eq!(
            code(Route::Refresh, &reauth).unwrap().0,
            "refresh_reauth_required"
        );
        let down = with(|n| n.error = Some(ApiError::ProviderUnavailable));
        assert_eq!(
            code(Route::Refresh, &down).unwrap().0,
            "refresh_provider_unavailable"
        );
    }

    #[test]
    fn a_callback_is_a_replay_a_failure_with_its_reason_or_a_success() {
        let replay = with(|n| n.error = Some(ApiError::InvalidState));
        assert_eq!(
            code(Route::Callback, &replay),
            Some(("callback_replay", Some("invalid_state".into())))
        );
        let bad_token = with(|n| n.login_failure = Some(Reason::IdTokenRejected));
        assert_eq!(
            code(Route::Callback, &bad_token),
            Some(("login_failed", Some("id_token_rejected".into())))
        );
        let ok = with(|n| n.signed_in = true);
        assert_eq!(code(Route::Callback, &ok), Some(("login_succeeded", None)));
    }

    #[test]
    fn health_checks_and_preflights_are_not_events() {
        assert_eq!(code(Route::Quiet, &Notes::default()), None);
        assert_eq!(decide(Route::Refresh, true, &Notes::default()), None);
    }

    #[test]
    fn every_code_is_distinct() {
        let mut names: Vec<_> = EventCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventCode::ALL.len());
    }
}
