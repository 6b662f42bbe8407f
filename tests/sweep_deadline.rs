//! A sweep with a deadline (as in the Lambda) stops taking claims when too little time
//! is left, cuts a post that would outlive the deadline, and leaves no claim half-done:
//! every record it claimed is completed or released before it returns, so the next
//! sweep announces the rest exactly once, without waiting for a lease to run out.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{run_of, task};
use run_notifier::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use run_notifier::discord::{DiscordClient, WebhookUrl};
use run_notifier::links::{RunId, RuntimeBase};
use run_notifier::registry::{now_millis, Record, Registration, State};
use run_notifier::runtime::RuntimeClient;
use run_notifier::secret::Secret;
use run_notifier::sim::discord::{DiscordCapture, DiscordFault};
use run_notifier::sim::runtime::RuntimeSimulator;
use run_notifier::store::sqlite::SqliteStore;
use run_notifier::store::Store;
use run_notifier::sweep::{SweepConfig, Sweeper};
use tokio::time::Instant;

const RUNS: usize = 6;
/// The time the cut sweep has.
const WINDOW: Duration = Duration::from_millis(1500);
/// How late past its deadline the cut sweep may return on a busy machine: the writes
/// that complete or release its claims, and the looks at the runs it defers.
const SLACK: Duration = Duration::from_millis(1000);

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

fn states(records: &[Record]) -> Vec<(String, State)> {
    records
        .iter()
        .map(|record| (record.run_id.to_string(), record.state.clone()))
        .collect()
}

async fn records(store: &SqliteStore) -> Vec<Record> {
    store
        .all_records()
        .await
        .expect("the store reads")
        .iter()
        .map(|raw| Record::parse(raw).expect("a well-formed record"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_cut_short_by_its_deadline_releases_no_claims_half_done() {
    let runtime = RuntimeSimulator::new(None);
    let runtime_server = runtime.spawn(loopback()).await.expect("runtime starts");
    let discord = DiscordCapture::with_bucket(100_000, Duration::from_secs(1));
    let discord_server = discord.spawn(loopback()).await.expect("capture starts");

    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db"))
        .await
        .expect("the file opens");
    store.init().await.expect("init");
    let run_ids: Vec<String> = (0..RUNS).map(|i| format!("cut-{i}")).collect();
    for run_id in &run_ids {
        runtime.upsert_run(run_of(run_id, vec![task("t-1", "Build", &[(0.0, "done")])]));
        let registration = Registration {
            run_id: RunId::parse(run_id).expect("a run id"),
            base_url: None,
            registered_at: now_millis(),
            deadline_at: None,
        };
        store.register(&registration).await.expect("registered");
    }

    let http = run_notifier::http::client(Duration::from_secs(5)).expect("HTTP client");
    let runtime_client =
        RuntimeClient::new(http.clone(), None, run_notifier::runtime::DEFAULT_RETRY)
            .expect("runtime client");
    let webhook = WebhookUrl::parse(&Secret::new(
        discord_server.webhook_url(common::WEBHOOK_ID, common::TOKEN),
    ))
    .expect("the capture's webhook");
    let notifier = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);

    // One at a time: the first post is slow but lands; the second is held by Discord's
    // edge past the deadline (and never posted); the rest must wait for the next sweep.
    discord.push_faults([
        DiscordFault::Slow(Duration::from_millis(250)),
        DiscordFault::Blackhole(Duration::from_secs(3)),
    ]);
    let started = Instant::now();
    let mut config = SweepConfig {
        default_base: RuntimeBase::parse(&runtime_server.base_url()).expect("base URL"),
        owner: "deadline-test".into(),
        lease: Duration::from_secs(60),
        concurrency: 1,
        stall_after: None,
        retention: Duration::from_secs(86_400),
        deadline: Some(started + WINDOW),
        claim_budget: Duration::from_millis(500),
    };
    let cut = Sweeper::new(&store, &runtime_client, &notifier, &config)
        .sweep()
        .await
        .expect("the sweep runs");
    let took = started.elapsed();
    eprintln!("the cut sweep took {took:?}: {cut:?}");

    assert!(
        took < WINDOW + SLACK,
        "the sweep returned {took:?} after it started, its window was {WINDOW:?}: {cut:?}"
    );
    assert_eq!(cut.checked, RUNS as u64, "{cut:?}");
    assert!(cut.deferred > 0, "notices were left for later: {cut:?}");
    assert!(
        cut.notified < RUNS as u64,
        "the sweep was cut short: {cut:?}"
    );
    let after_cut = records(&store).await;
    assert!(
        after_cut
            .iter()
            .all(|record| !matches!(record.state, State::Claimed { .. })),
        "no claim is left half-done: {:?}",
        states(&after_cut)
    );
    let notified = after_cut
        .iter()
        .filter(|record| record.state == State::Notified)
        .count();
    assert_eq!(notified as u64, cut.notified, "{:?}", states(&after_cut));
    assert_eq!(
        after_cut
            .iter()
            .filter(|record| record.state == State::Pending)
            .count(),
        RUNS - notified,
        "the rest are pending again: {:?}",
        states(&after_cut)
    );
    assert_eq!(discord.messages().len(), notified, "{cut:?}");

    // The next sweep, without a deadline, takes the released records at once (no lease
    // to wait out) and announces each of the rest exactly once.
    config.deadline = None;
    config.claim_budget = Duration::ZERO;
    let next = Sweeper::new(&store, &runtime_client, &notifier, &config)
        .sweep()
        .await
        .expect("the next sweep runs");
    eprintln!("the next sweep: {next:?}");
    assert_eq!(next.notified, (RUNS - notified) as u64, "{next:?}");
    assert_eq!(next.deferred, 0, "{next:?}");
    let messages = discord.messages();
    for run_id in &run_ids {
        let wanted = format!("Run finished: {run_id}");
        let count = messages
            .iter()
            .filter(|m| common::text(common::embed(m), "title") == wanted)
            .count();
        assert_eq!(count, 1, "one message for {run_id}");
    }
    assert_eq!(messages.len(), RUNS);
    let after_next = records(&store).await;
    assert!(
        after_next
            .iter()
            .all(|record| record.state == State::Notified),
        "{:?}",
        states(&after_next)
    );
    assert_eq!(discord.violations(), Vec::<String>::new());
}

/// A runtime that hangs cannot hold a sweep past its deadline: the look is abandoned, the
/// run deferred, and nothing is claimed.
#[tokio::test]
async fn a_hung_runtime_cannot_hold_a_sweep_past_its_deadline() {
    let runtime = RuntimeSimulator::new(None);
    let runtime_server = runtime.spawn(loopback()).await.expect("runtime starts");
    runtime.upsert_run(run_of("hung", vec![task("t-1", "Build", &[(0.0, "done")])]));
    runtime.push_faults([
        run_notifier::sim::runtime::RuntimeFault::Slow(Duration::from_secs(30)),
        run_notifier::sim::runtime::RuntimeFault::Slow(Duration::from_secs(30)),
    ]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db"))
        .await
        .expect("the file opens");
    let registration = Registration {
        run_id: RunId::parse("hung").expect("a run id"),
        base_url: None,
        registered_at: now_millis(),
        deadline_at: None,
    };
    store.register(&registration).await.expect("registered");
    let http = run_notifier::http::client(Duration::from_secs(60)).expect("HTTP client");
    let runtime_client =
        RuntimeClient::new(http.clone(), None, run_notifier::runtime::DEFAULT_RETRY)
            .expect("runtime client");
    let discord = DiscordCapture::new();
    let discord_server = discord.spawn(loopback()).await.expect("capture starts");
    let webhook = WebhookUrl::parse(&Secret::new(
        discord_server.webhook_url(common::WEBHOOK_ID, common::TOKEN),
    ))
    .expect("the capture's webhook");
    let notifier = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
    let started = Instant::now();
    let config = SweepConfig {
        default_base: RuntimeBase::parse(&runtime_server.base_url()).expect("base URL"),
        owner: "hung-test".into(),
        lease: Duration::from_secs(60),
        concurrency: 4,
        stall_after: None,
        retention: Duration::from_secs(86_400),
        deadline: Some(started + Duration::from_secs(1)),
        claim_budget: Duration::from_millis(200),
    };
    let summary = Sweeper::new(&store, &runtime_client, &notifier, &config)
        .sweep()
        .await
        .expect("the sweep runs");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(summary.deferred, 1, "{summary:?}");
    assert!(discord.attempts().is_empty());
    assert!(records(&store)
        .await
        .iter()
        .all(|r| r.state == State::Pending));
}
