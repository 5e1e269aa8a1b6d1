//! Checks a finished output against the schema tree. The constraint already makes
//! outputs valid; this is the last line of defence so that an engine bug turns into a
//! row error instead of an invalid "success".

use std::collections::HashMap;

use serde_json::Value;

use super::format;
use super::ir::{Bound, Node, NodeId, SchemaIr};

pub struct Validator {
    nodes: Vec<Node>,
    root: NodeId,
    /// Compiled `pattern`s (search semantics) and formats (full match), per node.
    regexes: HashMap<NodeId, regex::Regex>,
}

impl Validator {
    pub fn new(ir: &SchemaIr) -> Self {
        Self::from_nodes(ir.nodes.clone(), ir.root)
    }

    fn from_nodes(nodes: Vec<Node>, root: NodeId) -> Self {
        let mut regexes = HashMap::new();
        for (id, n) in nodes.iter().enumerate() {
            if let Node::String { pattern_source, format, .. } = n {
                let source = match (pattern_source, format) {
                    (Some(p), _) => Some(p.clone()),
                    (None, Some(f)) => Some(format!("^(?:{})$", format::body_regex(*f))),
                    _ => None,
                };
                // A pattern that does not compile was already rejected at parse time.
                if let Some(re) = source.and_then(|s| regex::Regex::new(&s).ok()) {
                    regexes.insert(id, re);
                }
            }
        }
        Validator { nodes, root, regexes }
    }

    /// `Err(reason)` names the first violation found.
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        self.check(self.root, v, "#")
    }

    fn check(&self, id: NodeId, v: &Value, path: &str) -> Result<(), String> {
        let fail = |what: String| Err(format!("{path}: {what}"));
        match &self.nodes[id] {
            Node::Object { properties, .. } => {
                let Value::Object(map) = v else { return fail("expected an object".into()) };
                for p in properties {
                    match map.get(&p.name) {
                        Some(x) => self.check(p.node, x, &format!("{path}/{}", p.name))?,
                        None if p.required => return fail(format!("missing required {:?}", p.name)),
                        None => {}
                    }
                }
                if let Some(k) = map.keys().find(|k| !properties.iter().any(|p| &p.name == *k)) {
                    return fail(format!("undeclared property {k:?}"));
                }
                Ok(())
            }
            Node::Array { prefix, items, min_items, max_items, unique } => {
                let Value::Array(a) = v else { return fail("expected an array".into()) };
                let n = a.len() as u64;
                if n < *min_items || max_items.is_some_and(|m| n > m) {
                    return fail(format!("{n} items is outside the allowed count"));
                }
                if *unique && a.iter().enumerate().any(|(i, x)| a[..i].iter().any(|y| json_equal(x, y))) {
                    return fail("two items are equal (uniqueItems)".into());
                }
                for (i, x) in a.iter().enumerate() {
                    self.check(*prefix.get(i).unwrap_or(items), x, &format!("{path}/{i}"))?;
                }
                Ok(())
            }
            Node::String { min_length, max_length, .. } => {
                let Value::String(s) = v else { return fail("expected a string".into()) };
                let n = s.chars().count() as u64;
                if n < *min_length || max_length.is_some_and(|m| n > m) {
                    return fail(format!("length {n} is outside the allowed range"));
                }
                if let Some(re) = self.regexes.get(&id) {
                    if !re.is_match(s) {
                        return fail(format!("{s:?} does not match its pattern/format"));
                    }
                }
                Ok(())
            }
            Node::Integer { minimum, maximum, multiple_of } => match v.as_f64() {
                Some(x) if multiple_of.is_some_and(|m| x % m as f64 != 0.0) => fail(format!("{x} is not a multiple of {}", multiple_of.unwrap())),
                Some(x) if v.is_i64() || v.is_u64() || x.fract() == 0.0 => in_range(x, *minimum, *maximum, path),
                _ => fail("expected an integer".into()),
            },
            Node::Number { minimum, maximum } => match v.as_f64() {
                Some(x) => in_range(x, *minimum, *maximum, path),
                None => fail("expected a number".into()),
            },
            Node::Boolean if v.is_boolean() => Ok(()),
            Node::Null if v.is_null() => Ok(()),
            Node::Boolean | Node::Null => fail("wrong type".into()),
            Node::Enum(values) => {
                if values.iter().any(|e| json_equal(e, v)) {
                    Ok(())
                } else {
                    fail(format!("{v} is not one of the allowed values"))
                }
            }
            Node::AnyOf { branches, one_of } => {
                let n = branches.iter().filter(|b| self.check(**b, v, path).is_ok()).count();
                match (n, one_of) {
                    (0, _) => fail("matches no branch".into()),
                    (1, _) | (_, false) => Ok(()),
                    _ => fail("matches several oneOf branches".into()),
                }
            }
        }
    }
}

fn in_range(x: f64, min: Option<Bound>, max: Option<Bound>, path: &str) -> Result<(), String> {
    let lo_ok = min.is_none_or(|b| if b.exclusive { x > b.value } else { x >= b.value });
    let hi_ok = max.is_none_or(|b| if b.exclusive { x < b.value } else { x <= b.value });
    if lo_ok && hi_ok {
        Ok(())
    } else {
        Err(format!("{path}: {x} is outside the allowed range"))
    }
}

/// JSON equality as JSON Schema defines it (1 == 1.0).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `v` is valid for node `id` (used while parsing, to prove oneOf branches disjoint).
pub fn matches(nodes: &[Node], id: NodeId, v: &Value) -> bool {
    Validator::from_nodes(nodes.to_vec(), id).validate(v).is_ok()
}
