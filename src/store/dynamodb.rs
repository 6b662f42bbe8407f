//! DynamoDB: one item per registration, keyed by `runId`.
//!
//! Open runs are found by a Query on the sparse index `sweep-index` (only open items
//! carry its key), paged with `LastEvaluatedKey`; never a Scan. The index is eventually
//! consistent, so it only *finds* work: every decision is a conditional write on the
//! base table, which is strongly consistent per item.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use super::completion_fields::CompletionFields;
use super::{Claim, Completion, Op, OpCounter, OpCounts, Registered, Stamp, Store, StoreError};
use crate::http::cause_chain;
use crate::links::RunId;
use crate::registry::raw::{attr, OPEN};
use crate::registry::{RawRecord, RawValue, Registration};

/// The sparse index of open runs: partition key `sweep`, sort key `runId`, all attributes.
pub const SWEEP_INDEX: &str = "sweep-index";

type Item = HashMap<String, AttributeValue>;

/// Registrations in a DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    page_size: Option<i32>,
    ops: Arc<OpCounter>,
}

impl DynamoStore {
    /// A store on `table` with a client configured from the standard AWS environment
    /// (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials chain).
    pub async fn from_env(table: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    /// A store on `table` using `client` (built once and shared, as in a Lambda).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
            ops: Arc::default(),
        }
    }

    /// Reads open runs `size` items per page (DynamoDB's own limit is 1 MB a page); tests
    /// use it to prove that every page is read.
    pub fn with_page_size(mut self, size: i32) -> Self {
        self.page_size = Some(size);
        self
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        action: &str,
        error: SdkError<E>,
    ) -> StoreError {
        let hint = match error.code() {
            Some("ResourceNotFoundException") => format!(
                "; the table {:?} does not exist: create it with `run-notifier store init` (or the SAM template)",
                self.table
            ),
            Some("AccessDeniedException" | "UnrecognizedClientException") => {
                "; check the AWS credentials and their permissions on the table".to_string()
            }
            _ if matches!(error, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => {
                "; cannot reach DynamoDB: check AWS_REGION, AWS_ENDPOINT_URL and the network".to_string()
            }
            _ => String::new(),
        };
        // A service error says it all in its code and message; other errors (no
        // connection, timeouts, credentials) need their cause chain.
        let what = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => cause_chain(&error),
        };
        StoreError {
            backend: "dynamodb",
            detail: format!("{action} on table {:?} failed: {what}{hint}", self.table),
        }
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError {
            backend: "dynamodb",
            detail: format!("table definition: {e}"),
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(SWEEP_INDEX)
            .key_schema(key(attr::SWEEP, KeyType::Hash).map_err(build)?)
            .key_schema(key(attr::RUN_ID, KeyType::Range).map_err(build)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(attr::RUN_ID).map_err(build)?)
            .attribute_definitions(attribute(attr::SWEEP).map_err(build)?)
            .key_schema(key(attr::RUN_ID, KeyType::Hash).map_err(build)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ResourceInUseException") => Ok(()),
            Err(error) => Err(self.error("CreateTable", error)),
        }
    }

    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| self.error("DescribeTable", e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Err(StoreError {
            backend: "dynamodb",
            detail: format!(
                "table {:?} did not become ACTIVE within 2 minutes",
                self.table
            ),
        })
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.error("DescribeTimeToLive", e))?;
        let description = current.time_to_live_description();
        let enabled = matches!(
            description.and_then(|d| d.time_to_live_status()),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        if enabled && description.and_then(|d| d.attribute_name()) == Some(attr::EXPIRES_AT) {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attr::EXPIRES_AT)
            .build()
            .map_err(|e| StoreError {
                backend: "dynamodb",
                detail: format!("TTL definition: {e}"),
            })?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|e| self.error("UpdateTimeToLive", e))?;
        Ok(())
    }

    async fn enable_point_in_time_recovery(&self) -> Result<(), StoreError> {
        let specification = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| StoreError {
                backend: "dynamodb",
                detail: format!("PITR definition: {e}"),
            })?;
        self.client
            .update_continuous_backups()
            .table_name(&self.table)
            .point_in_time_recovery_specification(specification)
            .send()
            .await
            .map_err(|e| self.error("UpdateContinuousBackups", e))?;
        Ok(())
    }

    /// One conditional UpdateItem; `false` when the condition did not hold.
    async fn update(&self, run_id: &str, update: Update) -> Result<bool, StoreError> {
        self.ops.count(Op::Update);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::RUN_ID, AttributeValue::S(run_id.to_string()))
            .update_expression(update.expression())
            .condition_expression(update.condition)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(self.error("UpdateItem", error)),
        }
    }
}

/// For a registration refused because the run exists: its state (`pending` when the
/// item has none, as a hand-written one may).
fn conflict_state(error: &PutItemError) -> Option<&str> {
    let PutItemError::ConditionalCheckFailedException(conflict) = error else {
        return None;
    };
    let state = conflict.item().and_then(|item| item.get(attr::STATE));
    Some(
        state
            .and_then(|state| state.as_s().ok())
            .map_or("pending", String::as_str),
    )
}

fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

fn raw_record(item: &Item) -> RawRecord {
    RawRecord(
        item.iter()
            .map(|(name, value)| {
                let value = match value {
                    AttributeValue::S(text) => RawValue::S(text.clone()),
                    AttributeValue::N(number) => RawValue::N(number.clone()),
                    AttributeValue::Bool(_) => RawValue::Other("BOOL"),
                    AttributeValue::Null(_) => RawValue::Other("NULL"),
                    AttributeValue::L(_) => RawValue::Other("L"),
                    AttributeValue::M(_) => RawValue::Other("M"),
                    AttributeValue::B(bytes) => RawValue::Blob(bytes.as_ref().to_vec()),
                    _ => RawValue::Other("set"),
                };
                (name.clone(), value)
            })
            .collect(),
    )
}

/// An UpdateItem under construction: `SET`/`REMOVE` clauses, a condition, and the
/// placeholders they use (DynamoDB rejects unused ones, so they are added as used).
#[derive(Default)]
struct Update {
    sets: Vec<String>,
    removes: Vec<String>,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    fn value(&mut self, key: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{key}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attribute: &str, value: AttributeValue) {
        let (name, value) = (self.name(attribute), self.value(attribute, value));
        self.sets.push(format!("{name} = {value}"));
    }

    fn set_text(&mut self, attribute: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.set(attribute, AttributeValue::S(text.to_string()));
        }
    }

    fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.removes.push(name);
    }

    fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        expression
    }
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl Store for DynamoStore {
    async fn init(&self) -> Result<(), StoreError> {
        self.create_table().await?;
        self.wait_until_active().await?;
        self.enable_ttl().await?;
        self.enable_point_in_time_recovery().await
    }

    async fn register(&self, registration: &Registration) -> Result<Registered, StoreError> {
        self.ops.count(Op::Put);
        let mut item: Item = HashMap::from([
            (attr::RUN_ID.to_string(), text(registration.run_id.as_str())),
            (attr::STATE.to_string(), text("pending")),
            (attr::SWEEP.to_string(), text(OPEN)),
            (
                attr::REGISTERED_AT.to_string(),
                number(registration.registered_at),
            ),
        ]);
        if let Some(base) = &registration.base_url {
            item.insert(attr::BASE_URL.to_string(), text(&base.to_string()));
        }
        if let Some(deadline) = registration.deadline_at {
            item.insert(attr::DEADLINE_AT.to_string(), number(deadline));
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::RUN_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Registered::Created),
            Err(SdkError::ServiceError(failure)) if conflict_state(failure.err()).is_some() => {
                let state = conflict_state(failure.err()).unwrap_or("pending");
                Ok(Registered::AlreadyRegistered(state.to_string()))
            }
            Err(error) => Err(self.error("PutItem", error)),
        }
    }

    async fn unregister(&self, run_id: &RunId) -> Result<bool, StoreError> {
        self.ops.count(Op::Delete);
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::RUN_ID, text(run_id.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.error("DeleteItem", e))?;
        Ok(deleted.attributes().is_some_and(|item| !item.is_empty()))
    }

    async fn open_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.ops.count(Op::Query);
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(SWEEP_INDEX)
                .key_condition_expression("#sweep = :open")
                .expression_attribute_names("#sweep", attr::SWEEP)
                .expression_attribute_values(":open", text(OPEN))
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            records.extend(page.items().iter().map(raw_record));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }

    async fn all_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.ops.count(Op::Scan);
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Scan", e))?;
            records.extend(page.items().iter().map(raw_record));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }

    async fn record(&self, run_id: &str) -> Result<Option<RawRecord>, StoreError> {
        self.ops.count(Op::Get);
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::RUN_ID, text(run_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        Ok(read.item().map(raw_record))
    }

    async fn claim(&self, run_id: &RunId, claim: &Claim<'_>) -> Result<bool, StoreError> {
        let mut update = Update::default();
        update.set(attr::STATE, text("claimed"));
        update.set(attr::CLAIM_OWNER, text(claim.owner));
        update.set(attr::CLAIM_UNTIL, number(claim.until));
        let (sweep, state, until) = (
            update.name(attr::SWEEP),
            update.name(attr::STATE),
            update.name(attr::CLAIM_UNTIL),
        );
        let (pending, claimed, now) = (
            update.value("pending", text("pending")),
            update.value("claimedState", text("claimed")),
            update.value("now", number(claim.now)),
        );
        update.condition = format!(
            "attribute_exists({sweep}) AND (attribute_not_exists({state}) OR {state} = {pending} OR ({state} = {claimed} AND {until} < {now}))"
        );
        if let Some(stall) = claim.stall {
            let (announced, stall) = (
                update.name(attr::STALL_NOTIFIED_FOR),
                update.value("stall", text(stall)),
            );
            update.condition.push_str(&format!(
                " AND (attribute_not_exists({announced}) OR {announced} <> {stall})"
            ));
        }
        self.update(run_id.as_str(), update).await
    }

    async fn complete(
        &self,
        run_id: &RunId,
        owner: &str,
        completion: &Completion,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        let fields = CompletionFields::of(completion);
        let mut update = Update::default();
        update.set(attr::STATE, text(completion.next_state()));
        update.set_text(attr::MESSAGE_ID, fields.message_id.as_deref());
        update.set_text(attr::OUTCOME, fields.outcome.as_deref());
        update.set_text(attr::COUNTS, fields.counts.as_deref());
        update.set_text(attr::FAILURE, fields.failure.as_deref());
        update.set_text(attr::STALL_NOTIFIED_FOR, fields.stall.as_deref());
        if completion.is_final() {
            update.set(attr::FINISHED_AT, number(stamp.now));
            update.set(attr::EXPIRES_AT, number(stamp.expires_at));
            update.remove(attr::SWEEP);
        }
        update.remove(attr::CLAIM_OWNER);
        let until_name = update.name(attr::CLAIM_UNTIL);
        update.removes.push(until_name);
        let (state, owner_name) = (update.name(attr::STATE), update.name(attr::CLAIM_OWNER));
        let (claimed, owner) = (
            update.value("claimedState", text("claimed")),
            update.value("owner", text(owner)),
        );
        update.condition = format!("{state} = {claimed} AND {owner_name} = {owner}");
        self.update(run_id.as_str(), update).await
    }

    async fn set_aside(
        &self,
        key: &RawValue,
        reason: &str,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        // The table's key is a string; an item can have no other kind of runId.
        let RawValue::S(run_id) = key else {
            return Ok(false);
        };
        let mut update = Update::default();
        update.set(attr::STATE, text("failed"));
        update.set(attr::FAILURE, text(reason));
        update.set(attr::FINISHED_AT, number(stamp.now));
        update.set(attr::EXPIRES_AT, number(stamp.expires_at));
        update.remove(attr::SWEEP);
        update.remove(attr::CLAIM_OWNER);
        update.remove(attr::CLAIM_UNTIL);
        let sweep = update.name(attr::SWEEP);
        update.condition = format!("attribute_exists({sweep})");
        self.update(run_id, update).await
    }

    fn op_counts(&self) -> OpCounts {
        self.ops.snapshot()
    }
}
