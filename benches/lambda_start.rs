//! How long the Lambda takes from process start to its first `GET
//! /2018-06-01/runtime/invocation/next`: the init phase a cold start pays before the
//! first event can be handed over (configuration, logging, the AWS SDK's configuration
//! and clients, the HTTP client, the Lambda runtime).
//!
//!     cargo bench --bench lambda_start
//!
//! A tiny fake Lambda Runtime API on 127.0.0.1 (axum) records when the first `next`
//! request arrives and then holds it, as Lambda does between invocations; the release
//! `run-notifier-lambda` is spawned with a complete environment (a DynamoDB store, a
//! webhook URL from the environment, a region and static credentials so no metadata
//! service is consulted) and killed once it has asked. `wait4` gives its CPU time and
//! peak RSS. 20 start-ups; min, median and p90 are printed.
//!
//! A second scenario (bench mode only) points `SSL_CERT_FILE` at one certificate, so the
//! HTTP clients load a one-certificate root store instead of the system's: the difference
//! is what loading the system's root certificates costs at init.
//!
//! This is the x86_64 build of the same code: the arm64 `bootstrap` deployed to Lambda
//! cannot run on this machine.
//!
//! Under `cargo test --all-targets` (no `--bench` flag) it does a 2-start smoke run.

use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

/// A start-up that has not asked for an event within this is a failure.
const LIMIT: Duration = Duration::from_secs(20);
/// The target for one start-up (the wall time to the first `next`).
const TARGET: Duration = Duration::from_millis(20);
/// The path the Lambda runtime polls for the next event.
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// A way to start the function.
struct Scenario {
    name: &'static str,
    /// `SSL_CERT_FILE` for the child, when set.
    cert_file: Option<String>,
}

struct Sample {
    to_first_next: Duration,
    cpu: Duration,
    max_rss_kib: i64,
}

/// The handler of `next`: notes when the request arrived, then never answers.
async fn next(State(arrivals): State<mpsc::UnboundedSender<Instant>>) -> &'static str {
    let _ = arrivals.send(Instant::now());
    std::future::pending::<&'static str>().await
}

fn main() -> ExitCode {
    let full = std::env::args().any(|arg| arg == "--bench");
    let runs = if full { 20 } else { 2 };
    let binary = env!("CARGO_BIN_EXE_run-notifier-lambda");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the bench's tokio runtime starts");

    let (arrivals, mut arrived) = mpsc::unbounded_channel::<Instant>();
    let router = Router::new().route(NEXT, get(next)).with_state(arrivals);
    let listener = match runtime.block_on(tokio::net::TcpListener::bind(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        0,
    )))) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("lambda_start: cannot listen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().expect("a bound address");
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let mut scenarios = vec![Scenario {
        name: "as deployed",
        cert_file: None,
    }];
    if let (true, Some(cert)) = (full, one_certificate()) {
        scenarios.push(Scenario {
            name: "SSL_CERT_FILE = 1 certificate",
            cert_file: Some(cert),
        });
    }

    println!(
        "run-notifier-lambda: process start to first GET {NEXT}, {runs} start-ups, {} mode ({binary})",
        if full { "bench" } else { "smoke-test" },
    );
    for scenario in &scenarios {
        let mut samples = Vec::with_capacity(runs);
        for i in 0..runs {
            match measure(&runtime, binary, addr, scenario, &mut arrived) {
                Ok(sample) => samples.push(sample),
                Err(error) => {
                    eprintln!(
                        "lambda_start: {}: start-up {} failed: {error}",
                        scenario.name,
                        i + 1
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        report(scenario, &samples, full);
    }
    ExitCode::SUCCESS
}

/// One system root certificate, for the comparison scenario.
fn one_certificate() -> Option<String> {
    let mut pems: Vec<_> = std::fs::read_dir("/etc/ssl/certs")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "pem"))
        .collect();
    pems.sort();
    pems.first().map(|path| path.display().to_string())
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    binary: &str,
    addr: SocketAddr,
    scenario: &Scenario,
    arrived: &mut mpsc::UnboundedReceiver<Instant>,
) -> Result<Sample, String> {
    // A request left over from an earlier start-up must not be taken for this one.
    while arrived.try_recv().is_ok() {}
    let mut command = Command::new(binary);
    command.env_clear();
    if let Some(cert) = &scenario.cert_file {
        command.env("SSL_CERT_FILE", cert);
    }
    let started = Instant::now();
    let child = command
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "run-notifier-bench-sweep")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/run-notifier-bench-sweep",
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCHONLY")
        .env("AWS_SECRET_ACCESS_KEY", "bench-only")
        .env("AWS_SESSION_TOKEN", "bench-only")
        .env("NOTIFIER_STORE", "dynamodb:run-notifier-bench")
        .env("BASE_URL", "http://127.0.0.1:9")
        .env(
            "DISCORD_WEBHOOK_URL",
            "https://discord.com/api/webhooks/123456789012345678/bench-token",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("run-notifier-lambda cannot start: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let first_next = runtime.block_on(async { tokio::time::timeout(LIMIT, arrived.recv()).await });
    // Not reaped yet, so the pid is still ours to signal.
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (_, usage) = wait4(pid)?;
    let at = match first_next {
        Ok(Some(at)) => at,
        Ok(None) => return Err("the fake Runtime API stopped".into()),
        Err(_) => {
            return Err(format!(
                "no GET {NEXT} within {} s; run the binary by hand to see why",
                LIMIT.as_secs()
            ))
        }
    };
    Ok(Sample {
        to_first_next: at.saturating_duration_since(started),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
    })
}

fn wait4(pid: libc::pid_t) -> Result<(i32, libc::rusage), String> {
    let mut status = 0;
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
        if reaped == pid {
            // SAFETY: wait4 filled `usage` in when it returned the pid; it was zeroed
            // before, and all-zero is a valid rusage anyway.
            return Ok((status, unsafe { usage.assume_init() }));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 failed: {error}"));
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// The value at quantile `q` (nearest rank) of sorted `values`.
fn quantile(values: &[Duration], q: f64) -> Duration {
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn report(scenario: &Scenario, samples: &[Sample], full: bool) {
    let mut wall: Vec<Duration> = samples.iter().map(|s| s.to_first_next).collect();
    let mut cpu: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
    wall.sort();
    cpu.sort();
    let rss = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    println!();
    println!("{}:", scenario.name);
    println!(
        "| {:<28} | {:>8} | {:>8} | {:>8} |",
        "", "min", "median", "p90"
    );
    println!("|{:-<30}|{:->10}|{:->10}|{:->10}|", "", ":", ":", ":");
    for (name, values) in [
        ("start → first next (wall)", &wall),
        ("CPU (user + sys)", &cpu),
    ] {
        println!(
            "| {:<28} | {:>5.1} ms | {:>5.1} ms | {:>5.1} ms |",
            name,
            ms(values[0]),
            ms(quantile(values, 0.5)),
            ms(quantile(values, 0.9)),
        );
    }
    println!();
    println!("  peak RSS {:.1} MiB", rss as f64 / 1024.0);
    let median = quantile(&wall, 0.5);
    if full {
        println!(
            "  target: median under {} ms: {}",
            TARGET.as_millis(),
            if median < TARGET { "met" } else { "MISSED" }
        );
    } else {
        println!("  (smoke test of the test-profile build: not a measurement)");
    }
}
