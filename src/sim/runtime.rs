//! A stand-in for the swarm runtime's HTTP API, with scripted runs and fault injection.
//!
//! The simulator answers exactly like the real runtime (see
//! `shared/reference/swarm-runtime-api.md`): the same paths, the same camelCase JSON, the
//! same `limit` default and clamping on the task list, the same 404 and empty-bodied 401,
//! and .NET-style timestamps with seven fractional digits. Runs follow a script: each task
//! has a list of timed steps, so a run moves through its life on its own while a client
//! polls it. Faults (server errors, proxy error pages, empty or truncated bodies, dropped
//! connections, slow answers) can be queued to test how a client copes.
//!
//! It is used by `run-notifier simulate`, the demo, the benchmarks and the integration
//! tests.

mod conn;
mod http;
mod scenario;
#[cfg(test)]
mod tests;
mod timeline;

use std::{
    cmp::Reverse,
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use scenario::{builtin_scenario, load_scenario};
use timeline::LiveRun;

/// One step of a task's life: from `at_seconds` after the run's clock started, the task has
/// this status.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskStep {
    /// Seconds after the run's clock started (when it was upserted) at which this step
    /// begins.
    pub at_seconds: f64,
    /// The status the runtime reports from then on, passed through verbatim (any casing,
    /// any value).
    pub status: String,
    /// The task's `error` field from then on (`null` when absent).
    #[serde(default)]
    pub error: Option<String>,
}

/// A task of a scripted run, with the steps of its life.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptedTask {
    /// The task's id, unique within its run.
    pub task_id: String,
    /// The task's title.
    pub title: String,
    /// The task's steps. The task does not exist before its first step; the simulator
    /// orders the steps by time when the run is upserted.
    pub steps: Vec<TaskStep>,
}

/// A run whose tasks follow a script.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScriptedRun {
    /// The run's id; any text, including spaces, `/`, `?`, `#` and non-ASCII.
    pub run_id: String,
    /// The run's title (`null` in the API when absent).
    #[serde(default)]
    pub title: Option<String>,
    /// The run's tasks, in the order the task list reports them.
    pub tasks: Vec<ScriptedTask>,
}

/// A scenario file: `{"runs": [ScriptedRun, ...]}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The runs, upserted in this order (so the last one is the newest in `GET /runs`).
    pub runs: Vec<ScriptedRun>,
}

/// A misbehaviour the simulator can put in place of one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeFault {
    /// `500` with a small JSON body (an ASP.NET problem-details object).
    ServerError,
    /// `502` with an HTML page, like a reverse proxy's error page.
    HtmlErrorPage,
    /// `200` with an empty body.
    EmptyBody,
    /// The real answer with its status, but only the first half of its JSON body (and a
    /// `Content-Length` that matches the cut body, so the client reads it without error).
    TruncatedJson,
    /// The connection is dropped before any answer: the client sees no status at all. When
    /// the router is served by something other than [`RuntimeSimulator::spawn`] or
    /// [`RuntimeSimulator::serve`], it falls back to a `200` whose body breaks off after its
    /// first bytes; depending on what hyper had sent by then, the client sees no status or
    /// a body that cannot be read to its end.
    ConnectionReset,
    /// The real answer, but only after this extra delay.
    Slow(Duration),
}

/// Requests answered so far, per kind, for tests and benchmarks.
///
/// `run`, `tasks`, `runs_list` and `events` count the requests that reached those endpoints
/// (answered `200`, `400` or `404`); requests refused for their API key are counted only in
/// `unauthorized`, and requests replaced by a fault only in `faulted`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET /runs/{runId}`.
    pub run: u64,
    /// `GET /runs/{runId}/tasks`.
    pub tasks: u64,
    /// `GET /runs`.
    pub runs_list: u64,
    /// `GET /runs/{runId}/events`.
    pub events: u64,
    /// Requests refused with `401`.
    pub unauthorized: u64,
    /// Requests for an unknown run (also counted in their endpoint's field).
    pub not_found: u64,
    /// Requests that consumed a queued fault. [`RuntimeFault::Slow`] and
    /// [`RuntimeFault::TruncatedJson`] still serve the real answer, so those requests are
    /// counted in their endpoint's field (or `unauthorized`) too.
    pub faulted: u64,
}

/// The simulated runtime. Cheap to clone: every clone shares the same runs, faults and
/// counters, so tests keep one to steer the server they spawned.
#[derive(Clone)]
pub struct RuntimeSimulator {
    shared: Arc<Shared>,
}

/// What every clone of a [`RuntimeSimulator`] shares.
///
/// The locks are plain `std` mutexes: they are only held for short, non-async sections.
struct Shared {
    api_key: Option<String>,
    runs: Mutex<Runs>,
    faults: Mutex<VecDeque<RuntimeFault>>,
    latency: Mutex<Duration>,
    counters: Counters,
}

/// The runs, with a sequence number so that runs created in the same instant still list in
/// a stable newest-first order.
#[derive(Default)]
struct Runs {
    next_seq: u64,
    by_id: HashMap<String, LiveRun>,
}

impl Runs {
    /// Stores `run`, replacing any run with its id, and starts its clock.
    fn start(&mut self, run: ScriptedRun) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id
            .insert(run.run_id.clone(), LiveRun::start(run, seq));
    }
}

#[derive(Default)]
struct Counters {
    run: AtomicU64,
    tasks: AtomicU64,
    runs_list: AtomicU64,
    events: AtomicU64,
    unauthorized: AtomicU64,
    not_found: AtomicU64,
    faulted: AtomicU64,
}

/// Which counter a request adds to.
#[derive(Clone, Copy, Debug)]
enum Counter {
    Run,
    Tasks,
    RunsList,
    Events,
    Unauthorized,
    NotFound,
    Faulted,
}

/// Locks a mutex even if a panicking thread poisoned it: the simulator's state stays
/// consistent between statements, so the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RuntimeSimulator {
    /// A simulator with no runs. With `api_key`, every endpoint but `/healthz` requires the
    /// header `X-API-Key: <key>`.
    pub fn new(api_key: Option<String>) -> Self {
        Self {
            shared: Arc::new(Shared {
                api_key,
                runs: Mutex::default(),
                faults: Mutex::default(),
                latency: Mutex::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// A simulator with the scenario's runs upserted in order (their clocks start now).
    pub fn with_scenario(api_key: Option<String>, scenario: Scenario) -> Self {
        let simulator = Self::new(api_key);
        for run in scenario.runs {
            simulator.upsert_run(run);
        }
        simulator
    }

    /// Adds or replaces a run; its clock starts now and its `createdAt` is now.
    pub fn upsert_run(&self, run: ScriptedRun) {
        lock(&self.shared.runs).start(run);
    }

    /// Removes a run; afterwards it answers `404`. Removing an unknown run does nothing.
    pub fn remove_run(&self, run_id: &str) {
        lock(&self.shared.runs).by_id.remove(run_id);
    }

    /// Appends a step at the run's current elapsed time, so the task has this status from
    /// now on (scripted steps later in time still take over when their time comes).
    ///
    /// A missing task is created with its id as title; a missing run is created too (with no
    /// title, its clock starting now), so tests can build a run step by step.
    pub fn set_task_status(&self, run_id: &str, task_id: &str, status: &str, error: Option<&str>) {
        let mut runs = lock(&self.shared.runs);
        if !runs.by_id.contains_key(run_id) {
            runs.start(ScriptedRun {
                run_id: run_id.to_owned(),
                title: None,
                tasks: Vec::new(),
            });
        }
        if let Some(run) = runs.by_id.get_mut(run_id) {
            run.set_task_status(task_id, status, error);
        }
    }

    /// Queues faults. Each request to a runtime endpoint (not `/healthz`) consumes the next
    /// one, in order, before its API key is checked (the fault stands for a proxy or a crash
    /// in front of the runtime's own logic).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = RuntimeFault>) {
        lock(&self.shared.faults).extend(faults);
    }

    /// Sets a delay added to every answer, `/healthz` included (for benchmarks: about
    /// 50 ms, like a real network).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Requests answered so far, per kind.
    pub fn request_counts(&self) -> RequestCounts {
        let c = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestCounts {
            run: read(&c.run),
            tasks: read(&c.tasks),
            runs_list: read(&c.runs_list),
            events: read(&c.events),
            unauthorized: read(&c.unauthorized),
            not_found: read(&c.not_found),
            faulted: read(&c.faulted),
        }
    }

    /// The HTTP routes. Served by anything other than [`Self::spawn`] or [`Self::serve`],
    /// [`RuntimeFault::ConnectionReset`] is less exact (see there).
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a spawned tokio task until
    /// the handle is dropped or [`SimulatorHandle::shutdown`] is called.
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<SimulatorHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let simulator = self.clone();
        let task = tokio::spawn(async move {
            // A dropped sender also counts as the signal, which is how dropping the handle
            // stops the server.
            let signal = async {
                let _ = stopped.await;
            };
            let result = conn::serve(simulator.router(), listener, signal).await;
            if let Err(error) = &result {
                tracing::warn!(%error, "runtime simulator stopped with an error");
            }
            result
        });
        Ok(SimulatorHandle { addr, stop, task })
    }

    /// Serves on an existing listener until the future is dropped (for
    /// `run-notifier simulate`, which binds and then awaits this alongside Ctrl-C).
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        conn::serve(self.router(), listener, std::future::pending()).await
    }

    fn count(&self, counter: Counter) {
        let c = &self.shared.counters;
        let field = match counter {
            Counter::Run => &c.run,
            Counter::Tasks => &c.tasks,
            Counter::RunsList => &c.runs_list,
            Counter::Events => &c.events,
            Counter::Unauthorized => &c.unauthorized,
            Counter::NotFound => &c.not_found,
            Counter::Faulted => &c.faulted,
        };
        field.fetch_add(1, Ordering::Relaxed);
    }

    fn next_fault(&self) -> Option<RuntimeFault> {
        lock(&self.shared.faults).pop_front()
    }

    fn latency(&self) -> Duration {
        *lock(&self.shared.latency)
    }

    /// Whether a request with this `X-API-Key` value (if any) may pass. A plain comparison
    /// is enough: this is a test double, not a place that guards a real secret.
    fn key_accepted(&self, presented: Option<&[u8]>) -> bool {
        match &self.shared.api_key {
            None => true,
            Some(key) => presented == Some(key.as_bytes()),
        }
    }

    /// Runs `f` on the run with this id, if it exists.
    fn with_run<T>(&self, run_id: &str, f: impl FnOnce(&LiveRun) -> T) -> Option<T> {
        lock(&self.shared.runs).by_id.get(run_id).map(f)
    }

    /// Runs `f` on all runs, newest first.
    fn with_runs_newest_first<T>(&self, f: impl FnMut(&LiveRun) -> T) -> Vec<T> {
        let runs = lock(&self.shared.runs);
        let mut all: Vec<&LiveRun> = runs.by_id.values().collect();
        // Upsert order is creation order, and unlike wall-clock times it never ties.
        all.sort_by_key(|run| Reverse(run.seq()));
        all.into_iter().map(f).collect()
    }
}

/// A simulator served by [`RuntimeSimulator::spawn`]. Dropping it stops the server (in the
/// background: dropping the stop sender is the signal); [`Self::shutdown`] stops it and
/// waits until it has stopped.
#[derive(Debug)]
pub struct SimulatorHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SimulatorHandle {
    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits until it has finished the answers under way (a
    /// [`RuntimeFault::Slow`] answer in flight delays this).
    pub async fn shutdown(self) {
        let Self { stop, task, .. } = self;
        // The server may already have stopped on its own; then there is no one to tell.
        let _ = stop.send(());
        if let Err(error) = task.await {
            tracing::warn!(%error, "runtime simulator task failed");
        }
    }
}
