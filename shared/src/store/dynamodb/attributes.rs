//! Between our items and DynamoDB's attribute values, and how its errors are read.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::StoreError;
use crate::store::item::{Attr, Item};

pub(super) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A transaction cancelled because one of its conditions failed (not for a conflict with
/// another transaction, throttling or a validation error).
pub(super) fn is_transaction_condition_failure<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

pub(super) fn is_missing_table<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|c| c == "ResourceNotFoundException")
}

pub(super) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(Box::new(e))
}

pub(super) fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub(super) fn to_dynamo(item: Item) -> HashMap<String, AttributeValue> {
    item.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Attr::S(s) => AttributeValue::S(s),
                Attr::N(n) => AttributeValue::N(n.to_string()),
            };
            (k, v)
        })
        .collect()
}

pub(super) fn from_dynamo(map: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                AttributeValue::S(s) => Attr::S(s),
                AttributeValue::N(n) => Attr::N(
                    n.parse()
                        .map_err(|_| StoreError::Corrupt(format!("{k} is not a whole number")))?,
                ),
                _ => return Err(StoreError::Corrupt(format!("{k} has an unexpected type"))),
            };
            Ok((k, v))
        })
        .collect()
}
