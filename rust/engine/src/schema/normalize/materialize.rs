//! The last step: untyped schemas get the type their keywords imply (or the any-value
//! schema), free strings the engine's length bound, `enum` beside other keywords the values
//! those allow.

use serde_json::{json, Value};

use super::keywords::*;
use crate::error::Result;
use crate::schema::ir::child_path;

/// Untyped schemas get the type their keywords imply (or the any-value schema), free strings
/// the engine's length bound, arrays without `items` any-value items; keywords of types the
/// schema does not allow are dropped (they never apply).
pub fn materialize(s: &Value, max_string_length: u64, path: &str) -> Result<Value> {
    let Value::Object(o) = s else { return Ok(any_value()) };
    let mut out = Obj::new();
    for (k, v) in o {
        let p = child_path(path, k);
        let v = match k.as_str() {
            "anyOf" | "oneOf" | "prefixItems" => Value::Array(
                v.as_array().into_iter().flatten().enumerate().map(|(i, b)| materialize(b, max_string_length, &child_path(&p, &i.to_string()))).collect::<Result<_>>()?,
            ),
            "properties" => Value::Object(
                v.as_object().into_iter().flatten().map(|(n, b)| Ok((n.clone(), materialize(b, max_string_length, &child_path(&p, n))?))).collect::<Result<_>>()?,
            ),
            "$defs" | "definitions" => Value::Object(
                v.as_object().into_iter().flatten().map(|(n, b)| (n.clone(), materialize(b, max_string_length, &p).unwrap_or_else(|_| b.clone()))).collect(),
            ),
            "items" => materialize(v, max_string_length, &p)?,
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    // Folded by `rewrite` into properties, required, prefixItems and item counts; kept until
    // now so that every merge re-applied them to what it added.
    for k in FOLDED {
        out.remove(*k);
    }
    if out.get("items") == Some(&Value::Bool(false)) {
        out.remove("items");
    }
    // References, unions, and anything the parser will refuse (an unknown keyword must
    // never be taken for an untyped schema) stay as they are.
    if ["$ref", "anyOf", "oneOf"].iter().any(|k| out.contains_key(*k)) || out.keys().any(|k| constrains(k) && !KNOWN.contains(&k.as_str())) {
        return Ok(Value::Object(out));
    }
    if let Some(Value::Array(values)) = out.get("enum").cloned() {
        return enum_within(out, values, path);
    }
    let listed = match out.get("type") {
        Some(t) => types(t).into_iter().map(str::to_string).collect::<Vec<_>>(),
        None => implied_types(&out),
    };
    if listed.is_empty() {
        let mut any = any_value();
        if let (Some(d), Value::Object(a)) = (out.get("description"), &mut any) {
            a.insert("description".into(), d.clone());
        }
        return Ok(any);
    }
    let keeps = |k: &str| listed.iter().any(|t| keyword_of(k, t)) || !constrains(k) || k == "type";
    out.retain(|k, _| keeps(k));
    // With both listed, integer values are numbers already (a type list must be disjoint).
    let listed: Vec<String> = if listed.iter().any(|t| t == "number") { listed.into_iter().filter(|t| t != "integer").collect() } else { listed };
    out.insert("type".into(), if listed.len() == 1 { json!(listed[0]) } else { json!(listed) });
    if listed.iter().any(|t| t == "array") && !out.contains_key("items") {
        out.insert("items".into(), any_value());
    }
    if listed.iter().any(|t| t == "string") && !out.contains_key("maxLength") && !out.contains_key("format") {
        let min = out.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        out.insert("maxLength".into(), json!(max_string_length.max(min)));
    }
    Ok(Value::Object(out))
}

/// `enum` beside other keywords: the values those keywords allow.
fn enum_within(mut o: Obj, values: Vec<Value>, path: &str) -> Result<Value> {
    o.remove("enum");
    let rest = o.iter().filter(|(k, _)| constrains(k)).count();
    let kept = if rest == 0 {
        values
    } else {
        let rest_schema = materialize(&Value::Object(o.clone()), u64::MAX, path)?;
        let validator = crate::schema::parse::parse_normalized(&rest_schema).map(|ir| crate::schema::validate::Validator::new(&ir));
        match validator {
            Ok(v) => values.into_iter().filter(|x| v.validate(x).is_ok()).collect(),
            Err(_) => return Err(unsupported(path, "keyword `enum` next to keywords that cannot be checked against its values")),
        }
    };
    if kept.is_empty() {
        return Err(unsupported(path, "keyword `enum`: none of its values satisfies the keywords beside it"));
    }
    let mut out: Obj = o.into_iter().filter(|(k, _)| !constrains(k)).collect();
    out.insert("enum".into(), Value::Array(kept));
    Ok(Value::Object(out))
}

/// Any JSON value, depth two: what `{}` and `true` generate. Mapped to a STRING of JSON.
fn any_value() -> Value {
    let scalar = json!([{"type": "null"}, {"type": "boolean"}, {"type": "integer"}, {"type": "string", "maxLength": ANY_STRING_LENGTH}]);
    let mut all = scalar.as_array().unwrap().clone();
    all.push(json!({"type": "array", "items": {"anyOf": scalar}, "maxItems": ANY_ARRAY_ITEMS}));
    all.push(json!({"type": "object", "properties": {}}));
    json!({ "anyOf": all })
}
