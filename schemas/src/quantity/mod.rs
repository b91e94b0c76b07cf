//! Resource quantities (`500m`, `1.5Gi`, `1e3`): exact parsing and Kubernetes' canonical form.
//!
//! Follows `k8s.io/apimachinery/pkg/api/resource` (`ParseQuantity`, `CanonicalizeBytes`, `ScaledValue`):
//! a quantity is a signed number with an optional suffix, held exactly as `mantissa × 10^scale` (no
//! floats). Parsing rounds values finer than one nano (`10^-9`) up, away from zero; binary (`Ki`…`Ei`)
//! values are capped at 2^63-1 in magnitude, as Kubernetes does.
//!
//! # Caveats
//! Kubernetes keeps the caller's spelling when it already looks canonical (`1.441` is echoed as written);
//! [`Quantity::canonical`] always computes the canonical form (`1441m`), like `CanonicalizeBytes`.
//! More than 38 significant digits are rounded up (away from zero) to 38.

use std::fmt;

/// Why a quantity string was rejected. `Display` is Kubernetes' message:
/// `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)]
pub struct QuantityError;

/// The suffix family a quantity was written in; the canonical form uses the same family
/// (Kubernetes' `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of ten with SI suffixes: `n u m "" k M G T P E` (e.g. `500m`, `256M`).
    DecimalSi,
    /// Powers of two: `Ki Mi Gi Ti Pi Ei` (e.g. `1536Mi`).
    BinarySi,
    /// Powers of ten written as an exponent: `1e3`, `1E-3`.
    DecimalExponent,
}

/// A parsed quantity: an exact value (`mantissa × 10^scale`) and the suffix format it was written in.
///
/// Equality compares the value and the format (`1000m` equals `1`; `1Ki` does not equal `1024`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    /// Signed mantissa without trailing decimal zeros (0 for zero).
    mantissa: i128,
    /// Base-10 exponent of the mantissa (0 for zero).
    scale: i32,
    /// Suffix family.
    format: QuantityFormat,
}

/// Largest magnitude a binary quantity may have (Kubernetes' `maxAllowed`, 2^63-1).
const MAX_ALLOWED: u128 = i64::MAX as u128;
/// Smallest representable scale: one nano.
const NANO_SCALE: i64 = -9;
/// Most significant decimal digits kept (fits `u128` with room for one round-up).
const MAX_DIGITS: usize = 38;

/// Decimal SI suffixes and their base-10 exponents.
const DECIMAL_SUFFIXES: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
/// Binary SI suffixes and their base-2 exponents.
const BINARY_SUFFIXES: &[(&str, u32)] = &[
    ("", 0),
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// The pieces of a quantity string, as `parseQuantityString` splits them.
struct Parts<'a> {
    negative: bool,
    /// Integer digits without leading zeros (may be empty).
    num: &'a str,
    /// Fraction digits (may be empty).
    denom: &'a str,
    suffix: &'a str,
}

/// Splits `s` into sign, integer digits, fraction digits and suffix, checking the character classes.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    if let Some(&c) = b.first()
        && (c == b'-' || c == b'+')
    {
        negative = c == b'-';
        pos = 1;
    }
    let num_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = s[num_start..pos].trim_start_matches('0');
    let had_int_digits = pos > num_start;
    let mut denom = "";
    let mut had_point = false;
    if pos < b.len() && b[pos] == b'.' {
        had_point = true;
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
    }
    // `[0-9.]+`: at least one digit or the point itself.
    if !had_int_digits && !had_point {
        return Err(QuantityError);
    }
    let suffix = &s[pos..];
    let sb = suffix.as_bytes();
    let mut i = 0;
    while i < sb.len() && b"eEinumkKMGTP".contains(&sb[i]) {
        i += 1;
    }
    if i < sb.len() && (sb[i] == b'+' || sb[i] == b'-') {
        i += 1;
    }
    if !sb[i..].iter().all(u8::is_ascii_digit) {
        return Err(QuantityError);
    }
    Ok(Parts {
        negative,
        num,
        denom,
        suffix,
    })
}

/// A suffix's meaning: base 10 with an exponent, or base 2 with an exponent.
enum Suffix {
    Decimal(i32, QuantityFormat),
    Binary(u32),
}

/// Interprets a suffix (`Ki`, `m`, `e-3`), like `suffixHandler.interpret`.
fn interpret(suffix: &str) -> Result<Suffix, QuantityError> {
    if let Some((_, e)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Ok(Suffix::Decimal(*e, QuantityFormat::DecimalSi));
    }
    if let Some((_, e)) = BINARY_SUFFIXES
        .iter()
        .find(|(s, _)| !s.is_empty() && *s == suffix)
    {
        return Ok(Suffix::Binary(*e));
    }
    let rest = suffix.strip_prefix(['e', 'E']).ok_or(QuantityError)?;
    let exp: i64 = rest.parse().map_err(|_| QuantityError)?;
    if exp.abs() > i64::from(i32::MAX) {
        return Err(QuantityError);
    }
    Ok(Suffix::Decimal(exp as i32, QuantityFormat::DecimalExponent))
}

/// Rounds a digit string to at most `keep` digits, away from zero; returns the digits and how many
/// were dropped.
fn round_digits_up(digits: &str, keep: usize) -> (u128, usize) {
    if digits.len() <= keep {
        return (digits.parse().unwrap_or(0), 0);
    }
    let dropped = digits.len() - keep;
    let (head, tail) = digits.split_at(keep);
    let mut v: u128 = if head.is_empty() {
        0
    } else {
        head.parse().unwrap_or(0)
    };
    if tail.bytes().any(|c| c != b'0') {
        v += 1;
    }
    (v, dropped)
}

/// `10^n` if it fits.
fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

impl Quantity {
    /// Parses a quantity string exactly.
    ///
    /// # Errors
    /// [`QuantityError`] when `s` is not a Kubernetes quantity (`512mi`, `1.5.5Gi`, `""`).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError);
        }
        let p = split(s)?;
        let suffix = interpret(p.suffix)?;
        // All significant digits, with the scale of the last one.
        let joined = format!("{}{}", p.num, p.denom);
        let joined = joined.trim_start_matches('0');
        let trimmed = joined.trim_end_matches('0');
        let mut scale = -(p.denom.len() as i64) + (joined.len() - trimmed.len()) as i64;
        let digits = trimmed;
        let (magnitude, scale, format) = match suffix {
            Suffix::Decimal(exp, format) => {
                scale += i64::from(exp);
                let (m, sc) = decimal_value(digits, scale);
                if sc > i64::from(i32::MAX) {
                    return Err(QuantityError);
                }
                (m, sc as i32, format)
            }
            Suffix::Binary(bits) => {
                let (m, sc) = binary_value(digits, scale, bits);
                let format = if m != 0 && sc < 0 && below_one(m, sc) {
                    QuantityFormat::DecimalSi
                } else {
                    QuantityFormat::BinarySi
                };
                (m, sc, format)
            }
        };
        let mantissa = if p.negative {
            -(magnitude as i128)
        } else {
            magnitude as i128
        };
        Ok(Quantity::normalized(mantissa, scale, format))
    }

    /// Builds a quantity, stripping trailing zeros from the mantissa.
    fn normalized(mut mantissa: i128, mut scale: i32, format: QuantityFormat) -> Quantity {
        if mantissa == 0 {
            return Quantity {
                mantissa: 0,
                scale: 0,
                format,
            };
        }
        while mantissa % 10 == 0 && scale < i32::MAX {
            mantissa /= 10;
            scale += 1;
        }
        Quantity {
            mantissa,
            scale,
            format,
        }
    }

    /// The suffix family this quantity was written in (after Kubernetes' adjustments: a binary
    /// value below one becomes decimal).
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// `true` when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Kubernetes' canonical string (`1.441` → `1441m`, `1.5Gi` → `1536Mi`, `0.5` → `500m`).
    ///
    /// Rules (`CanonicalizeBytes`): zero is `0`; a binary value below 1024 in magnitude or with a
    /// fraction is written in decimal SI; otherwise binary values use the largest `Ki`…`Ei` suffix that
    /// keeps an integer; decimal values use an exponent that is a multiple of three (SI suffix, or
    /// `eN` for the exponent format, or when no SI suffix exists).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySi {
            let small = self.scale <= 3 && self.abs_integer().is_some_and(|v| v < 1024);
            if small || self.scale < 0 {
                format = QuantityFormat::DecimalSi;
            } else if let Some(s) = self.binary_canonical() {
                return s;
            } else {
                format = QuantityFormat::DecimalSi;
            }
        }
        // Decimal: exponent a multiple of three (Go's truncating remainder).
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let mut digits = self.mantissa.unsigned_abs().to_string();
        let mut exp = self.scale;
        match exp % 3 {
            1 | -2 => {
                digits.push('0');
                exp -= 1;
            }
            2 | -1 => {
                digits.push_str("00");
                exp -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            QuantityFormat::DecimalSi => match DECIMAL_SUFFIXES.iter().find(|(_, e)| *e == exp) {
                Some((s, _)) => (*s).to_string(),
                None => format!("e{exp}"),
            },
            _ if exp == 0 => String::new(),
            _ => format!("e{exp}"),
        };
        format!("{sign}{digits}{suffix}")
    }

    /// The absolute value as an integer, when it is one and fits.
    fn abs_integer(&self) -> Option<u128> {
        if self.scale < 0 {
            return None;
        }
        pow10(self.scale as u32)?.checked_mul(self.mantissa.unsigned_abs())
    }

    /// The binary canonical form of an integer value (`1536Mi`), or `None` when no binary suffix fits.
    fn binary_canonical(&self) -> Option<String> {
        let mut v = self.abs_integer()?;
        let mut power = 0usize;
        while v >= 1024 && v % 1024 == 0 {
            v /= 1024;
            power += 1;
        }
        let (suffix, _) = BINARY_SUFFIXES.get(power)?;
        let sign = if self.mantissa < 0 { "-" } else { "" };
        Some(format!("{sign}{v}{suffix}"))
    }

    /// The value scaled by `10^-target` and rounded away from zero (Kubernetes' `ScaledValue`),
    /// saturating at the `i128` range.
    fn scaled(&self, target: i32) -> i128 {
        let neg = self.mantissa < 0;
        let m = self.mantissa.unsigned_abs();
        let shift = i64::from(self.scale) - i64::from(target);
        let mag: u128 = if shift >= 0 {
            u32::try_from(shift)
                .ok()
                .and_then(pow10)
                .and_then(|p| p.checked_mul(m))
                .unwrap_or(u128::MAX)
        } else {
            match u32::try_from(-shift).ok().and_then(pow10) {
                Some(p) => m / p + u128::from(!m.is_multiple_of(p)),
                None => u128::from(m != 0),
            }
        };
        let mag = i128::try_from(mag).unwrap_or(i128::MAX);
        if neg { -mag } else { mag }
    }

    /// The value in thousandths, rounded up (Kubernetes' `MilliValue`): `cpu: 1` → 1000 millicores.
    /// Rounding is away from zero; results beyond `i128` saturate.
    pub fn millis(&self) -> i128 {
        self.scaled(-3)
    }

    /// The value as a whole number, rounded up (Kubernetes' `Value`): `memory: 1Ki` → 1024 bytes.
    /// Rounding is away from zero; results beyond `i128` saturate.
    pub fn value(&self) -> i128 {
        self.scaled(0)
    }
}

/// The magnitude `digits × 10^scale`, rounded up to one nano and to [`MAX_DIGITS`] significant digits,
/// as a (mantissa, scale) pair.
fn decimal_value(digits: &str, scale: i64) -> (u128, i64) {
    if digits.is_empty() {
        return (0, 0);
    }
    let mut keep = digits.len();
    if scale < NANO_SCALE {
        let cut = usize::try_from(NANO_SCALE - scale).unwrap_or(usize::MAX);
        if cut >= digits.len() {
            return (1, NANO_SCALE);
        }
        keep -= cut;
    }
    let (v, dropped) = round_digits_up(digits, keep.min(MAX_DIGITS));
    (v, scale + dropped as i64)
}

/// `m × 10^sc` is below one in magnitude (`sc < 0`).
fn below_one(m: u128, sc: i32) -> bool {
    pow10(sc.unsigned_abs()).is_none_or(|p| m < p)
}

/// The magnitude `digits × 10^scale × 2^bits`, rounded up to one nano and capped at 2^63-1, as a
/// (mantissa, scale) pair.
fn binary_value(digits: &str, scale: i64, bits: u32) -> (u128, i32) {
    if digits.is_empty() {
        return (0, 0);
    }
    // Integer digits with at least the scale given; too many digits are rounded up first.
    let (mut d, dropped) = round_digits_up(digits, MAX_DIGITS);
    let mut scale = scale + dropped as i64;
    // D × 2^bits, shedding decimal digits (rounded up) while it overflows.
    let n = loop {
        match d.checked_mul(1u128 << bits) {
            Some(n) => break n,
            None => {
                d = d / 10 + u128::from(!d.is_multiple_of(10));
                scale += 1;
            }
        }
    };
    if scale >= 0 {
        let v = u32::try_from(scale)
            .ok()
            .and_then(pow10)
            .and_then(|p| p.checked_mul(n))
            .unwrap_or(u128::MAX);
        return (v.min(MAX_ALLOWED), 0);
    }
    let (m, sc) = if scale < NANO_SCALE {
        let k = (NANO_SCALE - scale) as u32;
        match pow10(k) {
            Some(p) => (n / p + u128::from(!n.is_multiple_of(p)), NANO_SCALE),
            None => (1, NANO_SCALE),
        }
    } else {
        (n, scale)
    };
    let sc = sc as i32;
    // Cap: m × 10^sc > MAX_ALLOWED ⇔ m > MAX_ALLOWED × 10^-sc.
    match pow10(sc.unsigned_abs()).and_then(|p| MAX_ALLOWED.checked_mul(p)) {
        Some(limit) if m > limit => (MAX_ALLOWED, 0),
        _ => (m, sc),
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

#[cfg(test)]
mod tests;
