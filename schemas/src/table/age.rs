//! Ages as `kubectl get` prints them: apimachinery's `duration.HumanDuration` and kube-apiserver's
//! `translateTimestampSince`.

/// Formats an elapsed time in seconds the way `duration.HumanDuration` does: exact seconds below two
/// minutes (`"8s"`), then minutes with seconds below ten minutes (`"5m30s"`), minutes below three hours
/// (`"95m"`), hours with minutes below eight hours (`"3h20m"`), hours below two days (`"30h"`), days with
/// hours below eight days (`"2d5h"`), days below two years (`"300d"`), years with days below eight years
/// (`"2y10d"`), then years (`"9y"`). A small negative skew (down to -1 s) prints `"0s"`; anything more
/// negative prints `"<invalid>"`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_rest(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_rest(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `"{big}{unit}"`, followed by `"{rest}{rest_unit}"` when `rest` is not zero.
fn with_rest(big: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{big}{unit}")
    } else {
        format!("{big}{unit}{rest}{rest_unit}")
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-29T09:31:35Z`, with optional fraction or offset) to Unix
/// seconds (floored). `None` when absent or malformed.
pub fn parse_unix_seconds(timestamp: &str) -> Option<i64> {
    timestamp
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// The age of `timestamp` at `now_unix_seconds`, as kube-apiserver's `translateTimestampSince`:
/// `"<unknown>"` when the timestamp is missing (or unparsable), else [`human_duration`].
pub fn translate_timestamp_since(timestamp: Option<&str>, now_unix_seconds: i64) -> String {
    match timestamp
        .filter(|t| !t.is_empty())
        .and_then(parse_unix_seconds)
    {
        Some(then) => human_duration(now_unix_seconds.saturating_sub(then)),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_should_match_apimachinery() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (8, "8s"),
            (119, "119s"),
            (120, "2m"),
            (330, "5m30s"), // 5*60 + 30
            (600, "10m"),   // no seconds from ten minutes on
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (8 * 3600 + 59, "8h"),
            (47 * 3600, "47h"),
            (2 * 86400, "2d"),
            (2 * 86400 + 5 * 3600, "2d5h"),
            (8 * 86400 + 5 * 3600, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (740 * 86400, "2y10d"), // 740 = 2*365 + 10
            (8 * 365 * 86400 + 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(*secs), *want, "{secs}s");
        }
    }

    #[test]
    fn translate_timestamp_since_should_parse_rfc3339() {
        let t = parse_unix_seconds("2026-11-29T09:31:35Z").expect("valid");
        assert_eq!(
            translate_timestamp_since(Some("2026-11-29T09:31:35Z"), t + 8),
            "8s"
        );
        assert_eq!(
            translate_timestamp_since(Some("2026-11-29T09:31:35.123456Z"), t + 300),
            "5m"
        );
        assert_eq!(
            translate_timestamp_since(Some("2026-11-29T10:31:35+01:00"), t + 60),
            "60s"
        );
        assert_eq!(translate_timestamp_since(None, t), "<unknown>");
        assert_eq!(translate_timestamp_since(Some("yesterday"), t), "<unknown>");
    }
}
