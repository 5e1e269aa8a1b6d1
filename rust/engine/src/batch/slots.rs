//! The batch's KV cache: one `[rows, kv_heads, capacity, head_dim]` tensor per layer
//! and key/value, and each row's length.
//!
//! Rows are right-padded: row `r`'s cache fills columns `0..lens[r]`; what lies after
//! is never read, because the graph's attention reads only a row's own columns and
//! writes its new key/value at its own length (`Manifest::can_batch`). Decode steps
//! write into these tensors in place (`Model::step_in_place`); joins, solo passes and
//! growing the capacity copy single rows.

use ort::value::DynValue;

use crate::error::{Error, Result};
use crate::model::{InPlace, Kv, Model};

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
pub enum Source<'a> {
    /// Row `r` of the current layout.
    Row(usize),
    /// A row whose cache was computed alone (`[1, kv_heads, len, head_dim]`).
    Fresh(&'a Kv),
}

impl Slots {
    pub fn empty(model: &Model) -> Result<Slots> {
        let m = &model.manifest;
        let values = (0..m.num_layers * 2).map(|_| model.cache_tensor(0, 0)).collect::<Result<_>>()?;
        Ok(Slots { values, lens: Vec::new(), capacity: 0, heads: m.num_kv_heads, dim: m.head_dim })
    }

    /// Columns allocated per row.
    pub fn capacity(&self) -> usize {
        self.capacity
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

    /// Copies rows into a new layout with `HEADROOM` columns past the longest of them.
    pub fn rebuild(&self, model: &Model, plan: &[Source<'_>]) -> Result<Slots> {
        let lens: Vec<usize> = plan
            .iter()
            .map(|s| match s {
                Source::Row(r) => self.lens[*r],
                Source::Fresh(kv) => kv.len,
            })
            .collect();
        let capacity = lens.iter().copied().max().unwrap_or(0) + HEADROOM;
        let (h, d) = (self.heads, self.dim);
        let mut values = Vec::with_capacity(self.values.len());
        for (layer, value) in self.values.iter().enumerate() {
            let (_, current) = value.try_extract_tensor::<f32>()?;
            let mut target = model.cache_tensor(plan.len(), capacity)?;
            let (_, data) = target.try_extract_tensor_mut::<f32>()?;
            for (i, (src, len)) in plan.iter().zip(&lens).enumerate() {
                let (from, from_cols, row) = match src {
                    Source::Row(r) => (current, self.capacity, *r),
                    Source::Fresh(kv) => (kv.values[layer].try_extract_tensor::<f32>()?.1, kv.len, 0),
                };
                for head in 0..h {
                    let s = (row * h + head) * from_cols * d;
                    let t = (i * h + head) * capacity * d;
                    data[t..t + len * d].copy_from_slice(&from[s..s + len * d]);
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

    /// Makes row `r` hold `kv` (a `[1, kv_heads, len, head_dim]` cache whose first
    /// `keep` columns the row already holds: only the rest is copied). `false` when the
    /// layout has no room for `kv` and one more column.
    pub fn write(&mut self, r: usize, kv: &Kv, keep: usize) -> Result<bool> {
        if kv.len >= self.capacity || r >= self.rows() {
            return Ok(false);
        }
        let keep = keep.min(self.lens[r]).min(kv.len);
        let (h, d, cap, len) = (self.heads, self.dim, self.capacity, kv.len);
        for (value, from) in self.values.iter_mut().zip(&kv.values) {
            let (_, from) = from.try_extract_tensor::<f32>()?;
            let (_, data) = value.try_extract_tensor_mut::<f32>()?;
            for head in 0..h {
                let s = (head * len + keep) * d;
                let t = ((r * h + head) * cap + keep) * d;
                data[t..t + (len - keep) * d].copy_from_slice(&from[s..s + (len - keep) * d]);
            }
        }
        self.lens[r] = kv.len;
        Ok(true)
    }

    /// One step of one token per row, written into the cache in place. `feeds[r]`: row
    /// `r`'s token, or `None` for a row that sits this step out: it gets a pad token at
    /// its length, but its length does not advance, so its next real token overwrites
    /// it. Returns `rows x vocab` logits.
    pub fn step(&mut self, model: &Model, feeds: &[Option<u32>], pad: u32) -> Result<Vec<f32>> {
        if feeds.len() != self.rows() {
            return Err(Error::Runtime("batch feeds do not match the layout".into()));
        }
        if self.slack() == 0 {
            let plan: Vec<Source> = (0..self.rows()).map(Source::Row).collect();
            *self = self.rebuild(model, &plan)?;
        }
        // Only as wide as the longest row needs: attention's work follows the mask.
        let width = self.longest() + 1;
        let mut mask = Vec::with_capacity(feeds.len() * width);
        for len in &self.lens {
            mask.extend(std::iter::repeat_n(1i64, len + 1));
            mask.extend(std::iter::repeat_n(0i64, width - len - 1));
        }
        let logits = model.step_in_place(InPlace {
            ids: feeds.iter().map(|f| f.unwrap_or(pad) as i64).collect(),
            mask,
            positions: self.lens.iter().map(|l| *l as i64).collect(),
            cache: &mut self.values,
        })?;
        for (len, feed) in self.lens.iter_mut().zip(feeds) {
            if feed.is_some() {
                *len += 1;
            }
        }
        Ok(logits)
    }
}
