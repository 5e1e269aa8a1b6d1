//! What travels between a task and its batching thread: the rows, their replies, and what
//! the worker needs from the task.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::config::BatchConfig;
use crate::constraint::Compiled;
use crate::error::Result;
use crate::generate::{RowLimits, RowStats};
use crate::model::{Kv, Model};
use crate::sampler::Sampling;

pub(crate) type Reply = Result<(Value, RowStats)>;

/// One row to decode: its prompt after the task's prefix, and how.
pub(crate) struct Request {
    pub ids: Vec<u32>,
    pub sampling: Sampling,
    pub rng_input: String,
    pub limits: RowLimits,
}

/// A row in the worker's queue, with the channel its caller waits on.
pub(super) struct Queued {
    pub row: Request,
    pub submitted: Instant,
    pub reply: mpsc::Sender<Reply>,
}

/// What the worker needs from the task (not the task itself, so that dropping the
/// last `Task` closes the queue and ends the worker).
pub(crate) struct Shared {
    pub model: Arc<Model>,
    pub compiled: Arc<Compiled>,
    pub prefix: Arc<Kv>,
    pub config: BatchConfig,
    /// The task's calibration when it asks for confidence.
    pub confidence: Option<crate::confidence::Calibration>,
}
