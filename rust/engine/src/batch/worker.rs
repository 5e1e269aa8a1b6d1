//! The batching thread: admit rows (each one's prompt pass alone), run every row's
//! constraint, run the passes that carry jump-forward text alone, then one batched
//! one-token pass for the rest, hand each row its logits; repeat while rows are in flight.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Instant;

use super::slots::{Slots, Source};
use super::{Queued, Shared};
use crate::error::{Error, Result};
use crate::generate::RowDecoder;
use crate::model::Kv;

/// One row in flight.
struct Live<'a> {
    decoder: RowDecoder<'a>,
    request: Queued,
}

impl Live<'_> {
    /// Answers the caller; the time between submitting and joining counts as queue
    /// time (the decoder's own clock starts when the row joins).
    fn reply(self, result: super::Reply) {
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
        let mut joining = Vec::new();
        for request in new {
            let decoder = RowDecoder::new(
                &shared.compiled,
                shared.prefix.len,
                request.row.ids.clone(),
                request.row.sampling,
                &request.row.rng_input,
                request.row.limits,
            );
            joining.push(Live { decoder, request });
        }
        prepare_joining(shared, &mut joining);
        let joining = prefill(shared, joining);
        if let Err(e) = place(shared, &mut slots, &mut rows, joining) {
            fail_rows(&mut rows, &e);
            slots = match fresh_slots(shared) {
                Ok(s) => s,
                Err(e) => return fail_all(rx, e),
            };
            continue;
        }
        // After placing, so that a row that joined this round also brings its
        // jump-forward text to its next pass, as a single stream would.
        prepare_rows(shared, &mut rows);
        if rows.iter().all(Option::is_none) {
            continue;
        }
        if let Err(e) = step(shared, &mut slots, &mut rows) {
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

/// The same for rows about to join: the constraint's opening text goes into their
/// prompt pass.
fn prepare_joining<'a>(shared: &'a Shared, joining: &mut Vec<Live<'a>>) {
    let mut still = Vec::with_capacity(joining.len());
    for mut live in joining.drain(..) {
        match live.decoder.prepare(&shared.model.tokens) {
            Ok(None) => still.push(live),
            Ok(Some(done)) => live.reply(Ok(done)),
            Err(e) => live.reply(Err(e)),
        }
    }
    *joining = still;
}

/// Runs each new row's prompt alone over the shared prefix cache, as a single stream
/// does: one pass of many tokens is cheaper than feeding them through many batched
/// steps, and the row's first token comes from the same computation as alone.
fn prefill<'a>(shared: &'a Shared, joining: Vec<Live<'a>>) -> Vec<(Live<'a>, Kv)> {
    let model = &shared.model;
    let mut ready = Vec::with_capacity(joining.len());
    for mut live in joining {
        let fed = live.decoder.pending().len();
        let started = Instant::now();
        let step = match model.forward(live.decoder.pending(), &shared.prefix) {
            Ok(s) => s,
            Err(e) => {
                live.reply(Err(e));
                continue;
            }
        };
        match live.decoder.accept(&model.tokens, &step.logits, fed, started.elapsed(), 1) {
            Ok(None) => ready.push((live, step.kv)),
            Ok(Some(done)) => live.reply(Ok(done)),
            Err(e) => live.reply(Err(e)),
        }
    }
    ready
}

/// Gives joining rows a batch row: a free one (cache copied in) while the layout has
/// room, else a new layout with the live rows packed and the new ones added. Also
/// compacts when half the rows are idle or the layout is much wider than its rows.
fn place<'a>(shared: &Shared, slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<(Live<'a>, Kv)>) -> Result<()> {
    let live = rows.iter().flatten().count();
    let free = rows.len() - live;
    let idle_after = free.saturating_sub(joining.len());
    let compact = joining.len() > free
        || joining.iter().any(|(_, kv)| kv.len >= slots.capacity())
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
        let Some((l, kv)) = joining.next() else { break };
        if !slots.write(r, &kv, 0)? {
            return Err(Error::Runtime("batch row shorter than the joining row".into()));
        }
        *slot = Some(l);
    }
    Ok(())
}

/// A new layout: the live rows packed, then the joining ones.
fn place_all<'a>(shared: &Shared, slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<(Live<'a>, Kv)>) -> Result<()> {
    let mut plan = Vec::new();
    let mut packed = Vec::new();
    for (r, slot) in rows.drain(..).enumerate() {
        if let Some(l) = slot {
            plan.push(Source::Row(r));
            packed.push(Some(l));
        }
    }
    plan.extend(joining.iter().map(|(_, kv)| Source::Fresh(kv)));
    *slots = slots.rebuild(&shared.model, &plan)?;
    packed.extend(joining.into_iter().map(|(l, _)| Some(l)));
    *rows = packed;
    Ok(())
}

/// One step: every row with more than one token to feed (the model's last pick plus
/// jump-forward text) runs a pass of its own, exactly as a single stream feeds it, and
/// prepares its next feed; then every row with a single token to feed takes part in one
/// batched pass (the rows just back from their own pass included, so fewer batch rows
/// sit the pass out). So each row's tokens go through the same passes, with the same
/// shapes, as when it runs alone, and the graph keeps rows apart within a pass: batched
/// results equal single-stream results bit for bit.
fn step<'a>(shared: &'a Shared, slots: &mut Slots, rows: &mut [Option<Live<'a>>]) -> Result<()> {
    for r in 0..rows.len() {
        if rows[r].as_ref().is_some_and(|l| l.decoder.pending().len() > 1) {
            solo_pass(shared, slots, rows, r)?;
            prepare_row(shared, &mut rows[r]);
        }
    }
    let feeds: Vec<Option<u32>> = rows
        .iter()
        .map(|s| s.as_ref().and_then(|l| (l.decoder.pending().len() == 1).then(|| l.decoder.pending()[0])))
        .collect();
    if feeds.iter().any(Option::is_some) {
        batched_pass(shared, slots, rows, &feeds)?;
    }
    Ok(())
}

fn batched_pass(shared: &Shared, slots: &mut Slots, rows: &mut [Option<Live<'_>>], feeds: &[Option<u32>]) -> Result<()> {
    let model = &shared.model;
    let live = feeds.iter().flatten().count();
    for (r, slot) in rows.iter().enumerate() {
        if let (Some(l), Some(_)) = (slot, feeds[r]) {
            if l.decoder.cached() != slots.len(r) {
                return Err(Error::Runtime(format!("batch row {r}: cache of {} columns, decoder at {}", slots.len(r), l.decoder.cached())));
            }
        }
    }
    let started = Instant::now();
    let logits = slots.step(model, feeds, model.manifest.eos_token_id)?;
    let took = started.elapsed();
    let vocab = logits.len() / rows.len().max(1);
    for (r, slot) in rows.iter_mut().enumerate() {
        if feeds[r].is_none() {
            continue;
        }
        let Some(l) = slot.as_mut() else { continue };
        match l.decoder.accept(&model.tokens, &logits[r * vocab..(r + 1) * vocab], 1, took, live) {
            Ok(None) => {}
            Ok(Some(done)) => finish(slot, Ok(done)),
            Err(e) => finish(slot, Err(e)),
        }
    }
    Ok(())
}

/// Row `r`'s pending tokens in a pass of its own over its cache; the new columns go
/// back into the layout (widened when the row outgrows it). An error of the pass
/// ends that row only.
fn solo_pass(shared: &Shared, slots: &mut Slots, rows: &mut [Option<Live<'_>>], r: usize) -> Result<()> {
    let model = &shared.model;
    let Some(l) = rows[r].as_mut() else { return Ok(()) };
    let fed = l.decoder.pending().len();
    let started = Instant::now();
    let past = slots.extract(model, r)?;
    let outcome = match model.forward(l.decoder.pending(), &past) {
        Ok(step) => {
            let took = started.elapsed();
            if !slots.write(r, &step.kv, past.len)? {
                let plan: Vec<Source> =
                    (0..rows.len()).map(|i| if i == r { Source::Fresh(&step.kv) } else { Source::Row(i) }).collect();
                *slots = slots.rebuild(model, &plan)?;
            }
            let Some(l) = rows[r].as_mut() else { return Ok(()) };
            l.decoder.accept(&model.tokens, &step.logits, fed, took, 1)
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(None) => {}
        Ok(Some(done)) => finish(&mut rows[r], Ok(done)),
        Err(e) => finish(&mut rows[r], Err(e)),
    }
    Ok(())
}

fn finish(slot: &mut Option<Live<'_>>, result: super::Reply) {
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
