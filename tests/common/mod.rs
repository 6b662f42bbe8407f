//! The test world: a simulated runtime and a Discord capture, both real HTTP servers on
//! 127.0.0.1, and the real `run-notifier` binary run against them.

#![allow(dead_code)] // each test file uses its own part of the harness

pub mod moto;
pub mod stores;
pub mod sweeper;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use run_notifier::sim::discord::{CaptureHandle, CapturedMessage, DiscordCapture};
use run_notifier::sim::runtime::{
    RuntimeSimulator, ScriptedRun, ScriptedTask, SimulatorHandle, TaskStep,
};
use tokio::process::{Child, Command};

/// The webhook the tests post to.
pub const WEBHOOK_ID: &str = "223344556677889900";
/// Its token: must never appear in any output.
pub const TOKEN: &str = "tOkEn-SeCrEt-4f9a1c";
/// The runtime API key, when a test sets one: must never appear in any output either.
pub const API_KEY: &str = "key-SeCrEt-77e2b0";

/// A running simulated runtime and Discord capture.
pub struct World {
    pub runtime: RuntimeSimulator,
    pub runtime_server: SimulatorHandle,
    pub discord: DiscordCapture,
    pub discord_server: CaptureHandle,
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl World {
    /// Starts both servers; the runtime wants `api_key` when given.
    pub async fn start_with_key(api_key: Option<&str>) -> Self {
        let runtime = RuntimeSimulator::new(api_key.map(String::from));
        let runtime_server = runtime
            .spawn(loopback())
            .await
            .expect("runtime simulator starts");
        let discord = DiscordCapture::new();
        if let Some(dir) = std::env::var_os("DISCORD_BODIES_DIR") {
            discord.record_bodies_to(PathBuf::from(dir));
        }
        let discord_server = discord.spawn(loopback()).await.expect("capture starts");
        Self {
            runtime,
            runtime_server,
            discord,
            discord_server,
        }
    }

    /// Starts both servers, the runtime without an API key.
    pub async fn start() -> Self {
        Self::start_with_key(None).await
    }

    /// The webhook URL of the capture.
    pub fn webhook_url(&self) -> String {
        self.discord_server.webhook_url(WEBHOOK_ID, TOKEN)
    }

    /// `run-notifier watch` for `run_id`, polling every 0.2 s, with a clean environment.
    pub fn watch(&self, run_id: &str) -> Command {
        let mut command = binary();
        command
            .arg("watch")
            .env("BASE_URL", self.runtime_server.base_url())
            .env("RUN_ID", run_id)
            .env("DISCORD_WEBHOOK_URL", self.webhook_url())
            .env("POLL_SECONDS", "0.2")
            .env("HTTP_TIMEOUT_SECONDS", "2");
        command
    }

    /// The messages the capture accepted.
    pub fn messages(&self) -> Vec<CapturedMessage> {
        self.discord.messages()
    }

    /// Asserts the capture saw nothing a real Discord would hold against us.
    pub fn assert_no_violations(&self) {
        assert_eq!(self.discord.violations(), Vec::<String>::new());
    }
}

/// The binary with an empty environment, so nothing from the developer's shell leaks in.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_run-notifier"));
    command
        .env_clear()
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// What a finished process left.
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// When it exited.
    pub exited_at: Instant,
}

impl Finished {
    /// Both streams, for "never contains" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs a command to its end (at most `limit`).
pub async fn run(command: &mut Command, limit: Duration) -> Finished {
    let child = command.spawn().expect("binary starts");
    wait(child, limit).await
}

/// Waits for a spawned child (at most `limit`).
pub async fn wait(child: Child, limit: Duration) -> Finished {
    let output: Output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("the process ends in time")
        .expect("the process can be waited for");
    Finished {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        exited_at: Instant::now(),
    }
}

/// A task that goes through `steps` (`(seconds, status)`).
pub fn task(id: &str, title: &str, steps: &[(f64, &str)]) -> ScriptedTask {
    ScriptedTask {
        task_id: id.to_string(),
        title: title.to_string(),
        steps: steps
            .iter()
            .map(|(at, status)| TaskStep {
                at_seconds: *at,
                status: status.to_string(),
                error: None,
            })
            .collect(),
    }
}

/// A task that ends `status` with `error` at `at` seconds.
pub fn ending(id: &str, title: &str, at: f64, status: &str, error: &str) -> ScriptedTask {
    ScriptedTask {
        task_id: id.to_string(),
        title: title.to_string(),
        steps: vec![
            TaskStep {
                at_seconds: 0.0,
                status: "building".into(),
                error: None,
            },
            TaskStep {
                at_seconds: at,
                status: status.into(),
                error: Some(error.into()),
            },
        ],
    }
}

/// A run.
pub fn run_of(run_id: &str, tasks: Vec<ScriptedTask>) -> ScriptedRun {
    ScriptedRun {
        run_id: run_id.to_string(),
        title: None,
        tasks,
    }
}

/// The plan's run: 15 tasks that end 12 done, 2 failed, 1 blocked, the last at `end` s.
pub fn plan_run(run_id: &str, end: f64) -> ScriptedRun {
    let mut tasks: Vec<ScriptedTask> = (0..12)
        .map(|i| {
            task(
                &format!("task-{i:02}"),
                &format!("Task {i}"),
                &[(0.0, "building"), (end * 0.5, "done")],
            )
        })
        .collect();
    tasks.push(ending(
        "task-12",
        "Run endpoints",
        end * 0.7,
        "failed",
        "exit code 1",
    ));
    tasks.push(ending(
        "task-13",
        "Lint",
        end,
        "failed",
        "clippy found 3 warnings",
    ));
    tasks.push(ending(
        "task-14",
        "Deploy",
        end * 0.6,
        "blocked",
        "waiting for credentials",
    ));
    run_of(run_id, tasks)
}

/// The embed of a captured message.
pub fn embed(message: &CapturedMessage) -> &serde_json::Value {
    &message.body["embeds"][0]
}

/// An embed's text field, or "".
pub fn text<'a>(value: &'a serde_json::Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}
