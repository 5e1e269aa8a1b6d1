//! The engine calls the binding makes, in one place.

use crate::error::JniError;
use crate::shape::{row_shape, Shape};
use flinkllm_engine::schema::SchemaIr;
use flinkllm_engine::tokens::TokenText;
use flinkllm_engine::{BatchConfig, ContextOverflow, Error, Manifest, Result, RowStats, Task, TaskOptions, TaskSpec};
use once_cell::sync::OnceCell;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The ONNX Runtime library Java loaded, handed to every task so the engine binds to it.
static ORT_LIBRARY: OnceCell<PathBuf> = OnceCell::new();

pub struct OpenTask {
    pub task: Task,
    pub shape: Shape,
}

/// Caller overrides of the task file (the UDF's `max-tokens`, `context-overflow-action`).
#[derive(Default)]
pub struct Overrides {
    pub max_new_tokens: Option<usize>,
    pub context_overflow: Option<ContextOverflow>,
}

fn options(overrides: Overrides) -> TaskOptions {
    TaskOptions {
        ort_library: ORT_LIBRARY.get().cloned(),
        max_new_tokens: overrides.max_new_tokens,
        context_overflow: overrides.context_overflow,
        ..TaskOptions::default()
    }
}

pub fn init(ort_path: &str) -> Result<()> {
    let path = flinkllm_engine::init_runtime(Some(Path::new(ort_path)))?;
    let _ = ORT_LIBRARY.set(path);
    Ok(())
}

pub fn task_schema(task_path: &str) -> Result<SchemaIr> {
    Ok(TaskSpec::load(Path::new(task_path), &options(Overrides::default()))?.ir)
}

/// Everything about the task's model directory that can be checked without loading the
/// graph: manifest, tokenizer, graph file. Errors name the task file and the model file.
pub fn check_model(task_path: &str) -> Result<()> {
    let spec = TaskSpec::load(Path::new(task_path), &options(Overrides::default()))?;
    let in_task = |e: Error| Error::ModelLoad(format!("{task_path}: model {}: {}", spec.model_dir.display(), e.reason()));
    let manifest = Manifest::load(&spec.model_dir).map_err(in_task)?;
    TokenText::load(&spec.model_dir, manifest.vocab_size, manifest.eos_token_id).map_err(in_task)?;
    let graph = spec.model_dir.join("model.onnx");
    if !graph.is_file() {
        return Err(in_task(Error::ModelLoad(format!("{} is missing", graph.display()))));
    }
    Ok(())
}

pub fn open(task_path: &str, overrides: Overrides) -> Result<OpenTask> {
    let task = Task::load(Path::new(task_path), &options(overrides))?;
    let shape = row_shape(&task.spec().ir).map_err(|m| Error::UnsupportedSchema(format!("{task_path}: {m}")))?;
    Ok(OpenTask { task, shape })
}

/// How the task batches rows: `max_batch` rows per forward pass (1 = each row alone on its
/// caller's thread); `queue_capacity` 0 and a negative `max_wait_micros` keep the engine's
/// defaults for them.
pub fn set_batching(task: &OpenTask, max_batch: usize, queue_capacity: usize, max_wait_micros: i64) -> Result<()> {
    if max_batch == 0 {
        return Err(Error::InvalidInput("max_batch must be at least 1".into()));
    }
    let mut config = BatchConfig::batched(max_batch);
    if queue_capacity > 0 {
        config.queue_capacity = queue_capacity;
    }
    if max_wait_micros >= 0 {
        config.max_wait = Duration::from_micros(max_wait_micros as u64);
    }
    task.task.set_batching(config)
}

pub fn warm_up(task: &OpenTask) -> Result<()> {
    task.task.warm_up()
}

/// Test-only hook: with `FLINKLLM_TEST_PANIC` set, an input equal to its value panics, so
/// tests can prove a panic surfaces as a Java exception and the JVM keeps running. Inert
/// (one cached lookup) when the variable is unset, as in production.
fn forced_panic(input: &str) {
    static TRIGGER: OnceCell<Option<String>> = OnceCell::new();
    if TRIGGER.get_or_init(|| std::env::var("FLINKLLM_TEST_PANIC").ok().filter(|v| !v.is_empty())).as_deref() == Some(input) {
        panic!("forced by FLINKLLM_TEST_PANIC");
    }
}

pub fn generate(task: &OpenTask, input: &str, timeout: Option<Duration>) -> crate::error::Result<(Value, RowStats)> {
    forced_panic(input);
    let deadline = timeout.map(|t| Instant::now() + t);
    match task.task.run_with_deadline(input, deadline) {
        // The engine reports a passed deadline as GenerationLimit; the caller asked for a
        // timeout, so it gets its own kind (and the engine's reason).
        Err(Error::GenerationLimit(reason)) if deadline.is_some_and(|d| Instant::now() >= d) => Err(JniError::Timeout(format!(
            "row timeout of {} ms: {reason}",
            timeout.unwrap_or_default().as_millis()
        ))),
        other => Ok(other?),
    }
}

/// Native memory the task holds, estimated from what the engine knows: the model
/// directory's files (weights and tokenizer are read whole), the constraint index and the
/// prompt-prefix KV cache (float32, every layer's key and value).
pub fn native_memory_bytes(task: &OpenTask) -> u64 {
    let model = task.task.model();
    let files: u64 = std::fs::read_dir(&model.dir)
        .map(|dir| dir.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0);
    let stats = task.task.open_stats();
    let m = &model.manifest;
    let prefix_kv = (stats.prefix_tokens * m.num_layers * 2 * m.num_kv_heads * m.head_dim * 4) as u64;
    files + stats.index_bytes as u64 + prefix_kv
}

pub fn release_free_memory() {
    flinkllm_engine::release_free_memory();
}

pub fn model_loads() -> u64 {
    flinkllm_engine::registry::model_loads()
}

pub fn live_models() -> usize {
    flinkllm_engine::registry::live_models()
}
