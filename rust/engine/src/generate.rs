//! The decoding loop for one row: jump-forward over forced text, one forward pass
//! per model-chosen token, hard limits, and the final parse + validation.
//!
//! [`RowDecoder`] holds one row's state between forward passes, so the same logic
//! drives a single stream ([`constrained`]) and the batching scheduler, which runs
//! many decoders through one forward pass per step.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::cache::{self, Slots, MAX_PASS_TOKENS};
use crate::confidence::{self, Calibration, Choice};
use crate::constraint::{Compiled, RowConstraint};
use crate::error::{Error, Result};
use crate::model::{Kv, Model};
use crate::sampler::{self, Sampling};
use crate::tokens::TokenText;

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
    /// Wall time of this row's forward passes (a shared pass counts fully for every
    /// row in it).
    pub forward_time: Duration,
    /// Time spent in the constraint (masks, tracker, forced text and its tokenizing).
    pub constraint_time: Duration,
    /// Time between submitting the row and its first forward pass (batching queue).
    pub queue_time: Duration,
    /// Rows in the forward passes of this row, summed over its steps (mean batch
    /// size = this / decode_steps).
    pub batch_rows: usize,
    /// Where the forward time goes, each pass counted as this row's share of it (pass
    /// time x the row's tokens / the pass's tokens): the first pass (prompt), passes that
    /// carry a jump-forward chunk, and one-token passes.
    pub prefill_time: Duration,
    pub chunk_passes: usize,
    pub chunk_time: Duration,
    /// Rows fed in the row's first pass, and summed over its chunk passes: above 1 (per
    /// pass) when prompts and jump-forward text shared passes with other rows.
    pub prefill_rows: usize,
    pub chunk_rows: usize,
    pub token_passes: usize,
    pub token_time_share: Duration,
    pub total_time: Duration,
    /// Each label field's calibrated confidence, by path, in the order written; empty unless
    /// the task asks for confidence (`confidence::calibrated`).
    pub confidence: Vec<(String, f64)>,
    /// The same labels' raw probabilities (what a calibration is fitted on).
    pub labels: Vec<confidence::LabelProbability>,
}

/// One forward pass as a row sees it: its wall time and what it carried.
#[derive(Debug, Clone, Copy)]
pub struct PassShare {
    pub wall: Duration,
    /// Rows fed in the pass.
    pub rows: usize,
    /// Tokens fed in the pass, all rows together.
    pub tokens: usize,
}

impl PassShare {
    /// A pass of one row alone.
    pub fn alone(wall: Duration, tokens: usize) -> PassShare {
        PassShare { wall, rows: 1, tokens }
    }

    /// The share of the pass's time that `fed` of its tokens account for.
    fn share(&self, fed: usize) -> Duration {
        self.wall.mul_f64(fed as f64 / self.tokens.max(1) as f64)
    }
}

impl RowStats {
    /// Adds another row's figures (totals over many rows, e.g. for `flinkllm bench`).
    pub fn add(&mut self, o: &RowStats) {
        self.prompt_tokens += o.prompt_tokens;
        self.generated_tokens += o.generated_tokens;
        self.forced_tokens += o.forced_tokens;
        self.decode_steps += o.decode_steps;
        self.forward_time += o.forward_time;
        self.constraint_time += o.constraint_time;
        self.queue_time += o.queue_time;
        self.batch_rows += o.batch_rows;
        self.prefill_time += o.prefill_time;
        self.chunk_passes += o.chunk_passes;
        self.chunk_time += o.chunk_time;
        self.prefill_rows += o.prefill_rows;
        self.chunk_rows += o.chunk_rows;
        self.token_passes += o.token_passes;
        self.token_time_share += o.token_time_share;
        self.total_time += o.total_time;
    }
}


#[derive(Debug, Clone, Copy)]
pub struct RowLimits {
    pub max_new_tokens: usize,
    pub context_length: usize,
    /// Stop with `RowTimeout` once this instant has passed (checked every step).
    pub deadline: Option<Instant>,
}

/// One row between forward passes.
pub struct RowDecoder<'a> {
    compiled: &'a Compiled,
    rc: RowConstraint<'a>,
    rng: ChaCha8Rng,
    sampling: Sampling,
    limits: RowLimits,
    pub stats: RowStats,
    started: Instant,
    /// Tokens to feed in the next forward pass.
    pending: Vec<u32>,
    /// Positions already in this row's cache (prefix included).
    cached: usize,
    /// With the task's calibration when it asks for confidence: the model's choices so far.
    confidence: Option<(&'a Calibration, Vec<Choice>)>,
}

impl<'a> RowDecoder<'a> {
    /// A row to decode after `cached` tokens of prefix cache, from its remaining `prompt`.
    pub fn new(
        compiled: &'a Compiled,
        cached: usize,
        prompt: Vec<u32>,
        sampling: Sampling,
        rng_input: &str,
        limits: RowLimits,
        confidence: Option<&'a Calibration>,
    ) -> Self {
        RowDecoder {
            compiled,
            rc: RowConstraint::new(compiled),
            rng: sampler::row_rng(sampling.seed, rng_input),
            sampling,
            limits,
            stats: RowStats { prompt_tokens: prompt.len(), ..Default::default() },
            started: Instant::now(),
            pending: prompt,
            cached,
            confidence: confidence.map(|c| (c, Vec::new())),
        }
    }

    /// Runs the constraint up to the next forward pass (jump-forward, limits).
    /// `Ok(None)`: feed [`Self::pending`] next; `Ok(Some(..))`: the row is finished.
    pub fn prepare(&mut self, tokens: &TokenText) -> Result<Option<(Value, RowStats)>> {
        let t = Instant::now();
        let forced = self.rc.forced_text();
        if !forced.is_empty() {
            let mut ids = tokens.encode_plain(&forced)?;
            // Token healing where a container closes inside the answer: the closing token is left
            // to the model (under the mask), so it can pick one that also covers the separator
            // (`},` rather than `}` and then `,`). Fed a lone `}` the models here nearly always
            // closed the list after its first item (measured: one entity per list). Elsewhere the
            // forced text stays whole: healing every boundary cost 13% of rows/s for no gain.
            if forced.ends_with(['}', ']']) && !self.rc.ends_answer(&forced) {
                ids.pop();
            }
            ids.truncate(self.limits.max_new_tokens.saturating_sub(self.stats.generated_tokens) + 1);
            let n = self.rc.take_forced(tokens, &ids)?;
            self.pending.extend_from_slice(&ids[..n]);
            self.stats.generated_tokens += n;
            self.stats.forced_tokens += n;
        }
        let complete = self.rc.is_complete();
        self.stats.constraint_time += t.elapsed();
        if self.stats.generated_tokens > self.limits.max_new_tokens {
            return Err(self.over_limit());
        }
        if complete {
            return self.finish().map(Some);
        }
        if self.stats.generated_tokens >= self.limits.max_new_tokens {
            return Err(self.over_limit());
        }
        if self.limits.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::RowTimeout(format!(
                "row deadline reached after {} ms and {} output tokens",
                self.started.elapsed().as_millis(),
                self.stats.generated_tokens
            )));
        }
        if self.cached + self.pending.len() >= self.limits.context_length {
            return Err(Error::GenerationLimit(format!(
                "context window of {} tokens reached before the JSON was complete",
                self.limits.context_length
            )));
        }
        Ok(None)
    }

    /// Tokens for the next forward pass (never empty after `prepare` returned `None`): the
    /// pending ones, at most `MAX_PASS_TOKENS` of them. A function of the row alone, so a
    /// row's prompt is cut into the same passes alone and in a batch.
    pub fn feed(&self) -> &[u32] {
        &self.pending[..self.pending.len().min(MAX_PASS_TOKENS)]
    }

    /// Positions already cached for this row (the first pending token's position).
    pub fn cached(&self) -> usize {
        self.cached
    }

    /// Takes the pass that fed the first `fed` pending tokens: once every pending
    /// token is in the cache, chooses the next token from the last position's logits.
    /// `Ok(Some(..))`: the row is finished.
    pub fn accept(&mut self, tokens: &TokenText, logits: &[f32], fed: usize, pass: PassShare) -> Result<Option<(Value, RowStats)>> {
        let share = pass.share(fed);
        if self.stats.decode_steps == 0 {
            self.stats.queue_time = self.started.elapsed().saturating_sub(pass.wall);
            self.stats.prefill_time += share;
            self.stats.prefill_rows += pass.rows;
        } else if fed > 1 {
            self.stats.chunk_passes += 1;
            self.stats.chunk_time += share;
            self.stats.chunk_rows += pass.rows;
        } else {
            self.stats.token_passes += 1;
            self.stats.token_time_share += share;
        }
        self.stats.forward_time += pass.wall;
        self.stats.decode_steps += 1;
        self.stats.batch_rows += pass.rows;
        let fed = fed.min(self.pending.len());
        self.cached += fed;
        self.pending.drain(..fed);
        if !self.pending.is_empty() {
            return Ok(None);
        }
        let t = Instant::now();
        let pick = self.rc.pick(tokens)?;
        let id = sampler::choose(logits, &pick, &self.sampling, &mut self.rng)?;
        let logp = self.confidence.is_some().then(|| sampler::log_prob(logits, &pick, id));
        let start = self.rc.text.len();
        let stop = self.rc.advance(tokens, id)?;
        if let (Some((_, choices)), Some(logp)) = (self.confidence.as_mut(), logp) {
            choices.push(Choice { start, end: self.rc.text.len(), logp });
        }
        self.stats.constraint_time += t.elapsed();
        if stop {
            return self.finish().map(Some);
        }
        self.pending.push(id);
        self.stats.generated_tokens += 1;
        Ok(None)
    }

    fn over_limit(&self) -> Error {
        Error::GenerationLimit(format!(
            "max_new_tokens={} reached before the JSON was complete ({} bytes written); a schema whose arrays are all bounded \
             (maxItems) gets a cap no valid answer reaches when max_new_tokens is left unset",
            self.limits.max_new_tokens,
            self.rc.text.len()
        ))
    }

    fn finish(&mut self) -> Result<(Value, RowStats)> {
        self.rc.finish()?;
        let text = String::from_utf8(std::mem::take(&mut self.rc.text))
            .map_err(|_| Error::Runtime("output is not valid UTF-8".into()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Runtime(format!("output is not JSON ({e}): {text}")))?;
        self.compiled
            .validator
            .validate(&value)
            .map_err(|e| Error::Runtime(format!("output failed schema validation ({e}): {text}")))?;
        let mut stats = self.stats.clone();
        if let Some((calibration, choices)) = &self.confidence {
            stats.labels = confidence::label_probabilities(&self.compiled.ir, text.as_bytes(), choices);
            stats.confidence = confidence::calibrated(&stats.labels, calibration);
        }
        stats.total_time = self.started.elapsed();
        Ok((value, stats))
    }
}

/// Decodes one row alone from `past` (the task's prefix cache) and `prompt` (the
/// row's remaining prompt tokens).
pub fn constrained(
    model: &Model,
    compiled: &Compiled,
    past: &Kv,
    prompt: Vec<u32>,
    sampling: &Sampling,
    rng_input: &str,
    limits: &RowLimits,
    confidence: Option<&Calibration>,
) -> Result<(Value, RowStats)> {
    let tokens = &model.tokens;
    let mut row = RowDecoder::new(compiled, past.len, prompt, *sampling, rng_input, *limits, confidence);
    // Packed models: the row's own cache (after the shared prefix `past`) grows in place,
    // as a batch of one. Others: each pass returns the whole cache.
    let mut slots = if model.is_packed() { Some(Slots::single(model, 64)?) } else { None };
    let mut kv: Option<Kv> = None;
    loop {
        if let Some(done) = row.prepare(tokens)? {
            return Ok(done);
        }
        let t = Instant::now();
        let fed = row.feed().len();
        let logits = match slots.as_mut() {
            Some(slots) => slots.pass(model, past, &[Some(row.feed())])?,
            None => {
                let step = cache::forward(model, row.feed(), kv.as_ref().unwrap_or(past))?;
                kv = Some(step.kv);
                step.logits
            }
        };
        if let Some(done) = row.accept(tokens, &logits, fed, PassShare::alone(t.elapsed(), fed))? {
            return Ok(done);
        }
    }
}

/// Greedy decoding without any constraint, for checking fidelity against a reference
/// decoder. `split` feeds the prompt in two passes (prefix, then the rest) to exercise
/// the same cache reuse that tasks rely on.
pub fn unconstrained(model: &Model, prompt: &[u32], max_new: usize, split: Option<usize>) -> Result<Vec<u32>> {
    let stops = model.manifest.stop_ids();
    let mut kv = model.empty_kv()?;
    let mut rest = prompt.to_vec();
    if let Some(k) = split.filter(|k| *k > 0 && *k < prompt.len()) {
        kv = cache::forward(model, &prompt[..k], &kv)?.kv;
        rest = prompt[k..].to_vec();
    }
    let mut out = Vec::new();
    while out.len() < max_new {
        let step = cache::forward(model, &rest, &kv)?;
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
