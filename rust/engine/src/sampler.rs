//! Picking the next token among those the constraint allows: greedy by default,
//! temperature/top-p with a per-row seeded generator otherwise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::constraint::Pick;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

/// The generator for one row: derived from the task seed and the input text only,
/// so a replayed row (e.g. after a Flink failover) samples the same tokens.
pub fn row_rng(seed: u64, input: &str) -> ChaCha8Rng {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    h.update(input.as_bytes());
    ChaCha8Rng::seed_from_u64(h.digest())
}

pub fn choose(logits: &[f32], pick: &Pick, s: &Sampling, rng: &mut ChaCha8Rng) -> Result<u32> {
    if s.temperature <= 0.0 {
        // Fast path: the best allowed token is almost always confirmed at once.
        if let Some(best) = argmax(logits, |i| pick.allows(i)) {
            if pick.confirm(best) {
                return Ok(best as u32);
            }
        }
        let mut cands = candidates(logits, pick);
        cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        return cands
            .into_iter()
            .map(|(i, _)| i)
            .find(|i| pick.confirm(*i))
            .map(|i| i as u32)
            .ok_or_else(dead_end);
    }
    let mut cands = candidates(logits, pick);
    cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = cands.first().map(|c| c.1).unwrap_or(0.0);
    let mut weighted: Vec<(usize, f64)> =
        cands.iter().map(|(i, l)| (*i, (((*l - top) / s.temperature) as f64).exp())).collect();
    let total: f64 = weighted.iter().map(|w| w.1).sum();
    let mut acc = 0.0;
    let keep = weighted
        .iter()
        .position(|w| {
            acc += w.1 / total;
            acc >= s.top_p as f64
        })
        .map_or(weighted.len(), |p| p + 1);
    // `allows` over-approximates: when no token of the nucleus is confirmed, the most likely
    // token outside it that is still beats failing a row whose schema has valid continuations.
    let outside = weighted.split_off(keep);
    while !weighted.is_empty() {
        let total: f64 = weighted.iter().map(|w| w.1).sum();
        let mut x = rng.random::<f64>() * total;
        let mut at = weighted.len() - 1;
        for (k, w) in weighted.iter().enumerate() {
            if x < w.1 {
                at = k;
                break;
            }
            x -= w.1;
        }
        let id = weighted[at].0;
        if pick.confirm(id) {
            return Ok(id as u32);
        }
        weighted.remove(at);
    }
    outside.into_iter().map(|(i, _)| i).find(|i| pick.confirm(*i)).map(|i| i as u32).ok_or_else(dead_end)
}

/// The log-probability of `id` among the tokens `pick` allows (the model's distribution
/// renormalised over them): 0 where it was the only one.
pub fn log_prob(logits: &[f32], pick: &Pick, id: u32) -> f64 {
    let chosen = logits[id as usize] as f64;
    let (mut max, mut n) = (f64::NEG_INFINITY, 0usize);
    for (i, l) in logits.iter().enumerate() {
        if pick.allows(i) {
            max = max.max(*l as f64);
            n += 1;
        }
    }
    if n <= 1 {
        return 0.0;
    }
    let sum: f64 = logits.iter().enumerate().filter(|(i, _)| pick.allows(*i)).map(|(_, l)| (*l as f64 - max).exp()).sum();
    (chosen - max - sum.ln()).min(0.0)
}

fn dead_end() -> Error {
    Error::Runtime("no token satisfies the schema here (conflicting pattern and length bounds?)".into())
}

fn candidates(logits: &[f32], pick: &Pick) -> Vec<(usize, f32)> {
    logits.iter().enumerate().filter(|(i, _)| pick.allows(*i)).map(|(i, l)| (i, *l)).collect()
}

/// Index of the largest logit passing `ok` (lowest index on ties: deterministic).
pub fn argmax(logits: &[f32], ok: impl Fn(usize) -> bool) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, l) in logits.iter().enumerate() {
        if best.is_none_or(|(_, b)| *l > b) && ok(i) {
            best = Some((i, *l));
        }
    }
    best.map(|b| b.0)
}
