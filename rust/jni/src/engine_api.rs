//! The engine calls the binding makes, in one place.

use crate::shape::{row_shape, Shape};
use flinkllm_engine::schema::SchemaIr;
use flinkllm_engine::{Error, Result, Task, TaskOptions, TaskSpec};
use once_cell::sync::OnceCell;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The ONNX Runtime library Java loaded, handed to every task so the engine binds to it.
static ORT_LIBRARY: OnceCell<PathBuf> = OnceCell::new();

pub struct OpenTask {
    pub task: Task,
    pub shape: Shape,
}

fn options() -> TaskOptions {
    TaskOptions { ort_library: ORT_LIBRARY.get().cloned(), ..TaskOptions::default() }
}

pub fn init(ort_path: &str) -> Result<()> {
    let path = flinkllm_engine::init_runtime(Some(Path::new(ort_path)))?;
    let _ = ORT_LIBRARY.set(path);
    Ok(())
}

pub fn task_schema(task_path: &str) -> Result<SchemaIr> {
    Ok(TaskSpec::load(Path::new(task_path), &options())?.ir)
}

pub fn open(task_path: &str) -> Result<OpenTask> {
    let task = Task::load(Path::new(task_path), &options())?;
    let shape = row_shape(&task.spec().ir).map_err(|m| Error::UnsupportedSchema(format!("{task_path}: {m}")))?;
    Ok(OpenTask { task, shape })
}

pub fn warm_up(task: &OpenTask) -> Result<()> {
    task.task.warm_up()
}

pub fn generate(task: &OpenTask, input: &str) -> Result<Value> {
    task.task.run(input)
}

pub fn model_loads() -> u64 {
    flinkllm_engine::registry::model_loads()
}
