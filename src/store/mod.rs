//! Where registrations live: a small trait with two real backends, an embedded SQLite
//! file (the default) and DynamoDB. Both pass one contract test suite
//! (`tests/store_contract.rs`).
//!
//! Every state change is one conditional write on the record itself, keyed by run id:
//! the store, not the sweeper, decides who wins. Reads that *find* work (the sparse index
//! of open runs) may be stale; they never decide anything.

mod completion_fields;
pub mod dynamodb;
pub mod spec;
pub mod sqlite;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::domain::Outcome;
use crate::links::RunId;
use crate::registry::{RawRecord, RawValue, Registration};

pub use spec::{AnyStore, StoreSpec};

/// A store that failed as a whole (unreachable, no table, no permission, corrupt file).
#[derive(Debug, thiserror::Error)]
#[error("{backend} store: {detail}")]
pub struct StoreError {
    /// `sqlite` or `dynamodb`.
    pub backend: &'static str,
    /// What failed and, where known, what to do.
    pub detail: String,
}

/// What `register` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    /// A new pending record.
    Created,
    /// The run was already registered; nothing changed. Holds its state.
    AlreadyRegistered(String),
}

/// A sweeper's bid to post a notice for a run.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// Who claims.
    pub owner: &'a str,
    /// Now, epoch ms: a claim whose lease ended before this may be taken over.
    pub now: i64,
    /// When this claim's lease ends, epoch ms.
    pub until: i64,
    /// For a stall notice: the stall it is about. The claim fails if that stall was
    /// already announced, so each stall is announced once.
    pub stall: Option<&'a str>,
}

/// How a claim ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The finish was announced: the record is done.
    Notified {
        /// Discord's message id.
        message_id: Option<String>,
        /// The outcome announced.
        outcome: Outcome,
        /// The counts line announced.
        counts: String,
    },
    /// The deadline passed and the notice was sent: the run is no longer polled.
    Expired {
        /// Discord's message id.
        message_id: Option<String>,
        /// The last counts seen, if any.
        counts: Option<String>,
    },
    /// Discord refused the webhook: an operator must act.
    Failed {
        /// What Discord said.
        reason: String,
    },
    /// A stall was announced; the run is pending again and remembers which stall.
    StallAnnounced {
        /// The stall (see [`Claim::stall`]).
        stall: String,
        /// Discord's message id.
        message_id: Option<String>,
    },
    /// Nothing was posted (Discord unavailable, or out of time): pending again.
    Released,
}

impl Completion {
    /// The state the record moves to.
    pub fn next_state(&self) -> &'static str {
        match self {
            Self::Notified { .. } => "notified",
            Self::Expired { .. } => "expired",
            Self::Failed { .. } => "failed",
            Self::StallAnnounced { .. } | Self::Released => "pending",
        }
    }

    /// Whether the record leaves the sweep for good (and gets its TTL).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Notified { .. } | Self::Expired { .. } | Self::Failed { .. }
        )
    }
}

/// Times stamped on a completion.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// Now, epoch ms.
    pub now: i64,
    /// When a finished record may be deleted, epoch **seconds** (DynamoDB TTL).
    pub expires_at: i64,
}

/// Store operations by kind, counted by every backend, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Index queries (one per page).
    pub queries: u64,
    /// Whole-table scans (one per page; only `status` without a run id does this).
    pub scans: u64,
    /// Single-record reads.
    pub gets: u64,
    /// Inserts.
    pub puts: u64,
    /// Conditional updates.
    pub updates: u64,
    /// Deletes.
    pub deletes: u64,
}

impl OpCounts {
    /// The operations counted since `earlier` (a snapshot of the same counters).
    pub fn since(&self, earlier: OpCounts) -> OpCounts {
        OpCounts {
            queries: self.queries - earlier.queries,
            scans: self.scans - earlier.scans,
            gets: self.gets - earlier.gets,
            puts: self.puts - earlier.puts,
            updates: self.updates - earlier.updates,
            deletes: self.deletes - earlier.deletes,
        }
    }

    /// Writes of any kind.
    pub fn writes(&self) -> u64 {
        self.puts + self.updates + self.deletes
    }
}

/// Thread-safe counters behind [`OpCounts`].
#[derive(Debug, Default)]
pub struct OpCounter {
    counts: [AtomicU64; 6],
}

/// The kinds of [`OpCounts`], for [`OpCounter::count`].
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// See [`OpCounts::queries`].
    Query,
    /// See [`OpCounts::scans`].
    Scan,
    /// See [`OpCounts::gets`].
    Get,
    /// See [`OpCounts::puts`].
    Put,
    /// See [`OpCounts::updates`].
    Update,
    /// See [`OpCounts::deletes`].
    Delete,
}

impl OpCounter {
    /// Counts one operation.
    pub fn count(&self, op: Op) {
        self.counts[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> OpCounts {
        let get = |op: Op| self.counts[op as usize].load(Ordering::Relaxed);
        OpCounts {
            queries: get(Op::Query),
            scans: get(Op::Scan),
            gets: get(Op::Get),
            puts: get(Op::Put),
            updates: get(Op::Update),
            deletes: get(Op::Delete),
        }
    }
}

/// The operations a sweeper and the CLI need. Each write is conditional; `false` means
/// the condition did not hold (someone else got there first), not an error.
pub trait Store: Send + Sync {
    /// Creates the table or schema; safe to run again.
    fn init(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new pending record unless the run is already registered (then nothing
    /// changes: re-registering never resets a notified run).
    fn register(
        &self,
        registration: &Registration,
    ) -> impl Future<Output = Result<Registered, StoreError>> + Send;

    /// Deletes a run's record; `false` when there was none.
    fn unregister(&self, run_id: &RunId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every open (pending or claimed) record, all pages, through the sparse index.
    fn open_records(&self) -> impl Future<Output = Result<Vec<RawRecord>, StoreError>> + Send;

    /// Every record (for `status`; a scan on DynamoDB, never used by a sweep).
    fn all_records(&self) -> impl Future<Output = Result<Vec<RawRecord>, StoreError>> + Send;

    /// One record, read consistently.
    fn record(
        &self,
        run_id: &str,
    ) -> impl Future<Output = Result<Option<RawRecord>, StoreError>> + Send;

    /// Takes the record for a notice if it is pending, or claimed with a lapsed lease
    /// (and, for a stall, if that stall was not announced yet). `true` if we hold it now.
    fn claim(
        &self,
        run_id: &RunId,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends `owner`'s claim with `completion`. `false` if `owner` no longer holds it
    /// (its lease ran out and another sweeper took over).
    fn complete(
        &self,
        run_id: &RunId,
        owner: &str,
        completion: &Completion,
        stamp: Stamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets a malformed record aside (failed, out of the index, with `reason`), so it is
    /// reported once and never blocks a sweep again. `key` is the record's `runId` exactly
    /// as the store handed it over (untrimmed, possibly not even text); `false` when no
    /// open record has that key, or the store cannot address such a key.
    fn set_aside(
        &self,
        key: &RawValue,
        reason: &str,
        stamp: Stamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Operations so far, by kind.
    fn op_counts(&self) -> OpCounts;
}
