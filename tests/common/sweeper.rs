//! The sweeper's harness: a [`World`] whose Discord capture has a roomy bucket (separate
//! sweeper processes cannot share a rate limiter), a store per backend (a SQLite temp
//! file, or a fresh DynamoDB table on the serial moto) with a raw writer past every check
//! of the store, and the store commands of the real binary (`register`, `sweep`, `serve`,
//! `status`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use run_notifier::registry::{RawRecord, RawValue};
use run_notifier::sim::discord::{CapturedMessage, DiscordCapture};
use run_notifier::sim::runtime::RuntimeSimulator;
use run_notifier::store::dynamodb::DynamoStore;
use run_notifier::store::sqlite::SqliteStore;
use run_notifier::store::{AnyStore, Store};
use tempfile::TempDir;
use tokio::process::Command;

use super::moto::moto;
use super::stores::{RawAttr, RawWriter};
use super::{binary, embed, run, text, Finished, World};

/// How long one store command may take on a loaded machine.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:<temp dir>/state.db`.
    Sqlite,
    /// `dynamodb:<fresh table>` on the moto that answers one request at a time
    /// (`common::moto`): the threaded `moto_server` checks an UpdateItem's condition and
    /// writes without a lock, so two concurrent claims on one record can both win there,
    /// which real DynamoDB never allows (seen here: on the threaded server, the eight-sweeper
    /// test announced one run twice in 2 of 10 runs on a loaded machine).
    DynamoDb,
}

/// One attribute of a hand-written record.
#[derive(Clone, Debug)]
pub enum Raw {
    /// DynamoDB `S`, SQLite TEXT.
    S(String),
    /// DynamoDB `N`, SQLite INTEGER.
    N(i64),
    /// DynamoDB `BOOL`, SQLite BLOB: a type no attribute of ours uses.
    Odd,
}

/// `Raw::S`.
pub fn s(value: &str) -> Raw {
    Raw::S(value.to_string())
}

/// The store of one test, and how a child process reaches it.
pub struct TestStore {
    pub backend: Backend,
    /// `NOTIFIER_STORE` and, for DynamoDB, the AWS environment of the moto server.
    pub env: Vec<(&'static str, String)>,
    place: Place,
}

enum Place {
    Sqlite {
        path: PathBuf,
        _dir: TempDir,
    },
    DynamoDb {
        table: String,
        client: aws_sdk_dynamodb::Client,
    },
}

impl TestStore {
    /// A new, empty store with its schema or table.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let path = dir.path().join("state.db");
                SqliteStore::open(&path).await.expect("the file is created");
                Self {
                    backend,
                    env: vec![("NOTIFIER_STORE", format!("sqlite:{}", path.display()))],
                    place: Place::Sqlite { path, _dir: dir },
                }
            }
            Backend::DynamoDb => {
                let moto = moto();
                let (table, _) = moto.fresh_table().await;
                let mut env = vec![("NOTIFIER_STORE", format!("dynamodb:{table}"))];
                env.extend(moto.env());
                Self {
                    backend,
                    env,
                    place: Place::DynamoDb {
                        table,
                        client: moto.client(),
                    },
                }
            }
        }
    }

    /// Adds the store's environment to a command.
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// A library handle on the same data (for reads only: the binary does the writes).
    pub async fn open(&self) -> AnyStore {
        match &self.place {
            Place::Sqlite { path, .. } => {
                AnyStore::Sqlite(SqliteStore::open(path).await.expect("the file opens"))
            }
            Place::DynamoDb { table, client } => {
                AnyStore::DynamoDb(DynamoStore::new(client.clone(), table.clone()))
            }
        }
    }

    /// The record of `run_id` as stored, read consistently.
    pub async fn raw(&self, run_id: &str) -> Option<RawRecord> {
        self.open()
            .await
            .record(run_id)
            .await
            .expect("the store reads")
    }

    /// Puts a record exactly as given, past every check of the store: a raw `INSERT`
    /// into the same SQLite file, or a plain `PutItem`. Names are attribute (column) names.
    pub async fn put_raw(&self, item: &[(&str, Raw)]) {
        let item: Vec<(&str, RawAttr<'_>)> = item
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Raw::S(text) => RawAttr::S(text),
                    Raw::N(number) => RawAttr::N(*number),
                    Raw::Odd => RawAttr::Odd,
                };
                (*name, value)
            })
            .collect();
        let writer = match &self.place {
            Place::Sqlite { path, .. } => RawWriter::Sqlite(path.clone()),
            Place::DynamoDb { table, client } => RawWriter::DynamoDb {
                client: client.clone(),
                table: table.clone(),
            },
        };
        writer.put(&item).await;
    }
}

/// A number attribute of a raw record.
pub fn raw_number(record: &RawRecord, name: &str) -> Option<i64> {
    match record.get(name)? {
        RawValue::N(number) => number.parse::<f64>().ok().map(|n| n as i64),
        _ => None,
    }
}

/// The runtime, the capture and the store of one sweeper test.
pub struct SweepWorld {
    pub world: World,
    pub store: TestStore,
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl SweepWorld {
    /// Both servers and a fresh store; the runtime wants no API key.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with_key(backend, None).await
    }

    /// Both servers and a fresh store; the runtime wants `api_key` when given. The
    /// capture's bucket is big enough that only Discord's other rules apply.
    pub async fn start_with_key(backend: Backend, api_key: Option<&str>) -> Self {
        let runtime = RuntimeSimulator::new(api_key.map(String::from));
        let runtime_server = runtime
            .spawn(loopback())
            .await
            .expect("runtime simulator starts");
        let discord = DiscordCapture::with_bucket(100_000, Duration::from_secs(1));
        if let Some(dir) = std::env::var_os("DISCORD_BODIES_DIR") {
            discord.record_bodies_to(PathBuf::from(dir));
        }
        let discord_server = discord.spawn(loopback()).await.expect("capture starts");
        let world = World {
            runtime,
            runtime_server,
            discord,
            discord_server,
        };
        let store = TestStore::new(backend).await;
        Self { world, store }
    }

    /// The binary with a clean environment plus the store's.
    pub fn command(&self, subcommand: &str) -> Command {
        let mut command = binary();
        command.arg(subcommand);
        self.store.apply(&mut command);
        command
    }

    /// `run-notifier sweep` against this world: the runtime without a key, the capture's
    /// webhook, short HTTP timeouts.
    pub fn sweep(&self) -> Command {
        let mut command = self.command("sweep");
        self.against_world(&mut command);
        command
    }

    /// `run-notifier serve`, like [`Self::sweep`], sweeping every `poll_seconds`.
    pub fn serve(&self, poll_seconds: f64) -> Command {
        let mut command = self.command("serve");
        self.against_world(&mut command)
            .env("POLL_SECONDS", poll_seconds.to_string());
        command
    }

    /// The runtime (without a key), the capture's webhook and short HTTP timeouts.
    fn against_world<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("BASE_URL", self.world.runtime_server.base_url())
            .env("DISCORD_WEBHOOK_URL", self.world.webhook_url())
            .env("HTTP_TIMEOUT_SECONDS", "5")
    }

    /// One sweep, which must exit 0.
    pub async fn sweep_ok(&self) -> Finished {
        self.sweep_ok_with(&mut self.sweep()).await
    }

    /// Runs a sweep command, which must exit 0.
    pub async fn sweep_ok_with(&self, command: &mut Command) -> Finished {
        let done = run(command, COMMAND_LIMIT).await;
        assert_eq!(
            done.code, 0,
            "sweep failed:\n{}\n{}",
            done.stdout, done.stderr
        );
        done
    }

    /// `run-notifier register <ids> <extra>`, which must exit 0.
    pub async fn register(&self, run_ids: &[&str], extra: &[&str]) -> Finished {
        let done = run(
            self.command("register").args(run_ids).args(extra),
            COMMAND_LIMIT,
        )
        .await;
        assert_eq!(done.code, 0, "register failed: {}", done.stderr);
        done
    }

    /// `status --json` (of one run, or of all) as parsed JSON rows.
    pub async fn status(&self, run_id: Option<&str>) -> Vec<serde_json::Value> {
        let mut command = self.command("status");
        command.args(run_id).arg("--json");
        let done = run(&mut command, COMMAND_LIMIT).await;
        assert_eq!(done.code, 0, "status failed: {}", done.stderr);
        serde_json::from_str(&done.stdout)
            .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {}", done.stdout))
    }

    /// The status row of one run.
    pub async fn status_of(&self, run_id: &str) -> serde_json::Value {
        let mut rows = self.status(Some(run_id)).await;
        assert_eq!(rows.len(), 1, "one row for {run_id}: {rows:?}");
        rows.remove(0)
    }

    /// The messages the capture accepted.
    pub fn messages(&self) -> Vec<CapturedMessage> {
        self.world.messages()
    }

    /// The titles of the messages accepted so far, in order.
    pub fn titles(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|message| title(message).to_string())
            .collect()
    }

    /// Requests that reached the webhook so far, whatever their answer.
    pub fn attempts(&self) -> usize {
        self.world.discord.attempts().len()
    }
}

/// A message's embed title.
pub fn title(message: &CapturedMessage) -> &str {
    text(embed(message), "title")
}

/// A message's embed description.
pub fn description(message: &CapturedMessage) -> &str {
    text(embed(message), "description")
}

/// The `sweep` summary a run printed on stdout.
pub fn summary(done: &Finished) -> serde_json::Value {
    serde_json::from_str(done.stdout.trim())
        .unwrap_or_else(|e| panic!("the sweep prints a JSON summary ({e}): {}", done.stdout))
}

/// Waits until `condition` holds, checking every 10 ms, for at most `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
