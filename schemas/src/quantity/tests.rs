//! Table-driven tests of quantity parsing, canonical form and scaling.

use super::*;

fn canon(s: &str) -> String {
    Quantity::parse(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .canonical()
}

#[test]
fn canonical_should_follow_kubernetes_rules() {
    // (input, canonical): CanonicalizeBytes examples from the brief and apimachinery's tests.
    let table = [
        ("1.441", "1441m"),
        ("0.5", "500m"),
        ("1.5Gi", "1536Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000m", "1"),
        ("256M", "256M"),
        ("1e3", "1e3"),
        ("1E-3", "1e-3"),
        ("100m", "100m"),
        ("0", "0"),
        ("0Ki", "0"),
        ("0.0000000001", "1n"), // below 1n rounds up
        ("0.9n", "1n"),
        ("3.001n", "4n"),
        ("0.5Ki", "512"), // binary below 1024 falls back to decimal
        ("1.5Ki", "1536"),
        (".001Ki", "1024m"), // 1.024
        (".000000000001Ki", "2n"),
        ("512Mi", "512Mi"),
        ("1Ti", "1Ti"),
        ("1G", "1G"),
        ("1000M", "1G"),
        ("1", "1"),
        ("+1", "1"),
        ("-1.5", "-1500m"),
        ("-1Gi", "-1Gi"),
        ("1.", "1"),
        ("1.G", "1G"),
        (".", "0"),
        ("100.035k", "100035"),
        ("1.2e3", "1200"), // 12e2 → 1200e0 (exponent multiple of 3)
        ("1.3E+6", "1300e3"),
        ("50k", "50k"),
        ("9.01", "9010m"),
        ("1000E", "1e21"),              // no SI suffix past E
        ("9Ei", "9223372036854775807"), // binary capped at 2^63-1
        ("1025", "1025"),
        ("2000Ki", "2000Ki"),
        ("0.00000012345", "124n"),
    ];
    for (input, want) in table {
        assert_eq!(canon(input), want, "canonical({input})");
    }
}

#[test]
fn parse_should_reject_malformed_quantities() {
    // bad-quantities.yaml: lower-case mi, two decimal points, empty; plus apimachinery's invalid list.
    for bad in [
        "512mi",
        "1.5.5Gi",
        "",
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        "1e4294967297",
        " 1",
        "1 ",
        "-",
        "1e",
        "Ki",
    ] {
        assert_eq!(
            Quantity::parse(bad),
            Err(QuantityError),
            "{bad:?} must be rejected"
        );
    }
    assert_eq!(
        QuantityError.to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

#[test]
fn parse_should_accept_the_must_accept_list() {
    for ok in ["512Mi", "0.5", "100m", "1e3", "1G", "256M", "1Ti"] {
        assert!(Quantity::parse(ok).is_ok(), "{ok} must be accepted");
    }
}

#[test]
fn parse_should_remember_the_format() {
    let table = [
        ("1Ki", QuantityFormat::BinarySi),
        ("1k", QuantityFormat::DecimalSi),
        ("1e3", QuantityFormat::DecimalExponent),
        ("0.000000000001Ki", QuantityFormat::DecimalSi),
    ];
    for (input, format) in table {
        assert_eq!(
            Quantity::parse(input).map(|q| q.format()),
            Ok(format),
            "{input}"
        );
    }
}

#[test]
fn millis_and_value_should_round_up_away_from_zero() {
    // (input, millis, value)
    let table = [
        ("1", 1000, 1),
        ("100m", 100, 1),
        ("0.5", 500, 1),
        ("1Ki", 1_024_000, 1024),
        ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
        ("1n", 1, 1),
        ("1500u", 2, 1),
        ("-9.01", -9010, -10),
        ("0", 0, 0),
        ("256M", 256_000_000_000, 256_000_000),
        ("1e3", 1_000_000, 1000),
    ];
    for (input, millis, value) in table {
        let q = Quantity::parse(input).expect("valid");
        assert_eq!(q.millis(), millis, "millis({input})");
        assert_eq!(q.value(), value, "value({input})");
    }
}

#[test]
fn equality_should_compare_values_not_spelling() {
    assert_eq!(Quantity::parse("1000m"), Quantity::parse("1"));
    assert_eq!(Quantity::parse("1.5Gi"), Quantity::parse("1536Mi"));
    assert_ne!(Quantity::parse("1Ki"), Quantity::parse("1024"));
    assert_eq!(
        "2Gi".parse::<Quantity>().map(|q| q.to_string()),
        Ok("2Gi".to_string())
    );
}
