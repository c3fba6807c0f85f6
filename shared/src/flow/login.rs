//! `GET /auth/{provider}/login`: start an authorization code flow with PKCE, state and nonce.

use url::Url;

use super::Settings;
use crate::config::Config;
use crate::crypto::{is_token_shaped, pkce_s256};
use crate::deps::Deps;
use crate::edge::{ApiError, Cookies, Query, Request, cookie};
use crate::provider::Provider;
use crate::provider::presets::ResponseMode;
use crate::secret::{BrowserBinding, CodeVerifier, Nonce, State};
use crate::store::keys::transaction_key;
use crate::store::{AppLogin, StoreError, Transaction};
use crate::types::{AppRedirect, ReturnTo};

/// The redirect to the provider and the browser binding to set. `Debug` prints neither: the
/// URL carries the state and the nonce.
pub struct LoginStarted {
    /// The provider's authorization URL with every parameter.
    pub authorization_url: Url,
    /// The value for the transaction cookie.
    pub binding: BrowserBinding,
}

impl std::fmt::Debug for LoginStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStarted")
            .field("authorization_endpoint", &self.authorization_url.path())
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

/// What a login asks for, parsed and checked before anything is fetched or stored.
#[derive(Debug)]
pub struct LoginRequest {
    /// Where the browser goes afterwards.
    pub return_to: ReturnTo,
    /// For a mobile login: the app's redirect and its S256 challenge.
    pub app: Option<AppLogin>,
    /// A well-formed binding cookie the browser already has (several tabs may log in at once).
    pub existing_binding: Option<BrowserBinding>,
}

impl LoginRequest {
    /// Reads the query and the binding cookie; the query's errors are the contract's.
    pub fn from_request(
        req: &Request,
        config: &Config,
        cookies: Cookies,
    ) -> Result<Self, ApiError> {
        let query = Query::from_request(req).map_err(|e| match e.param() {
            Some("return_to") => ApiError::InvalidReturnTo,
            Some("app_redirect") => ApiError::InvalidAppRedirect,
            _ => ApiError::InvalidRequest,
        })?;
        let mut request = Self::from_query(&query, config)?;
        request.existing_binding = cookie(req, cookies.tx_name())
            .filter(|b| is_token_shaped(b))
            .map(BrowserBinding::new);
        Ok(request)
    }

    /// Reads `return_to` (default `default_return_to`) and the mobile parameters.
    pub fn from_query(query: &Query, config: &Config) -> Result<Self, ApiError> {
        let return_to = match query.single("return_to") {
            Err(_) => return Err(ApiError::InvalidReturnTo),
            Ok(None) => config.default_return_to.clone(),
            Ok(Some(raw)) => {
                ReturnTo::parse(raw, &config.allowed_origins).ok_or(ApiError::InvalidReturnTo)?
            }
        };
        let app = match query.single("app_redirect") {
            Err(_) => return Err(ApiError::InvalidAppRedirect),
            Ok(None) => None,
            Ok(Some(raw)) => {
                let redirect = AppRedirect::parse(raw, &config.mobile_redirects)
                    .ok_or(ApiError::InvalidAppRedirect)?;
                // The app's own PKCE pair protects the hand-off code: S256 only, never plain.
                let challenge = query
                    .single("code_challenge")
                    .ok()
                    .flatten()
                    .filter(|c| is_token_shaped(c))
                    .ok_or(ApiError::InvalidRequest)?;
                if query.single("code_challenge_method") != Ok(Some("S256")) {
                    return Err(ApiError::InvalidRequest);
                }
                Some(AppLogin {
                    redirect,
                    challenge: challenge.to_owned(),
                })
            }
        };
        Ok(Self {
            return_to,
            app,
            existing_binding: None,
        })
    }
}

/// Stores the transaction and builds the authorization URL.
#[tracing::instrument(name = "login", skip_all, fields(provider = %provider.config.id))]
pub async fn start(
    deps: Deps<'_>,
    settings: &Settings,
    provider: &Provider,
    request: LoginRequest,
) -> Result<LoginStarted, ApiError> {
    let metadata = provider.metadata(deps).await.map_err(|e| {
        tracing::warn!(error = %crate::telemetry::Chain(&e), "discovery failed");
        ApiError::ProviderUnavailable
    })?;
    let binding = request
        .existing_binding
        .unwrap_or_else(|| BrowserBinding::new(deps.token()));
    let state = State::new(deps.token());
    let verifier = CodeVerifier::new(deps.token());
    let nonce = Nonce::new(deps.token());
    let now = deps.now();
    let id = provider.config.id.as_str();
    let tx = Transaction {
        key: transaction_key(id, state.expose(), binding.expose()),
        provider: provider.config.id.clone(),
        verifier: verifier.clone(),
        nonce: provider.config.is_oidc().then(|| nonce.clone()),
        return_to: request.return_to,
        app: request.app,
        created_at: now,
        expires_at: now + settings.transaction_ttl,
    };
    deps.store.put_transaction(&tx).await.map_err(|e| match e {
        StoreError::AlreadyExists => ApiError::Internal,
        other => super::store_error(other),
    })?;
    let mut url = metadata.authorization_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &provider.config.client_id)
            .append_pair("redirect_uri", &settings.redirect_uri(id))
            .append_pair("state", state.expose())
            .append_pair("code_challenge", &pkce_s256(verifier.expose()))
            .append_pair("code_challenge_method", "S256");
        let config = &provider.config;
        if !config.scopes.is_empty() {
            q.append_pair("scope", &config.quirks.scope_separator.join(&config.scopes));
        }
        if config.is_oidc() {
            q.append_pair("nonce", nonce.expose());
        }
        if config.response_mode == ResponseMode::FormPost {
            q.append_pair("response_mode", "form_post");
        }
        for (k, v) in &provider.config.extra_auth_params {
            q.append_pair(k, v);
        }
    }
    tracing::info!("login started");
    Ok(LoginStarted {
        authorization_url: url,
        binding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::sample()
    }

    fn request(query: &str) -> Result<LoginRequest, ApiError> {
        let req = http::Request::builder()
            .uri(format!("/auth/p/login?{query}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        LoginRequest::from_query(&Query::from_request(&req).unwrap(), &config())
    }

    #[test]
    fn a_login_without_return_to_goes_to_the_default() {
        let r = request("").unwrap();
        assert_eq!(r.return_to, ReturnTo::Path("/home".into()));
        assert!(r.app.is_none());
    }

    #[test]
    fn a_mobile_login_needs_a_registered_redirect_and_an_s256_challenge() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let ok = request(&format!(
            "app_redirect=com.example.app:/oauth&code_challenge={challenge}&code_challenge_method=S256"
        ))
        .unwrap();
        assert_eq!(ok.app.unwrap().challenge, challenge);
        assert_eq!(
            request("app_redirect=com.example.other:/oauth").unwrap_err(),
            ApiError::InvalidAppRedirect
        );
        assert_eq!(
            request(&format!(
                "app_redirect=com.example.app:/oauth&code_challenge={challenge}&code_challenge_method=plain"
            ))
            .unwrap_err(),
            ApiError::InvalidRequest
        );
        assert_eq!(
            request("return_to=/a&return_to=/b").unwrap_err(),
            ApiError::InvalidReturnTo
        );
    }

    #[test]
    fn a_started_login_does_not_print_its_state_or_nonce() {
        let started = LoginStarted {
            authorization_url: Url::parse(
                "https://idp.example/authorize?state=state-SECRET&nonce=nonce-SECRET",
            )
            .unwrap(),
            binding: BrowserBinding::new("binding-SECRET"),
        };
        assert!(!format!("{started:?}").contains("SECRET"));
    }

    mod with_fakes {
        use super::*;
        use crate::clock::Clock;
        use crate::flow::fakes::{
            APP_REDIRECT, CLIENT_ID, Fault, FixedRandom, Harness, ISSUER, PROVIDER,
            PUBLIC_BASE_URL, pairs, param,
        };
        use crate::store::{RawItems, Store};

        #[tokio::test]
        async fn the_authorization_url_carries_the_protocol_parameters() {
            let h = Harness::new();
            let started = h.start_login().await;
            let url = &started.authorization_url;
            assert_eq!(
                url[..url::Position::AfterPath],
                format!("{ISSUER}/authorize")
            );
            assert_eq!(param(url, "response_type"), "code");
            assert_eq!(param(url, "client_id"), CLIENT_ID);
            assert_eq!(
                param(url, "redirect_uri"),
                format!("{PUBLIC_BASE_URL}/auth/{PROVIDER}/callback")
            );
            assert_eq!(param(url, "scope"), "openid email profile");
            assert_eq!(param(url, "code_challenge_method"), "S256");
            // Draw order: binding, state, verifier, nonce.
            assert_eq!(started.binding.expose(), FixedRandom::token_nth(0));
            assert_eq!(param(url, "state"), FixedRandom::token_nth(1));
            assert_eq!(
                param(url, "code_challenge"),
                pkce_s256(&FixedRandom::token_nth(2))
            );
            assert_eq!(param(url, "nonce"), FixedRandom::token_nth(3));
            assert_eq!(pairs(url).len(), 8, "no other parameters: {url}");
        }

        #[tokio::test]
        async fn the_transaction_is_found_by_provider_state_and_binding_and_expires_after_its_ttl()
        {
            let h = Harness::new();
            let now = h.clock.now();
            let started = h.start_login().await;
            let state = param(&started.authorization_url, "state");
            let binding = started.binding.expose();
            for wrong in [
                transaction_key("other", &state, binding),
                transaction_key(PROVIDER, &FixedRandom::token_nth(9), binding),
                transaction_key(PROVIDER, &state, &FixedRandom::token_nth(9)),
            ] {
                assert!(
                    h.store
                        .take_transaction(&wrong, now)
                        .await
                        .unwrap()
                        .is_none()
                );
            }
            let key = transaction_key(PROVIDER, &state, binding);
            let tx = h.store.take_transaction(&key, now).await.unwrap().unwrap();
            assert_eq!(tx.provider.as_str(), PROVIDER);
            assert_eq!(tx.created_at, now);
            assert_eq!(tx.expires_at, now + h.settings.transaction_ttl);
            assert_eq!(h.settings.transaction_ttl, 600);
            assert_eq!(tx.verifier.expose(), FixedRandom::token_nth(2));
            assert_eq!(tx.nonce.unwrap().expose(), FixedRandom::token_nth(3));
            assert_eq!(tx.return_to, ReturnTo::Path("/home".into()));
            assert!(tx.app.is_none());
        }

        #[tokio::test]
        async fn an_existing_binding_is_reused() {
            let h = Harness::new();
            let existing = FixedRandom::token_nth(100);
            let mut request = h.login_request("return_to=/inbox");
            request.existing_binding = Some(BrowserBinding::new(existing.clone()));
            let started = start(h.deps(), &h.settings, h.provider(), request)
                .await
                .unwrap();
            assert_eq!(started.binding.expose(), existing);
            // No binding drawn: state, verifier and nonce are the first three tokens.
            assert_eq!(h.random.drawn(), 3);
            let state = param(&started.authorization_url, "state");
            assert_eq!(state, FixedRandom::token_nth(0));
            let key = transaction_key(PROVIDER, &state, &existing);
            let tx = h.store.take_transaction(&key, h.clock.now()).await;
            assert_eq!(
                tx.unwrap().unwrap().return_to,
                ReturnTo::Path("/inbox".into())
            );
        }

        #[tokio::test]
        async fn a_mobile_login_stores_the_apps_redirect_and_challenge() {
            let h = Harness::new();
            let challenge = pkce_s256(&FixedRandom::token_nth(50));
            let request = h.login_request(&format!(
                "app_redirect={APP_REDIRECT}&code_challenge={challenge}&code_challenge_method=S256"
            ));
            let started = start(h.deps(), &h.settings, h.provider(), request)
                .await
                .unwrap();
            let state = param(&started.authorization_url, "state");
            // The app's challenge is not the one sent to the provider.
            assert_ne!(
                param(&started.authorization_url, "code_challenge"),
                challenge
            );
            let key = transaction_key(PROVIDER, &state, started.binding.expose());
            let tx = h.store.take_transaction(&key, h.clock.now()).await;
            let app = tx.unwrap().unwrap().app.unwrap();
            assert_eq!(app.redirect.as_str(), APP_REDIRECT);
            assert_eq!(app.challenge, challenge);
        }

        #[tokio::test]
        async fn failed_discovery_is_provider_unavailable_and_stores_nothing() {
            let h = Harness::new();
            h.http.fail("/openid-configuration", Fault::Unreachable);
            let result = start(h.deps(), &h.settings, h.provider(), h.login_request("")).await;
            assert_eq!(result.unwrap_err(), ApiError::ProviderUnavailable);
            assert!(h.store.scan().await.unwrap().is_empty());
            assert_eq!(h.random.drawn(), 0);
        }
    }
}
