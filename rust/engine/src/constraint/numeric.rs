//! Which values a partly written JSON number can still become, so numeric bounds
//! (which outlines-core ignores) are enforced as digits are written: a digit is
//! refused as soon as no completion of the number could land inside the bounds.

use crate::schema::regex::{MAX_FRAC_DIGITS, MAX_INT_DIGITS};
use crate::schema::Bound;

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub lo: Option<Bound>,
    pub hi: Option<Bound>,
    pub integer: bool,
    /// Integers only: values must be multiples of this.
    pub multiple_of: Option<u64>,
}

impl Range {
    pub fn contains(&self, x: f64) -> bool {
        self.lo.is_none_or(|b| if b.exclusive { x > b.value } else { x >= b.value })
            && self.hi.is_none_or(|b| if b.exclusive { x < b.value } else { x <= b.value })
    }

    /// Whether the finished number `text` is inside the range.
    pub fn accepts(&self, text: &str) -> bool {
        text.parse::<f64>().is_ok_and(|x| self.contains(x) && self.multiple_of.is_none_or(|m| x % m as f64 == 0.0))
    }

    /// Whether some number starting with `text` (as the schema regex can extend it)
    /// is inside the range.
    pub fn reachable(&self, text: &str) -> bool {
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (int, frac) = match rest.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (rest, None),
        };
        if neg && self.integer && int == "0" {
            // "-0" is JSON, but parsers read it as the float -0.0, not an integer.
            return false;
        }
        // Intervals [a, b) of magnitudes (b exclusive unless `closed`).
        let mut spans: Vec<(f64, f64, bool)> = Vec::new();
        if int.is_empty() {
            spans.push((0.0, f64::INFINITY, false));
        } else {
            let v: f64 = int.parse().unwrap_or(0.0);
            match frac {
                None if self.integer => {
                    if int == "0" {
                        spans.push((0.0, 0.0, true));
                    } else {
                        for j in 0..=MAX_INT_DIGITS.saturating_sub(int.len()) {
                            let p = 10f64.powi(j as i32);
                            spans.push((v * p, (v + 1.0) * p - 1.0, true));
                        }
                    }
                }
                None => {
                    if int == "0" {
                        spans.push((0.0, 1.0, false));
                    } else {
                        for j in 0..=MAX_INT_DIGITS.saturating_sub(int.len()) {
                            let p = 10f64.powi(j as i32);
                            spans.push((v * p, (v + 1.0) * p, false));
                        }
                    }
                }
                Some(f) => {
                    let x: f64 = format!("{int}.{f}0").parse().unwrap_or(v);
                    let step = 10f64.powi(-(f.len() as i32));
                    if f.len() >= MAX_FRAC_DIGITS {
                        spans.push((x, x, true));
                    } else {
                        spans.push((x, x + step, false));
                    }
                }
            }
        }
        spans.into_iter().any(|(a, b, closed)| {
            if neg {
                // magnitudes [a, b) become values (-b, -a]
                self.meets(-b, !closed, -a, false)
            } else {
                self.meets(a, false, b, !closed)
            }
        })
    }

    /// Whether the interval from `a` to `b` (each end open or closed) meets the range.
    fn meets(&self, a: f64, a_open: bool, b: f64, b_open: bool) -> bool {
        let (mut lo, mut lo_open) = (a, a_open);
        if let Some(l) = self.lo {
            if l.value > lo || (l.value == lo && l.exclusive) {
                lo = l.value;
                lo_open = l.exclusive;
            }
        }
        let (mut hi, mut hi_open) = (b, b_open);
        if let Some(h) = self.hi {
            if h.value < hi || (h.value == hi && h.exclusive) {
                hi = h.value;
                hi_open = h.exclusive;
            }
        }
        if self.integer {
            let first = if lo_open { lo.floor() + 1.0 } else { lo.ceil() };
            let last = if hi_open { hi.ceil() - 1.0 } else { hi.floor() };
            return match self.multiple_of {
                // Some multiple of m between first and last (exact: |values| < 10^15).
                Some(m) => ((first / m as f64).ceil() * m as f64) <= last,
                None => first <= last,
            };
        }
        lo < hi || (lo == hi && !lo_open && !hi_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lo: Option<(f64, bool)>, hi: Option<(f64, bool)>, integer: bool) -> Range {
        let b = |x: Option<(f64, bool)>| x.map(|(value, exclusive)| Bound { value, exclusive });
        Range { lo: b(lo), hi: b(hi), integer, multiple_of: None }
    }

    #[test]
    fn integer_prefixes() {
        let one_to_five = r(Some((1.0, false)), Some((5.0, false)), true);
        assert!(one_to_five.reachable("3"));
        assert!(!one_to_five.reachable("6"));
        assert!(!one_to_five.reachable("0"));
        assert!(!one_to_five.reachable("-"));
        let around_zero = r(Some((-5.0, false)), Some((5.0, false)), true);
        assert!(around_zero.reachable("-") && around_zero.reachable("0") && around_zero.reachable("-3"));
        assert!(!around_zero.reachable("-0"), "-0 reads back as the float -0.0, not an integer");
        let to_120 = r(Some((100.0, false)), Some((120.0, false)), true);
        assert!(to_120.reachable("1")); // 100..120
        assert!(to_120.reachable("12")); // 120
        assert!(!to_120.reachable("13")); // 13, 130.. are all outside
        assert!(!to_120.reachable("121"));
        assert!(!to_120.accepts("12"));
        assert!(to_120.accepts("120"));
    }

    #[test]
    fn number_prefixes() {
        let unit = r(Some((0.0, true)), Some((1.0, true)), false);
        assert!(unit.reachable("0"));
        assert!(unit.reachable("0."));
        assert!(unit.reachable("0.5"));
        assert!(!unit.reachable("1"));
        assert!(!unit.accepts("0"));
        let neg = r(Some((-2.5, false)), Some((-1.0, false)), false);
        assert!(neg.reachable("-"));
        assert!(neg.reachable("-2"));
        assert!(neg.reachable("-2.5"));
        assert!(!neg.reachable("-2.6"));
        assert!(!neg.reachable("-3"));
        assert!(!neg.reachable("0"));
    }
}
