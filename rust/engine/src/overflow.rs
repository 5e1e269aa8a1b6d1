//! What happens to a row whose input does not fit: the task's `context_overflow_action`.

use crate::error::{Error, Result};

/// What to do with a row whose prompt does not fit the context window
/// (named after Flink's `context-overflow-action` model option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextOverflow {
    /// The row fails with `InputTooLong`.
    Error,
    /// Keep the start of the input, drop its end (default, as in Flink's own model
    /// providers: an event's length alone never fails a row, so a replay cannot fail on it).
    TruncateTail,
    /// Keep the end of the input, drop its start.
    TruncateHead,
}

impl ContextOverflow {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "truncated-tail" => Ok(Self::TruncateTail),
            "truncated-head" => Ok(Self::TruncateHead),
            other => Err(Error::InvalidTask(format!(
                "context_overflow_action {other:?}: use \"error\", \"truncated-tail\" or \"truncated-head\""
            ))),
        }
    }
}
