//! The batch's KV cache: one `[rows, kv_heads, cols, head_dim]` tensor per layer and
//! key/value, and each row's length.
//!
//! Rows are right-padded (`PaddingSide::Right` graphs): row `r`'s cache fills columns
//! `0..lens[r]`; what lies after is never read, because the graph's attention reads
//! only a row's own columns and writes its new key/value at its own length. Steady
//! decoding feeds the graph's `present` tensors straight back (no copy on our side);
//! joins, solo passes and compaction copy single rows.

use ort::value::{DynValue, Tensor};

use crate::error::{Error, Result};
use crate::model::{Kv, Rows};

pub struct Slots {
    values: Vec<DynValue>,
    lens: Vec<usize>,
    cols: usize,
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
    pub fn empty(layers: usize, heads: usize, dim: usize) -> Result<Slots> {
        let mut values = Vec::with_capacity(layers);
        for _ in 0..layers {
            values.push(Tensor::<f32>::from_array(([0usize, heads, 0, dim], Vec::<f32>::new()))?.into_dyn());
        }
        Ok(Slots { values, lens: Vec::new(), cols: 0, heads, dim })
    }

    /// Columns of the layout.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Columns row `r` holds.
    pub fn len(&self, r: usize) -> usize {
        self.lens[r]
    }

    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// Columns past the longest row: copied by every step, read by none.
    pub fn slack(&self) -> usize {
        self.cols - self.lens.iter().copied().max().unwrap_or(0)
    }

    /// Copies rows into a new layout just wide enough for the longest of them.
    pub fn rebuild(&self, plan: &[Source<'_>]) -> Result<Slots> {
        let lens: Vec<usize> = plan
            .iter()
            .map(|s| match s {
                Source::Row(r) => self.lens[*r],
                Source::Fresh(kv) => kv.len,
            })
            .collect();
        let cols = lens.iter().copied().max().unwrap_or(0);
        let (h, d) = (self.heads, self.dim);
        let mut values = Vec::with_capacity(self.values.len());
        for (layer, value) in self.values.iter().enumerate() {
            let (_, current) = value.try_extract_tensor::<f32>()?;
            let mut data = vec![0f32; plan.len() * h * cols * d];
            for (i, (src, len)) in plan.iter().zip(&lens).enumerate() {
                let (from, from_cols, row) = match src {
                    Source::Row(r) => (current, self.cols, *r),
                    Source::Fresh(kv) => (kv.values[layer].try_extract_tensor::<f32>()?.1, kv.len, 0),
                };
                for head in 0..h {
                    let s = (row * h + head) * from_cols * d;
                    let t = (i * h + head) * cols * d;
                    data[t..t + len * d].copy_from_slice(&from[s..s + len * d]);
                }
            }
            values.push(Tensor::from_array(([plan.len(), h, cols, d], data))?.into_dyn());
        }
        Ok(Slots { values, lens, cols, heads: h, dim: d })
    }

    /// Row `r`'s cache alone, `[1, kv_heads, len, head_dim]`, for a pass of its own.
    pub fn extract(&self, r: usize) -> Result<Kv> {
        let (h, d, cols, len) = (self.heads, self.dim, self.cols, self.lens[r]);
        let mut values = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let (_, data) = value.try_extract_tensor::<f32>()?;
            let mut row = Vec::with_capacity(h * len * d);
            for head in 0..h {
                let s = (r * h + head) * cols * d;
                row.extend_from_slice(&data[s..s + len * d]);
            }
            values.push(Tensor::from_array(([1usize, h, len, d], row))?.into_dyn());
        }
        Ok(Kv { values, len })
    }

    /// Makes row `r` hold `kv` (a `[1, kv_heads, len, head_dim]` cache whose first
    /// `keep` columns the row already holds: only the rest is copied). `false` when the
    /// layout is narrower than `kv`.
    pub fn write(&mut self, r: usize, kv: &Kv, keep: usize) -> Result<bool> {
        if kv.len > self.cols || r >= self.rows() {
            return Ok(false);
        }
        let keep = keep.min(self.lens[r]).min(kv.len);
        let (h, d, cols, len) = (self.heads, self.dim, self.cols, kv.len);
        for (value, from) in self.values.iter_mut().zip(&kv.values) {
            let (_, from) = from.try_extract_tensor::<f32>()?;
            let (_, data) = value.try_extract_tensor_mut::<f32>()?;
            for head in 0..h {
                let s = (head * len + keep) * d;
                let t = ((r * h + head) * cols + keep) * d;
                data[t..t + (len - keep) * d].copy_from_slice(&from[s..s + (len - keep) * d]);
            }
        }
        self.lens[r] = kv.len;
        Ok(true)
    }

    /// Inputs for one step of one token per row. `feeds[r]`: row `r`'s token, or `None`
    /// for a row that sits this step out: it gets a pad token at its length, which the
    /// graph writes into its cache, but its length does not advance, so its next real
    /// token overwrites it.
    pub fn step_inputs(&self, feeds: &[Option<u32>], pad: u32) -> Result<Rows<'_>> {
        if feeds.len() != self.rows() {
            return Err(Error::Runtime("batch feeds do not match the layout".into()));
        }
        let width = self.cols + 1;
        let mut mask = Vec::with_capacity(feeds.len() * width);
        for len in &self.lens {
            mask.extend(std::iter::repeat_n(1i64, len + 1));
            mask.extend(std::iter::repeat_n(0i64, width - len - 1));
        }
        Ok(Rows {
            rows: feeds.len(),
            new: 1,
            ids: feeds.iter().map(|f| f.unwrap_or(pad) as i64).collect(),
            mask,
            positions: self.lens.iter().map(|l| *l as i64).collect(),
            past: &self.values,
        })
    }

    /// Takes the graph's `present` tensors (one column wider) after a step; rows that
    /// were fed grow by one.
    pub fn advance(&mut self, present: Vec<DynValue>, feeds: &[Option<u32>]) {
        self.values = present;
        self.cols += 1;
        for (len, feed) in self.lens.iter_mut().zip(feeds) {
            if feed.is_some() {
                *len += 1;
            }
        }
    }
}
