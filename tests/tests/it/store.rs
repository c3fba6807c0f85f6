//! One storage suite, run against both backends: the embedded store and DynamoDB (moto in
//! server mode, whose endpoint `scripts/test` exports as `DYNAMODB_ENDPOINT`).

use std::sync::Arc;

use integration_tests::{Backend, assert_scan_has_no, dynamo_store, unique_table};
use shared::crypto::Keyring;
use shared::secret::{AccessToken, CodeVerifier, Nonce, RefreshToken};
use shared::store::dynamodb::DynamoStore;
use shared::store::item::{Attr, attr};
use shared::store::memory::MemoryStore;
use shared::store::{
    Handoff, Profile, RawItems, Session, SessionsOf, Store, StoreError, TokenSet, Transaction,
    UserRecord,
};
use shared::types::{ProviderId, ReturnTo};

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
const NOW: u64 = 1_800_000_000;

async fn dynamo(table: &str, keys: &[&str]) -> DynamoStore {
    dynamo_store(table, keys).await
}

/// Opens a second handle on the same data with other keys (a new Lambda instance, or a
/// rotated keyring), by copying raw items for the embedded store.
async fn reopen(kind: &str, table: &str, from: &dyn Backend, keys: &[&str]) -> Arc<dyn Backend> {
    match kind {
        "memory" => {
            let store = MemoryStore::with_keyring(Keyring::from_base64(keys).unwrap());
            for item in from.scan().await.unwrap() {
                store.put_raw(item).await.unwrap();
            }
            Arc::new(store)
        }
        _ => Arc::new(dynamo(table, keys).await),
    }
}

async fn backend(kind: &str) -> (Arc<dyn Backend>, String) {
    let table = unique_table();
    let store: Arc<dyn Backend> = match kind {
        "memory" => Arc::new(MemoryStore::with_keyring(
            Keyring::from_base64(&[KEY_A]).unwrap(),
        )),
        _ => Arc::new(dynamo(&table, &[KEY_A]).await),
    };
    (store, table)
}

fn transaction(key: &str) -> Transaction {
    Transaction {
        key: key.to_owned(),
        provider: ProviderId::parse("dev").unwrap(),
        verifier: CodeVerifier::new("verifier-SECRET-0123456789abcdefghijklmnopq"),
        nonce: Some(Nonce::new("nonce-SECRET-0123456789abcdefghijklmnopqrst")),
        return_to: ReturnTo::Path("/app/home".into()),
        app: None,
        created_at: NOW,
        expires_at: NOW + 600,
    }
}

fn session(key: &str, tag: &str) -> Session {
    Session {
        key: key.to_owned(),
        provider: ProviderId::parse("dev").unwrap(),
        subject: format!("subject-{tag}"),
        profile: Profile {
            name: Some(format!("Name {tag}")),
            email: Some(format!("person-{tag}@mail.example")),
            picture: None,
        },
        sid: Some(format!("sid-{tag}")),
        client: None,
        tokens: tokens(tag),
        version: 0,
        lease_until: 0,
        created_at: NOW,
        expires_at: NOW + 3600,
    }
}

fn tokens(tag: &str) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(format!("access-SECRET-{tag}")),
        access_expires_at: NOW + 3600,
        refresh_token: Some(RefreshToken::new(format!("refresh-SECRET-{tag}"))),
        scope: Some("openid email".into()),
        refreshed_at: 0,
    }
}

/// Generates one `#[tokio::test]` per backend for a suite function `async fn(&str)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name("memory").await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                if integration_tests::dynamodb_or_skip(stringify!($name)) {
                    super::$name("dynamodb").await
                }
            })*
        }
    };
}

on_both_backends!(
    transaction_is_taken_exactly_once,
    transaction_key_collision_is_refused,
    expired_transaction_reads_as_absent_and_is_removed,
    concurrent_takers_of_one_transaction_have_exactly_one_winner,
    session_key_collision_is_refused,
    token_replacement_with_a_stale_version_conflicts,
    token_replacement_of_a_missing_session_conflicts,
    expired_session_reads_as_absent,
    deleting_a_session_reports_whether_it_existed,
    handoff_is_taken_exactly_once_and_expires,
    a_scan_shows_no_secret_material,
    a_ciphertext_moved_to_another_row_does_not_open,
    a_rotated_keyring_still_opens_old_rows,
    a_refresh_lease_is_exclusive_until_it_runs_out,
    only_the_lease_holder_can_store_refreshed_tokens,
    a_released_lease_can_be_taken_by_another_caller,
    a_lease_on_a_stale_version_or_expired_session_is_refused,
    concurrent_lease_takers_have_exactly_one_winner,
    a_scan_shows_no_provider_or_subject_in_plain_text,
    a_session_whose_expiry_was_extended_reads_as_absent,
    a_session_whose_version_was_edited_reads_as_absent,
    a_session_given_another_rows_identity_reads_as_absent,
    a_transaction_or_handoff_with_an_edited_expiry_reads_as_absent,
    a_session_can_be_ended_only_by_its_lease_holder,
    a_remembered_user_is_found_by_provider_and_subject_only,
    a_remembered_user_is_replaced_and_forgotten_when_it_expires,
    a_remembered_user_shows_no_subject_or_name_and_is_not_found_by_a_plain_hash,
    an_edited_or_moved_user_record_reads_as_absent,
    a_remembered_user_is_found_after_a_key_rotation,
    sessions_are_found_by_their_user_and_by_their_provider_session,
    sessions_sealed_before_a_key_rotation_are_still_found,
    a_session_whose_owner_index_was_edited_reads_as_absent,
    a_used_value_is_refused_while_its_record_lives_and_allowed_once_withdrawn,
    ending_a_session_removes_its_sid_pointer_too,
    live_sessions_are_counted_without_opening_them,
);

fn dev() -> ProviderId {
    ProviderId::parse("dev").unwrap()
}

fn session_of(key: &str, subject: &str, sid: Option<&str>) -> Session {
    Session {
        subject: subject.to_owned(),
        sid: sid.map(str::to_owned),
        client: None,
        ..session(key, key)
    }
}

async fn sessions_are_found_by_their_user_and_by_their_provider_session(kind: &str) {
    let (store, _) = backend(kind).await;
    store
        .create_session(&session_of("s-1", "alice", Some("sid-1")))
        .await
        .unwrap();
    store
        .create_session(&session_of("s-2", "alice", Some("sid-2")))
        .await
        .unwrap();
    store
        .create_session(&session_of("s-3", "alice", Some("sid-1")))
        .await
        .unwrap();
    store
        .create_session(&session_of("s-4", "bob", Some("sid-1-bob")))
        .await
        .unwrap();
    store
        .create_session(&session_of("s-5", "alice", None))
        .await
        .unwrap();
    // The same subject at another provider is another user.
    let other = Session {
        provider: ProviderId::parse("corp").unwrap(),
        ..session_of("s-6", "alice", Some("sid-1"))
    };
    store.create_session(&other).await.unwrap();
    let provider = dev();
    let by_user = store
        .find_sessions(SessionsOf::Subject {
            provider: &provider,
            subject: "alice",
        })
        .await
        .unwrap();
    assert_eq!(by_user, ["s-1", "s-2", "s-3", "s-5"]);
    let by_sid = store
        .find_sessions(SessionsOf::Sid {
            provider: &provider,
            sid: "sid-1",
        })
        .await
        .unwrap();
    assert_eq!(by_sid, ["s-1", "s-3"]);
    // A subject never matches as a sid, nor a sid as a subject.
    let crossed = store
        .find_sessions(SessionsOf::Sid {
            provider: &provider,
            sid: "alice",
        })
        .await
        .unwrap();
    assert!(crossed.is_empty(), "{crossed:?}");
    let nobody = store
        .find_sessions(SessionsOf::Subject {
            provider: &provider,
            subject: "sid-1",
        })
        .await
        .unwrap();
    assert!(nobody.is_empty(), "{nobody:?}");
}

async fn sessions_sealed_before_a_key_rotation_are_still_found(kind: &str) {
    let (store, table) = backend(kind).await;
    store
        .create_session(&session_of("s-old", "alice", Some("sid-1")))
        .await
        .unwrap();
    let rotated = reopen(kind, &table, store.as_ref(), &[KEY_B, KEY_A]).await;
    rotated
        .create_session(&session_of("s-new", "alice", Some("sid-1")))
        .await
        .unwrap();
    let provider = dev();
    let found = rotated
        .find_sessions(SessionsOf::Sid {
            provider: &provider,
            sid: "sid-1",
        })
        .await
        .unwrap();
    assert_eq!(found, ["s-new", "s-old"]);
    let found = rotated
        .find_sessions(SessionsOf::Subject {
            provider: &provider,
            subject: "alice",
        })
        .await
        .unwrap();
    assert_eq!(found, ["s-new", "s-old"]);
}

async fn a_session_whose_owner_index_was_edited_reads_as_absent(kind: &str) {
    // Someone with write access to the table moves a session out of its user's index entry
    // (to hide it from a logout): the row no longer opens.
    let store = edited_session(kind, |item, other| {
        let ix = other.get(attr::IX).cloned().unwrap();
        item.insert(attr::IX.into(), ix);
    })
    .await;
    assert!(matches!(store.get_session("s-1", NOW).await, Ok(None)));
    let removed = edited_session(kind, |item, _| {
        item.remove(attr::IX);
    })
    .await;
    assert!(matches!(removed.get_session("s-1", NOW).await, Ok(None)));
    assert!(removed.get_session("s-2", NOW).await.unwrap().is_some());
}

async fn a_used_value_is_refused_while_its_record_lives_and_allowed_once_withdrawn(kind: &str) {
    let (store, _) = backend(kind).await;
    store.mark_used("jti-1", NOW + 60, NOW).await.unwrap();
    assert!(matches!(
        store.mark_used("jti-1", NOW + 60, NOW + 1).await,
        Err(StoreError::AlreadyExists)
    ));
    store.mark_used("jti-2", NOW + 60, NOW).await.unwrap();
    // A record whose time is up no longer counts, even before TTL removes it.
    store.mark_used("jti-1", NOW + 200, NOW + 61).await.unwrap();
    store.unmark_used("jti-2").await.unwrap();
    store.mark_used("jti-2", NOW + 60, NOW).await.unwrap();
    // Of concurrent users of one value, exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.mark_used("jti-3", NOW + 60, NOW).await.is_ok()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn ending_a_session_removes_its_sid_pointer_too(kind: &str) {
    let (store, _) = backend(kind).await;
    store
        .create_session(&session_of("s-1", "alice", Some("sid-1")))
        .await
        .unwrap();
    store
        .create_session(&session_of("s-2", "alice", Some("sid-2")))
        .await
        .unwrap();
    assert_eq!(store.scan().await.unwrap().len(), 4);
    assert!(store.delete_session("s-1").await.unwrap());
    store
        .acquire_refresh_lease("s-2", 0, "me", NOW, NOW + 15)
        .await
        .unwrap();
    store.delete_session_as_holder("s-2", "me").await.unwrap();
    let left = store.scan().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

async fn live_sessions_are_counted_without_opening_them(kind: &str) {
    let (store, _) = backend(kind).await;
    for i in 0..3 {
        store
            .create_session(&session_of(&format!("s-{i}"), "alice", Some("sid")))
            .await
            .unwrap();
    }
    let expired = Session {
        expires_at: NOW - 1,
        ..session_of("s-old", "bob", None)
    };
    store.create_session(&expired).await.unwrap();
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    assert_eq!(store.count_sessions(NOW).await.unwrap(), 3);
    // Once they have all expired, none.
    assert_eq!(store.count_sessions(NOW + 10 * 86_400).await.unwrap(), 0);
}

async fn transaction_is_taken_exactly_once(kind: &str) {
    let (store, _) = backend(kind).await;
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    let taken = store
        .take_transaction("tx-1", NOW)
        .await
        .unwrap()
        .expect("first take wins");
    assert_eq!(
        taken.verifier.expose(),
        "verifier-SECRET-0123456789abcdefghijklmnopq"
    );
    assert_eq!(taken.return_to, ReturnTo::Path("/app/home".into()));
    assert!(store.take_transaction("tx-1", NOW).await.unwrap().is_none());
}

async fn transaction_key_collision_is_refused(kind: &str) {
    let (store, _) = backend(kind).await;
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    let second = store.put_transaction(&transaction("tx-1")).await;
    assert!(
        matches!(second, Err(StoreError::AlreadyExists)),
        "{second:?}"
    );
}

async fn expired_transaction_reads_as_absent_and_is_removed(kind: &str) {
    let (store, _) = backend(kind).await;
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    assert!(
        store
            .take_transaction("tx-1", NOW + 600)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.take_transaction("tx-1", NOW).await.unwrap().is_none(),
        "expired take removed it"
    );
}

async fn concurrent_takers_of_one_transaction_have_exactly_one_winner(kind: &str) {
    let (store, table) = backend(kind).await;
    store
        .put_transaction(&transaction("tx-race"))
        .await
        .unwrap();
    // Separate clients for DynamoDB, as separate Lambda instances would have.
    let mut handles: Vec<Arc<dyn Backend>> = Vec::new();
    for _ in 0..20 {
        handles.push(match kind {
            "memory" => Arc::clone(&store),
            _ => Arc::new(dynamo(&table, &[KEY_A]).await),
        });
    }
    let tasks: Vec<_> = handles
        .into_iter()
        .map(|s| tokio::spawn(async move { s.take_transaction("tx-race", NOW).await }))
        .collect();
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn session_key_collision_is_refused(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    let second = store.create_session(&session("s-1", "b")).await;
    assert!(
        matches!(second, Err(StoreError::AlreadyExists)),
        "{second:?}"
    );
    let kept = store.get_session("s-1", NOW).await.unwrap().unwrap();
    assert_eq!(kept.subject, "subject-a");
}

async fn token_replacement_with_a_stale_version_conflicts(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store
        .acquire_refresh_lease("s-1", 0, "me", NOW, NOW + 15)
        .await
        .unwrap();
    store
        .replace_tokens("s-1", 0, "me", &tokens("b"))
        .await
        .unwrap();
    store
        .acquire_refresh_lease("s-1", 1, "me", NOW, NOW + 15)
        .await
        .unwrap();
    let stale = store.replace_tokens("s-1", 0, "me", &tokens("c")).await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let current = store.get_session("s-1", NOW).await.unwrap().unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(current.tokens.access_token.expose(), "access-SECRET-b");
    assert_eq!(
        current
            .tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        Some("refresh-SECRET-b".into())
    );
    assert_eq!(
        current.profile.email.as_deref(),
        Some("person-a@mail.example")
    );
}

async fn token_replacement_of_a_missing_session_conflicts(kind: &str) {
    let (store, _) = backend(kind).await;
    let missing = store.replace_tokens("nope", 0, "me", &tokens("x")).await;
    assert!(matches!(missing, Err(StoreError::Conflict)), "{missing:?}");
    assert!(
        store.get_session("nope", NOW).await.unwrap().is_none(),
        "no item was created"
    );
}

async fn expired_session_reads_as_absent(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    assert!(
        store
            .get_session("s-1", NOW + 3599)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_session("s-1", NOW + 3600)
            .await
            .unwrap()
            .is_none()
    );
}

async fn deleting_a_session_reports_whether_it_existed(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    assert!(store.delete_session("s-1").await.unwrap());
    assert!(!store.delete_session("s-1").await.unwrap());
    assert!(store.get_session("s-1", NOW).await.unwrap().is_none());
}

async fn handoff_is_taken_exactly_once_and_expires(kind: &str) {
    let (store, _) = backend(kind).await;
    let handoff = |key: &str| Handoff {
        key: key.to_owned(),
        challenge: "challenge-value".into(),
        session: session("", "h"),
        expires_at: NOW + 60,
    };
    store.put_handoff(&handoff("h-1")).await.unwrap();
    let taken = store.take_handoff("h-1", NOW).await.unwrap().unwrap();
    assert_eq!(taken.session.subject, "subject-h");
    assert_eq!(
        taken.session.tokens.access_token.expose(),
        "access-SECRET-h"
    );
    assert!(store.take_handoff("h-1", NOW).await.unwrap().is_none());
    store.put_handoff(&handoff("h-2")).await.unwrap();
    assert!(store.take_handoff("h-2", NOW + 60).await.unwrap().is_none());
}

async fn a_scan_shows_no_secret_material(kind: &str) {
    let (store, _) = backend(kind).await;
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    store.create_session(&session("s-1", "a")).await.unwrap();
    store
        .put_handoff(&Handoff {
            key: "h-1".into(),
            challenge: "challenge-value".into(),
            session: session("", "h"),
            expires_at: NOW + 60,
        })
        .await
        .unwrap();
    assert_scan_has_no(
        store.as_ref(),
        &[
            "verifier-SECRET-0123456789abcdefghijklmnopq",
            "nonce-SECRET-0123456789abcdefghijklmnopqrst",
            "access-SECRET-a",
            "refresh-SECRET-a",
            "person-a@mail.example",
            "access-SECRET-h",
            "refresh-SECRET-h",
            "person-h@mail.example",
            "subject-a",
            "subject-h",
            "Name a",
            "/app/home",
        ],
    )
    .await;
}

async fn a_ciphertext_moved_to_another_row_does_not_open(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store.create_session(&session("s-2", "b")).await.unwrap();
    let items = store.scan().await.unwrap();
    let find = |pk: &str| {
        items
            .iter()
            .find(|i| i.get(attr::PK) == Some(&Attr::S(pk.into())))
            .cloned()
            .unwrap()
    };
    let (mut one, mut two) = (find("session#s-1"), find("session#s-2"));
    let tokens_one = one.get(attr::TOKENS).cloned().unwrap();
    let tokens_two = two.get(attr::TOKENS).cloned().unwrap();
    one.insert(attr::TOKENS.into(), tokens_two);
    two.insert(attr::TOKENS.into(), tokens_one.clone());
    store.put_raw(one.clone()).await.unwrap();
    store.put_raw(two).await.unwrap();
    for key in ["s-1", "s-2"] {
        let read = store.get_session(key, NOW).await;
        assert!(matches!(read, Ok(None)), "{key}: {read:?}");
    }
    // Within one row, a ciphertext moved to another attribute does not open either.
    one.insert(attr::IDENTITY.into(), tokens_one.clone());
    one.insert(attr::TOKENS.into(), tokens_one);
    store.put_raw(one).await.unwrap();
    assert!(matches!(store.get_session("s-1", NOW).await, Ok(None)));
}

/// The stored session `s-1`, edited by someone who can write the table but holds no key; the
/// edit also sees the stored session `s-2`.
async fn edited_session(
    kind: &str,
    edit: impl FnOnce(&mut shared::store::item::Item, &shared::store::item::Item),
) -> Arc<dyn Backend> {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store.create_session(&session("s-2", "b")).await.unwrap();
    let items = store.scan().await.unwrap();
    let find = |pk: &str| {
        items
            .iter()
            .find(|i| i.get(attr::PK) == Some(&Attr::S(pk.into())))
            .cloned()
            .unwrap()
    };
    let mut one = find("session#s-1");
    edit(&mut one, &find("session#s-2"));
    store.put_raw(one).await.unwrap();
    store
}

async fn a_scan_shows_no_provider_or_subject_in_plain_text(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    for item in store.scan().await.unwrap() {
        for (name, value) in &item {
            if let Attr::S(text) = value {
                assert_ne!(text, "dev", "{name} holds the provider in plain text");
                assert!(!text.contains("subject-"), "{name} holds the subject");
            }
        }
        assert!(!item.contains_key("provider") && !item.contains_key("subject"));
    }
}

async fn a_session_whose_expiry_was_extended_reads_as_absent(kind: &str) {
    let store = edited_session(kind, |item, _| {
        item.insert(attr::EXPIRES_AT.into(), Attr::N(NOW + 10 * 365 * 86_400));
    })
    .await;
    assert!(matches!(store.get_session("s-1", NOW).await, Ok(None)));
    assert!(
        store.get_session("s-2", NOW).await.unwrap().is_some(),
        "other rows are untouched"
    );
}

async fn a_session_whose_version_was_edited_reads_as_absent(kind: &str) {
    let store = edited_session(kind, |item, _| {
        item.insert(attr::VERSION.into(), Attr::N(7));
    })
    .await;
    assert!(matches!(store.get_session("s-1", NOW).await, Ok(None)));
}

async fn a_session_given_another_rows_identity_reads_as_absent(kind: &str) {
    let store = edited_session(kind, |item, other| {
        let identity = other.get(attr::IDENTITY).cloned().unwrap();
        item.insert(attr::IDENTITY.into(), identity);
    })
    .await;
    assert!(matches!(store.get_session("s-1", NOW).await, Ok(None)));
}

async fn a_transaction_or_handoff_with_an_edited_expiry_reads_as_absent(kind: &str) {
    let (store, _) = backend(kind).await;
    store.put_transaction(&transaction("tx-1")).await.unwrap();
    store
        .put_handoff(&Handoff {
            key: "h-1".into(),
            challenge: "challenge-value".into(),
            session: session("", "h"),
            expires_at: NOW + 60,
        })
        .await
        .unwrap();
    for mut item in store.scan().await.unwrap() {
        item.insert(attr::EXPIRES_AT.into(), Attr::N(NOW + 86_400));
        store.put_raw(item).await.unwrap();
    }
    assert!(store.take_transaction("tx-1", NOW).await.unwrap().is_none());
    assert!(store.take_handoff("h-1", NOW).await.unwrap().is_none());
}

async fn a_session_can_be_ended_only_by_its_lease_holder(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    assert!(matches!(
        store.delete_session_as_holder("s-1", "me").await,
        Err(StoreError::Conflict)
    ));
    store
        .acquire_refresh_lease("s-1", 0, "other", NOW, NOW + 20)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_session_as_holder("s-1", "me").await,
        Err(StoreError::Conflict)
    ));
    assert!(store.get_session("s-1", NOW).await.unwrap().is_some());
    store
        .delete_session_as_holder("s-1", "other")
        .await
        .unwrap();
    assert!(store.get_session("s-1", NOW).await.unwrap().is_none());
}

async fn a_rotated_keyring_still_opens_old_rows(kind: &str) {
    let (store, table) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    let rotated = reopen(kind, &table, store.as_ref(), &[KEY_B, KEY_A]).await;
    let read = rotated.get_session("s-1", NOW).await.unwrap().unwrap();
    assert_eq!(read.tokens.access_token.expose(), "access-SECRET-a");
    // New writes are sealed with the new first key: a keyring without it cannot read them.
    rotated
        .acquire_refresh_lease("s-1", 0, "me", NOW, NOW + 15)
        .await
        .unwrap();
    rotated
        .replace_tokens("s-1", 0, "me", &tokens("b"))
        .await
        .unwrap();
    let old_only = reopen(kind, &table, rotated.as_ref(), &[KEY_A]).await;
    assert!(matches!(old_only.get_session("s-1", NOW).await, Ok(None)));
}

async fn a_refresh_lease_is_exclusive_until_it_runs_out(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store
        .acquire_refresh_lease("s-1", 0, "first", NOW, NOW + 15)
        .await
        .unwrap();
    let second = store
        .acquire_refresh_lease("s-1", 0, "second", NOW + 14, NOW + 29)
        .await;
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    let seen = store.get_session("s-1", NOW).await.unwrap().unwrap();
    assert_eq!(seen.lease_until, NOW + 15, "readers see the live lease");
    // The holder died: once the lease has run out, another caller takes it over.
    store
        .acquire_refresh_lease("s-1", 0, "second", NOW + 15, NOW + 30)
        .await
        .unwrap();
    let late = store
        .replace_tokens("s-1", 0, "first", &tokens("late"))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict)),
        "the old holder lost it: {late:?}"
    );
}

async fn only_the_lease_holder_can_store_refreshed_tokens(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    let unleased = store.replace_tokens("s-1", 0, "me", &tokens("b")).await;
    assert!(
        matches!(unleased, Err(StoreError::Conflict)),
        "{unleased:?}"
    );
    store
        .acquire_refresh_lease("s-1", 0, "me", NOW, NOW + 15)
        .await
        .unwrap();
    let stranger = store.replace_tokens("s-1", 0, "other", &tokens("b")).await;
    assert!(
        matches!(stranger, Err(StoreError::Conflict)),
        "{stranger:?}"
    );
    store
        .replace_tokens("s-1", 0, "me", &tokens("b"))
        .await
        .unwrap();
    let after = store.get_session("s-1", NOW).await.unwrap().unwrap();
    assert_eq!(after.version, 1);
    assert_eq!(after.lease_until, 0, "the write ends the lease");
    assert_eq!(after.tokens.access_token.expose(), "access-SECRET-b");
}

async fn a_released_lease_can_be_taken_by_another_caller(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    store
        .acquire_refresh_lease("s-1", 0, "first", NOW, NOW + 15)
        .await
        .unwrap();
    store
        .release_refresh_lease("s-1", "someone-else")
        .await
        .unwrap();
    assert!(
        store
            .acquire_refresh_lease("s-1", 0, "second", NOW, NOW + 15)
            .await
            .is_err()
    );
    store.release_refresh_lease("s-1", "first").await.unwrap();
    store
        .acquire_refresh_lease("s-1", 0, "second", NOW, NOW + 15)
        .await
        .unwrap();
}

async fn a_lease_on_a_stale_version_or_expired_session_is_refused(kind: &str) {
    let (store, _) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    let stale = store
        .acquire_refresh_lease("s-1", 7, "me", NOW, NOW + 15)
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let expired = store
        .acquire_refresh_lease("s-1", 0, "me", NOW + 3600, NOW + 3615)
        .await;
    assert!(matches!(expired, Err(StoreError::Conflict)), "{expired:?}");
    let missing = store
        .acquire_refresh_lease("nope", 0, "me", NOW, NOW + 15)
        .await;
    assert!(matches!(missing, Err(StoreError::Conflict)), "{missing:?}");
}

async fn concurrent_lease_takers_have_exactly_one_winner(kind: &str) {
    let (store, table) = backend(kind).await;
    store.create_session(&session("s-1", "a")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s: Arc<dyn Backend> = match kind {
            "memory" => Arc::clone(&store),
            _ => Arc::new(dynamo(&table, &[KEY_A]).await),
        };
        tasks.push(tokio::spawn(async move {
            s.acquire_refresh_lease("s-1", 0, &format!("owner-{i}"), NOW, NOW + 15)
                .await
                .is_ok()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn the_embedded_store_sweeps_expired_items_as_time_passes() {
    let store = MemoryStore::with_keyring(Keyring::from_base64(&[KEY_A]).unwrap());
    for i in 0..500 {
        store
            .put_transaction(&transaction(&format!("tx-{i}")))
            .await
            .unwrap();
    }
    store.create_session(&session("s-live", "a")).await.unwrap();
    assert_eq!(store.scan().await.unwrap().len(), 502);

    // Any read after the transactions' expiry sweeps them; the live session stays.
    let _ = store.get_session("s-live", NOW + 601).await.unwrap();

    let mut left: Vec<_> = store
        .scan()
        .await
        .unwrap()
        .iter()
        .map(|i| i.get(attr::PK).cloned())
        .collect();
    left.sort_by_key(|pk| format!("{pk:?}"));
    assert_eq!(
        left,
        [
            Some(Attr::S("session#s-live".into())),
            Some(Attr::S("sid#s-live".into()))
        ],
        "only the live session (and its sid pointer) is kept"
    );
}

fn user(provider: &str, subject: &str, name: &str, expires_at: u64) -> UserRecord {
    UserRecord {
        provider: ProviderId::parse(provider).unwrap(),
        subject: subject.to_owned(),
        profile: Profile {
            name: Some(name.to_owned()),
            ..Profile::default()
        },
        expires_at,
    }
}

fn apple() -> ProviderId {
    ProviderId::parse("apple").unwrap()
}

async fn a_remembered_user_is_found_by_provider_and_subject_only(kind: &str) {
    let (store, _) = backend(kind).await;
    let ada = user("apple", "subject-ada", "Ada Lovelace", NOW + 3600);
    store.put_user(&ada).await.unwrap();
    let found = store.get_user(&apple(), "subject-ada", NOW).await.unwrap();
    assert_eq!(found, Some(ada));
    let other_subject = store.get_user(&apple(), "subject-bob", NOW).await.unwrap();
    assert_eq!(other_subject, None);
    let other_provider = ProviderId::parse("google").unwrap();
    let read = store.get_user(&other_provider, "subject-ada", NOW).await;
    assert_eq!(
        read.unwrap(),
        None,
        "the same subject at another provider is another user"
    );
}

async fn a_remembered_user_is_replaced_and_forgotten_when_it_expires(kind: &str) {
    let (store, _) = backend(kind).await;
    store
        .put_user(&user("apple", "subject-ada", "Ada", NOW + 60))
        .await
        .unwrap();
    let renamed = user("apple", "subject-ada", "Ada King", NOW + 120);
    store.put_user(&renamed).await.unwrap();
    let read = store.get_user(&apple(), "subject-ada", NOW + 90).await;
    assert_eq!(
        read.unwrap(),
        Some(renamed),
        "the later write replaced the first"
    );
    assert_eq!(store.scan().await.unwrap().len(), 1, "one row per user");
    let read = store.get_user(&apple(), "subject-ada", NOW + 120).await;
    assert_eq!(read.unwrap(), None, "expired");
}

async fn a_remembered_user_shows_no_subject_or_name_and_is_not_found_by_a_plain_hash(kind: &str) {
    let (store, _) = backend(kind).await;
    store
        .put_user(&user("apple", "subject-ada", "Ada Lovelace", NOW + 60))
        .await
        .unwrap();
    assert_scan_has_no(store.as_ref(), &["subject-ada", "Ada Lovelace"]).await;
    let items = store.scan().await.unwrap();
    let Some(Attr::S(pk)) = items[0].get(attr::PK) else {
        panic!("pk")
    };
    let unkeyed = shared::crypto::sha256_b64url(b"user\napple\nsubject-ada");
    assert!(pk.starts_with("user#"), "{pk}");
    assert!(
        !pk.contains(&unkeyed),
        "the key is a keyed hash, not a plain one"
    );
    for value in items[0].values() {
        if let Attr::S(text) = value {
            assert_ne!(text, "apple", "the provider is not in plain text");
        }
    }
}

async fn an_edited_or_moved_user_record_reads_as_absent(kind: &str) {
    let (store, _) = backend(kind).await;
    store
        .put_user(&user("apple", "subject-ada", "Ada", NOW + 60))
        .await
        .unwrap();
    store
        .put_user(&user("apple", "subject-bob", "Bob", NOW + 60))
        .await
        .unwrap();
    let items = store.scan().await.unwrap();
    let (ada, bob) = (&items[0], &items[1]);
    // Bob's sealed record under Ada's key: the seal names another row.
    let mut moved = ada.clone();
    moved.insert(attr::SEALED.into(), bob.get(attr::SEALED).cloned().unwrap());
    store.put_raw(moved).await.unwrap();
    // Bob's expiry pushed out: the seal repeats the real one.
    let mut extended = bob.clone();
    extended.insert(attr::EXPIRES_AT.into(), Attr::N(NOW + 10 * 365 * 86_400));
    store.put_raw(extended).await.unwrap();
    for subject in ["subject-ada", "subject-bob"] {
        let read = store.get_user(&apple(), subject, NOW).await;
        assert!(matches!(read, Ok(None)), "{subject}: {read:?}");
    }
}

async fn a_remembered_user_is_found_after_a_key_rotation(kind: &str) {
    let (store, table) = backend(kind).await;
    let ada = user("apple", "subject-ada", "Ada", NOW + 60);
    store.put_user(&ada).await.unwrap();
    let rotated = reopen(kind, &table, store.as_ref(), &[KEY_B, KEY_A]).await;
    let read = rotated.get_user(&apple(), "subject-ada", NOW).await;
    assert_eq!(
        read.unwrap(),
        Some(ada.clone()),
        "found under the older key's hash"
    );
    // Written again after the rotation, it is under the new key's hash and opens without A.
    rotated.put_user(&ada).await.unwrap();
    let new_only = reopen(kind, &table, rotated.as_ref(), &[KEY_B]).await;
    let read = new_only.get_user(&apple(), "subject-ada", NOW).await;
    assert_eq!(read.unwrap(), Some(ada));
}

async fn store_on_a_missing_table(create_table: bool) -> (DynamoStore, String) {
    let table = unique_table();
    let settings = shared::store::dynamodb::DynamoSettings {
        table: table.clone(),
        endpoint: Some(integration_tests::dynamodb_endpoint().parse().unwrap()),
        region: Some("us-east-1".into()),
        create_table,
    };
    let keyring = Keyring::from_base64(&[KEY_A]).unwrap();
    (
        DynamoStore::connect(&settings, keyring).await.unwrap(),
        table,
    )
}

#[tokio::test]
async fn with_create_table_the_first_request_creates_a_missing_table_and_succeeds() {
    let (store, _) = store_on_a_missing_table(true).await;
    // Connecting sent nothing; the first request finds no table, creates it and succeeds.
    store
        .put_transaction(&transaction("tx-first"))
        .await
        .unwrap();
    let taken = store.take_transaction("tx-first", NOW).await.unwrap();
    assert!(
        taken.is_some(),
        "the transaction was written after creating the table"
    );
    // Every kind of request works on the created table, reads included.
    store.create_session(&session("s-1", "a")).await.unwrap();
    assert!(store.get_session("s-1", NOW).await.unwrap().is_some());
}

#[tokio::test]
async fn with_create_table_concurrent_first_requests_all_succeed() {
    let (store, _) = store_on_a_missing_table(true).await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .put_transaction(&transaction(&format!("tx-{i}")))
                .await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("each writer gets through while another creates the table");
    }
}

#[tokio::test]
async fn without_create_table_a_missing_table_is_the_store_being_unavailable() {
    let (store, _) = store_on_a_missing_table(false).await;
    let err = store
        .put_transaction(&transaction("tx-first"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // Nothing created it behind the caller's back.
    let again = store.get_session("s-1", NOW).await.unwrap_err();
    assert!(matches!(again, StoreError::Unavailable(_)), "{again:?}");
}
