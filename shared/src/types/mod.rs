//! Values parsed at the edge into types that cannot hold invalid data.

use url::Url;

mod return_to;

pub use return_to::ReturnTo;

/// Longest `return_to` or `app_redirect` accepted.
const MAX_REDIRECT_LEN: usize = 2048;

/// True for hosts on this machine, where plain http is acceptable.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// A configured provider's name, as it appears in `/auth/{provider}/…`: 1–32 of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderId(String);

impl ProviderId {
    /// Accepts a provider name, or `None` when it has characters outside `[a-z0-9_-]`.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A web origin, `scheme://host[:port]`, serialized the way browsers send `Origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Parses an `http`/`https` origin; a path other than `/`, a query or user info is refused.
    pub fn parse(raw: &str) -> Option<Self> {
        let url = Url::parse(raw).ok()?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return None;
        }
        Some(Self(url.origin().ascii_serialization()))
    }

    /// The origin of an absolute URL.
    pub fn of(url: &Url) -> Self {
        Self(url.origin().ascii_serialization())
    }

    /// The serialized origin.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `https` origins and for plain `http` on a loopback host.
    pub fn is_https_or_loopback(&self) -> bool {
        Url::parse(&self.0)
            .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)))
    }
}

/// A mobile app's redirect URI (RFC 8252), exactly one of `mobile_redirects`. A registered
/// `http://127.0.0.1/…` or `http://[::1]/…` matches on any port (§7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRedirect(Url);

impl AppRedirect {
    /// Accepts `raw` only when it equals a registered redirect (loopback: ignoring the port).
    pub fn parse(raw: &str, registered: &[String]) -> Option<Self> {
        if raw.len() > MAX_REDIRECT_LEN {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        let loopback = url.scheme() == "http"
            && matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || url.scheme() == "http"
                && matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        let matches = registered.iter().any(|r| {
            if r == raw {
                return true;
            }
            if !loopback {
                return false;
            }
            let (Ok(mut a), Ok(reg)) = (Url::parse(raw), Url::parse(r)) else {
                return false;
            };
            let _ = a.set_port(reg.port());
            a == reg
        });
        matches.then_some(Self(url))
    }

    /// Re-reads a redirect that was validated when it was stored.
    pub fn stored(raw: &str) -> Option<Self> {
        Url::parse(raw).ok().map(Self)
    }

    /// The redirect as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The redirect with one query parameter added.
    pub fn with_param(&self, name: &str, value: &str) -> String {
        let mut u = self.0.clone();
        u.query_pairs_mut().append_pair(name, value);
        u.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_redirects_match_exactly_and_loopback_on_any_port() {
        let reg = vec![
            "com.example.app:/oauth".to_owned(),
            "http://127.0.0.1/cb".to_owned(),
        ];
        assert!(AppRedirect::parse("com.example.app:/oauth", &reg).is_some());
        assert!(AppRedirect::parse("com.example.app:/other", &reg).is_none());
        assert!(AppRedirect::parse("http://127.0.0.1:51234/cb", &reg).is_some());
        assert!(AppRedirect::parse("http://127.0.0.1:51234/cb2", &reg).is_none());
        assert!(AppRedirect::parse("http://localhost:51234/cb", &reg).is_none());
        assert!(AppRedirect::parse("https://evil.example/cb", &reg).is_none());
        let r = AppRedirect::parse("com.example.app:/oauth", &reg).unwrap();
        assert_eq!(
            r.with_param("code", "abc"),
            "com.example.app:/oauth?code=abc"
        );
    }

    #[test]
    fn provider_ids_are_lowercase_slugs() {
        assert!(ProviderId::parse("google").is_some());
        assert!(ProviderId::parse("corp-sso_2").is_some());
        assert!(ProviderId::parse("Google").is_none());
        assert!(ProviderId::parse("a/b").is_none());
        assert!(ProviderId::parse("").is_none());
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        assert_eq!(
            Origin::parse("https://App.Example.com:443")
                .unwrap()
                .as_str(),
            "https://app.example.com"
        );
        assert!(Origin::parse("https://app.example.com/path").is_none());
        assert!(Origin::parse("ftp://app.example.com").is_none());
    }
}
