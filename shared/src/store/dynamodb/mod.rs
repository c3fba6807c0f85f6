//! The DynamoDB backend: one table keyed by `pk`, TTL on `expires_at`. Every at-most-once
//! change is a single conditional request, so concurrent Lambda instances cannot both win.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use url::Url;

mod attributes;
mod table;

use attributes::{
    from_dynamo, is_condition_failure, is_missing_table, is_transaction_condition_failure, number,
    to_dynamo, unavailable,
};

use super::item::{Attr, Codec, Item, attr, expires_at, kind, or_absent, pk};
use super::{Handoff, Session, SessionsOf, Store, StoreError, TokenSet, Transaction, UserRecord};
use crate::crypto::Keyring;
use crate::types::ProviderId;

/// How the DynamoDB client is reached and how hard it tries.
#[derive(Debug, Clone)]
pub struct DynamoSettings {
    /// Table name.
    pub table: String,
    /// Endpoint override (a local DynamoDB-compatible server).
    pub endpoint: Option<Url>,
    /// Region override.
    pub region: Option<String>,
    /// Create the table when a request finds it missing (local runs; a deployment's table
    /// comes from the SAM template). Costs nothing while the table exists.
    pub create_table: bool,
}

/// The table's global secondary index on [`attr::IX`] (keys only, sparse): how the sessions of
/// a user, or of a provider session, are found without a scan.
pub const OWNER_INDEX: &str = "owner";

/// Attempts per request: throttling and 5xx are retried with jittered exponential backoff.
const MAX_ATTEMPTS: u32 = 3;
/// Budget for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Budget for one request including retries; stays inside the functions' time limits.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The DynamoDB store.
pub struct DynamoStore {
    client: Client,
    table: String,
    codec: Codec,
    /// Create the table on first use when it is missing (`create_table = true`, local runs).
    create_table: bool,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DynamoStore({})", self.table)
    }
}

impl DynamoStore {
    /// Builds the client once (per cold start) from the environment's credentials and region,
    /// with bounded retries and timeouts. Sends nothing: the first request opens the
    /// connection.
    pub async fn connect(
        settings: &DynamoSettings,
        keyring: Keyring,
    ) -> Result<Self, crate::tls::TlsError> {
        let budget = crate::aws::Budget {
            attempts: MAX_ATTEMPTS,
            attempt: ATTEMPT_TIMEOUT,
            operation: OPERATION_TIMEOUT,
        };
        let config = crate::aws::bounded(
            budget,
            settings.region.as_deref(),
            settings.endpoint.as_ref(),
        )?
        .load()
        .await;
        Ok(Self {
            client: Client::new(&config),
            table: settings.table.clone(),
            codec: Codec::new(keyring),
            create_table: settings.create_table,
        })
    }

    /// Sends a request; when it finds the table missing and this store may create it, creates
    /// the table and sends the request once more.
    async fn send<T, E, R, F, Fut>(&self, request: F) -> Result<T, SdkError<E, R>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata,
    {
        let started = std::time::Instant::now();
        let first = request().await;
        crate::events::note_store_call(started.elapsed());
        match &first {
            Err(e) if self.create_table && is_missing_table(e) => {
                if let Err(e) = self.ensure_table().await {
                    tracing::warn!(error = %crate::telemetry::Chain(&e), "could not create the table");
                    return first;
                }
                request().await
            }
            _ => first,
        }
    }

    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        let result = self
            .send(|| {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_dynamo(item.clone())))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", attr::PK)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Writes an item, replacing any item under its key.
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        let item = to_dynamo(item);
        self.send(|| {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes the `sid` pointer of the session stored under `key`, if it has one, alongside
    /// the session itself. Best effort: a pointer left behind names a session that is gone,
    /// ends nothing, and expires with the session's TTL.
    async fn delete_sid_pointer(&self, key: &str) {
        let deleted = self
            .send(|| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk(kind::SID, key)))
                    .send()
            })
            .await;
        if let Err(e) = deleted {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "could not delete a sid pointer; it expires with its session");
        }
    }

    /// Reads a live item (strongly consistent); an item whose attributes have unexpected types
    /// reads as absent.
    async fn get(&self, pk: String, kind: &str, now: u64) -> Result<Option<Item>, StoreError> {
        let out = self
            .send(|| {
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk.clone()))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(unavailable)?;
        Ok(out
            .item
            .and_then(|raw| or_absent(from_dynamo(raw), kind))
            .filter(|item| expires_at(item) > now))
    }

    /// Deletes the item and returns its old values: DynamoDB hands them to exactly one caller.
    /// An item whose attributes have unexpected types reads as absent (it was edited).
    async fn take(&self, pk: String, now: u64) -> Result<Option<Item>, StoreError> {
        let out = self
            .send(|| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk.clone()))
                    .return_values(ReturnValue::AllOld)
                    .send()
            })
            .await
            .map_err(unavailable)?;
        Ok(out
            .attributes
            .and_then(|old| or_absent(from_dynamo(old), "item"))
            .filter(|item| expires_at(item) > now))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn put_transaction(&self, tx: &Transaction) -> Result<(), StoreError> {
        self.put_new(self.codec.transaction_to_item(tx)?).await
    }

    async fn take_transaction(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Option<Transaction>, StoreError> {
        Ok(self
            .take(pk(kind::TX, key), now)
            .await?
            .and_then(|item| or_absent(self.codec.transaction_from_item(key, &item), kind::TX)))
    }

    async fn put_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        self.put_new(self.codec.handoff_to_item(handoff)?).await
    }

    async fn take_handoff(&self, key: &str, now: u64) -> Result<Option<Handoff>, StoreError> {
        Ok(self
            .take(pk(kind::HANDOFF, key), now)
            .await?
            .and_then(|item| or_absent(self.codec.handoff_from_item(key, &item), kind::HANDOFF)))
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let item = self.codec.session_to_item(session)?;
        let Some(pointer) = self.codec.sid_pointer_to_item(session)? else {
            return self.put_new(item).await;
        };
        // The session and its `sid` pointer in one transaction: a back-channel logout that can
        // find the session by its provider session id exists exactly when the session does.
        let session_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_dynamo(item)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let pointer_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_dynamo(pointer)))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let result = self
            .send(|| {
                self.client
                    .transact_write_items()
                    .transact_items(
                        TransactWriteItem::builder()
                            .put(session_put.clone())
                            .build(),
                    )
                    .transact_items(
                        TransactWriteItem::builder()
                            .put(pointer_put.clone())
                            .build(),
                    )
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_transaction_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_sessions(&self, of: SessionsOf<'_>) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        // Under the sealing key's hash first; older keys' find sessions from before a rotation.
        for ix in self.codec.index_hashes(of) {
            let mut start = None;
            loop {
                let page = self
                    .send(|| {
                        self.client
                            .query()
                            .table_name(&self.table)
                            .index_name(OWNER_INDEX)
                            .key_condition_expression("#ix = :ix")
                            .expression_attribute_names("#ix", attr::IX)
                            .expression_attribute_values(":ix", AttributeValue::S(ix.clone()))
                            .set_exclusive_start_key(start.clone())
                            .send()
                    })
                    .await
                    .map_err(unavailable)?;
                for item in page.items.unwrap_or_default() {
                    if let Some(AttributeValue::S(pk)) = item.get(attr::PK)
                        && let Some(key) = Codec::indexed_session_key(pk)
                    {
                        keys.push(key.to_owned());
                    }
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn mark_used(&self, key: &str, expires_at: u64, now: u64) -> Result<(), StoreError> {
        let item = to_dynamo(Codec::used_to_item(key, expires_at));
        let result = self
            .send(|| {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    // A record whose time is up (TTL deletes lazily) no longer counts.
                    .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#exp", attr::EXPIRES_AT)
                    .expression_attribute_values(":now", number(now))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn unmark_used(&self, key: &str) -> Result<(), StoreError> {
        self.send(|| {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(attr::PK, AttributeValue::S(pk(kind::USED, key)))
                .send()
        })
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn get_session(&self, key: &str, now: u64) -> Result<Option<Session>, StoreError> {
        Ok(self
            .get(pk(kind::SESSION, key), kind::SESSION, now)
            .await?
            .and_then(|item| or_absent(self.codec.session_from_item(key, &item), kind::SESSION)))
    }

    async fn acquire_refresh_lease(
        &self,
        key: &str,
        version: u64,
        owner: &str,
        now: u64,
        until: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .send(|| {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk(kind::SESSION, key)))
                    .update_expression("SET #owner = :owner, #until = :until")
                    .condition_expression(
                        "attribute_exists(#pk) AND #version = :version AND #exp > :now \
                     AND (attribute_not_exists(#until) OR #until <= :now)",
                    )
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#owner", attr::LEASE_OWNER)
                    .expression_attribute_names("#until", attr::LEASE_UNTIL)
                    .expression_attribute_names("#version", attr::VERSION)
                    .expression_attribute_names("#exp", attr::EXPIRES_AT)
                    .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
                    .expression_attribute_values(":until", number(until))
                    .expression_attribute_values(":version", number(version))
                    .expression_attribute_values(":now", number(now))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_refresh_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let result = self
            .send(|| {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk(kind::SESSION, key)))
                    .update_expression("REMOVE #owner, #until")
                    .condition_expression("#owner = :owner")
                    .expression_attribute_names("#owner", attr::LEASE_OWNER)
                    .expression_attribute_names("#until", attr::LEASE_UNTIL)
                    .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
                    .send()
            })
            .await;
        match result {
            // Not ours any more (taken over, or the session is gone): nothing to give up.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
            Ok(_) => Ok(()),
        }
    }

    async fn replace_tokens(
        &self,
        key: &str,
        expected_version: u64,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<(), StoreError> {
        let Attr::S(sealed) = self
            .codec
            .sealed_tokens(key, expected_version + 1, tokens)?
        else {
            return Err(StoreError::Corrupt("tokens".into()));
        };
        let result = self
            .send(|| {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk(kind::SESSION, key)))
                    .update_expression(
                        "SET #tokens = :tokens, #version = :next REMOVE #owner, #until",
                    )
                    .condition_expression(
                        "attribute_exists(#pk) AND #version = :expected AND #owner = :owner",
                    )
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#tokens", attr::TOKENS)
                    .expression_attribute_names("#version", attr::VERSION)
                    .expression_attribute_names("#owner", attr::LEASE_OWNER)
                    .expression_attribute_names("#until", attr::LEASE_UNTIL)
                    .expression_attribute_values(":tokens", AttributeValue::S(sealed.clone()))
                    .expression_attribute_values(":next", number(expected_version + 1))
                    .expression_attribute_values(":expected", number(expected_version))
                    .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_session(&self, key: &str) -> Result<bool, StoreError> {
        let session = self.send(|| {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key(attr::PK, AttributeValue::S(pk(kind::SESSION, key)))
                .return_values(ReturnValue::AllOld)
                .send()
        });
        let (session, ()) = tokio::join!(session, self.delete_sid_pointer(key));
        Ok(session.map_err(unavailable)?.attributes.is_some())
    }

    async fn delete_session_as_holder(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let result = self
            .send(|| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key(attr::PK, AttributeValue::S(pk(kind::SESSION, key)))
                    .condition_expression("#owner = :owner")
                    .expression_attribute_names("#owner", attr::LEASE_OWNER)
                    .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => {
                self.delete_sid_pointer(key).await;
                Ok(())
            }
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.put(self.codec.user_to_item(user)?).await
    }

    async fn prepare(&self) -> Result<(), StoreError> {
        if self.create_table {
            self.ensure_table().await?;
        }
        Ok(())
    }

    async fn put_document(
        &self,
        name: &str,
        body: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.put(self.codec.document_to_item(name, body, expires_at)?)
            .await
    }

    async fn get_document(&self, name: &str, now: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(Codec::document_pk(name), kind::DOC, now)
            .await?
            .and_then(|item| or_absent(self.codec.document_from_item(name, &item), kind::DOC)))
    }

    async fn get_user(
        &self,
        provider: &ProviderId,
        subject: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        // Under the sealing key's hash first; older keys' only after a rotation.
        for pk in self.codec.user_pks(provider, subject) {
            let item = self.get(pk, kind::USER, now).await?;
            let user = item.and_then(|item| {
                or_absent(
                    self.codec.user_from_item(provider, subject, &item),
                    kind::USER,
                )
            });
            if user.is_some() {
                return Ok(user);
            }
        }
        Ok(None)
    }
}
