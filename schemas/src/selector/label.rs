//! Label selectors: parsing (`app=web,tier in (a,b),!legacy`), building from `LabelSelector` objects, matching.
//!
//! Grammar and semantics follow `k8s.io/apimachinery/pkg/labels` (`Parse`, `Requirement.Matches`) and
//! `metav1.LabelSelectorAsSelector`.

use super::SelectorError;
use super::parse;
use crate::validation::names;
use serde_json::Value;
use std::collections::BTreeMap;

/// A label selector operator (Kubernetes' `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=v` / `key==v` / `key in (v1,v2)`: the label exists and its value is one of the values.
    In,
    /// `key!=v` / `key notin (v1,v2)`: the label is absent, or its value is none of the values.
    NotIn,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label does not exist.
    DoesNotExist,
    /// `key>n`: the label exists and its value is an integer greater than `n`.
    Gt,
    /// `key<n`: the label exists and its value is an integer less than `n`.
    Lt,
}

/// One requirement of a label selector: `key`, operator and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key (a qualified name).
    pub key: String,
    /// The operator.
    pub op: Operator,
    /// The values (empty for `Exists` / `DoesNotExist`, one for `Gt` / `Lt`).
    pub values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, validating key and values as `labels.NewRequirement` does.
    ///
    /// # Errors
    /// [`SelectorError`] for an invalid key, an invalid value, or a value count the operator does not allow.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        let key_errs = names::qualified_name(key);
        if !key_errs.is_empty() {
            return Err(SelectorError(format!(
                "key: Invalid value: {key:?}: {}",
                key_errs.join("; ")
            )));
        }
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(SelectorError(
                    "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into(),
                ));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(SelectorError(
                    "values: Invalid value: non-empty: values set must be empty for exists and does not exist".into(),
                ));
            }
            Operator::Gt | Operator::Lt => {
                if values.len() != 1 {
                    return Err(SelectorError("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required".into()));
                }
                if values[0].parse::<i64>().is_err() {
                    return Err(SelectorError(format!(
                        "values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                        values[0]
                    )));
                }
            }
            _ => {}
        }
        if matches!(op, Operator::In | Operator::NotIn) {
            for (i, v) in values.iter().enumerate() {
                let errs = names::label_value(v);
                if !errs.is_empty() {
                    return Err(SelectorError(format!(
                        "values[{i}][{key}]: Invalid value: {v:?}: {}",
                        errs.join("; ")
                    )));
                }
            }
        }
        Ok(Requirement {
            key: key.to_string(),
            op,
            values,
        })
    }

    /// `true` when `labels` satisfy this requirement (Kubernetes' `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let got = labels.get(&self.key);
        match self.op {
            Operator::In => got.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => got.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::Gt | Operator::Lt => {
                let (Some(have), Some(want)) = (
                    got.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Operator::Gt {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// A parsed label selector (AND of requirements).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `app=web,tier!=db,env in (a,b),!legacy` (the `labelSelector` query parameter).
    ///
    /// Operators: `=`, `==`, `!=`, `in (..)`, `notin (..)`, `key` (exists), `!key` (does not exist), `>`/`<`
    /// (integer comparison); `,` is AND; whitespace is ignored; `""` matches everything.
    ///
    /// # Errors
    /// [`SelectorError`] on syntax errors or invalid label keys/values.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        Ok(LabelSelector {
            requirements: parse::requirements(s)?,
        })
    }

    /// Builds a selector from a Kubernetes `LabelSelector` object (`matchLabels`, `matchExpressions` with
    /// operators `In`, `NotIn`, `Exists`, `DoesNotExist`), as `metav1.LabelSelectorAsSelector` does.
    /// An object with neither field (or `{}`) is the empty selector.
    ///
    /// # Errors
    /// [`SelectorError`] on unknown operators, missing or extra values, or invalid keys/values.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let obj = v
            .as_object()
            .ok_or_else(|| SelectorError("a label selector must be an object".into()))?;
        let mut requirements = Vec::new();
        if let Some(ml) = obj.get("matchLabels") {
            let ml = ml
                .as_object()
                .ok_or_else(|| SelectorError("matchLabels must be an object of strings".into()))?;
            for (k, v) in ml {
                let v = v
                    .as_str()
                    .ok_or_else(|| SelectorError(format!("matchLabels[{k}] must be a string")))?;
                requirements.push(Requirement::new(k, Operator::In, vec![v.to_string()])?);
            }
        }
        if let Some(me) = obj.get("matchExpressions") {
            let me = me
                .as_array()
                .ok_or_else(|| SelectorError("matchExpressions must be a list".into()))?;
            for e in me {
                let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                let op_text = e.get("operator").and_then(Value::as_str).unwrap_or("");
                let op = match op_text {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(SelectorError(format!(
                            "{other:?} is not a valid label selector operator"
                        )));
                    }
                };
                let values = match e.get("values") {
                    None => Vec::new(),
                    Some(vs) => vs
                        .as_array()
                        .ok_or_else(|| {
                            SelectorError(
                                "matchExpressions values must be a list of strings".into(),
                            )
                        })?
                        .iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            SelectorError(
                                "matchExpressions values must be a list of strings".into(),
                            )
                        })?,
                };
                requirements.push(Requirement::new(key, op, values)?);
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// A selector that requires each `key=value` of `map` (a Service's `spec.selector`). Keys and values are
    /// not validated here (Service validation does that); an empty map gives the empty selector.
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        let requirements = map
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Operator::In,
                values: vec![v.clone()],
            })
            .collect();
        LabelSelector { requirements }
    }

    /// `true` when `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `true` for the empty selector, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in the order they were written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parse_should_match_like_kubernetes() {
        // (selector, labels, expected match)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case] = &[
            ("", &[], true),
            ("", &[("app", "web")], true),
            ("app=web", &[("app", "web")], true),
            ("app==web", &[("app", "web")], true),
            ("app = web", &[("app", "web")], true),
            ("app=web", &[("app", "db")], false),
            ("app=web", &[], false),
            ("app!=web", &[("app", "db")], true),
            ("app!=web", &[], true),
            ("app!=web", &[("app", "web")], false),
            ("app in (web,db)", &[("app", "db")], true),
            ("app in (web, db)", &[("app", "x")], false),
            ("app in (web,db),app!=db", &[("app", "db")], false),
            ("app in (web,db),app!=db", &[("app", "web")], true),
            ("app notin (x)", &[], true),
            ("app notin (x)", &[("app", "x")], false),
            ("app", &[("app", "")], true),
            ("app", &[], false),
            ("!app", &[], true),
            ("!app", &[("app", "web")], false),
            ("app=", &[("app", "")], true),
            ("app=", &[("app", "x")], false),
            ("app in ()", &[("app", "")], true),
            (
                "tier=backend,app.kubernetes.io/name=hello",
                &[("tier", "backend"), ("app.kubernetes.io/name", "hello")],
                true,
            ),
            (
                "tier=backend,app.kubernetes.io/name=hello",
                &[("tier", "backend")],
                false,
            ),
            ("n>5", &[("n", "7")], true),
            ("n>5", &[("n", "3")], false),
            ("n<5", &[("n", "x")], false),
            (
                "env in (prod),!legacy, tier",
                &[("env", "prod"), ("tier", "a")],
                true,
            ),
        ];
        for (sel, have, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(
                parsed.matches(&labels(have)),
                *want,
                "selector {sel:?} on {have:?}"
            );
        }
    }

    #[test]
    fn parse_should_reject_bad_syntax_and_names() {
        let bad = [
            "app=web=x",
            "app in web",
            "app in (web",
            "app in (a b)",
            "!app=web",
            "=web",
            "app=,",
            "app,",
            ",app",
            "app=we b",
            "app=-web",
            "-app=web",
            "a/b/c=x",
            "app notin",
            "n>x",
            "app in (a,(b))",
            "app=web)",
        ];
        for s in bad {
            assert!(LabelSelector::parse(s).is_err(), "{s:?} should be rejected");
        }
        let long = format!("app={}", "a".repeat(64));
        assert!(LabelSelector::parse(&long).is_err());
    }

    #[test]
    fn empty_selector_should_report_is_empty() {
        assert!(LabelSelector::parse("").expect("empty").is_empty());
        assert!(LabelSelector::parse("  ").expect("blank").is_empty());
        assert!(!LabelSelector::parse("a").expect("exists").is_empty());
    }

    #[test]
    fn from_json_should_build_match_labels_and_expressions() {
        let sel = LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "team", "operator": "Exists"}
            ]
        }))
        .expect("valid");
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "x")])));
        assert!(!sel.matches(&labels(&[
            ("app", "web"),
            ("tier", "b"),
            ("team", "x"),
            ("legacy", "1")
        ])));
        assert!(!sel.matches(&labels(&[
            ("app", "web"),
            ("tier", "b"),
            ("team", "x"),
            ("env", "dev")
        ])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
        assert!(
            LabelSelector::from_json(&json!({}))
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn from_json_should_reject_bad_expressions() {
        let bad = [
            json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            json!({"matchExpressions": [{"key": "", "operator": "Exists"}]}),
            json!({"matchLabels": {"a": "b c"}}),
            json!({"matchLabels": {"a": 1}}),
            json!([]),
        ];
        for b in bad {
            assert!(
                LabelSelector::from_json(&b).is_err(),
                "{b} should be rejected"
            );
        }
    }

    #[test]
    fn from_map_should_require_every_pair() {
        let sel = LabelSelector::from_map(&labels(&[("name", "mongo"), ("role", "mongo")]));
        assert!(sel.matches(&labels(&[("name", "mongo"), ("role", "mongo"), ("x", "y")])));
        assert!(!sel.matches(&labels(&[("name", "mongo")])));
        assert!(LabelSelector::from_map(&BTreeMap::new()).is_empty());
    }
}
