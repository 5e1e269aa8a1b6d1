//! The batching thread: admit rows (each starts from the task's prefix cache), run every
//! row's constraint up to its next pass, then one packed pass with every row's tokens (a
//! joining row's prompt, jump-forward text, a chosen token), hand each row its logits;
//! repeat while rows are in flight.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Instant;

use super::queue::{Queued, Reply, Shared};
use crate::cache::{Slots, Source};
use crate::error::{Error, Result};
use crate::generate::{PassShare, RowDecoder};

/// One row in flight.
struct Live<'a> {
    decoder: RowDecoder<'a>,
    request: Queued,
}

impl Live<'_> {
    /// Answers the caller; the time between submitting and joining counts as queue
    /// time (the decoder's own clock starts when the row joins).
    fn reply(self, result: Reply) {
        let submitted = self.request.submitted;
        // The caller may have gone away; nothing to do then.
        let _ = self.request.reply.send(result.map(|(v, mut s)| {
            let before = submitted.elapsed().saturating_sub(s.total_time);
            s.queue_time += before;
            s.total_time += before;
            (v, s)
        }));
    }
}

pub(super) fn run(shared: Shared, rx: Receiver<Queued>) {
    // A panic drops the rows in flight (their callers get an error), then the worker
    // starts over with an empty batch; it ends when every sender is gone.
    while let Err(_panic) = catch_unwind(AssertUnwindSafe(|| serve(&shared, &rx))) {}
}

fn serve(shared: &Shared, rx: &Receiver<Queued>) {
    let mut rows: Vec<Option<Live>> = Vec::new();
    let mut slots = match fresh_slots(shared) {
        Ok(s) => s,
        Err(e) => return fail_all(rx, e),
    };
    loop {
        let Some(new) = admit(shared, rx, rows.iter().flatten().count()) else { return };
        let joining: Vec<Live> = new
            .into_iter()
            .map(|request| {
                let decoder = RowDecoder::new(
                    &shared.compiled,
                    shared.prefix.len,
                    request.row.ids.clone(),
                    request.row.sampling,
                    &request.row.rng_input,
                    request.row.limits,
                    shared.confidence.as_ref(),
                );
                Live { decoder, request }
            })
            .collect();
        if let Err(e) = place(shared, &mut slots, &mut rows, joining) {
            fail_rows(&mut rows, &e);
            rows.clear();
            slots = match fresh_slots(shared) {
                Ok(s) => s,
                Err(e) => return fail_all(rx, e),
            };
            continue;
        }
        // Every row, the joining ones included, runs its constraint up to its next pass
        // exactly as a single stream does before each of its passes.
        prepare_rows(shared, &mut rows);
        if rows.iter().all(Option::is_none) {
            continue;
        }
        if let Err(e) = pass(shared, &mut slots, &mut rows) {
            fail_rows(&mut rows, &e);
            rows.clear();
            slots = match fresh_slots(shared) {
                Ok(s) => s,
                Err(e) => return fail_all(rx, e),
            };
        }
    }
}

fn fresh_slots(shared: &Shared) -> Result<Slots> {
    Slots::empty(&shared.model)
}

/// New rows for this step: blocks while nothing is in flight, then waits up to
/// `max_wait` to fill the batch. `None` once every sender is gone and no row is left.
fn admit(shared: &Shared, rx: &Receiver<Queued>, in_flight: usize) -> Option<Vec<Queued>> {
    let max = shared.config.max_batch.max(1);
    let mut new = Vec::new();
    if in_flight == 0 {
        new.push(rx.recv().ok()?);
        let until = Instant::now() + shared.config.max_wait;
        while new.len() < max {
            match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(r) => new.push(r),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        return Some(new);
    }
    while in_flight + new.len() < max {
        match rx.try_recv() {
            Ok(r) => new.push(r),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
    Some(new)
}

/// Runs every row's constraint up to its next forward pass; finished rows reply and
/// leave (their batch row becomes free).
fn prepare_rows<'a>(shared: &'a Shared, rows: &mut [Option<Live<'a>>]) {
    for slot in rows.iter_mut() {
        prepare_row(shared, slot);
    }
}

fn prepare_row<'a>(shared: &'a Shared, slot: &mut Option<Live<'a>>) {
    let Some(live) = slot.as_mut() else { return };
    match live.decoder.prepare(&shared.model.tokens) {
        Ok(None) => {}
        Ok(Some(done)) => finish(slot, Ok(done)),
        Err(e) => finish(slot, Err(e)),
    }
}

/// Gives joining rows an empty batch row (their passes read the task's prefix cache as
/// every row's): a free one while there is one, else a new layout with the live rows
/// packed and the new ones added. Also compacts when half the rows are idle or the
/// layout is much wider than its rows.
fn place<'a>(shared: &Shared, slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<Live<'a>>) -> Result<()> {
    let live = rows.iter().flatten().count();
    let free = rows.len() - live;
    let idle_after = free.saturating_sub(joining.len());
    let compact = joining.len() > free
        || idle_after * 2 > rows.len()
        // Memory held for columns no row uses.
        || slots.slack() > 128;
    if compact {
        return place_all(shared, slots, rows, joining);
    }
    let mut joining = joining.into_iter();
    for (r, slot) in rows.iter_mut().enumerate() {
        if slot.is_some() {
            continue;
        }
        let Some(l) = joining.next() else { break };
        slots.clear(r);
        *slot = Some(l);
    }
    Ok(())
}

/// A new layout: the live rows packed, then the joining ones.
fn place_all<'a>(shared: &Shared, slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<Live<'a>>) -> Result<()> {
    let mut plan = Vec::new();
    let mut packed = Vec::new();
    for (r, slot) in rows.drain(..).enumerate() {
        if let Some(l) = slot {
            plan.push(Source::Row(r));
            packed.push(Some(l));
        }
    }
    plan.extend(joining.iter().map(|_| Source::Empty));
    *slots = slots.rebuild(&shared.model, &plan, 0)?;
    packed.extend(joining.into_iter().map(Some));
    *rows = packed;
    Ok(())
}

/// One packed pass with every live row's pending tokens; each row takes its logits.
/// A row's tokens go through the same passes as when it runs alone, and the graph keeps
/// rows apart within a pass (`Model::pass`): batched results equal single-stream
/// results bit for bit.
fn pass<'a>(shared: &'a Shared, slots: &mut Slots, rows: &mut [Option<Live<'a>>]) -> Result<()> {
    let model = &shared.model;
    for (r, slot) in rows.iter().enumerate() {
        if let Some(l) = slot {
            if l.decoder.cached() != shared.prefix.len + slots.len(r) {
                return Err(Error::Runtime(format!(
                    "batch row {r}: cache of {} + {} columns, decoder at {}",
                    shared.prefix.len,
                    slots.len(r),
                    l.decoder.cached()
                )));
            }
        }
    }
    let feeds: Vec<Option<&[u32]>> = rows.iter().map(|s| s.as_ref().map(|l| l.decoder.feed())).collect();
    let tokens: usize = feeds.iter().flatten().map(|f| f.len()).sum();
    let started = Instant::now();
    let logits = slots.pass(model, &shared.prefix, &feeds)?;
    let share = PassShare { wall: started.elapsed(), rows: feeds.iter().flatten().count(), tokens };
    let vocab = logits.len() / share.rows.max(1);
    let mut fed = 0;
    for slot in rows.iter_mut() {
        let Some(l) = slot.as_mut() else { continue };
        let n = l.decoder.feed().len();
        let row_logits = &logits[fed * vocab..(fed + 1) * vocab];
        fed += 1;
        match l.decoder.accept(&model.tokens, row_logits, n, share) {
            Ok(None) => {}
            Ok(Some(done)) => finish(slot, Ok(done)),
            Err(e) => finish(slot, Err(e)),
        }
    }
    Ok(())
}

fn finish(slot: &mut Option<Live<'_>>, result: Reply) {
    if let Some(l) = slot.take() {
        l.reply(result);
    }
}

fn fail_rows(rows: &mut [Option<Live<'_>>], e: &Error) {
    for l in rows.iter_mut().filter_map(Option::take) {
        l.reply(Err(e.clone()));
    }
}

/// The worker cannot build a batch at all: answer every row with the error.
fn fail_all(rx: &Receiver<Queued>, e: Error) {
    while let Ok(r) = rx.recv() {
        let _ = r.reply.send(Err(e.clone()));
    }
}
