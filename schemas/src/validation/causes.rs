//! The cause collector (Kubernetes' `field.ErrorList`) and small JSON accessors used by every validator.

use crate::StatusCause;
use serde_json::Value;

/// Collects causes with Kubernetes' reasons and message bodies (`field.Error.ErrorBody`).
#[derive(Debug, Default)]
pub(crate) struct Causes(Vec<StatusCause>);

/// Kubernetes' rendering of a bad value in a message: strings quoted, numbers and booleans bare, others JSON.
pub(crate) fn fmt_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

impl Causes {
    fn push(&mut self, reason: &str, field: &str, message: String) {
        self.0.push(StatusCause {
            reason: reason.to_string(),
            message,
            field: field.to_string(),
        });
    }

    /// `FieldValueRequired`: `Required value` (`: detail` when given).
    pub(crate) fn required(&mut self, field: &str, detail: &str) {
        let msg = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        self.push("FieldValueRequired", field, msg);
    }

    /// `FieldValueInvalid`: `Invalid value: "x": detail`.
    pub(crate) fn invalid(&mut self, field: &str, value: impl Into<Value>, detail: &str) {
        let v = fmt_value(&value.into());
        let msg = if detail.is_empty() {
            format!("Invalid value: {v}")
        } else {
            format!("Invalid value: {v}: {detail}")
        };
        self.push("FieldValueInvalid", field, msg);
    }

    /// One `FieldValueInvalid` per message of a syntax check.
    pub(crate) fn invalid_each(&mut self, field: &str, value: &str, errs: Vec<String>) {
        for e in errs {
            self.invalid(field, value, &e);
        }
    }

    /// `FieldValueNotSupported`: `Unsupported value: "x": supported values: "A", "B"`.
    pub(crate) fn not_supported(
        &mut self,
        field: &str,
        value: impl Into<Value>,
        supported: &[&str],
    ) {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        let msg = format!(
            "Unsupported value: {}: supported values: {}",
            fmt_value(&value.into()),
            list.join(", ")
        );
        self.push("FieldValueNotSupported", field, msg);
    }

    /// `FieldValueForbidden`: `Forbidden: detail`.
    pub(crate) fn forbidden(&mut self, field: &str, detail: &str) {
        self.push("FieldValueForbidden", field, format!("Forbidden: {detail}"));
    }

    /// `FieldValueDuplicate`: `Duplicate value: "x"`.
    pub(crate) fn duplicate(&mut self, field: &str, value: impl Into<Value>) {
        let msg = format!("Duplicate value: {}", fmt_value(&value.into()));
        self.push("FieldValueDuplicate", field, msg);
    }

    /// `FieldValueNotFound`: `Not found: "x"`.
    pub(crate) fn not_found(&mut self, field: &str, value: impl Into<Value>) {
        let msg = format!("Not found: {}", fmt_value(&value.into()));
        self.push("FieldValueNotFound", field, msg);
    }

    /// `FieldValueTooLong`: `Too long: may not be more than N bytes`.
    pub(crate) fn too_long(&mut self, field: &str, max_bytes: usize) {
        self.push(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {max_bytes} bytes"),
        );
    }

    /// `FieldValueTypeInvalid`: the value has the wrong JSON type.
    pub(crate) fn type_invalid(&mut self, field: &str, value: &Value, expected: &str) {
        self.push(
            "FieldValueTypeInvalid",
            field,
            format!("Invalid value: {}: expected {expected}", fmt_value(value)),
        );
    }

    /// `FieldValueInvalid` "must be greater than or equal to 0" when `v < 0` (`ValidateNonnegativeField`).
    pub(crate) fn non_negative(&mut self, field: &str, v: Option<i64>) {
        if let Some(n) = v.filter(|n| *n < 0) {
            self.invalid(field, n, "must be greater than or equal to 0");
        }
    }

    /// Number of causes collected so far.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The collected causes.
    pub(crate) fn into_vec(self) -> Vec<StatusCause> {
        self.0
    }
}

/// `v[key]` as a string slice (absent or non-string → `""`).
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `v[key]` as an integer, if present and integral.
pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// `v[key]` as an array slice (absent or non-array → empty).
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The null value, for objects missing a section (`spec`).
pub(crate) static NULL: Value = Value::Null;

/// `v[key]`, or [`NULL`].
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&NULL)
}
