//! The byte-level automaton of a schema's regex, built within a budget.
//!
//! Whoever can submit SQL writes the schema, and a regex's DFA can be exponentially larger
//! than the regex (`(a|b)*a(a|b){20}` needs 2^21 states) or merely huge (`.{0,20000}`). The
//! compile runs at planning and on every task manager that opens the task, so an unbounded
//! build takes a shared cluster's task managers into swap. Every build here is bounded while
//! it runs: regex-automata stops the NFA compile and the determinisation at a memory limit,
//! and the walks over states stop at a state count and a deadline. Over budget the caller
//! gets a `BudgetExceeded` naming the figure that broke, and names the schema path itself.
//!
//! The budget is the operator's, never a SQL user's: engine defaults, overridden by the
//! process setting `FLINKLLM_SCHEMA_BUDGET` (Java: system property `flinkllm.schema-budget`,
//! forwarded at load), e.g. `max-states=50000, max-memory-mib=512, max-seconds=20`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use regex_automata::dfa::dense::{self, DFA};
use regex_automata::dfa::Automaton as _;
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::Anchored;

use crate::error::{Error, Result};

/// The environment variable an operator sets the budget with.
pub const BUDGET_ENV: &str = "FLINKLLM_SCHEMA_BUDGET";

/// Limits on building one schema's constraint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Reachable DFA states of one schema (or one `pattern` / `enum` in it).
    pub max_states: usize,
    /// (state, allowed token) pairs of the token index: what building it costs, in a
    /// figure that does not depend on the machine.
    pub max_transitions: u64,
    /// Bytes of the automaton while it is built (NFA, determinisation, DFA) and of the
    /// token masks built from it: each is held to this.
    pub max_memory: usize,
    /// Wall time of one compile.
    pub max_time: Duration,
}

impl Default for Budget {
    /// Sized so the seed tasks and every schema of the JSON-Schema-Test-Suite that the engine
    /// supports pass with room to spare (README: "Schema compile budget" has the figures),
    /// while a hostile one is refused within about a second and ~100 MB on a 2-core machine.
    /// The wall time is a backstop for a slow machine; the other figures decide first.
    fn default() -> Self {
        Budget { max_states: 20_000, max_transitions: 25_000_000, max_memory: 32 << 20, max_time: Duration::from_secs(10) }
    }
}

static OPERATOR_BUDGET: OnceCell<Budget> = OnceCell::new();

impl Budget {
    /// The budget in force: what the binding set (`set_operator`), else `FLINKLLM_SCHEMA_BUDGET`,
    /// else the defaults. A malformed environment setting falls back to the defaults; the
    /// binding's own setting is checked when it is set.
    pub fn current() -> Budget {
        *OPERATOR_BUDGET.get_or_init(|| std::env::var(BUDGET_ENV).ok().and_then(|s| Budget::parse(&s).ok()).unwrap_or_default())
    }

    /// Sets the process's budget from an operator setting (first call wins, before any
    /// schema is compiled); `Err` names the malformed part.
    pub fn set_operator(setting: &str) -> Result<Budget> {
        let b = Budget::parse(setting)?;
        Ok(*OPERATOR_BUDGET.get_or_init(|| b))
    }

    /// `max-states=N, max-transitions=N, max-memory-mib=N, max-seconds=N` (any subset; the
    /// rest default).
    pub fn parse(setting: &str) -> Result<Budget> {
        let mut b = Budget::default();
        for part in setting.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || Error::InvalidTask(format!("{BUDGET_ENV}: {part:?}: expected max-states=N, max-transitions=N, max-memory-mib=N or max-seconds=N with N ≥ 1"));
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let n: u64 = value.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(bad)?;
            match key.trim() {
                "max-states" => b.max_states = n as usize,
                "max-transitions" => b.max_transitions = n,
                "max-memory-mib" => b.max_memory = (n as usize).saturating_mul(1 << 20),
                "max-seconds" => b.max_time = Duration::from_secs(n),
                _ => return Err(bad()),
            }
        }
        Ok(b)
    }

    pub fn deadline(&self) -> Deadline {
        Deadline(Instant::now() + self.max_time, self.max_time)
    }
}

/// When a compile must have finished.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant, Duration);

impl Deadline {
    pub fn check(&self) -> std::result::Result<(), BudgetExceeded> {
        if Instant::now() > self.0 {
            Err(BudgetExceeded::Time(self.1))
        } else {
            Ok(())
        }
    }
}

/// The figure that broke the budget; the caller adds where (`#/properties/v/pattern: …`).
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetExceeded {
    States(usize),
    Transitions(u64),
    Memory(usize),
    Time(Duration),
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = format!("(limit set by the operator's {BUDGET_ENV} / flinkllm.schema-budget)");
        match self {
            BudgetExceeded::States(limit) => write!(f, "needs more than {limit} automaton states {how}"),
            BudgetExceeded::Transitions(limit) => write!(f, "needs more than {limit} (state, token) transitions {how}"),
            BudgetExceeded::Memory(limit) if *limit >= 1 << 20 => write!(f, "needs more than {} MiB to compile {how}", limit >> 20),
            BudgetExceeded::Memory(limit) => write!(f, "needs more than {} KiB to compile {how}", limit >> 10),
            BudgetExceeded::Time(limit) => write!(f, "takes longer than {} s to compile {how}", limit.as_secs()),
        }
    }
}

/// A regex's anchored DFA, its start state and its live states.
pub struct Automaton {
    pub dfa: DFA<Vec<u32>>,
    pub start: StateID,
    /// Every live state reachable from `start`.
    states: Vec<StateID>,
}

/// Why an automaton could not be built: over budget, or a regex the builder refuses.
pub enum BuildError {
    Budget(BudgetExceeded),
    Regex(String),
}

impl From<BudgetExceeded> for BuildError {
    fn from(e: BudgetExceeded) -> Self {
        BuildError::Budget(e)
    }
}

impl BuildError {
    /// The error for a schema, with `what` saying where (`#/properties/v/pattern: the pattern`).
    pub fn at(self, what: &str) -> Error {
        match self {
            BuildError::Budget(e) => Error::UnsupportedSchema(format!("{what} {e}")),
            BuildError::Regex(e) => Error::UnsupportedSchema(format!("{what}: regex: {e}")),
        }
    }
}

impl Automaton {
    /// Builds the DFA (the configuration outlines-core uses, plus the memory limits) and
    /// checks that at most `max_states` states are reachable from its start.
    pub fn build(regex: &str, budget: &Budget, deadline: &Deadline) -> std::result::Result<Automaton, BuildError> {
        let limit = Some(budget.max_memory);
        let dfa = dense::Builder::new()
            .configure(dense::Config::new().determinize_size_limit(limit).dfa_size_limit(limit))
            .thompson(thompson::Config::new().nfa_size_limit(limit))
            .build(regex)
            .map_err(|e| if e.is_size_limit_exceeded() { BuildError::Budget(BudgetExceeded::Memory(budget.max_memory)) } else { BuildError::Regex(e.to_string()) })?;
        let start = dfa
            .universal_start_state(Anchored::Yes)
            .ok_or_else(|| BuildError::Regex("the DFA has no anchored start state".into()))?;
        let mut a = Automaton { dfa, start, states: Vec::new() };
        a.states = a.reachable(budget, deadline)?;
        Ok(a)
    }

    /// Whether the regex can go on from `s` (neither dead nor quit).
    pub fn alive(&self, s: StateID) -> bool {
        !self.dfa.is_dead_state(s) && !self.dfa.is_quit_state(s)
    }

    /// One byte of each byte class (bytes of a class move every state alike).
    fn representatives(&self) -> Vec<u8> {
        self.dfa.byte_classes().representatives(0..=255).filter_map(|u| u.as_u8()).collect()
    }

    /// Live states reachable from the start, stopping past `max_states`.
    fn reachable(&self, budget: &Budget, deadline: &Deadline) -> std::result::Result<Vec<StateID>, BudgetExceeded> {
        let bytes = self.representatives();
        let mut seen = HashSet::from([self.start]);
        let mut todo = vec![self.start];
        let mut states = Vec::new();
        while let Some(s) = todo.pop() {
            states.push(s);
            if seen.len() > budget.max_states {
                return Err(BudgetExceeded::States(budget.max_states));
            }
            if states.len() % 256 == 0 {
                deadline.check()?;
            }
            for b in &bytes {
                let n = self.dfa.next_state(s, *b);
                if self.alive(n) && seen.insert(n) {
                    todo.push(n);
                }
            }
        }
        Ok(states)
    }

    /// For every live state, the fewest characters the regex must take before it can take
    /// a `"` byte (counting UTF-8 lead bytes, not continuation bytes). Inside a string whose
    /// body cannot hold a raw quote (a `pattern` or `format`), that is the fewest characters
    /// the string still needs: what lets a length bound refuse a token that would leave the
    /// pattern unable to finish within `maxLength`. Free strings, whose quote is always
    /// next, get 0.
    pub fn chars_before_quote(&self) -> HashMap<StateID, u32> {
        let bytes = self.representatives();
        let classes = self.dfa.byte_classes();
        // The cheapest byte of each class: a class with a lead or ASCII byte costs 1, one of
        // continuation bytes only 0.
        let mut weight = [1u32; 256];
        for b in 0..=255u8 {
            let c = classes.get(b) as usize;
            weight[c] = weight[c].min(u32::from(!(0x80..=0xBF).contains(&b)));
        }
        let mut into: HashMap<StateID, Vec<(StateID, u32)>> = HashMap::new();
        let mut dist: HashMap<StateID, u32> = HashMap::new();
        let mut queue = std::collections::VecDeque::new();
        for &s in &self.states {
            if self.alive(self.dfa.next_state(s, b'"')) {
                dist.insert(s, 0);
                queue.push_back(s);
            }
            for &b in &bytes {
                let n = self.dfa.next_state(s, b);
                if self.alive(n) {
                    into.entry(n).or_default().push((s, weight[classes.get(b) as usize]));
                }
            }
        }
        // 0-1 breadth-first search backwards from the states that can take the quote.
        while let Some(n) = queue.pop_front() {
            let d = dist[&n];
            for &(s, w) in into.get(&n).map_or(&[][..], Vec::as_slice) {
                if dist.get(&s).is_none_or(|old| d + w < *old) {
                    dist.insert(s, d + w);
                    if w == 0 {
                        queue.push_front(s);
                    } else {
                        queue.push_back(s);
                    }
                }
            }
        }
        dist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_setting_overrides_the_keys_it_names() {
        let b = Budget::parse("max-states=500, max-memory-mib=8; max-seconds=3").unwrap();
        assert_eq!((b.max_states, b.max_memory, b.max_time), (500, 8 << 20, Duration::from_secs(3)));
        assert_eq!(b.max_transitions, Budget::default().max_transitions);
        assert_eq!(Budget::parse("").unwrap(), Budget::default());
        for bad in ["max-states", "max-states=0", "max-states=-1", "colour=red", "max-seconds=1.5"] {
            let e = Budget::parse(bad).unwrap_err();
            assert!(e.reason().contains(BUDGET_ENV) && e.reason().contains(bad.split(',').next().unwrap()), "{bad}: {}", e.reason());
        }
    }

    #[test]
    fn a_build_over_a_figure_stops_at_that_figure() {
        let tight = Budget { max_states: 30, ..Budget::default() };
        let b = |re: &str, budget: &Budget| Automaton::build(re, budget, &budget.deadline()).err().map(|e| e.at("#").to_string());
        assert_eq!(b("[a-z]{10}", &tight), None);
        assert!(b("[a-z]{40}", &tight).unwrap().contains("needs more than 30 automaton states"));
        let small = Budget { max_memory: 1 << 20, ..Budget::default() };
        assert!(b("(a|b)*a(a|b){20}", &small).unwrap().contains("needs more than 1 MiB to compile"));
        let late = Deadline(Instant::now() - Duration::from_secs(1), Duration::from_secs(2));
        assert!(matches!(Automaton::build("[a-z]{2000}", &Budget::default(), &late).err().unwrap(), BuildError::Budget(BudgetExceeded::Time(_))));
    }

    #[test]
    fn chars_before_quote_counts_characters_not_bytes() {
        let budget = Budget::default();
        let a = Automaton::build("\"(?:é{3}x)\"", &budget, &budget.deadline()).ok().unwrap();
        // From the start: the opening quote is next (0); after it, three 2-byte é and x.
        let d = a.chars_before_quote();
        assert_eq!(d[&a.start], 0);
        let after_quote = a.dfa.next_state(a.start, b'"');
        assert_eq!(d[&after_quote], 4);
    }
}
