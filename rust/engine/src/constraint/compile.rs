//! Schema → regex → byte-level DFA → compact per-state token masks, within the operator's
//! compile budget (`automaton::Budget`).
//!
//! A token is allowed in a state when its bytes walk the DFA to a live state that is not a
//! (delayed) match, or to one where the text may end: the rule of outlines-core's `Index`,
//! which the tests hold this build to. We build the masks ourselves rather than through
//! `Index::new` because that cannot be bounded: it determinises without a size limit and
//! keeps a map of every allowed token per state (~49k entries for each state inside a free
//! string) before we could look at it. Here each state's tokens are found by one walk over
//! the token trie (a refused byte skips every token that starts with it), straight into a
//! deduplicated bitset, and the state count, the masks' memory and the wall time are checked
//! after every state.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use regex_automata::dfa::Automaton as _;
use regex_automata::util::primitives::StateID;

use crate::automaton::{Automaton, Budget, BudgetExceeded, Deadline};
use crate::error::{Error, Result};
use crate::schema::{self, validate::Validator, SchemaIr};
use crate::tokens::TokenText;
use crate::weak_map::WeakMap;

pub struct Compiled {
    pub ir: SchemaIr,
    pub regex: String,
    pub validator: Validator,
    automaton: Automaton,
    masks: Vec<Box<[u64]>>,
    state_mask: HashMap<u32, u32>,
    finals: HashSet<u32>,
    /// (state, allowed token) pairs of the index: the figure the budget holds.
    pub transitions: u64,
    /// `Automaton::chars_before_quote`: what a string with a pattern still needs.
    chars_before_quote: HashMap<StateID, u32>,
    pub build_ms: f64,
}

/// Process-wide cache: one compiled constraint per (tokenizer, parsed schema, extra stops),
/// kept while any task uses it. The key is the parsed tree, not the schema as written: the
/// tree carries what the constraint depends on beyond the text (the `max_string_length`
/// given to free strings, among others). `Node` holds floats, so its `Debug` text stands in
/// for a hash (it prints every field, exactly).
static CACHE: WeakMap<(u64, u32, String, Vec<u32>), Compiled> = WeakMap::new("constraint");

/// Compiles (or fetches from the cache) the constraint for a parsed schema, within the
/// process's compile budget. `extra_stops` are token ids, besides the vocabulary's eos,
/// that may end output at a final state.
pub fn compile(ir: &SchemaIr, tokens: &TokenText, extra_stops: &[u32]) -> Result<Arc<Compiled>> {
    let key = (tokens.fingerprint, tokens.eos, format!("{:?}/{}", ir.nodes, ir.root), extra_stops.to_vec());
    CACHE.get_or_try_insert(key, || build(ir, tokens, extra_stops, &Budget::current()))
}

/// The schema's automaton alone, without a vocabulary: what planning checks, so a schema
/// over budget fails when the statement is submitted, not on the task managers.
pub fn check_automaton(ir: &SchemaIr) -> Result<()> {
    let budget = Budget::current();
    Automaton::build(&schema::regex::schema_regex(ir), &budget, &budget.deadline()).map(drop).map_err(|e| e.at("#: the schema"))
}

fn build(ir: &SchemaIr, tokens: &TokenText, extra_stops: &[u32], budget: &Budget) -> Result<Compiled> {
    let started = Instant::now();
    let deadline = budget.deadline();
    let regex = schema::regex::schema_regex(ir);
    let automaton = Automaton::build(&regex, budget, &deadline).map_err(|e| e.at("#: the schema"))?;
    let masks = TokenMasks::build(&automaton, tokens, extra_stops, budget, &deadline).map_err(|e| match e {
        MaskError::Budget(e) => Error::UnsupportedSchema(format!("#: the schema's token index {e}")),
        MaskError::NoToken(s) => Error::UnsupportedSchema(format!(
            "#: the vocabulary has no token for what the schema allows after {:?}",
            String::from_utf8_lossy(&s)
        )),
    })?;
    Ok(Compiled {
        validator: Validator::new(ir),
        ir: ir.clone(),
        regex,
        transitions: masks.transitions,
        chars_before_quote: automaton.chars_before_quote(),
        automaton,
        masks: masks.masks,
        state_mask: masks.state_mask,
        finals: masks.finals,
        build_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

enum MaskError {
    Budget(BudgetExceeded),
    /// A live, non-final state no token leaves: the text so far (one path to it).
    NoToken(Vec<u8>),
}

/// Every state reachable by tokens, with its allowed tokens as a bitset shared by the
/// states that allow the same set.
struct TokenMasks {
    masks: Vec<Box<[u64]>>,
    state_mask: HashMap<u32, u32>,
    finals: HashSet<u32>,
    /// (state, allowed token) pairs.
    transitions: u64,
}

impl TokenMasks {
    fn build(a: &Automaton, tokens: &TokenText, extra_stops: &[u32], budget: &Budget, deadline: &Deadline) -> std::result::Result<TokenMasks, MaskError> {
        let dfa = &a.dfa;
        let words = tokens.vocab_len().div_ceil(64);
        let mut out = TokenMasks { masks: Vec::new(), state_mask: HashMap::new(), finals: HashSet::new(), transitions: 0 };
        let mut distinct: HashMap<Box<[u64]>, u32> = HashMap::new();
        // How each state was first reached (the state before and the token), for the error a
        // dead end gets.
        let mut reached: HashMap<StateID, (StateID, u32)> = HashMap::from([(a.start, (a.start, u32::MAX))]);
        let mut todo = vec![a.start];
        let mask_bytes = words * 8;
        while let Some(state) = todo.pop() {
            if out.transitions > budget.max_transitions {
                return Err(MaskError::Budget(BudgetExceeded::Transitions(budget.max_transitions)));
            }
            deadline.check().map_err(MaskError::Budget)?;
            let mut bits = vec![0u64; words].into_boxed_slice();
            let is_final = dfa.is_match_state(dfa.next_eoi_state(state));
            tokens.trie.walk(
                state,
                |s, b| Some(dfa.next_state(s, b)).filter(|n| a.alive(*n)),
                |next, ids| {
                    if !dfa.is_match_state(next) || dfa.is_match_state(dfa.next_eoi_state(next)) {
                        for id in ids {
                            set(&mut bits, *id);
                        }
                        out.transitions += ids.len() as u64;
                    }
                    reached.entry(next).or_insert_with(|| {
                        todo.push(next);
                        (state, ids[0])
                    });
                },
            );
            if reached.len() > budget.max_states {
                return Err(MaskError::Budget(BudgetExceeded::States(budget.max_states)));
            }
            if is_final {
                out.finals.insert(state.as_u32());
                for id in std::iter::once(&tokens.eos).chain(extra_stops) {
                    set(&mut bits, *id);
                }
            }
            if bits.iter().all(|w| *w == 0) {
                if !dfa.is_match_state(state) {
                    return Err(MaskError::NoToken(text_to(&reached, state, tokens)));
                }
                continue;
            }
            let m = match distinct.get(&bits) {
                Some(m) => *m,
                None => {
                    if (out.masks.len() + 1) * mask_bytes > budget.max_memory {
                        return Err(MaskError::Budget(BudgetExceeded::Memory(budget.max_memory)));
                    }
                    out.masks.push(bits.clone());
                    distinct.insert(bits, (out.masks.len() - 1) as u32);
                    (out.masks.len() - 1) as u32
                }
            };
            out.state_mask.insert(state.as_u32(), m);
        }
        Ok(out)
    }
}

/// The text of the tokens that first reached `state`.
fn text_to(reached: &HashMap<StateID, (StateID, u32)>, mut state: StateID, tokens: &TokenText) -> Vec<u8> {
    let mut path = Vec::new();
    while let Some((before, id)) = reached.get(&state).filter(|(_, id)| *id != u32::MAX) {
        path.push(*id);
        state = *before;
    }
    path.reverse();
    tokens.text_of(&path)
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
        self.automaton.dfa.memory_usage()
            + self.masks.iter().map(|m| m.len() * 8).sum::<usize>()
            + self.state_mask.len() * 8
            + self.finals.len() * 4
    }

    /// Token states: the states a whole token can end in.
    pub fn states(&self) -> usize {
        self.state_mask.len()
    }

    pub fn distinct_masks(&self) -> usize {
        self.masks.len()
    }

    pub(super) fn initial(&self) -> StateID {
        self.automaton.start
    }

    pub(super) fn mask(&self, s: StateID) -> Option<&[u64]> {
        self.state_mask.get(&s.as_u32()).map(|m| &*self.masks[*m as usize])
    }

    pub(super) fn is_final(&self, s: StateID) -> bool {
        self.finals.contains(&s.as_u32())
    }

    /// The fewest characters a string must still take from `s` before its closing quote
    /// (0 where the quote may come next, or where no quote is reachable).
    pub(super) fn chars_before_quote(&self, s: StateID) -> u64 {
        self.chars_before_quote.get(&s).copied().unwrap_or(0).into()
    }

    /// The state after `bytes`, or `None` if the regex cannot continue with them.
    pub(super) fn walk(&self, mut s: StateID, bytes: &[u8]) -> Option<StateID> {
        for b in bytes {
            s = self.automaton.dfa.next_state(s, *b);
            if !self.automaton.alive(s) {
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

#[cfg(test)]
mod tests {
    //! The masks against outlines-core's `Index` (the rule they follow), on the real SmolLM2
    //! tokenizer the tiny test model carries; and the compile budget's refusals.
    use super::*;
    use crate::manifest::Manifest;
    use outlines_core::index::Index;
    use outlines_core::vocabulary::Vocabulary;
    use serde_json::json;
    use std::path::PathBuf;

    fn tiny_tokens() -> TokenText {
        let cache = std::env::var_os("FLINKLLM_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/flinkllm"));
        let dir = cache.join("models/tiny");
        let m = Manifest::load(&dir).unwrap_or_else(|e| panic!("{e}: run `tools/prepare-model tiny` first"));
        TokenText::load(&dir, m.vocab_size, m.eos_token_id).unwrap()
    }

    const SEED_TASKS: [&str; 4] = ["support_ticket", "comment_moderation", "entities", "review_summary"];

    fn seed_schema(name: &str) -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tasks/").to_string() + name + ".schema.json";
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn vocabulary(tokens: &TokenText) -> Vocabulary {
        let mut v = Vocabulary::new(tokens.eos);
        for (id, b) in tokens.bytes.iter().enumerate() {
            if !tokens.special[id] && id as u32 != tokens.eos && !b.is_empty() {
                v.try_insert(b.to_vec(), id as u32).unwrap();
            }
        }
        v
    }

    #[test]
    fn masks_are_outlines_core_index_transitions() {
        let tokens = tiny_tokens();
        let vocabulary = vocabulary(&tokens);
        let schemas = [
            json!({"type": "object", "properties": {"category": {"enum": ["auth", "billing", "product-bug"]},
                   "explanation": {"type": "string", "maxLength": 200}, "n": {"type": "integer"}}, "required": ["category", "explanation"]}),
            json!({"type": "array", "items": {"type": "object", "properties": {"entity": {"type": "string"}, "type": {"enum": ["PER", "ORG"]}},
                   "required": ["entity", "type"]}, "maxItems": 5}),
            json!({"type": "object", "properties": {"id": {"type": "string", "pattern": "^[A-Z]{2,4}-[0-9]{1,6}$"},
                   "when": {"type": "string", "format": "date-time"}, "ok": {"type": "boolean"}, "x": {"type": "number"}}, "required": ["id"]}),
        ];
        for schema in schemas.into_iter().chain(SEED_TASKS.map(seed_schema)) {
            let ir = schema::parse_schema(&schema).unwrap();
            let c = build(&ir, &tokens, &[], &Budget::default()).unwrap();
            let index = Index::new(&c.regex, &vocabulary).unwrap();
            assert_eq!(c.initial().as_u32(), index.initial_state(), "{schema}");
            let finals: HashSet<u32> = index.final_states().iter().copied().collect();
            assert_eq!(c.finals, finals, "{schema}");
            assert_eq!(c.state_mask.len(), index.transitions().len(), "{schema}: states with tokens");
            for (state, next) in index.transitions() {
                let mask = c.mask(StateID::new(*state as usize).unwrap()).unwrap_or_else(|| panic!("{schema}: state {state} has no mask"));
                let ours: Vec<u32> = (0..tokens.vocab_len() as u32).filter(|id| bit(mask, *id as usize)).collect();
                let mut theirs: Vec<u32> = next.keys().copied().collect();
                theirs.sort_unstable();
                assert_eq!(ours, theirs, "{schema}: state {state}");
            }
        }
    }

    /// The seed tasks' schemas need a small part of the default budget (figures printed).
    #[test]
    fn seed_schemas_fit_the_default_budget_with_room() {
        let tokens = tiny_tokens();
        let budget = Budget::default();
        for name in SEED_TASKS {
            let schema = seed_schema(name);
            let ir = schema::parse_schema(&schema).unwrap();
            let c = build(&ir, &tokens, &[], &budget).unwrap();
            println!("{name}: {} token states, {} transitions, {} distinct masks, {:.1} ms", c.states(), c.transitions, c.distinct_masks(), c.build_ms);
            assert!(c.states() * 20 < budget.max_states && c.transitions * 5 < budget.max_transitions, "{name}");
        }
    }

    #[test]
    fn a_schema_over_the_budget_is_refused_naming_the_figure() {
        let tokens = tiny_tokens();
        let small = Budget { max_states: 50, ..Budget::default() };
        let ir = schema::parse_schema(&json!({"enum": ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]})).unwrap();
        let err = build(&ir, &tokens, &[], &small).err().expect("over 50 states");
        assert!(err.reason().starts_with("#: the schema needs more than 50 automaton states"), "{}", err.reason());
        let tight = Budget { max_memory: 100 << 10, ..Budget::default() };
        let ir = schema::parse_schema(&json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"enum": ["x", "y"]}, "c": {"type": "integer"}}})).unwrap();
        let err = build(&ir, &tokens, &[], &tight).err().expect("masks over 100 KiB");
        assert!(err.reason().contains("needs more than 100 KiB") && err.reason().contains("token index"), "{}", err.reason());
        assert!(build(&ir, &tokens, &[], &Budget::default()).is_ok());
    }

    #[test]
    fn the_cache_keeps_constraints_that_differ_in_the_string_bound_apart() {
        let tokens = tiny_tokens();
        let schema = json!({"type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]});
        let short = compile(&schema::parse_schema_with(&schema, 5).unwrap(), &tokens, &[]).unwrap();
        let long = compile(&schema::parse_schema_with(&schema, 300).unwrap(), &tokens, &[]).unwrap();
        assert!(!Arc::ptr_eq(&short, &long));
        let note = |c: &Compiled| format!("{:?}", c.ir.nodes);
        assert!(note(&short).contains("max_length: Some(5)") && note(&long).contains("max_length: Some(300)"));
        // Both open at once, each row enforces its own bound.
        let text = |n: usize| json!({"note": "a".repeat(n)});
        assert!(short.validator.validate(&text(5)).is_ok() && short.validator.validate(&text(6)).is_err());
        assert!(long.validator.validate(&text(300)).is_ok());
        let again = compile(&schema::parse_schema_with(&schema, 5).unwrap(), &tokens, &[]).unwrap();
        assert!(Arc::ptr_eq(&short, &again), "the same parsed schema shares one constraint");
    }
}
