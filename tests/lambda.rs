//! The Lambda end to end: the real `run-notifier-lambda` binary served by
//! `cargo lambda watch --only-lambda-apis` (the Lambda Runtime API only, no build), against
//! DynamoDB and Secrets Manager on moto, the runtime simulator and the Discord capture.
//! Runs are registered with the real CLI, and every sample event in `events/` is sent
//! with `cargo lambda invoke`.
//!
//! Needs `.venv` (moto_server and cargo-lambda): `scripts/test.sh` installs it.

mod common;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use common::sweeper::{title, Backend, SweepWorld};
use common::*;
use run_notifier::sim::discord::CapturedMessage;
use serde_json::Value;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How long one `cargo lambda invoke` may take on a loaded machine.
const INVOKE_LIMIT: Duration = Duration::from_secs(90);
/// The sweep's time when the invocation's deadline is unusable (always, under watch).
const BUDGET_SECONDS: &str = "30";
/// A second webhook of the capture, for rotation; its token must never show either.
const WEBHOOK_B: &str = "998877665544332211";
const TOKEN_B: &str = "tOkEn-SeCrEt-b2e4d6";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo_lambda() -> PathBuf {
    let path = manifest_dir().join(".venv/bin/cargo-lambda");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh once, it installs the pinned cargo-lambda into .venv",
        path.display()
    );
    path
}

/// The sample events, sorted by name: every `events/*.json`, so a new one is covered.
fn sample_events() -> Vec<PathBuf> {
    let mut events: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("events"))
        .expect("events/ is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    events.sort();
    assert!(!events.is_empty(), "events/ holds sample events");
    events
}

/// A Secrets Manager client on the moto server that holds `world`'s table (the one its
/// `AWS_ENDPOINT_URL` names), so the function finds the secret where it finds the table.
fn secrets_client(world: &SweepWorld) -> aws_sdk_secretsmanager::Client {
    let endpoint = world
        .store
        .env
        .iter()
        .find(|(name, _)| *name == "AWS_ENDPOINT_URL")
        .map(|(_, value)| value.clone())
        .expect("a DynamoDB store has an endpoint");
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// Creates a new secret holding `value`; returns its name.
async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!(
        "run-notifier-test/webhook-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    );
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("the secret is created");
    name
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// `cargo lambda watch --only-lambda-apis` and the function it serves, both killed when
/// this is dropped (kill_on_drop), whatever the test's end.
struct LocalLambda {
    port: u16,
    dir: TempDir,
    _watch: Child,
    function: Option<Child>,
}

impl LocalLambda {
    /// Starts the Runtime API and the function, configured for `world`, reading the
    /// webhook from the secret `secret_id`, plus `extra` environment.
    async fn start(world: &SweepWorld, secret_id: &str, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        // Never without --only-lambda-apis here: that would start a nested cargo build.
        let watch = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(manifest_dir())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "watch.out"))
            .stderr(log_file(dir.path(), "watch.err"))
            .kill_on_drop(true)
            .spawn()
            .expect("cargo lambda watch starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on {port} within 60 s: {}",
                read(dir.path(), "watch.err")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let mut command = Command::new(env!("CARGO_BIN_EXE_run-notifier-lambda"));
        command
            .env_clear()
            .env("NO_COLOR", "1")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("BASE_URL", world.world.runtime_server.base_url())
            .env("DISCORD_WEBHOOK_SECRET_ID", secret_id)
            .env("NOTIFIER_SWEEP_BUDGET_SECONDS", BUDGET_SECONDS)
            .env("HTTP_TIMEOUT_SECONDS", "5");
        world.store.apply(&mut command);
        for (name, value) in extra {
            command.env(name, value);
        }
        let function = command
            .stdin(Stdio::null())
            .stdout(log_file(dir.path(), "function.out"))
            .stderr(log_file(dir.path(), "function.err"))
            .kill_on_drop(true)
            .spawn()
            .expect("run-notifier-lambda starts");
        Self {
            port,
            dir,
            _watch: watch,
            function: Some(function),
        }
    }

    /// `cargo lambda invoke` with `event`: the function's answer, parsed.
    async fn invoke(&mut self, event: &Path) -> Value {
        let done = run(
            Command::new(cargo_lambda())
                .args(["lambda", "invoke", "_", "-A", "127.0.0.1", "-P"])
                .arg(self.port.to_string())
                .arg("--data-file")
                .arg(event)
                .current_dir(manifest_dir())
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true),
            INVOKE_LIMIT,
        )
        .await;
        assert_eq!(
            done.code,
            0,
            "invoke with {} failed:\n{}\n{}\nfunction:\n{}",
            event.display(),
            done.stdout,
            done.stderr,
            self.stderr()
        );
        let summary: Value = serde_json::from_str(done.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "the invocation answers JSON ({e}): {:?}\nfunction:\n{}",
                done.stdout,
                self.stderr()
            )
        });
        for key in ["checked", "notified", "stalled", "expired", "errors"] {
            assert!(
                summary[key].is_u64(),
                "the summary has {key}: {summary} (event {})",
                event.display()
            );
        }
        if let Some(function) = self.function.as_mut() {
            assert!(
                function
                    .try_wait()
                    .expect("the function can be polled")
                    .is_none(),
                "the function exited:\n{}",
                self.stderr()
            );
        }
        summary
    }

    fn stdout(&self) -> String {
        read(self.dir.path(), "function.out")
    }

    fn stderr(&self) -> String {
        read(self.dir.path(), "function.err")
    }

    /// Stops the function, so its output is complete.
    async fn stop_function(&mut self) {
        if let Some(mut function) = self.function.take() {
            let _ = function.kill().await;
        }
    }
}

fn log_file(dir: &Path, name: &str) -> File {
    File::create(dir.join(name)).expect("a log file")
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// A run of one task, `building`: it finishes when the test says so.
fn open_run(run_id: &str) -> run_notifier::sim::runtime::ScriptedRun {
    run_of(run_id, vec![task("t-1", "Build", &[(0.0, "building")])])
}

/// How many accepted messages announce `run_id` as finished.
fn finish_messages(messages: &[CapturedMessage], run_id: &str) -> usize {
    let wanted = format!("Run finished: {run_id}");
    messages.iter().filter(|m| title(m) == wanted).count()
}

fn assert_no_secret(output: &str, what: &str) {
    for secret in [TOKEN, TOKEN_B, "SeCrEt"] {
        assert!(
            !output.contains(secret),
            "{what}: a webhook token leaked:\n{output}"
        );
    }
}

/// How a finishing run ends: `(task status, error)`.
struct Finishing {
    run_id: &'static str,
    status: &'static str,
    error: Option<&'static str>,
    outcome: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_event_sweeps_and_each_finished_run_is_announced_exactly_once() {
    let world = SweepWorld::start(Backend::DynamoDb).await;
    let secrets = secrets_client(&world);
    let secret_id = create_secret(&secrets, &world.world.webhook_url()).await;

    let finishing = [
        Finishing {
            run_id: "lam-done",
            status: "done",
            error: None,
            outcome: "success",
        },
        Finishing {
            run_id: "lam-failed",
            status: "failed",
            error: Some("exit code 1"),
            outcome: "attention-required",
        },
        Finishing {
            run_id: "lam-blocked",
            status: "blocked",
            error: Some("waiting for credentials"),
            outcome: "attention-required",
        },
    ];
    let unfinished = ["lam-open-1", "lam-open-2"];
    for run_id in finishing.iter().map(|f| f.run_id).chain(unfinished) {
        world.world.runtime.upsert_run(open_run(run_id));
    }
    let all: Vec<&str> = finishing
        .iter()
        .map(|f| f.run_id)
        .chain(unfinished)
        .collect();
    world.register(&all, &[]).await;

    let mut lambda = LocalLambda::start(&world, &secret_id, &[]).await;
    let events = sample_events();
    let mut finished = 0;
    let mut notified_total = 0;
    for (i, event) in events.iter().enumerate() {
        // Run i finishes just before invocation i (the first before any invocation, the
        // others between two); the last invocation takes whatever is left.
        let last = i + 1 == events.len();
        let mut due = 0;
        while finished < finishing.len() && (finished <= i || last) {
            let run = &finishing[finished];
            world
                .world
                .runtime
                .set_task_status(run.run_id, "t-1", run.status, run.error);
            finished += 1;
            due += 1;
        }
        let summary = lambda.invoke(event).await;
        let expected_checked = (all.len() - notified_total) as u64;
        assert_eq!(
            summary["checked"],
            expected_checked,
            "{}: {summary}",
            event.display()
        );
        assert_eq!(
            summary["notified"],
            due,
            "{}: {summary}\n{}",
            event.display(),
            lambda.stderr()
        );
        for key in ["stalled", "expired", "errors", "failed", "deferred"] {
            assert_eq!(summary[key], 0, "{} {key}: {summary}", event.display());
        }
        notified_total += due;
    }

    let messages = world.messages();
    for run in &finishing {
        assert_eq!(
            finish_messages(&messages, run.run_id),
            1,
            "one message for {}: {:?}",
            run.run_id,
            world.titles()
        );
        let status = world.status_of(run.run_id).await;
        assert_eq!(status["state"], "notified", "{status}");
        assert_eq!(status["outcome"], run.outcome, "{status}");
    }
    for run_id in unfinished {
        assert_eq!(finish_messages(&messages, run_id), 0, "{run_id}");
        assert_eq!(world.status_of(run_id).await["state"], "pending");
    }
    assert_eq!(messages.len(), finishing.len(), "{:?}", world.titles());
    world.world.assert_no_violations();

    lambda.stop_function().await;
    let stderr = lambda.stderr();
    // `cargo lambda watch` reports a deadline in 1970: the sweep falls back to the budget.
    let fallbacks = stderr
        .lines()
        .filter(|line| {
            line.contains("sweep starts")
                && line.contains("window_from=Budget")
                && line.contains(&format!("window_seconds={BUDGET_SECONDS}"))
        })
        .count();
    assert_eq!(fallbacks, events.len(), "{stderr}");
    assert_no_secret(&stderr, "the Lambda's stderr");
    assert_no_secret(&lambda.stdout(), "the Lambda's stdout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_webhook_secret_is_read_again_and_an_unrotated_404_fails_the_run() {
    let world = SweepWorld::start(Backend::DynamoDb).await;
    let secrets = secrets_client(&world);
    let url_a = world.world.webhook_url();
    let url_b = world.world.discord_server.webhook_url(WEBHOOK_B, TOKEN_B);
    let secret_id = create_secret(&secrets, &url_a).await;
    let runs = ["rot-first", "rot-rotated", "rot-refused"];
    for run_id in runs {
        world.world.runtime.upsert_run(open_run(run_id));
    }
    world.register(&runs, &[]).await;
    let event = manifest_dir().join("events/eventbridge-scheduler.json");
    let mut lambda = LocalLambda::start(
        &world,
        &secret_id,
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "trace"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    )
    .await;
    let finish = |run_id: &str| {
        world
            .world
            .runtime
            .set_task_status(run_id, "t-1", "done", None);
    };

    // A first message: the function now holds the client for URL A.
    finish("rot-first");
    let summary = lambda.invoke(&event).await;
    assert_eq!(summary["notified"], 1, "{summary}\n{}", lambda.stderr());
    let messages = world.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].webhook_id, WEBHOOK_ID);

    // The webhook is deleted and the secret rotated to URL B: Discord's 404 makes the
    // function read the secret again, and the message goes to B; the run is notified.
    world.world.discord.forget_webhook(WEBHOOK_ID);
    secrets
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(&url_b)
        .send()
        .await
        .expect("the secret is rotated");
    finish("rot-rotated");
    let summary = lambda.invoke(&event).await;
    assert_eq!(summary["notified"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let messages = world.messages();
    assert_eq!(messages.len(), 2, "{:?}", world.titles());
    assert_eq!(messages[1].webhook_id, WEBHOOK_B);
    assert_eq!(finish_messages(&messages, "rot-rotated"), 1);
    assert_eq!(
        world.status_of("rot-rotated").await["state"],
        "notified",
        "{}",
        lambda.stderr()
    );

    // B is deleted too but the secret is not rotated: the 404 stands, the run is failed.
    world.world.discord.forget_webhook(WEBHOOK_B);
    finish("rot-refused");
    let summary = lambda.invoke(&event).await;
    assert_eq!(summary["failed"], 1, "{summary}");
    assert_eq!(summary["notified"], 0, "{summary}");
    assert_eq!(world.messages().len(), 2, "{:?}", world.titles());
    let status = world.status_of("rot-refused").await;
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(world.status_of("rot-first").await["state"], "notified");
    world.world.assert_no_violations();

    // Trace-level JSON logs: every line is a JSON object, none holds a token.
    lambda.stop_function().await;
    let stderr = lambda.stderr();
    assert_no_secret(&stderr, "the Lambda's stderr (trace, JSON)");
    assert_no_secret(&lambda.stdout(), "the Lambda's stdout (trace, JSON)");
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a JSON log line ({e}): {line:?}\n{stderr}"))
        })
        .collect();
    assert!(lines.iter().all(Value::is_object), "{stderr}");
    let starts: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "sweep starts")
        .collect();
    assert_eq!(starts.len(), 3, "{stderr}");
    assert!(
        starts
            .iter()
            .all(|line| line["window_from"] == "Budget" && line["trigger"] == "aws.scheduler"),
        "{stderr}"
    );
    assert!(
        lines.iter().any(|line| line["message"]
            .as_str()
            .is_some_and(|m| m.contains("rotated"))),
        "the rotation is logged: {stderr}"
    );
}
