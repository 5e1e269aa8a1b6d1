//! How sure the model is of each label it wrote: for every field whose schema allows a few
//! literal values (an `enum`, a boolean, an `anyOf` of such), the probability the model gave
//! the value it chose, from the logits decoding already computes, then calibrated.
//!
//! At each token the model chose, the constraint's mask left a set of allowed tokens; the
//! probability of the chosen one renormalised over that set is the model's own probability
//! of it given the answer so far. A field's raw confidence is the product of those over the
//! tokens that wrote its value (tokens jump-forward wrote, where the schema left no choice,
//! count 1). That is the probability of the value *given the fields written before it*.
//!
//! A field that follows one which all but decides it (moderation writes `target` before
//! `verdict`) would then read near 1 whatever the model thinks. So each label also has its
//! *path* probability: the product of its own and every earlier label's conditional
//! probability, never more than the earlier labels' confidence, which is what a reader of
//! `verdict = unsafe, 0.97` after `target = a person, 0.6` should be told. Which of the two a
//! field reports is its calibration's `basis`: `flinkllm calibrate` picks, per field, the one
//! that predicts on held-out labelled rows whether the answer is right (measured: the ticket
//! task's severity does better on its own probability, the verdict on the path). Without a
//! calibration a label reports its path probability.
//!
//! Raw probabilities of small models are mis-calibrated. Each field's value then goes
//! through its calibration, a monotone map fitted on labelled rows: `p' = σ(a · logit(p) + b)`
//! (Platt scaling of the log-odds; `a` < 1 softens, and `b` moves the whole field's
//! confidence, which a per-field temperature alone cannot).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::schema::{Node, NodeId, SchemaIr};

/// The field of an answer row that carries its labels' confidence (`llm()`'s ROW, beside
/// the schema's own fields; the CLI writes it beside `output`).
pub const FIELD: &str = "confidence";

/// One token the model chose: the bytes of the answer it wrote, and its log-probability
/// among the tokens the constraint allowed there.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    pub start: usize,
    pub end: usize,
    pub logp: f64,
}

/// Which probability a label's confidence is made from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The labels written up to and including this one, all as chosen.
    #[default]
    Path,
    /// This label given the answer before it.
    Field,
}

/// A field's calibration: `p' = σ(a · logit(p) + b)` of its `basis` probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
    #[serde(default)]
    pub basis: Basis,
}

/// A label's raw probabilities in one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelProbability {
    pub field: String,
    /// Of its value given the answer before it.
    pub own: f64,
    /// Of the labels written up to and including it.
    pub path: f64,
}

impl LabelProbability {
    pub fn of(&self, basis: Basis) -> f64 {
        match basis {
            Basis::Path => self.path,
            Basis::Field => self.own,
        }
    }
}

impl Platt {
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0, basis: Basis::Path };

    pub fn apply(&self, p: f64) -> f64 {
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        sigmoid(self.a * (p / (1.0 - p)).ln() + self.b)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Per-field calibrations, by field path (`category`, `a.b`).
pub type Calibration = BTreeMap<String, Platt>;

/// The label fields of a schema, by path, in the order the answer writes them.
pub fn label_fields(ir: &SchemaIr) -> Vec<String> {
    let mut out = Vec::new();
    collect_labels(ir, ir.root, "", &mut out);
    out
}

fn collect_labels(ir: &SchemaIr, id: NodeId, path: &str, out: &mut Vec<String>) {
    if is_label(ir, id) {
        out.push(path.to_string());
    } else if let Node::Object { properties, .. } = ir.node(id) {
        for p in properties {
            collect_labels(ir, p.node, &join(path, &p.name), out);
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Each label field's possible values, by path (`label_fields`' order): what `flinkllm eval`
/// needs to score P(value) for two-valued fields.
pub fn label_values(ir: &SchemaIr) -> Vec<(String, Vec<serde_json::Value>)> {
    label_fields(ir)
        .into_iter()
        .map(|path| {
            let mut id = ir.root;
            for name in path.split('.') {
                if let Node::Object { properties, .. } = ir.node(id) {
                    id = properties.iter().find(|p| p.name == name).map_or(id, |p| p.node);
                }
            }
            let mut alts = Vec::new();
            ir.alternatives(id, &mut alts);
            let values = alts
                .iter()
                .flat_map(|a| match ir.node(*a) {
                    Node::Enum(v) => v.clone(),
                    Node::Boolean => vec![false.into(), true.into()],
                    _ => vec![serde_json::Value::Null],
                })
                .collect();
            (path, values)
        })
        .collect()
}

/// A value among a few literals: every alternative an `enum`, a boolean or null, with at
/// least two values in all (a `const` leaves nothing to be sure of).
fn is_label(ir: &SchemaIr, id: NodeId) -> bool {
    let mut alts = Vec::new();
    ir.alternatives(id, &mut alts);
    let mut values = 0;
    for a in alts {
        values += match ir.node(a) {
            Node::Enum(v) => v.len(),
            Node::Boolean => 2,
            Node::Null => 1,
            _ => return false,
        };
    }
    values >= 2
}

/// Each label field's raw probabilities in `answer` (the JSON text the constraint wrote), in
/// the order written.
pub fn label_probabilities(ir: &SchemaIr, answer: &[u8], choices: &[Choice]) -> Vec<LabelProbability> {
    let mut spans = Vec::new();
    Spans { ir, text: answer }.value(ir.root, 0, "", &mut spans);
    let mut path_logp = 0.0;
    spans
        .into_iter()
        .map(|(field, span)| {
            // A token that writes `": "auth` overlaps the value: it is where the choice was made.
            let own_logp: f64 = choices.iter().filter(|c| c.start < span.end && span.start < c.end).map(|c| c.logp).sum();
            path_logp += own_logp;
            LabelProbability { field, own: own_logp.exp(), path: path_logp.exp() }
        })
        .collect()
}

/// Each label's confidence: its calibration's basis probability, calibrated.
pub fn calibrated(labels: &[LabelProbability], calibration: &Calibration) -> Vec<(String, f64)> {
    labels
        .iter()
        .map(|l| {
            let c = calibration.get(&l.field).unwrap_or(&Platt::IDENTITY);
            (l.field.clone(), c.apply(l.of(c.basis)))
        })
        .collect()
}

/// Finds label values' byte spans in the answer, walking the schema beside the text. The text
/// is valid JSON in the engine's layout (the constraint wrote it), so this walker need not
/// report errors: anything it does not expect ends the walk.
struct Spans<'a> {
    ir: &'a SchemaIr,
    text: &'a [u8],
}

impl Spans<'_> {
    /// Walks the value at `at` for schema node `id`; returns where it ends.
    fn value(&self, id: NodeId, at: usize, path: &str, out: &mut Vec<(String, Range<usize>)>) -> usize {
        let end = self.skip(at);
        if is_label(self.ir, id) {
            out.push((path.to_string(), at..end));
            return end;
        }
        let Node::Object { properties, .. } = self.ir.node(id) else { return end };
        if self.text.get(at) != Some(&b'{') {
            return end;
        }
        let mut i = at + 1;
        while let Some(b'"') = self.text.get(self.ws(i)) {
            let key_start = self.ws(i);
            let key_end = self.skip_string(key_start);
            let name: String = serde_json::from_slice(&self.text[key_start..key_end]).unwrap_or_default();
            let colon = self.ws(key_end);
            let value_at = self.ws(colon + 1);
            let value_end = match properties.iter().find(|p| p.name == name) {
                Some(p) => self.value(p.node, value_at, &join(path, &name), out),
                None => self.skip(value_at),
            };
            i = self.ws(value_end);
            if self.text.get(i) == Some(&b',') {
                i += 1;
            } else {
                break;
            }
        }
        end
    }

    fn ws(&self, mut i: usize) -> usize {
        while self.text.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    }

    fn skip_string(&self, at: usize) -> usize {
        let mut i = at + 1;
        while let Some(b) = self.text.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        i
    }

    /// The end of the value at `at` (string, number, literal, array or object).
    fn skip(&self, at: usize) -> usize {
        match self.text.get(at) {
            Some(b'"') => self.skip_string(at),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                let mut i = at;
                while let Some(b) = self.text.get(i) {
                    match b {
                        b'"' => {
                            i = self.skip_string(i);
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i
            }
            _ => {
                let mut i = at;
                while self.text.get(i).is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()) {
                    i += 1;
                }
                i
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn ticket() -> SchemaIr {
        parse_schema(&json!({"type": "object", "properties": {
            "category": {"enum": ["auth", "billing"]}, "note": {"type": "string", "maxLength": 20},
            "urgent": {"type": "boolean"}, "meta": {"type": "object", "properties": {"tier": {"enum": ["gold", "free"]}}, "required": ["tier"]},
            "fixed": {"const": "x"}}, "required": ["category", "note", "urgent", "meta", "fixed"]}))
        .unwrap()
    }

    #[test]
    fn labels_are_enums_booleans_and_nested_ones_not_consts_or_text() {
        assert_eq!(label_fields(&ticket()), ["category", "urgent", "meta.tier"]);
    }

    #[test]
    fn a_label_is_the_path_probability_of_the_tokens_that_wrote_it_and_the_labels_before() {
        let ir = ticket();
        let text = br#"{"category": "billing", "note": "a, b", "urgent": true, "meta": {"tier": "gold"}, "fixed": "x"}"#;
        let at = |s: &str| text.windows(s.len()).position(|w| w == s.as_bytes()).unwrap();
        let c = |s: &str, p: f64| Choice { start: at(s), end: at(s) + s.len(), logp: p.ln() };
        // `"bill` then `ing`; the note's tokens are not a label's; `true`; `"gold`.
        let choices = [c("\"bill", 0.8), c("ing\"", 0.5), c("a, b", 0.1), c("true", 0.9), c("\"gold", 0.5)];
        let got = label_probabilities(&ir, text, &choices);
        let want = [("category", 0.4, 0.4), ("urgent", 0.9, 0.36), ("meta.tier", 0.5, 0.18)];
        assert_eq!(got.len(), 3);
        for (l, (field, own, path)) in got.iter().zip(want) {
            assert_eq!(l.field, field);
            assert!((l.own - own).abs() < 1e-9 && (l.path - path).abs() < 1e-9, "{l:?}");
        }
        let raw = calibrated(&got, &Calibration::new());
        assert_eq!(raw.iter().map(|(_, p)| (p * 1e9).round() / 1e9).collect::<Vec<_>>(), [0.4, 0.36, 0.18], "uncalibrated: the path");
        let soft = Platt { a: 0.5, b: 0.0, basis: Basis::Field };
        let c = calibrated(&got, &Calibration::from([("urgent".to_string(), soft)]));
        assert!((c[1].1 - soft.apply(0.9)).abs() < 1e-12, "{c:?}");
    }

    #[test]
    fn platt_is_monotone_and_identity_keeps_p() {
        let f = Platt { a: 0.6, b: -0.3, basis: Basis::Path };
        let ps = [0.01, 0.2, 0.5, 0.9, 0.999];
        assert!(ps.windows(2).all(|w| f.apply(w[0]) < f.apply(w[1])));
        assert!(ps.iter().all(|p| (Platt::IDENTITY.apply(*p) - p).abs() < 1e-9));
    }
}
