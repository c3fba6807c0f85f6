//! Where the browser goes after login: a same-site path or a URL on an allowed origin, and the
//! rules that keep it from ever being another site.

use url::Url;

use super::{MAX_REDIRECT_LEN, Origin};

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
            || raw.len() > MAX_REDIRECT_LEN
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
}
