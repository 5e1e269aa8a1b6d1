//! The longest answer a schema allows, in bytes of the layout the constraint writes.
//!
//! Every token the model writes adds at least one byte, so this is also a token cap that
//! a valid answer can never reach: a task whose schema bounds every string (`maxLength`,
//! a bounded `pattern` or `format`) and every array (`maxItems`) gets its
//! `max_new_tokens` from here unless it sets one, and no row is lost to the cap.

use super::layout::{to_json, ITEM_SEP, KEY_SEP};
use super::regex::{MAX_FRAC_DIGITS, MAX_INT_DIGITS};
use super::format;
use super::ir::{Node, NodeId, SchemaIr};

/// Bytes one character of a free string can take: up to 4 in UTF-8, 2 for the
/// two-character escapes the constraint allows (it never writes `\uXXXX`).
const MAX_CHAR_BYTES: usize = 4;

/// `None` when some array in the schema is unbounded (strings always have a bound: their
/// `maxLength`, a bounded `pattern`/`format`, or the engine's `max_string_length`).
pub fn max_output_bytes(ir: &SchemaIr) -> Option<usize> {
    node_max(ir, ir.root)
}

fn node_max(ir: &SchemaIr, id: NodeId) -> Option<usize> {
    match ir.node(id) {
        Node::Object { properties, .. } => {
            let mut total = 2usize; // {}
            for (i, p) in properties.iter().enumerate() {
                let key = to_json(&p.name.clone().into()).len() + KEY_SEP.len();
                let sep = if i > 0 { ITEM_SEP.len() } else { 0 };
                total = total.checked_add(sep + key)?.checked_add(node_max(ir, p.node)?)?;
            }
            Some(total)
        }
        Node::Array { prefix, items, max_items, .. } => {
            let n = usize::try_from((*max_items)?).ok()?;
            if n == 0 {
                return Some(2);
            }
            // [a, b, c]: n items, n - 1 separators, two brackets
            let mut total = (n - 1).checked_mul(ITEM_SEP.len())?.checked_add(2)?;
            for i in 0..n {
                total = total.checked_add(node_max(ir, *prefix.get(i).unwrap_or(items))?)?;
            }
            Some(total)
        }
        Node::String { max_length, pattern, format, .. } => {
            let by_length = max_length.and_then(|n| usize::try_from(n).ok()?.checked_mul(MAX_CHAR_BYTES));
            let by_regex = match (pattern, format) {
                (Some(p), _) => regex_max_len(p),
                (None, Some(f)) => regex_max_len(&format::body_regex(*f)),
                (None, None) => None,
            };
            let body = match (by_length, by_regex) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            body.checked_add(2) // quotes
        }
        Node::Integer { .. } => Some(1 + MAX_INT_DIGITS),
        Node::Number { .. } => Some(1 + MAX_INT_DIGITS + 1 + MAX_FRAC_DIGITS),
        Node::Boolean => Some("false".len()),
        Node::Null => Some("null".len()),
        Node::Enum(values) => values.iter().map(|v| to_json(v).len()).max(),
        Node::AnyOf { branches, .. } => branches.iter().map(|b| node_max(ir, *b)).collect::<Option<Vec<_>>>()?.into_iter().max(),
    }
}

/// Longest match of a string-body regex, in bytes (`None` if unbounded).
fn regex_max_len(body: &str) -> Option<usize> {
    regex_syntax::Parser::new().parse(body).ok()?.properties().maximum_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn max(schema: serde_json::Value) -> Option<usize> {
        max_output_bytes(&parse_schema(&schema).unwrap())
    }

    #[test]
    fn enums_and_scalars_are_exact() {
        // {"a": "yes", "b": false}
        let s = json!({"type": "object", "properties": {"a": {"enum": ["no", "yes"]}, "b": {"type": "boolean"}}, "required": ["a", "b"]});
        assert_eq!(max(s), Some(r#"{"a": "yes", "b": false}"#.len()));
    }

    #[test]
    fn strings_count_four_bytes_a_character() {
        let s = json!({"type": "object", "properties": {"t": {"type": "string", "maxLength": 10}}, "required": ["t"]});
        assert_eq!(max(s), Some(r#"{"t": ""}"#.len() + 40));
    }

    #[test]
    fn arrays_need_max_items() {
        let item = json!({"type": "string", "enum": ["x"]});
        let bounded = json!({"type": "object", "properties": {"l": {"type": "array", "items": item, "maxItems": 3}}, "required": ["l"]});
        assert_eq!(max(bounded), Some(r#"{"l": ["x", "x", "x"]}"#.len()));
        let unbounded = json!({"type": "object", "properties": {"l": {"type": "array", "items": item}}, "required": ["l"]});
        assert_eq!(max(unbounded), None);
    }

    #[test]
    fn formats_and_patterns_bound_strings() {
        let s = json!({"type": "object", "properties": {"d": {"type": "string", "format": "date"}, "p": {"type": "string", "pattern": "^[a-z]{2,5}$"}}, "required": ["d", "p"]});
        assert_eq!(max(s), Some(r#"{"d": "2024-01-01", "p": "abcde"}"#.len()));
        // A free string gets the engine's bound, so it is bounded too.
        let free = json!({"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]});
        let bound = crate::schema::DEFAULT_MAX_STRING_LENGTH as usize;
        assert_eq!(max(free), Some(r#"{"s": ""}"#.len() + 4 * bound));
    }
}
