//! Value parsers shared by the flags of `mock_k8`: one for durations, one for counts, so every
//! flag rejects a nonsense value (zero interval, negative count) at parse time with a message that
//! names the allowed range (clap prefixes the flag, exits with 2).

use clap::builder::TypedValueParser;
use std::time::Duration;

/// The longest duration any timing flag accepts: one day. Longer intervals only overflow timers.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A humantime duration (`10s`, `1m30s`, `500ms`) within `[min, max]`.
#[derive(Debug, Clone, Copy)]
pub struct DurationRange {
    min: Duration,
    max: Duration,
}

/// A duration of at least 1 ms and at most [`MAX_DURATION`]: what every interval, period and
/// timeout flag takes (0 would spin a loop; Raft timings are in whole milliseconds).
pub const fn positive_duration() -> DurationRange {
    DurationRange {
        min: Duration::from_millis(1),
        max: MAX_DURATION,
    }
}

impl DurationRange {
    /// Checks `text` (a humantime duration) against the range.
    ///
    /// # Errors
    /// A message naming the allowed range when `text` is no duration or is out of range.
    pub fn check(&self, text: &str) -> Result<Duration, String> {
        let range = format!(
            "a duration from {} to {}",
            humantime::format_duration(self.min),
            humantime::format_duration(self.max)
        );
        let d = humantime::parse_duration(text.trim())
            .map_err(|e| format!("{e}; expected {range}, e.g. 10s, 1m30s or 500ms"))?;
        if d < self.min || d > self.max {
            return Err(format!("out of range; expected {range}"));
        }
        Ok(d)
    }
}

impl TypedValueParser for DurationRange {
    type Value = Duration;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Duration, clap::Error> {
        parse_with(cmd, arg, value, |text| self.check(text))
    }
}

/// A non-negative whole number within `[min, max]`, parsed as a signed number first so `-1` says
/// "not in min..=max" (like `--percentage-of-nodes-to-score`) rather than "invalid digit".
#[derive(Debug, Clone, Copy)]
pub struct CountRange {
    min: u64,
    max: u64,
}

/// A count from `min` up to `i64::MAX` (what a Kubernetes int64 field holds).
pub const fn count_from(min: u64) -> CountRange {
    CountRange {
        min,
        max: i64::MAX as u64,
    }
}

impl CountRange {
    /// Checks `text` (decimal digits) against the range.
    ///
    /// # Errors
    /// A message naming the allowed range when `text` is not a whole number or is out of range.
    pub fn check(&self, text: &str) -> Result<u64, String> {
        let range = if self.max == i64::MAX as u64 {
            format!("a whole number of at least {}", self.min)
        } else {
            format!("a whole number from {} to {}", self.min, self.max)
        };
        match text.trim().parse::<i128>() {
            Ok(v) if v >= i128::from(self.min) && v <= i128::from(self.max) => {
                u64::try_from(v).map_err(|_| format!("out of range; expected {range}"))
            }
            Ok(_) => Err(format!("out of range; expected {range}")),
            Err(_) => Err(format!("not a number; expected {range}")),
        }
    }
}

impl TypedValueParser for CountRange {
    type Value = u64;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<u64, clap::Error> {
        parse_with(cmd, arg, value, |text| self.check(text))
    }
}

/// clap's "invalid value 'V' for '--flag <NAME>': message" error (exit code 2).
/// Runs `check` on the flag's text, turning a non-UTF-8 value or `check`'s message into clap's
/// usage error (exit 2) naming the flag.
fn parse_with<T>(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    value: &std::ffi::OsStr,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, clap::Error> {
    let text = value
        .to_str()
        .ok_or_else(|| invalid(cmd, arg, value, "not UTF-8"))?;
    check(text).map_err(|m| invalid(cmd, arg, value, &m))
}

fn invalid(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    value: &std::ffi::OsStr,
    message: &str,
) -> clap::Error {
    let flag = arg.map_or_else(|| "...".to_string(), ToString::to_string);
    cmd.clone().error(
        clap::error::ErrorKind::ValueValidation,
        format!(
            "invalid value '{}' for '{flag}': {message}",
            value.to_string_lossy()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_duration_should_reject_zero_and_huge_values() {
        let p = positive_duration();
        assert_eq!(p.check("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(p.check("1ms"), Ok(Duration::from_millis(1)));
        for bad in ["0s", "0ms", "0", "2days", "lots", "-1s"] {
            assert!(p.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn count_should_name_its_range_for_negative_numbers() {
        let c = count_from(1);
        assert_eq!(c.check("5"), Ok(5));
        let err = c.check("-1").unwrap_err();
        assert!(err.contains("at least 1"), "{err}");
        assert!(
            count_from(0)
                .check("x")
                .unwrap_err()
                .contains("not a number")
        );
    }
}
