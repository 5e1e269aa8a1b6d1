//! The engine calls the binding makes, in one place. Conversions only: what a task is,
//! how it runs and what it costs is the engine's to say.

use crate::shape::{task_row, Shape};
use flinkllm_engine::{AllowedPaths, BatchConfig, ContextOverflow, Error, ErrorKind, Result, RowStats, Task, TaskOptions, TaskSource, TaskSpec};
use once_cell::sync::OnceCell;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ONNX Runtime library Java loaded, handed to every task so the engine binds to it.
static ORT_LIBRARY: OnceCell<PathBuf> = OnceCell::new();

pub struct OpenTask {
    pub task: Task,
    pub shape: Shape,
}

/// Caller overrides of the task file (the UDF's `max-tokens`, `context-overflow-action`,
/// `batch-size`).
#[derive(Default)]
pub struct Overrides {
    pub model: Option<String>,
    pub max_new_tokens: Option<usize>,
    pub context_overflow: Option<ContextOverflow>,
    pub max_batch: Option<usize>,
}

/// The operator's allowed directories as Java read them (`None`: not set).
pub fn allowed_paths(setting: Option<&str>) -> AllowedPaths {
    setting.map_or_else(AllowedPaths::anywhere, AllowedPaths::parse)
}

fn options(overrides: Overrides, allowed_paths: AllowedPaths) -> TaskOptions {
    TaskOptions {
        allowed_paths,
        ort_library: ORT_LIBRARY.get().cloned(),
        model: overrides.model,
        max_new_tokens: overrides.max_new_tokens,
        context_overflow: overrides.context_overflow,
        batch: overrides.max_batch.map(BatchConfig::batched).unwrap_or_default(),
        ..TaskOptions::default()
    }
}

pub fn init(ort_path: &str) -> Result<()> {
    let path = flinkllm_engine::init_runtime(Some(Path::new(ort_path)))?;
    let _ = ORT_LIBRARY.set(path);
    Ok(())
}

/// The operator's schema compile budget (`flinkllm.schema-budget`), set once before any task opens.
pub fn set_schema_budget(setting: &str) -> Result<()> {
    flinkllm_engine::automaton::Budget::set_operator(setting).map(drop)
}

/// The task Java names: a task file's path, or (with `inline` set) a task document labelled
/// `task`, whose relative paths resolve against the working directory.
pub fn task_source(task: String, inline: Option<String>) -> TaskSource {
    match inline {
        None => TaskSource::File(PathBuf::from(task)),
        Some(json) => TaskSource::Inline { label: task, base: std::env::current_dir().unwrap_or_default(), json },
    }
}

fn spec(task: &TaskSource, overrides: Overrides, allowed: AllowedPaths) -> Result<TaskSpec> {
    TaskSpec::from_source(task, &options(overrides, allowed))
}

/// The ROW the task's answers fill (planning).
pub fn task_shape(task: &TaskSource, allowed: AllowedPaths) -> Result<Shape> {
    let spec = spec(task, Overrides::default(), allowed)?;
    task_row(&spec.ir, spec.confidence_fields()).map_err(|m| Error::UnsupportedSchema(format!("{}: {m}", task.label())))
}

pub fn check_model(task: &TaskSource, model: Option<String>, allowed: AllowedPaths) -> Result<()> {
    spec(task, Overrides { model, ..Overrides::default() }, allowed)?.check_model()
}

pub fn open(task: TaskSource, overrides: Overrides, allowed: AllowedPaths) -> Result<OpenTask> {
    let label = task.label();
    let task = Task::load_source(task, &options(overrides, allowed))?;
    let shape = task_row(&task.spec().ir, task.spec().confidence_fields()).map_err(|m| Error::UnsupportedSchema(format!("{label}: {m}")))?;
    Ok(OpenTask { task, shape })
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

/// One row's answer, with its labels' confidence in the `confidence` field when the task
/// reports it.
pub fn generate(task: &OpenTask, input: &str, timeout: Option<Duration>) -> Result<(Value, RowStats)> {
    forced_panic(input);
    let (mut value, stats) = task.task.run_with_timeout(input, timeout)?;
    if let (Some(answer), false) = (value.as_object_mut(), stats.confidence.is_empty()) {
        let labels = stats.confidence.iter().map(|(field, p)| (field.clone(), Value::from(*p))).collect();
        answer.insert(flinkllm_engine::confidence::FIELD.into(), Value::Object(labels));
    }
    Ok((value, stats))
}

pub fn native_memory_bytes(task: &OpenTask) -> u64 {
    task.task.native_memory_bytes()
}

/// Names of the kinds a row can end with, for the caller's per-kind metrics.
pub fn row_error_kinds() -> Vec<&'static str> {
    ErrorKind::ALL.iter().filter(|k| k.is_row_level()).map(|k| k.name()).collect()
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
