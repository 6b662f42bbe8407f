//! What the capture remembers, and the decision for each request, step by step in
//! Discord's order: webhook and token, injected fault, rate limit, headers, body, success.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::query::{self, Query};
use super::ratelimit::RateLimiter;
use super::reply::{self, Posted, Reply};
use super::rules::{self, BodyProblem};
use super::server::{Incoming, Target};
use super::{mentions, Attempt, CapturedMessage, DiscordFault};

/// Milliseconds from the Unix epoch to Discord's (2015-01-01), the base of snowflakes.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Numbers the captures of one process, so two of them never write the same body file.
static NEXT_CAPTURE: AtomicU64 = AtomicU64::new(1);

/// Everything the capture knows; guarded by one mutex, never held across an `await`.
pub(super) struct State {
    pub(super) bodies_dir: Option<PathBuf>,
    pub(super) forgotten: HashSet<String>,
    pub(super) faults: VecDeque<DiscordFault>,
    pub(super) messages: Vec<CapturedMessage>,
    pub(super) attempts: Vec<Attempt>,
    pub(super) violations: Vec<String>,
    /// Webhooks seen so far, by id: the token they were first used with.
    webhooks: HashMap<String, Webhook>,
    /// Webhook ids that answered 404: Discord says never to use them again.
    gone: HashSet<String>,
    /// (id, token) pairs that answered 401: retrying the same token cannot help.
    refused: HashSet<(String, String)>,
    limiter: RateLimiter,
    snowflakes: Snowflakes,
    capture_number: u64,
    bodies_written: u64,
}

/// A webhook as Discord knows it.
struct Webhook {
    token: String,
    channel_id: String,
}

/// What to do with a request after the first checks.
pub(super) enum Admission {
    /// Answer now.
    Answer(Reply),
    /// Go on with the rate limit and the body, after this delay (an injected slow answer).
    Proceed(Option<Duration>),
    /// Hold the request this long, then answer with this reply; nothing is posted (an
    /// injected blackhole). The attempt is already logged.
    Hold(Duration, Reply),
}

impl State {
    pub(super) fn new(limit: u32, window: Duration) -> Self {
        Self {
            bodies_dir: None,
            forgotten: HashSet::new(),
            faults: VecDeque::new(),
            messages: Vec::new(),
            attempts: Vec::new(),
            violations: Vec::new(),
            webhooks: HashMap::new(),
            gone: HashSet::new(),
            refused: HashSet::new(),
            limiter: RateLimiter::new(limit, window),
            snowflakes: Snowflakes::default(),
            capture_number: NEXT_CAPTURE.fetch_add(1, Ordering::Relaxed),
            bodies_written: 0,
        }
    }

    /// Where to write the next received body, if bodies are being recorded.
    pub(super) fn next_body_path(&mut self) -> Option<PathBuf> {
        let dir = self.bodies_dir.as_ref()?;
        self.bodies_written += 1;
        let name = format!(
            "body-{}-{}-{:06}.json",
            std::process::id(),
            self.capture_number,
            self.bodies_written
        );
        Some(dir.join(name))
    }

    /// Steps 1 and 2: is the webhook known with this token, and is a fault queued?
    pub(super) fn admit(&mut self, request: &Incoming) -> Admission {
        self.note_arrival(request);
        let target = &request.target;
        if let Some(refusal) = self.check_webhook(target) {
            return Admission::Answer(self.conclude(target, request.arrived, refusal));
        }
        match self.faults.pop_front() {
            None => Admission::Proceed(None),
            Some(DiscordFault::Slow(delay)) => Admission::Proceed(Some(delay)),
            Some(DiscordFault::Blackhole(hold)) => {
                let reply = reply::gateway_timeout();
                // Logged now, not when the 504 goes out: the client may never see it.
                self.attempts.push(Attempt {
                    webhook_id: target.webhook_id.clone(),
                    at: request.arrived,
                    status: reply.status(),
                });
                Admission::Hold(hold, reply)
            }
            Some(fault) => Admission::Answer(self.inject(request, &fault)),
        }
    }

    /// Steps 3 to 6: rate limit, headers, body, and the message itself.
    pub(super) fn process(&mut self, request: &Incoming, body: Option<&Value>) -> Reply {
        let reply = match self.check(request, body) {
            Ok((query, body)) => self.accept(request, query, body),
            Err(refusal) => refusal,
        };
        self.conclude(&request.target, request.arrived, reply)
    }

    /// Steps 3 to 5; the first refusal is the answer.
    fn check<'b>(
        &mut self,
        request: &Incoming,
        body: Option<&'b Value>,
    ) -> Result<(Query, &'b Value), Reply> {
        self.rate_limit(request, Instant::now())?;
        self.check_headers(request)?;
        self.check_request(request, body)
    }

    /// Answers a request that is not a `POST` (still an attempt on the webhook).
    pub(super) fn refuse_method(&mut self, target: &Target, arrived: Instant) -> Reply {
        self.conclude(target, arrived, reply::method_not_allowed())
    }

    /// Answers a request whose body could not be read whole.
    pub(super) fn refuse_body(&mut self, target: &Target, arrived: Instant) -> Reply {
        self.conclude(target, arrived, reply::too_large())
    }

    /// Violations visible as soon as a request arrives, whatever its answer will be.
    fn note_arrival(&mut self, request: &Incoming) {
        let target = &request.target;
        if let Some(early) = self.limiter.early_by(&target.webhook_id, request.arrived) {
            let text = format!(
                "request before retry_after had elapsed ({:.3} s early)",
                early.as_secs_f64()
            );
            self.violation(target, text);
        }
        if self.gone.contains(&target.webhook_id) {
            let text = "request after the webhook answered 404 (Discord: never use it again)";
            self.violation(target, text);
        }
        if self
            .refused
            .contains(&(target.webhook_id.clone(), target.token.clone()))
        {
            self.violation(
                target,
                "request with a token that was already refused with 401",
            );
        }
        if let Some(version) = target.api_version.filter(|v| *v != 10) {
            let text = format!("API version v{version} in the path; pin v10");
            self.violation(target, text);
        }
    }

    /// 404 for a forgotten webhook, 401 for a token other than the first one seen.
    fn check_webhook(&mut self, target: &Target) -> Option<Reply> {
        if self.forgotten.contains(&target.webhook_id) {
            return Some(reply::unknown_webhook());
        }
        let snowflakes = &mut self.snowflakes;
        let webhook = self
            .webhooks
            .entry(target.webhook_id.clone())
            .or_insert_with(|| Webhook {
                token: target.token.clone(),
                channel_id: snowflakes.next(),
            });
        (webhook.token != target.token).then(reply::invalid_token)
    }

    /// Answers with an injected fault; a 429 announces its wait like a real one.
    fn inject(&mut self, request: &Incoming, fault: &DiscordFault) -> Reply {
        let now = Instant::now();
        let webhook_id = &request.target.webhook_id;
        match fault {
            DiscordFault::RateLimited {
                retry_after,
                global,
            } => {
                let wait = Duration::try_from_secs_f64(*retry_after).unwrap_or_default();
                self.limiter.announce(webhook_id, wait, *global, now);
            }
            DiscordFault::RateLimitedHeaderOnly { retry_after_header } => {
                let wait = Duration::from_secs(*retry_after_header);
                self.limiter.announce(webhook_id, wait, false, now);
            }
            _ => {}
        }
        let answer = reply::fault(fault).unwrap_or_else(reply::internal_error);
        self.conclude(&request.target, request.arrived, answer)
    }

    /// Step 3: the bucket. Running into an empty one is a client bug: the headers of the
    /// previous answer said `Remaining: 0`.
    fn rate_limit(&mut self, request: &Incoming, now: Instant) -> Result<(), Reply> {
        let target = &request.target;
        let limited = match self.limiter.take(&target.webhook_id, now) {
            Ok(()) => return Ok(()),
            Err(limited) => limited,
        };
        if limited.exhausted {
            let text = "request while bucket exhausted (X-RateLimit-Remaining was 0)";
            self.violation(target, text);
        }
        Err(reply::rate_limited(limited.wait, limited.global))
    }

    /// Step 4: `Content-Type` must be JSON; a `User-Agent` is asked for.
    fn check_headers(&mut self, request: &Incoming) -> Result<(), Reply> {
        let target = &request.target;
        match request.user_agent.as_deref() {
            None => {
                let text = "no User-Agent header (Discord asks for `DiscordBot (url, version)`)";
                self.violation(target, text);
            }
            Some(agent) if !agent.starts_with("DiscordBot (") => {
                let text = format!("User-Agent {agent:?} is not `DiscordBot (url, version)`");
                self.violation(target, text);
            }
            Some(_) => {}
        }
        if is_json(request.content_type.as_deref()) {
            return Ok(());
        }
        let text = format!(
            "Content-Type is {:?}, not application/json",
            request.content_type.as_deref().unwrap_or("missing")
        );
        self.violation(target, text);
        Err(reply::content_type_invalid())
    }

    /// Step 5: the query string and the body, by Discord's rules.
    fn check_request<'b>(
        &mut self,
        request: &Incoming,
        body: Option<&'b Value>,
    ) -> Result<(Query, &'b Value), Reply> {
        let query = query::parse_query(request.query.as_deref()).map_err(reply::form_error)?;
        let body = body.ok_or_else(reply::invalid_json)?;
        for text in rules::soft_violations(body) {
            self.violation(&request.target, text);
        }
        rules::check(body).map_err(|problem| match problem {
            BodyProblem::Form(tree) => reply::form_error(tree),
            BodyProblem::Empty => reply::empty_message(),
        })?;
        Ok((query, body))
    }

    /// Step 6: the message is posted; it is answered only with `wait=true`.
    fn accept(&mut self, request: &Incoming, query: Query, body: &Value) -> Reply {
        let target = &request.target;
        let message_id = self.snowflakes.next();
        let channel_id = match &query.thread_id {
            Some(thread) => thread.clone(),
            None => self.channel_of(&target.webhook_id),
        };
        let pings_someone = mentions::pings_someone(body);
        self.messages.push(CapturedMessage {
            webhook_id: target.webhook_id.clone(),
            message_id: message_id.clone(),
            thread_id: query.thread_id,
            body: body.clone(),
            received_at: request.arrived,
            pings_someone,
        });
        if !query.wait {
            self.violation(target, "posted without wait=true: failures would be silent");
            return reply::no_content();
        }
        let posted = Posted {
            message_id: &message_id,
            webhook_id: &target.webhook_id,
            channel_id: &channel_id,
            timestamp: &now_rfc3339(),
            mention_everyone: pings_someone,
        };
        reply::message(&posted, body)
    }

    fn channel_of(&self, webhook_id: &str) -> String {
        self.webhooks
            .get(webhook_id)
            .map(|webhook| webhook.channel_id.clone())
            .unwrap_or_default()
    }

    /// Finishes an answer: rate-limit headers, the attempt log, and what a 404 or 401
    /// means for later requests.
    fn conclude(&mut self, target: &Target, arrived: Instant, reply: Reply) -> Reply {
        let status = reply.status();
        self.attempts.push(Attempt {
            webhook_id: target.webhook_id.clone(),
            at: arrived,
            status,
        });
        match status {
            404 => {
                self.gone.insert(target.webhook_id.clone());
            }
            401 => {
                self.refused
                    .insert((target.webhook_id.clone(), target.token.clone()));
            }
            _ => {}
        }
        if !reply.carries_rate_limit_headers() {
            return reply;
        }
        let headers = self.limiter.headers(&target.webhook_id, Instant::now());
        reply.with_headers(headers)
    }

    fn violation(&mut self, target: &Target, text: impl AsRef<str>) {
        let text = format!("webhook {}: {}", target.webhook_id, text.as_ref());
        tracing::warn!(violation = %text, "discord capture: client broke a rule");
        self.violations.push(text);
    }
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn now_rfc3339() -> String {
    let format = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Discord-style snowflakes: milliseconds since 2015 in the high bits, a counter in the low
/// twelve, so ids are unique and increase like real ones.
#[derive(Default)]
struct Snowflakes {
    last_ms: u64,
    sequence: u64,
}

impl Snowflakes {
    fn next(&mut self) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64)
            .saturating_sub(DISCORD_EPOCH_MS);
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            self.sequence = 0;
        } else {
            // Same (or an earlier, if the clock stepped back) millisecond: count on.
            self.sequence += 1;
            if self.sequence > 0xFFF {
                self.last_ms += 1;
                self.sequence = 0;
            }
        }
        ((self.last_ms << 22) | self.sequence).to_string()
    }
}
