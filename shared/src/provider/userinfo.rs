//! Who a plain OAuth 2.0 access token belongs to: the provider's userinfo / profile answer,
//! fetched once at the callback under the same timeouts and size cap as the token endpoint, and
//! read through the provider's JSON pointers. An e-mail is kept only when verified.

use aws_lc_rs::hmac;
use serde_json::Value;
use url::Url;

use super::ProviderError;
use super::client::{self, Fetched, Outbound};
use super::outcome::Identity;
use super::quirks::EmailFallback;
use crate::config::{ProviderConfig, UserinfoMap};
use crate::secret::AccessToken;
use crate::store::Profile;

/// Longest subject identifier accepted.
const MAX_SUBJECT: usize = 255;

/// The fields Facebook's `/me` is asked for.
const GRAPH_FIELDS: &str = "id,name,email,picture";

/// The identity the provider's userinfo endpoint gives for `access_token`.
pub async fn identity(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    access_token: &AccessToken,
) -> Result<Identity, ProviderError> {
    let (Some(map), Some(endpoint)) = (&provider.userinfo, &provider.endpoints.userinfo) else {
        return Err(ProviderError::Invalid("no userinfo endpoint".into()));
    };
    let mut url = endpoint.clone();
    if provider.quirks.graph_api {
        url.query_pairs_mut().append_pair("fields", GRAPH_FIELDS);
    }
    let answer = get_json(http, provider, &url, access_token).await?;
    let mut identity = read_identity(&answer, map)?;
    if identity.profile.email.is_none()
        && provider.quirks.email_fallback == EmailFallback::GithubEmails
    {
        identity.profile.email = github_primary_email(http, provider, endpoint, access_token).await;
    }
    Ok(identity)
}

/// A Graph-style call's URL: with `appsecret_proof` when the provider wants one.
pub fn with_proof(
    provider: &ProviderConfig,
    url: &Url,
    access_token: &AccessToken,
) -> Result<Url, ProviderError> {
    let mut url = url.clone();
    if provider.quirks.graph_api {
        let secret = super::token::client_secret(provider)?;
        let proof = appsecret_proof(secret.expose(), access_token.expose());
        url.query_pairs_mut().append_pair("appsecret_proof", &proof);
    }
    Ok(url)
}

/// Facebook's `appsecret_proof`: lowercase hex of HMAC-SHA256(key = app secret, access token).
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    let tag = hmac::sign(&key, access_token.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A GET with the access token as a bearer, answered with JSON that is not an error.
async fn get_json(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    url: &Url,
    access_token: &AccessToken,
) -> Result<Value, ProviderError> {
    let mut request = client::get(&with_proof(provider, url, access_token)?);
    client::bearer(&mut request, access_token);
    let fetched = http.send(request).await?;
    read_json(&fetched)
}

fn read_json(fetched: &Fetched) -> Result<Value, ProviderError> {
    let status = fetched.status;
    if status.is_server_error() {
        return Err(ProviderError::Unavailable(format!(
            "userinfo answered {status}"
        )));
    }
    if !status.is_success() {
        return Err(ProviderError::Invalid(format!(
            "userinfo answered {status}"
        )));
    }
    let value: Value = serde_json::from_slice(&fetched.body)
        .map_err(|_| ProviderError::Invalid("userinfo answer is not JSON".into()))?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(ProviderError::Invalid("userinfo answered an error".into()));
    }
    Ok(value)
}

/// The identity in a userinfo answer: the subject (a string or an integer) and the profile,
/// the e-mail only when every verification flag the map names is `true`.
pub fn read_identity(answer: &Value, map: &UserinfoMap) -> Result<Identity, ProviderError> {
    if let Some((pointer, expected)) = &map.success
        && answer.pointer(pointer).and_then(Value::as_str) != Some(expected.as_str())
    {
        return Err(ProviderError::Invalid(
            "userinfo answer is not a success".into(),
        ));
    }
    let subject = match answer.pointer(&map.subject) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => {
            return Err(ProviderError::Invalid(
                "userinfo answer has no subject".into(),
            ));
        }
    };
    if subject.is_empty() || subject.len() > MAX_SUBJECT {
        return Err(ProviderError::Invalid("unusable subject".into()));
    }
    let first = |pointers: &[String]| {
        pointers
            .iter()
            .filter_map(|p| answer.pointer(p).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let verified = map
        .email_verified
        .iter()
        .all(|p| answer.pointer(p).and_then(Value::as_bool) == Some(true));
    Ok(Identity {
        subject,
        profile: Profile {
            name: first(&map.name),
            email: first(&map.email).filter(|_| verified),
            picture: first(&map.picture),
        },
        sid: None,
    })
}

/// GitHub: the primary, verified address of `/user/emails`; none when the scope does not allow
/// the call or the answer has none.
async fn github_primary_email(
    http: &dyn Outbound,
    provider: &ProviderConfig,
    user_endpoint: &Url,
    access_token: &AccessToken,
) -> Option<String> {
    let mut url = user_endpoint.clone();
    let path = format!("{}/emails", url.path().trim_end_matches('/'));
    url.set_path(&path);
    let answer = match get_json(http, provider, &url, access_token).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!(error = %crate::telemetry::Chain(&e), "no e-mail list");
            return None;
        }
    };
    answer.as_array()?.iter().find_map(|entry| {
        let flag = |name: &str| entry.get(name).and_then(Value::as_bool) == Some(true);
        (flag("primary") && flag("verified"))
            .then(|| {
                entry
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(subject: &str, email_verified: &[&str], success: Option<(&str, &str)>) -> UserinfoMap {
        UserinfoMap {
            subject: subject.into(),
            name: vec!["/name".into(), "/login".into()],
            email: vec!["/email".into()],
            picture: vec!["/avatar".into()],
            email_verified: email_verified.iter().map(|s| (*s).to_owned()).collect(),
            success: success.map(|(k, v)| (k.into(), v.into())),
        }
    }

    #[test]
    fn a_numeric_subject_becomes_its_decimal_text() {
        let id = read_identity(
            &json!({"id": 1234567890123_u64, "login": "octo"}),
            &map("/id", &[], None),
        )
        .unwrap();
        assert_eq!(id.subject, "1234567890123");
        assert_eq!(
            id.profile.name.as_deref(),
            Some("octo"),
            "the first present name wins"
        );
    }

    #[test]
    fn an_answer_without_a_usable_subject_is_refused() {
        for answer in [
            json!({}),
            json!({"id": ""}),
            json!({"id": true}),
            json!({"id": 1.5}),
            json!({"id": {"x": 1}}),
        ] {
            assert!(
                read_identity(&answer, &map("/id", &[], None)).is_err(),
                "{answer}"
            );
        }
    }

    #[test]
    fn an_email_is_kept_only_when_every_flag_says_verified() {
        let m = map("/id", &["/valid", "/verified"], None);
        let with = |valid: Value, verified: Value| {
            read_identity(
                &json!({"id": 1, "email": "a@example.com", "valid": valid, "verified": verified}),
                &m,
            )
            .unwrap()
            .profile
            .email
        };
        assert_eq!(
            with(json!(true), json!(true)).as_deref(),
            Some("a@example.com")
        );
        assert_eq!(with(json!(true), json!(false)), None);
        assert_eq!(
            with(json!(true), json!("true")),
            None,
            "only a JSON true counts"
        );
        assert_eq!(with(json!(null), json!(true)), None);
    }

    #[test]
    fn an_envelope_that_is_not_a_success_is_refused() {
        let m = map("/response/id", &[], Some(("/resultcode", "00")));
        let ok = json!({"resultcode": "00", "message": "success", "response": {"id": "abc"}});
        assert_eq!(read_identity(&ok, &m).unwrap().subject, "abc");
        let failed = json!({"resultcode": "024", "message": "Authentication failed", "response": {"id": "abc"}});
        assert!(read_identity(&failed, &m).is_err());
    }

    #[test]
    fn the_appsecret_proof_is_hex_hmac_sha256_of_the_token() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            appsecret_proof("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_error_answered_with_200_is_not_a_profile() {
        let fetched = Fetched {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: br#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}"#.to_vec(),
        };
        assert!(read_json(&fetched).is_err());
    }
}
