//! Conjuncts merged into one schema: `allOf` branches, a `$ref` with siblings, `if` + `then`,
//! sibling keywords next to `anyOf` (types intersected, bounds tightened, properties joined).

use serde_json::{json, Value};

use super::keywords::*;
use super::Normalizer;
use crate::error::Result;

impl Normalizer<'_> {
    /// Both `a` and `b` hold (`allOf`): one schema allowing the values both allow.
    pub(super) fn merge(&mut self, a: Value, b: Value, path: &str) -> Result<Value> {
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

    pub(super) fn deref(&mut self, v: Value, path: &str) -> Result<Value> {
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
    pub(super) fn combine(&mut self, k: &str, a: &Value, b: &Value, path: &str) -> Result<Value> {
        let conflict = || unsupported(path, format_args!("keyword `allOf`: the branches' `{k}` cannot be merged ({a} and {b})"));
        Ok(match k {
            "type" => common_type(a, b, path)?,
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
            "prefixItems" => self.merge_positions(a, b, path)?,
            "properties" | "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => self.merge_by_name(a, b, path)?,
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

    /// `prefixItems` of both sides: position by position, merged where both have one.
    fn merge_positions(&mut self, a: &Value, b: &Value, path: &str) -> Result<Value> {
        let (pa, pb) = (a.as_array().cloned().unwrap_or_default(), b.as_array().cloned().unwrap_or_default());
        let mut out = Vec::new();
        for i in 0..pa.len().max(pb.len()) {
            out.push(match (pa.get(i), pb.get(i)) {
                (Some(x), Some(y)) => self.merge(x.clone(), y.clone(), path)?,
                (Some(x), None) | (None, Some(x)) => x.clone(),
                (None, None) => unreachable!(),
            });
        }
        Ok(Value::Array(out))
    }

    /// Schemas by name (`properties`, `$defs`, ...) of both sides: merged where both name one,
    /// `false` where either forbids it.
    fn merge_by_name(&mut self, a: &Value, b: &Value, path: &str) -> Result<Value> {
        let mut out = a.as_object().cloned().unwrap_or_default();
        for (name, sb) in b.as_object().into_iter().flatten() {
            let merged = match out.get(name) {
                Some(sa) if *sa == Value::Bool(false) || *sb == Value::Bool(false) => Value::Bool(false),
                Some(sa) => self.merge(sa.clone(), sb.clone(), path)?,
                None => sb.clone(),
            };
            out.insert(name.clone(), merged);
        }
        Ok(Value::Object(out))
    }

    /// A property `one` declares and `other` does not must satisfy `other`'s
    /// `patternProperties` and `additionalProperties`: a merge applies them to it.
    pub(super) fn declared_on_one_side(&mut self, out: &mut Obj, one: &Obj, other: &Obj, path: &str) -> Result<()> {
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
    pub(super) fn undeclared_rule(&mut self, schema: &Obj, name: &str, path: &str) -> Result<Option<Value>> {
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
}

/// The types both `type` values allow (`integer` within `number`).
fn common_type(a: &Value, b: &Value, path: &str) -> Result<Value> {
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
    Ok(json!(both))
}
