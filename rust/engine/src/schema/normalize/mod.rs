//! Draft 2020-12 keywords reduced, before parsing, to the ones the parser enforces.
//!
//! Schemas written by tools (pydantic, Avro/Protobuf converters, registries) use `allOf`,
//! `type` beside `anyOf`, untyped or `true` subschemas, `if`/`then`, `dependentRequired` and
//! more. Each rewrite here keeps the guarantee the constraint gives: every value the
//! rewritten schema allows is allowed by the original (usually exactly the same values;
//! where a keyword cannot be enforced while generating, a stricter form that can, e.g.
//! `if`/`then` generates values that satisfy `if` and `then`). What cannot be reduced is
//! refused with the keyword and its location, as the parser does.
//!
//! The steps: `schema` rewrites each subschema bottom-up and merges its conjuncts (`allOf`
//! branches, a `$ref` with siblings, `if` + `then`, sibling keywords next to `anyOf`) with
//! `merge`; `rewrite` then folds the keywords that only constrain which declared
//! properties or items appear; `materialize` finally gives untyped schemas a type, `{}` the
//! any-value schema, and free strings the engine's length bound.

use serde_json::{json, Value};

mod fold;
mod keywords;
mod materialize;
mod merge;

use super::ir::{child_path, UNSUPPORTED};
use keywords::*;
use materialize::materialize;
use crate::error::Result;

pub fn normalize(root: &Value, max_string_length: u64) -> Result<Value> {
    let mut n = Normalizer { root, ref_depth: 0 };
    let schema = n.schema(root, "#")?;
    materialize(&schema, max_string_length, "#")
}


struct Normalizer<'a> {
    root: &'a Value,
    ref_depth: usize,
}

impl<'a> Normalizer<'a> {
    /// One subschema, its children first, its conjuncts merged into one object.
    pub(super) fn schema(&mut self, s: &Value, path: &str) -> Result<Value> {
        let o = match s {
            Value::Bool(true) => return Ok(json!({})),
            Value::Bool(false) => return Err(unsupported(path, "`false` allows no value")),
            Value::Object(o) => o,
            _ => return Err(unsupported(path, "invalid schema: a schema must be an object")),
        };
        if path != "#" && o.contains_key("$id") && contains_key_deep(s, "$ref") {
            return Err(unsupported(path, "keyword `$id` below the root changes how `$ref` resolves; not supported"));
        }
        let mut base = Obj::new();
        let mut parts = Vec::new();
        let with_siblings = o.keys().any(|k| k != "$ref" && constrains(k));
        for (k, v) in o {
            let p = child_path(path, k);
            match k.as_str() {
                "allOf" => parts.extend(self.each(v, &p)?),
                "anyOf" | "oneOf" => parts.push(json!({ k.as_str(): self.each(v, &p)? })),
                "$ref" if with_siblings => parts.push(self.inline_ref(v, path)?),
                // Generate values that satisfy `if`, and so must satisfy `then`; without
                // `if`, `then` and `else` do nothing (as the specification says).
                "if" => {
                    parts.push(self.schema(v, &p)?);
                    if let Some(then) = o.get("then") {
                        parts.push(self.schema(then, &child_path(path, "then"))?);
                    }
                }
                "then" | "else" => {}
                "const" => {
                    base.insert("enum".into(), json!([v]));
                }
                "properties" | "patternProperties" | "dependentSchemas" => {
                    let Value::Object(m) = v else { return Err(unsupported(&p, "invalid schema: must be an object")) };
                    let mut out = Obj::new();
                    for (name, sub) in m {
                        out.insert(name.clone(), self.unless_false(sub, &child_path(&p, name))?);
                    }
                    base.insert(k.clone(), Value::Object(out));
                }
                "$defs" | "definitions" => {
                    // Only what a `$ref` uses must be supported: keep the rest as written.
                    let Value::Object(m) = v else { return Err(unsupported(&p, "invalid schema: must be an object")) };
                    let out = m
                        .iter()
                        .map(|(name, sub)| {
                            let normalized = self.schema(sub, &child_path(&p, name)).unwrap_or_else(|e| json!({ UNSUPPORTED: e.to_string() }));
                            (name.clone(), normalized)
                        })
                        .collect();
                    base.insert(k.clone(), Value::Object(out));
                }
                "items" | "additionalProperties" | "contains" | "propertyNames" | "unevaluatedProperties"
                | "unevaluatedItems" | "not" => {
                    base.insert(k.clone(), self.unless_false(v, &p)?);
                }
                "prefixItems" => {
                    base.insert(k.clone(), Value::Array(self.each(v, &p)?));
                }
                "$id" if path != "#" => {}
                k if DROPPED_ANNOTATIONS.contains(&k) => {}
                _ => {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        let mut merged = Value::Object(base);
        for part in parts {
            merged = self.merge(merged, part, path)?;
        }
        self.rewrite(merged, path)
    }

    /// Each schema of a list keyword (`allOf`, `anyOf`, `prefixItems`), normalized.
    fn each(&mut self, list_value: &Value, path: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for (i, b) in list(list_value, path)?.iter().enumerate() {
            out.push(self.schema(b, &child_path(path, &i.to_string()))?);
        }
        Ok(out)
    }

    /// A subschema normalized, or `false` kept as it is: that place must stay empty (a
    /// property left out, no more items; decided in `rewrite`).
    fn unless_false(&mut self, sub: &Value, path: &str) -> Result<Value> {
        if *sub == Value::Bool(false) { Ok(sub.clone()) } else { self.schema(sub, path) }
    }

    /// A `$ref`'s target, normalized, to merge with the keywords beside it.
    pub(super) fn inline_ref(&mut self, r: &Value, path: &str) -> Result<Value> {
        let (target, resolved) = crate::schema::refs::resolve(self.root, r, path)?;
        if self.ref_depth >= MAX_REF_DEPTH {
            return Err(unsupported(path, format_args!("keyword `$ref` {target} is recursive and merged with other keywords")));
        }
        self.ref_depth += 1;
        let out = self.schema(resolved, target);
        self.ref_depth -= 1;
        out
    }
}
