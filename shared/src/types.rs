//! Values parsed at the edge into types that cannot hold invalid data.

use url::Url;

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
}

/// Longest `return_to` accepted.
const MAX_RETURN_TO: usize = 2048;

/// Where the browser goes after login: a same-site path or a URL on an allowed origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnTo {
    /// A path such as `/app/home?tab=1`, resolved by the browser against the token handler's origin.
    Path(String),
    /// An absolute URL whose origin is in `allowed_origins`.
    Absolute(Url),
}

impl ReturnTo {
    /// Parses a `return_to`. A path must start with exactly one `/` (not `//` or `/\`); no
    /// backslash, control character or white space is accepted anywhere, because browsers strip
    /// or reinterpret them and turn `/\t/evil.example` into `//evil.example`.
    pub fn parse(raw: &str, allowed: &[Origin]) -> Option<Self> {
        if raw.is_empty()
            || raw.len() > MAX_RETURN_TO
            || raw
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        if raw.starts_with('/') {
            if raw.starts_with("//") {
                return None;
            }
            // Normalise through a URL parser so the path cannot smuggle an authority.
            let base = Url::parse("https://return-to.invalid").ok()?;
            let joined = base.join(raw).ok()?;
            if joined.host_str() != Some("return-to.invalid") {
                return None;
            }
            // Keep the parser's serialization: percent-encoded, so `Location` stays ASCII.
            let origin_len = "https://return-to.invalid".len();
            return Some(Self::Path(joined.as_str()[origin_len..].to_owned()));
        }
        let url = Url::parse(raw).ok()?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return None;
        }
        let origin = Origin::of(&url);
        allowed
            .iter()
            .any(|o| o == &origin)
            .then_some(Self::Absolute(url))
    }

    /// The value for a `Location` header.
    pub fn location(&self) -> String {
        match self {
            Self::Path(p) => p.clone(),
            Self::Absolute(u) => u.to_string(),
        }
    }

    /// The location with `error=<code>` added to the query (before any fragment).
    pub fn with_error(&self, code: &str) -> String {
        match self {
            Self::Absolute(u) => {
                let mut u = u.clone();
                u.query_pairs_mut().append_pair("error", code);
                u.to_string()
            }
            Self::Path(p) => {
                let (before_fragment, fragment) = match p.split_once('#') {
                    Some((a, f)) => (a, Some(f)),
                    None => (p.as_str(), None),
                };
                let sep = if before_fragment.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let mut out = format!("{before_fragment}{sep}error={code}");
                if let Some(f) = fragment {
                    out.push('#');
                    out.push_str(f);
                }
                out
            }
        }
    }
}

/// A mobile app's redirect URI (RFC 8252), exactly one of `mobile_redirects`. A registered
/// `http://127.0.0.1/…` or `http://[::1]/…` matches on any port (§7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRedirect(Url);

impl AppRedirect {
    /// Accepts `raw` only when it equals a registered redirect (loopback: ignoring the port).
    pub fn parse(raw: &str, registered: &[String]) -> Option<Self> {
        if raw.len() > MAX_RETURN_TO {
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

    fn allowed() -> Vec<Origin> {
        vec![Origin::parse("https://app.example.com").unwrap()]
    }

    #[test]
    fn return_to_accepts_paths_and_allowed_origins() {
        assert_eq!(
            ReturnTo::parse("/app/home?x=1", &allowed()),
            Some(ReturnTo::Path("/app/home?x=1".into()))
        );
        assert!(matches!(
            ReturnTo::parse("https://app.example.com/after", &allowed()),
            Some(ReturnTo::Absolute(_))
        ));
    }

    #[test]
    fn return_to_rejects_open_redirect_shapes() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /x",
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "http://app.example.com/",
            "https://user@app.example.com/",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(
                ReturnTo::parse(bad, &allowed()),
                None,
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn non_ascii_paths_are_percent_encoded() {
        assert_eq!(
            ReturnTo::parse("/café?q=é", &allowed()),
            Some(ReturnTo::Path("/caf%C3%A9?q=%C3%A9".into()))
        );
    }

    #[test]
    fn error_is_added_to_the_query_before_the_fragment() {
        let p = ReturnTo::parse("/app?tab=1#top", &allowed()).unwrap();
        assert_eq!(
            p.with_error("access_denied"),
            "/app?tab=1&error=access_denied#top"
        );
        let a = ReturnTo::parse("https://app.example.com/x", &allowed()).unwrap();
        assert_eq!(
            a.with_error("login_failed"),
            "https://app.example.com/x?error=login_failed"
        );
    }

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
