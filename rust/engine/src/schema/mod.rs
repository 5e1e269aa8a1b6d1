//! JSON Schema → a small typed tree (`SchemaIr`, in `ir`) that the regex builder, the bounds
//! tracker, the output validator and the prompt all read. Parsing is where unsupported
//! keywords are rejected, so nothing is silently ignored later: `normalize` rewrites what can
//! be enforced into the few keywords `parse` reads.

mod disjoint;
pub mod finite;
pub mod format;
mod ir;
pub mod layout;
mod normalize;
mod parse;
mod pattern;
mod refs;
pub mod regex;
pub mod render;
pub mod size;
pub mod validate;

use serde_json::Value;

use crate::error::Result;

pub use ir::{Bound, Format, Node, NodeId, Property, SchemaIr, DEFAULT_MAX_STRING_LENGTH};

/// Parses and validates a JSON Schema (strings without `maxLength` get the default bound).
pub fn parse_schema(schema: &Value) -> Result<SchemaIr> {
    parse_schema_with(schema, DEFAULT_MAX_STRING_LENGTH)
}

/// Parses a JSON Schema: draft 2020-12 keywords are first reduced to the enforced ones
/// (`normalize`); strings without `maxLength` or `format` get `max_string_length`.
pub fn parse_schema_with(schema: &Value, max_string_length: u64) -> Result<SchemaIr> {
    let normalized = normalize::normalize(schema, max_string_length)?;
    let mut ir = parse::parse_normalized(&normalized)?;
    ir.source = schema.clone();
    Ok(ir)
}
