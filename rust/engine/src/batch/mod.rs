//! Continuous batching: rows of one task, submitted from any thread, decode together
//! in one packed pass per step, whatever each row feeds (its prompt, jump-forward text,
//! one token). Rows join and leave between steps; each row keeps its own positions and
//! cache line, and starts from the task's shared prefix cache (copied in, never
//! recomputed). Only for models that keep rows apart (`Manifest::can_batch`); rows of
//! other models run alone.
//!
//! One worker thread per task owns the batch. Callers block on a bounded queue
//! (backpressure) and then on their row's reply.

mod worker;

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::constraint::Compiled;
use crate::error::{Error, Result};
use crate::generate::{RowLimits, RowStats};
use crate::model::{Kv, Model};
use crate::sampler::Sampling;

/// How a task batches rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchConfig {
    /// Most rows in one forward pass; 1 runs every row alone on its caller's thread.
    pub max_batch: usize,
    /// Rows waiting to join; submitting to a full queue blocks the caller.
    pub queue_capacity: usize,
    /// How long an idle worker waits for more rows before running a partial batch.
    pub max_wait: Duration,
}

impl BatchConfig {
    /// Rows per pass when batching is on: past 16 a 2-core CPU is compute-bound and
    /// latency grows with every added row.
    pub const MAX_BATCH: usize = 16;

    /// Batching on with `max_batch` rows per pass.
    pub fn batched(max_batch: usize) -> BatchConfig {
        BatchConfig { max_batch, queue_capacity: 4 * max_batch.max(1), ..BatchConfig::default() }
    }
}

impl Default for BatchConfig {
    /// Off (every row alone on its caller's thread): one caller at a time gains nothing
    /// from a batching thread. Batching never changes a row's result (see `worker`), so
    /// callers with many rows in flight turn it on with [`BatchConfig::batched`].
    fn default() -> Self {
        BatchConfig { max_batch: 1, queue_capacity: 64, max_wait: Duration::from_millis(2) }
    }
}

pub(crate) type Reply = Result<(Value, RowStats)>;

/// One row to decode: its prompt after the task's prefix, and how.
pub(crate) struct Request {
    pub ids: Vec<u32>,
    pub sampling: Sampling,
    pub rng_input: String,
    pub limits: RowLimits,
}

/// A row in the worker's queue, with the channel its caller waits on.
struct Queued {
    row: Request,
    submitted: Instant,
    reply: mpsc::Sender<Reply>,
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

pub(crate) struct Scheduler {
    queue: SyncSender<Queued>,
}

impl Scheduler {
    pub fn start(shared: Shared) -> Result<Scheduler> {
        let (queue, rx) = mpsc::sync_channel(shared.config.queue_capacity.max(1));
        std::thread::Builder::new()
            .name("flinkllm-batch".into())
            .spawn(move || worker::run(shared, rx))
            .map_err(|e| Error::Runtime(format!("cannot start the batching thread: {e}")))?;
        Ok(Scheduler { queue })
    }

    /// Queues a row (blocking while the queue is full) and waits for its result.
    pub fn run(&self, row: Request) -> Reply {
        let rx: Receiver<Reply> = {
            let (reply, rx) = mpsc::channel();
            self.queue
                .send(Queued { row, submitted: Instant::now(), reply })
                .map_err(|_| Error::Runtime("the batching thread has stopped".into()))?;
            rx
        };
        rx.recv()
            .unwrap_or_else(|_| Err(Error::Runtime("the batching thread dropped the row (panic in the engine)".into())))
    }
}
