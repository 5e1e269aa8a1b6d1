//! `Task`: a task file bound to its shared model, ready to run rows from any thread. A
//! generative task holds its compiled constraint and the KV cache of its fixed prompt
//! prefix; an encoder task (embedding, classification) its encoder and examples.

mod encoding;
mod stats;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::batch::{BatchConfig, Request, Scheduler, Shared};
use crate::constraint::{compile, Compiled};
use crate::overflow::ContextOverflow;
use crate::error::{Error, Result};
use crate::generate::{self, RowLimits, RowStats};
use crate::model::{Kv, Model};
use crate::prompt::{self, Message};
use crate::registry;
use crate::sampler::Sampling;
use crate::task::{Settings, TaskOptions, TaskSource, TaskSpec};
use crate::weak_map::WeakMap;
use encoding::EncoderTask;
pub use stats::OpenStats;

/// A loaded task. Cheap to clone; `Send + Sync`; rows may run concurrently (forward
/// passes of one model take turns on its session).
#[derive(Clone)]
pub struct Task {
    inner: Arc<Inner>,
}

enum Inner {
    Decoding(Decoding),
    Encoding { spec: TaskSpec, task: EncoderTask },
}

struct Decoding {
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

#[derive(Clone, Copy)]
enum Mode {
    Single,
    Batched,
}

/// Open tasks, one per (task file, options): every caller with the same options (Flink
/// slots, async rows) shares the prefix cache, the constraint and the batches.
static TASKS: WeakMap<(TaskSource, TaskOptions), Inner> = WeakMap::new("task");

impl Task {
    /// Loads a task (or returns the already-open one for the same file and options;
    /// options that differ, `batch` included, open a task of their own over the same model).
    pub fn load(path: &Path, opts: &TaskOptions) -> Result<Task> {
        Self::load_source(TaskSource::File(path.to_path_buf()), opts)
    }

    /// Like `load`, for a task file or a task document (`TaskSource::Inline`); equal
    /// documents with equal options share one open task, as files do.
    pub fn load_source(source: TaskSource, opts: &TaskOptions) -> Result<Task> {
        let source = match source {
            TaskSource::File(path) => TaskSource::File(
                path.canonicalize().map_err(|e| Error::InvalidTask(format!("{}: {e}", path.display())))?,
            ),
            inline => inline,
        };
        let inner = TASKS.get_or_try_insert((source.clone(), opts.clone()), || Inner::open(&source, opts))?;
        Ok(Task { inner })
    }

    /// Whether two handles share one open task.
    pub fn same_task(&self, other: &Task) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn spec(&self) -> &TaskSpec {
        match &*self.inner {
            Inner::Decoding(d) => &d.spec,
            Inner::Encoding { spec, .. } => spec,
        }
    }

    /// The task's JSON schema as written.
    pub fn schema(&self) -> &Value {
        &self.spec().ir.source
    }

    pub fn settings(&self) -> &Settings {
        &self.spec().settings
    }

    pub fn open_stats(&self) -> OpenStats {
        match &*self.inner {
            Inner::Decoding(d) => d.stats,
            Inner::Encoding { task, .. } => task.stats,
        }
    }

    /// The generative model (`None` for an encoder task).
    pub fn model(&self) -> Option<&Model> {
        match &*self.inner {
            Inner::Decoding(d) => Some(&d.model),
            Inner::Encoding { .. } => None,
        }
    }

    /// The model's name and precision, from its manifest.
    pub fn model_name(&self) -> (&str, &str) {
        match &*self.inner {
            Inner::Decoding(d) => (&d.model.manifest.name, &d.model.manifest.precision),
            Inner::Encoding { task, .. } => (&task.encoder().manifest.name, &task.encoder().manifest.precision),
        }
    }

    /// Bytes of the model directory's files.
    pub fn model_file_bytes(&self) -> u64 {
        match &*self.inner {
            Inner::Decoding(d) => d.model.file_bytes(),
            Inner::Encoding { task, .. } => task.encoder().file_bytes(),
        }
    }

    /// Native memory the task holds, estimated from what it knows: the model directory's
    /// files (weights and tokenizer are read whole), the constraint index and the
    /// prompt-prefix KV cache, or an encoder's example vectors.
    pub fn native_memory_bytes(&self) -> u64 {
        match &*self.inner {
            Inner::Decoding(d) => d.model.file_bytes() + d.stats.index_bytes as u64 + d.model.kv_bytes(d.stats.prefix_tokens),
            Inner::Encoding { task, .. } => task.native_memory_bytes(),
        }
    }

    /// Runs one input; the value always matches the schema.
    pub fn run(&self, input: &str) -> Result<Value> {
        self.run_with_stats(input).map(|(v, _)| v)
    }

    pub fn run_with_stats(&self, input: &str) -> Result<(Value, RowStats)> {
        self.run_with(input, None, Mode::Batched)
    }

    /// Like `run_with_stats`, but a row still decoding at `deadline` stops with
    /// `RowTimeout` (checked between forward passes; an encoder row is one pass).
    pub fn run_with_deadline(&self, input: &str, deadline: Option<Instant>) -> Result<(Value, RowStats)> {
        self.run_with(input, deadline, Mode::Batched)
    }

    /// Like `run_with_deadline`, with the deadline `timeout` from now.
    pub fn run_with_timeout(&self, input: &str, timeout: Option<std::time::Duration>) -> Result<(Value, RowStats)> {
        self.run_with(input, timeout.map(|t| Instant::now() + t), Mode::Batched)
    }

    /// Runs one input alone on this thread, bypassing the batching worker (the
    /// reference that batched results must equal).
    pub fn run_single_stream(&self, input: &str) -> Result<(Value, RowStats)> {
        self.run_with(input, None, Mode::Single)
    }

    fn run_with(&self, input: &str, deadline: Option<Instant>, mode: Mode) -> Result<(Value, RowStats)> {
        match &*self.inner {
            Inner::Decoding(d) => d.run_with(input, deadline, mode),
            Inner::Encoding { spec, task } => task.run(spec, input),
        }
    }

    /// Runs many inputs, results in input order; one row's error never affects another.
    /// With batching on, up to `max_batch` rows are in flight and share forward passes
    /// (an encoder task's rows go in passes of `max_batch`, grouped by length).
    pub fn run_batch(&self, inputs: &[&str]) -> Vec<Result<Value>> {
        if let Inner::Encoding { spec, task } = &*self.inner {
            return task.run_many(spec, inputs);
        }
        let width = self.batching().max_batch.clamp(1, inputs.len().max(1));
        if width == 1 {
            return inputs.iter().map(|i| self.run(i)).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<Mutex<Option<Result<Value>>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..width {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let r = self.run(input);
                    if let Ok(mut slot) = done[i].lock() {
                        *slot = Some(r);
                    }
                });
            }
        });
        done.into_iter()
            .map(|m| {
                m.into_inner()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Err(Error::Runtime("row thread panicked".into())))
            })
            .collect()
    }

    /// How this task batches rows (`TaskOptions::batch`). Rows of models that cannot batch
    /// without changing results (`Manifest::can_batch`: optimum exports, int4) run alone
    /// whatever it says.
    pub fn batching(&self) -> BatchConfig {
        match &*self.inner {
            Inner::Decoding(d) => d.batch,
            Inner::Encoding { task, .. } => task.batch,
        }
    }

    /// The full prompt text a row with `input` is decoded from (for inspection; the
    /// input part is tokenized as plain text, so special-token strings in it stay text).
    pub fn prompt_for(&self, input: &str) -> String {
        match &*self.inner {
            Inner::Decoding(d) => format!("{}{}{}", d.parts.before, input, d.parts.after),
            Inner::Encoding { .. } => input.to_string(),
        }
    }

    /// The prompt text the model reads for `input`: as `prompt_for`, after a long input is cut
    /// to fit (what `context_overflow_action` keeps of it).
    pub fn fitted_prompt_for(&self, input: &str) -> Result<String> {
        match &*self.inner {
            Inner::Decoding(d) => {
                let ids = d.row_ids(input)?;
                let text = d.model.tokens.text_of(&ids[..ids.len() - d.suffix.len()]);
                Ok(format!("{}{}{}", d.parts.before, String::from_utf8_lossy(&text), d.parts.after))
            }
            Inner::Encoding { .. } => Ok(input.to_string()),
        }
    }

    /// One throw-away row, so the first real row does not pay one-time costs.
    pub fn warm_up(&self) -> Result<()> {
        match self.run("warm-up") {
            Ok(_) | Err(Error::GenerationLimit(_) | Error::RowTimeout(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Inner {
    fn open(source: &TaskSource, opts: &TaskOptions) -> Result<Inner> {
        let started = Instant::now();
        let spec = TaskSpec::from_source(source, opts)?;
        if spec.kind.is_encoder() {
            let task = EncoderTask::open(&spec, opts)?;
            return Ok(Inner::Encoding { spec, task });
        }
        Decoding::open(spec, opts, started).map(Inner::Decoding)
    }
}

impl Decoding {
    fn open(mut spec: TaskSpec, opts: &TaskOptions, started: Instant) -> Result<Decoding> {
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
            messages.push(Message { role: "user", content: spec.input_template.replace("{input}", &ex.input) });
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
