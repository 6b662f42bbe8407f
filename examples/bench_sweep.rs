//! What one sweep costs: 1000 registered runs against the runtime simulator answering
//! every request after 50 ms, as a real network would.
//!
//!     cargo build --release && cargo run --release --example bench_sweep
//!
//! The simulator runs in its own process (the release `run-notifier simulate`, found next
//! to this example's executable), so the peak memory measured here is the sweep's, not the
//! simulator's. The sweep itself runs in this process, wired like `run-notifier sweep`
//! wires it (one HTTP client, `RuntimeClient`, `DiscordClient`, a current-thread tokio
//! runtime), over a SQLite store in a temporary directory (on disk, `synchronous=FULL`,
//! as in production). Registrations are written before anything is timed.
//!
//! Two phases, each at concurrency 32 (the default), 64 and 128:
//! - **idle**: 1000 open runs whose 5 tasks stay `building`, the common case. Three
//!   sweeps over the same store; each should read one index page and write nothing.
//! - **notify**: 1000 open runs of which 100 are finished from the start. Three times, on
//!   a fresh store each: one sweep that claims, posts and completes those 100 (to a
//!   [`DiscordCapture`] in this process, on its own thread, with a bucket large enough
//!   never to rate-limit), then one more sweep, which must look at the 900 still open
//!   only.
//!
//! For each: the wall time of the sweep (best and median) against the ideal
//! `ceil(1000 / concurrency) × 50 ms`, the peak RSS while sweeping (`VmHWM`, reset before
//! each sweep through `/proc/self/clear_refs`) and of the whole process (`getrusage`), and
//! the store operations by kind (`Store::op_counts` deltas).
//!
//! With `NOTIFIER_BENCH_MOTO_ENDPOINT=http://127.0.0.1:PORT` (a running `moto_server`),
//! the same sweeps also run against DynamoDB, for their operation counts only (moto's own
//! latency makes its times meaningless).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use run_notifier::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use run_notifier::discord::{DiscordClient, WebhookUrl};
use run_notifier::links::{RunId, RuntimeBase};
use run_notifier::registry::{now_millis, Registration};
use run_notifier::runtime::{self, RuntimeClient};
use run_notifier::secret::Secret;
use run_notifier::sim::discord::{CaptureHandle, DiscordCapture};
use run_notifier::sim::runtime::{Scenario, ScriptedRun, ScriptedTask, TaskStep};
use run_notifier::store::dynamodb::DynamoStore;
use run_notifier::store::sqlite::SqliteStore;
use run_notifier::store::{OpCounts, Store};
use run_notifier::sweep::{SweepConfig, SweepSummary, Sweeper};

/// Open runs per sweep.
const RUNS: usize = 1000;
/// Every tenth run of the `notify` set is finished from the start.
const FINISHED_EVERY: usize = 10;
/// Tasks per run.
const TASKS: usize = 5;
/// Added by the simulator to every answer.
const LATENCY: Duration = Duration::from_millis(50);
/// Sweeps measured per setting.
const REPEATS: usize = 3;
/// The default (`NOTIFIER_CONCURRENCY`) first.
const CONCURRENCIES: [usize; 3] = [32, 64, 128];
/// Targets from the issue.
const TIME_FACTOR: f64 = 1.2;
const MEMORY_LIMIT_MIB: f64 = 50.0;
/// Registrations written at once (SQLite serialises them anyway).
const REGISTER_CONCURRENCY: usize = 16;
/// Identifies the bench's webhook on the capture server.
const WEBHOOK_ID: &str = "100000000000000001";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_sweep: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The runs of one phase: `idle-NNNN` all running, `notify-NNNN` with every tenth done.
fn run_ids(prefix: &str) -> Vec<String> {
    (0..RUNS).map(|i| format!("{prefix}-{i:04}")).collect()
}

fn is_finished(run_id: &str) -> bool {
    run_id
        .strip_prefix("notify-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % FINISHED_EVERY == 0)
}

fn scenario() -> Scenario {
    let runs = run_ids("idle")
        .into_iter()
        .chain(run_ids("notify"))
        .map(|run_id| {
            let status = if is_finished(&run_id) {
                "done"
            } else {
                "building"
            };
            ScriptedRun {
                title: Some(format!("Benchmark run {run_id}")),
                tasks: (0..TASKS)
                    .map(|t| ScriptedTask {
                        task_id: format!("task-{t}"),
                        title: format!("Task {t}: implement part {t} of the feature"),
                        steps: vec![TaskStep {
                            at_seconds: 0.0,
                            status: status.to_string(),
                            error: None,
                        }],
                    })
                    .collect(),
                run_id,
            }
        })
        .collect();
    Scenario { runs }
}

/// The release `run-notifier`, next to this example: `target/release/examples/bench_sweep`
/// → `target/release/run-notifier`.
fn simulator_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("run-notifier"))
        .ok_or("cannot locate the target directory")?;
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release` first \
             (cargo build --release && cargo run --release --example bench_sweep)",
            binary.display()
        ))
    }
}

/// The simulator's process; killed and reaped when dropped, whatever happened.
struct SimulatorProcess {
    child: Child,
    base_url: String,
}

impl Drop for SimulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_simulator(binary: &Path, scenario_file: &Path) -> Result<SimulatorProcess, String> {
    let port = free_port()?;
    let child = Command::new(binary)
        .arg("simulate")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--latency-ms", &LATENCY.as_millis().to_string()])
        .arg("--scenario")
        .arg(scenario_file)
        .env("NOTIFIER_LOG", "warn")
        .env_remove("RUNTIME_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut simulator = SimulatorProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if let Ok(Some(status)) = simulator.child.try_wait() {
            return Err(format!(
                "the simulator exited ({status}) before listening; if {} is older than this \
                 checkout (no --latency-ms), run `cargo build --release`",
                binary.display()
            ));
        }
        if Instant::now() > deadline {
            return Err("the simulator did not listen within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(simulator)
}

/// Memory as Linux reports it for this process, in KiB.
struct Memory;

impl Memory {
    /// A `Vm*` line of `/proc/self/status`.
    fn status(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|line| line.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Resident now.
    fn rss() -> Option<u64> {
        Self::status("VmRSS:")
    }

    /// Peak resident since the last [`Self::reset_peak`] (or the start).
    fn peak_since_reset() -> Option<u64> {
        Self::status("VmHWM:")
    }

    /// Resets `VmHWM` to the current RSS; `false` where the kernel does not allow it.
    fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    /// Peak resident over the whole life of the process (`getrusage`).
    fn process_peak() -> u64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `usage` is valid for writes; getrusage fills it in.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
        if !ok {
            return 0;
        }
        // SAFETY: zeroed before, filled by a successful getrusage.
        let usage = unsafe { usage.assume_init() };
        u64::try_from(usage.ru_maxrss).unwrap_or(0)
    }
}

fn stage(name: &str) {
    eprintln!(
        "STAGE {name}: rss {:?} hwm {:?} maxrss {}",
        Memory::rss(),
        Memory::peak_since_reset(),
        Memory::process_peak()
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One timed sweep.
struct Measured {
    wall: Duration,
    summary: SweepSummary,
    ops: OpCounts,
    rss_before_kib: Option<u64>,
    peak_kib: Option<u64>,
}

/// What `after - before` did.
fn delta(after: OpCounts, before: OpCounts) -> OpCounts {
    OpCounts {
        queries: after.queries - before.queries,
        scans: after.scans - before.scans,
        gets: after.gets - before.gets,
        puts: after.puts - before.puts,
        updates: after.updates - before.updates,
        deletes: after.deletes - before.deletes,
    }
}

/// What a sweep needs besides its store, built once per setting as `run-notifier sweep`
/// builds it.
struct Parts {
    runtime: RuntimeClient,
    discord: DiscordClient,
    config: SweepConfig,
}

impl Parts {
    fn new(base_url: &str, webhook_url: &str, concurrency: usize) -> Result<Self, String> {
        let http = run_notifier::http::client(Duration::from_secs(10))
            .map_err(run_notifier::http::describe)?;
        let runtime = RuntimeClient::new(http.clone(), None, runtime::DEFAULT_RETRY)?;
        let webhook = WebhookUrl::parse(&Secret::new(webhook_url)).map_err(|e| e.to_string())?;
        let discord = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
        let config = SweepConfig {
            default_base: RuntimeBase::parse(base_url).map_err(|e| e.to_string())?,
            owner: format!("bench:{}:{:08x}", std::process::id(), fastrand::u32(..)),
            lease: Duration::from_secs(120),
            concurrency,
            stall_after: Some(Duration::from_secs(1800)),
            retention: Duration::from_secs(30 * 86_400),
            deadline: None,
            claim_budget: Duration::ZERO,
        };
        Ok(Self {
            runtime,
            discord,
            config,
        })
    }

    async fn sweep<S: Store>(&self, store: &S) -> Result<Measured, String> {
        let before = store.op_counts();
        let rss_before_kib = Memory::rss();
        let peak_resets = Memory::reset_peak();
        let sweeper = Sweeper::new(store, &self.runtime, &self.discord, &self.config);
        let started = Instant::now();
        let summary = sweeper.sweep().await.map_err(|e| e.to_string())?;
        let wall = started.elapsed();
        Ok(Measured {
            wall,
            summary,
            ops: delta(store.op_counts(), before),
            rss_before_kib,
            peak_kib: peak_resets.then(Memory::peak_since_reset).flatten(),
        })
    }
}

async fn register_all<S: Store>(store: &S, run_ids: &[String]) -> Result<(), String> {
    let registered: Vec<Result<_, String>> = stream::iter(run_ids)
        .map(|run_id| async move {
            let registration = Registration {
                run_id: RunId::parse(run_id).map_err(|e| e.to_string())?,
                base_url: None,
                registered_at: now_millis(),
                deadline_at: None,
            };
            store
                .register(&registration)
                .await
                .map_err(|e| e.to_string())
        })
        .buffer_unordered(REGISTER_CONCURRENCY)
        .collect()
        .await;
    registered.into_iter().try_for_each(|r| r.map(drop))
}

/// A row of the table.
struct Row {
    phase: &'static str,
    concurrency: usize,
    sweeps: Vec<Measured>,
    /// The wall-time target applies (the idle sweep of 1000 open runs).
    timed_target: bool,
}

impl Row {
    fn walls(&self) -> Vec<Duration> {
        let mut walls: Vec<Duration> = self.sweeps.iter().map(|m| m.wall).collect();
        walls.sort();
        walls
    }

    fn best(&self) -> Duration {
        self.walls()[0]
    }

    fn median(&self) -> Duration {
        let walls = self.walls();
        walls[walls.len() / 2]
    }

    fn ideal(&self) -> Duration {
        LATENCY * u32::try_from(RUNS.div_ceil(self.concurrency)).unwrap_or(u32::MAX)
    }

    fn ratio(&self) -> f64 {
        self.median().as_secs_f64() / self.ideal().as_secs_f64()
    }

    /// The operations of the first sweep, and whether every sweep did the same.
    fn ops(&self) -> (OpCounts, bool) {
        let first = self.sweeps[0].ops;
        (first, self.sweeps.iter().all(|m| m.ops == first))
    }

    fn peak_kib(&self) -> Option<u64> {
        self.sweeps.iter().filter_map(|m| m.peak_kib).max()
    }

    fn rss_before_kib(&self) -> Option<u64> {
        self.sweeps.iter().filter_map(|m| m.rss_before_kib).min()
    }
}

fn run() -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "bench_sweep: WARNING: a debug build; use `cargo run --release --example bench_sweep`"
        );
    }
    let binary = simulator_binary()?;
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let scenario_file = dir.path().join("scenario.json");
    let json = serde_json::to_vec(&scenario()).map_err(|e| e.to_string())?;
    std::fs::write(&scenario_file, json).map_err(|e| format!("cannot write the scenario: {e}"))?;
    stage("scenario");
    let simulator = start_simulator(&binary, &scenario_file)?;
    stage("spawned");

    // Discord's stand-in serves from its own thread, so it never competes with the sweep
    // for the sweep's (single) thread.
    let capture_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let capture = DiscordCapture::with_bucket(100_000, Duration::from_secs(1));
    let capture_server: CaptureHandle = capture_runtime
        .block_on(capture.spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
        .map_err(|e| format!("the Discord capture cannot start: {e}"))?;
    let webhook_url = capture_server.webhook_url(WEBHOOK_ID, "bench-token");

    // Like `run-notifier sweep` and `serve` (src/cli/mod.rs): one current-thread runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    println!(
        "bench_sweep: {RUNS} open runs of {TASKS} tasks, simulator ({}) answering after {} ms, \
         SQLite in {}, {} cores",
        binary.display(),
        LATENCY.as_millis(),
        dir.path().display(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    stage("runtimes");
    let latency = runtime.block_on(check_latency(&simulator.base_url))?;
    stage("latency");
    println!(
        "  one GET /healthz takes {:.1} ms",
        latency.as_secs_f64() * 1e3
    );

    let rows = runtime.block_on(sqlite_phases(dir.path(), &simulator.base_url, &webhook_url))?;
    stage("phases done");
    let messages = capture.messages().len();
    stage("messages");
    let violations = capture.violations();
    capture_runtime.block_on(capture_server.shutdown());
    stage("capture down");

    print_table(&rows);
    print_verdicts(&rows, messages, &violations);

    match std::env::var("NOTIFIER_BENCH_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let capture = DiscordCapture::with_bucket(100_000, Duration::from_secs(1));
            let server = capture_runtime
                .block_on(capture.spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
                .map_err(|e| format!("the Discord capture cannot start: {e}"))?;
            let webhook_url = server.webhook_url(WEBHOOK_ID, "bench-token");
            let result = runtime.block_on(dynamodb_phases(
                &endpoint,
                &simulator.base_url,
                &webhook_url,
            ));
            capture_runtime.block_on(server.shutdown());
            print_dynamodb(&result?);
        }
        _ => println!(
            "\nDynamoDB: skipped (set NOTIFIER_BENCH_MOTO_ENDPOINT=http://127.0.0.1:PORT of a \
             running moto_server to count its operations too)"
        ),
    }
    drop(simulator);
    Ok(())
}

/// One round trip to the simulator, to show its latency is in place.
async fn check_latency(base_url: &str) -> Result<Duration, String> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let answer = http
        .get(format!("{base_url}/healthz"))
        .send()
        .await
        .map_err(|e| format!("the simulator does not answer: {e}"))?;
    let took = started.elapsed();
    if !answer.status().is_success() {
        return Err(format!("the simulator answered {}", answer.status()));
    }
    if took < LATENCY * 9 / 10 {
        return Err(format!(
            "the simulator answered in {took:?}, without its {LATENCY:?} latency: is \
             target/release/run-notifier older than this checkout? run `cargo build --release`"
        ));
    }
    Ok(took)
}

async fn sqlite_phases(dir: &Path, base_url: &str, webhook_url: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    // Idle: one store, swept again and again.
    let idle_store = SqliteStore::open(&dir.join("idle.db"))
        .await
        .map_err(|e| e.to_string())?;
    stage("opened");
    register_all(&idle_store, &run_ids("idle")).await?;
    stage("registered");
    if let Ok(n) = std::env::var("SOAK") {
        let c: usize = std::env::var("SOAKC")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32);
        let parts = Parts::new(base_url, webhook_url, c)?;
        for i in 0..n.parse::<usize>().unwrap_or(0) {
            let m = parts.sweep(&idle_store).await?;
            eprintln!(
                "SOAK {i} wall {:?} rss_after {:?} hwm {:?}",
                m.wall,
                Memory::rss(),
                m.peak_kib
            );
        }
    }
    for concurrency in CONCURRENCIES {
        let parts = Parts::new(base_url, webhook_url, concurrency)?;
        let mut sweeps = Vec::new();
        for _ in 0..REPEATS {
            sweeps.push(parts.sweep(&idle_store).await?);
            stage("swept");
        }
        rows.push(Row {
            phase: "idle (1000 running)",
            concurrency,
            sweeps,
            timed_target: true,
        });
    }
    // Notify: a fresh store each time, so that each sweep finds 100 finished runs.
    for concurrency in CONCURRENCIES {
        let parts = Parts::new(base_url, webhook_url, concurrency)?;
        let (mut notifying, mut after) = (Vec::new(), Vec::new());
        for repeat in 0..REPEATS {
            let store = SqliteStore::open(&dir.join(format!("notify-{concurrency}-{repeat}.db")))
                .await
                .map_err(|e| e.to_string())?;
            register_all(&store, &run_ids("notify")).await?;
            stage("registered notify");
            notifying.push(parts.sweep(&store).await?);
            stage("notified");
            after.push(parts.sweep(&store).await?);
        }
        rows.push(Row {
            phase: "notify (100 of 1000 done)",
            concurrency,
            sweeps: notifying,
            timed_target: false,
        });
        rows.push(Row {
            phase: "next sweep (900 running)",
            concurrency,
            sweeps: after,
            timed_target: false,
        });
    }
    Ok(rows)
}

fn ms(duration: Duration) -> String {
    format!("{:.0}", duration.as_secs_f64() * 1e3)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| {:<25} | {:>4} | {:>7} | {:>7} | {:>9} | {:>6} | {:>7} | {:>8} | {:>29} | {:>9} | {:>9} |",
        "sweep",
        "conc",
        "best ms",
        "med. ms",
        "ideal ms",
        "med./ideal",
        "checked",
        "notified",
        "store ops: q/scan/get/put/upd/del",
        "RSS before",
        "sweep peak",
    );
    println!(
        "|{:-<27}|{:->6}|{:->9}|{:->9}|{:->11}|{:->12}|{:->9}|{:->10}|{:->35}|{:->12}|{:->12}|",
        "", ":", ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for row in rows {
        let (ops, same) = row.ops();
        let first = &row.sweeps[0].summary;
        println!(
            "| {:<25} | {:>4} | {:>7} | {:>7} | {:>9} | {:>9.2}× | {:>7} | {:>8} | {:>33} | {:>8} MiB | {:>8} MiB |",
            row.phase,
            row.concurrency,
            ms(row.best()),
            ms(row.median()),
            ms(row.ideal()),
            row.ratio(),
            first.checked,
            first.notified,
            format!(
                "{}/{}/{}/{}/{}/{}{}",
                ops.queries,
                ops.scans,
                ops.gets,
                ops.puts,
                ops.updates,
                ops.deletes,
                if same { "" } else { " (varies)" }
            ),
            row.rss_before_kib()
                .map_or("?".into(), |kib| format!("{:.1}", mib(kib))),
            row.peak_kib()
                .map_or("?".into(), |kib| format!("{:.1}", mib(kib))),
        );
    }
    println!();
    println!(
        "  wall times per sweep (ms): {}",
        rows.iter()
            .map(|row| format!(
                "{} c={}: {}",
                row.phase.split(' ').next().unwrap_or_default(),
                row.concurrency,
                row.sweeps
                    .iter()
                    .map(|m| ms(m.wall))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let errors: u64 = rows
        .iter()
        .flat_map(|row| &row.sweeps)
        .map(|m| m.summary.errors + m.summary.deferred + m.summary.failed)
        .sum();
    if errors > 0 {
        println!("  WARNING: {errors} runs ended in errors, deferrals or failures: see the log");
    }
}

fn print_verdicts(rows: &[Row], messages: usize, violations: &[String]) {
    let process_peak = mib(Memory::process_peak());
    println!(
        "  process peak RSS (getrusage ru_maxrss, everything in this process: sweeps, \
         registrations, the Discord capture and its {messages} messages): {process_peak:.1} MiB"
    );
    if !violations.is_empty() {
        println!(
            "  the Discord capture saw {} rule violations, e.g. {}",
            violations.len(),
            violations[0]
        );
    }
    println!();
    println!("Targets:");
    for row in rows.iter().filter(|row| row.timed_target) {
        let met = row.ratio() <= TIME_FACTOR;
        println!(
            "  wall time, concurrency {:>3}: median {} ms vs ideal {} ms = {:.2}× (target ≤ {TIME_FACTOR}×): {}",
            row.concurrency,
            ms(row.median()),
            ms(row.ideal()),
            row.ratio(),
            if met { "met" } else { "NOT MET" }
        );
    }
    let sweep_peak = rows.iter().filter_map(Row::peak_kib).max().map(mib);
    let memory_met = process_peak < MEMORY_LIMIT_MIB;
    println!(
        "  peak memory: {} per sweep, {process_peak:.1} MiB for the whole process (target < {MEMORY_LIMIT_MIB} MB): {}",
        sweep_peak.map_or("unknown".into(), |peak| format!("{peak:.1} MiB")),
        if memory_met { "met" } else { "NOT MET" }
    );
    // Reads: one index query per sweep (one page), never a scan or a per-run get, and the
    // records read are the open ones only.
    let reads_ok = rows.iter().all(|row| {
        row.sweeps
            .iter()
            .all(|m| m.ops.scans == 0 && m.ops.gets == 0 && m.ops.queries == 1 && m.ops.puts == 0)
    });
    let idle_writes: u64 = rows
        .iter()
        .filter(|row| row.timed_target)
        .flat_map(|row| &row.sweeps)
        .map(|m| m.ops.writes())
        .sum();
    let after_checked: Vec<u64> = rows
        .iter()
        .filter(|row| row.phase.starts_with("next"))
        .flat_map(|row| &row.sweeps)
        .map(|m| m.summary.checked)
        .collect();
    let pending_only = after_checked
        .iter()
        .all(|&n| n == (RUNS - RUNS / FINISHED_EVERY) as u64);
    println!(
        "  store reads: 1 index query per sweep, 0 scans, 0 gets: {}; records read after 100 \
         finished: {:?} (the 900 still open only): {}; writes in idle sweeps: {idle_writes}: {}",
        if reads_ok { "yes" } else { "NO" },
        after_checked,
        if pending_only { "yes" } else { "NO" },
        if idle_writes == 0 { "none" } else { "SOME" },
    );
}

/// Operation counts against DynamoDB (moto).
struct DynamoRow {
    what: String,
    summary: SweepSummary,
    ops: OpCounts,
    wall: Duration,
}

async fn dynamodb_phases(
    endpoint: &str,
    base_url: &str,
    webhook_url: &str,
) -> Result<Vec<DynamoRow>, String> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let parts = Parts::new(base_url, webhook_url, CONCURRENCIES[0])?;
    let table = |name: &str| {
        format!(
            "rn-bench-{}-{name}-{:04x}",
            std::process::id(),
            fastrand::u16(..)
        )
    };
    let mut rows = Vec::new();
    let mut push = |what: String, measured: Measured| {
        rows.push(DynamoRow {
            what,
            summary: measured.summary,
            ops: measured.ops,
            wall: measured.wall,
        })
    };

    let idle_table = table("idle");
    let idle = DynamoStore::new(client.clone(), idle_table.clone());
    idle.init().await.map_err(|e| e.to_string())?;
    register_all(&idle, &run_ids("idle")).await?;
    push("idle (1000 running)".into(), parts.sweep(&idle).await?);
    let paged = DynamoStore::new(client.clone(), idle_table).with_page_size(100);
    push(
        "idle, pages of 100 items".into(),
        parts.sweep(&paged).await?,
    );

    let notify_table = table("notify");
    let notify = DynamoStore::new(client.clone(), notify_table.clone());
    notify.init().await.map_err(|e| e.to_string())?;
    register_all(&notify, &run_ids("notify")).await?;
    push(
        "notify (100 of 1000 done)".into(),
        parts.sweep(&notify).await?,
    );
    push(
        "next sweep (900 running)".into(),
        parts.sweep(&notify).await?,
    );
    let paged = DynamoStore::new(client, notify_table).with_page_size(100);
    push(
        "next sweep, pages of 100 items".into(),
        parts.sweep(&paged).await?,
    );
    Ok(rows)
}

fn print_dynamodb(rows: &[DynamoRow]) {
    println!();
    println!("DynamoDB (moto), concurrency {}:", CONCURRENCIES[0]);
    println!(
        "| {:<31} | {:>7} | {:>8} | {:>7} | {:>5} | {:>4} | {:>4} | {:>7} | {:>7} | {:>9} |",
        "sweep",
        "checked",
        "notified",
        "queries",
        "scans",
        "gets",
        "puts",
        "updates",
        "deletes",
        "wall ms"
    );
    println!(
        "|{:-<33}|{:->9}|{:->10}|{:->9}|{:->7}|{:->6}|{:->6}|{:->9}|{:->9}|{:->11}|",
        "", ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for row in rows {
        println!(
            "| {:<31} | {:>7} | {:>8} | {:>7} | {:>5} | {:>4} | {:>4} | {:>7} | {:>7} | {:>9} |",
            row.what,
            row.summary.checked,
            row.summary.notified,
            row.ops.queries,
            row.ops.scans,
            row.ops.gets,
            row.ops.puts,
            row.ops.updates,
            row.ops.deletes,
            ms(row.wall),
        );
    }
    println!("  (wall times against moto are not meaningful: moto is slow and single-threaded)");
}
