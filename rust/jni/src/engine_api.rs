//! The engine calls the binding makes, in one place. Conversions only: what a task is,
//! how it runs and what it costs is the engine's to say.

use crate::shape::{task_row, Shape};
use flinkllm_engine::{AllowedPaths, Error, ErrorKind, Result, RowStats, Task, TaskOptions, TaskSource, TaskSpec};
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

/// The operator's allowed directories as Java read them (`None`: not set).
pub fn allowed_paths(setting: Option<&str>) -> AllowedPaths {
    setting.map_or_else(AllowedPaths::anywhere, AllowedPaths::parse)
}

/// The task options of a binding's call: its overrides (a JSON object, `TaskOptions::with_overrides`),
/// the allowed paths and the ONNX Runtime library Java loaded.
fn options(overrides: &str, allowed_paths: AllowedPaths) -> Result<TaskOptions> {
    TaskOptions { allowed_paths, ort_library: ORT_LIBRARY.get().cloned(), ..TaskOptions::default() }.with_overrides(overrides)
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
/// `task`, whose relative paths resolve against `base` (else the working directory).
pub fn task_source(task: String, inline: Option<String>, base: Option<String>) -> TaskSource {
    match inline {
        None => TaskSource::File(PathBuf::from(task)),
        Some(json) => TaskSource::Inline {
            label: task,
            base: base.map(PathBuf::from).unwrap_or_else(|| std::env::current_dir().unwrap_or_default()),
            json,
        },
    }
}

/// Planning: the ROW the task's answers fill, after checking the model directory.
pub fn plan(task: &TaskSource, overrides: &str, allowed: AllowedPaths) -> Result<Shape> {
    let spec = TaskSpec::from_source(task, &options(overrides, allowed)?)?;
    spec.check_model()?;
    task_row(&spec.ir, spec.confidence_fields()).map_err(|m| Error::UnsupportedSchema(format!("{}: {m}", task.label())))
}

/// The engine's task keys as JSON, for the binding's option list and reference.
pub fn task_keys() -> String {
    let keys: Vec<Value> = flinkllm_engine::task_keys()
        .iter()
        .map(|k| serde_json::json!({"name": k.name, "alias": k.alias, "applies": k.applies.describe(), "type": format!("{:?}", k.value).to_lowercase(), "doc": k.doc}))
        .collect();
    Value::Array(keys).to_string()
}

pub fn open(task: TaskSource, overrides: &str, allowed: AllowedPaths) -> Result<OpenTask> {
    let label = task.label();
    let task = Task::load_source(task, &options(overrides, allowed)?)?;
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
