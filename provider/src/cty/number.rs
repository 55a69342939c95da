//! cty numbers: arbitrary-precision decimals with fast paths for the common machine forms.
//!
//! Every numeric value has exactly one representation, so equality is structural:
//! - `Int`: an integer that fits `i64`;
//! - `UInt`: an integer in `(i64::MAX, u64::MAX]`;
//! - `Float`: an `f64` that is not one of the above (a non-integer, an integer beyond `u64`, or ±∞);
//!   never NaN, never zero;
//! - `Big`: any other finite decimal (for example `0.1` written in HCL, which no `f64` holds exactly).
//!
//! The encoders write each form the way go-cty does: `Int`/`UInt` as msgpack ints, `Float` as
//! float64, `Big` as a decimal string. `0.1` read from a string therefore stays the decimal `0.1`
//! and is written back as `"0.1"`, not as the nearby binary float, which Terraform would see as a
//! different number.

use std::cmp::Ordering;
use std::fmt;

/// A cty number. See the module docs for the representation.
#[derive(Clone, PartialEq)]
pub struct Number(Repr);

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Int(i64),
    UInt(u64),
    Float(f64),
    Big(Box<Decimal>),
}

impl Eq for Number {}

/// Leading or trailing zeros beyond this many are written in exponent form (`1e400`).
const PLAIN_ZEROS: i64 = 64;
/// Largest decimal exponent accepted when parsing; keeps arithmetic on exponents overflow-free.
const MAX_EXPONENT: i64 = 1_000_000_000_000;

impl Number {
    /// The number for a finite or infinite `f64`; `None` for NaN, which cty cannot represent.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        // 2^63 and 2^64 are exact as f64, so these range checks are exact.
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
            return Some(Number(Repr::Int(f as i64)));
        }
        if f.fract() == 0.0 && (TWO_63..2.0 * TWO_63).contains(&f) {
            return Some(Number(Repr::UInt(f as u64)));
        }
        Some(Number(Repr::Float(f)))
    }

    /// Parses decimal text: an optional sign, digits with an optional fraction, an optional
    /// exponent (`-12.5e3`), or `inf`/`infinity` with an optional sign. This is what cty accepts
    /// for numbers carried as strings.
    pub fn parse(text: &str) -> Option<Number> {
        let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
        if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
            let inf = if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            return Some(Number(Repr::Float(inf)));
        }
        Decimal::parse(text).map(Number::from_decimal)
    }

    fn from_decimal(d: Decimal) -> Number {
        if let Some(int) = d.to_i128() {
            if let Ok(i) = i64::try_from(int) {
                return Number(Repr::Int(i));
            }
            if let Ok(u) = u64::try_from(int) {
                return Number(Repr::UInt(u));
            }
        }
        // An f64 has at most 767 significant decimal digits and a magnitude within 1e-324..1e309.
        let magnitude = d.digits.len() as i64 + d.exp;
        if d.digits.len() <= 800 && (-330..=310).contains(&magnitude) {
            if let Ok(f) = d.to_exponent_text().parse::<f64>() {
                if f.is_finite() && Decimal::from_f64(f) == d {
                    return Number(Repr::Float(f));
                }
            }
        }
        Number(Repr::Big(Box::new(d)))
    }

    /// The value as `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value as `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            Repr::Int(i) => u64::try_from(i).ok(),
            Repr::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The nearest `f64` (lossy for big decimals and large integers).
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::UInt(u) => *u as f64,
            Repr::Float(f) => *f,
            Repr::Big(d) => d.to_exponent_text().parse().unwrap_or(f64::NAN),
        }
    }

    /// Whether the number is `+∞` or `-∞`.
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Float(f) if f.is_infinite())
    }

    /// The exact value as decimal text (JSON number syntax for finite values), e.g. `0.5`,
    /// `-12`, `0.1000000000000000055511151231257827021181583404541015625` for the f64 nearest
    /// to 0.1, or `1e400`. Infinities give `inf` / `-inf`.
    pub fn to_exact_string(&self) -> String {
        match &self.0 {
            Repr::Int(i) => i.to_string(),
            Repr::UInt(u) => u.to_string(),
            Repr::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
            Repr::Float(f) => Decimal::from_f64(*f).to_text(),
            Repr::Big(d) => d.to_text(),
        }
    }

    /// How the msgpack encoder writes this number.
    pub(crate) fn form(&self) -> NumberForm {
        match &self.0 {
            Repr::Int(i) => NumberForm::Int(*i),
            Repr::UInt(u) => NumberForm::UInt(*u),
            Repr::Float(f) => NumberForm::Float(*f),
            Repr::Big(d) => NumberForm::Decimal(d.to_text()),
        }
    }

    fn to_decimal(&self) -> Decimal {
        match &self.0 {
            Repr::Int(i) => Decimal::from_i128(i128::from(*i)),
            Repr::UInt(u) => Decimal::from_i128(i128::from(*u)),
            Repr::Float(f) => Decimal::from_f64(*f),
            Repr::Big(d) => (**d).clone(),
        }
    }

    /// -1 for -∞, 1 for +∞, 0 for finite values.
    fn infinity_rank(&self) -> i8 {
        match self.0 {
            Repr::Float(f) if f == f64::INFINITY => 1,
            Repr::Float(f) if f == f64::NEG_INFINITY => -1,
            _ => 0,
        }
    }
}

/// How the msgpack encoder writes a number.
pub(crate) enum NumberForm {
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal(String),
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => a.cmp(b),
            (Repr::UInt(a), Repr::UInt(b)) => a.cmp(b),
            (Repr::Int(_), Repr::UInt(_)) => Ordering::Less,
            (Repr::UInt(_), Repr::Int(_)) => Ordering::Greater,
            (Repr::Float(a), Repr::Float(b)) => a.total_cmp(b),
            _ => self
                .infinity_rank()
                .cmp(&other.infinity_rank())
                .then_with(|| self.to_decimal().cmp(&other.to_decimal())),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Human-readable form: integers as such, floats in their shortest round-trip form, decimals
/// exactly. Use [`Number::to_exact_string`] when the exact value matters.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Float(x) => write!(f, "{x}"),
            _ => f.write_str(&self.to_exact_string()),
        }
    }
}

/// `Number(12)`, `Number(0.1)` for the decimal, `Number(0.1f64)` for the binary float.
impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Float(x) => write!(f, "Number({x:?}f64)"),
            _ => write!(f, "Number({})", self.to_exact_string()),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Number {
                Number(Repr::Int(i64::from(v)))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        match i64::try_from(v) {
            Ok(i) => Number(Repr::Int(i)),
            Err(_) => Number(Repr::UInt(v)),
        }
    }
}

/// A finite decimal `(-1)^neg × digits × 10^exp`. `digits` holds values 0..=9, most significant
/// first, without leading or trailing zeros; zero is the empty list with `neg = false, exp = 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decimal {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    fn new(neg: bool, mut digits: Vec<u8>, mut exp: i64) -> Decimal {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        while digits.last() == Some(&0) {
            digits.pop();
            exp += 1;
        }
        if digits.is_empty() {
            return Decimal {
                neg: false,
                digits,
                exp: 0,
            };
        }
        Decimal { neg, digits, exp }
    }

    fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let neg = match bytes.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut digits = Vec::new();
        let mut frac_len: i64 = 0;
        let mut seen_point = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' => {
                    digits.push(b - b'0');
                    frac_len += i64::from(seen_point);
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp: i64 = 0;
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_neg = match bytes.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while let Some(&b @ b'0'..=b'9') = bytes.get(i) {
                exp = exp * 10 + i64::from(b - b'0');
                if exp > MAX_EXPONENT {
                    return None;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            if exp_neg {
                exp = -exp;
            }
        }
        if i != bytes.len() {
            return None;
        }
        Some(Decimal::new(neg, digits, exp - frac_len))
    }

    fn from_i128(v: i128) -> Decimal {
        let digits = v
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|b| b - b'0')
            .collect();
        Decimal::new(v < 0, digits, 0)
    }

    /// The exact decimal value of a finite f64.
    fn from_f64(f: f64) -> Decimal {
        let bits = f.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, exp2) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), biased - 1075)
        };
        // Little-endian base-10 digits of the mantissa, then × 2^exp2 (exact) or
        // × 5^-exp2 / 10^-exp2 (exact, since 2^-k = 5^k / 10^k).
        let mut le: Vec<u8> = mantissa
            .to_string()
            .bytes()
            .rev()
            .map(|b| b - b'0')
            .collect();
        let (factor, chunk_factor, chunk, mut count, exp10) = if exp2 >= 0 {
            (2u64, 1u64 << 28, 28, exp2, 0)
        } else {
            (5u64, 5u64.pow(13), 13, -exp2, exp2)
        };
        while count > 0 {
            let (mul, step) = if count >= chunk {
                (chunk_factor, chunk)
            } else {
                (factor.pow(count as u32), count)
            };
            mul_small(&mut le, mul);
            count -= step;
        }
        le.reverse();
        Decimal::new(neg, le, exp10)
    }

    /// The integer value, if it is an integer of at most 38 digits.
    fn to_i128(&self) -> Option<i128> {
        if self.exp < 0 || self.digits.len() as i64 + self.exp > 38 {
            return None;
        }
        let mut v: i128 = 0;
        for &d in &self.digits {
            v = v * 10 + i128::from(d);
        }
        for _ in 0..self.exp {
            v *= 10;
        }
        Some(if self.neg { -v } else { v })
    }

    fn sign(&self) -> i8 {
        match (self.digits.is_empty(), self.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    fn digit_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.digits.iter().map(|&d| char::from(b'0' + d))
    }

    /// `[-]DDDeN`: compact and accepted by `f64::from_str`.
    fn to_exponent_text(&self) -> String {
        let sign = if self.neg { "-" } else { "" };
        let digits: String = self.digit_chars().collect();
        if digits.is_empty() {
            return "0".into();
        }
        format!("{sign}{digits}e{}", self.exp)
    }

    /// Plain decimal text when that needs at most [`PLAIN_ZEROS`] padding zeros, otherwise
    /// `[-]D.DDDe[-]N`. Both are valid JSON numbers and parse back with [`Decimal::parse`].
    fn to_text(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let mut out = String::with_capacity(self.digits.len() + 8);
        if self.neg {
            out.push('-');
        }
        let n = self.digits.len() as i64;
        let point = n + self.exp; // digits before the decimal point
        if self.exp >= 0 && self.exp <= PLAIN_ZEROS {
            out.extend(self.digit_chars());
            out.extend(std::iter::repeat_n('0', self.exp as usize));
        } else if self.exp < 0 && point > 0 {
            out.extend(self.digit_chars().take(point as usize));
            out.push('.');
            out.extend(self.digit_chars().skip(point as usize));
        } else if self.exp < 0 && -point <= PLAIN_ZEROS {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.extend(self.digit_chars());
        } else {
            let mut chars = self.digit_chars();
            out.extend(chars.next());
            if n > 1 {
                out.push('.');
                out.extend(chars);
            }
            out.push_str(&format!("e{}", point - 1));
        }
        out
    }
}

/// `le` (little-endian base-10 digits) *= `mul`, with `9 * mul + carry` fitting u64.
fn mul_small(le: &mut Vec<u8>, mul: u64) {
    let mut carry: u64 = 0;
    for d in le.iter_mut() {
        let v = u64::from(*d) * mul + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        le.push((carry % 10) as u8);
        carry /= 10;
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_sign = self.sign().cmp(&other.sign());
        if by_sign != Ordering::Equal || self.sign() == 0 {
            return by_sign;
        }
        let magnitude = |d: &Decimal| d.digits.len() as i64 + d.exp;
        // Without leading/trailing zeros, equal magnitudes compare digit-wise.
        let abs = magnitude(self)
            .cmp(&magnitude(other))
            .then_with(|| self.digits.cmp(&other.digits));
        if self.neg {
            abs.reverse()
        } else {
            abs
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("parse {s}"))
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(n("42"), Number::from(42));
        assert_eq!(n("4.2e1"), Number::from(42));
        assert_eq!(n("-0.0"), Number::from(0));
        assert_eq!(Number::from_f64(-0.0), Some(Number::from(0)));
        assert_eq!(n("18446744073709551615"), Number::from(u64::MAX));
        assert_eq!(n("0.5"), Number::from_f64(0.5).unwrap());
        assert_eq!(n("1e20"), Number::from_f64(1e20).unwrap());
        assert_ne!(n("0.1"), Number::from_f64(0.1).unwrap());
        assert_eq!(n("0.1").to_exact_string(), "0.1");
        assert_eq!(n("-Inf"), Number::from_f64(f64::NEG_INFINITY).unwrap());
        assert_eq!(Number::from_f64(f64::NAN), None);
        for bad in [
            "",
            "-",
            ".",
            "1e",
            "1e+",
            "0x10",
            "1_000",
            " 1",
            "1 ",
            "nan",
            "1e9999999999999",
        ] {
            assert_eq!(Number::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn exact_text() {
        assert_eq!(
            Number::from_f64(0.1).unwrap().to_exact_string(),
            "0.1000000000000000055511151231257827021181583404541015625"
        );
        assert_eq!(
            n("123456789012345678901234567890").to_exact_string(),
            "123456789012345678901234567890"
        );
        assert_eq!(n("-1.5e400").to_exact_string(), "-1.5e400");
        assert_eq!(n("2.5e-400").to_exact_string(), "2.5e-400");
        assert_eq!(n("0.000123").to_exact_string(), "0.000123");
        assert_eq!(
            Number::from_f64(5e-324).unwrap(),
            n(&Number::from_f64(5e-324).unwrap().to_exact_string())
        );
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
    }

    #[test]
    fn ordering() {
        let sorted = [
            "-inf",
            "-1e400",
            "-18446744073709551616",
            "-3",
            "-0.1",
            "0",
            "1e-400",
            "0.1",
            "0.5",
            "1",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "inf",
        ];
        let nums: Vec<Number> = sorted.iter().map(|s| n(s)).collect();
        for (i, a) in nums.iter().enumerate() {
            for (j, b) in nums.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(
            n("0.1").cmp(&Number::from_f64(0.1).unwrap()),
            Ordering::Less
        );
    }
}
