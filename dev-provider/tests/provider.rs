//! End-to-end tests of the dev provider through its router (tower `oneshot`) and `spawn`.

#![allow(clippy::unwrap_used)]

use aws_lc_rs::digest;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dev_provider::{Behavior, Client, DevProvider};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tower::ServiceExt;

const ISSUER: &str = "http://127.0.0.1:9000/dev-provider";
const REDIRECT: &str = "http://127.0.0.1:9000/callback";
const VERIFIER: &str = "a-very-long-code-verifier-that-is-at-least-43-characters-long";

fn client() -> Client {
    Client {
        client_id: "test-client".into(),
        client_secret: "s3cret:&+ value".into(),
        redirect_uris: vec![REDIRECT.into()],
    }
}

fn provider() -> DevProvider {
    DevProvider::new(ISSUER, vec![client()])
}

/// The router as the `local` runner mounts it.
fn app(p: &DevProvider) -> Router {
    Router::new().nest("/dev-provider", p.router())
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

fn authorization_url(p: &DevProvider, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", p.issuer())).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", "test-client")
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("scope", "openid email profile offline_access")
            .append_pair("code_challenge", &challenge(VERIFIER))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Runs the approve helper and returns the code.
fn code_for(p: &DevProvider) -> String {
    let redirect = p.approve(&authorization_url(p, &[]), "alice").unwrap();
    assert!(redirect.starts_with(REDIRECT));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(ISSUER));
    query_param(&redirect, "code").unwrap()
}

fn basic() -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let creds = format!("{}:{}", enc("test-client"), enc("s3cret:&+ value"));
    format!("Basic {}", STANDARD.encode(creds))
}

fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn send(app: Router, req: Request<Body>) -> Reply {
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(p: &DevProvider, path_and_query: &str) -> Reply {
    let req = Request::get(format!("/dev-provider{path_and_query}"))
        .body(Body::empty())
        .unwrap();
    send(app(p), req).await
}

async fn post_form(
    p: &DevProvider,
    path: &str,
    auth: Option<&str>,
    fields: &[(&str, &str)],
) -> Reply {
    let mut req = Request::post(format!("/dev-provider{path}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    send(app(p), req.body(Body::from(form_body(fields))).unwrap()).await
}

async fn exchange(p: &DevProvider, code: &str, verifier: &str) -> Reply {
    post_form(
        p,
        "/token",
        Some(&basic()),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(p: &DevProvider, refresh_token: &str) -> Reply {
    post_form(
        p,
        "/token",
        Some(&basic()),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn jwt_header(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

fn jwt_claims(token: &str) -> Value {
    let second = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(second).unwrap()).unwrap()
}

/// Verifies `token` against the provider's JWKS as a relying party would.
async fn verify(p: &DevProvider, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks = get(p, "/jwks").await.json();
    let kid = jwt_header(token)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["test-client"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|d| d.claims)
}

#[tokio::test]
async fn discovery_document_is_served_with_the_issuer() {
    let p = provider();
    let r = get(&p, "/.well-known/openid-configuration").await;
    assert_eq!(r.status, StatusCode::OK);
    let d = r.json();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["authorization_endpoint"], format!("{ISSUER}/authorize"));
    assert_eq!(d["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/jwks"));
    assert_eq!(d["end_session_endpoint"], format!("{ISSUER}/end-session"));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(p.stats().discovery_requests, 1);
    assert_eq!(p.stats().jwks_requests, 0);

    let jwks = get(&p, "/jwks").await.json();
    assert_eq!(p.stats().jwks_requests, 1);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}

#[tokio::test]
async fn full_flow_issues_verifiable_tokens_and_userinfo() {
    let p = provider();
    let code = code_for(&p);
    let r = exchange(&p, &code, VERIFIER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "openid email profile offline_access");
    let claims = verify(&p, t["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["picture"], "https://example.com/alice.png");

    let stats = p.stats();
    assert_eq!(stats.authorization_code_grants, 1);
    assert_eq!(
        stats.last_client_auth.as_deref(),
        Some("client_secret_basic")
    );
    assert!(
        stats
            .last_token_form
            .iter()
            .any(|(k, v)| k == "code" && *v == code)
    );

    let bearer = format!("Bearer {}", t["access_token"].as_str().unwrap());
    let req = Request::get("/dev-provider/userinfo")
        .header(header::AUTHORIZATION, &bearer)
        .body(Body::empty())
        .unwrap();
    let u = send(app(&p), req).await;
    assert_eq!(u.status, StatusCode::OK);
    assert_eq!(u.json()["sub"], "alice");
    let bad = Request::get("/dev-provider/userinfo")
        .header(header::AUTHORIZATION, "Bearer nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(app(&p), bad).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(p.stats().userinfo_requests, 2);
}

#[tokio::test]
async fn client_secret_post_works_and_secret_is_not_recorded() {
    let p = provider();
    let code = code_for(&p);
    let r = post_form(
        &p,
        "/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "test-client"),
            ("client_secret", "s3cret:&+ value"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stats = p.stats();
    assert_eq!(
        stats.last_client_auth.as_deref(),
        Some("client_secret_post")
    );
    assert!(
        stats
            .last_token_form
            .iter()
            .all(|(k, _)| k != "client_secret")
    );
    assert!(stats.last_token_form.iter().any(|(k, _)| k == "client_id"));
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let p = provider();
    let code = code_for(&p);
    let r = post_form(
        &p,
        "/token",
        Some(&format!("Basic {}", STANDARD.encode("test-client:wrong"))),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    assert_eq!(p.stats().authorization_code_grants, 1);
}

#[tokio::test]
async fn pkce_mismatch_is_invalid_grant_and_consumes_the_code() {
    let p = provider();
    let code = code_for(&p);
    let other = "another-code-verifier-that-is-also-long-enough-1234";
    let r = exchange(&p, &code, other).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_grant");
    let again = exchange(&p, &code, VERIFIER).await;
    assert_eq!(again.json()["error"], "invalid_grant");
    assert_eq!(p.stats().authorization_code_grants, 2);
}

#[tokio::test]
async fn code_is_single_use() {
    let p = provider();
    let code = code_for(&p);
    assert_eq!(exchange(&p, &code, VERIFIER).await.status, StatusCode::OK);
    let second = exchange(&p, &code, VERIFIER).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_rotation_invalidates_the_old_refresh_token() {
    let p = provider();
    let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
    let rt1 = t["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(&p, &rt1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t2 = r.json();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let claims = verify(&p, t2["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["sub"], "alice");
    assert!(claims.get("nonce").is_none());
    let old = refresh(&p, &rt1).await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    assert_eq!(old.json()["error"], "invalid_grant");
    assert_eq!(refresh(&p, &rt2).await.status, StatusCode::OK);
    let stats = p.stats();
    assert_eq!(stats.refresh_token_grants, 3);
    assert_eq!(stats.refresh_tokens_received, vec![rt1.clone(), rt1, rt2]);
}

#[tokio::test]
async fn no_rotation_and_omit_keep_the_old_refresh_token() {
    let p = provider();
    let rt = exchange(&p, &code_for(&p), VERIFIER).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    p.set_behavior(Behavior {
        no_rotation: true,
        ..Behavior::default()
    });
    assert_eq!(refresh(&p, &rt).await.json()["refresh_token"], rt.as_str());
    p.set_behavior(Behavior {
        omit_refresh_token_on_refresh: true,
        ..Behavior::default()
    });
    assert!(refresh(&p, &rt).await.json().get("refresh_token").is_none());
    p.set_behavior(Behavior::default());
    assert_eq!(refresh(&p, &rt).await.status, StatusCode::OK);
}

#[tokio::test]
async fn alg_none_behavior_yields_an_unsigned_token() {
    let p = provider();
    p.set_behavior(Behavior {
        id_token_alg_none: true,
        ..Behavior::default()
    });
    let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
    let id_token = t["id_token"].as_str().unwrap();
    assert_eq!(jwt_header(id_token)["alg"], "none");
    assert!(id_token.ends_with('.'));
    assert_eq!(jwt_claims(id_token)["sub"], "alice");
}

#[tokio::test]
async fn tampered_id_tokens_fail_verification() {
    let p = provider();
    for b in [
        Behavior {
            id_token_bad_signature: true,
            ..Behavior::default()
        },
        Behavior {
            id_token_hs256_with_secret: true,
            ..Behavior::default()
        },
        Behavior {
            id_token_iss: Some("https://evil.example".into()),
            ..Behavior::default()
        },
        Behavior {
            id_token_aud: Some("other".into()),
            ..Behavior::default()
        },
        Behavior {
            id_token_exp_offset: Some(-600),
            ..Behavior::default()
        },
    ] {
        p.set_behavior(b.clone());
        let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
        assert!(
            verify(&p, t["id_token"].as_str().unwrap()).await.is_err(),
            "{b:?}"
        );
    }
    p.set_behavior(Behavior {
        id_token_hs256_with_secret: true,
        ..Behavior::default()
    });
    let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
    assert_eq!(jwt_header(t["id_token"].as_str().unwrap())["alg"], "HS256");
}

#[tokio::test]
async fn unknown_kid_becomes_known_after_rotation() {
    let p = provider();
    let old_kid = get(&p, "/jwks").await.json()["keys"][0]["kid"].clone();
    p.set_behavior(Behavior {
        id_token_unknown_kid_key: true,
        ..Behavior::default()
    });
    let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    assert!(verify(&p, &id_token).await.is_err());
    p.rotate_keys();
    let jwks = get(&p, "/jwks").await.json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_ne!(jwks["keys"][0]["kid"], old_kid);
    assert!(verify(&p, &id_token).await.is_ok());
}

#[tokio::test]
async fn token_faults_are_injected() {
    let p = provider();
    p.set_behavior(Behavior {
        token_error: Some((200, "<html>not json</html>".into())),
        ..Behavior::default()
    });
    let code = code_for(&p);
    let r = exchange(&p, &code, VERIFIER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "<html>not json</html>");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");

    p.set_behavior(Behavior {
        token_redirect_to: Some("http://example.com/x".into()),
        ..Behavior::default()
    });
    let r = exchange(&p, &code, VERIFIER).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.headers[header::LOCATION], "http://example.com/x");

    p.set_behavior(Behavior {
        token_oversize: true,
        ..Behavior::default()
    });
    let r = exchange(&p, &code, VERIFIER).await;
    assert!(r.body.len() > 2 * 1024 * 1024);

    // Faults do not consume the code.
    p.set_behavior(Behavior::default());
    assert_eq!(exchange(&p, &code, VERIFIER).await.status, StatusCode::OK);
    assert_eq!(p.stats().authorization_code_grants, 4);
}

#[tokio::test]
async fn authorize_validation() {
    let p = provider();
    // Plain PKCE is rejected, and reported through the redirect.
    let mut url = authorization_url(&p, &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert!(p.approve(&url, "alice").unwrap_err().contains("S256"));
    let path = &url[ISSUER.len()..];
    let r = get(&p, path).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let loc = r.headers[header::LOCATION].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(
        query_param(loc, "error").as_deref(),
        Some("invalid_request")
    );

    // Unregistered redirect_uri: error page, never a redirect.
    url = authorization_url(&p, &[]).replace("callback", "elsewhere");
    assert!(p.approve(&url, "alice").is_err());
    let r = get(&p, &url[ISSUER.len()..]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers.get(header::LOCATION).is_none());

    // Missing state.
    let no_state = authorization_url(&p, &[]).replace("state=st-1&", "");
    assert!(p.approve(&no_state, "alice").unwrap_err().contains("state"));

    // Wrong endpoint.
    let elsewhere = authorization_url(&p, &[]).replace("/authorize", "/other");
    assert!(p.approve(&elsewhere, "alice").is_err());

    // iss can be omitted or replaced.
    p.set_behavior(Behavior {
        authorize_iss: Some(None),
        ..Behavior::default()
    });
    let redirect = p.approve(&authorization_url(&p, &[]), "bob").unwrap();
    assert!(query_param(&redirect, "iss").is_none());
    p.set_behavior(Behavior {
        authorize_iss: Some(Some("https://evil".into())),
        ..Behavior::default()
    });
    let redirect = p.approve(&authorization_url(&p, &[]), "bob").unwrap();
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some("https://evil")
    );
}

#[tokio::test]
async fn sign_in_page_and_form() {
    let p = provider();
    let url = authorization_url(&p, &[("login_hint", "<script>")]);
    let r = get(&p, &url[ISSUER.len()..]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<title>Dev provider — sign in</title>"));
    assert!(r.body.contains("Sign in to test-client"));
    for id in ["subject", "name", "email", "approve", "deny"] {
        assert!(r.body.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    assert!(r.body.contains("&lt;script&gt;"));
    assert!(!r.body.contains("<script>"));

    // Submit the form as a browser would: hidden params plus the inputs.
    let mut fields: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    fields.push(("subject".into(), "carol".into()));
    fields.push(("name".into(), "Carol C".into()));
    fields.push(("email".into(), "carol@example.com".into()));
    fields.push(("action".into(), "approve".into()));
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = post_form(&p, "/authorize", None, &refs).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let loc = r.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&loc, "code").unwrap();
    let t = exchange(&p, &code, VERIFIER).await.json();
    let claims = verify(&p, t["id_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["name"], "Carol C");

    let mut deny = refs.clone();
    deny.retain(|(k, _)| *k != "action");
    deny.push(("action", "deny"));
    let r = post_form(&p, "/authorize", None, &deny).await;
    let loc = r.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn revoke_invalidates_refresh_tokens() {
    let p = provider();
    let t = exchange(&p, &code_for(&p), VERIFIER).await.json();
    let rt = t["refresh_token"].as_str().unwrap();
    let r = post_form(&p, "/revoke", Some(&basic()), &[("token", rt)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(refresh(&p, rt).await.json()["error"], "invalid_grant");
    let r = post_form(&p, "/revoke", Some(&basic()), &[("token", "unknown")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        p.stats().revoked_tokens,
        vec![rt.to_string(), "unknown".to_string()]
    );
}

#[tokio::test]
async fn end_session_links_but_does_not_redirect() {
    let p = provider();
    let r = get(
        &p,
        "/end-session?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2F%3Fa%3D1%26b%3D%3C",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Signed out of the dev provider"));
    assert!(
        r.body
            .contains("href=\"http://127.0.0.1:9000/?a=1&amp;b=&lt;\"")
    );
    let r = get(
        &p,
        "/end-session?post_logout_redirect_uri=javascript%3Aalert(1)",
    )
    .await;
    assert!(!r.body.contains("javascript"));
}

#[tokio::test]
async fn spawn_serves_over_tcp() {
    let (p, handle) = DevProvider::spawn(vec![client()]).await;
    let addr = p.issuer().trim_start_matches("http://").to_string();
    // Plain blocking HTTP/1.1 on a blocking thread (no HTTP client dependency needed).
    let resp = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        let req = format!(
            "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        stream.read_to_string(&mut resp).unwrap();
        resp
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(&format!("\"issuer\":\"{}\"", p.issuer())));
    handle.abort();
}
