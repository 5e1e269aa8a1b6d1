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
use crate::schema::{Node, NodeId, SchemaIr};

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

/// The values the candidate nodes allow when they are a finite set of literals (enums,
/// booleans, null, objects without properties), narrowed to those starting with `first`
/// when given; `None` when some candidate allows more.
pub fn literal_values(ir: &SchemaIr, cands: &[NodeId], first: Option<u8>) -> Option<Vec<Value>> {
    literal_values_in(&ir.nodes, cands, first)
}

/// `literal_values` with no first byte, over a node arena (for the parser's check).
pub(crate) fn literal_values_of(nodes: &[Node], cands: &[NodeId]) -> Option<Vec<Value>> {
    literal_values_in(nodes, cands, None)
}

fn literal_values_in(nodes: &[Node], cands: &[NodeId], first: Option<u8>) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    for id in cands {
        match finite(nodes, *id) {
            Some(values) => out.extend(values),
            None => {
                // Other kinds are open-ended, unless the first byte rules them out.
                let b = first?;
                let excluded = match &nodes[*id] {
                    Node::String { .. } => b != b'"',
                    Node::Integer { .. } | Node::Number { .. } => !(b == b'-' || b.is_ascii_digit()),
                    Node::Object { .. } => b != b'{',
                    Node::Array { .. } => b != b'[',
                    _ => false,
                };
                if !excluded {
                    return None;
                }
            }
        }
    }
    if let Some(b) = first {
        out.retain(|v| to_json(v).as_bytes().first() == Some(&b));
    }
    Some(out)
}

/// Sets this large count as open-ended.
const MAX_FINITE: usize = 256;

/// Every value node `id` allows, when they are few: enums, booleans, null, integers in a
/// small range, short lists of finite items, objects whose properties are all finite (each
/// optional one present or left out; in schema order, as they are written).
fn finite(nodes: &[Node], id: NodeId) -> Option<Vec<Value>> {
    let values = match &nodes[id] {
        Node::Enum(values) => values.clone(),
        Node::Boolean => vec![Value::Bool(true), Value::Bool(false)],
        Node::Null => vec![Value::Null],
        Node::Array { max_items: Some(0), .. } => vec![Value::Array(Vec::new())],
        Node::Array { prefix, items, min_items, max_items: Some(max), unique } if prefix.is_empty() => {
            let mut alts = Vec::new();
            crate::schema::alternatives(nodes, *items, &mut alts);
            let mut options = Vec::new();
            for a in alts {
                options.extend(finite(nodes, a)?);
            }
            // Every list of min..=max items (distinct ones where the array says so).
            let mut lists: Vec<Vec<Value>> = vec![Vec::new()];
            let mut out = Vec::new();
            for len in 0..=*max {
                if len >= *min_items {
                    out.extend(lists.iter().cloned().map(Value::Array));
                }
                if len == *max {
                    break;
                }
                let mut next = Vec::new();
                for l in &lists {
                    for o in &options {
                        if *unique && l.iter().any(|x| crate::schema::validate::json_equal(x, o)) {
                            continue;
                        }
                        let mut l = l.clone();
                        l.push(o.clone());
                        next.push(l);
                    }
                    if next.len() + out.len() > MAX_FINITE {
                        return None;
                    }
                }
                lists = next;
            }
            out
        }
        Node::Integer { minimum: Some(lo), maximum: Some(hi), multiple_of } => {
            let first = if lo.exclusive { lo.value.floor() as i64 + 1 } else { lo.value.ceil() as i64 };
            let last = if hi.exclusive { hi.value.ceil() as i64 - 1 } else { hi.value.floor() as i64 };
            if last.checked_sub(first)? >= MAX_FINITE as i64 {
                return None;
            }
            (first..=last).filter(|v| multiple_of.is_none_or(|m| v % m as i64 == 0)).map(Value::from).collect()
        }
        Node::Object { properties, .. } => {
            let mut rows = vec![serde_json::Map::new()];
            for p in properties {
                let mut alts = Vec::new();
                crate::schema::alternatives(nodes, p.node, &mut alts);
                let mut options: Vec<Option<Value>> = Vec::new();
                for a in alts {
                    options.extend(finite(nodes, a)?.into_iter().map(Some));
                }
                if !p.required {
                    options.push(None); // left out
                }
                if rows.len().checked_mul(options.len())? > MAX_FINITE {
                    return None;
                }
                rows = rows
                    .iter()
                    .flat_map(|r| {
                        options.iter().map(move |o| {
                            let mut r = r.clone();
                            if let Some(o) = o {
                                r.insert(p.name.clone(), o.clone());
                            }
                            r
                        })
                    })
                    .collect();
            }
            rows.into_iter().map(Value::Object).collect()
        }
        Node::AnyOf { .. } => {
            let mut alts = Vec::new();
            crate::schema::alternatives(nodes, id, &mut alts);
            let mut out = Vec::new();
            for a in alts {
                out.extend(finite(nodes, a)?);
            }
            out
        }
        _ => return None,
    };
    (values.len() <= MAX_FINITE).then_some(values)
}
