//! The vocabulary as bytes: what text each token id stands for, built from
//! `tokenizer.json` (inverting the byte-level BPE character map, or the sentencepiece
//! `▁`/`<0xNN>` spelling), plus the trie of the tokens the constraint may pick.

use std::path::Path;

use tokenizers::decoders::DecoderWrapper;
use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// How a token's vocabulary string maps to bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Spelling {
    ByteLevel,
    SentencePiece,
}

/// Per-token facts for enforcing string length bounds without walking the bytes
/// of every candidate token each step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrCost {
    /// Characters the token adds to a JSON string before it closes (or in total).
    pub chars: u32,
    /// The token contains the closing quote.
    pub closes: bool,
}

pub struct TokenText {
    /// Recognises special tokens: used for the prompt text the task author wrote.
    pub tokenizer: Tokenizer,
    /// Treats special-token text as ordinary text: used for row input and forced
    /// output text, so an input containing `<|im_end|>` cannot end its chat turn.
    plain: Tokenizer,
    pub bytes: Vec<Box<[u8]>>,
    pub special: Vec<bool>,
    pub str_cost: Vec<StrCost>,
    /// The tokens output may be written with (every id but special ones and eos).
    pub trie: TokenTrie,
    /// The end-of-sequence id: what ends output at a final state.
    pub eos: u32,
    /// Identifies the tokenizer in the process-wide Index cache.
    pub fingerprint: u64,
}

impl TokenText {
    pub fn load(dir: &Path, vocab_size: usize, eos: u32) -> Result<TokenText> {
        let path = dir.join("tokenizer.json");
        let raw = std::fs::read(&path)
            .map_err(|e| Error::ModelLoad(format!("cannot read {}: {e}", path.display())))?;
        let tokenizer = Tokenizer::from_bytes(&raw)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        let mut plain = tokenizer.clone();
        plain.set_encode_special_tokens(true);
        let spelling = spelling(tokenizer.get_decoder()).ok_or_else(|| {
            Error::ModelLoad(format!(
                "{}: unsupported decoder (byte-level BPE or sentencepiece with byte fallback are supported)",
                path.display()
            ))
        })?;

        let added = tokenizer.get_added_tokens_decoder();
        let vocab = tokenizer.get_vocab(false);
        let size = vocab_size
            .max(vocab.values().map(|v| *v as usize + 1).max().unwrap_or(0))
            .max(added.keys().map(|v| *v as usize + 1).max().unwrap_or(0));
        let mut bytes: Vec<Box<[u8]>> = vec![Box::default(); size];
        let mut special = vec![false; size];
        let inverse = byte_level_inverse();
        for (text, id) in &vocab {
            bytes[*id as usize] = match spelling {
                Spelling::ByteLevel => text
                    .chars()
                    .map(|c| inverse.get(c as usize).copied().flatten())
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_else(|| text.as_bytes().to_vec())
                    .into(),
                Spelling::SentencePiece => sentencepiece_bytes(text).into(),
            };
        }
        for (id, tok) in &added {
            // Added tokens are stored as plain text, not in the byte-level spelling.
            bytes[*id as usize] = tok.content.as_bytes().into();
            special[*id as usize] = tok.special;
        }

        // Every id is kept, even when two ids spell the same bytes.
        let trie = TokenTrie::new(
            bytes.iter().enumerate().filter(|(id, b)| !special[*id] && *id as u32 != eos && !b.is_empty()).map(|(id, b)| (&**b, id as u32)),
        );
        let str_cost = bytes.iter().map(|b| str_cost(b)).collect();
        Ok(TokenText {
            tokenizer,
            plain,
            bytes,
            special,
            str_cost,
            trie,
            eos,
            fingerprint: xxhash_rust::xxh3::xxh3_64(&raw),
        })
    }

    pub fn vocab_len(&self) -> usize {
        self.bytes.len()
    }

    /// Token ids of text written by the task author (special tokens recognised).
    pub fn encode_template(&self, text: &str) -> Result<Vec<u32>> {
        encode(&self.tokenizer, text)
    }

    /// Token ids of untrusted text: special-token strings stay ordinary text.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        encode(&self.plain, text)
    }

    pub fn text_of(&self, ids: &[u32]) -> Vec<u8> {
        ids.iter()
            .filter_map(|id| self.bytes.get(*id as usize))
            .flat_map(|b| b.iter().copied())
            .collect()
    }
}

/// Token byte strings as a trie laid out in preorder, so that walking it beside an automaton
/// is one pass over three arrays: a node whose byte the automaton refuses is skipped with
/// its whole subtree (every token starting with that prefix) in one step.
pub struct TokenTrie {
    /// Per node: the byte on the edge into it (the first level's nodes hang off the root).
    byte: Vec<u8>,
    /// Per node: the index just past its subtree.
    end: Vec<u32>,
    /// Per node: where its ids start in `ids`; the ids of the tokens spelled by the path to
    /// node `n` are `ids[first_id[n]..first_id[n + 1]]` (one sentinel at the end).
    first_id: Vec<u32>,
    ids: Vec<u32>,
}

impl TokenTrie {
    pub fn new<'a>(tokens: impl Iterator<Item = (&'a [u8], u32)>) -> TokenTrie {
        let mut sorted: Vec<(&[u8], u32)> = tokens.collect();
        sorted.sort_unstable();
        let mut t = TokenTrie { byte: Vec::new(), end: Vec::new(), first_id: Vec::new(), ids: Vec::new() };
        // The nodes on the path to the previous token: in sorted order a token shares a prefix
        // with it, and its own ids always belong to the last node created (a prefix sorts first).
        let mut path: Vec<usize> = Vec::new();
        let mut prev: &[u8] = &[];
        for (bytes, id) in sorted {
            let shared = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            while path.len() > shared {
                let n = path.pop().unwrap();
                t.end[n] = t.byte.len() as u32;
            }
            for b in &bytes[shared..] {
                path.push(t.byte.len());
                t.byte.push(*b);
                t.end.push(0);
                t.first_id.push(t.ids.len() as u32);
            }
            t.ids.push(id);
            prev = bytes;
        }
        for n in path {
            t.end[n] = t.byte.len() as u32;
        }
        t.first_id.push(t.ids.len() as u32);
        t
    }

    /// Walks every token from `start`: `step(state, byte)` is the automaton's next state, or
    /// `None` where it cannot go on (the token and every longer one with that prefix are
    /// skipped); `visit(state, ids)` sees each token that gets through whole, with the state
    /// it ends in.
    pub fn walk<S: Copy>(&self, start: S, mut step: impl FnMut(S, u8) -> Option<S>, mut visit: impl FnMut(S, &[u32])) {
        let mut ancestors: Vec<(u32, S)> = Vec::new();
        let mut n = 0usize;
        while n < self.byte.len() {
            while ancestors.last().is_some_and(|(end, _)| n as u32 >= *end) {
                ancestors.pop();
            }
            let from = ancestors.last().map_or(start, |(_, s)| *s);
            match step(from, self.byte[n]) {
                None => n = self.end[n] as usize,
                Some(s) => {
                    let ids = &self.ids[self.first_id[n] as usize..self.first_id[n + 1] as usize];
                    if !ids.is_empty() {
                        visit(s, ids);
                    }
                    ancestors.push((self.end[n], s));
                    n += 1;
                }
            }
        }
    }

    /// Bytes the trie holds (for memory figures).
    pub fn bytes(&self) -> usize {
        self.byte.len() * 9 + self.ids.len() * 4
    }
}

fn encode(t: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    t.encode_fast(text, false)
        .map(|e| e.get_ids().to_vec())
        .map_err(|e| Error::Runtime(format!("tokenizer: {e}")))
}

fn spelling(d: Option<&DecoderWrapper>) -> Option<Spelling> {
    match d? {
        DecoderWrapper::ByteLevel(_) => Some(Spelling::ByteLevel),
        DecoderWrapper::Metaspace(_) | DecoderWrapper::ByteFallback(_) => Some(Spelling::SentencePiece),
        DecoderWrapper::Sequence(seq) => {
            let json = serde_json::to_string(seq).ok()?;
            if json.contains("\"ByteLevel\"") {
                Some(Spelling::ByteLevel)
            } else if json.contains("\"ByteFallback\"") || json.contains("\"Metaspace\"") {
                Some(Spelling::SentencePiece)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// GPT-2's `bytes_to_unicode`, inverted: char code → byte.
fn byte_level_inverse() -> Vec<Option<u8>> {
    let mut inverse = vec![None; 512];
    let mut extra = 0usize;
    for b in 0..=255u8 {
        let printable = matches!(b, 33..=126 | 161..=172 | 174..=255);
        let c = if printable {
            b as usize
        } else {
            extra += 1;
            255 + extra
        };
        inverse[c] = Some(b);
    }
    inverse
}

fn sentencepiece_bytes(text: &str) -> Vec<u8> {
    if let Some(hex) = text.strip_prefix("<0x").and_then(|t| t.strip_suffix('>')) {
        if let Ok(b) = u8::from_str_radix(hex, 16) {
            return vec![b];
        }
    }
    text.replace('\u{2581}', " ").into_bytes()
}

/// Length accounting as `constraint::bounds` does it, for a token written inside a
/// JSON string (outside an escape).
fn str_cost(bytes: &[u8]) -> StrCost {
    let mut c = StrCost::default();
    let mut escape = false;
    for &b in bytes {
        if escape {
            escape = false;
            continue;
        }
        match b {
            b'"' => {
                c.closes = true;
                break;
            }
            b'\\' => {
                escape = true;
                c.chars += 1;
            }
            b if b & 0xC0 != 0x80 => c.chars += 1,
            _ => {}
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_map_round_trips() {
        let inv = byte_level_inverse();
        assert_eq!(inv['A' as usize], Some(b'A'));
        assert_eq!(inv[0x120], Some(b' ')); // 'Ġ'
        assert_eq!(inv[0x10A], Some(b'\n')); // 'Ċ'
        assert_eq!(inv.iter().flatten().count(), 256);
    }

    #[test]
    fn string_cost_counts_chars_until_quote() {
        let c = str_cost("ab\\\"c\",".as_bytes());
        assert_eq!((c.chars, c.closes), (4, true));
        let c = str_cost("héllo".as_bytes());
        assert_eq!((c.chars, c.closes), (5, false));
    }
}
