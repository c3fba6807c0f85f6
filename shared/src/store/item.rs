//! The stored form of every record: a flat item of string and number attributes, the same for
//! every backend. Secrets are sealed with the keyring; the associated data of each ciphertext
//! names its table key, item type and attribute, so a ciphertext copied to another row or
//! attribute does not open.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AppLogin, Handoff, Profile, Session, StoreError, TokenSet, Transaction};
use crate::crypto::Keyring;
use crate::secret::{AccessToken, CodeVerifier, Nonce, RefreshToken};
use crate::types::{AppRedirect, ProviderId, ReturnTo};

/// One attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    /// A string.
    S(String),
    /// A non-negative number.
    N(u64),
}

/// A stored item: attribute name → value. `pk` is the table key; `expires_at` the TTL.
pub type Item = BTreeMap<String, Attr>;

/// Attribute names.
pub mod attr {
    /// Partition key.
    pub const PK: &str = "pk";
    /// Item type: `tx`, `session` or `handoff`.
    pub const TYPE: &str = "type";
    /// TTL, unix seconds.
    pub const EXPIRES_AT: &str = "expires_at";
    /// Creation time, unix seconds.
    pub const CREATED_AT: &str = "created_at";
    /// Provider name.
    pub const PROVIDER: &str = "provider";
    /// Subject at the provider.
    pub const SUBJECT: &str = "subject";
    /// Sealed secrets of a transaction or a hand-off.
    pub const SEALED: &str = "sealed";
    /// Sealed profile of a session.
    pub const PROFILE: &str = "profile";
    /// Sealed tokens of a session.
    pub const TOKENS: &str = "tokens";
    /// When the session's access token expires.
    pub const ACCESS_EXPIRES_AT: &str = "access_expires_at";
    /// Optimistic-concurrency version of a session's tokens.
    pub const VERSION: &str = "version";
    /// Who holds the session's refresh lease (a random id per refresh attempt).
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Until when the refresh lease is held, unix seconds.
    pub const LEASE_UNTIL: &str = "lease_until";
}

/// Item types.
pub mod kind {
    /// A login transaction.
    pub const TX: &str = "tx";
    /// A session.
    pub const SESSION: &str = "session";
    /// A mobile hand-off.
    pub const HANDOFF: &str = "handoff";
}

/// The table key of a record of `kind` stored under the (already hashed) `key`.
pub fn pk(kind: &str, key: &str) -> String {
    format!("{kind}#{key}")
}

#[derive(Serialize, Deserialize)]
struct TxSecrets {
    verifier: String,
    nonce: Option<String>,
    return_to: String,
    app_redirect: Option<String>,
    app_challenge: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenSecrets {
    access_token: String,
    refresh_token: Option<String>,
    scope: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct HandoffSecrets {
    challenge: String,
    provider: String,
    subject: String,
    profile: Profile,
    tokens: TokenSecrets,
    access_expires_at: u64,
    created_at: u64,
    session_expires_at: u64,
}

/// Turns records into items and back, sealing and opening their secrets.
pub struct Codec {
    keyring: Keyring,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codec([redacted])")
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(Attr::S(s)) => Ok(s),
        _ => Err(corrupt(name)),
    }
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(Attr::N(n)) => Ok(*n),
        _ => Err(corrupt(name)),
    }
}

impl Codec {
    /// A codec sealing with `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    fn aad(pk: &str, kind: &str, attribute: &str) -> Vec<u8> {
        format!("v1\n{pk}\n{kind}\n{attribute}").into_bytes()
    }

    fn seal<T: Serialize>(
        &self,
        pk: &str,
        kind: &str,
        attribute: &str,
        value: &T,
    ) -> Result<Attr, StoreError> {
        let json = serde_json::to_vec(value).map_err(|_| corrupt("serialize"))?;
        let sealed = self
            .keyring
            .seal(&json, &Self::aad(pk, kind, attribute))
            .map_err(|_| corrupt("seal"))?;
        Ok(Attr::S(sealed))
    }

    fn open<T: for<'de> Deserialize<'de>>(
        &self,
        item: &Item,
        kind: &str,
        attribute: &str,
    ) -> Result<T, StoreError> {
        let pk = get_s(item, attr::PK)?;
        let sealed = get_s(item, attribute)?;
        let plain = self
            .keyring
            .open(sealed, &Self::aad(pk, kind, attribute))
            .map_err(|_| corrupt(attribute))?;
        serde_json::from_slice(&plain).map_err(|_| corrupt(attribute))
    }

    fn check_kind(item: &Item, kind: &str) -> Result<(), StoreError> {
        (get_s(item, attr::TYPE)? == kind)
            .then_some(())
            .ok_or_else(|| corrupt("type"))
    }

    fn provider(item: &Item) -> Result<ProviderId, StoreError> {
        ProviderId::parse(get_s(item, attr::PROVIDER)?).ok_or_else(|| corrupt("provider"))
    }

    /// A transaction as an item.
    pub fn transaction_to_item(&self, tx: &Transaction) -> Result<Item, StoreError> {
        let pk = pk(kind::TX, &tx.key);
        let secrets = TxSecrets {
            verifier: tx.verifier.expose().to_owned(),
            nonce: tx.nonce.as_ref().map(|n| n.expose().to_owned()),
            return_to: tx.return_to.location(),
            app_redirect: tx.app.as_ref().map(|a| a.redirect.as_str().to_owned()),
            app_challenge: tx.app.as_ref().map(|a| a.challenge.clone()),
        };
        let mut item = Item::new();
        item.insert(
            attr::SEALED.into(),
            self.seal(&pk, kind::TX, attr::SEALED, &secrets)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::TX.into()));
        item.insert(attr::PROVIDER.into(), Attr::S(tx.provider.as_str().into()));
        item.insert(attr::CREATED_AT.into(), Attr::N(tx.created_at));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(tx.expires_at));
        Ok(item)
    }

    /// An item as a transaction; `key` is the hashed key it was stored under.
    pub fn transaction_from_item(&self, key: &str, item: &Item) -> Result<Transaction, StoreError> {
        Self::check_kind(item, kind::TX)?;
        let s: TxSecrets = self.open(item, kind::TX, attr::SEALED)?;
        // Stored values were validated when the login started; re-parse them without a policy.
        let return_to = if s.return_to.starts_with('/') {
            ReturnTo::Path(s.return_to)
        } else {
            ReturnTo::Absolute(url::Url::parse(&s.return_to).map_err(|_| corrupt("return_to"))?)
        };
        let app = match (s.app_redirect, s.app_challenge) {
            (Some(r), Some(challenge)) => Some(AppLogin {
                redirect: AppRedirect::stored(&r).ok_or_else(|| corrupt("app_redirect"))?,
                challenge,
            }),
            _ => None,
        };
        Ok(Transaction {
            key: key.to_owned(),
            provider: Self::provider(item)?,
            verifier: CodeVerifier::new(s.verifier),
            nonce: s.nonce.map(Nonce::new),
            return_to,
            app,
            created_at: get_n(item, attr::CREATED_AT)?,
            expires_at: get_n(item, attr::EXPIRES_AT)?,
        })
    }

    fn token_secrets(tokens: &TokenSet) -> TokenSecrets {
        TokenSecrets {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            scope: tokens.scope.clone(),
        }
    }

    fn token_set(s: TokenSecrets, access_expires_at: u64) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(s.access_token),
            access_expires_at,
            refresh_token: s.refresh_token.map(RefreshToken::new),
            scope: s.scope,
        }
    }

    /// The sealed `tokens` attribute of the session stored under `key`.
    pub fn sealed_tokens(&self, key: &str, tokens: &TokenSet) -> Result<Attr, StoreError> {
        let pk = pk(kind::SESSION, key);
        self.seal(
            &pk,
            kind::SESSION,
            attr::TOKENS,
            &Self::token_secrets(tokens),
        )
    }

    /// A session as an item.
    pub fn session_to_item(&self, s: &Session) -> Result<Item, StoreError> {
        let pk = pk(kind::SESSION, &s.key);
        let mut item = Item::new();
        item.insert(attr::TOKENS.into(), self.sealed_tokens(&s.key, &s.tokens)?);
        item.insert(
            attr::PROFILE.into(),
            self.seal(&pk, kind::SESSION, attr::PROFILE, &s.profile)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::SESSION.into()));
        item.insert(attr::PROVIDER.into(), Attr::S(s.provider.as_str().into()));
        item.insert(attr::SUBJECT.into(), Attr::S(s.subject.clone()));
        item.insert(
            attr::ACCESS_EXPIRES_AT.into(),
            Attr::N(s.tokens.access_expires_at),
        );
        item.insert(attr::VERSION.into(), Attr::N(s.version));
        item.insert(attr::CREATED_AT.into(), Attr::N(s.created_at));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(s.expires_at));
        Ok(item)
    }

    /// An item as a session.
    pub fn session_from_item(&self, key: &str, item: &Item) -> Result<Session, StoreError> {
        Self::check_kind(item, kind::SESSION)?;
        let tokens: TokenSecrets = self.open(item, kind::SESSION, attr::TOKENS)?;
        let profile: Profile = self.open(item, kind::SESSION, attr::PROFILE)?;
        Ok(Session {
            key: key.to_owned(),
            provider: Self::provider(item)?,
            subject: get_s(item, attr::SUBJECT)?.to_owned(),
            profile,
            tokens: Self::token_set(tokens, get_n(item, attr::ACCESS_EXPIRES_AT)?),
            version: get_n(item, attr::VERSION)?,
            lease_until: get_n(item, attr::LEASE_UNTIL).unwrap_or(0),
            created_at: get_n(item, attr::CREATED_AT)?,
            expires_at: get_n(item, attr::EXPIRES_AT)?,
        })
    }

    /// A hand-off as an item.
    pub fn handoff_to_item(&self, h: &Handoff) -> Result<Item, StoreError> {
        let pk = pk(kind::HANDOFF, &h.key);
        let secrets = HandoffSecrets {
            challenge: h.challenge.clone(),
            provider: h.session.provider.as_str().to_owned(),
            subject: h.session.subject.clone(),
            profile: h.session.profile.clone(),
            tokens: Self::token_secrets(&h.session.tokens),
            access_expires_at: h.session.tokens.access_expires_at,
            created_at: h.session.created_at,
            session_expires_at: h.session.expires_at,
        };
        let mut item = Item::new();
        item.insert(
            attr::SEALED.into(),
            self.seal(&pk, kind::HANDOFF, attr::SEALED, &secrets)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::HANDOFF.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(h.expires_at));
        Ok(item)
    }

    /// An item as a hand-off.
    pub fn handoff_from_item(&self, key: &str, item: &Item) -> Result<Handoff, StoreError> {
        Self::check_kind(item, kind::HANDOFF)?;
        let s: HandoffSecrets = self.open(item, kind::HANDOFF, attr::SEALED)?;
        Ok(Handoff {
            key: key.to_owned(),
            challenge: s.challenge,
            session: Session {
                key: String::new(),
                provider: ProviderId::parse(&s.provider).ok_or_else(|| corrupt("provider"))?,
                subject: s.subject,
                profile: s.profile,
                tokens: Self::token_set(s.tokens, s.access_expires_at),
                version: 0,
                lease_until: 0,
                created_at: s.created_at,
                expires_at: s.session_expires_at,
            },
            expires_at: get_n(item, attr::EXPIRES_AT)?,
        })
    }
}

/// Reads `expires_at` of any item (0 when absent, so it counts as expired).
pub fn expires_at(item: &Item) -> u64 {
    get_n(item, attr::EXPIRES_AT).unwrap_or(0)
}
