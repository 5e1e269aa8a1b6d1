//! JSON-schema-constrained decoding: the compiled constraint for one (schema,
//! tokenizer) pair, shared by every row and task that uses it.

pub mod bounds;
mod compile;
pub mod numeric;
mod row;
pub mod unique;

pub use compile::{check_automaton, compile, Compiled};
pub use row::{Pick, RowConstraint};
