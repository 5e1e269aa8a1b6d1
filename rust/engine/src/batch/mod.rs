//! Continuous batching: rows of one task, submitted from any thread, decode together
//! in one packed pass per step, whatever each row feeds (its prompt, jump-forward text,
//! one token). Rows join and leave between steps; each row keeps its own positions and
//! cache line, and starts from the task's shared prefix cache (copied in, never
//! recomputed). Only for models that keep rows apart (`Manifest::can_batch`); rows of
//! other models run alone.
//!
//! One worker thread per task owns the batch. Callers block on a bounded queue
//! (backpressure) and then on their row's reply.

mod config;
mod queue;
mod worker;

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Instant;

use crate::error::{Error, Result};

pub use config::BatchConfig;
use queue::Queued;
pub(crate) use queue::{Reply, Request, Shared};

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
