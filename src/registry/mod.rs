//! Phase 2's durable registrations: what a registered run's record holds, the states it
//! moves through, and how a raw item read from any store becomes a record, or is judged
//! malformed. Pure: the stores only move these records in and out.
//!
//! ```text
//!   register            claim (conditional)          post ok
//!  ─────────▶ pending ─────────────────────▶ claimed ───────────▶ notified
//!               ▲  ▲                          │  │  │   deadline ─▶ expired
//!               │  └──── released / stall ────┘  │  └─ rejected ──▶ failed
//!               └──── lease expired: taken over ─┘
//! ```

pub mod raw;
pub mod record;

pub use raw::{RawRecord, RawValue};
pub use record::{Malformed, Record, Registration, State};

/// The current time in epoch milliseconds, the unit of every time in a record (TTL
/// excepted, which DynamoDB wants in seconds).
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
