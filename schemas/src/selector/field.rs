//! Field selectors: parsing (`metadata.name=web,status.phase!=Failed`), the fields each kind supports, and
//! matching against JSON objects.
//!
//! Grammar follows `k8s.io/apimachinery/pkg/fields.ParseSelector` (terms split on unescaped `,`, operators
//! `!=`, `==`, `=`, values unescaped with `\\`, `\,`, `\=`); supported fields follow each kind's
//! `*ToSelectableFields` / `AddFieldLabelConversionFunc` in Kubernetes.

use super::SelectorError;
use serde_json::Value;

/// The fields every kind supports (`metav1.ObjectMetaFieldsSet`).
pub(super) const META_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// Fields holding booleans that Kubernetes reports as `"false"` when unset.
const BOOL_FIELDS: &[&str] = &["spec.hostNetwork", "spec.unschedulable"];

/// The fields `kind` supports in a field selector, beyond `metadata.name` and `metadata.namespace`.
pub fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => POD_FIELDS,
        "Event" => EVENT_FIELDS,
        "Node" => &["spec.unschedulable"],
        "Namespace" => &["status.phase"],
        "ReplicaSet" => &["status.replicas"],
        _ => &[],
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    equal: bool,
    value: String,
}

/// A parsed field selector (AND of `field=value` / `field!=value`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<Term>,
}

impl FieldSelector {
    /// Parses `metadata.name=web,status.phase!=Failed` (the `fieldSelector` query parameter).
    ///
    /// Terms are separated by unescaped `,`; the operator is the first `!=`, `==` or `=`; values may be empty
    /// and use `\\`, `\,`, `\=` for literal backslash, comma and equals.
    ///
    /// # Errors
    /// [`SelectorError`] on a term without operator, an unescaped `,`/`=` in a value, or a bad escape.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for part in split_terms(s) {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            terms.push(Term {
                field: lhs.trim().to_string(),
                equal: op != "!=",
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Checks that every field is supported for `kind` (`metadata.name` and `metadata.namespace` always;
    /// Pod, Event, Node, Namespace and ReplicaSet have more, as in Kubernetes).
    ///
    /// # Errors
    /// [`SelectorError`] `field label not supported: <field>` otherwise.
    pub fn check_supported(&self, kind: &str) -> Result<(), SelectorError> {
        let extra = kind_fields(kind);
        for t in &self.terms {
            if !META_FIELDS.contains(&t.field.as_str()) && !extra.contains(&t.field.as_str()) {
                return Err(SelectorError(format!(
                    "field label not supported: {}",
                    t.field
                )));
            }
        }
        Ok(())
    }

    /// `true` when `obj` satisfies every requirement (a missing field reads as `""`, booleans as
    /// `"true"`/`"false"`, numbers in decimal).
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(obj, &t.field) == t.value) == t.equal)
    }

    /// `true` when the extracted values `obj` satisfy every requirement (same result as
    /// [`FieldSelector::matches`] on the object they came from, for the kind's supported fields).
    pub fn matches_selectable(&self, obj: &super::Selectable) -> bool {
        self.terms
            .iter()
            .all(|t| (obj.field(&t.field) == t.value) == t.equal)
    }

    /// The value required by an `=`/`==` term on `field`, if any (lets a server narrow a scan).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.equal && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// `true` for the empty selector.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The selectable value of `field` on `obj`, as Kubernetes' field label conversion presents it.
pub(super) fn field_value(obj: &Value, field: &str) -> String {
    // Event `source` selects on `source.component`.
    let path = if field == "source" {
        "source.component"
    } else {
        field
    };
    let mut cur = Some(obj);
    for seg in path.split('.') {
        cur = cur.and_then(|v| v.get(seg));
    }
    match cur {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) if BOOL_FIELDS.contains(&field) => "false".to_string(),
        None | Some(Value::Null) if field == "status.replicas" => "0".to_string(),
        _ => String::new(),
    }
}

/// Splits on commas not preceded by an escaping backslash (escapes are kept for [`unescape_value`]).
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Finds the first unescaped operator (`!=`, then `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    let mut escaped = false;
    for (i, c) in term.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// Kubernetes' `fields.UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(SelectorError(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    )));
                }
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(SelectorError(format!(
                    "invalid field selector: unescaped character: {c}"
                )));
            }
            _ => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_should_match_objects_like_kubernetes() {
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "hostNetwork": true},
            "status": {"phase": "Running"}
        });
        // (selector, expected match on `pod`)
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=web", false),
            ("metadata.name=web,status.phase!=Failed", true),
            ("metadata.name=web,status.phase=Failed", false),
            ("spec.nodeName=", false),
            ("spec.nodeName!=", true),
            ("status.podIP=", true),
            ("spec.hostNetwork=true", true),
            ("spec.restartPolicy=", true),
            ("metadata.namespace=default", true),
        ];
        for (sel, want) in cases {
            let parsed = FieldSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(parsed.matches(&pod), *want, "selector {sel:?}");
        }
    }

    #[test]
    fn matches_should_read_defaults_and_event_source() {
        let node = json!({"metadata": {"name": "n"}, "spec": {}});
        assert!(
            FieldSelector::parse("spec.unschedulable=false")
                .expect("p")
                .matches(&node)
        );
        let ev = json!({"source": {"component": "kubelet"}, "involvedObject": {"namespace": ""}});
        assert!(
            FieldSelector::parse("source=kubelet")
                .expect("p")
                .matches(&ev)
        );
        assert!(
            FieldSelector::parse("involvedObject.namespace=")
                .expect("p")
                .matches(&ev)
        );
        let rs = json!({"status": {"replicas": 3}});
        assert!(
            FieldSelector::parse("status.replicas=3")
                .expect("p")
                .matches(&rs)
        );
        assert!(
            FieldSelector::parse("status.replicas!=0")
                .expect("p")
                .matches(&rs)
        );
    }

    #[test]
    fn parse_should_unescape_values() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").expect("escaped");
        assert_eq!(sel.required_value("metadata.name"), Some(r"a,b=c\d"));
        assert!(sel.matches(&json!({"metadata": {"name": "a,b=c\\d"}})));
    }

    #[test]
    fn parse_should_reject_malformed_terms() {
        for s in [
            "metadata.name",
            "metadata.name=a=b",
            r"metadata.name=a\x",
            r"metadata.name=a\",
            "a=b,c",
        ] {
            assert!(FieldSelector::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn required_value_should_only_report_equality_terms() {
        let sel = FieldSelector::parse("spec.nodeName=n1,metadata.name!=x").expect("p");
        assert_eq!(sel.required_value("spec.nodeName"), Some("n1"));
        assert_eq!(sel.required_value("metadata.name"), None);
        assert!(FieldSelector::parse("").expect("empty").is_empty());
        assert_eq!(
            FieldSelector::parse("spec.nodeName=")
                .expect("p")
                .required_value("spec.nodeName"),
            Some("")
        );
    }

    #[test]
    fn check_supported_should_follow_each_kind() {
        // (kind, field, supported)
        let cases = [
            ("Pod", "spec.nodeName", true),
            ("Pod", "status.phase", true),
            ("Pod", "metadata.name", true),
            ("Pod", "spec.containers", false),
            ("Service", "spec.clusterIP", false),
            ("Service", "metadata.namespace", true),
            ("Event", "involvedObject.uid", true),
            ("Event", "reason", true),
            ("Node", "spec.unschedulable", true),
            ("Namespace", "status.phase", true),
            ("ReplicaSet", "status.replicas", true),
            ("Deployment", "status.replicas", false),
        ];
        for (kind, field, ok) in cases {
            let sel = FieldSelector::parse(&format!("{field}=x")).expect("p");
            assert_eq!(sel.check_supported(kind).is_ok(), ok, "{kind} {field}");
        }
        let err = FieldSelector::parse("spec.foo=1")
            .expect("p")
            .check_supported("Pod")
            .expect_err("unsupported");
        assert_eq!(err.to_string(), "field label not supported: spec.foo");
    }
}
