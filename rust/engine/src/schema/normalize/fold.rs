//! Keywords folded into the ones the parser enforces: those that only say which declared
//! properties or items appear (`dependentRequired`, `minProperties`, `contains`, ...), `not`,
//! and `multipleOf` over a small range.

use serde_json::{json, Value};

use super::keywords::*;
use super::Normalizer;
use crate::error::Result;
use super::materialize::materialize;
use crate::schema::ir::{child_path, UNSUPPORTED};

impl Normalizer<'_> {
    /// Keywords that only decide which declared properties or items appear, folded into
    /// `properties`, `required`, `prefixItems`, `minItems`/`maxItems` (or refused).
    pub(super) fn rewrite(&mut self, v: Value, path: &str) -> Result<Value> {
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

    pub(super) fn negate(&mut self, o: Obj, not: Value, path: &str) -> Result<Value> {
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

    pub(super) fn object_keywords(&mut self, o: &mut Obj, path: &str) -> Result<()> {
        let props = match o.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Obj::new(),
        };
        let required: Vec<String> = o
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let had_props = !props.is_empty() || o.contains_key("required");
        let mut d = Declared { props, required };
        self.dependent_schemas(o, &mut d, path)?;
        dependent_required(o, &mut d, path)?;
        self.undeclared_required(o, &mut d, path)?;
        self.pattern_properties(o, &mut d, path)?;
        property_names(o, &mut d);
        forbidden_left_out(&mut d, path)?;
        property_counts(o, &mut d, path)?;
        let Declared { props, required } = d;
        if had_props || !props.is_empty() {
            o.insert("properties".into(), Value::Object(props));
            o.insert("required".into(), json!(required));
        }
        Ok(())
    }

    /// dependentSchemas: applied always (a stricter form of "when the property is present");
    /// where that conflicts, an optional trigger is left out.
    fn dependent_schemas(&mut self, o: &mut Obj, d: &mut Declared, path: &str) -> Result<()> {
        if let Some(Value::Object(deps)) = o.get("dependentSchemas").cloned() {
            for (name, sub) in deps {
                // With `unevaluatedProperties` beside it, what the dependent schema declares
                // counts as evaluated only when the trigger is present: make it present.
                if o.contains_key("unevaluatedProperties") && !d.required.contains(&name) {
                    d.required.push(name.clone());
                }
                let mut rest = o.clone();
                rest.remove("dependentSchemas");
                let trial = self.merge(Value::Object(rest).with("properties", &d.props).with_required(&d.required), sub, path);
                match trial {
                    Ok(Value::Object(m)) if !m.contains_key("anyOf") && !m.contains_key("oneOf") => {
                        d.props = m.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                        d.required = m.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
                        for (k, v) in m {
                            if k != "properties" && k != "required" {
                                o.insert(k, v);
                            }
                        }
                    }
                    _ if !d.required.contains(&name) => {
                        d.props.insert(name, Value::Bool(false));
                    }
                    Ok(_) => return Err(unsupported(path, format_args!("keyword `dependentSchemas` for {name:?} branches; not supported"))),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Required names without a declaration get what the schema says of undeclared ones.
    fn undeclared_required(&mut self, o: &Obj, d: &mut Declared, path: &str) -> Result<()> {
        for name in d.required.clone() {
            if d.props.contains_key(&name) {
                continue;
            }
            let rule = self.undeclared_rule(o, &name, path)?.unwrap_or_else(|| json!({}));
            d.props.insert(name, rule);
        }
        Ok(())
    }

    /// Declared names patternProperties also match take those schemas too.
    fn pattern_properties(&mut self, o: &Obj, d: &mut Declared, path: &str) -> Result<()> {
        if let Some(Value::Object(patterns)) = o.get("patternProperties").cloned() {
            let holder: Obj = [("patternProperties".to_string(), Value::Object(patterns))].into_iter().collect();
            for (name, sub) in d.props.clone() {
                if sub == Value::Bool(false) {
                    continue;
                }
                let mut only_patterns = holder.clone();
                only_patterns.remove("additionalProperties");
                if let Some(rule) = self.undeclared_rule(&only_patterns, &name, path)? {
                    let merged = if rule == Value::Bool(false) { rule } else { self.merge(sub, rule, path)? };
                    d.props.insert(name, merged);
                }
            }
        }
        Ok(())
    }

    pub(super) fn array_keywords(&mut self, o: &mut Obj, path: &str) -> Result<()> {
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
    let checked = materialize(&Value::Object(s), u64::MAX, "#").and_then(|s| crate::schema::parse::parse_normalized(&s));
    match checked {
        Ok(ir) => crate::schema::validate::Validator::new(&ir).validate(&Value::String(name.to_string())).is_ok(),
        Err(_) => false,
    }
}

/// An object schema's declared properties and required names while its keywords are folded.
struct Declared {
    props: Obj,
    required: Vec<String>,
}

/// dependentRequired: applied always; a trigger whose needs are forbidden is left out.
fn dependent_required(o: &Obj, d: &mut Declared, path: &str) -> Result<()> {
    if let Some(Value::Object(deps)) = o.get("dependentRequired").cloned() {
        for (name, needs) in deps {
            let needs: Vec<String> = needs.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
            let forbidden = needs.iter().any(|n| d.props.get(n) == Some(&Value::Bool(false)) || (!d.props.contains_key(n) && o.get("additionalProperties") == Some(&Value::Bool(false))));
            if forbidden {
                if d.required.contains(&name) {
                    return Err(unsupported(path, format_args!("keyword `dependentRequired`: {name:?} is required but needs a property that is forbidden")));
                }
                d.props.insert(name, Value::Bool(false));
            } else if d.props.contains_key(&name) || d.required.contains(&name) {
                for n in needs {
                    if !d.required.contains(&n) {
                        d.required.push(n);
                    }
                }
            }
        }
    }
    Ok(())
}

/// propertyNames: declared names it refuses must not appear.
fn property_names(o: &Obj, d: &mut Declared) {
    if let Some(names) = o.get("propertyNames").cloned() {
        for name in d.props.keys().cloned().collect::<Vec<_>>() {
            if !name_allowed(&names, &name) {
                d.props.insert(name, Value::Bool(false));
            }
        }
    }
}

/// Properties that must not appear: left out, or refused when required.
fn forbidden_left_out(d: &mut Declared, path: &str) -> Result<()> {
    for (name, sub) in d.props.clone() {
        if sub == Value::Bool(false) {
            if d.required.contains(&name) {
                return Err(unsupported(&child_path(&child_path(path, "properties"), &name), "a required property is forbidden here (`false`, `propertyNames`, or `additionalProperties: false` in another branch)"));
            }
            d.props.remove(&name);
        }
    }
    Ok(())
}

/// minProperties: optional properties made required; maxProperties: optional ones left out.
fn property_counts(o: &Obj, d: &mut Declared, path: &str) -> Result<()> {
    let min = o.get("minProperties").and_then(Value::as_f64).unwrap_or(0.0) as usize;
    for name in d.props.keys() {
        if d.required.len() >= min {
            break;
        }
        if !d.required.contains(name) {
            d.required.push(name.clone());
        }
    }
    if d.required.len() < min {
        return Err(unsupported(path, format_args!("keyword `minProperties` {min} needs more properties than the schema declares")));
    }
    if let Some(max) = o.get("maxProperties").and_then(Value::as_f64).map(|m| m as usize) {
        if d.required.len() > max {
            return Err(unsupported(path, format_args!("keyword `maxProperties` {max} is below the {} required properties", d.required.len())));
        }
        let mut room = max - d.required.len();
        d.props.retain(|name, _| {
            if d.required.contains(name) {
                return true;
            }
            let keep = room > 0;
            room = room.saturating_sub(1);
            keep
        });
    }
    Ok(())
}
