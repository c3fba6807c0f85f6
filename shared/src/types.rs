//! Values parsed at the edge into types that cannot hold invalid data.

use url::Url;

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

/// Longest `return_to` accepted.
const MAX_RETURN_TO: usize = 2048;

/// The origin paths are normalised against; it never appears in a response.
const PATH_BASE: &str = "https://return-to.invalid";

/// A path segment that a browser treats as `.` or `..`, including `%2e` spellings.
fn is_dot_segment(segment: &str) -> bool {
    let lowered = segment.to_ascii_lowercase().replace("%2e", ".");
    lowered == "." || lowered == ".."
}

/// True when a browser at any URL of our origin, following `Location: <path>`, stays on it.
fn same_origin_path(path: &str) -> bool {
    if !path.starts_with('/') || path.starts_with("//") || path.starts_with("/\\") {
        return false;
    }
    let Ok(base) = Url::parse("https://auth.invalid/a/b/c") else {
        return false;
    };
    base.join(path)
        .is_ok_and(|u| u.scheme() == "https" && u.host_str() == Some("auth.invalid"))
}

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
    /// or reinterpret them and turn `/\t/evil.example` into `//evil.example`. Dot segments
    /// (`.`, `..` and their percent-encoded forms) are refused outright: a browser resolves
    /// `/..//evil.example` to `//evil.example`, another site. The normalised result is checked
    /// again, so a shape this list did not foresee still cannot leave the origin.
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
            return Self::parse_path(raw);
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

    fn parse_path(raw: &str) -> Option<Self> {
        let path_part = raw.split(['?', '#']).next().unwrap_or("");
        if path_part.starts_with("//") || path_part.split('/').any(is_dot_segment) {
            return None;
        }
        // Normalise through a URL parser (the WHATWG rules browsers follow), keeping its
        // percent-encoded serialization so `Location` stays ASCII.
        let base = Url::parse(PATH_BASE).ok()?;
        let joined = base.join(raw).ok()?;
        let path = joined.as_str().get(PATH_BASE.len()..)?;
        same_origin_path(path).then(|| Self::Path(path.to_owned()))
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
    fn return_to_rejects_dot_segments_that_would_leave_the_origin() {
        for bad in [
            "/..//evil.example/phish",
            "/.//evil.example",
            "/%2e%2e//evil.example",
            "/%2E%2e//evil.example",
            "/.%2e//evil.example",
            "/%2e//evil.example",
            "/a/..//evil.example",
            "/a/b/../..//evil.example",
            "/a/./b",
            "/a/..",
        ] {
            assert_eq!(
                ReturnTo::parse(bad, &allowed()),
                None,
                "{bad:?} must be refused"
            );
        }
        // Dots that are not whole segments, and dots after the path, are ordinary characters.
        assert!(ReturnTo::parse("/a/..b/.c/file.txt", &allowed()).is_some());
        assert!(ReturnTo::parse("/app?next=/..//x#/..//y", &allowed()).is_some());
    }

    /// The origin a browser on our origin lands on when it follows `location`.
    fn landed_origin(location: &str) -> String {
        Url::parse("https://auth.example.com/auth/dev/callback")
            .unwrap()
            .join(location)
            .map_or_else(
                |_| "(unparsable)".into(),
                |u| u.origin().ascii_serialization(),
            )
    }

    /// Pieces an attacker combines: separators, dots in every spelling, and characters that
    /// change how a URL parser reads what follows.
    const PIECES: &[&str] = &[
        "/",
        "/",
        "\\",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%5c",
        "@",
        ":",
        "?",
        "#",
        "%",
        "2",
        "e",
        "E",
        "f",
        "F",
        "evil.example",
        "a",
    ];

    fn joined(pieces: Vec<&str>) -> String {
        pieces.concat()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn no_accepted_return_to_path_leaves_the_origin(
            tail in proptest::collection::vec(proptest::sample::select(PIECES), 0..12)
        ) {
            let raw = format!("/{}", joined(tail));
            if let Some(rt) = ReturnTo::parse(&raw, &allowed()) {
                for location in [rt.location(), rt.with_error("access_denied")] {
                    proptest::prop_assert_eq!(
                        landed_origin(&location),
                        "https://auth.example.com",
                        "{:?} -> {:?}",
                        raw,
                        location
                    );
                }
            }
        }

        #[test]
        fn no_accepted_return_to_leaves_the_allowed_origins(
            head in proptest::sample::select(&["", "https:", "https://app.example.com", "http:", "//"][..]),
            tail in proptest::collection::vec(proptest::sample::select(PIECES), 0..12)
        ) {
            let raw = format!("{head}{}", joined(tail));
            if let Some(rt) = ReturnTo::parse(&raw, &allowed()) {
                for location in [rt.location(), rt.with_error("login_failed")] {
                    let origin = landed_origin(&location);
                    proptest::prop_assert!(
                        origin == "https://auth.example.com" || origin == "https://app.example.com",
                        "{:?} -> {:?}",
                        raw,
                        location
                    );
                }
            }
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
