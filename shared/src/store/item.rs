//! The stored form of every record: a flat item of string and number attributes, the same for
//! every backend. Secrets and identities (provider, subject, profile) are sealed with the
//! keyring; the associated data of each ciphertext names its table key, item type and attribute
//! (and, for tokens, the row's version), so a ciphertext copied to another row or attribute does
//! not open. The few attributes left in plain text for the backend's sake (`expires_at` for TTL,
//! `version` and the lease for conditional writes) are repeated inside the ciphertext or bound
//! by its associated data and checked on every read: an edited row reads as absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AppLogin, Handoff, Profile, Session, SessionsOf, StoreError, TokenSet, Transaction, UserRecord,
};
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
    /// Item type: `tx`, `session`, `handoff`, `user` or `doc`.
    pub const TYPE: &str = "type";
    /// TTL, unix seconds.
    pub const EXPIRES_AT: &str = "expires_at";
    /// Sealed secrets of a transaction or a hand-off.
    pub const SEALED: &str = "sealed";
    /// Sealed identity of a session: provider, subject, profile, creation and expiry.
    pub const IDENTITY: &str = "identity";
    /// Sealed tokens of a session, bound to its version.
    pub const TOKENS: &str = "tokens";
    /// Optimistic-concurrency version of a session's tokens.
    pub const VERSION: &str = "version";
    /// Who holds the session's refresh lease (a random id per refresh attempt).
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Until when the refresh lease is held, unix seconds.
    pub const LEASE_UNTIL: &str = "lease_until";
    /// Owner index: a keyed hash of the session's (provider, subject) on a session, of
    /// (provider, sid) on its `sid` pointer. DynamoDB indexes it (a sparse, keys-only GSI).
    pub const IX: &str = "ix";
}

/// Item types.
pub mod kind {
    /// A login transaction.
    pub const TX: &str = "tx";
    /// A session.
    pub const SESSION: &str = "session";
    /// A mobile hand-off.
    pub const HANDOFF: &str = "handoff";
    /// What is remembered about a user across logins.
    pub const USER: &str = "user";
    /// A provider's public document (its discovery document), shared between instances.
    pub const DOC: &str = "doc";
    /// A pointer from a provider session id (`sid`) to one of our sessions.
    pub const SID: &str = "sid";
    /// A one-time value that was used (a logout token's `jti`), kept until it expires.
    pub const USED: &str = "used";
}

/// The table key of a record of `kind` stored under the (already hashed) `key`.
pub fn pk(kind: &str, key: &str) -> String {
    format!("{kind}#{key}")
}

#[derive(Serialize, Deserialize)]
struct TxSecrets {
    provider: String,
    verifier: String,
    nonce: Option<String>,
    return_to: String,
    app_redirect: Option<String>,
    app_challenge: Option<String>,
    created_at: u64,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct TokenSecrets {
    access_token: String,
    refresh_token: Option<String>,
    scope: Option<String>,
    access_expires_at: u64,
    refreshed_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    provider: String,
    subject: String,
    profile: Profile,
    /// The provider's session id; absent in rows written before it was kept.
    #[serde(default)]
    sid: Option<String>,
    /// The client the tokens were issued to, when not the web client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    /// The row's plain-text owner index, repeated so an edited one is detected.
    #[serde(default)]
    ix: Option<String>,
    created_at: u64,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct SidPointer {
    ix: String,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct UserSecrets {
    provider: String,
    subject: String,
    profile: Profile,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct HandoffSecrets {
    challenge: String,
    identity: Identity,
    tokens: TokenSecrets,
    expires_at: u64,
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

    fn aad(pk: &str, kind: &str, attribute: &str, version: Option<u64>) -> Vec<u8> {
        match version {
            Some(v) => format!("v2\n{pk}\n{kind}\n{attribute}\n{v}").into_bytes(),
            None => format!("v2\n{pk}\n{kind}\n{attribute}").into_bytes(),
        }
    }

    fn seal<T: Serialize>(
        &self,
        aad: &[u8],
        attribute: &str,
        value: &T,
    ) -> Result<Attr, StoreError> {
        let json = serde_json::to_vec(value).map_err(|_| corrupt(attribute))?;
        let sealed = self.keyring.seal(&json, aad).map_err(|_| corrupt("seal"))?;
        Ok(Attr::S(sealed))
    }

    fn open<T: for<'de> Deserialize<'de>>(
        &self,
        item: &Item,
        kind: &str,
        attribute: &str,
        version: Option<u64>,
    ) -> Result<T, StoreError> {
        let pk = get_s(item, attr::PK)?;
        let sealed = get_s(item, attribute)?;
        let plain = self
            .keyring
            .open(sealed, &Self::aad(pk, kind, attribute, version))
            .map_err(|_| corrupt(attribute))?;
        serde_json::from_slice(&plain).map_err(|_| corrupt(attribute))
    }

    fn check_kind(item: &Item, kind: &str) -> Result<(), StoreError> {
        (get_s(item, attr::TYPE)? == kind)
            .then_some(())
            .ok_or_else(|| corrupt("type"))
    }

    /// The plain-text TTL must repeat the sealed expiry: a longer life cannot be written in.
    fn check_expiry(item: &Item, sealed_expires_at: u64) -> Result<u64, StoreError> {
        let plain = get_n(item, attr::EXPIRES_AT)?;
        (plain == sealed_expires_at)
            .then_some(plain)
            .ok_or_else(|| corrupt(attr::EXPIRES_AT))
    }

    fn provider(raw: &str) -> Result<ProviderId, StoreError> {
        ProviderId::parse(raw).ok_or_else(|| corrupt("provider"))
    }

    /// A transaction as an item.
    pub fn transaction_to_item(&self, tx: &Transaction) -> Result<Item, StoreError> {
        let pk = pk(kind::TX, &tx.key);
        let secrets = TxSecrets {
            provider: tx.provider.as_str().to_owned(),
            verifier: tx.verifier.expose().to_owned(),
            nonce: tx.nonce.as_ref().map(|n| n.expose().to_owned()),
            return_to: tx.return_to.location(),
            app_redirect: tx.app.as_ref().map(|a| a.redirect.as_str().to_owned()),
            app_challenge: tx.app.as_ref().map(|a| a.challenge.clone()),
            created_at: tx.created_at,
            expires_at: tx.expires_at,
        };
        let aad = Self::aad(&pk, kind::TX, attr::SEALED, None);
        let mut item = Item::new();
        item.insert(
            attr::SEALED.into(),
            self.seal(&aad, attr::SEALED, &secrets)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::TX.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(tx.expires_at));
        Ok(item)
    }

    /// An item as a transaction; `key` is the hashed key it was stored under.
    pub fn transaction_from_item(&self, key: &str, item: &Item) -> Result<Transaction, StoreError> {
        Self::check_kind(item, kind::TX)?;
        let s: TxSecrets = self.open(item, kind::TX, attr::SEALED, None)?;
        let expires_at = Self::check_expiry(item, s.expires_at)?;
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
            provider: Self::provider(&s.provider)?,
            verifier: CodeVerifier::new(s.verifier),
            nonce: s.nonce.map(Nonce::new),
            return_to,
            app,
            created_at: s.created_at,
            expires_at,
        })
    }

    fn token_secrets(tokens: &TokenSet) -> TokenSecrets {
        TokenSecrets {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            scope: tokens.scope.clone(),
            access_expires_at: tokens.access_expires_at,
            refreshed_at: tokens.refreshed_at,
        }
    }

    fn token_set(s: TokenSecrets) -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(s.access_token),
            access_expires_at: s.access_expires_at,
            refresh_token: s.refresh_token.map(RefreshToken::new),
            scope: s.scope,
            refreshed_at: s.refreshed_at,
        }
    }

    fn identity(s: &Session, ix: Option<String>) -> Identity {
        Identity {
            provider: s.provider.as_str().to_owned(),
            subject: s.subject.clone(),
            profile: s.profile.clone(),
            sid: s.sid.clone(),
            client: s.client.clone(),
            ix,
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }

    /// The owner-index values sessions `of` are found under: a keyed hash under each key of
    /// the keyring, the one rows are written under first. Subjects and sids hash in separate
    /// domains, so neither can stand for the other.
    pub fn index_hashes(&self, of: SessionsOf<'_>) -> Vec<String> {
        let input = match of {
            SessionsOf::Subject { provider, subject } => {
                format!("session-user\n{}\n{subject}", provider.as_str())
            }
            SessionsOf::Sid { provider, sid } => {
                format!("session-sid\n{}\n{sid}", provider.as_str())
            }
        };
        self.keyring.lookup_hashes(input.as_bytes())
    }

    fn first_index_hash(&self, of: SessionsOf<'_>) -> Result<String, StoreError> {
        self.index_hashes(of)
            .into_iter()
            .next()
            .ok_or_else(|| corrupt("keyring"))
    }

    /// The session key an owner-index entry points at: a session row's own key, or the one
    /// a `sid` pointer names.
    pub fn indexed_session_key(pk: &str) -> Option<&str> {
        pk.strip_prefix("session#")
            .or_else(|| pk.strip_prefix("sid#"))
            .filter(|key| !key.is_empty())
    }

    /// The `sid` pointer of a session that has a provider session id: written with the
    /// session, found through the owner index by the sid's keyed hash, gone with its TTL.
    pub fn sid_pointer_to_item(&self, s: &Session) -> Result<Option<Item>, StoreError> {
        let Some(sid) = s.sid.as_deref() else {
            return Ok(None);
        };
        let ix = self.first_index_hash(SessionsOf::Sid {
            provider: &s.provider,
            sid,
        })?;
        let pk = pk(kind::SID, &s.key);
        let aad = Self::aad(&pk, kind::SID, attr::SEALED, None);
        let mut item = Item::new();
        let seal = SidPointer {
            ix: ix.clone(),
            expires_at: s.expires_at,
        };
        item.insert(attr::SEALED.into(), self.seal(&aad, attr::SEALED, &seal)?);
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::SID.into()));
        item.insert(attr::IX.into(), Attr::S(ix));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(s.expires_at));
        Ok(Some(item))
    }

    /// The record that a one-time value was used, until `expires_at`. Holds nothing but its
    /// hashed key and expiry.
    pub fn used_to_item(key: &str, expires_at: u64) -> Item {
        let mut item = Item::new();
        item.insert(attr::PK.into(), Attr::S(pk(kind::USED, key)));
        item.insert(attr::TYPE.into(), Attr::S(kind::USED.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(expires_at));
        item
    }

    /// The sealed `tokens` attribute of the session stored under `key` at `version`: it opens
    /// only in that row at that version, so an edited `version` makes the row unreadable.
    pub fn sealed_tokens(
        &self,
        key: &str,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<Attr, StoreError> {
        let aad = Self::aad(
            &pk(kind::SESSION, key),
            kind::SESSION,
            attr::TOKENS,
            Some(version),
        );
        self.seal(&aad, attr::TOKENS, &Self::token_secrets(tokens))
    }

    /// A session as an item.
    pub fn session_to_item(&self, s: &Session) -> Result<Item, StoreError> {
        let pk = pk(kind::SESSION, &s.key);
        let identity_aad = Self::aad(&pk, kind::SESSION, attr::IDENTITY, None);
        let ix = self.first_index_hash(SessionsOf::Subject {
            provider: &s.provider,
            subject: &s.subject,
        })?;
        let identity = Self::identity(s, Some(ix.clone()));
        let mut item = Item::new();
        item.insert(
            attr::TOKENS.into(),
            self.sealed_tokens(&s.key, s.version, &s.tokens)?,
        );
        item.insert(
            attr::IDENTITY.into(),
            self.seal(&identity_aad, attr::IDENTITY, &identity)?,
        );
        item.insert(attr::IX.into(), Attr::S(ix));
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::SESSION.into()));
        item.insert(attr::VERSION.into(), Attr::N(s.version));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(s.expires_at));
        Ok(item)
    }

    /// An item as a session, when every integrity check passes.
    pub fn session_from_item(&self, key: &str, item: &Item) -> Result<Session, StoreError> {
        Self::check_kind(item, kind::SESSION)?;
        let version = get_n(item, attr::VERSION)?;
        let identity: Identity = self.open(item, kind::SESSION, attr::IDENTITY, None)?;
        let tokens: TokenSecrets = self.open(item, kind::SESSION, attr::TOKENS, Some(version))?;
        let expires_at = Self::check_expiry(item, identity.expires_at)?;
        let plain_ix = match item.get(attr::IX) {
            Some(Attr::S(ix)) => Some(ix.as_str()),
            None => None,
            Some(Attr::N(_)) => return Err(corrupt(attr::IX)),
        };
        if plain_ix != identity.ix.as_deref() {
            return Err(corrupt(attr::IX));
        }
        Ok(Session {
            key: key.to_owned(),
            provider: Self::provider(&identity.provider)?,
            subject: identity.subject,
            profile: identity.profile,
            sid: identity.sid,
            client: identity.client,
            tokens: Self::token_set(tokens),
            version,
            lease_until: get_n(item, attr::LEASE_UNTIL).unwrap_or(0),
            created_at: identity.created_at,
            expires_at,
        })
    }

    /// A hand-off as an item.
    pub fn handoff_to_item(&self, h: &Handoff) -> Result<Item, StoreError> {
        let pk = pk(kind::HANDOFF, &h.key);
        let secrets = HandoffSecrets {
            challenge: h.challenge.clone(),
            identity: Self::identity(&h.session, None),
            tokens: Self::token_secrets(&h.session.tokens),
            expires_at: h.expires_at,
        };
        let aad = Self::aad(&pk, kind::HANDOFF, attr::SEALED, None);
        let mut item = Item::new();
        item.insert(
            attr::SEALED.into(),
            self.seal(&aad, attr::SEALED, &secrets)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::HANDOFF.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(h.expires_at));
        Ok(item)
    }

    /// An item as a hand-off.
    pub fn handoff_from_item(&self, key: &str, item: &Item) -> Result<Handoff, StoreError> {
        Self::check_kind(item, kind::HANDOFF)?;
        let s: HandoffSecrets = self.open(item, kind::HANDOFF, attr::SEALED, None)?;
        let expires_at = Self::check_expiry(item, s.expires_at)?;
        Ok(Handoff {
            key: key.to_owned(),
            challenge: s.challenge,
            session: Session {
                key: String::new(),
                provider: Self::provider(&s.identity.provider)?,
                subject: s.identity.subject,
                profile: s.identity.profile,
                sid: s.identity.sid,
                client: s.identity.client,
                tokens: Self::token_set(s.tokens),
                version: 0,
                lease_until: 0,
                created_at: s.identity.created_at,
                expires_at: s.identity.expires_at,
            },
            expires_at,
        })
    }

    /// The table keys a user's record may be under: a keyed hash of (provider, subject) under
    /// each key of the keyring, the one it is written under first.
    pub fn user_pks(&self, provider: &ProviderId, subject: &str) -> Vec<String> {
        let input = format!("user\n{}\n{subject}", provider.as_str());
        self.keyring
            .lookup_hashes(input.as_bytes())
            .iter()
            .map(|hash| pk(kind::USER, hash))
            .collect()
    }

    /// A user record as an item, under the first of its [`Codec::user_pks`].
    pub fn user_to_item(&self, u: &UserRecord) -> Result<Item, StoreError> {
        let pk = self
            .user_pks(&u.provider, &u.subject)
            .into_iter()
            .next()
            .ok_or_else(|| corrupt("keyring"))?;
        let secrets = UserSecrets {
            provider: u.provider.as_str().to_owned(),
            subject: u.subject.clone(),
            profile: u.profile.clone(),
            expires_at: u.expires_at,
        };
        let aad = Self::aad(&pk, kind::USER, attr::SEALED, None);
        let mut item = Item::new();
        item.insert(
            attr::SEALED.into(),
            self.seal(&aad, attr::SEALED, &secrets)?,
        );
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::USER.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(u.expires_at));
        Ok(item)
    }

    /// An item as the record of `subject` at `provider`: it must say so inside its seal.
    pub fn user_from_item(
        &self,
        provider: &ProviderId,
        subject: &str,
        item: &Item,
    ) -> Result<UserRecord, StoreError> {
        Self::check_kind(item, kind::USER)?;
        let s: UserSecrets = self.open(item, kind::USER, attr::SEALED, None)?;
        let expires_at = Self::check_expiry(item, s.expires_at)?;
        if s.provider != provider.as_str() || s.subject != subject {
            return Err(corrupt("user"));
        }
        Ok(UserRecord {
            provider: provider.clone(),
            subject: s.subject,
            profile: s.profile,
            expires_at,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct DocumentSeal {
    name: String,
    body: String,
    expires_at: u64,
}

impl Codec {
    /// The table key of the document called `name` (a SHA-256 of the name: names are public).
    pub fn document_pk(name: &str) -> String {
        pk(kind::DOC, &crate::crypto::sha256_b64url(name.as_bytes()))
    }

    /// A document as an item. Sealed although public, so an edited row reads as absent.
    pub fn document_to_item(
        &self,
        name: &str,
        body: &str,
        expires_at: u64,
    ) -> Result<Item, StoreError> {
        let pk = Self::document_pk(name);
        let seal = DocumentSeal {
            name: name.to_owned(),
            body: body.to_owned(),
            expires_at,
        };
        let aad = Self::aad(&pk, kind::DOC, attr::SEALED, None);
        let mut item = Item::new();
        item.insert(attr::SEALED.into(), self.seal(&aad, attr::SEALED, &seal)?);
        item.insert(attr::PK.into(), Attr::S(pk));
        item.insert(attr::TYPE.into(), Attr::S(kind::DOC.into()));
        item.insert(attr::EXPIRES_AT.into(), Attr::N(expires_at));
        Ok(item)
    }

    /// An item as the body of the document `name`: it must say so inside its seal.
    pub fn document_from_item(&self, name: &str, item: &Item) -> Result<String, StoreError> {
        Self::check_kind(item, kind::DOC)?;
        let s: DocumentSeal = self.open(item, kind::DOC, attr::SEALED, None)?;
        Self::check_expiry(item, s.expires_at)?;
        if s.name != name {
            return Err(corrupt("doc"));
        }
        Ok(s.body)
    }
}

/// A stored record that fails its integrity checks (edited, moved, or sealed by a key this
/// deployment does not hold) reads as absent, never as a longer or another record. The error is
/// logged, without the item.
pub fn or_absent<T>(decoded: Result<T, StoreError>, kind: &str) -> Option<T> {
    match decoded {
        Ok(record) => Some(record),
        Err(e) => {
            tracing::error!(kind, error = %e, "stored item failed its integrity check; treated as absent");
            None
        }
    }
}

/// Reads `expires_at` of any item (0 when absent, so it counts as expired).
pub fn expires_at(item: &Item) -> u64 {
    get_n(item, attr::EXPIRES_AT).unwrap_or(0)
}
