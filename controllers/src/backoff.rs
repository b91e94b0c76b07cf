//! Exponential backoff with jitter, shared by the [`crate::watcher`] (retrying lists and watches) and
//! the [`crate::controller`] (retrying failed reconciles).
//!
//! The delay of attempt `n` (0-based) is `base(n) = min(initial × factorⁿ, max)`; with jitter the
//! actual delay is drawn uniformly from `[base(n) / 2, base(n)]` ("equal jitter"), which spreads
//! retries of many clients apart while keeping the growth visible and the cap exact.

use std::time::Duration;

/// The shape of a backoff: first delay, growth factor, cap, jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Multiplier between consecutive delays (≥ 1; 2 doubles).
    pub factor: u32,
    /// When `true`, each delay is drawn uniformly from `[base / 2, base]`.
    pub jitter: bool,
}

impl BackoffConfig {
    /// The watcher's default: 800 ms doubling to 30 s, with jitter (kube-runtime's default watcher
    /// backoff).
    pub const WATCHER: BackoffConfig = BackoffConfig {
        initial: Duration::from_millis(800),
        max: Duration::from_secs(30),
        factor: 2,
        jitter: true,
    };

    /// The reconcile error default: 5 ms doubling to 1000 s, with jitter (client-go's
    /// `DefaultControllerRateLimiter` per-item exponential limiter).
    pub const RECONCILE_ERROR: BackoffConfig = BackoffConfig {
        initial: Duration::from_millis(5),
        max: Duration::from_secs(1000),
        factor: 2,
        jitter: true,
    };

    /// The un-jittered delay of attempt `attempt` (0-based): `min(initial × factor^attempt, max)`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = self.factor.max(1);
        let mut d = self.initial;
        for _ in 0..attempt {
            d = d.saturating_mul(factor);
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    /// The delay of attempt `attempt`, jittered when configured.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.base_delay(attempt);
        if !self.jitter || base.is_zero() {
            return base;
        }
        let half = base / 2;
        let spread_nanos = u64::try_from((base - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=spread_nanos))
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig::WATCHER
    }
}

/// A running backoff: each [`Backoff::next_delay`] returns the next, longer delay until
/// [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff (the next delay is the initial one).
    pub fn new(config: BackoffConfig) -> Self {
        Backoff { config, attempt: 0 }
    }

    /// The delay to wait before the next retry; advances the attempt counter.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.config.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_should_double_up_to_the_cap_within_jitter_bounds() {
        let cfg = BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 2,
            jitter: true,
        };
        // base: 100, 200, 400, 800, 1000 (capped), 1000 ms
        let bases: Vec<u128> = (0..6).map(|n| cfg.base_delay(n).as_millis()).collect();
        assert_eq!(bases, vec![100, 200, 400, 800, 1000, 1000]);
        let mut b = Backoff::new(cfg);
        for n in 0..6 {
            let d = b.next_delay();
            let base = cfg.base_delay(n);
            assert!(
                d >= base / 2 && d <= base,
                "attempt {n}: {d:?} outside [{:?}, {base:?}]",
                base / 2
            );
        }
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() <= Duration::from_millis(100));
        assert_eq!(
            cfg.base_delay(u32::MAX),
            Duration::from_secs(1),
            "no overflow"
        );
    }
}
