//! flinkllm engine: runs small language models with ONNX Runtime and returns JSON
//! values guaranteed to match a task's JSON schema.
//!
//! Entry points for bindings (the JNI crate converts types and errors only):
//! - [`init_runtime`]: load `libonnxruntime.so` from a given path (else `ORT_DYLIB_PATH`).
//! - [`TaskSpec::load`]: read a task file and its schema without loading a model
//!   (planning time; `TaskSpec::ir` for type mapping), [`TaskSpec::check_model`].
//! - [`Task::load`]: open a task (model shared process-wide), then [`Task::run`] /
//!   [`Task::run_batch`] per input; [`Error::kind`] tells what went wrong.

pub mod automaton;
mod batch;
mod cache;
mod confine;
pub mod confidence;
pub mod constraint;
pub mod encoder;
mod engine;
mod error;
pub mod generate;
mod manifest;
mod model;
mod overflow;
mod packed;
pub mod prompt;
pub mod registry;
mod runtime;
pub mod sampler;
pub mod schema;
mod task;
pub mod tokens;
mod weak_map;

use std::path::{Path, PathBuf};

pub use batch::BatchConfig;
pub use confine::AllowedPaths;
pub use engine::{OpenStats, Task};
pub use error::{Error, ErrorKind, Result};
pub use generate::RowStats;
pub use manifest::Manifest;
pub use model::{Model, GRAPH_FILE};
pub use runtime::release_free_memory;
pub use overflow::ContextOverflow;
pub use task::keys::{Applies, Key as TaskKey};
pub use task::{models_dir, Example, TaskKind, Settings, TaskOptions, TaskSource, TaskSpec, DEFAULT_MAX_NEW_TOKENS};

/// Loads ONNX Runtime from `path` (or, if `None`, from `ORT_DYLIB_PATH`). Only the first
/// successful load counts; returns the path in use.
pub fn init_runtime(path: Option<&Path>) -> Result<PathBuf> {
    runtime::init(path)
}

/// The keys a task document may hold, and the kinds of task each applies to.
pub fn task_keys() -> &'static [TaskKey] {
    task::keys::KEYS
}

/// Opens a model directory directly (shared through the registry), for tools such
/// as `flinkllm generate`.
pub fn open_model(dir: &Path, threads: usize, ort_library: Option<&Path>) -> Result<std::sync::Arc<Model>> {
    registry::model(dir, threads, ort_library)
}
