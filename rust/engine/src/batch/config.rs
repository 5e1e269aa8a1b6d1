//! How a task batches rows (the callers' `batch-size`).

use std::time::Duration;

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
