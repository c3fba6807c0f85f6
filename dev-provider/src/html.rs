//! HTML escaping and the provider's few pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for use in HTML content and double- or single-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;\
padding:0 1rem;line-height:1.4}label{display:block;margin:.75rem 0}\
input[type=text],input[type=email]{display:block;width:100%;padding:.4rem;box-sizing:border-box}\
button{margin:.75rem .5rem 0 0;padding:.5rem 1rem}.note{color:#555;font-size:.9rem}";

/// A complete page; `title` and `body` must already be safe HTML.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
}

/// An HTML response that must never be cached.
pub(crate) fn respond(status: StatusCode, html: String) -> Response {
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An error page (the request is not redirected back to the client).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Dev provider — error</h1>\n<p id=\"error\">{}</p>",
        escape(message)
    );
    respond(status, page("Dev provider — error", &body))
}

/// The "sign in as" page. `params` are the original authorization request parameters, carried
/// along as hidden inputs.
pub(crate) fn sign_in_page(client_id: &str, params: &[(String, String)]) -> Response {
    let mut hidden = String::new();
    for (k, v) in params {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(k),
            escape(v)
        ));
    }
    let body = format!(
        "<h1>Dev provider — sign in</h1>\n\
         <p id=\"client\">Sign in to {client}</p>\n\
         <p class=\"note\">This is a local development identity provider: no password, \
         just choose who you want to be.</p>\n\
         <form method=\"post\" action=\"authorize\">\n{hidden}\
         <label for=\"subject\">Subject (user id)<input type=\"text\" id=\"subject\" name=\"subject\" value=\"alice\" required></label>\n\
         <label for=\"name\">Name<input type=\"text\" id=\"name\" name=\"name\" value=\"Alice Example\"></label>\n\
         <label for=\"email\">Email<input type=\"email\" id=\"email\" name=\"email\" value=\"alice@example.com\"></label>\n\
         <button type=\"submit\" id=\"approve\" name=\"action\" value=\"approve\">Sign in</button>\n\
         <button type=\"submit\" id=\"deny\" name=\"action\" value=\"deny\">Deny</button>\n\
         </form>",
        client = escape(client_id),
    );
    respond(StatusCode::OK, page("Dev provider — sign in", &body))
}

/// The end-session page, with an optional link back to the application.
pub(crate) fn signed_out_page(post_logout_redirect_uri: Option<&str>) -> Response {
    let link = post_logout_redirect_uri
        .map(|uri| {
            format!(
                "\n<p><a id=\"continue\" href=\"{}\">Continue to {}</a></p>",
                escape(uri),
                escape(uri)
            )
        })
        .unwrap_or_default();
    let body = format!("<h1>Signed out of the dev provider</h1>{link}");
    respond(StatusCode::OK, page("Dev provider — signed out", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_special_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
