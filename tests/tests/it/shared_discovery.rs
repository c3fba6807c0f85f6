//! A cold instance may take the provider's discovery document from the table, where another
//! instance that waited for a slow provider left it: over a real network that spares a TLS
//! handshake to the provider. Only DynamoDB shares anything between instances.

use dev_provider::Behavior;
use integration_tests::{BackendKind, Harness, dynamodb_or_skip};
use shared::provider::discovery::{SHARED_FOR, WORTH_SHARING};
use shared::store::item::{Attr, attr, kind};

/// A harness on DynamoDB whose provider took longer than [`WORTH_SHARING`] to serve discovery
/// once, so the first instance's sign-in left the document in the table.
async fn document_shared_by_a_slow_first_instance() -> Harness {
    let h = signed_in_through_a_slow_discovery(BackendKind::Dynamodb).await;
    assert_eq!(h.stats().discovery_requests, 1);
    assert_eq!(documents(&h).await.len(), 1, "the slow answer was shared");
    h
}

/// A harness on `backend` after one sign-in whose discovery took 4 × [`WORTH_SHARING`].
async fn signed_in_through_a_slow_discovery(backend: BackendKind) -> Harness {
    let h = Harness::builder().backend(backend).spawn().await;
    h.set_behavior(Behavior {
        discovery_delay_ms: Some(WORTH_SHARING.as_millis() as u64 * 4),
        ..Behavior::default()
    });
    h.browser().sign_in("dev", "alice").await;
    h
}

async fn documents(h: &Harness) -> Vec<shared::store::item::Item> {
    h.store
        .scan()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.get(attr::TYPE) == Some(&Attr::S(kind::DOC.into())))
        .collect()
}

/// With the provider failing discovery, a new instance's login is 503 `provider_unavailable`:
/// the stored copy was not used.
async fn assert_a_new_instance_cannot_start_a_login_while_discovery_fails(h: &Harness) {
    h.set_behavior(provider_cannot_serve_discovery());
    let mut browser = h.browser().on(h.another_instance().await);
    let reply = browser.start_login("dev", None).await;
    reply.assert_error(503, "provider_unavailable");
}

fn provider_cannot_serve_discovery() -> Behavior {
    Behavior {
        discovery_error: Some(503),
        ..Behavior::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_instance_signs_in_with_the_discovery_document_another_instance_shared() {
    if !dynamodb_or_skip("shared discovery") {
        return;
    }
    let h = document_shared_by_a_slow_first_instance().await;
    h.set_behavior(provider_cannot_serve_discovery());

    let mut browser = h.browser().on(h.another_instance().await);
    let session = browser.sign_in("dev", "bob").await;

    assert!(!session.is_empty());
    let stored = documents(&h).await;
    assert_eq!(stored.len(), 1, "still one copy");
    let text = format!("{stored:?}");
    assert!(!text.contains("/authorize"), "the copy is sealed: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_that_answers_quickly_is_not_copied_into_the_table() {
    if !dynamodb_or_skip("shared discovery") {
        return;
    }
    let h = Harness::builder()
        .backend(BackendKind::Dynamodb)
        .spawn()
        .await;

    h.browser().sign_in("dev", "alice").await;

    assert!(documents(&h).await.is_empty());
    // And nothing stood in for the provider: a new instance asks it again.
    h.browser()
        .on(h.another_instance().await)
        .sign_in("dev", "bob")
        .await;
    assert_eq!(h.stats().discovery_requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edited_shared_document_is_ignored() {
    if !dynamodb_or_skip("shared discovery") {
        return;
    }
    let h = document_shared_by_a_slow_first_instance().await;
    // Extend the copy's plaintext expiry: the seal no longer matches, so it reads as absent.
    let mut edited = documents(&h).await.remove(0);
    let Some(Attr::N(expires_at)) = edited.get(attr::EXPIRES_AT).cloned() else {
        panic!("a document has an expiry");
    };
    edited.insert(attr::EXPIRES_AT.into(), Attr::N(expires_at + 3600));
    h.store.put_raw(edited).await.unwrap();
    assert_a_new_instance_cannot_start_a_login_while_discovery_fails(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_shared_document_is_ignored() {
    if !dynamodb_or_skip("shared discovery") {
        return;
    }
    let h = document_shared_by_a_slow_first_instance().await;
    h.clock.advance(SHARED_FOR + 1);
    assert_a_new_instance_cannot_start_a_login_while_discovery_fails(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_embedded_store_shares_nothing() {
    let h = signed_in_through_a_slow_discovery(BackendKind::Memory).await;

    assert!(documents(&h).await.is_empty());
}
