//! Conditions on the cluster: what `wait` waits for, and what a demo step
//! expects. One type, one grammar (`FromStr` + `Display`), one sentence
//! for people ([`Condition::describe`]); [`super::check`] decides them.

use super::grammar_error::GrammarError;
use super::words::{quote, quote_list, Token, Words};
use replog_node::api::Health;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `s1 shows [a, b]`: the node's visible messages are exactly these.
    Messages { node: String, equal: Vec<String> },
    /// `s2 holds [c]`: the secondary holds exactly these behind a gap.
    Held { node: String, equal: Vec<String> },
    /// `s1 duplicates >= 1`: it ignored at least this many duplicates.
    Duplicates { node: String, at_least: u64 },
    /// `s1 is unhealthy`: the primary sees the secondary so.
    Health { node: String, is: Health },
    /// `read-only` / `writable`.
    ReadOnly(bool),
    /// `Msg1 completed 201 took>=800`: the labelled write got its reply.
    Completed {
        label: String,
        status: Option<u16>,
        took_at_least: Option<Duration>,
    },
    /// `Msg3 pending for=1000`: still waiting, and still so `for_` later.
    Pending { label: String, for_: Duration },
    /// `writes`: no write sent from here is waiting for its reply.
    WritesSettled,
    /// `n2 is primary` / `secondary` / `candidate`: the node's own
    /// `/health` says so (failover).
    Role { node: String, role: RoleWord },
    /// `primary elected`: some member leads; `primary is not n1`: one
    /// other than n1 leads (the one with the highest term, when a paused
    /// or cut-off old primary still says primary).
    Leader { except: Option<String> },
    /// `n1 rolled back 3`: the node cut exactly this many entries that
    /// diverged from an elected primary's log (its `/health`
    /// `rolled_back`).
    RolledBack { node: String, count: u64 },
    /// `n1 rolled back [X, Y]`: the node's rollback files hold exactly these
    /// messages, oldest first (local clusters: the controller reads the
    /// node's data directory).
    RolledBackMessages { node: String, equal: Vec<String> },
    /// `s1 in doubt #7`: the node holds atomic entry 7 prepared and
    /// undecided (its `/health` `in_doubt`); `s1 in doubt`: any entry.
    InDoubt { node: String, seq: Option<u64> },
    /// `s1 not in doubt`: it holds no entry in doubt.
    NotInDoubt { node: String },
    /// `#7 committed everywhere` / `Tx aborted everywhere`: an atomic
    /// write's outcome on every node. Committed: every node shows it.
    /// Aborted: no running node shows it or holds it in doubt.
    Everywhere { write: WriteRef, outcome: Decided },
    /// `p exited`: the node's process ended on its own (a crash), not by
    /// the controller's hand.
    Exited { node: String },
}

/// A write a condition names: by its seq (`#7`), or by its label, whose
/// seq the reply gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRef {
    Seq(u64),
    Label(String),
}

impl fmt::Display for WriteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteRef::Seq(seq) => write!(f, "#{seq}"),
            // A label that reads like a seq must stay a label.
            WriteRef::Label(label) if seq_word(label).is_some() => {
                write!(f, "\"{label}\"")
            }
            WriteRef::Label(label) => f.write_str(&quote(label)),
        }
    }
}

/// `#7` → 7.
fn seq_word(word: &str) -> Option<u64> {
    let digits = word.strip_prefix('#')?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An atomic write's outcome, as conditions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Committed,
    Aborted,
}

impl Decided {
    pub fn as_str(self) -> &'static str {
        match self {
            Decided::Committed => "committed",
            Decided::Aborted => "aborted",
        }
    }
}

/// A role a member's `/health` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleWord {
    Primary,
    Secondary,
    Candidate,
}

impl RoleWord {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleWord::Primary => "primary",
            RoleWord::Secondary => "secondary",
            RoleWord::Candidate => "candidate",
        }
    }

    fn of(word: &str) -> Option<RoleWord> {
        match word {
            "primary" => Some(RoleWord::Primary),
            "secondary" => Some(RoleWord::Secondary),
            "candidate" => Some(RoleWord::Candidate),
            _ => None,
        }
    }
}

/// A condition and how long to give it: `wait <expectation>` and a demo
/// step's `expect` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub condition: Condition,
    /// `None`: the front end's default.
    pub within: Option<Duration>,
}

impl Condition {
    /// The node it reads, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Condition::Messages { node, .. }
            | Condition::Held { node, .. }
            | Condition::Duplicates { node, .. }
            | Condition::Health { node, .. }
            | Condition::Role { node, .. }
            | Condition::RolledBack { node, .. }
            | Condition::RolledBackMessages { node, .. }
            | Condition::InDoubt { node, .. }
            | Condition::NotInDoubt { node }
            | Condition::Exited { node } => Some(node),
            Condition::Leader { except } => except.as_deref(),
            _ => None,
        }
    }

    /// Whether its node must be a secondary.
    pub fn needs_secondary(&self) -> bool {
        matches!(
            self,
            Condition::Held { .. } | Condition::Duplicates { .. } | Condition::Health { .. }
        )
    }

    /// The write label it refers to, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            Condition::Completed { label, .. } | Condition::Pending { label, .. } => Some(label),
            Condition::Everywhere {
                write: WriteRef::Label(label),
                ..
            } => Some(label),
            _ => None,
        }
    }

    /// The condition as a sentence, e.g. "the primary sees s2 as unhealthy".
    pub fn describe(&self) -> String {
        match self {
            Condition::Messages { node, equal } => format!("{node} shows {}", list(equal)),
            Condition::Held { node, equal } => format!("{node} holds {} behind a gap", list(equal)),
            Condition::Duplicates { node, at_least } => {
                format!("{node} ignored at least {at_least} duplicate(s)")
            }
            Condition::Health { node, is } => format!("the primary sees {node} as {is}"),
            Condition::ReadOnly(true) => "the primary is read-only".into(),
            Condition::ReadOnly(false) => "the primary accepts writes".into(),
            Condition::Completed {
                label,
                status,
                took_at_least,
            } => {
                let mut s = format!("{label:?} completed");
                if let Some(code) = status {
                    s.push_str(&format!(" with {code}"));
                }
                if let Some(t) = took_at_least {
                    s.push_str(&format!(" after at least {}", seconds(*t)));
                }
                s
            }
            Condition::Pending { label, for_ } if for_.is_zero() => {
                format!("{label:?} is still waiting")
            }
            Condition::Pending { label, for_ } => {
                format!("{label:?} is still waiting {} later", seconds(*for_))
            }
            Condition::WritesSettled => "every write got its reply".into(),
            Condition::Role {
                node,
                role: RoleWord::Primary,
            } => format!("{node} is the primary"),
            Condition::Role {
                node,
                role: RoleWord::Secondary,
            } => format!("{node} is a secondary"),
            Condition::Role {
                node,
                role: RoleWord::Candidate,
            } => format!("{node} stands for election"),
            Condition::Leader { except: None } => "a primary is elected".into(),
            Condition::Leader { except: Some(n) } => {
                format!("a primary other than {n} is elected")
            }
            Condition::RolledBack { node, count } => format!(
                "{node} rolled back {count} entr{}",
                if *count == 1 { "y" } else { "ies" }
            ),
            Condition::RolledBackMessages { node, equal } => {
                format!("{node}'s rollback file holds {}", list(equal))
            }
            Condition::InDoubt {
                node,
                seq: Some(seq),
            } => format!("{node} holds #{seq} in doubt"),
            Condition::InDoubt { node, seq: None } => format!("{node} holds an entry in doubt"),
            Condition::NotInDoubt { node } => format!("{node} holds nothing in doubt"),
            Condition::Everywhere {
                write: WriteRef::Seq(seq),
                outcome,
            } => format!("#{seq} is {} everywhere", outcome.as_str()),
            Condition::Everywhere {
                write: WriteRef::Label(label),
                outcome,
            } => format!("{label:?} is {} everywhere", outcome.as_str()),
            Condition::Exited { node } => format!("{node}'s process exited"),
        }
    }
}

/// `[a, b]`: how message lists are shown in sentences.
pub fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// "0.8 s", "15 s": durations as a class reads them.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 || s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

// --- grammar ---------------------------------------------------------------

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Messages { node, equal } => {
                write!(f, "{} shows {}", quote(node), quote_list(equal))
            }
            Condition::Held { node, equal } => {
                write!(f, "{} holds {}", quote(node), quote_list(equal))
            }
            Condition::Duplicates { node, at_least } => {
                write!(f, "{} duplicates >= {at_least}", quote(node))
            }
            Condition::Health { node, is } => write!(f, "{} is {is}", quote(node)),
            Condition::ReadOnly(true) => f.write_str("read-only"),
            Condition::ReadOnly(false) => f.write_str("writable"),
            Condition::Completed {
                label,
                status,
                took_at_least,
            } => {
                write!(f, "{} completed", quote(label))?;
                if let Some(code) = status {
                    write!(f, " {code}")?;
                }
                if let Some(t) = took_at_least {
                    write!(f, " took>={}", t.as_millis())?;
                }
                Ok(())
            }
            Condition::Pending { label, for_ } => {
                write!(f, "{} pending", quote(label))?;
                if !for_.is_zero() {
                    write!(f, " for={}", for_.as_millis())?;
                }
                Ok(())
            }
            Condition::WritesSettled => f.write_str("writes"),
            Condition::Role { node, role } => write!(f, "{} is {}", quote(node), role.as_str()),
            Condition::Leader { except: None } => f.write_str("primary elected"),
            Condition::Leader { except: Some(n) } => write!(f, "primary is not {}", quote(n)),
            Condition::RolledBack { node, count } => {
                write!(f, "{} rolled back {count}", quote(node))
            }
            Condition::RolledBackMessages { node, equal } => {
                write!(f, "{} rolled back {}", quote(node), quote_list(equal))
            }
            Condition::InDoubt { node, seq } => {
                write!(f, "{} in doubt", quote(node))?;
                if let Some(seq) = seq {
                    write!(f, " #{seq}")?;
                }
                Ok(())
            }
            Condition::NotInDoubt { node } => write!(f, "{} not in doubt", quote(node)),
            Condition::Everywhere { write, outcome } => {
                write!(f, "{write} {} everywhere", outcome.as_str())
            }
            Condition::Exited { node } => write!(f, "{} exited", quote(node)),
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.condition)?;
        if let Some(within) = self.within {
            write!(f, " within={}", within.as_millis())?;
        }
        Ok(())
    }
}

/// Upper bound for any duration in the language: larger values are typos.
pub const MAX_MS: u64 = 600_000;

/// A whole number from a word.
pub fn number(word: Option<String>, what: &'static str) -> Result<u64, GrammarError> {
    let word = word.ok_or(GrammarError::Missing {
        what,
        got: "the end of the line",
    })?;
    word.parse()
        .map_err(|_| GrammarError::NotANumber { what, got: word })
}

pub fn in_range(n: u64, what: &'static str, min: u64, max: u64) -> Result<u64, GrammarError> {
    if n < min || n > max {
        return Err(GrammarError::OutOfRange {
            what,
            min,
            max,
            got: n,
        });
    }
    Ok(n)
}

/// Milliseconds, bounded by [`MAX_MS`].
pub fn millis(word: Option<String>, what: &'static str) -> Result<Duration, GrammarError> {
    let n = in_range(number(word, what)?, what, 0, MAX_MS)?;
    Ok(Duration::from_millis(n))
}

fn health(word: &str) -> Option<Health> {
    match word {
        "healthy" => Some(Health::Healthy),
        "suspected" => Some(Health::Suspected),
        "unhealthy" => Some(Health::Unhealthy),
        _ => None,
    }
}

fn list_of(words: &mut Words, what: &'static str) -> Result<Vec<String>, GrammarError> {
    match words.next_token()? {
        Some(Token::List(items)) => Ok(items),
        Some(_) => Err(GrammarError::Missing {
            what,
            got: "a word where a [list] belongs",
        }),
        None => Err(GrammarError::Missing {
            what,
            got: "the end of the line",
        }),
    }
}

/// `key=value` option words: the value of `key`, if this word is one.
pub fn option<'a>(word: &'a str, key: &str) -> Option<&'a str> {
    word.strip_prefix(key)?.strip_prefix('=')
}

/// The words that follow a node or a label in a condition.
fn is_verb(word: &str) -> bool {
    matches!(
        word,
        "shows"
            | "holds"
            | "duplicates"
            | "is"
            | "completed"
            | "pending"
            | "elected"
            | "rolled"
            | "in"
            | "not"
            | "committed"
            | "aborted"
            | "exited"
    ) || health(word).is_some()
}

impl Condition {
    /// Reads a condition from `words`, leaving what follows it.
    pub fn read(words: &mut Words) -> Result<Condition, GrammarError> {
        let first = match words.next_token()? {
            Some(Token::List(_)) => {
                return Err(GrammarError::UnknownCondition("[".into()));
            }
            Some(t) => t,
            None => {
                return Err(GrammarError::Missing {
                    what: "a condition",
                    got: "the end of the line",
                })
            }
        };
        let quoted = matches!(first, Token::Quoted(_));
        let subject = first.text().unwrap_or_default();
        let verb = words.peek_word().filter(|v| is_verb(v));
        let Some(verb) = verb else {
            // One-word conditions; a quoted subject is always a name.
            return match (quoted, subject.as_str()) {
                (false, "read-only") => Ok(Condition::ReadOnly(true)),
                (false, "writable") => Ok(Condition::ReadOnly(false)),
                (false, "writes") => Ok(Condition::WritesSettled),
                _ => Err(GrammarError::UnknownCondition(match words.peek_word() {
                    Some(next) => format!("{subject} {next}"),
                    None => subject,
                })),
            };
        };
        words.skip(verb.len());
        let node = subject;
        Ok(match verb {
            "shows" => Condition::Messages {
                equal: list_of(words, "the messages it shows, as [a, b]")?,
                node,
            },
            "holds" => Condition::Held {
                equal: list_of(words, "the messages it holds, as [a, b]")?,
                node,
            },
            "duplicates" => {
                let op = words.string("\">=\"")?;
                if op != ">=" {
                    return Err(GrammarError::BadWord {
                        what: "duplicates",
                        expected: ">= N",
                        got: op,
                    });
                }
                Condition::Duplicates {
                    at_least: number(words.string("a count").ok(), "the count")?,
                    node,
                }
            }
            // `primary is not n1`: whoever leads, as long as it is not n1.
            "is" if !quoted && node == "primary" && words.peek_word() == Some("not") => {
                words.skip("not".len());
                Condition::Leader {
                    except: Some(words.string("the node that must not lead")?),
                }
            }
            "elected" if !quoted && node == "primary" => Condition::Leader { except: None },
            "is" => {
                let word = words.string("a health state or a role")?;
                if let Some(role) = RoleWord::of(&word) {
                    return Ok(Condition::Role { node, role });
                }
                Condition::Health {
                    is: health(&word).ok_or(GrammarError::BadWord {
                        what: "is",
                        expected: "healthy, suspected, unhealthy, primary, secondary or candidate",
                        got: word,
                    })?,
                    node,
                }
            }
            "rolled" => {
                let back = words.string("\"back\"")?;
                if back != "back" {
                    return Err(GrammarError::BadWord {
                        what: "rolled",
                        expected: "back N",
                        got: back,
                    });
                }
                if words.rest_starts_with_list() {
                    return Ok(Condition::RolledBackMessages {
                        equal: list_of(words, "the rolled-back messages, as [a, b]")?,
                        node,
                    });
                }
                Condition::RolledBack {
                    count: number(words.string("a count").ok(), "the count")?,
                    node,
                }
            }
            "in" => {
                doubt(words, "in")?;
                let seq = match words.peek_word() {
                    // `#7`: a bare number after a condition is its `within`.
                    Some(word) if word.starts_with('#') => {
                        let seq = number(Some(word[1..].to_string()), "the seq")?;
                        words.skip(word.len());
                        Some(seq)
                    }
                    _ => None,
                };
                Condition::InDoubt { node, seq }
            }
            "not" => {
                let word = words.string("\"in doubt\"")?;
                if word != "in" {
                    return Err(GrammarError::BadWord {
                        what: "not",
                        expected: "in doubt",
                        got: word,
                    });
                }
                doubt(words, "not in")?;
                Condition::NotInDoubt { node }
            }
            "committed" | "aborted" => {
                let outcome = if verb == "committed" {
                    Decided::Committed
                } else {
                    Decided::Aborted
                };
                let word = words.string("\"everywhere\"")?;
                if word != "everywhere" {
                    return Err(GrammarError::BadWord {
                        what: if verb == "committed" {
                            "committed"
                        } else {
                            "aborted"
                        },
                        expected: "everywhere",
                        got: word,
                    });
                }
                let write = match seq_word(&node) {
                    Some(seq) if !quoted => WriteRef::Seq(seq),
                    _ => WriteRef::Label(node),
                };
                Condition::Everywhere { write, outcome }
            }
            "exited" => Condition::Exited { node },
            // `wait s1 unhealthy`: the headless shorthand.
            word if health(word).is_some() => Condition::Health {
                is: health(word).unwrap_or_default(),
                node,
            },
            "completed" => {
                let mut status = None;
                let mut took_at_least = None;
                while let Some(word) = words.peek_word() {
                    if let Some(ms) = option(word, "took>") {
                        took_at_least = Some(millis(Some(ms.to_string()), "took>=")?);
                    } else if word.chars().all(|c| c.is_ascii_digit()) && status.is_none() {
                        let code = number(Some(word.to_string()), "the status")?;
                        status = Some(in_range(code, "the status", 100, 599)? as u16);
                    } else {
                        break;
                    }
                    words.skip(word.len());
                }
                Condition::Completed {
                    label: node,
                    status,
                    took_at_least,
                }
            }
            "pending" => {
                let mut for_ = Duration::ZERO;
                if let Some(ms) = words.peek_word().and_then(|w| option(w, "for")) {
                    let len = "for=".len() + ms.len();
                    for_ = millis(Some(ms.to_string()), "for")?;
                    words.skip(len);
                }
                Condition::Pending { label: node, for_ }
            }
            other => {
                return Err(GrammarError::UnknownCondition(format!("{node} {other}")));
            }
        })
    }
}

/// The `doubt` after `in` / `not in`.
fn doubt(words: &mut Words, after: &'static str) -> Result<(), GrammarError> {
    let word = words.string("\"doubt\"")?;
    if word != "doubt" {
        return Err(GrammarError::BadWord {
            what: after,
            expected: "doubt",
            got: word,
        });
    }
    Ok(())
}

impl Expectation {
    /// Reads a condition and its optional `within=MS` (a bare number, as
    /// the headless `wait s1 unhealthy 500`, means the same).
    pub fn read(words: &mut Words) -> Result<Expectation, GrammarError> {
        let condition = Condition::read(words)?;
        let mut within = None;
        if let Some(word) = words.peek_word() {
            let value = option(word, "within")
                .or_else(|| word.chars().all(|c| c.is_ascii_digit()).then_some(word));
            if let Some(value) = value {
                within = Some(millis(Some(value.to_string()), "within")?);
                words.skip(word.len());
            }
        }
        Ok(Expectation { condition, within })
    }
}

impl FromStr for Expectation {
    type Err = GrammarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut words = Words::new(s);
        let expectation = Expectation::read(&mut words)?;
        if let Some(extra) = words.next_token()? {
            return Err(GrammarError::Unexpected {
                extra: extra.to_string(),
                after: expectation.condition.to_string(),
            });
        }
        Ok(expectation)
    }
}
