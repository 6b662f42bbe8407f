//! Per-webhook rate-limit buckets and announced waits, as Discord runs them.
//!
//! Each webhook has a fixed window: the first request opens it, `limit` requests fit in it,
//! and it resets `window` later. A 429 *announces* a wait (`retry_after`); the limiter
//! remembers it so that a request arriving before it has passed can be caught as a client
//! bug, whichever 429 announced it (a full bucket or an injected fault).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why a request may not go through now.
#[derive(Debug)]
pub(super) struct Limited {
    /// How long until it may.
    pub(super) wait: Duration,
    /// Whether the limit is the global one, not this webhook's.
    pub(super) global: bool,
    /// True if the bucket just ran out, false if an earlier 429 had already said to wait.
    pub(super) exhausted: bool,
}

/// The buckets of every webhook, plus the waits announced by 429s.
pub(super) struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: HashMap<String, Window>,
    /// Per webhook: no request before this instant (announced by a 429).
    announced: HashMap<String, Instant>,
    /// For every webhook: no request before this instant (a global 429).
    global_until: Option<Instant>,
}

/// One webhook's current window.
struct Window {
    ends: Instant,
    used: u32,
}

impl RateLimiter {
    pub(super) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            windows: HashMap::new(),
            announced: HashMap::new(),
            global_until: None,
        }
    }

    /// How much earlier than an announced `retry_after` a request arriving `at` came.
    pub(super) fn early_by(&self, webhook_id: &str, at: Instant) -> Option<Duration> {
        let (until, _) = self.blocked_until(webhook_id)?;
        until.checked_duration_since(at).filter(|d| !d.is_zero())
    }

    /// Remembers that a 429 told the client to wait `wait` from `now`.
    pub(super) fn announce(
        &mut self,
        webhook_id: &str,
        wait: Duration,
        global: bool,
        now: Instant,
    ) {
        let until = now + wait;
        if global {
            self.global_until = Some(self.global_until.map_or(until, |t| t.max(until)));
        } else {
            let entry = self.announced.entry(webhook_id.to_owned()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    /// Spends one request from the webhook's bucket, or says why it may not go through.
    /// A full bucket announces its own wait, like the 429 that reports it.
    pub(super) fn take(&mut self, webhook_id: &str, now: Instant) -> Result<(), Limited> {
        if let Some((until, global)) = self.blocked_until(webhook_id) {
            if until > now {
                let wait = until - now;
                return Err(Limited {
                    wait,
                    global,
                    exhausted: false,
                });
            }
        }
        let limit = self.limit;
        let window = self.current_window(webhook_id, now);
        if window.used < limit {
            window.used += 1;
            return Ok(());
        }
        let wait = ceil_to_millis(window.ends.saturating_duration_since(now));
        self.announce(webhook_id, wait, false, now);
        Err(Limited {
            wait,
            global: false,
            exhausted: true,
        })
    }

    /// The `X-RateLimit-*` headers describing the webhook's bucket at `now`, without
    /// spending from it. An announced wait shows as an empty bucket until it passes, so a
    /// client that only reads these headers still waits long enough.
    pub(super) fn headers(&self, webhook_id: &str, now: Instant) -> Vec<(&'static str, String)> {
        let (mut remaining, mut reset_after) = match self.windows.get(webhook_id) {
            Some(window) if window.ends > now => {
                (self.limit.saturating_sub(window.used), window.ends - now)
            }
            _ => (self.limit, self.window),
        };
        if let Some(wait) = self.early_by(webhook_id, now) {
            remaining = 0;
            reset_after = reset_after.max(wait);
        }
        // Rounded up, so that a client waiting exactly this long is never early.
        let reset_after = ceil_to_millis(reset_after);
        let reset_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            + reset_after;
        vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", seconds_text(ceil_to_millis(reset_at))),
            ("x-ratelimit-reset-after", seconds_text(reset_after)),
            ("x-ratelimit-bucket", bucket_name(webhook_id)),
        ]
    }

    /// The latest announced instant that applies to this webhook, and whether it is global.
    fn blocked_until(&self, webhook_id: &str) -> Option<(Instant, bool)> {
        let own = self.announced.get(webhook_id).map(|until| (*until, false));
        let global = self.global_until.map(|until| (until, true));
        match (own, global) {
            (Some(own), Some(global)) => Some(if global.0 >= own.0 { global } else { own }),
            (own, global) => own.or(global),
        }
    }

    /// The webhook's window at `now`, opening a fresh one if the last has ended.
    fn current_window(&mut self, webhook_id: &str, now: Instant) -> &mut Window {
        let window = self.window;
        let current = self
            .windows
            .entry(webhook_id.to_owned())
            .or_insert_with(|| Window {
                ends: now + window,
                used: 0,
            });
        if current.ends <= now {
            *current = Window {
                ends: now + window,
                used: 0,
            };
        }
        current
    }
}

/// Rounds a duration up to whole milliseconds (the precision of the headers).
pub(super) fn ceil_to_millis(duration: Duration) -> Duration {
    let nanos = duration.subsec_nanos();
    let millis = nanos.div_ceil(1_000_000);
    Duration::from_secs(duration.as_secs()) + Duration::from_millis(u64::from(millis))
}

/// Seconds with three decimals, as Discord writes them (`"1.234"`).
fn seconds_text(duration: Duration) -> String {
    format!("{}.{:03}", duration.as_secs(), duration.subsec_millis())
}

/// A stable, opaque bucket id per webhook (Discord's are hashes too): FNV-1a of the id.
fn bucket_name(webhook_id: &str) -> String {
    let hash = webhook_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{hash:016x}")
}
