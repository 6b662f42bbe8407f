//! The store contract: what a sweeper may rely on, whichever backend holds the
//! registrations. Every case is written once, generic over [`Store`], and run against
//! SQLite (a file in a temporary directory) and DynamoDB (a fresh table on a moto server
//! that, like DynamoDB, applies writes one at a time: see `common::moto`),
//! so the two backends cannot drift apart.
//!
//! After the shared cases come the DynamoDB-only acceptance criteria (no Scan and no
//! write in a sweep that has nothing to say, every page of the index is read) and the
//! real binary's `store init` and error reporting.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::moto::moto;
use common::stores::{dynamodb_fixture, sqlite_fixture, Fixture, RawAttr};
use common::{binary, run, run_of, task, TOKEN, WEBHOOK_ID};
use run_notifier::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use run_notifier::discord::{DiscordClient, WebhookUrl};
use run_notifier::domain::Outcome;
use run_notifier::links::{RunId, RuntimeBase};
use run_notifier::registry::raw::{attr, OPEN};
use run_notifier::registry::{now_millis, RawRecord, RawValue, Record, Registration, State};
use run_notifier::runtime::{self, RuntimeClient};
use run_notifier::secret::Secret;
use run_notifier::sim::discord::DiscordCapture;
use run_notifier::sim::runtime::RuntimeSimulator;
use run_notifier::store::dynamodb::{DynamoStore, SWEEP_INDEX};
use run_notifier::store::{Claim, Completion, OpCounts, Registered, Stamp, Store};
use run_notifier::sweep::{SweepConfig, SweepSummary, Sweeper};

/// How long the claims of these tests protect their record.
const LEASE_MS: i64 = 60_000;

/// How long a finished record is kept (the CLI's default, 30 days), in seconds.
const RETENTION_S: i64 = 30 * 86_400;

/// Limit for a run of the binary.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn id(raw: &str) -> RunId {
    RunId::parse(raw).expect("a valid run id")
}

fn s(text: &str) -> RawValue {
    RawValue::S(text.to_string())
}

fn n(number: i64) -> RawValue {
    RawValue::N(number.to_string())
}

fn registration(run_id: &str, now: i64) -> Registration {
    Registration {
        run_id: id(run_id),
        base_url: None,
        registered_at: now,
        deadline_at: None,
    }
}

/// A claim by `owner` at `now`, holding the record for [`LEASE_MS`].
fn claim(owner: &str, now: i64) -> Claim<'_> {
    Claim {
        owner,
        now,
        until: now + LEASE_MS,
        stall: None,
    }
}

/// The stamp a sweeper puts on a completion at `now` (TTL in epoch seconds).
fn stamp(now: i64) -> Stamp {
    Stamp {
        now,
        expires_at: now / 1000 + RETENTION_S,
    }
}

fn notified() -> Completion {
    Completion::Notified {
        message_id: Some("1300000000000000001".into()),
        outcome: Outcome::AttentionRequired,
        counts: "done=12 failed=2 blocked=1 total=15".into(),
    }
}

async fn record<S: Store>(store: &S, run_id: &str) -> RawRecord {
    store
        .record(run_id)
        .await
        .expect("the store answers")
        .unwrap_or_else(|| panic!("{run_id} is stored"))
}

async fn state<S: Store>(store: &S, run_id: &str) -> Option<RawValue> {
    record(store, run_id).await.get(attr::STATE).cloned()
}

/// The run ids `open_records` lists, in order, duplicates kept.
async fn open_ids<S: Store>(store: &S) -> Vec<String> {
    let mut ids: Vec<String> = store
        .open_records()
        .await
        .expect("the open records can be listed")
        .iter()
        .map(RawRecord::run_id_for_display)
        .collect();
    ids.sort();
    ids
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = list.iter().map(ToString::to_string).collect();
    ids.sort();
    ids
}

/// Registers `run_id` and takes it through a claim to `completion`.
async fn finish_as<S: Store>(store: &S, run_id: &str, completion: &Completion, now: i64) {
    store
        .register(&registration(run_id, now))
        .await
        .expect("register");
    assert!(store
        .claim(&id(run_id), &claim("finisher", now))
        .await
        .expect("claim"));
    assert!(store
        .complete(&id(run_id), "finisher", completion, stamp(now))
        .await
        .expect("complete"));
}

/// Asserts a finished record left the sweep for good: its final state, no index key, no
/// claim, its times stamped, and not listed open nor claimable again.
async fn assert_final<S: Store>(store: &S, run_id: &str, expected_state: &str, now: i64) {
    let stored = record(store, run_id).await;
    assert_eq!(
        stored.get(attr::STATE),
        Some(&s(expected_state)),
        "{stored:?}"
    );
    for gone in [attr::SWEEP, attr::CLAIM_OWNER, attr::CLAIM_UNTIL] {
        assert_eq!(stored.get(gone), None, "{gone} is removed: {stored:?}");
    }
    assert_eq!(stored.get(attr::FINISHED_AT), Some(&n(now)), "{stored:?}");
    assert_eq!(
        stored.get(attr::EXPIRES_AT),
        Some(&n(now / 1000 + RETENTION_S)),
        "the TTL is in epoch seconds: {stored:?}"
    );
    assert!(
        !open_ids(store).await.contains(&run_id.to_string()),
        "a {expected_state} record is not open"
    );
    // Much later, whoever asks: a final record is never claimed again.
    let later = now + 10 * LEASE_MS;
    assert!(!store
        .claim(&id(run_id), &claim("latecomer", later))
        .await
        .expect("claim"));
}

// ---------------------------------------------------------------------------------------
// The contract, once for every backend
// ---------------------------------------------------------------------------------------

/// Generates one `#[tokio::test]` per case and backend: `sqlite::<case>` and
/// `dynamodb::<case>`, each on its own file or table so they run in parallel.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::sqlite_fixture().await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::dynamodb_fixture().await).await;
                }
            )*
        }
    };
}

contract!(
    register_creates_a_pending_record_and_never_resets_one,
    unregister_deletes_and_tells_whether_there_was_a_record,
    open_records_lists_pending_and_claimed_records_only,
    claim_is_exclusive_even_among_concurrent_sweepers,
    a_lapsed_lease_can_be_taken_over_and_a_live_one_cannot,
    only_the_owner_completes_and_notified_is_final,
    released_and_stall_announced_reopen_the_record,
    expired_and_failed_completions_are_final,
    set_aside_fails_a_malformed_record_once,
    the_minimal_hand_written_item_is_a_pending_record,
    a_hand_written_id_with_surrounding_spaces_is_swept_or_set_aside,
    init_is_idempotent,
    store_operations_are_counted_by_kind,
);

async fn register_creates_a_pending_record_and_never_resets_one<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    let first = Registration {
        run_id: id("run-1"),
        base_url: Some(RuntimeBase::parse("http://runtime.example:5080").expect("a base")),
        registered_at: now,
        deadline_at: Some(now + 3_600_000),
    };
    assert_eq!(store.register(&first).await.unwrap(), Registered::Created);
    let created = record(store, "run-1").await;
    assert_eq!(created.get(attr::STATE), Some(&s("pending")));
    assert_eq!(created.get(attr::SWEEP), Some(&s(OPEN)));
    let parsed = Record::parse(&created).expect("a registered record parses");
    assert_eq!(parsed.state, State::Pending);
    assert_eq!(parsed.base_url, first.base_url);
    assert_eq!(parsed.registered_at, Some(now));
    assert_eq!(parsed.deadline_at, first.deadline_at);
    assert_eq!(open_ids(store).await, ids(&["run-1"]));

    // A second registration, different in every field, leaves the record as it was.
    let again = Registration {
        run_id: id("run-1"),
        base_url: None,
        registered_at: now + 1_000,
        deadline_at: None,
    };
    assert_eq!(
        store.register(&again).await.unwrap(),
        Registered::AlreadyRegistered("pending".into())
    );
    assert_eq!(record(store, "run-1").await, created);

    // Once announced, registering again must not reopen the run: that would announce
    // its finish a second time.
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert!(store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(now))
        .await
        .unwrap());
    let announced = record(store, "run-1").await;
    assert_eq!(
        store.register(&again).await.unwrap(),
        Registered::AlreadyRegistered("notified".into())
    );
    assert_eq!(record(store, "run-1").await, announced);
    assert_eq!(open_ids(store).await, Vec::<String>::new());
}

async fn unregister_deletes_and_tells_whether_there_was_a_record<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    store
        .register(&registration("run-1", now_millis()))
        .await
        .unwrap();
    assert!(store.unregister(&id("run-1")).await.unwrap());
    assert_eq!(store.record("run-1").await.unwrap(), None);
    assert_eq!(open_ids(store).await, Vec::<String>::new());
    // Gone already, or never there: nothing to delete.
    assert!(!store.unregister(&id("run-1")).await.unwrap());
    assert!(!store.unregister(&id("never-registered")).await.unwrap());
}

async fn open_records_lists_pending_and_claimed_records_only<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    // Any text is a run id, spaces and non-ASCII included.
    for run_id in ["pending", "nightly build ü #7", "claimed", "lapsed"] {
        store.register(&registration(run_id, now)).await.unwrap();
    }
    assert!(store
        .claim(&id("claimed"), &claim("sweeper-a", now))
        .await
        .unwrap());
    // A claim whose lease already ended (its sweeper crashed) is still open work.
    let crashed = Claim {
        until: now - 1,
        ..claim("crashed", now - LEASE_MS)
    };
    assert!(store.claim(&id("lapsed"), &crashed).await.unwrap());
    finish_as(store, "notified", &notified(), now).await;
    let expired = Completion::Expired {
        message_id: None,
        counts: None,
    };
    finish_as(store, "expired", &expired, now).await;
    let failed = Completion::Failed {
        reason: "Discord answered 404 Unknown Webhook".into(),
    };
    finish_as(store, "failed", &failed, now).await;

    let open = store.open_records().await.unwrap();
    let mut listed: Vec<String> = open.iter().map(RawRecord::run_id_for_display).collect();
    listed.sort();
    assert_eq!(
        listed,
        ids(&["claimed", "lapsed", "nightly build ü #7", "pending"])
    );
    // What the index hands over is the whole record, ready to parse.
    for raw in &open {
        let parsed = Record::parse(raw).expect("an open record parses");
        assert!(matches!(
            parsed.state,
            State::Pending | State::Claimed { .. }
        ));
    }
}

async fn claim_is_exclusive_even_among_concurrent_sweepers<S: Store + Clone + 'static>(
    fx: &Fixture<S>,
) {
    let store = &fx.store;
    let now = now_millis();
    store.register(&registration("run-1", now)).await.unwrap();
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert!(!store
        .claim(&id("run-1"), &claim("sweeper-b", now))
        .await
        .unwrap());
    assert_eq!(
        record(store, "run-1").await.get(attr::CLAIM_OWNER),
        Some(&s("sweeper-a"))
    );
    // Claiming a run nobody registered is refused, not an error (and creates nothing).
    assert!(!store
        .claim(&id("unknown"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert_eq!(store.record("unknown").await.unwrap(), None);

    // 16 sweepers at once, half through a second connection or client, as separate
    // processes would be: exactly one wins.
    store.register(&registration("run-2", now)).await.unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let handle = if i % 2 == 0 {
            fx.store.clone()
        } else {
            fx.other.clone()
        };
        racers.spawn(async move {
            let owner = format!("racer-{i:02}");
            let won = handle
                .claim(&id("run-2"), &claim(&owner, now))
                .await
                .expect("claim");
            (owner, won)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = racers.join_next().await {
        let (owner, won) = joined.expect("the racer ran");
        if won {
            winners.push(owner);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_eq!(
        record(store, "run-2").await.get(attr::CLAIM_OWNER),
        Some(&s(&winners[0])),
        "the record names the winner"
    );
}

async fn a_lapsed_lease_can_be_taken_over_and_a_live_one_cannot<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    store.register(&registration("run-1", now)).await.unwrap();
    let until = now + LEASE_MS;
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    // Up to and including the last millisecond of the lease, the claim holds.
    for at in [now, until - 1, until] {
        assert!(
            !store
                .claim(&id("run-1"), &claim("sweeper-b", at))
                .await
                .unwrap(),
            "the lease is live at {at} (until {until})"
        );
    }
    // Once it has ended (sweeper-a crashed mid-post), another sweeper takes over.
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-b", until + 1))
        .await
        .unwrap());
    let taken = record(store, "run-1").await;
    assert_eq!(taken.get(attr::CLAIM_OWNER), Some(&s("sweeper-b")));
    assert_eq!(taken.get(attr::CLAIM_UNTIL), Some(&n(until + 1 + LEASE_MS)));
    // The sweeper that lost its lease can no longer record a notice.
    assert!(!store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(until + 2))
        .await
        .unwrap());
    assert_eq!(record(store, "run-1").await, taken);

    // A claim made with its lease already in the past is taken over by the next one.
    store.register(&registration("run-2", now)).await.unwrap();
    let stale = Claim {
        until: now - 1,
        ..claim("sweeper-a", now - LEASE_MS)
    };
    assert!(store.claim(&id("run-2"), &stale).await.unwrap());
    assert!(store
        .claim(&id("run-2"), &claim("sweeper-b", now))
        .await
        .unwrap());
    assert_eq!(
        record(store, "run-2").await.get(attr::CLAIM_OWNER),
        Some(&s("sweeper-b"))
    );
}

async fn only_the_owner_completes_and_notified_is_final<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    store.register(&registration("run-1", now)).await.unwrap();
    // Nobody completes a record that is not claimed.
    assert!(!store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(now))
        .await
        .unwrap());
    assert_eq!(state(store, "run-1").await, Some(s("pending")));

    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    let claimed = record(store, "run-1").await;
    assert!(!store
        .complete(&id("run-1"), "sweeper-b", &notified(), stamp(now))
        .await
        .unwrap());
    assert_eq!(record(store, "run-1").await, claimed, "nothing changed");

    assert!(store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(now))
        .await
        .unwrap());
    assert_final(store, "run-1", "notified", now).await;
    let done = record(store, "run-1").await;
    assert_eq!(done.get(attr::OUTCOME), Some(&s("attention-required")));
    assert_eq!(
        done.get(attr::COUNTS),
        Some(&s("done=12 failed=2 blocked=1 total=15"))
    );
    assert_eq!(done.get(attr::MESSAGE_ID), Some(&s("1300000000000000001")));
    let parsed = Record::parse(&done).expect("a notified record parses");
    assert_eq!(parsed.state, State::Notified);
    assert_eq!(parsed.finished_at, Some(now));

    // Completing twice would mean announcing twice: the second one is refused.
    assert!(!store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(now + 1))
        .await
        .unwrap());
    assert_eq!(record(store, "run-1").await, done);
}

async fn released_and_stall_announced_reopen_the_record<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    store.register(&registration("run-1", now)).await.unwrap();

    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert!(store
        .complete(&id("run-1"), "sweeper-a", &Completion::Released, stamp(now))
        .await
        .unwrap());
    let released = record(store, "run-1").await;
    assert_eq!(released.get(attr::STATE), Some(&s("pending")));
    assert_eq!(released.get(attr::SWEEP), Some(&s(OPEN)));
    for gone in [
        attr::CLAIM_OWNER,
        attr::CLAIM_UNTIL,
        attr::FINISHED_AT,
        attr::EXPIRES_AT,
    ] {
        assert_eq!(released.get(gone), None, "{gone}: {released:?}");
    }
    assert_eq!(open_ids(store).await, ids(&["run-1"]));

    let stall_a = "2026-01-01T10:00:00Z";
    let stall_b = "2026-01-01T11:00:00Z";
    let for_stall = |owner, stall| Claim {
        stall: Some(stall),
        ..claim(owner, now)
    };
    assert!(store
        .claim(&id("run-1"), &for_stall("sweeper-a", stall_a))
        .await
        .unwrap());
    let announced = Completion::StallAnnounced {
        stall: stall_a.into(),
        message_id: Some("1300000000000000002".into()),
    };
    assert!(store
        .complete(&id("run-1"), "sweeper-a", &announced, stamp(now))
        .await
        .unwrap());
    let after_stall = record(store, "run-1").await;
    assert_eq!(after_stall.get(attr::STATE), Some(&s("pending")));
    assert_eq!(after_stall.get(attr::SWEEP), Some(&s(OPEN)));
    assert_eq!(after_stall.get(attr::STALL_NOTIFIED_FOR), Some(&s(stall_a)));
    assert_eq!(
        after_stall.get(attr::MESSAGE_ID),
        Some(&s("1300000000000000002"))
    );
    assert_eq!(after_stall.get(attr::EXPIRES_AT), None, "not final: no TTL");
    assert_eq!(open_ids(store).await, ids(&["run-1"]));

    // The same stall is announced once, by whichever sweeper comes next.
    assert!(!store
        .claim(&id("run-1"), &for_stall("sweeper-b", stall_a))
        .await
        .unwrap());
    assert_eq!(record(store, "run-1").await, after_stall);
    // A new stall may be announced...
    assert!(store
        .claim(&id("run-1"), &for_stall("sweeper-b", stall_b))
        .await
        .unwrap());
    assert!(store
        .complete(&id("run-1"), "sweeper-b", &Completion::Released, stamp(now))
        .await
        .unwrap());
    // ...and a claim that is not about a stall (the finish) is not held back by one,
    // nor does a release forget the stall already announced.
    assert_eq!(
        record(store, "run-1").await.get(attr::STALL_NOTIFIED_FOR),
        Some(&s(stall_a))
    );
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-c", now))
        .await
        .unwrap());
}

async fn expired_and_failed_completions_are_final<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();

    finish_as(
        store,
        "run-expired",
        &Completion::Expired {
            message_id: Some("1300000000000000003".into()),
            counts: Some("done=3 building=2 total=5".into()),
        },
        now,
    )
    .await;
    assert_final(store, "run-expired", "expired", now).await;
    let expired = record(store, "run-expired").await;
    assert_eq!(
        expired.get(attr::MESSAGE_ID),
        Some(&s("1300000000000000003"))
    );
    assert_eq!(
        expired.get(attr::COUNTS),
        Some(&s("done=3 building=2 total=5"))
    );
    assert_eq!(
        Record::parse(&expired).expect("parses").state,
        State::Expired
    );

    let reason = "Discord refused the webhook: 404 Unknown Webhook (10015)";
    finish_as(
        store,
        "run-failed",
        &Completion::Failed {
            reason: reason.into(),
        },
        now,
    )
    .await;
    assert_final(store, "run-failed", "failed", now).await;
    let failed = record(store, "run-failed").await;
    assert_eq!(failed.get(attr::FAILURE), Some(&s(reason)));
    assert_eq!(Record::parse(&failed).expect("parses").state, State::Failed);

    // Registering again does not bring them back either.
    for (run_id, final_state) in [("run-expired", "expired"), ("run-failed", "failed")] {
        assert_eq!(
            store.register(&registration(run_id, now)).await.unwrap(),
            Registered::AlreadyRegistered(final_state.into())
        );
    }
    assert_eq!(open_ids(store).await, Vec::<String>::new());
}

async fn set_aside_fails_a_malformed_record_once<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    // Hand-written with a state no version of run-notifier knows.
    fx.raw
        .put(&[
            (attr::RUN_ID, RawAttr::S("run-bad")),
            (attr::SWEEP, RawAttr::S(OPEN)),
            (attr::STATE, RawAttr::S("done")),
        ])
        .await;
    let open = store.open_records().await.unwrap();
    assert_eq!(open.len(), 1);
    let malformed = Record::parse(&open[0]).expect_err("an unknown state is malformed");
    let reason = malformed.to_string();

    assert!(store
        .set_aside(&RawValue::S("run-bad".into()), &reason, stamp(now))
        .await
        .unwrap());
    let set_aside = record(store, "run-bad").await;
    assert_eq!(set_aside.get(attr::STATE), Some(&s("failed")));
    assert_eq!(set_aside.get(attr::FAILURE), Some(&s(&reason)));
    assert_eq!(set_aside.get(attr::SWEEP), None);
    assert_eq!(set_aside.get(attr::FINISHED_AT), Some(&n(now)));
    assert_eq!(
        set_aside.get(attr::EXPIRES_AT),
        Some(&n(now / 1000 + RETENTION_S))
    );
    assert_eq!(open_ids(store).await, Vec::<String>::new());

    // Reported once: a second sweep (or a concurrent one) finds nothing to set aside.
    assert!(!store
        .set_aside(&RawValue::S("run-bad".into()), &reason, stamp(now + 1))
        .await
        .unwrap());
    assert_eq!(record(store, "run-bad").await, set_aside);
    assert!(!store
        .set_aside(&RawValue::S("never-registered".into()), &reason, stamp(now))
        .await
        .unwrap());
    assert_eq!(store.record("never-registered").await.unwrap(), None);
}

async fn the_minimal_hand_written_item_is_a_pending_record<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    // DynamoDB: {"runId":{"S":"run-h"},"sweep":{"S":"open"}};
    // SQLite: INSERT INTO runs (runId, sweep) VALUES ('run-h','open').
    fx.raw
        .put(&[
            (attr::RUN_ID, RawAttr::S("run-h")),
            (attr::SWEEP, RawAttr::S(OPEN)),
        ])
        .await;
    let open = store.open_records().await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let parsed = Record::parse(&open[0]).expect("the minimal item parses");
    assert_eq!(parsed.run_id, id("run-h"));
    assert_eq!(parsed.state, State::Pending);
    assert_eq!(parsed.registered_at, None);
    assert_eq!(
        store.register(&registration("run-h", now)).await.unwrap(),
        Registered::AlreadyRegistered("pending".into()),
        "no state attribute reads as pending"
    );

    assert!(store
        .claim(&id("run-h"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert!(store
        .complete(&id("run-h"), "sweeper-a", &notified(), stamp(now))
        .await
        .unwrap());
    assert_final(store, "run-h", "notified", now).await;
}

/// A sweeper acts on an open record through the id [`Record::parse`] gives it, or sets
/// it aside under its stored key when it does not parse. A hand-typed id with a stray
/// space must end up one way or the other: never open and unreachable, skipped by every
/// sweep without a word.
async fn a_hand_written_id_with_surrounding_spaces_is_swept_or_set_aside<S: Store>(
    fx: &Fixture<S>,
) {
    let store = &fx.store;
    let now = now_millis();
    fx.raw
        .put(&[
            (attr::RUN_ID, RawAttr::S(" run-w ")),
            (attr::SWEEP, RawAttr::S(OPEN)),
        ])
        .await;
    let open = store.open_records().await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    match Record::parse(&open[0]) {
        Ok(record) => assert!(
            store
                .claim(&record.run_id, &claim("sweeper-a", now))
                .await
                .unwrap(),
            "the record parses as {:?}, but a claim on that id does not reach the stored \
             key \" run-w \": every sweep would skip this run forever",
            record.run_id.as_str()
        ),
        Err(malformed) => assert!(store
            .set_aside(
                &RawValue::S(" run-w ".into()),
                &malformed.to_string(),
                stamp(now)
            )
            .await
            .unwrap()),
    }
}

async fn init_is_idempotent<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    store
        .register(&registration("run-1", now_millis()))
        .await
        .unwrap();
    // The fixture initialised the store already; running init again (every deployment
    // does) must neither fail nor lose registrations.
    store.init().await.expect("init on an initialised store");
    store.init().await.expect("and once more");
    assert_eq!(open_ids(store).await, ids(&["run-1"]));
}

async fn store_operations_are_counted_by_kind<S: Store>(fx: &Fixture<S>) {
    let store = &fx.store;
    let now = now_millis();
    let puts = OpCounts {
        puts: 1,
        ..OpCounts::default()
    };
    let updates = OpCounts {
        updates: 1,
        ..OpCounts::default()
    };

    let before = store.op_counts();
    store.register(&registration("run-1", now)).await.unwrap();
    assert_eq!(store.op_counts().since(before), puts, "register");

    let before = store.op_counts();
    assert!(store
        .claim(&id("run-1"), &claim("sweeper-a", now))
        .await
        .unwrap());
    assert_eq!(store.op_counts().since(before), updates, "claim");

    // A refused conditional write is still a write (DynamoDB bills it as one).
    let before = store.op_counts();
    assert!(!store
        .claim(&id("run-1"), &claim("sweeper-b", now))
        .await
        .unwrap());
    assert_eq!(store.op_counts().since(before), updates, "refused claim");

    let before = store.op_counts();
    let open = store.open_records().await.unwrap();
    assert_eq!(open.len(), 1);
    let counted = store.op_counts().since(before);
    assert!(counted.queries >= 1, "open_records queries: {counted:?}");
    assert_eq!(
        counted,
        OpCounts {
            queries: counted.queries,
            ..OpCounts::default()
        },
        "open_records only queries the index"
    );

    let before = store.op_counts();
    record(store, "run-1").await;
    assert_eq!(
        store.op_counts().since(before),
        OpCounts {
            gets: 1,
            ..OpCounts::default()
        },
        "record"
    );

    let before = store.op_counts();
    assert!(store
        .complete(&id("run-1"), "sweeper-a", &notified(), stamp(now))
        .await
        .unwrap());
    assert_eq!(store.op_counts().since(before), updates, "complete");

    let before = store.op_counts();
    assert_eq!(store.all_records().await.unwrap().len(), 1);
    let counted = store.op_counts().since(before);
    assert!(counted.scans >= 1, "all_records scans: {counted:?}");
    assert_eq!(counted.writes() + counted.queries + counted.gets, 0);

    let before = store.op_counts();
    assert!(store.unregister(&id("run-1")).await.unwrap());
    assert_eq!(
        store.op_counts().since(before),
        OpCounts {
            deletes: 1,
            ..OpCounts::default()
        },
        "unregister"
    );
    // The other handle did nothing, so counted nothing: counters are per store.
    assert_eq!(fx.other.op_counts(), OpCounts::default());
}

// ---------------------------------------------------------------------------------------
// DynamoDB acceptance criteria
// ---------------------------------------------------------------------------------------

/// "A sweep of 50 unfinished runs issues no Scan and no write."
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_a_sweep_of_50_unfinished_runs_issues_no_scan_and_no_write() {
    let fx = dynamodb_fixture().await;
    let store = &fx.store;
    let simulator = RuntimeSimulator::new(None);
    let runtime_server = simulator
        .spawn("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the runtime simulator starts");
    let capture = DiscordCapture::new();
    let capture_server = capture
        .spawn("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("the capture starts");

    let now = now_millis();
    for i in 0..50 {
        let run_id = format!("run-{i:02}");
        // Every task stays `building`: the run is not finished, so nothing is due.
        simulator.upsert_run(run_of(
            &run_id,
            vec![
                task("build", "Build", &[(0.0, "building")]),
                task("test", "Test", &[(0.0, "building")]),
            ],
        ));
        store.register(&registration(&run_id, now)).await.unwrap();
    }

    // Built like `run-notifier sweep` builds them (src/cli/sweep.rs), CLI defaults.
    let http = run_notifier::http::client(Duration::from_secs(5)).expect("an HTTP client");
    let runtime_client =
        RuntimeClient::new(http.clone(), None, runtime::DEFAULT_RETRY).expect("a client");
    let webhook = WebhookUrl::parse(&Secret::new(capture_server.webhook_url(WEBHOOK_ID, TOKEN)))
        .expect("the capture's webhook URL");
    let discord = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
    let config = SweepConfig {
        default_base: RuntimeBase::parse(&runtime_server.base_url()).expect("a base"),
        owner: "contract-sweeper".into(),
        lease: Duration::from_secs(120),
        concurrency: 32,
        stall_after: Some(Duration::from_secs(1800)),
        retention: Duration::from_secs(30 * 86_400),
        deadline: None,
        claim_budget: Duration::ZERO,
    };

    let before = store.op_counts();
    let summary = Sweeper::new(store, &runtime_client, &discord, &config)
        .sweep()
        .await
        .expect("the sweep runs");
    let ops = store.op_counts().since(before);

    assert_eq!(
        summary,
        SweepSummary {
            checked: 50,
            ..SweepSummary::default()
        },
        "every run looked at, none due, none in error"
    );
    assert_eq!(ops.scans, 0, "{ops:?}");
    assert_eq!(ops.writes(), 0, "{ops:?}");
    assert!(ops.queries >= 1, "{ops:?}");
    assert_eq!(ops.gets, 0, "the index gives whole records: {ops:?}");
    assert!(
        simulator.request_counts().run >= 50,
        "each run was really read: {:?}",
        simulator.request_counts()
    );
    assert!(capture.attempts().is_empty(), "nothing posted to Discord");
    assert!(capture.messages().is_empty());
    // And the store agrees: all 50 still pending and open.
    assert_eq!(open_ids(store).await.len(), 50);
}

/// "More than one page of pending runs is read whole."
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_more_than_one_page_of_pending_runs_is_read_whole() {
    let (table, _) = moto().fresh_table().await;
    let store = DynamoStore::new(moto().client(), table).with_page_size(7);
    let now = now_millis();
    let mut expected = Vec::new();
    for i in 0..25 {
        let run_id = format!("open-{i:02}");
        store.register(&registration(&run_id, now)).await.unwrap();
        expected.push(run_id);
    }
    // Finished runs are out of the sparse index, so they cost no page.
    for i in 0..5 {
        finish_as(&store, &format!("done-{i:02}"), &notified(), now).await;
    }

    let before = store.op_counts();
    let listed = open_ids(&store).await;
    let ops = store.op_counts().since(before);

    assert_eq!(listed, expected, "exactly the 25 open runs, each once");
    assert!(
        ops.queries >= 4,
        "25 runs at 7 a page take 4 pages: {ops:?}"
    );
    assert_eq!(ops.scans, 0, "{ops:?}");
}

// ---------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------

fn store_command(
    args: &[&str],
    store: &str,
    endpoint_env: &[(&'static str, String)],
) -> tokio::process::Command {
    let mut command = binary();
    command.args(args).env("NOTIFIER_STORE", store);
    for (name, value) in endpoint_env {
        command.env(name, value);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_init_through_the_binary_is_idempotent_and_builds_the_table() {
    let table = format!("rn-init-{}-{:04x}", std::process::id(), fastrand::u16(..));
    let spec = format!("dynamodb:{table}");
    for attempt in ["first", "second"] {
        let done = run(
            &mut store_command(&["store", "init"], &spec, &moto().env()),
            PROCESS_LIMIT,
        )
        .await;
        assert_eq!(done.code, 0, "{attempt} init: {}", done.stderr);
    }

    let client = moto().client();
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table exists");
    let table_description = described.table().expect("a description");
    let keys: Vec<(String, String)> = table_description
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(keys, [("runId".to_string(), "HASH".to_string())]);

    let indexes = table_description.global_secondary_indexes();
    assert_eq!(indexes.len(), 1, "{indexes:?}");
    let index = &indexes[0];
    assert_eq!(index.index_name(), Some(SWEEP_INDEX));
    assert_eq!(SWEEP_INDEX, "sweep-index");
    let index_keys: Vec<(String, String)> = index
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        index_keys,
        [
            ("sweep".to_string(), "HASH".to_string()),
            ("runId".to_string(), "RANGE".to_string())
        ]
    );
    assert_eq!(
        index
            .projection()
            .and_then(|p| p.projection_type())
            .map(|t| t.as_str()),
        Some("ALL")
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("the TTL is described");
    let ttl = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("expiresAt"));
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_an_unreachable_dynamodb_exits_1_and_says_so() {
    // A port that was free a moment ago: nothing listens there.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut env = moto().env();
    env[0].1 = format!("http://127.0.0.1:{closed_port}");
    assert_eq!(env[0].0, "AWS_ENDPOINT_URL");
    let done = run(
        &mut store_command(&["status"], "dynamodb:rn-unreachable", &env),
        PROCESS_LIMIT,
    )
    .await;
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("cannot reach DynamoDB"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_a_missing_dynamodb_table_exits_1_and_points_to_store_init() {
    let done = run(
        &mut store_command(&["status"], "dynamodb:rn-no-such-table", &moto().env()),
        PROCESS_LIMIT,
    )
    .await;
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(done.stderr.contains("store init"), "{}", done.stderr);
    assert!(done.stderr.contains("rn-no-such-table"), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_an_unusable_sqlite_path_exits_1_and_names_the_path() {
    let path = "/proc/run-notifier/state.db";
    let done = run(
        &mut store_command(&["status"], &format!("sqlite:{path}"), &[]),
        PROCESS_LIMIT,
    )
    .await;
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(done.stderr.contains(path), "{}", done.stderr);
}
