//! Two-phase commit of one atomic write (issue 14): the pure cores of the
//! coordinator (the primary) and of a participant (each secondary), not
//! wired into the nodes yet.
//!
//! Like the other cores, they take events and return actions, with no I/O
//! and no clock reads. Actions that record something (`Record…`) must be
//! durable before the caller carries out the actions after them: a decision
//! is logged before it is sent, a prepare before the YES vote.
//!
//! The protocol, in the course's words: the coordinator sends VoteRequest to
//! every participant; each records the entry as prepared and votes YES (or
//! NO); a participant that does not answer in time counts as NO. All YES:
//! GlobalCommit, otherwise GlobalAbort. A participant that voted YES is *in
//! doubt* until it learns the decision and cannot decide alone: if the
//! coordinator dies, it blocks (the lesson). A coordinator that restarts
//! without a recorded decision presumes abort (R*).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vote {
    Yes,
    No,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Commit,
    Abort,
}

impl Decision {
    /// The message that carries it, in the course's words.
    pub fn message(self) -> &'static str {
        match self {
            Decision::Commit => "GlobalCommit",
            Decision::Abort => "GlobalAbort",
        }
    }
}

/// How a participant's vote came about, for the reply's `votes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ballot {
    Voted(Vote),
    /// No answer within the prepare timeout: counted as NO.
    TimedOut,
}

impl Ballot {
    fn is_yes(self) -> bool {
        self == Ballot::Voted(Vote::Yes)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinatorEvent {
    /// The coordinator's own prepare record is durable: ask for votes.
    Prepared,
    VoteArrived {
        from: String,
        vote: Vote,
    },
    /// Time passed; missing votes count as NO once the timeout is over.
    Tick,
    /// The decision record is durable: send it.
    DecisionRecorded,
    /// A participant applied the decision.
    DecisionAcked {
        from: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinatorAction {
    SendVoteRequest {
        to: String,
    },
    /// Log the decision durably (then step `DecisionRecorded`).
    RecordDecision(Decision),
    SendDecision {
        to: String,
        decision: Decision,
    },
    /// Answer the client: the decision, with every participant's ballot.
    Reply {
        decision: Decision,
        votes: BTreeMap<String, Ballot>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Preparing,
    Voting,
    Recording(Decision),
    Sending(Decision),
}

/// One atomic write, as its coordinator sees it.
pub struct Coordinator {
    phase: Phase,
    ballots: BTreeMap<String, Option<Ballot>>,
    acked: BTreeMap<String, bool>,
    deadline: Option<Instant>,
    timeout: Duration,
}

impl Coordinator {
    pub fn new(participants: &[String], timeout: Duration) -> Self {
        Coordinator {
            phase: Phase::Preparing,
            ballots: participants.iter().map(|p| (p.clone(), None)).collect(),
            acked: participants.iter().map(|p| (p.clone(), false)).collect(),
            deadline: None,
            timeout,
        }
    }

    /// The decision once recorded (what a restart re-sends).
    pub fn decision(&self) -> Option<Decision> {
        match self.phase {
            Phase::Sending(d) => Some(d),
            _ => None,
        }
    }

    /// Every participant has applied the decision.
    pub fn finished(&self) -> bool {
        self.decision().is_some() && self.acked.values().all(|a| *a)
    }

    pub fn step(&mut self, event: CoordinatorEvent, now: Instant) -> Vec<CoordinatorAction> {
        let mut actions = Vec::new();
        match (event, self.phase) {
            (CoordinatorEvent::Prepared, Phase::Preparing) => {
                self.phase = Phase::Voting;
                self.deadline = Some(now + self.timeout);
                for to in self.ballots.keys() {
                    actions.push(CoordinatorAction::SendVoteRequest { to: to.clone() });
                }
                self.decide_if_ready(now, &mut actions);
            }
            (CoordinatorEvent::VoteArrived { from, vote }, Phase::Voting) => {
                if let Some(slot @ None) = self.ballots.get_mut(&from) {
                    *slot = Some(Ballot::Voted(vote));
                }
                self.decide_if_ready(now, &mut actions);
            }
            (CoordinatorEvent::Tick, Phase::Voting) => self.decide_if_ready(now, &mut actions),
            (CoordinatorEvent::DecisionRecorded, Phase::Recording(decision)) => {
                self.phase = Phase::Sending(decision);
                for to in self.ballots.keys() {
                    actions.push(CoordinatorAction::SendDecision {
                        to: to.clone(),
                        decision,
                    });
                }
                actions.push(CoordinatorAction::Reply {
                    decision,
                    votes: self
                        .ballots
                        .iter()
                        .map(|(p, b)| (p.clone(), b.unwrap_or(Ballot::TimedOut)))
                        .collect(),
                });
            }
            (CoordinatorEvent::DecisionAcked { from }, Phase::Sending(_)) => {
                if let Some(acked) = self.acked.get_mut(&from) {
                    *acked = true;
                }
            }
            // Anything else is late or repeated: a vote after the decision,
            // a second `Prepared`, … and changes nothing.
            _ => {}
        }
        actions
    }

    /// Decides once every vote is in, at the first NO, or at the timeout.
    fn decide_if_ready(&mut self, now: Instant, actions: &mut Vec<CoordinatorAction>) {
        let any_no = self
            .ballots
            .values()
            .any(|b| matches!(b, Some(Ballot::Voted(Vote::No))));
        let all_in = self.ballots.values().all(Option::is_some);
        let timed_out = self.deadline.is_some_and(|d| now >= d);
        if !(any_no || all_in || timed_out) {
            return;
        }
        if timed_out {
            for ballot in self.ballots.values_mut().filter(|b| b.is_none()) {
                *ballot = Some(Ballot::TimedOut);
            }
        }
        let decision = if self.ballots.values().all(|b| b.is_some_and(Ballot::is_yes)) {
            Decision::Commit
        } else {
            Decision::Abort
        };
        self.phase = Phase::Recording(decision);
        actions.push(CoordinatorAction::RecordDecision(decision));
    }
}

/// What a coordinator that restarted does with an atomic write it had
/// prepared: re-send a recorded decision; with none, presume abort (the
/// participants may be in doubt, and nobody can have committed).
pub fn after_restart(recorded: Option<Decision>) -> Decision {
    recorded.unwrap_or(Decision::Abort)
}

/// A participant's entries that are prepared and undecided, by seq.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InDoubt {
    since: BTreeMap<u64, Instant>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParticipantAction {
    /// Log the entry as prepared (not visible) durably, then send the vote.
    RecordPrepared {
        seq: u64,
    },
    SendVote {
        seq: u64,
        vote: Vote,
    },
    /// Log the decision for the entry: committed (visible) or aborted (a
    /// marker that keeps its seq and is never visible).
    RecordDecision {
        seq: u64,
        decision: Decision,
    },
}

impl InDoubt {
    /// A VoteRequest for `seq`. `refuse` is the `vote: no` fault.
    pub fn vote_requested(
        &mut self,
        seq: u64,
        refuse: bool,
        now: Instant,
    ) -> Vec<ParticipantAction> {
        if refuse {
            // Nothing is prepared: a NO needs no record (presumed abort).
            return vec![ParticipantAction::SendVote {
                seq,
                vote: Vote::No,
            }];
        }
        self.since.entry(seq).or_insert(now);
        vec![
            ParticipantAction::RecordPrepared { seq },
            ParticipantAction::SendVote {
                seq,
                vote: Vote::Yes,
            },
        ]
    }

    /// The coordinator's decision for `seq` (sent, or answered to a query).
    pub fn decided(&mut self, seq: u64, decision: Decision) -> Vec<ParticipantAction> {
        if self.since.remove(&seq).is_none() {
            // Already decided (a re-sent decision), or never prepared.
            return Vec::new();
        }
        vec![ParticipantAction::RecordDecision { seq, decision }]
    }

    /// The entries to ask the coordinator about (with each heartbeat).
    pub fn pending(&self) -> Vec<(u64, Instant)> {
        self.since.iter().map(|(s, t)| (*s, *t)).collect()
    }

    /// The participant's visible and acknowledged position: its gap-free
    /// end `last`, stopped before the first entry in doubt (2PC's blocking:
    /// later writes wait behind it).
    pub fn visible_upto(&self, last: u64) -> u64 {
        match self.since.keys().next() {
            Some(first) if *first <= last => first - 1,
            _ => last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn coordinator() -> Coordinator {
        Coordinator::new(&["s1".into(), "s2".into()], ms(2000))
    }

    fn vote(from: &str, vote: Vote) -> CoordinatorEvent {
        CoordinatorEvent::VoteArrived {
            from: from.into(),
            vote,
        }
    }

    fn decision_of(actions: &[CoordinatorAction]) -> Option<Decision> {
        actions.iter().find_map(|a| match a {
            CoordinatorAction::RecordDecision(d) => Some(*d),
            _ => None,
        })
    }

    /// (votes as they arrive, the clock at the end, the decision, why)
    type Case = (
        &'static [(&'static str, Vote)],
        u64,
        Option<Decision>,
        &'static str,
    );

    #[test]
    fn every_outcome_of_the_voting_phase() {
        let t0 = Instant::now();
        let cases: [Case; 5] = [
            (
                &[("s1", Vote::Yes), ("s2", Vote::Yes)],
                0,
                Some(Decision::Commit),
                "all yes",
            ),
            (
                &[("s1", Vote::No)],
                0,
                Some(Decision::Abort),
                "the first no decides",
            ),
            (&[("s1", Vote::Yes)], 1999, None, "still waiting for s2"),
            (
                &[("s1", Vote::Yes)],
                2000,
                Some(Decision::Abort),
                "s2 timed out",
            ),
            (
                &[("s1", Vote::Yes), ("s1", Vote::No), ("s2", Vote::Yes)],
                0,
                Some(Decision::Commit),
                "a repeated vote does not change the first",
            ),
        ];
        for (votes, at, want, why) in cases {
            let mut c = coordinator();
            let mut seen = c.step(CoordinatorEvent::Prepared, t0);
            for (from, v) in votes {
                seen.extend(c.step(vote(from, *v), t0));
            }
            seen.extend(c.step(CoordinatorEvent::Tick, t0 + ms(at)));
            assert_eq!(decision_of(&seen), want, "{why}");
        }
    }

    #[test]
    fn the_decision_is_recorded_before_it_is_sent_and_the_client_answered() {
        let t0 = Instant::now();
        let mut c = coordinator();
        let asked = c.step(CoordinatorEvent::Prepared, t0);
        assert_eq!(asked.len(), 2, "a VoteRequest to each participant");
        c.step(vote("s1", Vote::Yes), t0);
        let recorded = c.step(vote("s2", Vote::No), t0);
        assert_eq!(
            recorded,
            vec![CoordinatorAction::RecordDecision(Decision::Abort)]
        );
        assert_eq!(c.decision(), None, "not sent before it is recorded");
        let sent = c.step(CoordinatorEvent::DecisionRecorded, t0);
        assert!(sent.contains(&CoordinatorAction::SendDecision {
            to: "s1".into(),
            decision: Decision::Abort
        }));
        let votes = sent.iter().find_map(|a| match a {
            CoordinatorAction::Reply { votes, .. } => Some(votes.clone()),
            _ => None,
        });
        assert_eq!(
            votes.and_then(|v| v.get("s2").copied()),
            Some(Ballot::Voted(Vote::No))
        );
        assert!(!c.finished());
        c.step(CoordinatorEvent::DecisionAcked { from: "s1".into() }, t0);
        c.step(CoordinatorEvent::DecisionAcked { from: "s2".into() }, t0);
        assert!(c.finished());
        assert_eq!(after_restart(c.decision()), Decision::Abort);
        assert_eq!(after_restart(None), Decision::Abort, "presumed abort");
    }

    #[test]
    fn an_entry_in_doubt_blocks_everything_after_it() {
        let t0 = Instant::now();
        let mut p = InDoubt::default();
        assert_eq!(p.visible_upto(5), 5);
        let actions = p.vote_requested(7, false, t0);
        assert_eq!(
            actions.first(),
            Some(&ParticipantAction::RecordPrepared { seq: 7 }),
            "prepared on disk before the YES"
        );
        assert_eq!(p.visible_upto(6), 6, "before the entry: unaffected");
        assert_eq!(p.visible_upto(9), 6, "#8 and #9 wait behind #7");
        assert_eq!(p.pending(), vec![(7, t0)]);
        assert_eq!(
            p.decided(7, Decision::Abort),
            vec![ParticipantAction::RecordDecision {
                seq: 7,
                decision: Decision::Abort
            }]
        );
        assert!(p.decided(7, Decision::Abort).is_empty(), "re-sent: once");
        assert_eq!(p.visible_upto(9), 9);
        assert_eq!(
            p.vote_requested(8, true, t0),
            vec![ParticipantAction::SendVote {
                seq: 8,
                vote: Vote::No
            }],
            "a NO prepares nothing"
        );
        assert_eq!(p.visible_upto(9), 9);
    }
}
