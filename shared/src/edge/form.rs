//! Query strings and form bodies, decoded strictly: a malformed one is refused, never decoded
//! lossily, and repeated names are kept so they can be refused.

use super::Request;

/// Longest query string accepted.
pub const MAX_QUERY: usize = 8 * 1024;
/// Query parameters in order, with repeated names kept so they can be refused.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

/// A parameter that must appear at most once appeared more often.
#[derive(Debug, PartialEq, Eq)]
pub struct Repeated;

/// Why a query string or form body was refused before any parameter was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Longer than the limit.
    #[error("query or form body too long")]
    TooLong,
    /// Bad percent-encoding, invalid UTF-8 after decoding, or a control character (NUL, CR,
    /// LF, …) in a name or value. Holds the parameter's name when the name itself is sound, so
    /// the route can answer with that parameter's error code.
    #[error("malformed query or form parameter")]
    Malformed(Option<String>),
}

impl FormError {
    /// The name of the malformed parameter, when it could be read.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::Malformed(Some(name)) => Some(name),
            _ => None,
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+` is a space, every
/// `%` must start two hex digits, the result must be UTF-8 without control characters.
fn decode_component(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// Parses a query string or a form body strictly (see [`FormError`]), keeping repeated names.
pub fn parse_form(raw: &[u8], limit: usize) -> Result<Vec<(String, String)>, FormError> {
    if raw.len() > limit {
        return Err(FormError::TooLong);
    }
    let mut pairs = Vec::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode_component(name).ok_or(FormError::Malformed(None))?;
        let value =
            decode_component(value).ok_or_else(|| FormError::Malformed(Some(name.clone())))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

impl Query {
    /// Parses the request's query string strictly; longer than [`MAX_QUERY`] or malformed is
    /// an error, never a lossy decoding.
    pub fn from_request(req: &Request) -> Result<Self, FormError> {
        let raw = req.uri().query().unwrap_or("");
        parse_form(raw.as_bytes(), MAX_QUERY).map(Self)
    }

    /// Parses a form body (`application/x-www-form-urlencoded`) as strictly as a query.
    pub fn from_body(body: &[u8], limit: usize) -> Result<Self, FormError> {
        parse_form(body, limit).map(Self)
    }

    /// The value of `name` when it appears once; `Err` when it appears more than once.
    pub fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some((_, v)), None) => Ok(Some(v.as_str())),
            (Some(_), Some(_)) => Err(Repeated),
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;

    fn parsed(uri: &str) -> Result<Query, FormError> {
        Query::from_request(&http::Request::builder().uri(uri).body(Body::Empty).unwrap())
    }

    #[test]
    fn malformed_query_parameters_are_refused_not_decoded_lossily() {
        for (query, param) in [
            ("return_to=%zz", Some("return_to")),
            ("return_to=%2", Some("return_to")),
            ("return_to=%", Some("return_to")),
            ("state=%ff%fe", Some("state")),
            ("code=a%00b", Some("code")),
            ("code=a%0Db", Some("code")),
            ("code=a%0ab", Some("code")),
            ("x=1&app_redirect=%C3%28", Some("app_redirect")),
            ("%zz=1", None),
            ("a%00=1", None),
        ] {
            let err = parsed(&format!("/x?{query}")).unwrap_err();
            assert_eq!(err.param(), param, "{query}");
        }
        assert_eq!(
            parsed(&format!("/x?a={}", "b".repeat(MAX_QUERY))).unwrap_err(),
            FormError::TooLong
        );
    }

    #[test]
    fn well_formed_queries_decode_plus_and_percent() {
        let q = parsed("/x?a=b+c%2Fd&e=%E2%98%83&f&&g=").unwrap();
        assert_eq!(q.single("a"), Ok(Some("b c/d")));
        assert_eq!(q.single("e"), Ok(Some("\u{2603}")));
        assert_eq!(q.single("f"), Ok(Some("")));
        assert_eq!(q.single("g"), Ok(Some("")));
    }

    #[test]
    fn repeated_query_parameters_are_detected() {
        let q = parsed("/x?state=a&state=b&code=c").unwrap();
        assert_eq!(q.single("state"), Err(Repeated));
        assert_eq!(q.single("code"), Ok(Some("c")));
        assert_eq!(q.single("nope"), Ok(None));
    }
}
