//! `oneOf` needs exactly one branch to match. A regex can only say "at least one", so
//! we accept `oneOf` (and type lists) only when the branches provably cannot both match
//! a value; otherwise loading fails and names the branches.

use super::ir::{Node, NodeId, Property};
use super::validate;
use crate::error::{Error, Result};

pub fn check_one_of(nodes: &[Node], branches: &[NodeId], path: &str) -> Result<()> {
    for i in 0..branches.len() {
        for j in i + 1..branches.len() {
            if !disjoint(nodes, branches[i], branches[j]) {
                return Err(Error::UnsupportedSchema(format!(
                    "{path}: keyword `oneOf` (or a `type` list): branches {i} and {j} may both match one value; \
                     use anyOf, or make them distinguishable (different types, different \
                     const/enum values, or a required property the other forbids)"
                )));
            }
        }
    }
    Ok(())
}

#[derive(PartialEq)]
enum Family {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

fn families(nodes: &[Node], id: NodeId) -> Vec<Family> {
    match &nodes[id] {
        Node::Object { .. } => vec![Family::Object],
        Node::Array { .. } => vec![Family::Array],
        Node::String { .. } => vec![Family::String],
        Node::Integer { .. } | Node::Number { .. } => vec![Family::Number],
        Node::Boolean => vec![Family::Bool],
        Node::Null => vec![Family::Null],
        Node::Enum(values) => values
            .iter()
            .map(|v| match v {
                serde_json::Value::Object(_) => Family::Object,
                serde_json::Value::Array(_) => Family::Array,
                serde_json::Value::String(_) => Family::String,
                serde_json::Value::Number(_) => Family::Number,
                serde_json::Value::Bool(_) => Family::Bool,
                serde_json::Value::Null => Family::Null,
            })
            .collect(),
        Node::AnyOf { branches, .. } => branches.iter().flat_map(|b| families(nodes, *b)).collect(),
    }
}

fn disjoint(nodes: &[Node], a: NodeId, b: NodeId) -> bool {
    if let Node::AnyOf { branches, .. } = &nodes[a] {
        return branches.iter().all(|x| disjoint(nodes, *x, b));
    }
    if let Node::AnyOf { branches, .. } = &nodes[b] {
        return branches.iter().all(|x| disjoint(nodes, a, *x));
    }
    let fa = families(nodes, a);
    let fb = families(nodes, b);
    if !fa.iter().any(|f| fb.contains(f)) {
        return true;
    }
    match (&nodes[a], &nodes[b]) {
        (Node::Enum(values), _) => !values.iter().any(|v| validate::matches(nodes, b, v)),
        (_, Node::Enum(values)) => !values.iter().any(|v| validate::matches(nodes, a, v)),
        (Node::Object { properties: pa, additional: xa }, Node::Object { properties: pb, additional: xb }) => {
            let excludes = |req: &[Property], other: &[Property], other_additional: bool| {
                !other_additional && req.iter().any(|p| p.required && !other.iter().any(|o| o.name == p.name))
            };
            if excludes(pa, pb, *xb) || excludes(pb, pa, *xa) {
                return true;
            }
            pa.iter().any(|p| {
                p.required
                    && pb
                        .iter()
                        .any(|q| q.required && q.name == p.name && disjoint(nodes, p.node, q.node))
            })
        }
        _ => false,
    }
}
