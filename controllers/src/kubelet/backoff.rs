//! CrashLoopBackOff: how long the kubelet waits before restarting an exited container (and before
//! retrying a failed image pull, `ImagePullBackOff`).
//!
//! Kubernetes' rule (kubelet `backOffPeriod`, documented under "Container restart policy"): after the
//! n-th consecutive short run the delay is `min(initial × 2^n, max)` — 10 s, 20 s, 40 s, … capped at
//! 300 s — and the count resets once a container ran for `reset_after` (10 min) without a problem.

use std::time::{Duration, SystemTime};

/// The back-off curve. Every field is a flag of the node agent with Kubernetes' default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashLoopBackoff {
    /// First delay (Kubernetes: 10 s).
    pub initial: Duration,
    /// Largest delay (Kubernetes: 300 s).
    pub max: Duration,
    /// A run at least this long resets the exponent to 0 (Kubernetes: 10 min).
    pub reset_after: Duration,
}

impl Default for CrashLoopBackoff {
    fn default() -> Self {
        CrashLoopBackoff {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

impl CrashLoopBackoff {
    /// The delay for exponent `n`: `min(initial × 2^n, max)`, saturating.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.checked_pow(n).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max)
    }

    /// The exponent to use for a restart, given the container's current exponent (restarts since the
    /// last reset) and how long its last run lasted (`None`: it never ran): 0 after a run of at least
    /// `reset_after`, else `exponent` unchanged.
    pub fn effective_exponent(&self, exponent: u32, ran_for: Option<Duration>) -> u32 {
        if ran_for.is_some_and(|d| d >= self.reset_after) {
            0
        } else {
            exponent
        }
    }

    /// When a container that finished at `finished_at` may be restarted, and the exponent to store
    /// with the new instance (`effective + 1`).
    pub fn restart_at(
        &self,
        exponent: u32,
        ran_for: Option<Duration>,
        finished_at: SystemTime,
    ) -> (SystemTime, u32) {
        let n = self.effective_exponent(exponent, ran_for);
        let at = finished_at
            .checked_add(self.delay(n))
            .unwrap_or(finished_at);
        (at, n.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_should_double_from_ten_seconds_to_five_minutes() {
        let b = CrashLoopBackoff::default();
        // n: 10 s × 2^n, capped at 300 s
        for (n, secs) in [
            (0, 10),
            (1, 20),
            (2, 40),
            (3, 80),
            (4, 160),
            (5, 300),
            (6, 300),
            (40, 300),
        ] {
            assert_eq!(b.delay(n), Duration::from_secs(secs), "n = {n}");
        }
    }

    #[test]
    fn backoff_should_reset_after_a_long_run() {
        let b = CrashLoopBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            reset_after: Duration::from_secs(60),
        };
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        for (exponent, ran, want_delay_ms, want_next) in [
            (0, Some(1), 100, 1),
            (3, Some(59), 800, 4),
            (4, Some(59), 1000, 5),
            (4, Some(60), 100, 1),
            (2, None, 400, 3),
        ] {
            let (at, next) = b.restart_at(exponent, ran.map(Duration::from_secs), t);
            assert_eq!(
                at.duration_since(t).unwrap(),
                Duration::from_millis(want_delay_ms),
                "exponent {exponent}"
            );
            assert_eq!(next, want_next);
        }
    }
}
