//! An open generative task: its model, compiled constraint and the KV cache of its fixed
//! prompt prefix; rows run alone or through the batching worker.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use super::runner::{Mode, Runner};
use super::stats::OpenStats;
use crate::batch::{BatchConfig, Request, Scheduler, Shared};
use crate::constraint::{compile, Compiled};
use crate::error::{Error, Result};
use crate::generate::{self, RowLimits, RowStats};
use crate::model::{Kv, Model};
use crate::overflow::ContextOverflow;
use crate::prompt::{self, Message};
use crate::registry;
use crate::sampler::Sampling;
use crate::task::{TaskOptions, TaskSpec};

pub(super) struct Decoding {
    spec: TaskSpec,
    model: Arc<Model>,
    constraint: Arc<Compiled>,
    prefix: Arc<Kv>,
    /// How rows share forward passes (part of the task's identity: `TaskOptions::batch`).
    batch: BatchConfig,
    /// The batching worker, started by the first batched row.
    scheduler: Mutex<Option<Arc<Scheduler>>>,
    /// The prompt tokens after the input: end of the user turn, start of the answer.
    suffix: Vec<u32>,
    /// The rendered prompt around the input, for inspection.
    parts: prompt::PromptParts,
    stats: OpenStats,
}

impl Decoding {
    pub(super) fn open(mut spec: TaskSpec, opts: &TaskOptions, started: Instant) -> Result<Decoding> {
        let loads_before = registry::model_loads();
        let model = registry::model(&spec.model_dir, spec.settings.threads, opts.ort_library.as_deref())?;
        let model_load_ms = if registry::model_loads() > loads_before { model.load_ms } else { 0.0 };
        let m = &model.manifest;
        let constraint = compile(&spec.ir, &model.tokens, &m.stop_ids())?;

        let mut messages = Vec::new();
        let system = spec.system_message();
        if !system.is_empty() {
            messages.push(Message { role: "system", content: system });
        }
        for ex in &spec.examples {
            messages.push(Message { role: "user", content: spec.templated(&ex.input).into_owned() });
            messages.push(Message { role: "assistant", content: spec.example_answer(ex) });
        }
        let parts = prompt::split_prompt(
            &m.chat_template,
            m.bos_token.as_deref(),
            m.eos_token.as_deref(),
            messages,
            &spec.input_template,
        )?;
        let prefix_ids = model.tokens.encode_template(&parts.before)?;
        let suffix = model.tokens.encode_template(&parts.after)?;
        let fixed = prefix_ids.len() + suffix.len();
        if spec.settings.cap_derived && fixed + spec.settings.max_new_tokens >= model.context_length() {
            // A derived cap larger than the context would refuse the task: keep half of what
            // the prompt leaves for the answer and half for the input.
            spec.settings.max_new_tokens = spec.settings.max_new_tokens.min(model.context_length().saturating_sub(fixed) / 2).max(1);
        }
        if prefix_ids.len() + suffix.len() + spec.settings.max_new_tokens >= model.context_length() {
            return Err(Error::InvalidTask(format!(
                "{}: prompt prefix ({} tokens) + max_new_tokens ({}) exceed the model's context of {}",
                spec.origin,
                prefix_ids.len(),
                spec.settings.max_new_tokens,
                model.context_length()
            )));
        }
        let t = Instant::now();
        let empty = model.empty_kv()?;
        let prefix = if prefix_ids.is_empty() { empty } else { crate::cache::forward(&model, &prefix_ids, &empty)?.kv };
        let prefix_ms = t.elapsed().as_secs_f64() * 1e3;
        let stats = OpenStats {
            open_ms: started.elapsed().as_secs_f64() * 1e3,
            model_load_ms,
            index_build_ms: constraint.build_ms,
            index_bytes: constraint.bytes(),
            prefix_tokens: prefix_ids.len(),
            prefix_ms,
        };
        let scheduler = Mutex::new(None);
        Ok(Decoding { spec, model, constraint, prefix: Arc::new(prefix), batch: opts.batch, scheduler, suffix, parts, stats })
    }

    /// The running batching worker, or `None` when rows run alone (`max_batch` 1).
    fn scheduler(&self) -> Result<Option<Arc<Scheduler>>> {
        if self.batch.max_batch <= 1 || !self.model.manifest.can_batch() {
            return Ok(None);
        }
        let mut running = self.scheduler.lock().map_err(|_| Error::Runtime("batching lock poisoned".into()))?;
        if running.is_none() {
            let shared = Shared {
                model: self.model.clone(),
                compiled: self.constraint.clone(),
                prefix: self.prefix.clone(),
                config: self.batch,
                confidence: self.spec.settings.confidence.clone(),
            };
            *running = Some(Arc::new(Scheduler::start(shared)?));
        }
        Ok(running.clone())
    }

    /// The row's prompt after the cached prefix: its input's tokens, cut to the room the
    /// context leaves (`context_overflow`), then the suffix. Only the input is ever cut: the
    /// template's text around it is in the prefix and suffix.
    fn row_ids(&self, input: &str) -> Result<Vec<u32>> {
        let s = &self.spec.settings;
        let tokens = &self.model.tokens;
        // The template's own text around {input} is already in the prefix and suffix.
        let mut ids = tokens.encode_plain(input)?;
        let ctx = self.model.context_length();
        let window_room = ctx.saturating_sub(self.prefix.len + self.suffix.len() + s.max_new_tokens);
        let room = s.max_context_size.map_or(window_room, |cap| cap.min(window_room));
        if ids.len() > room {
            match s.context_overflow {
                ContextOverflow::Error => {
                    return Err(Error::InputTooLong(format!(
                        "input is {} tokens; this task leaves room for {room} (context {ctx}, prompt prefix {}, max_new_tokens {}, max_context_size {})",
                        ids.len(),
                        self.prefix.len,
                        s.max_new_tokens,
                        s.max_context_size.map_or("none".to_string(), |c| c.to_string())
                    )))
                }
                ContextOverflow::TruncateTail => ids.truncate(room),
                ContextOverflow::TruncateHead => {
                    ids.drain(..ids.len() - room);
                }
            }
        }
        ids.extend_from_slice(&self.suffix);
        Ok(ids)
    }

    fn run_with(&self, input: &str, deadline: Option<Instant>, mode: Mode) -> Result<(Value, RowStats)> {
        let s = &self.spec.settings;
        let ctx = self.model.context_length();
        let ids = self.row_ids(input)?;
        let sampling = Sampling { temperature: s.temperature, top_p: s.top_p, seed: s.seed };
        let limits = RowLimits { max_new_tokens: s.max_new_tokens, context_length: ctx, deadline };
        let scheduler = match mode {
            Mode::Batched => self.scheduler()?,
            Mode::Single => None,
        };
        match scheduler {
            Some(s) => s.run(Request { ids, sampling, rng_input: input.to_string(), limits }),
            None => generate::constrained(&self.model, &self.constraint, &self.prefix, ids, &sampling, input, &limits, s.confidence.as_ref()),
        }
    }
}

impl Runner for Decoding {
    fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    fn open_stats(&self) -> OpenStats {
        self.stats
    }

    fn model_name(&self) -> (&str, &str) {
        (&self.model.manifest.name, &self.model.manifest.precision)
    }

    fn model_file_bytes(&self) -> u64 {
        self.model.file_bytes()
    }

    fn native_memory_bytes(&self) -> u64 {
        self.model.file_bytes() + self.stats.index_bytes as u64 + self.model.kv_bytes(self.stats.prefix_tokens)
    }

    fn batching(&self) -> BatchConfig {
        self.batch
    }

    fn run(&self, input: &str, deadline: Option<Instant>, mode: Mode) -> Result<(Value, RowStats)> {
        self.run_with(input, deadline, mode)
    }

    fn prompt_for(&self, input: &str) -> String {
        format!("{}{}{}", self.parts.before, input, self.parts.after)
    }

    fn fitted_prompt_for(&self, input: &str) -> Result<String> {
        let ids = self.row_ids(input)?;
        let text = self.model.tokens.text_of(&ids[..ids.len() - self.suffix.len()]);
        Ok(format!("{}{}{}", self.parts.before, String::from_utf8_lossy(&text), self.parts.after))
    }

    fn decoder(&self) -> Option<&Model> {
        Some(&self.model)
    }
}
