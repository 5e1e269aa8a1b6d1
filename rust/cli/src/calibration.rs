//! How well label confidences say how often answers are right (`flinkllm eval`), and fitting
//! the per-field calibration that makes them say it (`flinkllm calibrate`).

use flinkllm_engine::confidence::{Basis, Platt};
use serde_json::{json, Value};

/// One answered label: the confidence given, whether the answer was right, and for a field
/// with two values whether the answer and the expected value are the field's second value
/// (its "positive", e.g. `unsafe` of `[safe, unsafe]`).
#[derive(Debug, Clone, Copy)]
pub struct Prediction {
    pub p: f64,
    pub correct: bool,
    /// `(answered positive, expected positive)`, two-valued fields only.
    pub positive: Option<(bool, bool)>,
}

impl Prediction {
    /// `(P(positive), expected positive)`: the confidence, or its complement where the
    /// answer was the other value.
    pub fn p_positive(&self) -> Option<(f64, bool)> {
        self.positive.map(|(answered, expected)| (if answered { self.p } else { 1.0 - self.p }, expected))
    }
}

/// Expected calibration error over 10 equal-width bins of confidence.
pub fn ece(preds: &[Prediction]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for p in preds {
        let b = ((p.p * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += p.p;
        bins[b].2 += usize::from(p.correct);
    }
    let n = preds.len().max(1) as f64;
    bins.iter().filter(|b| b.0 > 0).map(|(k, sum, right)| (*k as f64 / n) * (sum / *k as f64 - *right as f64 / *k as f64).abs()).sum()
}

pub fn brier(preds: &[Prediction]) -> f64 {
    preds.iter().map(|p| (p.p - f64::from(u8::from(p.correct))).powi(2)).sum::<f64>() / preds.len().max(1) as f64
}

/// Area under the ROC curve of P(positive) against the expected value (ties count half);
/// `None` without both classes.
pub fn auc(preds: &[Prediction]) -> Option<f64> {
    let scored: Vec<(f64, bool)> = preds.iter().filter_map(Prediction::p_positive).collect();
    let pos: Vec<f64> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let wins: f64 = pos.iter().map(|p| neg.iter().map(|n| if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 }).sum::<f64>()).sum();
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// Accuracy of the most confident `coverage` share of the rows (ties broken by row order).
pub fn accuracy_at(preds: &[Prediction], coverage: f64) -> f64 {
    let mut sorted: Vec<&Prediction> = preds.iter().collect();
    sorted.sort_by(|a, b| b.p.total_cmp(&a.p));
    let k = ((preds.len() as f64 * coverage).ceil() as usize).clamp(1, preds.len().max(1));
    sorted.iter().take(k).filter(|p| p.correct).count() as f64 / k as f64
}

/// The figures `flinkllm eval` prints per label field.
pub fn report(preds: &[Prediction]) -> Value {
    let mut r = json!({
        "predictions": preds.len(),
        "ece": round4(ece(preds)),
        "brier": round4(brier(preds)),
        "accuracy_at_80": round4(accuracy_at(preds, 0.8)),
        "mean_confidence": round4(preds.iter().map(|p| p.p).sum::<f64>() / preds.len().max(1) as f64),
    });
    if let Some(a) = auc(preds) {
        r["auc"] = json!(round4(a));
    }
    r
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Platt scaling: `a`, `b` minimising the log loss of `σ(a · logit(p) + b)` against being
/// right, by Newton's method, with a weak pull towards the identity (`a` = 1, `b` = 0) so a
/// field with few rows, or with every answer right, keeps a finite, sensible map.
pub fn fit(preds: &[Prediction], basis: Basis) -> Platt {
    const PULL: f64 = 1.0;
    let xs: Vec<(f64, f64)> = preds.iter().map(|p| (logit(p.p), f64::from(u8::from(p.correct)))).collect();
    let loss = |a: f64, b: f64| -> f64 {
        let data: f64 = xs.iter().map(|(x, y)| { let z = a * x + b; softplus(z) - y * z }).sum();
        data + PULL / 2.0 * ((a - 1.0).powi(2) + b * b)
    };
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..100 {
        // Gradient and Hessian of the loss.
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (PULL * (a - 1.0), PULL * b, PULL, 0.0, PULL);
        for (x, y) in &xs {
            let q = 1.0 / (1.0 + (-(a * x + b)).exp());
            let w = q * (1.0 - q);
            ga += (q - y) * x;
            gb += q - y;
            haa += w * x * x;
            hab += w * x;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        // Newton's step, halved until the loss goes down (a full step can overshoot).
        let before = loss(a, b);
        let mut t = 1.0;
        while t > 1e-6 && loss(a - t * da, b - t * db) > before {
            t /= 2.0;
        }
        a -= t * da;
        b -= t * db;
        if t * (da.abs() + db.abs()) < 1e-10 {
            break;
        }
    }
    // Only a map that keeps the order of confidences is a calibration.
    Platt { a: a.max(1e-3), b, basis }
}

/// A field's calibration: of the two bases (`own`, `path`: the same rows' predictions), the
/// one whose calibrated confidence has the lower log loss on rows left out of its fit (5
/// consecutive folds), fitted on every row.
pub fn fit_field(own: &[Prediction], path: &[Prediction]) -> Platt {
    let held_out_loss = |preds: &[Prediction], basis: Basis| -> f64 {
        let folds = 5.min(preds.len());
        let size = preds.len().div_ceil(folds.max(1));
        let mut loss = 0.0;
        for k in 0..folds {
            let range = (k * size).min(preds.len())..((k + 1) * size).min(preds.len());
            let train: Vec<Prediction> = preds.iter().enumerate().filter(|(i, _)| !range.contains(i)).map(|(_, p)| *p).collect();
            let f = fit(&train, basis);
            loss += preds[range].iter().map(|p| log_loss(f.apply(p.p), p.correct)).sum::<f64>();
        }
        loss
    };
    let basis = if held_out_loss(own, Basis::Field) < held_out_loss(path, Basis::Path) { Basis::Field } else { Basis::Path };
    fit(if basis == Basis::Field { own } else { path }, basis)
}

fn log_loss(p: f64, correct: bool) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    -(if correct { p } else { 1.0 - p }).ln()
}

/// ln(1 + e^z), without overflow.
fn softplus(z: f64) -> f64 {
    if z > 30.0 { z } else { z.exp().ln_1p() }
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(p: f64, correct: bool) -> Prediction {
        Prediction { p, correct, positive: None }
    }

    #[test]
    fn figures_of_a_small_known_set() {
        let preds = [pred(0.95, true), pred(0.95, false), pred(0.55, true), pred(0.15, false)];
        // bins: 0.9-1.0 (2, mean 0.95, right 0.5), 0.5-0.6 (1, 0.55 vs 1), 0.1-0.2 (1, 0.15 vs 0)
        let want = 0.5 * 0.45 + 0.25 * 0.45 + 0.25 * 0.15;
        assert!((ece(&preds) - want).abs() < 1e-12);
        assert!((brier(&preds) - (0.0025 + 0.9025 + 0.2025 + 0.0225) / 4.0).abs() < 1e-12);
        assert_eq!(accuracy_at(&preds, 0.5), 0.5);
        assert_eq!(accuracy_at(&preds, 0.75), 2.0 / 3.0);
    }

    #[test]
    fn auc_ranks_positives_above_negatives() {
        // P(positive) 0.9, 0.8 (answered positive), 0.3, 0.1 (answered negative with 0.7, 0.9).
        let p = |p: f64, answered: bool, expected: bool| Prediction { p, correct: answered == expected, positive: Some((answered, expected)) };
        assert_eq!(auc(&[p(0.9, true, true), p(0.8, true, true), p(0.7, false, false), p(0.9, false, false)]), Some(1.0));
        assert_eq!(auc(&[p(0.5, true, true), p(0.5, false, false)]), Some(0.5));
        assert_eq!(auc(&[p(0.9, true, true), p(0.6, false, true), p(0.8, true, false)]), Some(0.5));
        assert_eq!(auc(&[p(0.9, true, true)]), None);
    }

    #[test]
    fn fitting_lowers_an_over_confident_field_and_leaves_a_calibrated_one_near_identity() {
        // Says 0.95, right 70% of the time.
        let over: Vec<Prediction> = (0..200).map(|i| pred(0.95, i % 10 < 7)).collect();
        let f = fit(&over, Basis::Path);
        assert!((f.apply(0.95) - 0.7).abs() < 0.02, "{f:?}: {}", f.apply(0.95));
        assert!(ece(&over.iter().map(|p| pred(f.apply(p.p), p.correct)).collect::<Vec<_>>()) < ece(&over));
        // Right exactly as often as it says.
        let good: Vec<Prediction> = (0..1000).map(|i| { let p = 0.5 + (i % 50) as f64 / 100.0; pred(p, ((i * 7919) % 1000) as f64 / 1000.0 < p) }).collect();
        let g = fit(&good, Basis::Path);
        assert!((g.a - 1.0).abs() < 0.3 && g.b.abs() < 0.3, "{g:?}");
    }

    #[test]
    fn the_basis_that_predicts_correctness_is_chosen() {
        // Own probability tracks correctness; the path probability is noise.
        let own: Vec<Prediction> = (0..100).map(|i| pred(if i % 4 == 0 { 0.3 } else { 0.9 }, i % 4 != 0)).collect();
        let path: Vec<Prediction> = (0..100).map(|i| pred(0.2 + (i % 7) as f64 / 10.0, i % 4 != 0)).collect();
        assert_eq!(fit_field(&own, &path).basis, Basis::Field);
        assert_eq!(fit_field(&path, &own).basis, Basis::Path);
    }
}
