//! Label selectors: parsing (`app=web,tier in (a,b),!legacy`), building from `LabelSelector` objects, matching.
//!
//! Grammar and semantics follow `k8s.io/apimachinery/pkg/labels` (`Parse`, `Requirement.Matches`) and
//! `metav1.LabelSelectorAsSelector`.

use super::SelectorError;
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
            return Err(SelectorError(format!("key: Invalid value: {key:?}: {}", key_errs.join("; "))));
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
                    return Err(SelectorError(format!("values[{i}][{key}]: Invalid value: {v:?}: {}", errs.join("; "))));
                }
            }
        }
        Ok(Requirement { key: key.to_string(), op, values })
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
                let (Some(have), Some(want)) =
                    (got.and_then(|v| v.parse::<i64>().ok()), self.values.first().and_then(|v| v.parse::<i64>().ok()))
                else {
                    return false;
                };
                if self.op == Operator::Gt { have > want } else { have < want }
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
        let tokens = lex(s)?;
        let mut p = Parser { tokens, pos: 0 };
        let mut requirements = Vec::new();
        loop {
            match p.peek() {
                Tok::End => break,
                Tok::Ident(_) | Tok::Not => {
                    requirements.push(p.requirement()?);
                    match p.next() {
                        Tok::End => break,
                        Tok::Comma => {
                            if matches!(p.peek(), Tok::End) {
                                return Err(SelectorError(format!(
                                    "unable to parse requirement: found end of string after ',' in {s:?}, expected: identifier"
                                )));
                            }
                        }
                        t => return Err(SelectorError(format!("found '{}', expected: ',' or 'end of string'", t.text()))),
                    }
                }
                t => return Err(SelectorError(format!("found '{}', expected: !, identifier, or 'end of string'", t.text()))),
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// Builds a selector from a Kubernetes `LabelSelector` object (`matchLabels`, `matchExpressions` with
    /// operators `In`, `NotIn`, `Exists`, `DoesNotExist`), as `metav1.LabelSelectorAsSelector` does.
    /// An object with neither field (or `{}`) is the empty selector.
    ///
    /// # Errors
    /// [`SelectorError`] on unknown operators, missing or extra values, or invalid keys/values.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let obj = v.as_object().ok_or_else(|| SelectorError("a label selector must be an object".into()))?;
        let mut requirements = Vec::new();
        if let Some(ml) = obj.get("matchLabels") {
            let ml = ml.as_object().ok_or_else(|| SelectorError("matchLabels must be an object of strings".into()))?;
            for (k, v) in ml {
                let v = v.as_str().ok_or_else(|| SelectorError(format!("matchLabels[{k}] must be a string")))?;
                requirements.push(Requirement::new(k, Operator::In, vec![v.to_string()])?);
            }
        }
        if let Some(me) = obj.get("matchExpressions") {
            let me = me.as_array().ok_or_else(|| SelectorError("matchExpressions must be a list".into()))?;
            for e in me {
                let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                let op_text = e.get("operator").and_then(Value::as_str).unwrap_or("");
                let op = match op_text {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => return Err(SelectorError(format!("{other:?} is not a valid label selector operator"))),
                };
                let values = match e.get("values") {
                    None => Vec::new(),
                    Some(vs) => vs
                        .as_array()
                        .ok_or_else(|| SelectorError("matchExpressions values must be a list of strings".into()))?
                        .iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| SelectorError("matchExpressions values must be a list of strings".into()))?,
                };
                requirements.push(Requirement::new(key, op, values)?);
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// A selector that requires each `key=value` of `map` (a Service's `spec.selector`). Keys and values are
    /// not validated here (Service validation does that); an empty map gives the empty selector.
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        let requirements =
            map.iter().map(|(k, v)| Requirement { key: k.clone(), op: Operator::In, values: vec![v.clone()] }).collect();
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

/// A lexical token of the label selector grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Comma,
    Eq,
    DoubleEq,
    NotEq,
    Not,
    Gt,
    Lt,
    Open,
    Close,
    End,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Comma => ",".into(),
            Tok::Eq => "=".into(),
            Tok::DoubleEq => "==".into(),
            Tok::NotEq => "!=".into(),
            Tok::Not => "!".into(),
            Tok::Gt => ">".into(),
            Tok::Lt => "<".into(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::End => "end of string".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// Splits `s` into tokens; identifiers are runs of anything but whitespace and the special characters.
fn lex(s: &str) -> Result<Vec<Tok>, SelectorError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = match (c, next) {
            ('=', Some('=')) => (Tok::DoubleEq, 2),
            ('=', _) => (Tok::Eq, 1),
            ('!', Some('=')) => (Tok::NotEq, 2),
            ('!', _) => (Tok::Not, 1),
            ('(', _) => (Tok::Open, 1),
            (')', _) => (Tok::Close, 1),
            (',', _) => (Tok::Comma, 1),
            ('>', _) => (Tok::Gt, 1),
            ('<', _) => (Tok::Lt, 1),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
                continue;
            }
        };
        out.push(tok);
        i += len;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Tok {
        self.tokens.get(self.pos).cloned().unwrap_or(Tok::End)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek();
        self.pos += 1;
        t
    }

    /// `!key`, `key`, `key op value`, `key in (values)`.
    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = matches!(self.peek(), Tok::Not);
        if negated {
            self.pos += 1;
        }
        let key = match self.next() {
            Tok::Ident(k) => k,
            t => return Err(SelectorError(format!("found '{}', expected: identifier", t.text()))),
        };
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            let op = if negated { Operator::DoesNotExist } else { Operator::Exists };
            return Requirement::new(&key, op, Vec::new());
        }
        if negated {
            return Err(SelectorError(format!("found '{}', expected: ',' or 'end of string'", self.peek().text())));
        }
        let op_tok = self.next();
        let (op, values) = match op_tok {
            Tok::Eq | Tok::DoubleEq => (Operator::In, vec![self.exact_value()?]),
            Tok::NotEq => (Operator::NotIn, vec![self.exact_value()?]),
            Tok::Gt => (Operator::Gt, vec![self.exact_value()?]),
            Tok::Lt => (Operator::Lt, vec![self.exact_value()?]),
            Tok::Ident(ref w) if w == "in" => (Operator::In, self.value_set()?),
            Tok::Ident(ref w) if w == "notin" => (Operator::NotIn, self.value_set()?),
            t => {
                return Err(SelectorError(format!(
                    "found '{}', expected: {{'=', '!=', '==', 'in', 'notin', '>', '<'}}",
                    t.text()
                )));
            }
        };
        Requirement::new(&key, op, values)
    }

    /// The value after `=`, `==`, `!=`, `>`, `<`; nothing (end or `,`) is the empty value.
    fn exact_value(&mut self) -> Result<String, SelectorError> {
        match self.peek() {
            Tok::End | Tok::Comma => Ok(String::new()),
            Tok::Ident(v) => {
                self.pos += 1;
                Ok(v)
            }
            t => Err(SelectorError(format!("found '{}', expected: identifier", t.text()))),
        }
    }

    /// `(v1, v2, ...)`; `()` is the set holding only the empty value, as in Kubernetes.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let t = self.next();
        if t != Tok::Open {
            return Err(SelectorError(format!("found '{}', expected: '('", t.text())));
        }
        let mut values = Vec::new();
        let mut current = String::new();
        loop {
            match self.next() {
                Tok::Ident(v) if current.is_empty() => current = v,
                Tok::Comma => values.push(std::mem::take(&mut current)),
                Tok::Close => {
                    values.push(current);
                    break;
                }
                t => return Err(SelectorError(format!("found '{}', expected: ',', ')' or identifier", t.text()))),
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parse_should_match_like_kubernetes() {
        // (selector, labels, expected match)
        let cases: &[(&str, &[(&str, &str)], bool)] = &[
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
            ("tier=backend,app.kubernetes.io/name=hello", &[("tier", "backend"), ("app.kubernetes.io/name", "hello")], true),
            ("tier=backend,app.kubernetes.io/name=hello", &[("tier", "backend")], false),
            ("n>5", &[("n", "7")], true),
            ("n>5", &[("n", "3")], false),
            ("n<5", &[("n", "x")], false),
            ("env in (prod),!legacy, tier", &[("env", "prod"), ("tier", "a")], true),
        ];
        for (sel, have, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(parsed.matches(&labels(have)), *want, "selector {sel:?} on {have:?}");
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
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "x"), ("legacy", "1")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "x"), ("env", "dev")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
        assert!(LabelSelector::from_json(&json!({})).expect("empty").is_empty());
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
            assert!(LabelSelector::from_json(&b).is_err(), "{b} should be rejected");
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
