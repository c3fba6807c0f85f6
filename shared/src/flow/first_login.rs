//! What a provider tells only on a user's first login, and keeping it for their later ones.
//! Apple posts the user's name once, in the `user` form field of their first authorization of
//! the app, and never again (not in the id_token, not on refresh). The name fills the
//! session's profile and is kept in a sealed per-user record (found by a keyed hash of
//! provider and subject) so that their next logins show it too. It is a display name only:
//! never used to identify or link anyone.

use crate::deps::Deps;
use crate::provider::Provider;
use crate::store::{Session, UserRecord};
use crate::telemetry::Chain;

/// Longest `user` JSON read from a first login.
const MAX_USER_JSON: usize = 2048;
/// Longest name kept from it.
const MAX_NAME: usize = 200;

/// How long a remembered name outlives the user's last login.
pub const REMEMBERED_FOR: u64 = 365 * 24 * 3600;
/// A login renews the record once it is this old, so a regular user's name is never forgotten
/// while an active user costs at most one extra write a month.
const RENEW_AFTER: u64 = 30 * 24 * 3600;

/// `"First Last"` from Apple's first-login `{"name": {"firstName", "lastName"}, "email"}`;
/// bounded, and only ever a display name.
pub(super) fn first_login_name(raw: &str) -> Option<String> {
    if raw.len() > MAX_USER_JSON {
        return None;
    }
    let user: serde_json::Value = serde_json::from_str(raw).ok()?;
    let part = |key: &str| {
        user.pointer(&format!("/name/{key}"))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let name = [part("firstName"), part("lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty() && name.chars().count() <= MAX_NAME).then_some(name)
}

/// Gives `session` the name its provider said on the user's first login: `first_login` when
/// this is that login (and remembers it), else the remembered one. Only for providers that say
/// it once ([`Quirks::name_on_first_login_only`](crate::provider::quirks::Quirks)), and only
/// when the verified claims carry no name. A store failure here costs the name, not the login.
#[tracing::instrument(level = "debug", skip_all)]
pub(super) async fn fill_name(
    deps: Deps<'_>,
    provider: &Provider,
    session: &mut Session,
    first_login: Option<String>,
) {
    if !provider.config.quirks.name_on_first_login_only || session.profile.name.is_some() {
        return;
    }
    let now = deps.now();
    let record = match first_login {
        Some(name) => {
            session.profile.name = Some(name);
            None
        }
        None => match deps
            .store
            .get_user(&session.provider, &session.subject, now)
            .await
        {
            Ok(Some(record)) => {
                session.profile.name = record.profile.name.clone();
                Some(record)
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "remembered profile unavailable");
                return;
            }
        },
    };
    let fresh = record.is_some_and(|r| r.expires_at >= now + REMEMBERED_FOR - RENEW_AFTER);
    if fresh || session.profile.name.is_none() {
        return;
    }
    let record = UserRecord {
        provider: session.provider.clone(),
        subject: session.subject.clone(),
        profile: crate::store::Profile {
            name: session.profile.name.clone(),
            ..Default::default()
        },
        expires_at: now + REMEMBERED_FOR,
    };
    if let Err(e) = deps.store.put_user(&record).await {
        tracing::warn!(error = %Chain(&e), "could not remember the first login's name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_login_user_json_gives_a_bounded_display_name_only() {
        let name = |raw: &str| first_login_name(raw);
        assert_eq!(
            name(r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"a@example.com"}"#)
                .as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name(r#"{"name":{"firstName":" Ada "}}"#).as_deref(),
            Some("Ada")
        );
        assert_eq!(name(r#"{"email":"a@example.com"}"#), None);
        assert_eq!(name("not json"), None);
        assert_eq!(name(r#"{"name":{"firstName":7}}"#), None);
        let long = format!(r#"{{"name":{{"firstName":"{}"}}}}"#, "x".repeat(4096));
        assert_eq!(name(&long), None, "an oversize user JSON is ignored");
    }
}
