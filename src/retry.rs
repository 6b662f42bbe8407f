//! Bounded, jittered exponential backoff for transient failures.

use std::time::Duration;

/// How often and how patiently a transient failure is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// No delay is ever longer.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry): exponential,
    /// capped, with "equal jitter" (half fixed, half random) so that many clients failing
    /// together do not retry together, while every wait stays at least half the nominal.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(16);
        let nominal = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = nominal / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
    };

    #[test]
    fn delays_grow_within_jitter_and_stay_capped() {
        for (retry, nominal_ms) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1600),
            (5, 2000),
            (40, 2000),
        ] {
            for _ in 0..50 {
                let delay = POLICY.delay(retry).as_millis();
                assert!(
                    (nominal_ms / 2..=nominal_ms).contains(&delay),
                    "retry {retry}: {delay} ms"
                );
            }
        }
    }
}
