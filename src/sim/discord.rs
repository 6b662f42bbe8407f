//! A stand-in for Discord's webhook endpoint that enforces Discord's rules and records what
//! it received, so the demo can show the message and tests can assert on it.
//!
//! It is written from Discord's documentation, independently of this project's client: its
//! job is to catch client bugs, so it is strict where Discord is strict (limits counted in
//! code points after trimming, the 6000-character embed total, rate-limit buckets) and it
//! records *violations* for things Discord tolerates but a careful client must not do
//! (posting without `wait=true`, ignoring `retry_after`, a misspelled `allow_mentions`, no
//! `User-Agent`, using a webhook again after it answered 404, ...).
//!
//! Per request the checks run in Discord's order: known webhook and token, injected fault,
//! rate limit, headers, body, then success. Every answer to a webhook path carries the
//! `X-RateLimit-*` headers, except an injected Cloudflare ban, which does not come from
//! Discord at all.

mod mentions;
mod query;
mod ratelimit;
mod reply;
mod rules;
mod server;
mod state;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use state::State;

/// How long [`CaptureHandle::shutdown`] lets in-flight requests (a [`DiscordFault::Slow`] one,
/// say) finish before it stops the server anyway, so a test never hangs on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A misbehaviour to inject: the next request (any webhook) gets this answer instead of
/// being processed. Faults are consumed one per request, in the order pushed.
#[derive(Clone, Debug, PartialEq)]
pub enum DiscordFault {
    /// `429` with a JSON body `{"message", "retry_after", "global"}` and a `Retry-After`
    /// header holding the ceiling of `retry_after`, as Discord sends. Requests to the same
    /// webhook (every webhook if `global`) before `retry_after` has passed are violations.
    RateLimited {
        /// Seconds to wait, fractional.
        retry_after: f64,
        /// Whether the whole client is limited rather than this webhook's bucket.
        global: bool,
    },
    /// `429` with only a `Retry-After` header; the JSON body has no `retry_after`.
    RateLimitedHeaderOnly {
        /// Whole seconds to wait, as sent in the `Retry-After` header.
        retry_after_header: u64,
    },
    /// `429` from Cloudflare in front of Discord: an HTML body `error code: 1015`, no
    /// `retry_after` and no `X-RateLimit-*` headers. The IP is banned for a while.
    CloudflareBan,
    /// The given status with a body shaped like Discord's: 400 → 50035, 401 → 50027,
    /// 403 → 50013, 404 → 10015, 5xx → a plain or HTML page from the edge.
    Status(u16),
    /// Process the request normally after this delay (to provoke client timeouts). The
    /// request is processed to the end even if the client hangs up meanwhile, as Discord
    /// would: a retry after a timeout can then post twice.
    Slow(Duration),
    /// The request never reaches Discord: the edge holds it this long and then answers
    /// `504` (Cloudflare's HTML page, no `X-RateLimit-*` headers). No message is posted,
    /// whether the client waits for the `504` or hangs up before. The attempt is logged as
    /// soon as the request arrives, with status `504`, so a test can see a post in flight.
    Blackhole(Duration),
}

/// A message Discord would have posted.
#[derive(Clone, Debug)]
pub struct CapturedMessage {
    /// The webhook it was posted through.
    pub webhook_id: String,
    /// The snowflake id given to the message (returned to the client with `wait=true`).
    pub message_id: String,
    /// The `thread_id` query parameter, if any.
    pub thread_id: Option<String>,
    /// The request body exactly as parsed.
    pub body: serde_json::Value,
    /// When the request arrived.
    pub received_at: Instant,
    /// Whether Discord would notify someone: the content mentions `@everyone`, `@here`, a
    /// user or a role, and `allowed_mentions` (absent = parse everything) lets it through.
    pub pings_someone: bool,
}

/// One request to a webhook path, whatever its outcome.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The webhook id from the path.
    pub webhook_id: String,
    /// When the request arrived.
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

/// The capture server's shared state; cheap to clone (an `Arc` inside), so a test can keep
/// one clone to inspect while the server runs with another.
#[derive(Clone)]
pub struct DiscordCapture {
    shared: Arc<Shared>,
}

/// What the handlers and the inspection methods share.
struct Shared {
    state: Mutex<State>,
    /// Count of accepted messages, so `wait_for_messages` can sleep until it grows.
    accepted: watch::Sender<usize>,
}

impl Shared {
    /// Locks the state. A panic while holding the lock cannot leave the state half-updated
    /// in a way that matters to a test, so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DiscordCapture {
    /// A capture whose per-webhook rate-limit bucket allows 5 requests per 2 seconds.
    pub fn new() -> Self {
        Self::with_bucket(5, Duration::from_secs(2))
    }

    /// A capture whose per-webhook bucket allows `limit` requests per `window`.
    pub fn with_bucket(limit: u32, window: Duration) -> Self {
        let shared = Shared {
            state: Mutex::new(State::new(limit, window)),
            accepted: watch::Sender::new(0),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Writes every received JSON body (valid or not) to `<dir>/<unique>.json`, so a test
    /// run can validate them all against Discord's OpenAPI schema afterwards.
    pub fn record_bodies_to(&self, dir: PathBuf) {
        self.shared.lock().bodies_dir = Some(dir);
    }

    /// Deletes the webhook: every later request to it answers 404 (code 10015).
    pub fn forget_webhook(&self, webhook_id: &str) {
        self.shared.lock().forgotten.insert(webhook_id.to_owned());
    }

    /// Queues faults; each request consumes the next one, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = DiscordFault>) {
        self.shared.lock().faults.extend(faults);
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<CapturedMessage> {
        self.shared.lock().messages.clone()
    }

    /// Every request to a webhook path so far, oldest first.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.lock().attempts.clone()
    }

    /// Every rule a client broke so far, in words, oldest first. Never contains a token.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Waits until at least `n` messages were accepted or the timeout passes; returns what
    /// it has.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<CapturedMessage> {
        let mut accepted = self.shared.accepted.subscribe();
        // A timeout is not an error here: the caller asserts on what it gets back.
        let _ = tokio::time::timeout(timeout, accepted.wait_for(|count| *count >= n)).await;
        self.messages()
    }

    /// Discord's body rules on their own: `Ok` if Discord would accept `body`, otherwise the
    /// `errors` tree of its 400 answer (e.g. `{"embeds":{"0":{"title":{"_errors":[..]}}}}`).
    /// An empty message, which Discord answers with code 50006 rather than a tree, comes
    /// back as `{"_errors":[{"code":"EMPTY_MESSAGE","message":"Cannot send an empty message"}]}`.
    pub fn check_body(body: &serde_json::Value) -> Result<(), serde_json::Value> {
        rules::check(body).map_err(rules::BodyProblem::into_tree)
    }

    /// An axum router answering like Discord's webhook endpoint on any path ending in
    /// `/webhooks/{id}/{token}`.
    pub fn router(&self) -> axum::Router {
        server::router(Arc::clone(&self.shared))
    }

    /// Serves [`Self::router`] on `addr` (port 0 picks a free one) until the returned handle
    /// is shut down or dropped.
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<CaptureHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            // Either an explicit shutdown or the handle being dropped ends the server.
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = serve.await {
                tracing::warn!(%error, "discord capture server stopped with an error");
            }
        });
        Ok(CaptureHandle { addr, stop, task })
    }
}

impl Default for DiscordCapture {
    fn default() -> Self {
        Self::new()
    }
}

/// A running capture server. Dropping it stops the server without waiting.
pub struct CaptureHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl CaptureHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A webhook URL on this server, unversioned like the URLs users paste:
    /// `http://127.0.0.1:PORT/api/webhooks/ID/TOKEN`.
    pub fn webhook_url(&self, webhook_id: &str, token: &str) -> String {
        let host = SocketAddr::new(reachable_ip(self.addr.ip()), self.addr.port());
        format!("http://{host}/api/webhooks/{webhook_id}/{token}")
    }

    /// Stops the server, letting in-flight requests finish for a few seconds at most.
    pub async fn shutdown(self) {
        let Self { stop, mut task, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// The address a client should dial: a server bound to "any" is reached on loopback.
fn reachable_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}
