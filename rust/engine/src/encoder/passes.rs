//! Rows in flight from several threads share encoder passes, without a worker thread:
//! each caller queues its row, then whoever holds the pass lock runs every queued row (up
//! to `max_batch`) in one pass and hands each its vector. A caller waiting for the lock
//! finds its row already done, or runs the next pass itself. Padding cannot change a row's
//! vector (`Encoder::embed`), so which rows share a pass never changes an answer.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::model::Encoder;

/// A row's vector with what its pass cost.
pub struct Embedded {
    pub vector: Vec<f32>,
    /// Time from queueing to the start of its pass.
    pub queue_time: Duration,
    pub pass_time: Duration,
    pub pass_rows: usize,
}

struct Queued {
    ids: Vec<u32>,
    queued_at: Instant,
    reply: SyncSender<Result<Embedded>>,
}

pub struct SharedPasses {
    queue: Mutex<VecDeque<Queued>>,
    pass: Mutex<()>,
    max_batch: usize,
}

fn poisoned<T>(_: T) -> Error {
    Error::Runtime("encoder batching lock poisoned by an earlier panic".into())
}

impl SharedPasses {
    pub fn new(max_batch: usize) -> SharedPasses {
        SharedPasses { queue: Mutex::new(VecDeque::new()), pass: Mutex::new(()), max_batch: max_batch.max(1) }
    }

    pub fn embed(&self, encoder: &Encoder, ids: Vec<u32>, normalize: bool) -> Result<Embedded> {
        let (reply, done) = sync_channel(1);
        self.queue.lock().map_err(poisoned)?.push_back(Queued { ids, queued_at: Instant::now(), reply });
        loop {
            if let Some(r) = ready(&done)? {
                return r;
            }
            let _turn = self.pass.lock().map_err(poisoned)?;
            if let Some(r) = ready(&done)? {
                return r;
            }
            let rows: Vec<Queued> = {
                let mut queue = self.queue.lock().map_err(poisoned)?;
                let n = queue.len().min(self.max_batch);
                queue.drain(..n).collect()
            };
            self.run_pass(encoder, rows, normalize);
        }
    }

    fn run_pass(&self, encoder: &Encoder, rows: Vec<Queued>, normalize: bool) {
        if rows.is_empty() {
            return;
        }
        let started = Instant::now();
        let ids: Vec<&[u32]> = rows.iter().map(|r| r.ids.as_slice()).collect();
        let result = encoder.embed(&ids, normalize);
        let pass_time = started.elapsed();
        let pass_rows = rows.len();
        match result {
            Ok(vectors) => {
                for (row, vector) in rows.into_iter().zip(vectors) {
                    let queue_time = started.duration_since(row.queued_at);
                    let _ = row.reply.send(Ok(Embedded { vector, queue_time, pass_time, pass_rows }));
                }
            }
            Err(e) => {
                for row in rows {
                    let _ = row.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn ready(done: &Receiver<Result<Embedded>>) -> Result<Option<Result<Embedded>>> {
    match done.try_recv() {
        Ok(r) => Ok(Some(r)),
        Err(std::sync::mpsc::TryRecvError::Empty) => Ok(None),
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Err(Error::Runtime("encoder pass ended without a reply".into())),
    }
}
