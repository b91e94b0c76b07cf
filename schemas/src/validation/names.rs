//! Name and value syntax checks, each returning Kubernetes' error messages (empty = valid).
//!
//! Rules and wording follow `k8s.io/apimachinery/pkg/util/validation` (`IsDNS1123Label`,
//! `IsDNS1123Subdomain`, `IsDNS1035Label`, `IsQualifiedName`, `IsValidLabelValue`, `IsValidPortName`,
//! `IsValidPortNum`, `IsValidIP`, `IsValidCIDR`, `IsValidPercent`). Shared by [`crate::selector`] and
//! [`crate::validation`].

use std::net::IpAddr;

/// Maximum length of a DNS-1123 or DNS-1035 label (bytes).
pub const DNS1123_LABEL_MAX_LEN: usize = 63;
/// Maximum length of a DNS-1123 subdomain (bytes).
pub const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;
/// Maximum length of the name part of a qualified name, and of a label value (bytes).
pub const QUALIFIED_NAME_MAX_LEN: usize = 63;
/// Maximum length of an IANA service (port) name (bytes).
pub const IANA_SVC_NAME_MAX_LEN: usize = 15;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/// Kubernetes' "must be no more than N characters" message.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// Kubernetes' `InclusiveRangeError`: "must be between lo and hi, inclusive".
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut s = format!("{msg} (");
    if !examples.is_empty() {
        let quoted: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
        s.push_str(&format!("e.g. {}, ", quoted.join(",  or ")));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            is_lower_alnum(f)
                && is_lower_alnum(l)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            is_alnum(f)
                && is_alnum(l)
                && b.iter()
                    .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
        }
        _ => false,
    }
}

/// Checks an RFC 1123 label (≤ 63 chars of `[a-z0-9-]`, alphanumeric at both ends): Kubernetes' `IsDNS1123Label`.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX_LEN {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LEN));
    }
    if !matches_dns1123_label(s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// Checks an RFC 1123 subdomain (≤ 253 chars, dot-separated labels): Kubernetes' `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !s.split('.').all(matches_dns1123_label) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Checks an RFC 1035 label (like a DNS-1123 label, but starting with a letter): Kubernetes' `IsDNS1035Label`,
/// the rule for Service names.
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX_LEN {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LEN));
    }
    if !(matches_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Checks a qualified name (`name` or `prefix/name`; prefix a DNS-1123 subdomain, name ≤ 63 chars of
/// `[A-Za-z0-9-_.]`, alphanumeric at both ends): Kubernetes' `IsQualifiedName`, the rule for label keys.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "{} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"],
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LEN)
        ));
    }
    if !name.is_empty() && !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            )
        ));
    }
    errs
}

/// Checks a label value (empty, or ≤ 63 chars of `[A-Za-z0-9-_.]`, alphanumeric at both ends):
/// Kubernetes' `IsValidLabelValue`.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > QUALIFIED_NAME_MAX_LEN {
        errs.push(max_len_error(QUALIFIED_NAME_MAX_LEN));
    }
    if !s.is_empty() && !matches_qualified_name_part(s) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Checks an IANA service name, the syntax of named ports (≤ 15 chars of `[a-z0-9-]`, at least one letter,
/// no `--`, no leading/trailing `-`): Kubernetes' `IsValidPortName`.
pub fn port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > IANA_SVC_NAME_MAX_LEN {
        errs.push(max_len_error(IANA_SVC_NAME_MAX_LEN));
    }
    if !s.bytes().all(|c| is_lower_alnum(c) || c == b'-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Checks a port number is in 1..=65535: Kubernetes' `IsValidPortNum`.
pub fn port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Parses an IP address the way Kubernetes' `netutils.ParseIPSloppy`-free validation does (no leading zeros).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Checks an IPv4 or IPv6 address: Kubernetes' `IsValidIP`.
pub fn ip(s: &str) -> Vec<String> {
    if parse_ip(s).is_some() {
        Vec::new()
    } else {
        vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".to_string()]
    }
}

/// Checks a CIDR (`10.244.0.0/24`, `fd00::/64`): Kubernetes' `IsValidCIDR`.
pub fn cidr(s: &str) -> Vec<String> {
    let ok = s.split_once('/').is_some_and(|(addr, bits)| {
        let max = match parse_ip(addr) {
            Some(IpAddr::V4(_)) => 32,
            Some(IpAddr::V6(_)) => 128,
            None => return false,
        };
        !bits.is_empty()
            && bits.bytes().all(|c| c.is_ascii_digit())
            && bits.parse::<u32>().is_ok_and(|b| b <= max)
    });
    if ok {
        Vec::new()
    } else {
        vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".to_string()]
    }
}

/// Checks a percentage string `[0-9]+%`: Kubernetes' `IsValidPercent`.
pub fn percent(s: &str) -> Vec<String> {
    let digits = s.strip_suffix('%').unwrap_or("");
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            &["1%", "93%"],
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_checks_should_follow_kubernetes_rules() {
        type Check = fn(&str) -> Vec<String>;
        let cases: &[(Check, &str, bool)] = &[
            (dns1123_label, "my-name", true),
            (dns1123_label, "123-abc", true),
            (dns1123_label, "My-name", false),
            (dns1123_label, "a.b", false),
            (dns1123_label, "-a", false),
            (dns1123_label, "", false),
            (dns1123_label, &"a".repeat(64), false),
            (dns1123_subdomain, "example.com", true),
            (dns1123_subdomain, "a..b", false),
            (dns1123_subdomain, "a.-b", false),
            (dns1123_subdomain, &"a".repeat(254), false),
            (dns1035_label, "abc-123", true),
            (dns1035_label, "1abc", false),
            (qualified_name, "app", true),
            (qualified_name, "app.kubernetes.io/name", true),
            (qualified_name, "My_Key.x", true),
            (qualified_name, "/name", false),
            (qualified_name, "a/b/c", false),
            (qualified_name, "Example.com/name", false),
            (qualified_name, "example.com/", false),
            (qualified_name, "-app", false),
            (qualified_name, &"a".repeat(64), false),
            (label_value, "", true),
            (label_value, "My_value.1", true),
            (label_value, "a b", false),
            (label_value, "_a", false),
            (port_name, "http", true),
            (port_name, "h2-c", true),
            (port_name, "123", false),
            (port_name, "a--b", false),
            (port_name, "-ab", false),
            (port_name, "HTTP", false),
            (port_name, "abcdefghijklmnop", false),
            (ip, "10.0.0.1", true),
            (ip, "2001:db8::1", true),
            (ip, "010.0.0.1", false),
            (ip, "10.0.0", false),
            (cidr, "10.244.0.0/24", true),
            (cidr, "fd00::/64", true),
            (cidr, "10.0.0.0/33", false),
            (cidr, "10.0.0.0", false),
            (percent, "25%", true),
            (percent, "%", false),
            (percent, "1.5%", false),
        ];
        for (check, input, valid) in cases {
            assert_eq!(
                check(input).is_empty(),
                *valid,
                "input {input:?}: {:?}",
                check(input)
            );
        }
    }

    #[test]
    fn port_num_should_accept_only_1_to_65535() {
        assert!(port_num(1).is_empty());
        assert!(port_num(65535).is_empty());
        assert_eq!(
            port_num(0),
            vec!["must be between 1 and 65535, inclusive".to_string()]
        );
        assert!(!port_num(65536).is_empty());
    }
}
