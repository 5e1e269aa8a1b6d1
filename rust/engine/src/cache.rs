//! The KV cache of a packed model's rows (a batch, or a single stream as a batch of one),
//! after the task's shared prefix cache: one `[rows, kv_heads, capacity, head_dim]` tensor
//! per layer and key/value, and each row's own length.
//!
//! Rows are right-padded: row `r`'s cache fills columns `0..lens[r]`, zeros or an earlier
//! row's values after. A packed pass (`Model::pass`) only reads the tensors; `pass` then
//! writes each row's new keys and values after its columns. Joins and growing the
//! capacity copy single rows.

use ort::value::DynValue;

use crate::error::{Error, Result};
use crate::model::{Kv, Model, Step};

/// Most tokens one row feeds in one forward pass. A longer prompt takes several passes,
/// so that a pass's attention scores stay small (their memory grows with tokens x cached
/// positions) whatever the input's length.
pub const MAX_PASS_TOKENS: usize = 128;

/// Runs `ids` after the cached `past` (one row) and returns the last position's logits and
/// the whole cache. On a packed model, `past` is the pass's prefix and the new columns a row
/// of their own, fed as a row feeds them (`MAX_PASS_TOKENS` at a time).
pub fn forward(model: &Model, ids: &[u32], past: &Kv) -> Result<Step> {
    if ids.is_empty() {
        return Err(Error::Runtime("forward pass with no tokens".into()));
    }
    if !model.is_packed() {
        return model.forward_concatenating(ids, past);
    }
    let mut own = Slots::single(model, ids.len())?;
    let mut logits = Vec::new();
    for chunk in ids.chunks(MAX_PASS_TOKENS) {
        logits = own.pass(model, past, &[Some(chunk)])?;
    }
    Ok(Step { logits, kv: model.concat(past, &own.extract(model, 0)?)? })
}

/// Columns allocated past the longest row when a layout is built, so that many steps
/// run before the next copy into a wider one.
const HEADROOM: usize = 32;

pub struct Slots {
    values: Vec<DynValue>,
    lens: Vec<usize>,
    capacity: usize,
    heads: usize,
    dim: usize,
}

/// Where a row of a new layout comes from.
#[derive(Clone, Copy)]
pub enum Source {
    /// Row `r` of the current layout.
    Row(usize),
    /// A row with nothing cached yet.
    Empty,
}

impl Slots {
    pub fn empty(model: &Model) -> Result<Slots> {
        let m = &model.manifest;
        let values = (0..m.num_layers * 2).map(|_| model.cache_tensor(0, 0)).collect::<Result<_>>()?;
        Ok(Slots { values, lens: Vec::new(), capacity: 0, heads: m.num_kv_heads, dim: m.head_dim })
    }

    /// One row with nothing cached, with room for `room` columns before the next copy.
    pub fn single(model: &Model, room: usize) -> Result<Slots> {
        Slots::empty(model)?.rebuild(model, &[Source::Empty], room)
    }

    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// Columns row `r` holds.
    pub fn len(&self, r: usize) -> usize {
        self.lens[r]
    }

    fn longest(&self) -> usize {
        self.lens.iter().copied().max().unwrap_or(0)
    }

    /// Allocated columns past the longest row.
    pub fn slack(&self) -> usize {
        self.capacity - self.longest()
    }

    /// Copies rows into a new layout with `room` (at least `HEADROOM`) columns past the
    /// longest of them.
    pub fn rebuild(&self, model: &Model, plan: &[Source], room: usize) -> Result<Slots> {
        let lens: Vec<usize> = plan
            .iter()
            .map(|s| match s {
                Source::Row(r) => self.lens[*r],
                Source::Empty => 0,
            })
            .collect();
        let capacity = lens.iter().copied().max().unwrap_or(0) + room.max(HEADROOM);
        let (h, d) = (self.heads, self.dim);
        let mut values = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let (_, current) = value.try_extract_tensor::<f32>()?;
            let mut target = model.cache_tensor(plan.len(), capacity)?;
            let (_, data) = target.try_extract_tensor_mut::<f32>()?;
            for (i, (src, len)) in plan.iter().zip(&lens).enumerate() {
                let Source::Row(row) = src else { continue };
                for head in 0..h {
                    let s = (row * h + head) * self.capacity * d;
                    let t = (i * h + head) * capacity * d;
                    data[t..t + len * d].copy_from_slice(&current[s..s + len * d]);
                }
            }
            values.push(target);
        }
        Ok(Slots { values, lens, capacity, heads: h, dim: d })
    }

    /// Row `r`'s cache alone, `[1, kv_heads, len, head_dim]`, for a pass of its own.
    pub fn extract(&self, model: &Model, r: usize) -> Result<Kv> {
        let (h, d, cap, len) = (self.heads, self.dim, self.capacity, self.lens[r]);
        let mut values = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let (_, data) = value.try_extract_tensor::<f32>()?;
            let mut row = model.cache_tensor(1, len)?;
            let (_, target) = row.try_extract_tensor_mut::<f32>()?;
            for head in 0..h {
                let s = (r * h + head) * cap * d;
                target[head * len * d..(head + 1) * len * d].copy_from_slice(&data[s..s + len * d]);
            }
            values.push(row);
        }
        Ok(Kv { values, len })
    }

    /// Empties row `r` for a new row (what its columns held stays: finite, never read).
    pub fn clear(&mut self, r: usize) {
        self.lens[r] = 0;
    }

    /// One packed pass: `feeds[r]`, row `r`'s tokens (`None`: it sits out), after the
    /// shared `prefix` and the row's own columns; their keys and values are then written
    /// after those columns (the layout widened first when a row would not fit). Returns
    /// the fed rows' next-token logits, `fed rows x vocab` in row order.
    pub fn pass(&mut self, model: &Model, prefix: &Kv, feeds: &[Option<&[u32]>]) -> Result<Vec<f32>> {
        if feeds.len() != self.rows() {
            return Err(Error::Runtime("batch feeds do not match the layout".into()));
        }
        let needed = self.lens.iter().zip(feeds).map(|(len, f)| len + f.map_or(0, <[u32]>::len)).max().unwrap_or(0);
        if needed > self.capacity {
            let plan: Vec<Source> = (0..self.rows()).map(Source::Row).collect();
            let longest = feeds.iter().map(|f| f.map_or(0, <[u32]>::len)).max().unwrap_or(0);
            *self = self.rebuild(model, &plan, longest)?;
        }
        let out = model.pass(prefix, &self.values, &self.lens, feeds)?;
        let (h, d, cap) = (self.heads, self.dim, self.capacity);
        for (value, new) in self.values.iter_mut().zip(&out.new) {
            let (_, new) = new.try_extract_tensor::<f32>()?;
            let (_, data) = value.try_extract_tensor_mut::<f32>()?;
            for (r, span) in out.spans.iter().enumerate() {
                for (t, token) in span.clone().enumerate() {
                    for head in 0..h {
                        let s = (token * h + head) * d;
                        let at = ((r * h + head) * cap + self.lens[r] + t) * d;
                        data[at..at + d].copy_from_slice(&new[s..s + d]);
                    }
                }
            }
        }
        for (len, span) in self.lens.iter_mut().zip(&out.spans) {
            *len += span.len();
        }
        Ok(out.logits)
    }
}
