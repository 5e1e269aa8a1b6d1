//! The batch's KV cache: one `[rows, kv_heads, len, head_dim]` tensor per layer and
//! key/value, plus one attention-mask row per batch row.
//!
//! Rows are right-aligned: a row's real tokens end at the last column, so left
//! padding (mask 0) absorbs different lengths. Steady decoding feeds the graph's
//! `present` tensors straight back (no copy); only joins that find no free row and
//! compaction copy rows into a fresh layout.

use ort::value::{DynValue, Tensor};

use crate::error::{Error, Result};
use crate::model::{Kv, Rows};

pub struct Slots {
    values: Vec<DynValue>,
    masks: Vec<Vec<i64>>,
    len: usize,
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
        Ok(Slots { values, masks: Vec::new(), len: 0, heads, dim })
    }

    /// Columns of the layout.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn rows(&self) -> usize {
        self.masks.len()
    }

    /// Columns of a row that hold its tokens (from its first attended column on).
    fn span(&self, r: usize) -> usize {
        self.len - self.masks[r].iter().position(|m| *m != 0).unwrap_or(self.len)
    }

    /// Columns before every row's first attended column (dead weight in attention).
    pub fn common_padding(&self) -> usize {
        (0..self.rows()).map(|r| self.len - self.span(r)).min().unwrap_or(0)
    }

    /// Copies rows into a new layout, dropping columns that are padding in every row.
    pub fn rebuild(&self, plan: &[Source<'_>]) -> Result<Slots> {
        let spans: Vec<usize> = plan
            .iter()
            .map(|s| match s {
                Source::Row(r) => self.span(*r),
                Source::Fresh(kv) => kv.len,
            })
            .collect();
        let len = spans.iter().copied().max().unwrap_or(0);
        let (h, d) = (self.heads, self.dim);
        let mut values = Vec::with_capacity(self.values.len());
        for (layer, old) in self.values.iter().enumerate() {
            let (_, old) = old.try_extract_tensor::<f32>()?;
            let mut data = vec![0f32; plan.len() * h * len * d];
            for (i, (src, span)) in plan.iter().zip(&spans).enumerate() {
                let (from, from_len, from_row) = match src {
                    Source::Row(r) => (old, self.len, *r),
                    Source::Fresh(kv) => (kv.values[layer].try_extract_tensor::<f32>()?.1, kv.len, 0),
                };
                for head in 0..h {
                    let s = ((from_row * h + head) * from_len + from_len - span) * d;
                    let t = ((i * h + head) * len + len - span) * d;
                    data[t..t + span * d].copy_from_slice(&from[s..s + span * d]);
                }
            }
            values.push(Tensor::from_array(([plan.len(), h, len, d], data))?.into_dyn());
        }
        let masks = plan
            .iter()
            .zip(&spans)
            .map(|(src, span)| {
                let mut m = vec![0i64; len - span];
                match src {
                    Source::Row(r) => m.extend_from_slice(&self.masks[*r][self.len - span..]),
                    Source::Fresh(_) => m.extend(std::iter::repeat_n(1, *span)),
                }
                m
            })
            .collect();
        Ok(Slots { values, masks, len, heads: h, dim: d })
    }

    /// Reuses row `r` (whose sequence left) for a fresh row: writes its cache into
    /// the last columns. `false` when the layout is shorter than that cache.
    pub fn refill(&mut self, r: usize, prefix: &Kv) -> Result<bool> {
        if prefix.len > self.len || r >= self.rows() {
            return Ok(false);
        }
        let (h, d, len, p) = (self.heads, self.dim, self.len, prefix.len);
        for (value, pre) in self.values.iter_mut().zip(&prefix.values) {
            let (_, pre) = pre.try_extract_tensor::<f32>()?;
            let (_, data) = value.try_extract_tensor_mut::<f32>()?;
            for head in 0..h {
                let row = (r * h + head) * len * d;
                // The old row's cache would sit in the new row's padding: see `advance`.
                data[row..row + (len - p) * d].fill(0.0);
                let t = row + (len - p) * d;
                data[t..t + p * d].copy_from_slice(&pre[head * p * d..(head + 1) * p * d]);
            }
        }
        let mask = &mut self.masks[r];
        mask.iter_mut().for_each(|m| *m = 0);
        mask[len - p..].iter_mut().for_each(|m| *m = 1);
        Ok(true)
    }

    /// Inputs for one step. `feeds[r]`: row `r`'s tokens and the position of the
    /// first, or `None` for a row that sits this step out (its new columns are all
    /// padding). Every fed row must bring the same number of tokens: padding inside a
    /// fed row's new columns changes its int8 logits (see `advance`).
    pub fn step_inputs(&self, feeds: &[Option<(&[u32], usize)>], pad: u32) -> Result<(Rows<'_>, Vec<Vec<i64>>)> {
        if feeds.len() != self.rows() {
            return Err(Error::Runtime("batch feeds do not match the layout".into()));
        }
        let n = feeds.iter().flatten().map(|(t, _)| t.len()).max().unwrap_or(1).max(1);
        if feeds.iter().flatten().any(|(t, _)| t.len() != n) {
            return Err(Error::Runtime("rows of one step must feed the same number of tokens".into()));
        }
        let mut ids = Vec::with_capacity(feeds.len() * n);
        let mut positions = Vec::with_capacity(feeds.len() * n);
        let mut mask = Vec::with_capacity(feeds.len() * (self.len + n));
        let mut masks = Vec::with_capacity(feeds.len());
        for (feed, old) in feeds.iter().zip(&self.masks) {
            let (toks, first): (&[u32], usize) = feed.unwrap_or((&[], 0));
            let k = toks.len();
            let mut row = old.clone();
            row.extend(std::iter::repeat_n(0, n - k));
            row.extend(std::iter::repeat_n(1, k));
            ids.extend(std::iter::repeat_n(pad as i64, n - toks.len()));
            ids.extend(toks.iter().map(|t| *t as i64));
            positions.extend(std::iter::repeat_n(0, n - k));
            positions.extend((first..first + k).map(|p| p as i64));
            mask.extend_from_slice(&row);
            masks.push(row);
        }
        Ok((Rows { rows: feeds.len(), new: n, ids, mask, positions, past: &self.values }, masks))
    }

    /// Takes the graph's `present` tensors and the masks `step_inputs` returned, and
    /// zeroes the cache of the new padding columns. Why: with the int8 model
    /// (MatMulNBits accuracy level 4) a row's logits depend on the *contents* of its
    /// masked columns, not only on the mask (measured: up to 0.33 off after one
    /// column of pad-token cache, exactly equal with zeros there); fp32 and int4 do
    /// not care. Zeroed padding keeps batched rows bit-identical to single rows.
    pub fn advance(&mut self, present: Vec<DynValue>, masks: Vec<Vec<i64>>) -> Result<()> {
        let old = self.len;
        self.len = masks.first().map_or(0, Vec::len);
        self.values = present;
        self.masks = masks;
        let (h, d, len) = (self.heads, self.dim, self.len);
        for value in self.values.iter_mut() {
            let (_, data) = value.try_extract_tensor_mut::<f32>()?;
            for (r, mask) in self.masks.iter().enumerate() {
                for c in (old..len).filter(|c| mask[*c] == 0) {
                    for head in 0..h {
                        let t = ((r * h + head) * len + c) * d;
                        data[t..t + d].fill(0.0);
                    }
                }
            }
        }
        Ok(())
    }
}
