//! `Task`: a task file bound to its shared model, ready to run rows from any thread. A
//! generative task holds its compiled constraint and the KV cache of its fixed prompt
//! prefix; an encoder task (embedding, classification) its encoder and examples.

mod decoding;
mod encoding;
mod runner;
mod stats;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::batch::BatchConfig;
use crate::error::{Error, Result};
use crate::generate::RowStats;
use crate::model::Model;
use crate::task::{Settings, TaskOptions, TaskSource, TaskSpec};
use crate::weak_map::WeakMap;
use decoding::Decoding;
use encoding::Encoding;
use runner::{Mode, Runner};
pub use stats::OpenStats;

/// A loaded task. Cheap to clone; `Send + Sync`; rows may run concurrently (forward
/// passes of one model take turns on its session).
#[derive(Clone)]
pub struct Task {
    inner: Arc<Inner>,
}

/// The open task of its kind, behind the one interface `Task` dispatches through.
struct Inner(Box<dyn Runner>);

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
        self.inner.0.spec()
    }

    /// The task's JSON schema as written.
    pub fn schema(&self) -> &Value {
        &self.spec().ir.source
    }

    pub fn settings(&self) -> &Settings {
        &self.spec().settings
    }

    pub fn open_stats(&self) -> OpenStats {
        self.inner.0.open_stats()
    }

    /// The generative model (`None` for an encoder task).
    pub fn model(&self) -> Option<&Model> {
        self.inner.0.decoder()
    }

    /// The model's name and precision, from its manifest.
    pub fn model_name(&self) -> (&str, &str) {
        self.inner.0.model_name()
    }

    /// Bytes of the model directory's files.
    pub fn model_file_bytes(&self) -> u64 {
        self.inner.0.model_file_bytes()
    }

    /// Native memory the task holds, estimated from what it knows: the model directory's
    /// files (weights and tokenizer are read whole), the constraint index and the
    /// prompt-prefix KV cache, or an encoder's example vectors.
    pub fn native_memory_bytes(&self) -> u64 {
        self.inner.0.native_memory_bytes()
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
        self.inner.0.run(input, deadline, mode)
    }

    /// Runs many inputs, results in input order; one row's error never affects another.
    /// With batching on, up to `max_batch` rows are in flight and share forward passes
    /// (an encoder task's rows go in passes of `max_batch`, grouped by length).
    pub fn run_batch(&self, inputs: &[&str]) -> Vec<Result<Value>> {
        if let Some(rows) = self.inner.0.run_many(inputs) {
            return rows;
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
        self.inner.0.batching()
    }

    /// The full prompt text a row with `input` is decoded from (for inspection; the
    /// input part is tokenized as plain text, so special-token strings in it stay text).
    pub fn prompt_for(&self, input: &str) -> String {
        self.inner.0.prompt_for(input)
    }

    /// The prompt text the model reads for `input`: as `prompt_for`, after a long input is cut
    /// to fit (what `context_overflow_action` keeps of it).
    pub fn fitted_prompt_for(&self, input: &str) -> Result<String> {
        self.inner.0.fitted_prompt_for(input)
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
            return Ok(Inner(Box::new(Encoding::open(spec, opts)?)));
        }
        Ok(Inner(Box::new(Decoding::open(spec, opts, started)?)))
    }
}

