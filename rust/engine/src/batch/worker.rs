//! The batching thread: admit rows, run the constraint of every row, one batched
//! forward pass, hand each row its logits; repeat while rows are in flight.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Instant;

use super::slots::{Slots, Source};
use super::{Request, Shared};
use crate::error::{Error, Result};
use crate::generate::RowDecoder;
use crate::model::Kv;

/// One row in flight.
struct Live<'a> {
    decoder: RowDecoder<'a>,
    request: Request,
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

pub(super) fn run(shared: Shared, rx: Receiver<Request>) {
    // A panic drops the rows in flight (their callers get an error), then the worker
    // starts over with an empty batch; it ends when every sender is gone.
    while let Err(_panic) = catch_unwind(AssertUnwindSafe(|| serve(&shared, &rx))) {}
}

fn serve(shared: &Shared, rx: &Receiver<Request>) {
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
                request.ids.clone(),
                request.sampling,
                &request.rng_input,
                request.limits,
            );
            joining.push(Live { decoder, request });
        }
        prepare(shared, &mut rows, &mut joining);
        let joining = prefill(shared, joining);
        if let Err(e) = place(&mut slots, &mut rows, joining) {
            fail_rows(&mut rows, &e);
            slots = match fresh_slots(shared) {
                Ok(s) => s,
                Err(e) => return fail_all(rx, e),
            };
            continue;
        }
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
    let m = &shared.model.manifest;
    Slots::empty(m.num_layers * 2, m.num_kv_heads, m.head_dim)
}

/// New rows for this step: blocks while nothing is in flight, then waits up to
/// `max_wait` to fill the batch. `None` once every sender is gone and no row is left.
fn admit(shared: &Shared, rx: &Receiver<Request>, in_flight: usize) -> Option<Vec<Request>> {
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
fn prepare<'a>(shared: &'a Shared, rows: &mut [Option<Live<'a>>], joining: &mut Vec<Live<'a>>) {
    let tokens = &shared.model.tokens;
    for slot in rows.iter_mut() {
        let Some(live) = slot.as_mut() else { continue };
        match live.decoder.prepare(tokens) {
            Ok(None) => {}
            Ok(Some(done)) => finish(slot, Ok(done)),
            Err(e) => finish(slot, Err(e)),
        }
    }
    let mut still = Vec::with_capacity(joining.len());
    for mut live in joining.drain(..) {
        match live.decoder.prepare(tokens) {
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

/// Gives joining rows a batch row: a free one (prefix copied in place) while the
/// layout has room, else a new layout with the live rows packed and the new ones
/// added. Also compacts when half the rows are idle or padding dominates.
fn place<'a>(slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<(Live<'a>, Kv)>) -> Result<()> {
    let live = rows.iter().flatten().count();
    let free = rows.len() - live;
    let idle_after = free.saturating_sub(joining.len());
    let compact = joining.len() > free
        || joining.iter().any(|(_, kv)| kv.len > slots.len())
        || idle_after * 2 > rows.len()
        // Columns that are padding in every row still cost attention time.
        || slots.common_padding() > 64;
    if compact {
        return place_all(slots, rows, joining);
    }
    let mut joining = joining.into_iter();
    for (r, slot) in rows.iter_mut().enumerate() {
        if slot.is_some() {
            continue;
        }
        let Some((l, kv)) = joining.next() else { break };
        if !slots.refill(r, &kv)? {
            return Err(Error::Runtime("batch row shorter than the joining row".into()));
        }
        *slot = Some(l);
    }
    Ok(())
}

/// A new layout: the live rows packed, then the joining ones.
fn place_all<'a>(slots: &mut Slots, rows: &mut Vec<Option<Live<'a>>>, joining: Vec<(Live<'a>, Kv)>) -> Result<()> {
    let mut plan = Vec::new();
    let mut packed = Vec::new();
    for (r, slot) in rows.drain(..).enumerate() {
        if let Some(l) = slot {
            plan.push(Source::Row(r));
            packed.push(Some(l));
        }
    }
    plan.extend(joining.iter().map(|(_, kv)| Source::Fresh(kv)));
    *slots = slots.rebuild(&plan)?;
    packed.extend(joining.into_iter().map(|(l, _)| Some(l)));
    *rows = packed;
    Ok(())
}

/// One forward pass over every live row. All rows feed the same number of tokens:
/// the shortest pending feed; longer ones (a new row's prompt, a jump-forward chunk)
/// feed that many now and the rest in the next steps. No row is ever padded inside
/// its new tokens, so no pass computes padding tokens and none leaves masked columns
/// in the middle of a row.
fn step(shared: &Shared, slots: &mut Slots, rows: &mut [Option<Live<'_>>]) -> Result<()> {
    let model = &shared.model;
    let n = rows.iter().flatten().map(|l| l.decoder.pending().len()).min().unwrap_or(1).max(1);
    let feeds: Vec<Option<(&[u32], usize)>> = rows
        .iter()
        .map(|s| s.as_ref().map(|l| (&l.decoder.pending()[..n], l.decoder.cached())))
        .collect();
    let live = feeds.iter().flatten().count();
    let pad = model.manifest.eos_token_id;
    let started = Instant::now();
    let (input, masks) = slots.step_inputs(&feeds, pad)?;
    let out = model.run(input)?;
    let took = started.elapsed();
    let vocab = out.logits.len() / rows.len().max(1);
    if vocab == 0 || out.logits.len() != rows.len() * vocab {
        return Err(Error::Runtime(format!("logits of {} values for {} rows", out.logits.len(), rows.len())));
    }
    slots.advance(out.present, masks)?;
    for (r, slot) in rows.iter_mut().enumerate() {
        let Some(l) = slot.as_mut() else { continue };
        let logits = &out.logits[r * vocab..(r + 1) * vocab];
        match l.decoder.accept(&model.tokens, logits, n, took, live) {
            Ok(None) => {}
            Ok(Some(done)) => finish(slot, Ok(done)),
            Err(e) => finish(slot, Err(e)),
        }
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
fn fail_all(rx: &Receiver<Request>, e: Error) {
    while let Ok(r) = rx.recv() {
        let _ = r.reply.send(Err(e.clone()));
    }
}
