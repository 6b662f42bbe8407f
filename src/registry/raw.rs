//! A record as a store hands it over: named attributes with loosely typed values, before
//! anything is trusted. DynamoDB items and SQLite rows both become this, so malformed
//! input is judged once, in [`super::record`], for every store.

use std::collections::BTreeMap;

/// Attribute names, shared by the DynamoDB item and the SQLite columns.
pub mod attr {
    /// Partition key: the run id (S).
    pub const RUN_ID: &str = "runId";
    /// Optional per-run runtime base URL (S).
    pub const BASE_URL: &str = "baseUrl";
    /// Registration time, epoch ms (N).
    pub const REGISTERED_AT: &str = "registeredAt";
    /// Optional deadline, epoch ms (N).
    pub const DEADLINE_AT: &str = "deadlineAt";
    /// `pending`, `claimed`, `notified`, `expired` or `failed` (S); absent means pending.
    pub const STATE: &str = "state";
    /// The sparse index key: present (value [`super::OPEN`]) only while the run is
    /// pending or claimed, so the index holds exactly the runs a sweep must look at.
    pub const SWEEP: &str = "sweep";
    /// Who holds the claim (S).
    pub const CLAIM_OWNER: &str = "claimOwner";
    /// When the claim's lease ends, epoch ms (N).
    pub const CLAIM_UNTIL: &str = "claimUntil";
    /// The Discord message id of the last notice (S).
    pub const MESSAGE_ID: &str = "messageId";
    /// `success` or `attention-required` (S).
    pub const OUTCOME: &str = "outcome";
    /// The counts line when the run was last announced (S).
    pub const COUNTS: &str = "counts";
    /// When the record reached notified, expired or failed, epoch ms (N).
    pub const FINISHED_AT: &str = "finishedAt";
    /// Why the record failed (S).
    pub const FAILURE: &str = "failure";
    /// The stall the last stall notice was about: the newest task `updatedAt` then (S).
    pub const STALL_NOTIFIED_FOR: &str = "stallNotifiedFor";
    /// TTL, epoch seconds (N): finished records disappear after the retention period.
    pub const EXPIRES_AT: &str = "expiresAt";
}

/// The value of [`attr::SWEEP`] on open records.
pub const OPEN: &str = "open";

/// One attribute value, as loosely as stores give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawValue {
    /// A string.
    S(String),
    /// A number, in its decimal text form.
    N(String),
    /// Bytes (only a hand-written SQLite row can have them; kept so the row stays
    /// addressable by its key).
    Blob(Vec<u8>),
    /// Any other type, by name (`BOOL`, `L`, `M`...), which no attribute of ours uses.
    Other(&'static str),
}

/// A record's attributes by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRecord(pub BTreeMap<String, RawValue>);

impl RawRecord {
    /// The attribute `name`, if present.
    pub fn get(&self, name: &str) -> Option<&RawValue> {
        self.0.get(name)
    }

    /// The run id as text, whatever else is wrong with the record, for error messages.
    pub fn run_id_for_display(&self) -> String {
        match self.get(attr::RUN_ID) {
            Some(RawValue::S(id) | RawValue::N(id)) => id.clone(),
            Some(RawValue::Blob(bytes)) => format!("<binary runId of {} bytes>", bytes.len()),
            Some(RawValue::Other(kind)) => format!("<runId of type {kind}>"),
            None => "<no runId>".to_string(),
        }
    }
}
