//! Who leads, by Raft's election rules (§5.2, §5.4.1 of the paper): the pure
//! core of automatic failover (issue 13), not wired into the nodes yet.
//!
//! Like [`progress`](crate::progress), it takes events and returns actions,
//! with no I/O and no clock reads: the caller says what time it is, delivers
//! the messages, and carries out the actions in order. One rule matters for
//! that order: an [`Action::Persist`] must be durable before any action after
//! it is carried out (a vote answered, a vote requested), or a restarted
//! member could vote twice in one term.
//!
//! A fixed primary and a fixed secondary (the course's roles) run this same
//! machine: a fixed primary leads from the start and never steps down, and
//! a fixed secondary never stands for election. See [`Standing`].

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The last entry of a log: what "at least as up to date" compares (§5.4.1):
/// the later term wins, and with equal terms the longer log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPos {
    pub term: u64,
    pub seq: u64,
}

/// How a member takes part in elections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Votes, and stands for election when it hears no primary.
    Elects,
    /// The course's fixed primary: leads from the start, never steps down,
    /// never votes for another.
    FixedPrimary,
    /// The course's fixed secondary: follows and votes, never stands.
    FixedSecondary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// A member that hears no primary for a random time in `min..=max`
    /// stands for election; a primary that hears from no majority for `max`
    /// steps down.
    pub min: Duration,
    pub max: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            min: Duration::from_millis(1000),
            max: Duration::from_millis(2000),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Time passed (the caller ticks often, e.g. every heartbeat / 10).
    Tick,
    /// A candidate asks for this member's vote. `ours` is this member's log.
    VoteRequested {
        from: String,
        term: u64,
        last: LogPos,
        ours: LogPos,
    },
    /// A member answered this member's vote request.
    VoteAnswered {
        from: String,
        term: u64,
        granted: bool,
    },
    /// Pre-vote (Raft thesis §9.6): a member asks whether this one would
    /// vote for it in `term` (its term + 1), before it stands. Nothing of this
    /// member's state changes.
    PreVoteRequested {
        from: String,
        term: u64,
        last: LogPos,
        ours: LogPos,
    },
    /// A member answered this member's pre-vote request for `proposed`,
    /// with its own `term`.
    PreVoteAnswered {
        from: String,
        term: u64,
        proposed: u64,
        granted: bool,
    },
    /// A primary's append or heartbeat reached this member.
    FromLeader { from: String, term: u64 },
    /// As primary: a member answered an append or heartbeat (with its term).
    Answered { from: String, term: u64 },
}

/// Why a vote was refused: said in words on the dashboard's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request's term is older than this member's.
    StaleTerm { ours: u64 },
    /// This member already voted for another candidate in this term.
    AlreadyVoted { for_: String },
    /// The candidate's log is behind this member's (§5.4.1).
    LogBehind { ours: LogPos, theirs: LogPos },
    /// A fixed primary votes for nobody else.
    FixedPrimary,
    /// Pre-vote: this member hears a primary, so no election is needed.
    PrimaryAlive { primary: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::StaleTerm { ours } => write!(f, "its term is older than ours ({ours})"),
            Refusal::AlreadyVoted { for_ } => write!(f, "already voted for {for_} in this term"),
            Refusal::LogBehind { ours, theirs } => write!(
                f,
                "its log ends at (term {}, seq {}), behind ours at (term {}, seq {})",
                theirs.term, theirs.seq, ours.term, ours.seq
            ),
            Refusal::FixedPrimary => f.write_str("a fixed primary votes for nobody else"),
            Refusal::PrimaryAlive { primary } => {
                write!(f, "it still hears primary {primary}: no election is needed")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make term and vote durable before carrying out the actions after it.
    Persist {
        term: u64,
        voted_for: Option<String>,
    },
    /// Ask every other member for its vote, with this member's last entry.
    RequestVotes { term: u64 },
    /// Ask every other member whether it would vote for this one in `term`.
    RequestPreVotes { term: u64 },
    /// Answer a pre-vote request (`term`: this member's).
    PreVote {
        to: String,
        term: u64,
        proposed: u64,
        granted: bool,
        refusal: Option<Refusal>,
    },
    /// Answer a vote request.
    Vote {
        to: String,
        term: u64,
        granted: bool,
        refusal: Option<Refusal>,
    },
    /// This member's role changed.
    Became { role: Role, term: u64 },
    /// The member now known to lead (`None`: none, an election is on).
    LeaderIs { leader: Option<String>, term: u64 },
    /// As primary: no majority answered for an election timeout.
    SteppedDown { term: u64 },
}

pub struct Election {
    me: String,
    /// Every member, this one included.
    members: BTreeSet<String>,
    standing: Standing,
    timeouts: Timeouts,
    term: u64,
    voted_for: Option<String>,
    role: Role,
    leader: Option<String>,
    /// As candidate: who granted its vote this term.
    granted: BTreeSet<String>,
    /// As follower or candidate: when to stand for election.
    deadline: Instant,
    /// As primary: the last answer of each member in this term.
    heard: BTreeMap<String, Instant>,
    /// As primary: since when it leads.
    leading_since: Instant,
    /// Whether it asks for pre-votes before standing (see
    /// [`with_pre_vote`](Self::with_pre_vote)).
    pre_vote: bool,
    /// A pre-vote is on: who said they would vote for it.
    pre_granted: Option<BTreeSet<String>>,
    /// When it last heard a primary.
    heard_primary: Option<Instant>,
    rng: StdRng,
}

impl Election {
    /// A member starting with its persisted `term` and `voted_for` (zero and
    /// `None` for a new one). `seed` randomizes its election timeouts.
    pub fn new(
        me: &str,
        members: &[String],
        standing: Standing,
        timeouts: Timeouts,
        (term, voted_for): (u64, Option<String>),
        now: Instant,
        seed: u64,
    ) -> Self {
        let mut members: BTreeSet<String> = members.iter().cloned().collect();
        members.insert(me.to_string());
        let mut e = Election {
            me: me.to_string(),
            members,
            standing,
            timeouts,
            term,
            voted_for,
            role: Role::Follower,
            leader: None,
            granted: BTreeSet::new(),
            deadline: now,
            heard: BTreeMap::new(),
            leading_since: now,
            pre_vote: false,
            pre_granted: None,
            heard_primary: None,
            rng: StdRng::seed_from_u64(seed),
        };
        if standing == Standing::FixedPrimary {
            // The course's primary leads at once, in a term after every
            // term its log has seen: each start is a new term, as a Kafka
            // leader's epoch rises with each leadership. It ships entries
            // before they reach its disk, so a kill can lose what a
            // secondary holds; under a new term that secondary matches its
            // log against this one and cuts them, instead of keeping them
            // under seqs this primary numbers again. (The driver persists
            // the term before the primary serves.)
            e.term = term + 1;
            e.voted_for = Some(e.me.clone());
            e.role = Role::Leader;
            e.leader = Some(e.me.clone());
        } else {
            e.reset_deadline(now);
        }
        e
    }

    /// Asks for pre-votes before standing (Raft thesis §9.6): a member cut
    /// off from the others (a partition) then never raises its term, so when
    /// it returns it does not depose a primary the others still hear.
    pub fn with_pre_vote(mut self) -> Self {
        self.pre_vote = true;
        self
    }

    /// New timeouts (the dashboard's slow motion); the current wait starts
    /// over with them.
    pub fn set_timeouts(&mut self, timeouts: Timeouts, now: Instant) {
        self.timeouts = timeouts;
        if self.role != Role::Leader {
            self.reset_deadline(now);
        }
    }

    /// A fixed secondary follows a new primary log (the course's primary
    /// restarted in memory, or with its disk wiped): that log's terms start
    /// over, so this member's do too.
    pub fn start_over(&mut self) {
        if self.standing == Standing::FixedSecondary {
            self.term = 0;
            self.voted_for = None;
            self.leader = None;
        }
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// As candidate or primary: the votes it won in this term.
    pub fn votes(&self) -> u64 {
        self.granted.len() as u64
    }

    /// As candidate or primary: the members that voted for it this term.
    pub fn voters(&self) -> Vec<String> {
        self.granted.iter().cloned().collect()
    }

    pub fn voted_for(&self) -> Option<&str> {
        self.voted_for.as_deref()
    }

    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    fn reset_deadline(&mut self, now: Instant) {
        let (min, max) = (self.timeouts.min, self.timeouts.max.max(self.timeouts.min));
        let spread = (max - min).as_micros() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            self.rng.gen_range(0..=spread)
        };
        self.deadline = now + min + Duration::from_micros(jitter);
    }

    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Tick => self.tick(now, &mut actions),
            Event::VoteRequested {
                from,
                term,
                last,
                ours,
            } => self.vote_requested(from, term, last, ours, now, &mut actions),
            Event::VoteAnswered {
                from,
                term,
                granted,
            } => {
                self.see_term(term, now, &mut actions);
                if self.role == Role::Candidate && term == self.term && granted {
                    self.granted.insert(from);
                    if self.granted.len() >= self.majority() {
                        self.lead(now, &mut actions);
                    }
                }
            }
            Event::PreVoteRequested {
                from,
                term,
                last,
                ours,
            } => {
                let refusal = if self.standing == Standing::FixedPrimary {
                    Some(Refusal::FixedPrimary)
                } else if term <= self.term {
                    Some(Refusal::StaleTerm { ours: self.term })
                } else if let Some(primary) = self.hears_primary(now) {
                    Some(Refusal::PrimaryAlive { primary })
                } else if last < ours {
                    Some(Refusal::LogBehind { ours, theirs: last })
                } else {
                    None
                };
                actions.push(Action::PreVote {
                    to: from,
                    term: self.term,
                    proposed: term,
                    granted: refusal.is_none(),
                    refusal,
                });
            }
            Event::PreVoteAnswered {
                from,
                term,
                proposed,
                granted,
            } => {
                if !granted {
                    self.see_term(term, now, &mut actions);
                }
                if granted && proposed == self.term + 1 {
                    if let Some(votes) = self.pre_granted.as_mut() {
                        votes.insert(from);
                        if votes.len() >= self.majority() {
                            self.stand(now, &mut actions);
                        }
                    }
                }
            }
            Event::FromLeader { from, term } => {
                if term < self.term || self.standing == Standing::FixedPrimary {
                    // A stale primary, answered with our term by the caller;
                    // a fixed primary follows nobody.
                    return actions;
                }
                self.see_term(term, now, &mut actions);
                self.heard_primary = Some(now);
                self.pre_granted = None;
                if self.role != Role::Follower {
                    // A candidate that hears the elected primary of its term
                    // follows it (§5.2). Two primaries of one term cannot be.
                    self.role = Role::Follower;
                    actions.push(Action::Became {
                        role: Role::Follower,
                        term: self.term,
                    });
                }
                if self.leader.as_deref() != Some(from.as_str()) {
                    self.leader = Some(from);
                    actions.push(Action::LeaderIs {
                        leader: self.leader.clone(),
                        term: self.term,
                    });
                }
                self.reset_deadline(now);
            }
            Event::Answered { from, term } => {
                self.see_term(term, now, &mut actions);
                if self.role == Role::Leader && term == self.term {
                    self.heard.insert(from, now);
                }
            }
        }
        actions
    }

    fn tick(&mut self, now: Instant, actions: &mut Vec<Action>) {
        match (self.role, self.standing) {
            (_, Standing::FixedPrimary) => {}
            (Role::Leader, _) => {
                let window = self.timeouts.max;
                let reached = 1 + self
                    .heard
                    .iter()
                    .filter(|(id, at)| **id != self.me && now.duration_since(**at) <= window)
                    .count();
                if reached < self.majority() && now.duration_since(self.leading_since) >= window {
                    self.role = Role::Follower;
                    self.leader = None;
                    actions.push(Action::SteppedDown { term: self.term });
                    actions.push(Action::Became {
                        role: Role::Follower,
                        term: self.term,
                    });
                    actions.push(Action::LeaderIs {
                        leader: None,
                        term: self.term,
                    });
                    self.reset_deadline(now);
                }
            }
            (_, Standing::FixedSecondary) => {}
            (Role::Follower | Role::Candidate, Standing::Elects) => {
                if now < self.deadline {
                } else if self.pre_vote {
                    self.ask_pre_votes(now, actions);
                } else {
                    self.stand(now, actions);
                }
            }
        }
    }

    /// The primary it heard within the shortest election timeout, if any
    /// (itself when it leads).
    fn hears_primary(&self, now: Instant) -> Option<String> {
        if self.role == Role::Leader {
            return Some(self.me.clone());
        }
        let recent = self
            .heard_primary
            .is_some_and(|at| now.duration_since(at) < self.timeouts.min);
        recent.then(|| self.leader.clone()).flatten()
    }

    /// Asks whether the others would elect it in the next term, before
    /// raising its term (a pre-vote round); stands once a majority would.
    fn ask_pre_votes(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.reset_deadline(now);
        if self.leader.take().is_some() {
            // Unheard for a whole election timeout: it is no longer named
            // (writers get 503, not a 307 to a primary that may be gone).
            actions.push(Action::LeaderIs {
                leader: None,
                term: self.term,
            });
        }
        let votes = BTreeSet::from([self.me.clone()]);
        if votes.len() >= self.majority() {
            self.stand(now, actions);
            return;
        }
        self.pre_granted = Some(votes);
        actions.push(Action::RequestPreVotes {
            term: self.term + 1,
        });
    }

    /// Becomes a candidate in the next term and votes for itself.
    fn stand(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.pre_granted = None;
        self.term += 1;
        self.voted_for = Some(self.me.clone());
        self.role = Role::Candidate;
        self.leader = None;
        self.granted = BTreeSet::from([self.me.clone()]);
        self.reset_deadline(now);
        actions.push(Action::Persist {
            term: self.term,
            voted_for: self.voted_for.clone(),
        });
        actions.push(Action::Became {
            role: Role::Candidate,
            term: self.term,
        });
        actions.push(Action::LeaderIs {
            leader: None,
            term: self.term,
        });
        if self.granted.len() >= self.majority() {
            self.lead(now, actions);
        } else {
            actions.push(Action::RequestVotes { term: self.term });
        }
    }

    fn lead(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.role = Role::Leader;
        self.leader = Some(self.me.clone());
        self.heard.clear();
        self.leading_since = now;
        actions.push(Action::Became {
            role: Role::Leader,
            term: self.term,
        });
        actions.push(Action::LeaderIs {
            leader: self.leader.clone(),
            term: self.term,
        });
    }

    /// A later term seen anywhere makes this member a follower in it, with
    /// no vote yet (§5.1). A fixed primary's term does not move.
    fn see_term(&mut self, term: u64, now: Instant, actions: &mut Vec<Action>) {
        if term <= self.term || self.standing == Standing::FixedPrimary {
            return;
        }
        let was = self.role;
        self.term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.leader = None;
        actions.push(Action::Persist {
            term,
            voted_for: None,
        });
        if was == Role::Leader {
            actions.push(Action::SteppedDown { term });
        }
        if was != Role::Follower {
            actions.push(Action::Became {
                role: Role::Follower,
                term,
            });
        }
        // Only a primary has no election timer running. A follower's timer
        // restarts on a primary's message or a granted vote (§5.2), not on a
        // later term alone: a member whose log is behind, asking again and
        // again, would otherwise keep every other member from standing.
        if was == Role::Leader {
            self.reset_deadline(now);
        }
    }

    fn vote_requested(
        &mut self,
        from: String,
        term: u64,
        last: LogPos,
        ours: LogPos,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        self.see_term(term, now, actions);
        let refusal = if self.standing == Standing::FixedPrimary {
            Some(Refusal::FixedPrimary)
        } else if term < self.term {
            Some(Refusal::StaleTerm { ours: self.term })
        } else if let Some(other) = self.voted_for.as_ref().filter(|v| **v != from) {
            Some(Refusal::AlreadyVoted {
                for_: other.clone(),
            })
        } else if last < ours {
            Some(Refusal::LogBehind { ours, theirs: last })
        } else {
            None
        };
        let granted = refusal.is_none();
        if granted && self.voted_for.is_none() {
            self.voted_for = Some(from.clone());
            actions.push(Action::Persist {
                term: self.term,
                voted_for: self.voted_for.clone(),
            });
        }
        if granted {
            // A granted vote defers this member's own candidacy (§5.2).
            self.reset_deadline(now);
        }
        actions.push(Action::Vote {
            to: from,
            term: self.term,
            granted,
            refusal,
        });
    }
}

/// The highest seq a primary of `term` may call committed (Raft's rule,
/// §5.4.2): held by a majority of `positions` (every member's last seq, the
/// primary's own included) *and* written in `term`. An entry of an earlier
/// term is committed only by committing one of the current term after it
/// (Figure 8 of the paper shows a majority-held old entry being overwritten).
/// Never goes below `previous`.
pub fn commit_seq(
    term: u64,
    positions: &[u64],
    term_at: impl Fn(u64) -> Option<u64>,
    previous: u64,
) -> u64 {
    let majority = positions.len() / 2 + 1;
    let mut sorted = positions.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let Some(&held) = sorted.get(majority - 1) else {
        return previous;
    };
    // The newest majority-held entry of this term, if any; everything before
    // it is committed with it.
    (previous + 1..=held)
        .rev()
        .find(|seq| term_at(*seq) == Some(term))
        .unwrap_or(previous)
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
