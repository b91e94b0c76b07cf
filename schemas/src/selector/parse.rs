//! The label selector grammar of `k8s.io/apimachinery/pkg/labels.Parse`: a lexer (identifiers are runs of
//! anything but whitespace and `=!(),<>`) and a recursive-descent parser producing [`Requirement`]s.

use super::SelectorError;
use super::label::{Operator, Requirement};

/// Parses a whole selector string into its requirements (`""` → none).
pub(super) fn requirements(s: &str) -> Result<Vec<Requirement>, SelectorError> {
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
                    t => {
                        return Err(SelectorError(format!(
                            "found '{}', expected: ',' or 'end of string'",
                            t.text()
                        )));
                    }
                }
            }
            t => {
                return Err(SelectorError(format!(
                    "found '{}', expected: !, identifier, or 'end of string'",
                    t.text()
                )));
            }
        }
    }
    Ok(requirements)
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
            t => {
                return Err(SelectorError(format!(
                    "found '{}', expected: identifier",
                    t.text()
                )));
            }
        };
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            let op = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Requirement::new(&key, op, Vec::new());
        }
        if negated {
            return Err(SelectorError(format!(
                "found '{}', expected: ',' or 'end of string'",
                self.peek().text()
            )));
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
            t => Err(SelectorError(format!(
                "found '{}', expected: identifier",
                t.text()
            ))),
        }
    }

    /// `(v1, v2, ...)`; `()` is the set holding only the empty value, as in Kubernetes.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let t = self.next();
        if t != Tok::Open {
            return Err(SelectorError(format!(
                "found '{}', expected: '('",
                t.text()
            )));
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
                t => {
                    return Err(SelectorError(format!(
                        "found '{}', expected: ',', ')' or identifier",
                        t.text()
                    )));
                }
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }
}
