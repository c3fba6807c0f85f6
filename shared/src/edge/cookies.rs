//! The two cookies (login transaction and session): their names, attributes and lookup, built
//! and parsed with the `cookie` crate.

use cookie::{Cookie, SameSite};
use http::{HeaderValue, header};

use super::{Request, Response};

/// The names of the two cookies, which depend on `cookie_secure`.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    /// Cookie naming and attributes for this deployment.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The login-transaction cookie's name.
    pub fn tx_name(self) -> &'static str {
        if self.secure {
            "__Host-auth_tx"
        } else {
            "auth_tx"
        }
    }

    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when configured.
    pub fn set(self, name: &str, value: &str, max_age_secs: u64) -> String {
        self.build(name, value, max_age_secs, SameSite::Lax)
    }

    /// Like [`Cookies::set`] but `SameSite=None`, for the binding of a login whose callback is
    /// a cross-site form POST (which drops Lax cookies). Browsers accept `None` only with
    /// `Secure`, so without `cookie_secure` it stays Lax.
    pub fn set_cross_site(self, name: &str, value: &str, max_age_secs: u64) -> String {
        let same_site = if self.secure {
            SameSite::None
        } else {
            SameSite::Lax
        };
        self.build(name, value, max_age_secs, same_site)
    }

    fn build(self, name: &str, value: &str, max_age_secs: u64, same_site: SameSite) -> String {
        let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
        Cookie::build((name, value))
            .path("/")
            .max_age(cookie::time::Duration::seconds(max_age))
            .http_only(true)
            .same_site(same_site)
            .secure(self.secure)
            .build()
            .to_string()
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub fn clear(self, name: &str) -> String {
        self.set(name, "", 0)
    }
}

/// The value of the first cookie called `name`.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
        .filter(|v| !v.is_empty())
}

/// Appends a `Set-Cookie` header.
pub fn add_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;

    fn req(uri: &str, cookie_header: Option<&str>) -> Request {
        let mut b = http::Request::builder().uri(uri);
        if let Some(c) = cookie_header {
            b = b.header("cookie", c);
        }
        b.body(Body::Empty).unwrap()
    }

    #[test]
    fn secure_cookies_have_host_prefix_and_all_attributes() {
        let c = Cookies::new(true);
        assert_eq!(c.session_name(), "__Host-session");
        assert_eq!(c.tx_name(), "__Host-auth_tx");
        let set = c.set(c.session_name(), "abc", 60);
        let parsed = Cookie::parse(set.as_str()).unwrap();
        assert_eq!((parsed.name(), parsed.value()), ("__Host-session", "abc"));
        assert_eq!(parsed.path(), Some("/"));
        assert_eq!(parsed.max_age(), Some(cookie::time::Duration::seconds(60)));
        assert_eq!(parsed.http_only(), Some(true));
        assert_eq!(parsed.same_site(), Some(SameSite::Lax));
        assert_eq!(parsed.secure(), Some(true));
        assert_eq!(set.split("; ").count(), 6, "no other attribute: {set}");
        assert!(c.clear(c.tx_name()).contains("Max-Age=0"));
    }

    #[test]
    fn a_cross_site_binding_is_same_site_none_and_still_host_only_and_secure() {
        let c = Cookies::new(true);
        let set = c.set_cross_site(c.tx_name(), "abc", 600);
        let parsed = Cookie::parse(set.as_str()).unwrap();
        assert_eq!(parsed.name(), "__Host-auth_tx");
        assert_eq!(parsed.same_site(), Some(SameSite::None));
        assert_eq!(parsed.secure(), Some(true));
        assert_eq!(parsed.http_only(), Some(true));
        assert_eq!(parsed.path(), Some("/"));
        let dev = Cookies::new(false).set_cross_site("auth_tx", "abc", 600);
        assert!(dev.contains("SameSite=Lax"), "{dev}");
    }

    #[test]
    fn insecure_development_cookies_drop_secure_and_prefix() {
        let c = Cookies::new(false);
        assert_eq!(c.session_name(), "session");
        assert_eq!(c.tx_name(), "auth_tx");
        assert!(!c.set("session", "v", 1).contains("Secure"));
    }

    #[test]
    fn cookie_lookup_finds_the_named_cookie() {
        let r = req("/", Some("a=1; __Host-session=xyz; b=2"));
        assert_eq!(cookie(&r, "__Host-session"), Some("xyz"));
        assert_eq!(cookie(&r, "session"), None);
    }
}
