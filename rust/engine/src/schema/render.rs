//! Examples in the constraint's layout (keys in schema order), and the schema in
//! words for the prompt (the constraint alone does not tell the model what fields mean).

use serde_json::{Map, Value};

use super::layout::to_json;
use super::ir::{Node, NodeId, SchemaIr};

/// Reorders object keys into schema order, so examples look exactly like what the
/// constraint will make the model write.
pub fn canonical(ir: &SchemaIr, id: NodeId, v: &Value) -> Value {
    match (ir.node(id), v) {
        (Node::Object { properties, .. }, Value::Object(m)) => {
            let mut out = Map::new();
            for p in properties {
                if let Some(x) = m.get(&p.name) {
                    out.insert(p.name.clone(), canonical(ir, p.node, x));
                }
            }
            for (k, x) in m {
                if !out.contains_key(k) {
                    out.insert(k.clone(), x.clone());
                }
            }
            Value::Object(out)
        }
        (Node::Array { prefix, items, .. }, Value::Array(a)) => {
            Value::Array(a.iter().enumerate().map(|(i, x)| canonical(ir, *prefix.get(i).unwrap_or(items), x)).collect())
        }
        (Node::AnyOf { branches, .. }, _) => {
            let mut alts = Vec::new();
            for b in branches {
                ir.alternatives(*b, &mut alts);
            }
            let pick = alts.iter().find(|b| {
                matches!((ir.node(**b), v), (Node::Object { .. }, Value::Object(_)) | (Node::Array { .. }, Value::Array(_)))
            });
            match pick {
                Some(b) => canonical(ir, *b, v),
                None => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

/// A short field list for the system prompt, e.g.
/// `- severity: one of "P1", "P2", "P3"`.
pub fn describe(ir: &SchemaIr) -> String {
    match ir.node(ir.root) {
        Node::Object { properties, .. } => properties
            .iter()
            .map(|p| {
                let mut line = format!("- {}: {}", p.name, phrase(ir, p.node, 0));
                if !p.required {
                    line.push_str(" (optional)");
                }
                if let Some(d) = &p.description {
                    line.push_str(" — ");
                    line.push_str(d);
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => format!("- {}", phrase(ir, ir.root, 0)),
    }
}

fn phrase(ir: &SchemaIr, id: NodeId, depth: usize) -> String {
    match ir.node(id) {
        Node::Object { properties, .. } => {
            if depth > 1 {
                return "object".into();
            }
            let fields: Vec<String> =
                properties.iter().map(|p| format!("{}: {}", p.name, phrase(ir, p.node, depth + 1))).collect();
            format!("object {{{}}}", fields.join(", "))
        }
        Node::Array { prefix, .. } if !prefix.is_empty() => {
            let parts: Vec<String> = prefix.iter().map(|p| phrase(ir, *p, depth + 1)).collect();
            format!("list [{}, …]", parts.join(", "))
        }
        Node::Array { items, max_items, .. } => match max_items {
            Some(m) => format!("list of at most {m} × {}", phrase(ir, *items, depth + 1)),
            None => format!("list of {}", phrase(ir, *items, depth + 1)),
        },
        Node::String { max_length, format, pattern_source, .. } => {
            if let Some(f) = format {
                return format!("{f:?} string").to_lowercase();
            }
            if let Some(p) = pattern_source {
                return format!("string matching {p}");
            }
            match max_length {
                Some(m) => format!("text, at most {m} characters"),
                None => "text".into(),
            }
        }
        Node::Integer { multiple_of: Some(m), .. } => format!("integer, a multiple of {m}"),
        Node::Integer { .. } => "integer".into(),
        Node::Number { .. } => "number".into(),
        Node::Boolean => "true or false".into(),
        Node::Null => "null".into(),
        Node::Enum(values) => {
            let vals: Vec<String> = values.iter().map(to_json).collect();
            if vals.len() == 1 {
                format!("always {}", vals[0])
            } else {
                format!("one of {}", vals.join(", "))
            }
        }
        Node::AnyOf { branches, .. } => {
            let alts: Vec<String> = branches.iter().map(|b| phrase(ir, *b, depth + 1)).collect();
            alts.join(" or ")
        }
    }
}
