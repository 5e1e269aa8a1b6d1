//! Schema → regex → outlines-core `Index` → compact per-state token masks.
//!
//! The Index is only a means: its transition map holds one entry per (state, allowed
//! token), ~49k for every state inside a string. We keep one deduplicated bitset per
//! distinct allowed-token set and find next states by walking a token's bytes through
//! the byte-level DFA, which is built exactly as outlines-core builds its own (same
//! regex, same `regex-automata` builder), so the Index's state ids are this DFA's ids.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use outlines_core::index::Index;
use regex_automata::dfa::dense::DFA;
use regex_automata::dfa::Automaton;
use regex_automata::util::primitives::StateID;
use regex_automata::Anchored;

use crate::error::{Error, Result};
use crate::schema::{self, validate::Validator, SchemaIr};
use crate::tokens::TokenText;
use crate::weak_map::WeakMap;

pub struct Compiled {
    pub ir: SchemaIr,
    pub regex: String,
    pub validator: Validator,
    dfa: DFA<Vec<u32>>,
    initial: StateID,
    masks: Vec<Box<[u64]>>,
    state_mask: HashMap<u32, u32>,
    finals: HashSet<u32>,
    pub build_ms: f64,
}

/// Process-wide cache: one compiled constraint per (tokenizer, schema, extra stops), kept
/// while any task uses it.
static CACHE: WeakMap<(u64, String, Vec<u32>), Compiled> = WeakMap::new("constraint");

/// Compiles (or fetches from the cache) the constraint for a parsed schema.
/// `extra_stops` are token ids, besides the vocabulary's eos, that may end output
/// at a final state.
pub fn compile(ir: &SchemaIr, tokens: &TokenText, extra_stops: &[u32]) -> Result<Arc<Compiled>> {
    let key = (tokens.fingerprint, ir.source.to_string(), extra_stops.to_vec());
    CACHE.get_or_try_insert(key, || build(ir, tokens, extra_stops))
}

fn build(ir: &SchemaIr, tokens: &TokenText, extra_stops: &[u32]) -> Result<Compiled> {
    let started = Instant::now();
    let regex = schema::regex::schema_regex(ir);
    let index = Index::new(&regex, &tokens.vocabulary)
        .map_err(|e| Error::UnsupportedSchema(format!("cannot build the token index: {e}")))?;
    let dfa = DFA::new(&regex).map_err(|e| Error::UnsupportedSchema(format!("regex: {e}")))?;
    let initial = dfa
        .universal_start_state(Anchored::Yes)
        .ok_or_else(|| Error::Runtime("schema DFA has no anchored start state".into()))?;
    if initial.as_u32() != index.initial_state() {
        return Err(Error::Runtime("schema DFA and outlines Index disagree on state ids".into()));
    }

    let words = tokens.vocab_len().div_ceil(64);
    let mut masks: Vec<Box<[u64]>> = Vec::new();
    let mut seen: HashMap<Box<[u64]>, u32> = HashMap::new();
    let mut state_mask = HashMap::new();
    let finals: HashSet<u32> = index.final_states().iter().copied().collect();
    for (state, next) in index.transitions() {
        let mut bits = vec![0u64; words].into_boxed_slice();
        for id in next.keys() {
            set(&mut bits, *id);
        }
        if finals.contains(state) {
            for id in extra_stops {
                set(&mut bits, *id);
            }
        }
        let m = *seen.entry(bits.clone()).or_insert_with(|| {
            masks.push(bits);
            (masks.len() - 1) as u32
        });
        state_mask.insert(*state, m);
    }
    drop(index);
    Ok(Compiled {
        validator: Validator::new(ir),
        ir: ir.clone(),
        regex,
        dfa,
        initial,
        masks,
        state_mask,
        finals,
        build_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

fn set(bits: &mut [u64], id: u32) {
    if let Some(w) = bits.get_mut(id as usize / 64) {
        *w |= 1 << (id % 64);
    }
}

pub(super) fn bit(bits: &[u64], id: usize) -> bool {
    bits.get(id / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
}

impl Compiled {
    /// Bytes held by the compact form (DFA + masks + state table).
    pub fn bytes(&self) -> usize {
        self.dfa.memory_usage()
            + self.masks.iter().map(|m| m.len() * 8).sum::<usize>()
            + self.state_mask.len() * 8
            + self.finals.len() * 4
    }

    pub fn distinct_masks(&self) -> usize {
        self.masks.len()
    }

    pub(super) fn initial(&self) -> StateID {
        self.initial
    }

    pub(super) fn mask(&self, s: StateID) -> Option<&[u64]> {
        self.state_mask.get(&s.as_u32()).map(|m| &*self.masks[*m as usize])
    }

    pub(super) fn is_final(&self, s: StateID) -> bool {
        self.finals.contains(&s.as_u32())
    }

    /// The state after `bytes`, or `None` if the regex cannot continue with them.
    pub(super) fn walk(&self, mut s: StateID, bytes: &[u8]) -> Option<StateID> {
        for b in bytes {
            s = self.dfa.next_state(s, *b);
            if self.dfa.is_dead_state(s) || self.dfa.is_quit_state(s) {
                return None;
            }
        }
        Some(s)
    }

    /// Bytes the regex allows next, at most `limit + 1` of them (enough to tell
    /// "one" from "several").
    pub(super) fn next_bytes(&self, s: StateID, limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for b in 0..=255u8 {
            if self.walk(s, &[b]).is_some() {
                out.push(b);
                if out.len() > limit {
                    break;
                }
            }
        }
        out
    }
}
