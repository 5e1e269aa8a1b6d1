//! `SchemaIr` → one regular expression over the JSON text the model writes.
//!
//! Layout is fixed (`{"a": 1, "b": [1, 2]}`: one space after `:` and `,`, none
//! elsewhere) so that punctuation and keys are forced text for jump-forward. Length,
//! item-count and numeric bounds are NOT in the regex: repetition bounds multiply DFA
//! states (maxLength 200 → ~2,100 states, 1.4 s and 118 MB of Index), so the bounds
//! tracker (`constraint::bounds`) enforces them while decoding instead.

use super::layout::{to_json, ITEM_SEP, KEY_SEP};
use super::format;
use super::ir::{Bound, Node, NodeId, SchemaIr};

/// Body of a free JSON string: no raw quote, backslash or control character; the
/// common two-character escapes. (`\uXXXX` is left out: the model never needs it.)
pub const STRING_CHAR: &str = r#"(?:[^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt])"#;

/// Integer and fraction digits are capped so a runaway number ends (and so the
/// numeric bounds check can reason about which values a prefix can still reach).
pub const MAX_INT_DIGITS: usize = 15;
pub const MAX_FRAC_DIGITS: usize = 15;

pub fn schema_regex(ir: &SchemaIr) -> String {
    node_regex(ir, ir.root)
}

fn esc(s: &str) -> String {
    regex_syntax::escape(s)
}

fn node_regex(ir: &SchemaIr, id: NodeId) -> String {
    match ir.node(id) {
        Node::Object { properties, .. } => {
            let kv: Vec<String> = properties
                .iter()
                .map(|p| format!("{}{}{}", esc(&to_json(&p.name.clone().into())), esc(KEY_SEP), node_regex(ir, p.node)))
                .collect();
            let req: Vec<bool> = properties.iter().map(|p| p.required).collect();
            format!(r"\{{{}\}}", props_regex(&kv, &req, 0, true))
        }
        Node::Array { prefix, items, min_items, max_items, .. } => {
            if *max_items == Some(0) {
                return r"\[\]".to_string();
            }
            let item = node_regex(ir, *items);
            let list = if prefix.is_empty() {
                format!("{item}(?:{}{item})*", esc(ITEM_SEP))
            } else {
                tuple_regex(ir, prefix, &item, *max_items)
            };
            if *min_items == 0 {
                format!(r"\[(?:{list})?\]")
            } else {
                format!(r"\[{list}\]")
            }
        }
        Node::String { pattern, format, .. } => {
            let body = match (pattern, format) {
                (Some(p), _) => format!("(?:{p})"),
                (None, Some(f)) => format!("(?:{})", format::body_regex(*f)),
                (None, None) => format!("{STRING_CHAR}*"),
            };
            format!("\"{body}\"")
        }
        Node::Integer { minimum, .. } => format!("{}(?:0|[1-9][0-9]{{0,{}}})", sign(*minimum), MAX_INT_DIGITS - 1),
        Node::Number { minimum, .. } => format!(
            r"{}(?:0|[1-9][0-9]{{0,{}}})(?:\.[0-9]{{1,{}}})?",
            sign(*minimum),
            MAX_INT_DIGITS - 1,
            MAX_FRAC_DIGITS
        ),
        Node::Boolean => "(?:true|false)".to_string(),
        Node::Null => "null".to_string(),
        Node::Enum(values) => enum_regex(values),
        Node::AnyOf { branches, .. } => {
            let alts: Vec<String> = branches.iter().map(|b| node_regex(ir, *b)).collect();
            format!("(?:{})", alts.join("|"))
        }
    }
}

/// One of the values, written as the layout writes them.
pub fn enum_regex(values: &[serde_json::Value]) -> String {
    let alts: Vec<String> = values.iter().map(|v| esc(&to_json(v))).collect();
    format!("(?:{})", alts.join("|"))
}

/// `p0(?:, p1(?:, p2(?:, item)*)?)?`: each position its own schema, counts left to the
/// bounds tracker; the trailing items only where `maxItems` leaves room for them.
fn tuple_regex(ir: &SchemaIr, prefix: &[NodeId], item: &str, max_items: Option<u64>) -> String {
    let sep = esc(ITEM_SEP);
    let mut tail = if max_items.map_or(true, |m| m > prefix.len() as u64) { format!("(?:{sep}{item})*") } else { String::new() };
    for p in prefix[1..].iter().rev() {
        tail = format!("(?:{sep}{}{tail})?", node_regex(ir, *p));
    }
    format!("{}{tail}", node_regex(ir, prefix[0]))
}

/// A minus sign only where negative values are possible: a forbidden `-` would
/// otherwise be a path the bounds tracker has to reject token by token.
fn sign(minimum: Option<Bound>) -> &'static str {
    match minimum {
        Some(b) if b.value >= 0.0 => "",
        _ => "-?",
    }
}

/// Properties `i..` in schema order; `first` = nothing written yet (so no separator).
/// Once something is written every later property is `(, kv)?` or `, kv`, which keeps
/// the regex quadratic rather than exponential in the number of optional properties.
fn props_regex(kv: &[String], required: &[bool], i: usize, first: bool) -> String {
    if i == kv.len() {
        return String::new();
    }
    let sep = esc(ITEM_SEP);
    if !first {
        return kv[i..]
            .iter()
            .zip(&required[i..])
            .map(|(kv, req)| if *req { format!("{sep}{kv}") } else { format!("(?:{sep}{kv})?") })
            .collect();
    }
    let with = format!("{}{}", kv[i], props_regex(kv, required, i + 1, false));
    if required[i] {
        with
    } else {
        format!("(?:{with}|{})", props_regex(kv, required, i + 1, true))
    }
}
