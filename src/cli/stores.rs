//! The Phase 2 commands that only touch the store: `register`, `unregister`, `status`
//! and `store init`. Wiring and presentation only.

use std::io::Write;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::args::{RegisterArgs, StatusArgs, StoreArgs, UnregisterArgs};
use super::fail;
use crate::registry::raw::attr;
use crate::registry::record::check_registrable;
use crate::registry::{now_millis, Malformed, RawRecord, RawValue, Record, Registration};
use crate::store::{AnyStore, Registered, Store, StoreError, StoreSpec};

/// Exit codes of the store commands.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// The store failed.
    pub const STORE: u8 = 1;
    /// Bad configuration.
    pub const CONFIG: u8 = 2;
}

/// Opens the store named by `--store`/`NOTIFIER_STORE`, or the default SQLite file.
pub async fn open(args: &StoreArgs) -> Result<AnyStore, u8> {
    let spec = match &args.store {
        Some(spec) => spec.clone(),
        None => StoreSpec::default_sqlite().map_err(|e| fail(exit::CONFIG, &e))?,
    };
    tracing::debug!(store = %spec, "opening the store");
    spec.open().await.map_err(|e| store_failed(&e))
}

/// `store init`.
pub async fn init(args: StoreArgs) -> u8 {
    let store = match open(&args).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.init().await {
        Ok(()) => {
            eprintln!("store ready");
            exit::OK
        }
        Err(error) => store_failed(&error),
    }
}

/// `register`.
pub async fn register(args: RegisterArgs) -> u8 {
    for run_id in &args.run_ids {
        if let Err(reason) = check_registrable(run_id) {
            return fail(
                exit::CONFIG,
                &format!("cannot register {:?}: {reason}", run_id.as_str()),
            );
        }
    }
    let store = match open(&args.store).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let now = now_millis();
    for run_id in args.run_ids {
        let registration = Registration {
            run_id,
            base_url: args.base_url.clone(),
            registered_at: now,
            deadline_at: args.max_wait.map(|wait| {
                now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
            }),
        };
        match store.register(&registration).await {
            Ok(Registered::Created) => println!("registered {}", registration.run_id),
            Ok(Registered::AlreadyRegistered(state)) => {
                println!(
                    "{} was already registered ({state}); left unchanged",
                    registration.run_id
                )
            }
            Err(error) => return store_failed(&error),
        }
    }
    exit::OK
}

/// `unregister`.
pub async fn unregister(args: UnregisterArgs) -> u8 {
    let store = match open(&args.store).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    for run_id in &args.run_ids {
        match store.unregister(run_id).await {
            Ok(true) => println!("unregistered {run_id}"),
            Ok(false) => println!("{run_id} was not registered"),
            Err(error) => return store_failed(&error),
        }
    }
    exit::OK
}

/// One line of `status`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusRow {
    run_id: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl StatusRow {
    fn of(record: &Record) -> Self {
        let note = record.failure.clone().or_else(|| {
            record
                .stall_notified_for
                .as_ref()
                .map(|stall| format!("stall announced (no change since {stall})"))
        });
        Self {
            run_id: record.run_id.to_string(),
            state: record.state.to_string(),
            outcome: record.outcome.clone(),
            counts: record.counts.clone(),
            registered_at: record.registered_at.and_then(format_millis),
            deadline_at: record.deadline_at.and_then(format_millis),
            finished_at: record.finished_at.and_then(format_millis),
            message_id: record.message_id.clone(),
            note,
        }
    }
}

impl StatusRow {
    /// A record that does not parse: `failed` with the reason the sweep stored when a
    /// sweep has set it aside, `malformed` until then.
    fn malformed(raw: &RawRecord, malformed: Malformed) -> Self {
        let stored = |name| match raw.get(name) {
            Some(RawValue::S(text)) => Some(text.clone()),
            _ => None,
        };
        let set_aside = stored(attr::STATE).as_deref() == Some("failed");
        Self {
            run_id: malformed.run_id,
            state: if set_aside { "failed" } else { "malformed" }.into(),
            outcome: None,
            counts: None,
            registered_at: None,
            deadline_at: None,
            finished_at: None,
            message_id: None,
            note: Some(
                stored(attr::FAILURE)
                    .filter(|_| set_aside)
                    .unwrap_or(malformed.reason),
            ),
        }
    }
}

/// `status`.
pub async fn status(args: StatusArgs) -> u8 {
    let store = match open(&args.store).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let raws = match &args.run_id {
        Some(run_id) => store
            .record(run_id.trim())
            .await
            .map(|raw| raw.into_iter().collect()),
        None => store.all_records().await,
    };
    let raws = match raws {
        Ok(raws) => raws,
        Err(error) => return store_failed(&error),
    };
    if let (Some(run_id), true) = (&args.run_id, raws.is_empty()) {
        return fail(exit::CONFIG, &format!("{run_id:?} is not registered"));
    }
    let rows: Vec<StatusRow> = raws
        .iter()
        .map(|raw| match Record::parse(raw) {
            Ok(record) => StatusRow::of(&record),
            Err(malformed) => StatusRow::malformed(raw, malformed),
        })
        .collect();
    let text = if args.json {
        serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
    } else {
        table(&rows)
    };
    // A closed stdout (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().write_all(text.as_bytes());
    exit::OK
}

fn table(rows: &[StatusRow]) -> String {
    if rows.is_empty() {
        return "no registrations\n".to_string();
    }
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
            [
                row.run_id.clone(),
                row.state.clone(),
                dash(&row.outcome),
                dash(&row.counts),
                dash(
                    &row.finished_at
                        .clone()
                        .or_else(|| row.registered_at.clone()),
                ),
                dash(&row.note),
            ]
        })
        .collect();
    let header = ["RUN ID", "STATE", "OUTCOME", "COUNTS", "UPDATED", "NOTE"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(&cells)
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            line.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

fn format_millis(millis: i64) -> Option<String> {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()?;
    time.format(&Rfc3339).ok()
}

/// Reports a failed store.
pub fn store_failed(error: &StoreError) -> u8 {
    fail(exit::STORE, &error.to_string())
}
