//! The vocabulary as bytes: what text each token id stands for, built from
//! `tokenizer.json` (inverting the byte-level BPE character map, or the sentencepiece
//! `▁`/`<0xNN>` spelling), plus the outlines-core `Vocabulary` made from it.

use std::path::Path;

use outlines_core::vocabulary::Vocabulary;
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
    pub vocabulary: Vocabulary,
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

        let mut vocabulary = Vocabulary::new(eos);
        for (id, b) in bytes.iter().enumerate() {
            // Every id is kept, even when two ids spell the same bytes.
            if !special[id] && id as u32 != eos && !b.is_empty() {
                vocabulary
                    .try_insert(b.to_vec(), id as u32)
                    .map_err(|e| Error::ModelLoad(format!("vocabulary: {e}")))?;
            }
        }
        let str_cost = bytes.iter().map(|b| str_cost(b)).collect();
        Ok(TokenText {
            tokenizer,
            plain,
            bytes,
            special,
            str_cost,
            vocabulary,
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
