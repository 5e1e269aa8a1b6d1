//! Parsing a JSON Schema document into `SchemaIr`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::automaton::{Automaton, Budget};
use super::ir::{alternatives, child_path, Bound, Format, Node, NodeId, Property, SchemaIr, UNSUPPORTED};
use super::{disjoint, pattern};
use crate::error::{Error, Result};

/// Keywords that only annotate: safe to accept because they never constrain values.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$defs",
    "definitions",
];

/// Keywords this engine enforces (by regex, by the bounds tracker, or both).
const ENFORCED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "$ref",
    "anyOf",
    "oneOf",
];

/// Parses a schema that uses only the enforced keywords (the output of `normalize`).
pub(crate) fn parse_normalized(schema: &Value) -> Result<SchemaIr> {
    let mut p = Parser {
        root: schema,
        nodes: Vec::new(),
        refs: HashMap::new(),
        ref_stack: Vec::new(),
    };
    let root = p.parse(schema, "#")?;
    Ok(SchemaIr {
        nodes: p.nodes,
        root,
        source: schema.clone(),
    })
}

struct Parser<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    /// `$ref` target → node, so a definition used twice is parsed once.
    refs: HashMap<String, NodeId>,
    /// Refs being parsed: a ref reached again while on this stack is recursive.
    ref_stack: Vec<String>,
}

/// A `pattern`, `enum` or `const` whose automaton alone is over the compile budget is refused
/// here, where its path is known, before the whole schema's automaton is built.
fn within_budget(regex: &str, what: &str) -> Result<()> {
    let budget = Budget::current();
    Automaton::build(regex, &budget, &budget.deadline()).map(drop).map_err(|e| e.at(what))
}

fn unsupported(path: &str, what: impl std::fmt::Display) -> Error {
    Error::UnsupportedSchema(format!("{path}: {what}"))
}

fn bad(path: &str, what: impl std::fmt::Display) -> Error {
    Error::UnsupportedSchema(format!("{path}: invalid schema: {what}"))
}

impl<'a> Parser<'a> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn parse(&mut self, schema: &'a Value, path: &str) -> Result<NodeId> {
        let obj = match schema {
            Value::Object(o) => o,
            Value::Bool(true) => {
                return Err(unsupported(
                    path,
                    "`true` (any value) cannot be generated; give the value a type",
                ))
            }
            _ => return Err(bad(path, "a schema must be an object")),
        };
        if let Some(Value::String(why)) = obj.get(UNSUPPORTED) {
            return Err(Error::UnsupportedSchema(why.strip_prefix("unsupported schema: ").unwrap_or(why).to_string()));
        }
        for key in obj.keys() {
            if !ENFORCED.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
                return Err(unsupported(
                    path,
                    format_args!("keyword `{key}` is not supported (it would not be enforced)"),
                ));
            }
        }
        if let Some(r) = obj.get("$ref") {
            if obj.keys().any(|k| ENFORCED.contains(&k.as_str()) && k != "$ref") {
                return Err(unsupported(
                    path,
                    "`$ref` next to other constraining keywords is not supported",
                ));
            }
            return self.parse_ref(r, path);
        }
        if let Some(node) = self.parse_literals(obj, path)? {
            return Ok(node);
        }
        if let Some(node) = self.parse_branches(obj, path)? {
            return Ok(node);
        }
        match obj.get("type") {
            Some(Value::String(t)) => self.parse_typed(obj, t, path),
            Some(Value::Array(types)) => {
                let mut branches = Vec::new();
                for t in types {
                    let t = t
                        .as_str()
                        .ok_or_else(|| bad(path, "`type` entries must be strings"))?;
                    branches.push(self.parse_typed(obj, t, path)?);
                }
                if branches.is_empty() {
                    return Err(bad(path, "`type` must not be an empty list"));
                }
                disjoint::check_one_of(&self.nodes, &branches, path)?;
                Ok(if branches.len() == 1 {
                    branches[0]
                } else {
                    self.push(Node::AnyOf { branches, one_of: false })
                })
            }
            Some(_) => Err(bad(path, "`type` must be a string or a list of strings")),
            None if obj.contains_key("properties") => self.parse_typed(obj, "object", path),
            None => Err(unsupported(
                path,
                "a schema without `type`, `enum`, `const`, `$ref`, `anyOf` or `oneOf` allows any value, which cannot be generated",
            )),
        }
    }

    /// `const` or `enum`: the node of their values (each value checked against `type`, their
    /// regex within the compile budget).
    fn parse_literals(&mut self, obj: &'a Map<String, Value>, path: &str) -> Result<Option<NodeId>> {
        if let Some(c) = obj.get("const") {
            self.only_with(obj, path, "const", &["type"])?;
            within_budget(&super::regex::enum_regex(std::slice::from_ref(c)), &format!("{}: the `const` value", child_path(path, "const")))?;
            return Ok(Some(self.push(Node::Enum(vec![c.clone()]))));
        }
        if let Some(e) = obj.get("enum") {
            self.only_with(obj, path, "enum", &["type"])?;
            let values = e
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(path, "`enum` must be a non-empty array"))?;
            if let Some(t) = obj.get("type") {
                for v in values {
                    if !value_has_type(v, t) {
                        return Err(bad(path, format_args!("enum value {v} does not match `type` {t}")));
                    }
                }
            }
            within_budget(&super::regex::enum_regex(values), &format!("{}: the `enum`", child_path(path, "enum")))?;
            return Ok(Some(self.push(Node::Enum(values.clone()))));
        }
        Ok(None)
    }

    /// `anyOf` or `oneOf` (its branches proved disjoint): the node of their branches.
    fn parse_branches(&mut self, obj: &'a Map<String, Value>, path: &str) -> Result<Option<NodeId>> {
        for (key, one_of) in [("anyOf", false), ("oneOf", true)] {
            if let Some(list) = obj.get(key) {
                self.only_with(obj, path, key, &[])?;
                let list = list
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad(path, format_args!("`{key}` must be a non-empty array")))?;
                let mut branches = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    branches.push(self.parse(s, &child_path(&child_path(path, key), &i.to_string()))?);
                }
                if one_of {
                    disjoint::check_one_of(&self.nodes, &branches, path)?;
                }
                return Ok(Some(self.push(Node::AnyOf { branches, one_of })));
            }
        }
        Ok(None)
    }

    /// `const`/`enum`/`anyOf` fix the value set: other constraining keywords next to
    /// them would have to be intersected, which this engine does not do.
    fn only_with(&self, obj: &Map<String, Value>, path: &str, key: &str, allowed: &[&str]) -> Result<()> {
        for k in obj.keys() {
            if k != key && ENFORCED.contains(&k.as_str()) && !allowed.contains(&k.as_str()) {
                return Err(unsupported(
                    path,
                    format_args!("`{k}` next to `{key}` is not supported (move it into the branches)"),
                ));
            }
        }
        Ok(())
    }

    fn parse_ref(&mut self, r: &Value, path: &str) -> Result<NodeId> {
        let (target, resolved) = super::refs::resolve(self.root, r, path)?;
        if let Some(&id) = self.refs.get(target) {
            return Ok(id);
        }
        if self.ref_stack.iter().any(|t| t == target) {
            return Err(unsupported(
                path,
                format_args!("recursive `$ref` {target} cannot be expressed as a regular language"),
            ));
        }
        self.ref_stack.push(target.to_string());
        let id = self.parse(resolved, target);
        self.ref_stack.pop();
        let id = id?;
        self.refs.insert(target.to_string(), id);
        Ok(id)
    }

    fn parse_typed(&mut self, obj: &'a Map<String, Value>, t: &str, path: &str) -> Result<NodeId> {
        let allowed: &[&str] = match t {
            "object" => &["properties", "required", "additionalProperties"],
            "array" => &["items", "prefixItems", "minItems", "maxItems", "uniqueItems"],
            "string" => &["minLength", "maxLength", "pattern", "format"],
            "integer" => &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
            "number" => &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"],
            "boolean" | "null" => &[],
            other => return Err(bad(path, format_args!("unknown type {other:?}"))),
        };
        // With a type list, keywords of the other listed types are fine.
        let listed: Vec<&str> = match obj.get("type") {
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![t],
        };
        for k in obj.keys() {
            if k == "type" || !ENFORCED.contains(&k.as_str()) || allowed.contains(&k.as_str()) {
                continue;
            }
            if listed.iter().any(|lt| *lt != t && keyword_belongs(k, lt)) {
                continue;
            }
            return Err(unsupported(path, format_args!("`{k}` does not apply to type {t}")));
        }
        match t {
            "object" => self.parse_object(obj, path),
            "array" => self.parse_array(obj, path),
            "string" => self.parse_string(obj, path),
            "integer" | "number" => {
                let minimum = bound(obj, "minimum", "exclusiveMinimum", path, true)?;
                let maximum = bound(obj, "maximum", "exclusiveMaximum", path, false)?;
                check_range(minimum, maximum, t == "integer", path)?;
                Ok(self.push(if t == "integer" {
                    let multiple_of = match obj.get("multipleOf") {
                        None => None,
                        Some(m) => Some(
                            m.as_f64()
                                .filter(|m| *m >= 1.0 && m.fract() == 0.0 && *m < 1e15)
                                .map(|m| m as u64)
                                .ok_or_else(|| unsupported(path, "keyword `multipleOf` on an integer is supported for whole numbers from 1"))?,
                        ),
                    };
                    Node::Integer { minimum, maximum, multiple_of }
                } else {
                    Node::Number { minimum, maximum }
                }))
            }
            "boolean" => Ok(self.push(Node::Boolean)),
            _ => Ok(self.push(Node::Null)),
        }
    }

    fn parse_object(&mut self, obj: &'a Map<String, Value>, path: &str) -> Result<NodeId> {
        let props: Vec<(&'a String, &'a Value)> = match obj.get("properties") {
            Some(Value::Object(p)) => p.iter().collect(),
            Some(_) => return Err(bad(path, "`properties` must be an object")),
            None => Vec::new(),
        };
        let required: Vec<&str> = match obj.get("required") {
            Some(Value::Array(r)) => r
                .iter()
                .map(|v| v.as_str().ok_or_else(|| bad(path, "`required` entries must be strings")))
                .collect::<Result<_>>()?,
            Some(_) => return Err(bad(path, "`required` must be an array")),
            None => Vec::new(),
        };
        for r in &required {
            if !props.iter().any(|(k, _)| k.as_str() == *r) {
                return Err(unsupported(
                    path,
                    format_args!("required property {r:?} has no schema in `properties`"),
                ));
            }
        }
        match obj.get("additionalProperties") {
            None | Some(Value::Bool(_)) | Some(Value::Object(_)) => {}
            Some(_) => return Err(bad(path, "`additionalProperties` must be a boolean or a schema")),
        }
        let mut properties = Vec::new();
        let props_path = child_path(path, "properties");
        for (name, s) in props {
            let node = self.parse(s, &child_path(&props_path, name))?;
            properties.push(Property {
                name: name.clone(),
                node,
                required: required.contains(&name.as_str()),
                description: s.get("description").and_then(Value::as_str).map(str::to_string),
            });
        }
        // Only declared properties are ever generated, which every value of
        // `additionalProperties` allows, so it needs no further handling.
        let additional = !matches!(obj.get("additionalProperties"), Some(Value::Bool(false)));
        Ok(self.push(Node::Object { properties, additional }))
    }

    fn parse_array(&mut self, obj: &'a Map<String, Value>, path: &str) -> Result<NodeId> {
        let items_schema = obj.get("items").ok_or_else(|| {
            unsupported(path, "an array needs `items` (a schema for its elements)")
        })?;
        if items_schema.is_array() {
            return Err(unsupported(path, "tuple-form `items` (a list of schemas) is not supported"));
        }
        let items = self.parse(items_schema, &child_path(path, "items"))?;
        let mut prefix = Vec::new();
        if let Some(list) = obj.get("prefixItems") {
            let list = list.as_array().ok_or_else(|| bad(path, "`prefixItems` must be an array"))?;
            for (i, s) in list.iter().enumerate() {
                prefix.push(self.parse(s, &child_path(&child_path(path, "prefixItems"), &i.to_string()))?);
            }
        }
        let min_items = count(obj, "minItems", path)?.unwrap_or(0);
        let max_items = count(obj, "maxItems", path)?;
        if max_items.is_some_and(|m| m < min_items) {
            return Err(bad(path, "minItems is larger than maxItems"));
        }
        let unique = match obj.get("uniqueItems") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(bad(path, "`uniqueItems` must be a boolean")),
        };
        if unique && prefix.is_empty() {
            // Items from a finite set of literals: no more distinct ones than the set holds.
            let mut alts = Vec::new();
            alternatives(&self.nodes, items, &mut alts);
            if let Some(values) = super::finite::literal_values_of(&self.nodes, &alts) {
                if (values.len() as u64) < min_items {
                    return Err(unsupported(path, format_args!("keyword `uniqueItems`: minItems {min_items} needs more distinct items than the {} values the items allow", values.len())));
                }
            }
        }
        Ok(self.push(Node::Array { prefix, items, min_items, max_items, unique }))
    }

    fn parse_string(&mut self, obj: &'a Map<String, Value>, path: &str) -> Result<NodeId> {
        let min_length = count(obj, "minLength", path)?.unwrap_or(0);
        let max_length = count(obj, "maxLength", path)?;
        if max_length.is_some_and(|m| m < min_length) {
            return Err(bad(path, "minLength is larger than maxLength"));
        }
        let format = match obj.get("format") {
            None => None,
            Some(Value::String(f)) => Some(match f.as_str() {
                "date" => Format::Date,
                "date-time" => Format::DateTime,
                "uuid" => Format::Uuid,
                "email" => Format::Email,
                other => {
                    return Err(unsupported(
                        path,
                        format_args!("keyword `format` {other:?} is not supported (date, date-time, uuid, email are)"),
                    ))
                }
            }),
            Some(_) => return Err(bad(path, "`format` must be a string")),
        };
        let (pattern, pattern_source) = match obj.get("pattern") {
            None => (None, None),
            Some(Value::String(p)) => {
                if format.is_some() {
                    return Err(unsupported(path, "`pattern` together with `format` is not supported"));
                }
                let body = pattern::body_regex(p, path)?;
                let at = child_path(path, "pattern");
                if max_length.is_some_and(|m| body.min_chars > m) {
                    return Err(unsupported(&at, format_args!(
                        "no string can match: the pattern's shortest match has {} characters, more than maxLength {} (the schema's own, or the task's max_string_length where the schema sets none)",
                        body.min_chars,
                        max_length.unwrap_or_default()
                    )));
                }
                within_budget(&format!("(?:{})", body.regex), &format!("{at}: the pattern"))?;
                (Some(body.regex), Some(p.clone()))
            }
            Some(_) => return Err(bad(path, "`pattern` must be a string")),
        };
        if format.is_some() && (min_length > 0 || max_length.is_some()) {
            return Err(unsupported(path, "length bounds together with `format` are not supported"));
        }
        Ok(self.push(Node::String {
            min_length,
            max_length,
            pattern,
            pattern_source,
            format,
        }))
    }
}

/// Whether `keyword` constrains values of JSON type `t` (for type lists).
fn keyword_belongs(keyword: &str, t: &str) -> bool {
    match t {
        "object" => ["properties", "required", "additionalProperties"].contains(&keyword),
        "array" => ["items", "prefixItems", "minItems", "maxItems", "uniqueItems"].contains(&keyword),
        "string" => ["minLength", "maxLength", "pattern", "format"].contains(&keyword),
        "integer" => ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].contains(&keyword),
        "number" => ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].contains(&keyword),
        _ => false,
    }
}

fn value_has_type(v: &Value, t: &Value) -> bool {
    let one = |t: &str| match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    };
    match t {
        Value::String(s) => one(s),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => false,
    }
}

fn count(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| bad(path, format_args!("`{key}` must be a non-negative integer"))),
    }
}

/// Reads `minimum`/`exclusiveMinimum` (or the maximum pair), keeping the tighter one.
fn bound(obj: &Map<String, Value>, inclusive: &str, exclusive: &str, path: &str, lower: bool) -> Result<Option<Bound>> {
    let num = |k: &str| -> Result<Option<f64>> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| bad(path, format_args!("`{k}` must be a number (draft 2020-12 form)"))),
        }
    };
    let inc = num(inclusive)?.map(|value| Bound { value, exclusive: false });
    let exc = num(exclusive)?.map(|value| Bound { value, exclusive: true });
    Ok(match (inc, exc) {
        (Some(a), Some(b)) => {
            let b_tighter = if lower { b.value >= a.value } else { b.value <= a.value };
            Some(if b_tighter { b } else { a })
        }
        (a, b) => a.or(b),
    })
}

/// A range with no value in it would make generation impossible: reject it up front.
fn check_range(min: Option<Bound>, max: Option<Bound>, integer: bool, path: &str) -> Result<()> {
    let (Some(lo), Some(hi)) = (min, max) else { return Ok(()) };
    let empty = if integer {
        let lo_i = if lo.exclusive { lo.value.floor() + 1.0 } else { lo.value.ceil() };
        let hi_i = if hi.exclusive { hi.value.ceil() - 1.0 } else { hi.value.floor() };
        lo_i > hi_i
    } else if lo.exclusive || hi.exclusive {
        lo.value >= hi.value
    } else {
        lo.value > hi.value
    };
    if empty {
        return Err(bad(path, "the numeric bounds leave no value"));
    }
    Ok(())
}
