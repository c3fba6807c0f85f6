//! The two storage backends as the tests see them: the embedded store and DynamoDB on the
//! moto server that `scripts/test` starts (its endpoint in `DYNAMODB_ENDPOINT`).

use std::ops::Deref;
use std::sync::Arc;

use base64::Engine;
use shared::crypto::Keyring;
use shared::store::dynamodb::{DynamoSettings, DynamoStore};
use shared::store::item::{Attr, attr, kind};
use shared::store::memory::MemoryStore;
use shared::store::{RawItems, Store};

/// The test encryption key (base64 of 32 bytes).
pub const TEST_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A backend under test: the store port plus raw item access.
pub trait Backend: Store + RawItems {}
impl<T: Store + RawItems> Backend for T {}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded store.
    Memory,
    /// DynamoDB (moto).
    Dynamodb,
}

/// True when the DynamoDB-compatible server of the test command is there. When it is not (plain
/// `cargo test`), says which test is skipped and how to run it, and the test returns at once.
pub fn dynamodb_or_skip(test: &str) -> bool {
    if std::env::var_os("DYNAMODB_ENDPOINT").is_some() {
        return true;
    }
    // Straight to the process's stderr: the test harness would swallow eprintln! of a test
    // that passes.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: it needs a DynamoDB-compatible server; run scripts/test, which starts \
         moto and sets DYNAMODB_ENDPOINT"
    );
    false
}

/// The endpoint of the DynamoDB-compatible server the test command started.
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").expect(
        "DYNAMODB_ENDPOINT is not set: run the tests through scripts/test, which starts moto",
    )
}

/// A fresh, uniquely named table name.
pub fn unique_table() -> String {
    format!(
        "auth-test-{}",
        shared::crypto::random_token(9).replace(['-', '_'], "x")
    )
}

/// A DynamoDB store on the test server with its own client (as a separate Lambda instance
/// would have), creating the table when missing.
pub async fn dynamo_store(table: &str, keys: &[&str]) -> DynamoStore {
    let settings = DynamoSettings {
        table: table.to_owned(),
        endpoint: Some(dynamodb_endpoint().parse().expect("endpoint is a URL")),
        region: Some("us-east-1".into()),
        create_table: false,
    };
    let keyring = Keyring::from_base64(keys).expect("test keys are valid");
    let store = DynamoStore::connect(&settings, keyring)
        .await
        .expect("the AWS HTTP client builds");
    store
        .ensure_table()
        .await
        .expect("table on the test server");
    store
}

/// A store handle that can also count what it holds.
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<dyn Backend>,
    /// The backend kind.
    pub kind: BackendKind,
    /// The DynamoDB table (empty for the embedded store).
    pub table: String,
}

impl StoreHandle {
    /// A new, empty store of `kind` sealing with [`TEST_KEY`].
    pub async fn new(kind: BackendKind) -> Self {
        let table = unique_table();
        let inner: Arc<dyn Backend> = match kind {
            BackendKind::Memory => Arc::new(MemoryStore::with_keyring(
                Keyring::from_base64(&[TEST_KEY]).expect("valid key"),
            )),
            BackendKind::Dynamodb => Arc::new(dynamo_store(&table, &[TEST_KEY]).await),
        };
        Self { inner, kind, table }
    }

    /// Another handle on the same data: a separate DynamoDB client, or the same embedded store.
    pub async fn another_instance(&self) -> Arc<dyn Store> {
        match self.kind {
            BackendKind::Memory => Arc::clone(&self.inner) as Arc<dyn Store>,
            BackendKind::Dynamodb => Arc::new(dynamo_store(&self.table, &[TEST_KEY]).await),
        }
    }

    /// The port, for building an [`shared::App`].
    pub fn as_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.inner) as Arc<dyn Store>
    }

    async fn count(&self, item_kind: &str) -> usize {
        self.inner
            .scan()
            .await
            .expect("scan")
            .iter()
            .filter(|i| i.get(attr::TYPE) == Some(&Attr::S(item_kind.into())))
            .count()
    }

    /// Sessions held (live or expired).
    pub async fn session_count(&self) -> usize {
        self.count(kind::SESSION).await
    }

    /// Transactions held (live or expired).
    pub async fn transaction_count(&self) -> usize {
        self.count(kind::TX).await
    }

    /// Remembered users (first-login names) held.
    pub async fn user_count(&self) -> usize {
        self.count(kind::USER).await
    }

    /// Items of any kind held.
    pub async fn item_count(&self) -> usize {
        self.inner.scan().await.expect("scan").len()
    }

    /// Rewrites the stored item `pk` as someone with write access to the table but no key would.
    pub async fn edit_item(&self, pk: &str, edit: impl FnOnce(&mut shared::store::item::Item)) {
        let mut item = self
            .inner
            .scan()
            .await
            .expect("scan")
            .into_iter()
            .find(|i| i.get(attr::PK) == Some(&Attr::S(pk.into())))
            .unwrap_or_else(|| panic!("no stored item {pk}"));
        edit(&mut item);
        self.inner.put_raw(item).await.expect("raw write");
    }
}

impl Deref for StoreHandle {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        self.inner.as_ref()
    }
}

/// Every plain and base64 form of `secret` that a careless store might write.
fn forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let b = secret.as_bytes();
    vec![
        secret.to_owned(),
        STANDARD.encode(b),
        STANDARD_NO_PAD.encode(b),
        URL_SAFE.encode(b),
        URL_SAFE_NO_PAD.encode(b),
    ]
}

/// Asserts that no attribute of any scanned item contains any form of any secret.
pub async fn assert_scan_has_no(store: &dyn RawItems, secrets: &[&str]) {
    let items = store.scan().await.expect("scan");
    assert!(!items.is_empty(), "the scan found items to inspect");
    let dump: Vec<String> = items
        .iter()
        .flat_map(|item| item.iter())
        .map(|(k, v)| match v {
            Attr::S(s) => format!("{k}={s}"),
            Attr::N(n) => format!("{k}={n}"),
        })
        .collect();
    for secret in secrets {
        for form in forms(secret) {
            // Short base64 fragments would match by chance; every secret here is long.
            assert!(
                !dump.iter().any(|attr| attr.contains(&form)),
                "the table holds {secret:?} (as {form:?})"
            );
        }
    }
}
