//! The embedded default: one SQLite file, safe for several processes at once.
//!
//! SQLite serialises writers on the file, and every transition below is a single
//! `UPDATE … WHERE <expected state>` (one atomic transaction), so two sweepers racing for
//! a record cannot both win: the loser's update matches no row. WAL mode lets readers
//! (a sweep finding open runs) proceed while another process writes, and `busy_timeout`
//! makes writers wait their turn instead of failing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::completion_fields::CompletionFields;
use super::{Claim, Completion, Op, OpCounter, OpCounts, Registered, Stamp, Store, StoreError};
use crate::links::RunId;
use crate::registry::raw::OPEN;
use crate::registry::{RawRecord, RawValue, Registration};

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// Version 1: one row per registration; columns are named like the DynamoDB attributes.
/// The partial index on `sweep` is the SQLite twin of DynamoDB's sparse index: it holds
/// open runs only, so finding work costs nothing for finished ones.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS runs (
    runId            TEXT PRIMARY KEY NOT NULL,
    baseUrl          TEXT,
    registeredAt     INTEGER,
    deadlineAt       INTEGER,
    state            TEXT,
    sweep            TEXT,
    claimOwner       TEXT,
    claimUntil       INTEGER,
    messageId        TEXT,
    outcome          TEXT,
    counts           TEXT,
    finishedAt       INTEGER,
    failure          TEXT,
    stallNotifiedFor TEXT,
    expiresAt        INTEGER
);
-- Serves `sweep = 'open'` (which implies NOT NULL) while holding open rows only.
CREATE INDEX IF NOT EXISTS runs_open ON runs (sweep) WHERE sweep IS NOT NULL;
";

/// How long a writer waits for another process's write to end.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Registrations in a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
    ops: Arc<OpCounter>,
}

fn error(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError {
        backend: "sqlite",
        detail: format!("{}: {detail}", path.display()),
    }
}

impl SqliteStore {
    /// Opens (creating the directory, the file and the schema as needed) and migrates.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let owned = path.to_path_buf();
        let connection = tokio::task::spawn_blocking(move || open_and_migrate(&owned))
            .await
            .map_err(|e| error(path, e))??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_path_buf(),
            ops: Arc::default(),
        })
    }

    /// Runs `work` on the connection, off the async threads (SQLite calls block).
    async fn with<T: Send + 'static>(
        &self,
        op: Op,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.ops.count(op);
        let connection = Arc::clone(&self.connection);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| error(&path, "a previous operation panicked"))?;
            work(&mut connection).map_err(|e| error(&path, e))
        })
        .await
        .map_err(|e| error(&self.path, e))?
    }
}

fn open_and_migrate(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| error(path, format!("cannot create its directory: {e}")))?;
    }
    let mut connection = Connection::open(path).map_err(|e| {
        error(
            path,
            format!("cannot open: {e}; check the path is a writable file"),
        )
    })?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| error(path, e))?;
    // WAL: readers do not block the writer. FULL: a committed claim or completion
    // survives a crash of the machine, not only of the process.
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
        .map_err(|e| error(path, e))?;
    migrate(&mut connection).map_err(|e| error(path, e))?;
    Ok(connection)
}

/// Brings the schema to [`SCHEMA_VERSION`] inside one write transaction, so processes
/// starting together migrate once.
fn migrate(connection: &mut Connection) -> Result<(), String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version: i64 = transaction
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(format!(
            "the file has schema version {version}, written by a newer run-notifier; upgrade this one"
        ));
    }
    if version < 1 {
        transaction.execute_batch(SCHEMA_V1).map_err(sql)?;
    }
    transaction
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sql)?;
    transaction.commit().map_err(sql)
}

/// A row as a raw record: NULL columns are absent attributes.
fn raw_record(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    let mut record = RawRecord::default();
    for (index, name) in row.as_ref().column_names().enumerate() {
        let value = match row.get_ref(index)? {
            ValueRef::Null => continue,
            ValueRef::Integer(n) => RawValue::N(n.to_string()),
            ValueRef::Real(n) => RawValue::N(n.to_string()),
            ValueRef::Text(text) => RawValue::S(String::from_utf8_lossy(text).into_owned()),
            ValueRef::Blob(bytes) => RawValue::Blob(bytes.to_vec()),
        };
        record.0.insert(name.to_string(), value);
    }
    Ok(record)
}

fn select(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<RawRecord>> {
    let mut statement = connection.prepare(sql)?;
    let rows = statement.query_map(params, raw_record)?;
    rows.collect()
}

impl Store for SqliteStore {
    async fn init(&self) -> Result<(), StoreError> {
        // `open` already created and migrated the schema.
        Ok(())
    }

    async fn register(&self, registration: &Registration) -> Result<Registered, StoreError> {
        let registration = registration.clone();
        self.with(Op::Put, move |connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let inserted = transaction.execute(
                "INSERT INTO runs (runId, baseUrl, registeredAt, deadlineAt, state, sweep)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5) ON CONFLICT (runId) DO NOTHING",
                params![
                    registration.run_id.as_str(),
                    registration.base_url.as_ref().map(ToString::to_string),
                    registration.registered_at,
                    registration.deadline_at,
                    OPEN
                ],
            )?;
            let outcome = if inserted == 1 {
                Registered::Created
            } else {
                let state: Option<String> = transaction.query_row(
                    "SELECT state FROM runs WHERE runId = ?1",
                    [registration.run_id.as_str()],
                    |row| row.get(0),
                )?;
                Registered::AlreadyRegistered(state.unwrap_or_else(|| "pending".into()))
            };
            // Registrations are where the table grows, so that is where it is pruned:
            // finished records past their retention go (the TTL DynamoDB applies itself).
            transaction.execute(
                "DELETE FROM runs WHERE sweep IS NULL AND expiresAt < ?1",
                [registration.registered_at / 1000],
            )?;
            transaction.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn unregister(&self, run_id: &RunId) -> Result<bool, StoreError> {
        let run_id = run_id.as_str().to_string();
        self.with(Op::Delete, move |connection| {
            Ok(connection.execute("DELETE FROM runs WHERE runId = ?1", [run_id])? > 0)
        })
        .await
    }

    async fn open_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        self.with(Op::Query, |connection| {
            select(
                connection,
                "SELECT * FROM runs WHERE sweep = 'open' ORDER BY runId",
                [],
            )
        })
        .await
    }

    async fn all_records(&self) -> Result<Vec<RawRecord>, StoreError> {
        self.with(Op::Scan, |connection| {
            select(
                connection,
                "SELECT * FROM runs ORDER BY registeredAt, runId",
                [],
            )
        })
        .await
    }

    async fn record(&self, run_id: &str) -> Result<Option<RawRecord>, StoreError> {
        let run_id = run_id.to_string();
        self.with(Op::Get, move |connection| {
            connection
                .query_row("SELECT * FROM runs WHERE runId = ?1", [run_id], raw_record)
                .optional()
        })
        .await
    }

    async fn claim(&self, run_id: &RunId, claim: &Claim<'_>) -> Result<bool, StoreError> {
        let (run_id, owner, stall) = (
            run_id.as_str().to_string(),
            claim.owner.to_string(),
            claim.stall.map(String::from),
        );
        let (now, until) = (claim.now, claim.until);
        self.with(Op::Update, move |connection| {
            let changed = connection.execute(
                "UPDATE runs SET state = 'claimed', claimOwner = ?2, claimUntil = ?3
                 WHERE runId = ?1 AND sweep = 'open'
                   AND (state IS NULL OR state = 'pending' OR (state = 'claimed' AND claimUntil < ?4))
                   AND (?5 IS NULL OR stallNotifiedFor IS NULL OR stallNotifiedFor <> ?5)",
                params![run_id, owner, until, now, stall],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn complete(
        &self,
        run_id: &RunId,
        owner: &str,
        completion: &Completion,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        let (run_id, owner) = (run_id.as_str().to_string(), owner.to_string());
        let fields = CompletionFields::of(completion);
        let (state, is_final) = (completion.next_state(), completion.is_final());
        self.with(Op::Update, move |connection| {
            let changed = connection.execute(
                "UPDATE runs SET
                    state = ?3,
                    sweep = CASE WHEN ?4 THEN NULL ELSE sweep END,
                    claimOwner = NULL, claimUntil = NULL,
                    messageId = COALESCE(?5, messageId),
                    outcome = COALESCE(?6, outcome),
                    counts = COALESCE(?7, counts),
                    failure = COALESCE(?8, failure),
                    stallNotifiedFor = COALESCE(?9, stallNotifiedFor),
                    finishedAt = CASE WHEN ?4 THEN ?10 ELSE finishedAt END,
                    expiresAt = CASE WHEN ?4 THEN ?11 ELSE expiresAt END
                 WHERE runId = ?1 AND state = 'claimed' AND claimOwner = ?2",
                params![
                    run_id,
                    owner,
                    state,
                    is_final,
                    fields.message_id,
                    fields.outcome,
                    fields.counts,
                    fields.failure,
                    fields.stall,
                    stamp.now,
                    stamp.expires_at
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn set_aside(
        &self,
        key: &RawValue,
        reason: &str,
        stamp: Stamp,
    ) -> Result<bool, StoreError> {
        // The key exactly as stored, text or bytes, so even a hand-written row with a
        // binary id can be set aside.
        let run_id = match key {
            RawValue::S(text) | RawValue::N(text) => rusqlite::types::Value::Text(text.clone()),
            RawValue::Blob(bytes) => rusqlite::types::Value::Blob(bytes.clone()),
            RawValue::Other(_) => return Ok(false),
        };
        let reason = reason.to_string();
        self.with(Op::Update, move |connection| {
            let changed = connection.execute(
                "UPDATE runs SET state = 'failed', failure = ?2, finishedAt = ?3, expiresAt = ?4,
                    sweep = NULL, claimOwner = NULL, claimUntil = NULL
                 WHERE runId = ?1 AND sweep = 'open'",
                params![run_id, reason, stamp.now, stamp.expires_at],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    fn op_counts(&self) -> OpCounts {
        self.ops.snapshot()
    }
}
