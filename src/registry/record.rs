//! A registration and its notification state.

use std::fmt;

use super::raw::{attr, RawRecord, RawValue};
use crate::links::{RunId, RuntimeBase};

/// Where a record is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for its run to finish.
    Pending,
    /// A sweeper is posting a notice for it.
    Claimed {
        /// The sweeper.
        owner: String,
        /// When the claim may be taken over, epoch ms.
        until: i64,
    },
    /// The finish was announced.
    Notified,
    /// The deadline passed; the notice was sent and the run is no longer polled.
    Expired,
    /// Discord refused the webhook, or the record is malformed: an operator must look.
    Failed,
}

impl State {
    /// The name stored in the record.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed { .. } => "claimed",
            Self::Notified => "notified",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    /// Whether a sweep still has work for this record at `now` (epoch ms): pending, or
    /// claimed by a sweeper whose lease has run out.
    pub fn is_claimable(&self, now: i64) -> bool {
        match self {
            Self::Pending => true,
            Self::Claimed { until, .. } => *until < now,
            _ => false,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The run.
    pub run_id: RunId,
    /// The runtime to ask about it, when not the default one.
    pub base_url: Option<RuntimeBase>,
    /// When it was registered, epoch ms (absent on hand-written items).
    pub registered_at: Option<i64>,
    /// When to stop waiting, epoch ms.
    pub deadline_at: Option<i64>,
    /// Where it is in its life.
    pub state: State,
    /// The stall already announced (see [`attr::STALL_NOTIFIED_FOR`]).
    pub stall_notified_for: Option<String>,
    /// The last outcome announced.
    pub outcome: Option<String>,
    /// The counts line last announced.
    pub counts: Option<String>,
    /// The Discord message id of the last notice.
    pub message_id: Option<String>,
    /// When it finished, epoch ms.
    pub finished_at: Option<i64>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// Why a raw record cannot be used. Reported once, with the run id, and the record is
/// set aside; it never stops a sweep.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed registration {run_id:?}: {reason}")]
pub struct Malformed {
    /// The run id as found (or a placeholder when missing).
    pub run_id: String,
    /// What is wrong.
    pub reason: String,
}

/// A new registration, before it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The run.
    pub run_id: RunId,
    /// Its runtime, when not the default.
    pub base_url: Option<RuntimeBase>,
    /// Now, epoch ms.
    pub registered_at: i64,
    /// When to stop waiting, epoch ms.
    pub deadline_at: Option<i64>,
}

/// Checks that a run id can be registered. Beyond what a URL needs, a registered id must
/// not contain `/` or `..`: a stored id is later joined into URLs and shown in tables by
/// tools we do not control, where such ids read as paths.
pub fn check_registrable(run_id: &RunId) -> Result<(), String> {
    let id = run_id.as_str();
    if id.contains('/') {
        Err("a registered run id must not contain '/'".into())
    } else if id.contains("..") {
        Err("a registered run id must not contain '..'".into())
    } else {
        Ok(())
    }
}

impl Record {
    /// Checks a raw record: the run id, the state, the types of every attribute, the base
    /// URL. A minimal hand-written item (`runId` and `sweep` only) is a pending record.
    pub fn parse(raw: &RawRecord) -> Result<Self, Malformed> {
        let malformed = |reason: String| Malformed {
            run_id: raw.run_id_for_display(),
            reason,
        };
        let run_id = match raw.get(attr::RUN_ID) {
            // The key must be usable as stored: a trimmed copy would address no record,
            // and every claim would miss it forever.
            Some(RawValue::S(id)) if !id.trim().is_empty() && id.trim() != id => {
                return Err(malformed(format!(
                    "runId has surrounding whitespace; unregister it and register {:?}",
                    id.trim()
                )))
            }
            Some(RawValue::S(id)) => RunId::parse(id).map_err(|e| malformed(e.to_string()))?,
            Some(_) => return Err(malformed("runId is not a string".into())),
            None => return Err(malformed("runId is missing".into())),
        };
        check_registrable(&run_id).map_err(malformed)?;
        let base_url = text(raw, attr::BASE_URL)
            .map_err(malformed)?
            .map(|url| RuntimeBase::parse(&url).map_err(|e| malformed(format!("baseUrl: {e}"))))
            .transpose()?;
        let state = match text(raw, attr::STATE).map_err(malformed)?.as_deref() {
            None | Some("pending") => State::Pending,
            Some("claimed") => State::Claimed {
                owner: text(raw, attr::CLAIM_OWNER)
                    .map_err(malformed)?
                    .ok_or_else(|| malformed("a claimed record needs claimOwner".into()))?,
                until: number(raw, attr::CLAIM_UNTIL)
                    .map_err(malformed)?
                    .ok_or_else(|| malformed("a claimed record needs claimUntil".into()))?,
            },
            Some("notified") => State::Notified,
            Some("expired") => State::Expired,
            Some("failed") => State::Failed,
            Some(other) => return Err(malformed(format!("unknown state {other:?}"))),
        };
        Ok(Self {
            run_id,
            base_url,
            registered_at: number(raw, attr::REGISTERED_AT).map_err(malformed)?,
            deadline_at: number(raw, attr::DEADLINE_AT).map_err(malformed)?,
            state,
            stall_notified_for: text(raw, attr::STALL_NOTIFIED_FOR).map_err(malformed)?,
            outcome: text(raw, attr::OUTCOME).map_err(malformed)?,
            counts: text(raw, attr::COUNTS).map_err(malformed)?,
            message_id: text(raw, attr::MESSAGE_ID).map_err(malformed)?,
            finished_at: number(raw, attr::FINISHED_AT).map_err(malformed)?,
            failure: text(raw, attr::FAILURE).map_err(malformed)?,
        })
    }
}

fn text(raw: &RawRecord, name: &str) -> Result<Option<String>, String> {
    match raw.get(name) {
        None => Ok(None),
        Some(RawValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn number(raw: &RawRecord, name: &str) -> Result<Option<i64>, String> {
    match raw.get(name) {
        None => Ok(None),
        Some(RawValue::N(value)) => value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            // Epoch milliseconds fit an i64 for the next few hundred million years.
            .map(|n| Some(n as i64))
            .ok_or_else(|| format!("{name} is not a number: {value:?}")),
        Some(_) => Err(format!("{name} must be a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fields: &[(&str, RawValue)]) -> RawRecord {
        RawRecord(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn s(value: &str) -> RawValue {
        RawValue::S(value.into())
    }

    fn n(value: &str) -> RawValue {
        RawValue::N(value.into())
    }

    #[test]
    fn the_minimal_hand_written_item_is_pending() {
        let record =
            Record::parse(&raw(&[("runId", s("run-1")), ("sweep", s("open"))])).expect("valid");
        assert_eq!(record.run_id.as_str(), "run-1");
        assert_eq!(record.state, State::Pending);
        assert_eq!(record.base_url, None);
    }

    #[test]
    fn a_full_claimed_record_parses() {
        let record = Record::parse(&raw(&[
            ("runId", s("run-1")),
            ("baseUrl", s("https://rt.example")),
            ("registeredAt", n("1700000000000")),
            ("deadlineAt", n("1700000600000")),
            ("state", s("claimed")),
            ("claimOwner", s("me")),
            ("claimUntil", n("1700000120000")),
            ("stallNotifiedFor", s("2026-01-01T00:00:00Z")),
        ]))
        .expect("valid");
        assert_eq!(
            record.state,
            State::Claimed {
                owner: "me".into(),
                until: 1_700_000_120_000
            }
        );
        assert!(record.state.is_claimable(1_700_000_120_001));
        assert!(!record.state.is_claimable(1_700_000_120_000));
        assert_eq!(record.deadline_at, Some(1_700_000_600_000));
    }

    #[test]
    fn every_kind_of_malformed_record_is_named() {
        let cases = [
            (raw(&[("sweep", s("open"))]), "runId is missing"),
            (raw(&[("runId", n("5"))]), "runId is not a string"),
            (raw(&[("runId", s("  "))]), "empty"),
            (raw(&[("runId", s(" run-w "))]), "surrounding whitespace"),
            (raw(&[("runId", s("a/b"))]), "'/'"),
            (raw(&[("runId", s("x..y"))]), "'..'"),
            (
                raw(&[("runId", s("r")), ("baseUrl", s("ftp://x"))]),
                "baseUrl",
            ),
            (
                raw(&[("runId", s("r")), ("baseUrl", n("1"))]),
                "baseUrl must be a string",
            ),
            (
                raw(&[("runId", s("r")), ("state", s("done"))]),
                "unknown state",
            ),
            (
                raw(&[("runId", s("r")), ("state", s("claimed"))]),
                "claimOwner",
            ),
            (
                raw(&[("runId", s("r")), ("registeredAt", s("yesterday"))]),
                "registeredAt must be a number",
            ),
            (
                raw(&[("runId", s("r")), ("deadlineAt", n("soon"))]),
                "not a number",
            ),
            (
                raw(&[("runId", s("r")), ("state", RawValue::Other("BOOL"))]),
                "state must be a string",
            ),
        ];
        for (record, expected) in cases {
            let error = Record::parse(&record).expect_err("malformed");
            assert!(
                error.to_string().contains(expected),
                "{error} lacks {expected:?}"
            );
        }
        let error = Record::parse(&raw(&[("runId", s("a/b"))])).expect_err("malformed");
        assert_eq!(error.run_id, "a/b");
    }

    #[test]
    fn only_pending_and_lapsed_claims_are_claimable() {
        assert!(State::Pending.is_claimable(0));
        for done in [State::Notified, State::Expired, State::Failed] {
            assert!(!done.is_claimable(i64::MAX));
        }
    }
}
