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

use serde_json::{json, Map, Value};

use super::ir::{child_path, UNSUPPORTED};
use crate::error::{Error, Result};

/// `$ref`s inlined into one another (to merge them with siblings) before it counts as recursion.
const MAX_REF_DEPTH: usize = 16;
/// Branches a distributed `anyOf`/`oneOf` may grow to.
const MAX_BRANCHES: usize = 64;
/// The any-value schema's own bounds (`{}`, `true`, untyped): depth two, short strings.
const ANY_STRING_LENGTH: u64 = 32;
const ANY_ARRAY_ITEMS: u64 = 4;
/// `multipleOf` is enforced by listing the multiples, over ranges with at most this many.
const MAX_MULTIPLES: f64 = 256.0;

type Obj = Map<String, Value>;


const TYPES: &[&str] = &["null", "boolean", "object", "array", "string", "number"];
const OBJECT_KEYWORDS: &[&str] = &["properties", "required", "additionalProperties"];
const ARRAY_KEYWORDS: &[&str] = &["items", "prefixItems", "minItems", "maxItems", "uniqueItems"];
const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];
const NUMBER_KEYWORDS: &[&str] = &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
/// What `materialize` hands the parser: the keywords it enforces.
const KNOWN: &[&str] = &[
    "type", "properties", "required", "additionalProperties", "enum", "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
];
/// Keywords folded by `rewrite`, per the type they constrain.
const OBJECT_ONLY: &[&str] = &["properties", "dependentSchemas", "dependentRequired", "patternProperties", "propertyNames",
    "unevaluatedProperties", "minProperties", "maxProperties", "required"];
const ARRAY_ONLY: &[&str] = &["prefixItems", "items", "unevaluatedItems", "contains", "minContains", "maxContains"];
const NUMBER_ONLY: &[&str] = &["multipleOf"];
const FOLDED: &[&str] = &["not", "dependentSchemas", "dependentRequired", "patternProperties", "propertyNames",
    "unevaluatedProperties", "minProperties", "maxProperties", "unevaluatedItems", "contains", "minContains", "maxContains"];
/// Annotations of draft 2020-12 that never constrain a value: dropped.
const DROPPED_ANNOTATIONS: &[&str] =
    &["$comment", "$anchor", "$vocabulary", "contentMediaType", "contentEncoding", "contentSchema"];

pub fn normalize(root: &Value, max_string_length: u64) -> Result<Value> {
    let mut n = Normalizer { root, ref_depth: 0 };
    let schema = n.schema(root, "#")?;
    materialize(&schema, max_string_length, "#")
}

fn unsupported(path: &str, what: impl std::fmt::Display) -> Error {
    Error::UnsupportedSchema(format!("{path}: {what}"))
}

struct Normalizer<'a> {
    root: &'a Value,
    ref_depth: usize,
}

impl<'a> Normalizer<'a> {
    /// One subschema, its children first, its conjuncts merged into one object.
    fn schema(&mut self, s: &Value, path: &str) -> Result<Value> {
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
                "allOf" => {
                    for (i, b) in list(v, &p)?.iter().enumerate() {
                        parts.push(self.schema(b, &child_path(&p, &i.to_string()))?);
                    }
                }
                "anyOf" | "oneOf" => {
                    let mut branches = Vec::new();
                    for (i, b) in list(v, &p)?.iter().enumerate() {
                        branches.push(self.schema(b, &child_path(&p, &i.to_string()))?);
                    }
                    parts.push(json!({ k.as_str(): branches }));
                }
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
                        // `properties: {"x": false}`: x must not appear (decided in `rewrite`).
                        let sub = if *sub == Value::Bool(false) { sub.clone() } else { self.schema(sub, &child_path(&p, name))? };
                        out.insert(name.clone(), sub);
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
                    let sub = if *v == Value::Bool(false) { v.clone() } else { self.schema(v, &p)? };
                    base.insert(k.clone(), sub);
                }
                "prefixItems" => {
                    let mut items = Vec::new();
                    for (i, b) in list(v, &p)?.iter().enumerate() {
                        items.push(self.schema(b, &child_path(&p, &i.to_string()))?);
                    }
                    base.insert(k.clone(), Value::Array(items));
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

    /// A `$ref`'s target, normalized, to merge with the keywords beside it.
    fn inline_ref(&mut self, r: &Value, path: &str) -> Result<Value> {
        let target = r.as_str().ok_or_else(|| unsupported(path, "invalid schema: `$ref` must be a string"))?;
        let pointer = target.strip_prefix('#').ok_or_else(|| {
            unsupported(path, format_args!("keyword `$ref` to {target}: only local references (\"#/...\") are supported; remote ones are never fetched"))
        })?;
        let resolved = self
            .root
            .pointer(pointer)
            .ok_or_else(|| unsupported(path, format_args!("keyword `$ref` {target} points nowhere")))?;
        if self.ref_depth >= MAX_REF_DEPTH {
            return Err(unsupported(path, format_args!("keyword `$ref` {target} is recursive and merged with other keywords")));
        }
        self.ref_depth += 1;
        let out = self.schema(resolved, target);
        self.ref_depth -= 1;
        out
    }

    /// Both `a` and `b` hold (`allOf`): one schema allowing the values both allow.
    fn merge(&mut self, a: Value, b: Value, path: &str) -> Result<Value> {
        let a = self.deref(a, path)?;
        let b = self.deref(b, path)?;
        for (x, y) in [(&a, &b), (&b, &a)] {
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(branches)) = x.get(key) else { continue };
                // (r ∧ (b1 ∨ b2)) = (r ∧ b1) ∨ (r ∧ b2); branches that contradict r drop out,
                // which keeps `oneOf`'s "exactly one" too.
                let mut rest = x.as_object().cloned().unwrap_or_default();
                rest.remove(key);
                let rest = self.merge(Value::Object(rest), y.clone(), path)?;
                let mut out = Vec::new();
                let mut last_error = None;
                for branch in branches {
                    match self.merge(rest.clone(), branch.clone(), path) {
                        Ok(m) => out.push(m),
                        Err(e) => last_error = Some(e),
                    }
                }
                if out.is_empty() {
                    return Err(last_error.unwrap_or_else(|| unsupported(path, format_args!("keyword `{key}` is empty"))));
                }
                if out.len() > MAX_BRANCHES {
                    return Err(unsupported(path, format_args!("keyword `{key}` grows to more than {MAX_BRANCHES} branches when merged")));
                }
                return Ok(if out.len() == 1 { out.pop().unwrap() } else { json!({ key: out }) });
            }
        }
        let (Value::Object(a), Value::Object(b)) = (a, b) else {
            return Err(unsupported(path, "invalid schema: a schema must be an object"));
        };
        let mut out = a.clone();
        for (k, vb) in &b {
            let combined = match out.get(k) {
                None => vb.clone(),
                Some(va) => self.combine(k, va, vb, path)?,
            };
            out.insert(k.clone(), combined);
        }
        self.declared_on_one_side(&mut out, &a, &b, path)?;
        self.declared_on_one_side(&mut out, &b, &a, path)?;
        // The merged keywords apply to what the other side brought (its properties, items).
        self.rewrite(Value::Object(out), path)
    }

    fn deref(&mut self, v: Value, path: &str) -> Result<Value> {
        match v {
            Value::Bool(true) => return Ok(json!({})),
            Value::Bool(false) => return Err(unsupported(path, "`false` allows no value")),
            Value::Object(_) => {}
            _ => return Err(unsupported(path, "invalid schema: a schema must be an object")),
        }
        match v.get("$ref") {
            Some(r) => {
                let target = self.inline_ref(&r.clone(), path)?;
                let mut rest = v.as_object().cloned().unwrap_or_default();
                rest.remove("$ref");
                if rest.keys().any(|k| constrains(k)) {
                    self.merge(target, Value::Object(rest), path)
                } else {
                    Ok(target)
                }
            }
            None => Ok(v),
        }
    }

    /// One keyword present on both sides of a merge.
    fn combine(&mut self, k: &str, a: &Value, b: &Value, path: &str) -> Result<Value> {
        let conflict = || unsupported(path, format_args!("keyword `allOf`: the branches' `{k}` cannot be merged ({a} and {b})"));
        Ok(match k {
            "type" => {
                let (ta, tb) = (types(a), types(b));
                let mut both: Vec<&str> = Vec::new();
                for t in &ta {
                    for u in &tb {
                        let common = match (*t, *u) {
                            (x, y) if x == y => Some(x),
                            ("integer", "number") | ("number", "integer") => Some("integer"),
                            _ => None,
                        };
                        if let Some(c) = common.filter(|c| !both.contains(c)) {
                            both.push(c);
                        }
                    }
                }
                if both.is_empty() {
                    return Err(unsupported(path, format_args!("keyword `allOf`: the branches allow no common `type` ({a} and {b})")));
                }
                json!(both)
            }
            "required" => {
                let mut names = a.as_array().cloned().unwrap_or_default();
                for n in b.as_array().into_iter().flatten() {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
                Value::Array(names)
            }
            "enum" => {
                let common: Vec<Value> = a.as_array().into_iter().flatten().filter(|v| b.as_array().is_some_and(|bs| bs.contains(v))).cloned().collect();
                if common.is_empty() {
                    return Err(unsupported(path, "keyword `allOf`: the branches' `enum`/`const` values have none in common"));
                }
                Value::Array(common)
            }
            "minLength" | "minItems" | "minProperties" | "minimum" | "exclusiveMinimum" | "minContains" => {
                if a.as_f64() >= b.as_f64() { a.clone() } else { b.clone() }
            }
            "maxLength" | "maxItems" | "maxProperties" | "maximum" | "exclusiveMaximum" | "maxContains" => {
                if a.as_f64() <= b.as_f64() { a.clone() } else { b.clone() }
            }
            "multipleOf" if a.as_u64().is_some() && b.as_u64().is_some() => {
                let (x, y) = (a.as_u64().unwrap(), b.as_u64().unwrap());
                let gcd = |mut p: u64, mut q: u64| { while q != 0 { (p, q) = (q, p % q); } p };
                json!(x / gcd(x, y) * y)
            }
            "uniqueItems" => Value::Bool(a == &Value::Bool(true) || b == &Value::Bool(true)),
            "items" | "additionalProperties" | "contains" | "propertyNames" | "unevaluatedProperties" | "unevaluatedItems" => {
                if *a == Value::Bool(false) || *b == Value::Bool(false) {
                    Value::Bool(false)
                } else {
                    self.merge(a.clone(), b.clone(), path)?
                }
            }
            // not A and not B = not (A or B)
            "not" => json!({"anyOf": [a, b]}),
            "prefixItems" => {
                let (pa, pb) = (a.as_array().cloned().unwrap_or_default(), b.as_array().cloned().unwrap_or_default());
                let mut out = Vec::new();
                for i in 0..pa.len().max(pb.len()) {
                    out.push(match (pa.get(i), pb.get(i)) {
                        (Some(x), Some(y)) => self.merge(x.clone(), y.clone(), path)?,
                        (Some(x), None) | (None, Some(x)) => x.clone(),
                        (None, None) => unreachable!(),
                    });
                }
                Value::Array(out)
            }
            "properties" | "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => {
                let mut out = a.as_object().cloned().unwrap_or_default();
                for (name, sb) in b.as_object().into_iter().flatten() {
                    let merged = match out.get(name) {
                        Some(sa) if *sa == Value::Bool(false) || *sb == Value::Bool(false) => Value::Bool(false),
                        Some(sa) => self.merge(sa.clone(), sb.clone(), path)?,
                        None => sb.clone(),
                    };
                    out.insert(name.clone(), merged);
                }
                Value::Object(out)
            }
            "dependentRequired" => {
                let mut out = a.as_object().cloned().unwrap_or_default();
                for (name, deps) in b.as_object().into_iter().flatten() {
                    let merged = self.combine("required", out.get(name).unwrap_or(&json!([])), deps, path)?;
                    out.insert(name.clone(), merged);
                }
                Value::Object(out)
            }
            _ if !constrains(k) => a.clone(),
            _ if a == b => a.clone(),
            _ => return Err(conflict()),
        })
    }

    /// A property `one` declares and `other` does not must satisfy `other`'s
    /// `patternProperties` and `additionalProperties`: a merge applies them to it.
    fn declared_on_one_side(&mut self, out: &mut Obj, one: &Obj, other: &Obj, path: &str) -> Result<()> {
        let Some(Value::Object(props)) = one.get("properties") else { return Ok(()) };
        let declared_there = |name: &str| other.get("properties").and_then(|p| p.get(name)).is_some();
        for name in props.keys().filter(|n| !declared_there(n)) {
            let Some(rule) = self.undeclared_rule(other, name, path)? else { continue };
            let merged = match (rule, out["properties"][name].clone()) {
                (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
                (rule, current) => self.merge(current, rule, path)?,
            };
            out.get_mut("properties").and_then(Value::as_object_mut).unwrap().insert(name.clone(), merged);
        }
        Ok(())
    }

    /// What `schema` says of a property it does not declare: the matching
    /// `patternProperties` merged, else `additionalProperties`; `None` when nothing applies.
    fn undeclared_rule(&mut self, schema: &Obj, name: &str, path: &str) -> Result<Option<Value>> {
        let mut rule: Option<Value> = None;
        for (pattern, sub) in schema.get("patternProperties").and_then(Value::as_object).into_iter().flatten() {
            let re = regex::Regex::new(pattern)
                .map_err(|e| unsupported(path, format_args!("keyword `patternProperties`: pattern {pattern:?} does not compile: {e}")))?;
            if re.is_match(name) {
                rule = Some(match rule {
                    None => sub.clone(),
                    Some(r) if r == Value::Bool(false) || *sub == Value::Bool(false) => Value::Bool(false),
                    Some(r) => self.merge(r, sub.clone(), path)?,
                });
            }
        }
        // Undeclared and unmatched: `additionalProperties` decides, else (as seen from this
        // schema, which cannot see its siblings' properties) `unevaluatedProperties`.
        Ok(rule.or_else(|| schema.get("additionalProperties").cloned()).or_else(|| schema.get("unevaluatedProperties").cloned()))
    }

    /// Keywords that only decide which declared properties or items appear, folded into
    /// `properties`, `required`, `prefixItems`, `minItems`/`maxItems` (or refused).
    fn rewrite(&mut self, v: Value, path: &str) -> Result<Value> {
        let Value::Object(mut o) = v else { return Ok(v) };
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = o.remove(key) {
                let branches = branches.into_iter().map(|b| self.rewrite(b, path)).collect::<Result<Vec<_>>>()?;
                o.insert(key.into(), Value::Array(branches));
                return Ok(Value::Object(o));
            }
        }
        if o.contains_key(UNSUPPORTED) || o.contains_key("$ref") {
            return Ok(Value::Object(o));
        }
        if let Some(not) = o.remove("not") {
            o = match self.negate(o, not.clone(), path)? {
                Value::Object(mut m) if !m.contains_key("anyOf") && !m.contains_key("oneOf") => {
                    m.insert("not".into(), not);
                    m
                }
                other => return self.rewrite(other, path),
            };
        }
        // Keywords of a type the schema allows are folded; an untyped schema whose
        // object, array or number keywords cannot be met is narrowed to the other types.
        for (kind, words) in [("object", OBJECT_ONLY), ("array", ARRAY_ONLY), ("number", NUMBER_ONLY)] {
            if !o.keys().any(|k| words.contains(&k.as_str())) {
                continue;
            }
            if !allows(&o, kind) {
                o.retain(|k, _| !words.contains(&k.as_str()));
                continue;
            }
            let mut trial = o.clone();
            let folded = match kind {
                "object" => self.object_keywords(&mut trial, path),
                "array" => self.array_keywords(&mut trial, path),
                _ => match trial.remove("multipleOf") {
                    Some(m) => multiples(&mut trial, &m, path),
                    None => Ok(()),
                },
            };
            match folded {
                Ok(()) => o = trial,
                Err(_) if !o.contains_key("type") => {
                    o.retain(|k, _| !words.contains(&k.as_str()));
                    let others: Vec<&str> = TYPES.iter().copied().filter(|t| *t != kind).collect();
                    o.insert("type".into(), json!(others));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Value::Object(o))
    }

    fn negate(&mut self, o: Obj, not: Value, path: &str) -> Result<Value> {
        let p = child_path(path, "not");
        let refused = || unsupported(&p, "keyword `not` is supported around `type`, `enum`/`const` and `anyOf` of those only");
        let Value::Object(n) = not else { return Ok(Value::Object(o)) }; // not false: every value
        if !n.keys().any(|k| constrains(k)) {
            return Err(unsupported(&p, "keyword `not` around a schema that allows everything allows no value"));
        }
        let mut out = Value::Object(o);
        if let Some(Value::Array(branches)) = n.get("anyOf") {
            for b in branches {
                out = match out {
                    Value::Object(m) if !m.contains_key("anyOf") && !m.contains_key("oneOf") => self.negate(m, b.clone(), path)?,
                    _ => return Err(refused()),
                };
            }
            return Ok(out);
        }
        let Value::Object(mut out) = out else { return Err(refused()) };
        if n.keys().filter(|k| constrains(k)).count() != 1 {
            return Err(refused());
        }
        if let Some(t) = n.get("type") {
            // Numbers lose integers as a whole: "a number that is not an integer" has no regex here.
            let excluded = types(t);
            let left: Vec<&str> = TYPES
                .iter()
                .copied()
                .filter(|t| !excluded.contains(t) && !(*t == "number" && excluded.contains(&"integer")))
                .collect();
            return self.merge(Value::Object(out), json!({"type": left}), path);
        }
        if let Some(Value::Array(banned)) = n.get("enum") {
            if let Some(Value::Array(values)) = out.get("enum") {
                let left: Vec<Value> = values.iter().filter(|v| !banned.contains(v)).cloned().collect();
                if left.is_empty() {
                    return Err(unsupported(&p, "keyword `not` leaves none of the `enum` values"));
                }
                out.insert("enum".into(), Value::Array(left));
                return Ok(Value::Object(out));
            }
            // Values of a type the banned list does not contain.
            let banned_types: Vec<&str> = banned.iter().map(json_type).collect();
            let left: Vec<&str> = TYPES.iter().copied().filter(|t| !banned_types.contains(t) && (*t != "number" || !banned_types.contains(&"integer"))).collect();
            return self.merge(Value::Object(out), json!({"type": left}), path);
        }
        Err(refused())
    }

    fn object_keywords(&mut self, o: &mut Obj, path: &str) -> Result<()> {
        let mut props = match o.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Obj::new(),
        };
        let mut required: Vec<String> = o
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let had_props = !props.is_empty() || o.contains_key("required");
        // dependentSchemas / dependentRequired: applied always (a stricter form of "when
        // the property is present"); where that conflicts, an optional trigger is left out.
        if let Some(Value::Object(deps)) = o.get("dependentSchemas").cloned() {
            for (name, sub) in deps {
                // With `unevaluatedProperties` beside it, what the dependent schema declares
                // counts as evaluated only when the trigger is present: make it present.
                if o.contains_key("unevaluatedProperties") && !required.contains(&name) {
                    required.push(name.clone());
                }
                let mut rest = o.clone();
                rest.remove("dependentSchemas");
                let trial = self.merge(Value::Object(rest).with("properties", &props).with_required(&required), sub, path);
                match trial {
                    Ok(Value::Object(m)) if !m.contains_key("anyOf") && !m.contains_key("oneOf") => {
                        props = m.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                        required = m.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
                        for (k, v) in m {
                            if k != "properties" && k != "required" {
                                o.insert(k, v);
                            }
                        }
                    }
                    _ if !required.contains(&name) => {
                        props.insert(name, Value::Bool(false));
                    }
                    Ok(_) => return Err(unsupported(path, format_args!("keyword `dependentSchemas` for {name:?} branches; not supported"))),
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(Value::Object(deps)) = o.get("dependentRequired").cloned() {
            for (name, needs) in deps {
                let needs: Vec<String> = needs.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
                let forbidden = needs.iter().any(|n| props.get(n) == Some(&Value::Bool(false)) || (!props.contains_key(n) && o.get("additionalProperties") == Some(&Value::Bool(false))));
                if forbidden {
                    if required.contains(&name) {
                        return Err(unsupported(path, format_args!("keyword `dependentRequired`: {name:?} is required but needs a property that is forbidden")));
                    }
                    props.insert(name, Value::Bool(false));
                } else if props.contains_key(&name) || required.contains(&name) {
                    for n in needs {
                        if !required.contains(&n) {
                            required.push(n);
                        }
                    }
                }
            }
        }
        // Required names without a declaration get what the schema says of undeclared ones.
        for name in required.clone() {
            if props.contains_key(&name) {
                continue;
            }
            let rule = self.undeclared_rule(o, &name, path)?.unwrap_or_else(|| json!({}));
            props.insert(name, rule);
        }
        // Declared names patternProperties also match take those schemas too.
        if let Some(Value::Object(patterns)) = o.get("patternProperties").cloned() {
            let holder: Obj = [("patternProperties".to_string(), Value::Object(patterns))].into_iter().collect();
            for (name, sub) in props.clone() {
                if sub == Value::Bool(false) {
                    continue;
                }
                let mut only_patterns = holder.clone();
                only_patterns.remove("additionalProperties");
                if let Some(rule) = self.undeclared_rule(&only_patterns, &name, path)? {
                    let merged = if rule == Value::Bool(false) { rule } else { self.merge(sub, rule, path)? };
                    props.insert(name, merged);
                }
            }
        }
        if let Some(names) = o.get("propertyNames").cloned() {
            for name in props.keys().cloned().collect::<Vec<_>>() {
                if !name_allowed(&names, &name) {
                    props.insert(name, Value::Bool(false));
                }
            }
        }
        // Properties that must not appear: left out, or refused when required.
        for (name, sub) in props.clone() {
            if sub == Value::Bool(false) {
                if required.contains(&name) {
                    return Err(unsupported(&child_path(&child_path(path, "properties"), &name), "a required property is forbidden here (`false`, `propertyNames`, or `additionalProperties: false` in another branch)"));
                }
                props.remove(&name);
            }
        }
        let min = o.get("minProperties").and_then(Value::as_f64).unwrap_or(0.0) as usize;
        for name in props.keys() {
            if required.len() >= min {
                break;
            }
            if !required.contains(name) {
                required.push(name.clone());
            }
        }
        if required.len() < min {
            return Err(unsupported(path, format_args!("keyword `minProperties` {min} needs more properties than the schema declares")));
        }
        if let Some(max) = o.get("maxProperties").and_then(Value::as_f64).map(|m| m as usize) {
            if required.len() > max {
                return Err(unsupported(path, format_args!("keyword `maxProperties` {max} is below the {} required properties", required.len())));
            }
            let mut room = max - required.len();
            props.retain(|name, _| {
                if required.contains(name) {
                    return true;
                }
                let keep = room > 0;
                room = room.saturating_sub(1);
                keep
            });
        }
        if had_props || !props.is_empty() {
            o.insert("properties".into(), Value::Object(props));
            o.insert("required".into(), json!(required));
        }
        Ok(())
    }

    fn array_keywords(&mut self, o: &mut Obj, path: &str) -> Result<()> {
        let mut prefix = match o.get("prefixItems").cloned() {
            Some(Value::Array(p)) => p,
            _ => Vec::new(),
        };
        let count = |o: &Obj, k: &str| o.get(k).and_then(Value::as_f64).map(|v| v as u64);
        let mut max_items = count(o, "maxItems");
        let mut min_items = count(o, "minItems").unwrap_or(0);
        match o.get("items") {
            Some(Value::Bool(false)) => {
                max_items = Some(max_items.map_or(prefix.len() as u64, |m| m.min(prefix.len() as u64)));
            }
            None => match o.get("unevaluatedItems").cloned() {
                Some(Value::Bool(false)) => max_items = Some(max_items.map_or(prefix.len() as u64, |m| m.min(prefix.len() as u64))),
                Some(s) => {
                    o.insert("items".into(), s);
                }
                None => {}
            },
            Some(_) => {}
        }
        if let Some(contains) = o.get("contains").cloned() {
            let wanted = o.get("minContains").and_then(Value::as_f64).unwrap_or(1.0) as u64;
            if let Some(most) = o.get("maxContains").and_then(Value::as_f64).map(|v| v as u64) {
                if most < wanted || max_items.map_or(true, |m| m > most) {
                    return Err(unsupported(&child_path(path, "maxContains"), "keyword `maxContains` is supported only when `maxItems` keeps every array within it"));
                }
            }
            if wanted > 0 {
                if contains == Value::Bool(false) {
                    return Err(unsupported(&child_path(path, "contains"), "keyword `contains` with `false` allows no array"));
                }
                if max_items.is_some_and(|m| m < wanted) {
                    return Err(unsupported(&child_path(path, "contains"), "keyword `contains` needs more items than `maxItems` allows"));
                }
                // The first `minContains` items are the ones that match.
                for i in 0..wanted as usize {
                    let base = prefix.get(i).cloned().or_else(|| o.get("items").cloned()).unwrap_or(json!({}));
                    let merged = self.merge(base, contains.clone(), path)?;
                    if i < prefix.len() {
                        prefix[i] = merged;
                    } else {
                        prefix.push(merged);
                    }
                }
                min_items = min_items.max(wanted);
            }
        }
        if max_items.is_some_and(|m| m < min_items) {
            return Err(unsupported(path, "keyword `maxItems` is below the items the array needs"));
        }
        if !prefix.is_empty() {
            o.insert("prefixItems".into(), Value::Array(prefix));
        }
        if let Some(m) = max_items {
            o.insert("maxItems".into(), json!(m));
        }
        if min_items > 0 {
            o.insert("minItems".into(), json!(min_items));
        }
        Ok(())
    }
}

/// `multipleOf`: a whole step is enforced on integers; a fractional one by listing the
/// multiples inside the value's bounds (at most MAX_MULTIPLES).
fn multiples(o: &mut Obj, m: &Value, path: &str) -> Result<()> {
    let p = child_path(path, "multipleOf");
    let step = m.as_f64().filter(|s| *s > 0.0).ok_or_else(|| unsupported(&p, "invalid schema: `multipleOf` must be a positive number"))?;
    if step >= 1.0 && step.fract() == 0.0 && step < 1e15 {
        // A whole step: integers, checked digit by digit as they are written (the parser's
        // Integer.multiple_of); a number schema narrows to its integers.
        o.insert("type".into(), json!("integer"));
        o.insert("multipleOf".into(), json!(step as u64));
        return Ok(());
    }
    let bound = |k: &str| o.get(k).and_then(Value::as_f64);
    let lo = match (bound("minimum"), bound("exclusiveMinimum")) {
        (Some(a), Some(b)) => Some(a.max(b + f64::EPSILON)),
        (a, b) => a.or(b.map(|b| b + f64::EPSILON)),
    };
    let hi = match (bound("maximum"), bound("exclusiveMaximum")) {
        (Some(a), Some(b)) => Some(a.min(b - f64::EPSILON)),
        (a, b) => a.or(b.map(|b| b - f64::EPSILON)),
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Err(unsupported(&p, "keyword `multipleOf` is supported over a bounded range (minimum and maximum) only"));
    };
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    if last < first || last - first >= MAX_MULTIPLES {
        return Err(unsupported(&p, format_args!("keyword `multipleOf` is supported over ranges of at most {MAX_MULTIPLES} multiples")));
    }
    let integer_only = o.get("type").is_some_and(|t| types(t) == ["integer"]);
    let values: Vec<Value> = (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .filter(|v| !integer_only || v.fract() == 0.0)
        .map(|v| if v.fract() == 0.0 && v.abs() < 9e15 { json!(v as i64) } else { json!(v) })
        .collect();
    if values.is_empty() {
        return Err(unsupported(&p, "keyword `multipleOf` leaves no value in the range"));
    }
    for k in NUMBER_KEYWORDS.iter().chain(["type"].iter()) {
        o.remove(*k);
    }
    // (the enum alone now says which values; `multipleOf` must not come back to the parser)
    o.insert("enum".into(), Value::Array(values));
    Ok(())
}

/// Whether a property name satisfies `propertyNames` (`false`: none does).
fn name_allowed(names: &Value, name: &str) -> bool {
    let Value::Object(o) = names else { return false };
    if !o.keys().any(|k| constrains(k)) {
        return true;
    }
    if o.get("type").is_some_and(|t| !types(t).contains(&"string")) {
        return false;
    }
    let mut s = o.clone();
    s.insert("type".into(), json!("string"));
    let checked = materialize(&Value::Object(s), u64::MAX, "#").and_then(|s| super::parse::parse_normalized(&s));
    match checked {
        Ok(ir) => super::validate::Validator::new(&ir).validate(&Value::String(name.to_string())).is_ok(),
        Err(_) => false,
    }
}

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
        let validator = super::parse::parse_normalized(&rest_schema).map(|ir| super::validate::Validator::new(&ir));
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

fn allows(o: &Obj, kind: &str) -> bool {
    o.get("type").map_or(true, |t| types(t).iter().any(|x| *x == kind || (kind == "number" && *x == "integer")))
}

fn implied_types(o: &Obj) -> Vec<String> {
    let mut out = Vec::new();
    for (t, words) in [("object", OBJECT_KEYWORDS), ("array", ARRAY_KEYWORDS), ("string", STRING_KEYWORDS), ("number", NUMBER_KEYWORDS)] {
        if o.keys().any(|k| words.contains(&k.as_str())) {
            out.push(t.to_string());
        }
    }
    out
}

fn keyword_of(k: &str, t: &str) -> bool {
    match t {
        "object" => OBJECT_KEYWORDS.contains(&k),
        "array" => ARRAY_KEYWORDS.contains(&k),
        "string" => STRING_KEYWORDS.contains(&k),
        "integer" | "number" => NUMBER_KEYWORDS.contains(&k),
        _ => false,
    }
}

/// Keywords that constrain values (as opposed to annotations and `$defs`).
fn constrains(k: &str) -> bool {
    !matches!(
        k,
        "title" | "description" | "default" | "examples" | "$schema" | "$id" | "$comment" | "deprecated" | "readOnly" | "writeOnly" | "$defs" | "definitions" | "$anchor"
    ) && !DROPPED_ANNOTATIONS.contains(&k)
}

fn types(t: &Value) -> Vec<&str> {
    match t {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn json_type(v: &Value) -> &'static str {
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

fn list<'v>(v: &'v Value, path: &str) -> Result<&'v Vec<Value>> {
    v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| unsupported(path, "invalid schema: must be a non-empty array"))
}

fn contains_key_deep(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(o) => o.contains_key(key) || o.values().any(|x| contains_key_deep(x, key)),
        Value::Array(a) => a.iter().any(|x| contains_key_deep(x, key)),
        _ => false,
    }
}

/// Building a merge operand from an object's parts.
trait With {
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
