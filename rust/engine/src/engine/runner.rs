//! What an open task of one kind does: `Task` dispatches to it once, whatever the kind
//! (`decoding`: a generative model; `encoding`: a sentence encoder).

use std::time::Instant;

use serde_json::Value;

use super::stats::OpenStats;
use crate::batch::BatchConfig;
use crate::error::Result;
use crate::generate::RowStats;
use crate::model::Model;
use crate::task::TaskSpec;

/// How a row runs: through the task's batching worker (if it batches), or alone on the
/// caller's thread (the reference batched results must equal).
#[derive(Clone, Copy)]
pub(super) enum Mode {
    Single,
    Batched,
}

pub(super) trait Runner: Send + Sync {
    fn spec(&self) -> &TaskSpec;
    fn open_stats(&self) -> OpenStats;
    /// The model's name and precision, from its manifest.
    fn model_name(&self) -> (&str, &str);
    /// Bytes of the model directory's files.
    fn model_file_bytes(&self) -> u64;
    /// Native memory the task holds, estimated from what it knows.
    fn native_memory_bytes(&self) -> u64;
    fn batching(&self) -> BatchConfig;
    fn run(&self, input: &str, deadline: Option<Instant>, mode: Mode) -> Result<(Value, RowStats)>;
    /// Many rows in this kind's own way, when it has one (encoders: length-grouped passes).
    fn run_many(&self, _inputs: &[&str]) -> Option<Vec<Result<Value>>> {
        None
    }
    /// The prompt text around `input` (an encoder reads the input alone).
    fn prompt_for(&self, input: &str) -> String {
        input.to_string()
    }
    /// The prompt after a long input is cut to fit.
    fn fitted_prompt_for(&self, input: &str) -> Result<String> {
        Ok(input.to_string())
    }
    /// The generative model, for a decoding task.
    fn decoder(&self) -> Option<&Model> {
        None
    }
}
