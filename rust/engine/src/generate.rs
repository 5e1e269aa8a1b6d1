//! The decoding loop for one row: jump-forward over forced text, one forward pass
//! per model-chosen token, hard limits, and the final parse + validation.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::constraint::{Compiled, RowConstraint};
use crate::error::{Error, Result};
use crate::model::{Kv, Model};
use crate::sampler::{self, Sampling};

/// Figures about one row, for `flinkllm bench` and metrics.
#[derive(Debug, Clone, Default)]
pub struct RowStats {
    /// Prompt tokens of the row itself (input + turn end), after the cached prefix.
    pub prompt_tokens: usize,
    /// All output tokens: chosen by the model plus appended by jump-forward.
    pub generated_tokens: usize,
    pub forced_tokens: usize,
    /// Forward passes (the first one also carries the prompt).
    pub decode_steps: usize,
    pub forward_time: Duration,
    /// Time spent in the constraint (masks, tracker, forced text and its tokenizing).
    pub constraint_time: Duration,
    pub total_time: Duration,
}

pub struct RowLimits {
    pub max_new_tokens: usize,
    pub context_length: usize,
    /// Stop with `GenerationLimit` once this instant has passed (checked every step).
    pub deadline: Option<Instant>,
}

/// Decodes one row from `past` (the task's prefix cache) and `prompt` (the row's
/// remaining prompt tokens).
pub fn constrained(
    model: &Model,
    compiled: &Compiled,
    past: &Kv,
    prompt: Vec<u32>,
    sampling: &Sampling,
    rng_input: &str,
    limits: &RowLimits,
) -> Result<(Value, RowStats)> {
    let started = Instant::now();
    let tokens = &model.tokens;
    let mut stats = RowStats { prompt_tokens: prompt.len(), ..Default::default() };
    let mut rng = sampler::row_rng(sampling.seed, rng_input);
    let mut rc = RowConstraint::new(compiled);
    let mut pending = prompt;
    let mut kv: Option<Kv> = None;
    loop {
        let t = Instant::now();
        let forced = rc.forced_text();
        if !forced.is_empty() {
            let mut ids = tokens.encode_plain(&forced)?;
            ids.truncate(limits.max_new_tokens.saturating_sub(stats.generated_tokens) + 1);
            let n = rc.take_forced(tokens, &ids)?;
            pending.extend_from_slice(&ids[..n]);
            stats.generated_tokens += n;
            stats.forced_tokens += n;
        }
        let complete = rc.is_complete();
        stats.constraint_time += t.elapsed();
        if stats.generated_tokens > limits.max_new_tokens {
            break;
        }
        if complete {
            return finish(rc, compiled, stats, started);
        }
        if stats.generated_tokens >= limits.max_new_tokens {
            break;
        }
        if limits.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::GenerationLimit(format!(
                "row deadline reached after {} ms and {} output tokens",
                started.elapsed().as_millis(),
                stats.generated_tokens
            )));
        }
        let past_len = kv.as_ref().map_or(past.len, |k| k.len);
        if past_len + pending.len() >= limits.context_length {
            return Err(Error::GenerationLimit(format!(
                "context window of {} tokens reached before the JSON was complete",
                limits.context_length
            )));
        }
        let t = Instant::now();
        let step = model.forward(&pending, kv.as_ref().unwrap_or(past))?;
        stats.forward_time += t.elapsed();
        stats.decode_steps += 1;
        kv = Some(step.kv);
        pending.clear();

        let t = Instant::now();
        let pick = rc.pick(tokens)?;
        let id = sampler::choose(&step.logits, &pick, sampling, &mut rng)?;
        let stop = rc.advance(tokens, id)?;
        stats.constraint_time += t.elapsed();
        if stop {
            return finish(rc, compiled, stats, started);
        }
        pending.push(id);
        stats.generated_tokens += 1;
    }
    Err(Error::GenerationLimit(format!(
        "max_new_tokens={} reached before the JSON was complete ({} bytes written)",
        limits.max_new_tokens,
        rc.text.len()
    )))
}

fn finish(mut rc: RowConstraint, compiled: &Compiled, mut stats: RowStats, started: Instant) -> Result<(Value, RowStats)> {
    rc.finish()?;
    let text = String::from_utf8(std::mem::take(&mut rc.text))
        .map_err(|_| Error::Runtime("output is not valid UTF-8".into()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Runtime(format!("output is not JSON ({e}): {text}")))?;
    compiled
        .validator
        .validate(&value)
        .map_err(|e| Error::Runtime(format!("output failed schema validation ({e}): {text}")))?;
    stats.total_time = started.elapsed();
    Ok((value, stats))
}

/// Greedy decoding without any constraint, for checking fidelity against a reference
/// decoder. `split` feeds the prompt in two passes (prefix, then the rest) to exercise
/// the same cache reuse that tasks rely on.
pub fn unconstrained(model: &Model, prompt: &[u32], max_new: usize, split: Option<usize>) -> Result<Vec<u32>> {
    let stops = model.manifest.stop_ids();
    let mut kv = model.empty_kv()?;
    let mut rest = prompt.to_vec();
    if let Some(k) = split.filter(|k| *k > 0 && *k < prompt.len()) {
        kv = model.forward(&prompt[..k], &kv)?.kv;
        rest = prompt[k..].to_vec();
    }
    let mut out = Vec::new();
    while out.len() < max_new {
        let step = model.forward(&rest, &kv)?;
        kv = step.kv;
        let id = sampler::argmax(&step.logits, |_| true)
            .ok_or_else(|| Error::Runtime("empty logits".into()))? as u32;
        out.push(id);
        if stops.contains(&id) {
            break;
        }
        rest = vec![id];
    }
    Ok(out)
}
