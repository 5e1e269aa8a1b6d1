//! The engine calls the binding makes, in one place.

use crate::shape::{row_shape, Shape};
use flinkllm_engine::schema::{parse_schema, SchemaIr};
use flinkllm_engine::{Error, Result};
use std::path::Path;

pub struct OpenTask {
    pub shape: Shape,
}

pub fn init(_ort_path: &str) -> Result<()> {
    Ok(())
}

// Temporary until the engine's task API lands: read the schema straight from the task file.
pub fn task_schema(task_path: &str) -> Result<SchemaIr> {
    let path = Path::new(task_path);
    let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidTask(format!("{task_path}: {e}")))?;
    let task: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::InvalidTask(format!("{task_path}: {e}")))?;
    let schema = match (task.get("schema"), task.get("schema_file").and_then(|f| f.as_str())) {
        (Some(s), _) => s.clone(),
        (None, Some(file)) => {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            let text = std::fs::read_to_string(&file).map_err(|e| Error::InvalidTask(format!("{}: {e}", file.display())))?;
            serde_json::from_str(&text).map_err(|e| Error::InvalidTask(format!("{}: {e}", file.display())))?
        }
        _ => return Err(Error::InvalidTask(format!("{task_path}: no schema or schema_file"))),
    };
    parse_schema(&schema)
}

pub fn open(task_path: &str) -> Result<OpenTask> {
    let shape = row_shape(&task_schema(task_path)?).map_err(Error::UnsupportedSchema)?;
    let _ = shape;
    Err(Error::Runtime("engine task API not available yet".into()))
}

pub fn generate(_task: &OpenTask, _input: &str) -> Result<serde_json::Value> {
    Err(Error::Runtime("engine task API not available yet".into()))
}

pub fn model_loads() -> u64 {
    0
}
