//! `uniqueItems`: an array's items must differ. The bounds tracker records each item's text
//! and refuses a byte as soon as the item can only end up equal to an earlier one, as early
//! as the item's kind allows, so the model can still write something else:
//! - an item whose whole value the first byte settles (`true`, `false`, `null`, `{}` of an
//!   object without properties) or whose candidates are all `enum` values: at the first byte
//!   from which only items already written remain possible;
//! - a string: at its closing quote (the model can write more characters instead);
//! - an object or array: at its closing byte (a property or item can still follow);
//! - a number: at the `,` or `]` after it (more digits can follow).
//! The comma before a further item is refused when every value that item could take (a
//! finite set of literals) is written already.

use serde_json::Value;

use crate::schema::layout::to_json;

#[derive(Debug, Clone, Default)]
pub struct Distinct {
    seen: Vec<Value>,
    /// The open item's bytes so far.
    current: Vec<u8>,
    /// The open item's possible values, when they are a finite set of literals.
    known: Option<Vec<Value>>,
}

impl Distinct {
    pub fn start_item(&mut self, first: Option<u8>) {
        self.current = first.into_iter().collect();
        self.known = None;
    }

    pub fn record(&mut self, b: u8) {
        // Whitespace before the item (after `, `) is not part of it.
        if !(self.current.is_empty() && matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
            self.current.push(b);
        }
    }

    /// Sets the open item's possible values (already narrowed to its first byte); false when
    /// all of them are written already.
    pub fn set_known(&mut self, values: Vec<Value>) -> bool {
        self.known = Some(values);
        self.feasible()
    }

    /// Whether the open item can still become a value not written yet.
    pub fn feasible(&self) -> bool {
        let Some(known) = &self.known else { return true };
        known.iter().any(|v| {
            let text = to_json(v);
            let t = text.as_bytes();
            let fits = t.starts_with(&self.current)
                // a literal's own text, followed by the array's `,` or `]`
                || (self.current.len() == t.len() + 1 && self.current.starts_with(t) && matches!(self.current.last(), Some(b',' | b']')));
            fits && !self.is_seen(v)
        })
    }

    /// The open item, written in full (its closing byte included), equals an earlier one.
    pub fn repeats(&self) -> bool {
        serde_json::from_slice::<Value>(&self.current).is_ok_and(|v| self.is_seen(&v))
    }

    /// The item ended at the array's `delimiter`: false if it repeats an earlier one.
    pub fn finish_item(&mut self, delimiter: u8) -> bool {
        let mut text = std::mem::take(&mut self.current);
        // A number or literal ends only at the delimiter, which was recorded with it.
        if text.first().is_some_and(|c| c.is_ascii_digit() || *c == b'-' || c.is_ascii_alphabetic()) && text.last() == Some(&delimiter) {
            text.pop();
        }
        self.known = None;
        match serde_json::from_slice::<Value>(&text) {
            Ok(v) if self.is_seen(&v) => false,
            Ok(v) => {
                self.seen.push(v);
                true
            }
            Err(_) => true,
        }
    }

    /// Whether some value of `values` (a finite set) is not written yet.
    pub fn any_new(&self, values: &[Value]) -> bool {
        values.iter().any(|v| !self.is_seen(v))
    }

    fn is_seen(&self, v: &Value) -> bool {
        self.seen.iter().any(|s| crate::schema::validate::json_equal(s, v))
    }
}
