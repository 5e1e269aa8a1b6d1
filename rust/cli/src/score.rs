//! Scoring answers against labelled rows, for `flinkllm eval`. Per field of `expected`:
//! exact match for scalars (enum labels, strings, numbers, booleans); for arrays (entity
//! lists), the items as a multiset — precision, recall and F1 over all rows — and how many
//! rows got the whole list exactly. A row that failed counts as wrong on every field (and
//! as predicting no items).

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    rows: usize,
    exact: usize,
    /// Array fields only: items in both, items predicted, items expected.
    items: Option<(usize, usize, usize)>,
}

/// Running scores of one run, fields in the order they first appear in `expected`.
#[derive(Debug, Default)]
pub struct Scorer {
    fields: Vec<(String, Tally)>,
}

impl Scorer {
    /// One labelled row: its `expected` object and the model's output (`None` if the row failed).
    pub fn add(&mut self, expected: &Map<String, Value>, output: Option<&Value>) {
        for (name, want) in expected {
            let got = output.and_then(|o| o.get(name));
            let tally = match self.fields.iter().position(|(n, _)| n == name) {
                Some(i) => &mut self.fields[i].1,
                None => {
                    self.fields.push((name.clone(), Tally::default()));
                    &mut self.fields.last_mut().expect("just pushed").1
                }
            };
            tally.rows += 1;
            tally.exact += usize::from(got == Some(want));
            if let Value::Array(want_items) = want {
                let got_items = got.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                let (both, predicted, expected) = tally.items.get_or_insert((0, 0, 0));
                *both += matched(want_items, got_items);
                *predicted += got_items.len();
                *expected += want_items.len();
            }
        }
    }

    /// `{"category": {"accuracy": 0.8}, "entities": {"exact": 0.2, "precision": .., "recall": .., "f1": ..}}`.
    pub fn report(&self) -> Map<String, Value> {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        self.fields
            .iter()
            .map(|(name, t)| {
                let score = match t.items {
                    None => json!({"accuracy": ratio(t.exact, t.rows)}),
                    Some((both, predicted, expected)) => {
                        // No items expected anywhere and none predicted is a perfect score.
                        let p = if predicted == 0 { f64::from(u8::from(expected == 0)) } else { ratio(both, predicted) };
                        let r = if expected == 0 { f64::from(u8::from(predicted == 0)) } else { ratio(both, expected) };
                        let f1 = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
                        json!({"exact": ratio(t.exact, t.rows), "precision": p, "recall": r, "f1": f1})
                    }
                };
                (name.clone(), score)
            })
            .collect()
    }
}

/// Items of `want` found in `got`, each predicted item used at most once.
fn matched(want: &[Value], got: &[Value]) -> usize {
    let mut unused: Vec<&Value> = got.iter().collect();
    want.iter()
        .filter(|w| match unused.iter().position(|g| g == w) {
            Some(i) => {
                unused.swap_remove(i);
                true
            }
            None => false,
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn scalars_score_exact_matches_and_failed_rows_are_wrong() {
        let mut s = Scorer::default();
        s.add(&obj(json!({"category": "billing", "severity": "P2"})), Some(&json!({"category": "billing", "severity": "P1", "explanation": "x"})));
        s.add(&obj(json!({"category": "auth", "severity": "P1"})), Some(&json!({"category": "auth", "severity": "P1"})));
        s.add(&obj(json!({"category": "other", "severity": "P3"})), None);
        let r = s.report();
        assert_eq!(r["category"], json!({"accuracy": 2.0 / 3.0}));
        assert_eq!(r["severity"], json!({"accuracy": 1.0 / 3.0}));
        assert_eq!(r.keys().collect::<Vec<_>>(), ["category", "severity"], "fields in the order of expected");
    }

    #[test]
    fn lists_score_items_as_a_multiset() {
        let e = |n: &str, t: &str| json!({"entity": n, "type": t});
        let mut s = Scorer::default();
        // 2 expected, 3 predicted (one right, one wrong type, one extra): 1 match.
        s.add(
            &obj(json!({"entities": [e("Olga", "PER"), e("Kraków", "LOC")]})),
            Some(&json!({"entities": [e("Olga", "PER"), e("Kraków", "ORG"), e("Olga", "PER")]})),
        );
        // Exactly right, including an empty list.
        s.add(&obj(json!({"entities": [e("ACME", "ORG")]})), Some(&json!({"entities": [e("ACME", "ORG")]})));
        s.add(&obj(json!({"entities": []})), Some(&json!({"entities": []})));
        let r = &s.report()["entities"];
        assert_eq!(r["exact"], json!(2.0 / 3.0));
        assert_eq!(r["precision"], json!(2.0 / 4.0));
        assert_eq!(r["recall"], json!(2.0 / 3.0));
        let f1 = 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0);
        assert!((r["f1"].as_f64().unwrap() - f1).abs() < 1e-12);
    }

    #[test]
    fn no_items_anywhere_is_perfect_and_a_failed_row_predicts_none() {
        let mut s = Scorer::default();
        s.add(&obj(json!({"entities": []})), Some(&json!({"entities": []})));
        assert_eq!(s.report()["entities"]["f1"], json!(1.0));
        s.add(&obj(json!({"entities": [{"entity": "A", "type": "ORG"}]})), None);
        let r = &s.report()["entities"];
        assert_eq!((r["precision"].as_f64(), r["recall"].as_f64()), (Some(0.0), Some(0.0)));
    }
}
