//! Where a proxied request may go: `base_url` + the caller's path + its query, never outside
//! `base_url`'s path. The path is checked as it arrived (still percent-encoded): an encoded
//! slash, backslash or percent sign, a backslash, or a dot segment (`.`, `..`, `%2e%2E`, `..;`,
//! `..%3B`) that would climb out of the base path is refused; dot segments that stay inside are
//! resolved here, so the upstream never has to.

use url::Url;

/// Why a path cannot be proxied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Bad percent-encoding, a control character, or a character a path cannot carry.
    #[error("malformed path")]
    Malformed,
    /// An encoded `/`, `\` or `%`, or a raw `\`: read differently by different servers.
    #[error("encoded separator in path")]
    EncodedSeparator,
    /// A dot segment that climbs above the base path, or one hidden behind `;`.
    #[error("path escapes the API's base path")]
    Escapes,
}

/// The upstream URL for the raw (percent-encoded) `rest` of `/api/{api}/{rest}` and the raw
/// query, under `base` (whose path has no trailing slash).
pub fn target(base: &Url, rest: &str, query: Option<&str>) -> Result<Url, TargetError> {
    check_characters(rest)?;
    if let Some(query) = query {
        check_characters(query)?;
        if query.contains('#') {
            return Err(TargetError::Malformed);
        }
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in rest.split('/') {
        match dot_segment(segment)? {
            Some(Dot::Current) => {}
            Some(Dot::Parent) => {
                kept.pop().ok_or(TargetError::Escapes)?;
            }
            None => kept.push(segment),
        }
    }
    // A trailing dot segment leaves a directory: keep the trailing slash it implies.
    let last_is_dot = matches!(rest.rsplit('/').next().map(dot_segment), Some(Ok(Some(_))));
    let base_path = base.path().trim_end_matches('/');
    let mut path = format!("{base_path}/{}", kept.join("/"));
    if last_is_dot && !kept.is_empty() {
        path.push('/');
    }
    let mut url = base.clone();
    url.set_path(&path);
    url.set_query(query.filter(|q| !q.is_empty()));
    // Defence in depth: whatever the URL parser made of it stays on the base's origin and path.
    let inside = url.origin() == base.origin() && url.path().starts_with(&format!("{base_path}/"));
    inside.then_some(url).ok_or(TargetError::Escapes)
}

enum Dot {
    Current,
    Parent,
}

/// Whether `segment` is `.` or `..`, spelt plainly or percent-encoded. A segment that would be
/// one up to a `;` (Tomcat's path parameters: `..;x`, also as `..%3Bx`) is refused rather than
/// guessed at.
fn dot_segment(segment: &str) -> Result<Option<Dot>, TargetError> {
    let decoded = percent_decoded(segment);
    let before_params = decoded.split(|b| *b == b';').next().unwrap_or_default();
    let dot = match before_params {
        b"." => Dot::Current,
        b".." => Dot::Parent,
        _ => return Ok(None),
    };
    if decoded.len() != before_params.len() {
        return Err(TargetError::Escapes);
    }
    Ok(Some(dot))
}

/// `segment` percent-decoded once (its escapes are valid: [`check_characters`] ran first).
fn percent_decoded(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Printable ASCII only, `%` always followed by two hex digits and never encoding `/`, `\` or
/// `%` itself, and no raw `\`.
fn check_characters(raw: &str) -> Result<(), TargetError> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(TargetError::Malformed)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(TargetError::Malformed);
                }
                let upper = [hex[0].to_ascii_uppercase(), hex[1].to_ascii_uppercase()];
                if matches!(&upper, b"2F" | b"5C" | b"25") {
                    return Err(TargetError::EncodedSeparator);
                }
                i += 3;
            }
            b'\\' => return Err(TargetError::EncodedSeparator),
            b'!'..=b'~' => i += 1,
            _ => return Err(TargetError::Malformed),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    fn to(base_url: &str, rest: &str, query: Option<&str>) -> Result<String, TargetError> {
        target(&base(base_url), rest, query).map(|u| u.to_string())
    }

    #[test]
    fn the_path_and_query_are_appended_to_the_base_as_they_came() {
        let kakao = "https://kapi.kakao.com";
        assert_eq!(
            to(kakao, "v2/user/me", Some("secure_resource=true")).unwrap(),
            "https://kapi.kakao.com/v2/user/me?secure_resource=true"
        );
        let versioned = "https://api.example.com/v1";
        assert_eq!(
            to(versioned, "users/a%20b/", None).unwrap(),
            "https://api.example.com/v1/users/a%20b/"
        );
        assert_eq!(
            to(versioned, "", Some("")).unwrap(),
            "https://api.example.com/v1/"
        );
    }

    #[test]
    fn dot_segments_inside_the_base_are_resolved() {
        let b = "https://api.example.com/v1";
        assert_eq!(
            to(b, "a/../b", None).unwrap(),
            "https://api.example.com/v1/b"
        );
        assert_eq!(
            to(b, "a/./b", None).unwrap(),
            "https://api.example.com/v1/a/b"
        );
        assert_eq!(
            to(b, "a/%2e%2E/b", None).unwrap(),
            "https://api.example.com/v1/b"
        );
        assert_eq!(
            to(b, "a/b/..", None).unwrap(),
            "https://api.example.com/v1/a/"
        );
    }

    #[test]
    fn dot_segments_that_climb_out_of_the_base_are_refused() {
        let b = "https://api.example.com/v1";
        for rest in [
            "..",
            "../admin",
            "a/../../admin",
            "%2e%2e/admin",
            "%2E%2E/admin",
            ".%2e/admin",
            "%2e./admin",
            "./../admin",
            "a/b/../../../v2/x",
        ] {
            assert_eq!(to(b, rest, None), Err(TargetError::Escapes), "{rest}");
        }
    }

    #[test]
    fn encoded_separators_and_backslashes_are_refused() {
        let b = "https://api.example.com/v1";
        for rest in [
            "a%2Fb",
            "..%2fadmin",
            "%2e%2e%2fadmin",
            "..%5cadmin",
            "a\\..\\..\\admin",
            "%252e%252e/admin",
            "%25",
        ] {
            assert_eq!(
                to(b, rest, None),
                Err(TargetError::EncodedSeparator),
                "{rest}"
            );
        }
    }

    #[test]
    fn path_parameters_hiding_a_dot_segment_are_refused() {
        let b = "https://api.example.com/v1";
        assert_eq!(to(b, "..;/admin", None), Err(TargetError::Escapes));
        // Found by the proxy_target fuzzer: `;` percent-encoded.
        assert_eq!(
            to(b, "2/%2E%2E%3b2/%2E%2E%3b/", None),
            Err(TargetError::Escapes)
        );
        assert_eq!(to(b, "..%3Bx/admin", None), Err(TargetError::Escapes));
        assert_eq!(to(b, "a/..;x/b", None), Err(TargetError::Escapes));
        assert_eq!(
            to(b, "a;v=1/b", None).unwrap(),
            "https://api.example.com/v1/a;v=1/b"
        );
    }

    #[test]
    fn malformed_percent_encoding_and_control_characters_are_refused() {
        let b = "https://api.example.com";
        for rest in ["a%zzb", "a%2", "a%", "a b", "a\u{0}b", "a\tb", "é"] {
            assert_eq!(to(b, rest, None), Err(TargetError::Malformed), "{rest:?}");
        }
        assert_eq!(to(b, "a", Some("x=1#frag")), Err(TargetError::Malformed));
        assert_eq!(to(b, "a", Some("x=%zz")), Err(TargetError::Malformed));
    }

    #[test]
    fn a_path_that_looks_like_another_host_stays_on_the_base() {
        let b = "https://api.example.com";
        let url = to(b, "/evil.example/x", None).unwrap();
        assert!(url.starts_with("https://api.example.com/"), "{url}");
        let url = to(b, "@evil.example/x", None).unwrap();
        assert!(url.starts_with("https://api.example.com/"), "{url}");
    }
}
