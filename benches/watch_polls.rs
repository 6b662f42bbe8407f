//! What one poll of `run-notifier watch` costs: the real release binary watches a run of
//! the in-process runtime simulator for about 600 polls, 10 ms apart, then sees it finish
//! and exits. `wait4` gives the child's own CPU time (user + sys) and peak RSS.
//!
//!     cargo bench --bench watch_polls
//!
//! Under `cargo test --all-targets` (no `--bench` flag) it does a quick 20-poll smoke run
//! of each scenario instead, so the test suite stays fast.
//!
//! Scenarios:
//! - one task, `building` until poll 600, then `done`;
//! - the same with 50 tasks (49 `done` from the start), to show how the cost grows with
//!   the task list the watcher reads and parses each poll;
//! - a run that is finished from the start (one poll; the median of 11 start-ups): the
//!   fixed cost of starting the process, its HTTP client and one look, so that the
//!   per-poll cost can be told apart from start-up.
//!
//! The whole benchmark gives up after 120 s (killing the watcher) and says so.

use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use run_notifier::sim::runtime::{RuntimeSimulator, ScriptedRun, ScriptedTask, TaskStep};

/// The whole benchmark must end within this.
const LIMIT: Duration = Duration::from_secs(120);
/// Start-ups measured for the start-up row (the median is shown).
const STARTUP_REPEATS: usize = 11;
/// How often the bench looks at the simulator's counters and the child.
const TICK: Duration = Duration::from_millis(2);
const RUN_ID: &str = "run-bench";
const WATCHED_TASK: &str = "task-00";

struct Scenario {
    name: &'static str,
    tasks: usize,
    /// Tasks requests after which the watched task is marked done; 0 means the run is
    /// finished from the start.
    polls: u64,
}

struct Measured {
    tasks_requests: u64,
    run_requests: u64,
    wall: Duration,
    user: Duration,
    sys: Duration,
    max_rss_kib: i64,
}

impl Measured {
    fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    fn cpu_per_poll_us(&self) -> f64 {
        self.cpu().as_secs_f64() * 1e6 / self.tasks_requests.max(1) as f64
    }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to a bench without the libtest harness; `cargo test`
    // does not, and then a short smoke run is enough to show the bench still works.
    let full = std::env::args().any(|arg| arg == "--bench");
    let polls = if full { 600 } else { 20 };
    let scenarios = [
        Scenario {
            name: "1 task",
            tasks: 1,
            polls,
        },
        Scenario {
            name: "50 tasks",
            tasks: 50,
            polls,
        },
        Scenario {
            name: "start-up only (median of 11)",
            tasks: 1,
            polls: 0,
        },
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the bench's tokio runtime starts");

    println!(
        "run-notifier watch --dry-run, POLL_SECONDS=0.01, {} mode ({})",
        if full { "bench" } else { "smoke-test" },
        env!("CARGO_BIN_EXE_run-notifier"),
    );
    let deadline = Instant::now() + LIMIT;
    let mut rows = Vec::new();
    for scenario in &scenarios {
        // A single start-up is a few milliseconds and noisy: take the median of several.
        let repeats = if scenario.polls == 0 {
            STARTUP_REPEATS
        } else {
            1
        };
        let mut samples = Vec::new();
        for _ in 0..repeats {
            match measure(&runtime, scenario, deadline) {
                Ok(measured) => samples.push(measured),
                Err(error) => {
                    eprintln!("watch_polls: scenario {:?} failed: {error}", scenario.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        samples.sort_by_key(Measured::cpu);
        rows.push((scenario, samples.swap_remove(samples.len() / 2)));
    }
    print_table(&rows);
    ExitCode::SUCCESS
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    deadline: Instant,
) -> Result<Measured, String> {
    let simulator = RuntimeSimulator::new(None);
    simulator.upsert_run(bench_run(scenario));
    let server = runtime
        .block_on(simulator.spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
        .map_err(|e| format!("the runtime simulator cannot start: {e}"))?;

    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_run-notifier"))
        .args(["watch", "--dry-run"])
        .env_clear()
        .env("BASE_URL", server.base_url())
        .env("RUN_ID", RUN_ID)
        .env("POLL_SECONDS", "0.01")
        .env("NOTIFIER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("run-notifier cannot start: {e}"))?;
    let pid = child.id() as libc::pid_t;

    let mut marked_done = scenario.polls == 0;
    let outcome = loop {
        if !marked_done && simulator.request_counts().tasks >= scenario.polls {
            simulator.set_task_status(RUN_ID, WATCHED_TASK, "done", None);
            marked_done = true;
        }
        if let Some(reaped) = try_reap(pid)? {
            break Ok(reaped);
        }
        if Instant::now() > deadline {
            // Not reaped yet, so the pid is still ours to signal.
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let counts = simulator.request_counts();
            let _ = reap_blocking(pid);
            break Err(format!(
                "timed out: the benchmark did not end within {} s; run-notifier was still \
                 watching after {:.1} s ({} tasks requests, {} run requests; the task was \
                 {}marked done), so it was killed",
                LIMIT.as_secs(),
                started.elapsed().as_secs_f64(),
                counts.tasks,
                counts.run,
                if marked_done { "" } else { "not yet " },
            ));
        }
        std::thread::sleep(TICK);
    };
    let wall = started.elapsed();
    let counts = simulator.request_counts();
    runtime.block_on(server.shutdown());

    let (status, usage) = outcome?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "run-notifier did not exit 0 (wait status {status:#x}); run it by hand with \
             NOTIFIER_LOG=debug to see why"
        ));
    }
    Ok(Measured {
        tasks_requests: counts.tasks,
        run_requests: counts.run,
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
    })
}

/// One run whose `task-00` stays `building` (unless the scenario is finished from the
/// start); the other tasks are `done` from the start.
fn bench_run(scenario: &Scenario) -> ScriptedRun {
    let tasks = (0..scenario.tasks)
        .map(|i| {
            let status = if i == 0 && scenario.polls > 0 {
                "building"
            } else {
                "done"
            };
            ScriptedTask {
                task_id: format!("task-{i:02}"),
                title: format!("Task {i}: implement part {i} of the feature"),
                steps: vec![TaskStep {
                    at_seconds: 0.0,
                    status: status.to_string(),
                    error: None,
                }],
            }
        })
        .collect();
    ScriptedRun {
        run_id: RUN_ID.to_string(),
        title: Some("Watcher benchmark".to_string()),
        tasks,
    }
}

/// Reaps the child if it has exited, with its resource usage.
fn try_reap(pid: libc::pid_t) -> Result<Option<(i32, libc::rusage)>, String> {
    wait4(pid, libc::WNOHANG)
}

fn reap_blocking(pid: libc::pid_t) -> Result<Option<(i32, libc::rusage)>, String> {
    wait4(pid, 0)
}

fn wait4(pid: libc::pid_t, options: i32) -> Result<Option<(i32, libc::rusage)>, String> {
    let mut status = 0;
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, options, usage.as_mut_ptr()) };
        match reaped {
            0 => return Ok(None),
            r if r == pid => {
                // SAFETY: wait4 filled `usage` in when it returned the pid; it was zeroed
                // before, and all-zero is a valid rusage anyway.
                return Ok(Some((status, unsafe { usage.assume_init() })));
            }
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("wait4 failed: {error}"));
                }
            }
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

fn print_table(rows: &[(&Scenario, Measured)]) {
    println!();
    println!(
        "| {:<28} | {:>17} | {:>8} | {:>9} | {:>14} | {:>14} |",
        "scenario", "polls (tasks/run)", "wall", "CPU total", "CPU/poll (µs)", "peak RSS (MiB)"
    );
    println!(
        "|{:-<30}|{:->19}|{:->10}|{:->11}|{:->16}|{:->16}|",
        "", ":", ":", ":", ":", ":"
    );
    for (scenario, m) in rows {
        println!(
            "| {:<28} | {:>17} | {:>6.2} s | {:>7.3} s | {:>14.0} | {:>14.1} |",
            scenario.name,
            format!("{} / {}", m.tasks_requests, m.run_requests),
            m.wall.as_secs_f64(),
            m.cpu().as_secs_f64(),
            m.cpu_per_poll_us(),
            m.max_rss_kib as f64 / 1024.0,
        );
    }
    println!();
    for (scenario, m) in rows {
        println!(
            "  {}: user {:.3} s + sys {:.3} s",
            scenario.name,
            m.user.as_secs_f64(),
            m.sys.as_secs_f64()
        );
    }
    // The start-up row, when present, lets the per-poll cost be shown net of start-up.
    if let Some((_, base)) = rows.iter().find(|(s, _)| s.polls == 0) {
        for (scenario, m) in rows.iter().filter(|(s, _)| s.polls > 0) {
            let extra_polls = m.tasks_requests.saturating_sub(base.tasks_requests).max(1);
            let net = m.cpu().saturating_sub(base.cpu()).as_secs_f64() * 1e6 / extra_polls as f64;
            println!(
                "  {}: {:.0} µs CPU per poll net of start-up",
                scenario.name, net
            );
        }
    }
}
