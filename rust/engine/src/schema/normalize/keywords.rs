//! The keywords normalization knows, by the type they constrain, and the small helpers over
//! schema objects the steps share.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

pub(super) type Obj = Map<String, Value>;

/// `$ref`s inlined into one another (to merge them with siblings) before it counts as recursion.
pub(super) const MAX_REF_DEPTH: usize = 16;
/// Branches a distributed `anyOf`/`oneOf` may grow to.
pub(super) const MAX_BRANCHES: usize = 64;
/// The any-value schema's own bounds (`{}`, `true`, untyped): depth two, short strings.
pub(super) const ANY_STRING_LENGTH: u64 = 32;
pub(super) const ANY_ARRAY_ITEMS: u64 = 4;
/// `multipleOf` is enforced by listing the multiples, over ranges with at most this many.
pub(super) const MAX_MULTIPLES: f64 = 256.0;



pub(super) const TYPES: &[&str] = &["null", "boolean", "object", "array", "string", "number"];
pub(super) const OBJECT_KEYWORDS: &[&str] = &["properties", "required", "additionalProperties"];
pub(super) const ARRAY_KEYWORDS: &[&str] = &["items", "prefixItems", "minItems", "maxItems", "uniqueItems"];
pub(super) const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];
pub(super) const NUMBER_KEYWORDS: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
/// What `materialize` hands the parser: the keywords it enforces.
pub(super) const KNOWN: &[&str] = &[
    "type", "properties", "required", "additionalProperties", "enum", "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
];
/// Keywords folded by `rewrite`, per the type they constrain.
pub(super) const OBJECT_ONLY: &[&str] = &["properties", "dependentSchemas", "dependentRequired", "patternProperties", "propertyNames",
    "unevaluatedProperties", "minProperties", "maxProperties", "required"];
pub(super) const ARRAY_ONLY: &[&str] = &["prefixItems", "items", "unevaluatedItems", "contains", "minContains", "maxContains"];
pub(super) const NUMBER_ONLY: &[&str] = &["multipleOf"];
pub(super) const FOLDED: &[&str] = &["not", "dependentSchemas", "dependentRequired", "patternProperties", "propertyNames",
    "unevaluatedProperties", "minProperties", "maxProperties", "unevaluatedItems", "contains", "minContains", "maxContains"];
/// Annotations of draft 2020-12 that never constrain a value: dropped.
pub(super) const DROPPED_ANNOTATIONS: &[&str] =
    &["$comment", "$anchor", "$vocabulary", "contentMediaType", "contentEncoding", "contentSchema"];

pub(super) fn allows(o: &Obj, kind: &str) -> bool {
    o.get("type").map_or(true, |t| types(t).iter().any(|x| *x == kind || (kind == "number" && *x == "integer")))
}

pub(super) fn implied_types(o: &Obj) -> Vec<String> {
    let mut out = Vec::new();
    for (t, words) in [("object", OBJECT_KEYWORDS), ("array", ARRAY_KEYWORDS), ("string", STRING_KEYWORDS), ("number", NUMBER_KEYWORDS)] {
        if o.keys().any(|k| words.contains(&k.as_str())) {
            out.push(t.to_string());
        }
    }
    out
}

pub(super) fn keyword_of(k: &str, t: &str) -> bool {
    match t {
        "object" => OBJECT_KEYWORDS.contains(&k),
        "array" => ARRAY_KEYWORDS.contains(&k),
        "string" => STRING_KEYWORDS.contains(&k),
        "integer" | "number" => NUMBER_KEYWORDS.contains(&k),
        _ => false,
    }
}

/// Keywords that constrain values (as opposed to annotations and `$defs`).
pub(super) fn constrains(k: &str) -> bool {
    !matches!(
        k,
        "title" | "description" | "default" | "examples" | "$schema" | "$id" | "$comment" | "deprecated" | "readOnly" | "writeOnly" | "$defs" | "definitions" | "$anchor"
    ) && !DROPPED_ANNOTATIONS.contains(&k)
}

pub(super) fn types(t: &Value) -> Vec<&str> {
    match t {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn list<'v>(v: &'v Value, path: &str) -> Result<&'v Vec<Value>> {
    v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| unsupported(path, "invalid schema: must be a non-empty array"))
}

pub(super) fn contains_key_deep(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(o) => o.contains_key(key) || o.values().any(|x| contains_key_deep(x, key)),
        Value::Array(a) => a.iter().any(|x| contains_key_deep(x, key)),
        _ => false,
    }
}

/// Building a merge operand from an object's parts.
pub(super) trait With {
    fn with(self, key: &str, value: &Obj) -> Value;
    fn with_required(self, required: &[String]) -> Value;
}

impl With for Value {
    fn with(mut self, key: &str, value: &Obj) -> Value {
        if let Value::Object(o) = &mut self {
            o.insert(key.into(), Value::Object(value.clone()));
        }
        self
    }
    fn with_required(mut self, required: &[String]) -> Value {
        if let Value::Object(o) = &mut self {
            o.insert("required".into(), json!(required));
        }
        self
    }
}

pub(super) fn unsupported(path: &str, what: impl std::fmt::Display) -> Error {
    Error::UnsupportedSchema(format!("{path}: {what}"))
}
