//! The constraint state of one row while it is decoded: regex state + bounds tracker.

use regex_automata::util::primitives::StateID;

use super::bounds::Tracker;
use super::compile::{bit, Compiled};
use crate::error::{Error, Result};
use crate::tokens::TokenText;

pub struct RowConstraint<'a> {
    c: &'a Compiled,
    state: StateID,
    tracker: Tracker<'a>,
    /// Bytes written so far.
    pub text: Vec<u8>,
}

/// A candidate-token filter for one step: `allows(id)` is cheap and exact except for
/// tokens that run past a string's closing quote, which `confirm` then checks fully.
pub struct Pick<'r, 'a> {
    row: &'r RowConstraint<'a>,
    mask: &'r [u64],
    budget: Option<(u64, u64, Option<u64>)>,
    tokens: &'r TokenText,
}

impl Pick<'_, '_> {
    #[inline]
    pub fn allows(&self, id: usize) -> bool {
        if !bit(self.mask, id) {
            return false;
        }
        let Some((count, min, max)) = self.budget else { return true };
        let cost = self.tokens.str_cost[id];
        let total = count + cost.chars as u64;
        max.is_none_or(|m| total <= m) && (!cost.closes || total >= min)
    }

    /// The full check for the chosen token (walks its bytes through the tracker).
    pub fn confirm(&self, id: usize) -> bool {
        self.row.accepts(self.tokens, id as u32)
    }
}

impl<'a> RowConstraint<'a> {
    pub fn new(c: &'a Compiled) -> Self {
        RowConstraint { c, state: c.initial(), tracker: Tracker::new(&c.ir), text: Vec::new() }
    }

    /// The filter for choosing the next token.
    pub fn pick<'r>(&'r self, tokens: &'r TokenText) -> Result<Pick<'r, 'a>> {
        let mask = self
            .c
            .mask(self.state)
            .ok_or_else(|| Error::Runtime("constraint reached a state with no allowed token".into()))?;
        // The per-token length table assumes we are not right after a backslash.
        let budget = self
            .tracker
            .in_string()
            .filter(|s| !s.escape && (s.max.is_some() || s.min > 0))
            .map(|s| (s.count, s.min, s.max));
        Ok(Pick { row: self, mask, budget, tokens })
    }

    fn accepts(&self, tokens: &TokenText, id: u32) -> bool {
        let Some(bytes) = tokens.bytes.get(id as usize) else { return false };
        if self.is_stop(tokens, id) {
            return self.c.is_final(self.state) && self.tracker.clone().finish().is_ok();
        }
        let Some(next) = self.c.walk(self.state, bytes) else { return false };
        let mut t = self.tracker.clone();
        if t.push_bytes(bytes).is_err() {
            return false;
        }
        // Inside a string with a length bound, the pattern must still be able to finish
        // within it: without this a token can lead where no answer is valid any more.
        match t.in_string() {
            Some(st) if !st.escape => st.max.is_none_or(|m| st.count + self.c.chars_before_quote(next) <= m),
            _ => true,
        }
    }

    fn is_stop(&self, tokens: &TokenText, id: u32) -> bool {
        tokens.special.get(id as usize).copied().unwrap_or(true) || tokens.bytes.get(id as usize).is_none_or(|b| b.is_empty())
    }

    /// Appends a token chosen by the model (already confirmed). Returns true if it
    /// was a stop token.
    pub fn advance(&mut self, tokens: &TokenText, id: u32) -> Result<bool> {
        if self.is_stop(tokens, id) {
            return Ok(true);
        }
        match tokens.bytes.get(id as usize) {
            Some(bytes) => self.push_bytes(bytes),
            None => Ok(true),
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Result<bool> {
        self.state = self
            .c
            .walk(self.state, bytes)
            .ok_or_else(|| Error::Runtime("token outside the schema regex".into()))?;
        self.tracker
            .push_bytes(bytes)
            .map_err(|_| Error::Runtime("token breaks a schema bound".into()))?;
        self.text.extend_from_slice(bytes);
        Ok(false)
    }

    /// True when the output is complete and nothing more may follow.
    pub fn is_complete(&self) -> bool {
        self.c.is_final(self.state) && self.c.next_bytes(self.state, 0).is_empty()
    }

    /// The text the schema forces next (keys, punctuation, the rest of an enum value,
    /// a closing quote at maxLength, ...), cut to whole UTF-8 characters.
    pub fn forced_text(&self) -> String {
        let mut out = Vec::new();
        let mut s = self.state;
        let mut t = self.tracker.clone();
        while out.len() < 512 && !self.c.is_final(s) {
            let mut options = self.c.next_bytes(s, 8);
            if options.len() > 8 {
                // Free text: forced only when the tracker closes the string (maxLength).
                match t.in_string() {
                    Some(st) if !st.escape && st.max == Some(st.count) => options = vec![b'"'],
                    _ => break,
                }
            }
            options.retain(|b| t.accepts(&[*b]) && self.c.walk(s, &[*b]).is_some());
            let [b] = options[..] else { break };
            let Some(next) = self.c.walk(s, &[b]) else { break };
            if t.push(b).is_err() {
                break;
            }
            s = next;
            out.push(b);
        }
        let valid = match std::str::from_utf8(&out) {
            Ok(_) => out.len(),
            Err(e) => e.valid_up_to(),
        };
        out.truncate(valid);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends forced tokens (from `forced_text`, tokenized canonically), stopping at
    /// the first one the constraint does not accept. Returns how many were taken.
    /// Whether writing `text` from here completes the answer (nothing but the end may follow).
    pub fn ends_answer(&self, text: &str) -> bool {
        self.c.walk(self.state, text.as_bytes()).is_some_and(|s| self.c.is_final(s))
    }

    pub fn take_forced(&mut self, tokens: &TokenText, ids: &[u32]) -> Result<usize> {
        let mut n = 0;
        for id in ids {
            let Some(mask) = self.c.mask(self.state) else { break };
            if !bit(mask, *id as usize) || !self.accepts(tokens, *id) {
                break;
            }
            self.advance(tokens, *id)?;
            n += 1;
        }
        Ok(n)
    }

    /// Checks the end of output (an open top-level number is finished here).
    pub fn finish(&mut self) -> Result<()> {
        if !self.c.is_final(self.state) {
            return Err(Error::Runtime("output ended before the schema was satisfied".into()));
        }
        self.tracker
            .finish()
            .map_err(|_| Error::Runtime("output ends outside a schema bound".into()))
    }
}
