//! Every value a schema node allows, when they are few (enums, booleans, small integer
//! ranges, short lists and objects of those): what `uniqueItems` compares an item against
//! while it is written, and what the parser checks `oneOf` branches with.

use serde_json::Value;

use super::ir::{alternatives, Node, NodeId, Property, SchemaIr};
use super::layout::to_json;
use super::validate::json_equal;

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
            finite_lists(nodes, *items, *min_items, *max, *unique)?
        }
        Node::Integer { minimum: Some(lo), maximum: Some(hi), multiple_of } => {
            let first = if lo.exclusive { lo.value.floor() as i64 + 1 } else { lo.value.ceil() as i64 };
            let last = if hi.exclusive { hi.value.ceil() as i64 - 1 } else { hi.value.floor() as i64 };
            if last.checked_sub(first)? >= MAX_FINITE as i64 {
                return None;
            }
            (first..=last).filter(|v| multiple_of.is_none_or(|m| v % m as i64 == 0)).map(Value::from).collect()
        }
        Node::Object { properties, .. } => finite_objects(nodes, properties)?,
        Node::AnyOf { .. } => {
            let mut alts = Vec::new();
            alternatives(nodes, id, &mut alts);
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

/// Every list of `min..=max` items of `items`' finite values (distinct ones when `unique`).
fn finite_lists(nodes: &[Node], items: NodeId, min_items: u64, max: u64, unique: bool) -> Option<Vec<Value>> {
    let mut alts = Vec::new();
    alternatives(nodes, items, &mut alts);
    let mut options = Vec::new();
    for a in alts {
        options.extend(finite(nodes, a)?);
    }
    // Every list of min..=max items (distinct ones where the array says so).
    let mut lists: Vec<Vec<Value>> = vec![Vec::new()];
    let mut out = Vec::new();
    for len in 0..=max {
        if len >= min_items {
            out.extend(lists.iter().cloned().map(Value::Array));
        }
        if len == max {
            break;
        }
        let mut next = Vec::new();
        for l in &lists {
            for o in &options {
                if unique && l.iter().any(|x| json_equal(x, o)) {
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
    Some(out)
}

/// Every object the properties' finite values make (an optional one present or left out).
fn finite_objects(nodes: &[Node], properties: &[Property]) -> Option<Vec<Value>> {
    let mut rows = vec![serde_json::Map::new()];
    for p in properties {
        let mut alts = Vec::new();
        alternatives(nodes, p.node, &mut alts);
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
    Some(rows.into_iter().map(Value::Object).collect())
}
