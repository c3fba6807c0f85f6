//! Hostile input: malformed, oversized or unexpected requests never cause a 5xx, an HTML
//! page, or an echo of the input.

use http::{HeaderValue, Method, Request};
use integration_tests::Harness;
use lambda_http::Body;

/// One hostile request and the text that must not come back.
struct Case {
    name: String,
    request: Request<Body>,
    needles: Vec<String>,
}

fn case(
    name: &str,
    method: Method,
    uri: &str,
    headers: &[(&str, &[u8])],
    body: Body,
    needles: &[&str],
) -> Case {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, HeaderValue::from_bytes(v).unwrap());
    }
    Case {
        name: name.to_owned(),
        request: builder.body(body).unwrap(),
        needles: needles.iter().map(|n| (*n).to_owned()).collect(),
    }
}

fn get(name: &str, uri: &str, needles: &[&str]) -> Case {
    case(name, Method::GET, uri, &[], Body::Empty, needles)
}

const ROUTES: [&str; 5] = [
    "/auth/dev/login",
    "/auth/dev/callback",
    "/auth/refresh",
    "/auth/session",
    "/auth/logout",
];

fn cases(session_cookie: &str) -> Vec<Case> {
    let long = "Q".repeat(10 * 1024);
    let long_cookie = format!("__Host-session={}", "C".repeat(10 * 1024));
    let long_tx = format!("__Host-auth_tx={}", "T".repeat(10 * 1024));
    let long_bearer = format!("Bearer {}", "B".repeat(10 * 1024));
    let many_params = "a=1&".repeat(3000);
    let big_body = format!(
        "{{\"force\": true, \"pad\": \"{}\"}}",
        "P".repeat(100 * 1024)
    );
    let fetch: (&str, &[u8]) = ("x-requested-with", b"fetch");
    let cookie = format!("__Host-session={session_cookie}");
    let mut all = vec![
        get(
            "10 KB return_to",
            &format!("/auth/dev/login?return_to=/{long}"),
            &[&long[..64]],
        ),
        get(
            "10 KB state",
            &format!("/auth/dev/callback?code=c&state={long}"),
            &[&long[..64]],
        ),
        get(
            "many parameters",
            &format!("/auth/dev/login?{many_params}"),
            &[],
        ),
        get(
            "invalid percent-encoding",
            "/auth/dev/login?return_to=%zz%",
            &["%zz"],
        ),
        get(
            "invalid UTF-8",
            "/auth/dev/login?return_to=/%ff%fe",
            &["%ff", "\u{fffd}"],
        ),
        get(
            "invalid UTF-8 state",
            "/auth/dev/callback?state=%ff%fe&code=%zz",
            &["%ff", "%zz", "\u{fffd}"],
        ),
        get(
            "NUL in return_to",
            "/auth/dev/login?return_to=/a%00b",
            &["a\u{0}b", "%00"],
        ),
        get(
            "NUL in the callback",
            "/auth/dev/callback?code=x%00y&state=%00",
            &["x\u{0}y", "%00"],
        ),
        get(
            "unicode state",
            "/auth/dev/callback?code=c&state=%E2%98%83%F0%9F%98%80",
            &["\u{2603}", "%E2%98%83"],
        ),
        get(
            "script provider",
            "/auth/%3Cscript%3Ealert(1)%3C%2Fscript%3E/login",
            &["<script", "alert(1)"],
        ),
        get(
            "script error",
            "/auth/dev/callback?error=%3Cscript%3Ealert(1)%3C/script%3E&state=x",
            &["<script", "alert(1)"],
        ),
        get("double slash", "/auth//login", &[]),
        get("dot segments", "/auth/../refresh", &[]),
        get("encoded dot segments", "/auth/%2e%2e/login", &["%2e"]),
        get("deep dot segments", "/auth/dev/../../auth/session", &[]),
        get(
            "long provider",
            &format!("/auth/{}/login", "p".repeat(5000)),
            &["pppppppppppppppp"],
        ),
        get("unknown route", "/auth/admin", &["admin"]),
        case(
            "10 KB session cookie",
            Method::GET,
            "/auth/session",
            &[("cookie", long_cookie.as_bytes())],
            Body::Empty,
            &["CCCCCCCCCCCCCCCC"],
        ),
        case(
            "10 KB cookie on refresh",
            Method::POST,
            "/auth/refresh",
            &[("cookie", long_cookie.as_bytes()), fetch],
            Body::Empty,
            &["CCCCCCCCCCCCCCCC"],
        ),
        case(
            "10 KB transaction cookie",
            Method::GET,
            "/auth/dev/login",
            &[("cookie", long_tx.as_bytes())],
            Body::Empty,
            &["TTTTTTTTTTTTTTTT"],
        ),
        case(
            "10 KB transaction cookie at callback",
            Method::GET,
            "/auth/dev/callback?state=x&code=y",
            &[("cookie", long_tx.as_bytes())],
            Body::Empty,
            &["TTTTTTTTTTTTTTTT"],
        ),
        case(
            "non-UTF-8 cookie",
            Method::GET,
            "/auth/session",
            &[("cookie", b"__Host-session=\xff\xfe")],
            Body::Empty,
            &[],
        ),
        case(
            "10 KB bearer",
            Method::POST,
            "/auth/refresh",
            &[("authorization", long_bearer.as_bytes())],
            Body::Empty,
            &["BBBBBBBBBBBBBBBB"],
        ),
        case(
            "script bearer",
            Method::GET,
            "/auth/session",
            &[("authorization", b"Bearer <script>")],
            Body::Empty,
            &["<script"],
        ),
        case(
            "basic auth",
            Method::POST,
            "/auth/refresh",
            &[("authorization", b"Basic ZXZpbDpldmls")],
            Body::Empty,
            &["ZXZpbDpldmls"],
        ),
        case(
            "non-UTF-8 origin",
            Method::POST,
            "/auth/refresh",
            &[
                ("cookie", cookie.as_bytes()),
                fetch,
                ("origin", b"https://\xffevil.test"),
            ],
            Body::Empty,
            &["evil"],
        ),
        case(
            "null origin",
            Method::POST,
            "/auth/refresh",
            &[("cookie", cookie.as_bytes()), fetch, ("origin", b"null")],
            Body::Empty,
            &[],
        ),
        case(
            "100 KB body",
            Method::POST,
            "/auth/refresh",
            &[("cookie", cookie.as_bytes()), fetch],
            Body::Text(big_body),
            &["PPPPPPPPPPPPPPPP"],
        ),
        case(
            "binary body",
            Method::POST,
            "/auth/refresh",
            &[("cookie", cookie.as_bytes()), fetch],
            Body::Binary(vec![0xff, 0x00, 0xfe, b'{']),
            &[],
        ),
        case(
            "script body",
            Method::POST,
            "/auth/refresh",
            &[("cookie", cookie.as_bytes()), fetch],
            Body::Text("{\"<script>\": 1}".into()),
            &["<script"],
        ),
        case(
            "duplicate keys",
            Method::POST,
            "/auth/refresh",
            &[("cookie", cookie.as_bytes()), fetch],
            Body::Text("{\"force\": true, \"force\": false}".into()),
            &[],
        ),
        case(
            "forwarded host",
            Method::GET,
            "/auth/dev/login",
            &[("x-forwarded-host", b"evil.test"), ("host", b"evil.test")],
            Body::Empty,
            &["evil"],
        ),
    ];
    for route in ROUTES {
        for method in [
            Method::DELETE,
            Method::PUT,
            Method::PATCH,
            Method::from_bytes(b"BREW").unwrap(),
        ] {
            all.push(case(
                &format!("{method} {route}"),
                method,
                route,
                &[("cookie", cookie.as_bytes()), fetch],
                Body::Empty,
                &[],
            ));
        }
    }
    all
}

#[tokio::test]
async fn hostile_requests_never_cause_a_server_error_or_an_echo() {
    let h = Harness::spawn().await;
    let session_id = h.browser().sign_in("dev", "alice").await;

    for Case {
        name,
        request,
        needles,
    } in cases(&session_id)
    {
        let reply = h.browser().send(request).await;

        let status = reply.status.as_u16();
        assert!(status < 500, "{name}: {reply:?}");
        if status >= 400 {
            assert_eq!(
                reply.header("content-type"),
                Some("application/json"),
                "{name}: {reply:?}"
            );
            assert!(reply.json()["error"].is_string(), "{name}: {reply:?}");
        }
        for needle in &needles {
            assert!(
                !reply.body.contains(needle.as_str()),
                "{name}: body echoes {needle:?}: {reply:?}"
            );
            for (header, value) in &reply.headers {
                let value = String::from_utf8_lossy(value.as_bytes());
                assert!(
                    !value.contains(needle.as_str()),
                    "{name}: {header} echoes {needle:?}"
                );
            }
        }
    }
    assert_eq!(
        h.stats().authorization_code_grants,
        1,
        "no hostile request reached the token endpoint"
    );
}

#[tokio::test]
async fn wrong_methods_on_every_route_are_405() {
    let h = Harness::spawn().await;
    for route in ROUTES {
        for method in [Method::DELETE, Method::PUT, Method::PATCH] {
            let reply = h
                .browser()
                .request(method.clone(), route, &[], Body::Empty)
                .await;

            assert_eq!(reply.status.as_u16(), 405, "{method} {route}: {reply:?}");
            assert_eq!(reply.header("content-type"), Some("application/json"));
        }
    }
}
