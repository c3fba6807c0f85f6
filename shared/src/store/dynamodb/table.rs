//! The table itself, for local runs (`create_table = true`), and raw access for tests and
//! operators. A deployment creates the table from the SAM template.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, Select, TimeToLiveSpecification,
};

#[cfg(feature = "test-support")]
use super::attributes::to_dynamo;
use super::attributes::{from_dynamo, number, unavailable};
use super::{DynamoStore, OWNER_INDEX};
use crate::store::item::{Item, attr, kind};
use crate::store::{RawItems, StoreError};

impl DynamoStore {
    /// Creates the table (on-demand, key `pk`, the owner index on `ix`, TTL on `expires_at`)
    /// when it is missing.
    /// For local runs; a deployment creates it from the SAM template.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable(Box::new(e));
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(invalid)
        };
        let hash_key = |name: &str| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::Hash)
                .build()
                .map_err(invalid)
        };
        let owner_index = GlobalSecondaryIndex::builder()
            .index_name(OWNER_INDEX)
            .key_schema(hash_key(attr::IX)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(invalid)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string(attr::PK)?)
            .attribute_definitions(string(attr::IX)?)
            .key_schema(hash_key(attr::PK)?)
            .global_secondary_indexes(owner_index)
            .send()
            .await;
        if let Err(e) = created {
            // Another process may have created it meanwhile.
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception())
            {
                return Err(unavailable(e));
            }
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attr::EXPIRES_AT)
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        // Best effort: TTL is housekeeping; reads already ignore expired items.
        if let Err(e) = self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            tracing::warn!(error = %DisplayErrorContext(&e), "could not enable TTL");
        }
        Ok(())
    }
}

#[async_trait]
impl RawItems for DynamoStore {
    async fn scan(&self) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for raw in out.items.unwrap_or_default() {
                items.push(from_dynamo(raw)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn count_sessions(&self, now: u64) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .select(Select::Count)
                .filter_expression("#type = :session AND #exp > :now")
                .expression_attribute_names("#type", attr::TYPE)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_values(":session", AttributeValue::S(kind::SESSION.into()))
                .expression_attribute_values(":now", number(now))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            count += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    #[cfg(feature = "test-support")]
    async fn put_raw(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_dynamo(item)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
