//! Resource quantities (`500m`, `1.5Gi`, `1e3`): exact parsing and Kubernetes' canonical form.
//! OWNER: helper schemas-b. Contract in the skeleton; see the helper brief.

use std::fmt;

/// Why a quantity string was rejected. `Display` is Kubernetes' message:
/// `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
pub struct QuantityError;

/// A parsed quantity: an exact value and the suffix format it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    _todo: (),
}

impl Quantity {
    /// Parses a quantity string exactly.
    ///
    /// # Errors
    /// [`QuantityError`] when `s` is not a Kubernetes quantity (`512mi`, `1.5.5Gi`, `""`).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let _ = s;
        todo!("schemas-b")
    }

    /// Kubernetes' canonical string (`1.441` → `1441m`, `1.5Gi` → `1536Mi`, `0.5` → `500m`).
    pub fn canonical(&self) -> String {
        todo!("schemas-b")
    }

    /// The value in thousandths, rounded up (Kubernetes' `MilliValue`): `cpu: 1` → 1000 millicores.
    pub fn millis(&self) -> i128 {
        todo!("schemas-b")
    }

    /// The value as a whole number, rounded up (Kubernetes' `Value`): `memory: 1Ki` → 1024 bytes.
    pub fn value(&self) -> i128 {
        todo!("schemas-b")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}
