//! The index inputs of a packed pass (docs/model-directory.md, "Packed passes"): the new
//! tokens of every row one after another, and where each row's tokens sit in the graph's
//! two attention groups. A row feeding one token takes a slot of the token group (one
//! per batch row); a row feeding several (prompt, jump-forward chunk) takes a row of the
//! chunk group, padded to the longest chunk. Which group a row joins depends only on its
//! own token count, so a row goes through the same computation alone and in any batch.
//! `tools/flinkllm_tools/decoding.py` (`packed_feeds`) builds the same inputs for tests.

/// The inputs besides the caches, each a flat `i64` list in the graph's layout.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PackedInputs {
    /// `[1, tokens]`
    pub input_ids: Vec<i64>,
    /// `[1, tokens]`: each token's position in its row (prefix + own columns + offset).
    pub position_ids: Vec<i64>,
    /// `[batch, width]`: 1 where a row has a cached column.
    pub past_mask: Vec<i64>,
    /// `[batch]`: the packed token of a one-token row (0 for the others, masked).
    pub token_index: Vec<i64>,
    pub token_mask: Vec<i64>,
    /// `[chunks]`: the batch row of each chunk; never empty (a masked placeholder when no
    /// row feeds several tokens).
    pub chunk_rows: Vec<i64>,
    /// `[chunks * chunk_length]`: the packed token of each chunk slot (padding repeats the
    /// chunk's first token, masked).
    pub chunk_index: Vec<i64>,
    pub chunk_mask: Vec<i64>,
    pub chunk_length: usize,
    /// `[tokens]`: each packed token's row among the attention outputs (the token group's
    /// `batch` slots, then the chunk group's).
    pub output_index: Vec<i64>,
    /// `[fed rows]`: each fed row's last token, where its next token is chosen.
    pub logits_index: Vec<i64>,
    /// Per batch row, the packed range of its tokens (empty for rows that sit out).
    pub spans: Vec<std::ops::Range<usize>>,
}

impl PackedInputs {
    /// `prefix`: the shared prefix's columns; `lens[r]`: row `r`'s own cached columns;
    /// `feeds[r]`: its tokens this pass, if any; `width`: the row cache tensors' columns
    /// (at least 1 and at least every length).
    pub fn new(prefix: usize, lens: &[usize], feeds: &[Option<&[u32]>], width: usize) -> PackedInputs {
        let batch = lens.len();
        let mut p = PackedInputs { chunk_length: 1, ..Default::default() };
        for (len, feed) in lens.iter().zip(feeds) {
            let start = p.input_ids.len();
            let ids = feed.unwrap_or(&[]);
            p.input_ids.extend(ids.iter().map(|&i| i64::from(i)));
            p.position_ids.extend((0..ids.len()).map(|t| (prefix + len + t) as i64));
            p.spans.push(start..p.input_ids.len());
            p.past_mask.extend((0..width).map(|c| i64::from(c < *len)));
        }
        let chunked: Vec<usize> = (0..batch).filter(|&r| p.spans[r].len() > 1).collect();
        p.chunk_length = chunked.iter().map(|&r| p.spans[r].len()).max().unwrap_or(1);
        p.output_index = vec![0; p.input_ids.len()];
        for (r, span) in p.spans.iter().enumerate() {
            let single = span.len() == 1;
            p.token_index.push(if single { span.start as i64 } else { 0 });
            p.token_mask.push(i64::from(single));
            if single {
                p.output_index[span.start] = r as i64;
            }
        }
        for (c, &r) in chunked.iter().enumerate() {
            let span = p.spans[r].clone();
            p.chunk_rows.push(r as i64);
            for t in 0..p.chunk_length {
                let real = t < span.len();
                p.chunk_index.push(if real { (span.start + t) as i64 } else { span.start as i64 });
                p.chunk_mask.push(i64::from(real));
                if real {
                    p.output_index[span.start + t] = (batch + c * p.chunk_length + t) as i64;
                }
            }
        }
        if chunked.is_empty() {
            p.chunk_rows.push(0);
            p.chunk_index.push(0);
            p.chunk_mask.push(0);
        }
        p.logits_index = p.spans.iter().filter(|s| !s.is_empty()).map(|s| (s.end - 1) as i64).collect();
        p
    }

    pub fn tokens(&self) -> usize {
        self.input_ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_join_the_group_of_their_own_token_count() {
        let (a, b, c) = ([7u32], [1u32, 2, 3], [4u32, 5]);
        let p = PackedInputs::new(10, &[2, 0, 3, 1], &[Some(&a), Some(&b), None, Some(&c)], 4);
        assert_eq!(p.input_ids, vec![7, 1, 2, 3, 4, 5]);
        assert_eq!(p.position_ids, vec![12, 10, 11, 12, 11, 12]);
        assert_eq!(p.past_mask, vec![1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0]);
        assert_eq!((p.token_index, p.token_mask), (vec![0, 0, 0, 0], vec![1, 0, 0, 0]));
        assert_eq!((p.chunk_rows, p.chunk_length), (vec![1, 3], 3));
        assert_eq!(p.chunk_index, vec![1, 2, 3, 4, 5, 4]);
        assert_eq!(p.chunk_mask, vec![1, 1, 1, 1, 1, 0]);
        // batch of 4 token slots, then chunk 0's three slots, then chunk 1's.
        assert_eq!(p.output_index, vec![0, 4, 5, 6, 7, 8]);
        assert_eq!(p.logits_index, vec![0, 3, 5]);
        assert_eq!(p.spans, vec![0..1, 1..4, 4..4, 4..6]);
    }

    #[test]
    fn a_pass_without_chunks_keeps_one_masked_placeholder() {
        let (a, b) = ([7u32], [8u32]);
        let p = PackedInputs::new(0, &[1, 2], &[Some(&a), Some(&b)], 3);
        assert_eq!((p.chunk_rows, p.chunk_index, p.chunk_mask, p.chunk_length), (vec![0], vec![0], vec![0], 1));
        assert_eq!(p.output_index, vec![0, 1]);
    }
}
