//! Why a line of the command language does not parse. Each reads as a
//! sentence for the user: no Rust formatting reaches them.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GrammarError {
    #[error("empty command")]
    Empty,
    #[error("unknown command \"{0}\"; try help")]
    UnknownCommand(String),
    #[error("missing {what} (found {got})")]
    Missing {
        what: &'static str,
        got: &'static str,
    },
    #[error("{what} must be a whole number, got \"{got}\"")]
    NotANumber { what: &'static str, got: String },
    #[error("{what} must be between {min} and {max}, got {got}")]
    OutOfRange {
        what: &'static str,
        min: u64,
        max: u64,
        got: u64,
    },
    #[error("{what} takes {expected}, got \"{got}\"")]
    BadWord {
        what: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("unexpected \"{extra}\" after {after}")]
    Unexpected { extra: String, after: String },
    #[error("a {0} is not closed")]
    Unclosed(&'static str),
    #[error("a list item is empty (quote it: \"\")")]
    EmptyItem,
    #[error("send needs a text: send <w> <text>")]
    NoText,
    #[error("unknown condition \"{0}\"; conditions: {CONDITIONS}")]
    UnknownCondition(String),
}

/// The condition forms, for error messages and help.
pub const CONDITIONS: &str = "<node> shows [..] | <node> holds [..] | <node> duplicates >= N | \
<node> is healthy|suspected|unhealthy | read-only | writable | <label> completed [status] [took>=MS] | \
<label> pending [for=MS] | writes | <node> is primary|secondary|candidate | primary elected | \
primary is not <node> | <node> rolled back N|[..] | <node> in doubt [#N] | <node> not in doubt | \
#N|<label> committed|aborted everywhere | <node> exited";
