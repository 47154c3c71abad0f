//! Two-phase commit of one atomic write: the pure cores of the coordinator
//! (the primary; driven by `primary::coordinator`) and of a participant
//! (each secondary).
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

use crate::api::{AtomicState, BallotReport, Entry};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use crate::api::{Outcome as Decision, Vote};

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

    pub fn report(self) -> BallotReport {
        match self {
            Ballot::Voted(Vote::Yes) => BallotReport::Yes,
            Ballot::Voted(Vote::No) => BallotReport::No,
            Ballot::TimedOut => BallotReport::Timeout,
        }
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
    /// Answer the client: the decision, with every participant's ballot
    /// (`pending`: a NO decided before this one voted).
    Reply {
        decision: Decision,
        votes: BTreeMap<String, BallotReport>,
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

    /// Participants that applied the decision so far.
    pub fn applied(&self) -> usize {
        self.acked.values().filter(|a| **a).count()
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
            // A vote can beat the coordinator's own prepare record: the
            // entry ships as soon as it is appended. It counts, and is
            // looked at once the record is durable.
            (CoordinatorEvent::VoteArrived { from, vote }, Phase::Preparing) => {
                self.count(from, vote);
            }
            (CoordinatorEvent::VoteArrived { from, vote }, Phase::Voting) => {
                self.count(from, vote);
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
                    votes: self.ballots(),
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

    fn count(&mut self, from: String, vote: Vote) {
        if let Some(slot @ None) = self.ballots.get_mut(&from) {
            *slot = Some(Ballot::Voted(vote));
        }
    }

    /// When missing votes will count as NO (once voting has begun).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The phase, as `/health` names it.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Preparing => "preparing",
            Phase::Voting => "voting",
            Phase::Recording(_) => "recording",
            Phase::Sending(_) => "sending",
        }
    }

    /// The decision once taken (recorded or not yet).
    pub fn outcome(&self) -> Option<Decision> {
        match self.phase {
            Phase::Recording(d) | Phase::Sending(d) => Some(d),
            _ => None,
        }
    }

    /// Each participant's ballot so far (`pending`: not in yet).
    pub fn ballots(&self) -> BTreeMap<String, BallotReport> {
        self.ballots
            .iter()
            .map(|(p, b)| (p.clone(), b.map_or(BallotReport::Pending, Ballot::report)))
            .collect()
    }

    /// Why the decision went the way it did, in words: "all voted YES",
    /// "s2 voted NO", "s1 did not vote within 2000 ms".
    pub fn why(&self) -> String {
        let no: Vec<&str> = self
            .ballots
            .iter()
            .filter(|(_, b)| **b == Some(Ballot::Voted(Vote::No)))
            .map(|(p, _)| p.as_str())
            .collect();
        if !no.is_empty() {
            return format!("{} voted NO", no.join(", "));
        }
        let late: Vec<&str> = self
            .ballots
            .iter()
            .filter(|(_, b)| matches!(b, Some(Ballot::TimedOut) | None))
            .map(|(p, _)| p.as_str())
            .collect();
        if !late.is_empty() {
            return format!(
                "{} did not vote within {} ms",
                late.join(", "),
                self.timeout.as_millis()
            );
        }
        if self.ballots.is_empty() {
            "no participants: the coordinator alone decides".into()
        } else {
            "all voted YES".into()
        }
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
            Decision::Committed
        } else {
            Decision::Aborted
        };
        self.phase = Phase::Recording(decision);
        actions.push(CoordinatorAction::RecordDecision(decision));
    }
}

/// What a coordinator that restarted does with an atomic write it had
/// prepared: re-send a recorded decision; with none, presume abort (the
/// participants may be in doubt, and nobody can have committed).
pub fn after_restart(recorded: Option<Decision>) -> Decision {
    recorded.unwrap_or(Decision::Aborted)
}

/// A participant's answer to a VoteRequest (the batch that first brings
/// atomic entry in state `arrived`): the state it stores the entry in, and
/// its vote. `refuse` is the `vote: no` fault. An entry that arrives already
/// decided (a participant that lagged behind the decision) is stored as
/// decided, with no vote.
pub fn on_vote_request(arrived: AtomicState, refuse: bool) -> (AtomicState, Option<Vote>) {
    match arrived {
        AtomicState::Prepared | AtomicState::Refused if refuse => {
            // Nobody can commit without this vote: the participant may
            // abort at once, and blocks nothing.
            (AtomicState::Refused, Some(Vote::No))
        }
        AtomicState::Prepared | AtomicState::Refused => (AtomicState::Prepared, Some(Vote::Yes)),
        decided => (decided, None),
    }
}

/// A participant's vote on an entry it holds undecided (what it reports
/// with every answer until the decision arrives).
pub fn standing_vote(state: AtomicState) -> Option<Vote> {
    match state {
        AtomicState::Prepared => Some(Vote::Yes),
        AtomicState::Refused => Some(Vote::No),
        _ => None,
    }
}

/// What readers see of a gap-free log: every entry up to the first one in
/// doubt (prepared, undecided), which holds back everything after it (2PC's
/// blocking), minus atomic entries that are not committed (an aborted one
/// keeps its seq as a marker and is never visible). `unconfirmed`: a
/// member's own commits as coordinator that no majority is known to have
/// applied yet (a later primary may still abort them): held back as if in
/// doubt, so nobody reads a write that may vanish.
pub fn visible(entries: Vec<Entry>, unconfirmed: &[u64]) -> Vec<Entry> {
    entries
        .into_iter()
        .take_while(|e| {
            e.atomic != Some(AtomicState::Prepared)
                && !(e.atomic.is_some() && unconfirmed.contains(&e.seq))
        })
        .filter(|e| matches!(e.atomic, None | Some(AtomicState::Committed)))
        .collect()
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
                Some(Decision::Committed),
                "all yes",
            ),
            (
                &[("s1", Vote::No)],
                0,
                Some(Decision::Aborted),
                "the first no decides",
            ),
            (&[("s1", Vote::Yes)], 1999, None, "still waiting for s2"),
            (
                &[("s1", Vote::Yes)],
                2000,
                Some(Decision::Aborted),
                "s2 timed out",
            ),
            (
                &[("s1", Vote::Yes), ("s1", Vote::No), ("s2", Vote::Yes)],
                0,
                Some(Decision::Committed),
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
            vec![CoordinatorAction::RecordDecision(Decision::Aborted)]
        );
        assert_eq!(c.decision(), None, "not sent before it is recorded");
        let sent = c.step(CoordinatorEvent::DecisionRecorded, t0);
        assert!(sent.contains(&CoordinatorAction::SendDecision {
            to: "s1".into(),
            decision: Decision::Aborted
        }));
        let votes = sent.iter().find_map(|a| match a {
            CoordinatorAction::Reply { votes, .. } => Some(votes.clone()),
            _ => None,
        });
        assert_eq!(
            votes.and_then(|v| v.get("s2").copied()),
            Some(BallotReport::No)
        );
        assert_eq!(c.applied(), 0);
        c.step(CoordinatorEvent::DecisionAcked { from: "s1".into() }, t0);
        c.step(CoordinatorEvent::DecisionAcked { from: "s2".into() }, t0);
        assert_eq!(c.applied(), 2, "every participant applied it");
        assert_eq!(after_restart(c.decision()), Decision::Aborted);
        assert_eq!(after_restart(None), Decision::Aborted, "presumed abort");
    }

    #[test]
    fn an_entry_in_doubt_blocks_everything_after_it() {
        let entry = |seq: u64, atomic: Option<AtomicState>| Entry {
            atomic,
            ..Entry::new(seq, format!("m{seq}"))
        };
        let seqs = |entries: Vec<Entry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
        let log = vec![
            entry(1, None),
            entry(2, Some(AtomicState::Committed)),
            entry(3, Some(AtomicState::Aborted)),
            entry(4, Some(AtomicState::Refused)),
            entry(5, None),
            entry(6, Some(AtomicState::Prepared)),
            entry(7, None),
        ];
        assert_eq!(
            seqs(visible(log.clone(), &[])),
            vec![1, 2, 5],
            "aborted and refused hidden; #7 waits behind #6 in doubt"
        );
        assert_eq!(
            seqs(visible(log, &[2])),
            vec![1],
            "an unconfirmed own commit holds back what follows it"
        );
        // What the participant answers, and what the coordinator counts.
        let votes = [(4, Vote::No), (6, Vote::Yes)]
            .map(|(seq, vote)| crate::api::VoteReport { seq, vote })
            .to_vec();
        let position = |last_seq, votes: &[crate::api::VoteReport]| crate::api::Position {
            instance: 1,
            last_seq,
            votes: votes.to_vec(),
        };
        assert_eq!(position(7, &votes).acked_seq(), 5, "stops before #6");
        assert_eq!(position(5, &votes).acked_seq(), 5);
        assert_eq!(
            position(7, &votes[..1]).acked_seq(),
            7,
            "a NO blocks nothing"
        );
    }

    #[test]
    fn a_participant_votes_by_its_fault_and_takes_decided_entries_as_they_are() {
        let cases = [
            (
                AtomicState::Prepared,
                false,
                AtomicState::Prepared,
                Some(Vote::Yes),
            ),
            (
                AtomicState::Prepared,
                true,
                AtomicState::Refused,
                Some(Vote::No),
            ),
            (AtomicState::Committed, true, AtomicState::Committed, None),
            (AtomicState::Aborted, false, AtomicState::Aborted, None),
        ];
        for (arrived, refuse, stored, vote) in cases {
            assert_eq!(
                on_vote_request(arrived, refuse),
                (stored, vote),
                "{arrived:?}"
            );
            assert_eq!(standing_vote(stored), vote);
        }
    }

    #[test]
    fn votes_before_the_prepare_record_count_once_it_is_durable() {
        let t0 = Instant::now();
        let mut c = coordinator();
        assert!(c.step(vote("s1", Vote::Yes), t0).is_empty());
        assert!(
            c.step(vote("s2", Vote::Yes), t0).is_empty(),
            "not before Prepared"
        );
        let actions = c.step(CoordinatorEvent::Prepared, t0);
        assert_eq!(decision_of(&actions), Some(Decision::Committed));
        assert_eq!(c.why(), "all voted YES");
    }

    #[test]
    fn the_reason_names_who_said_no_or_stayed_silent() {
        let t0 = Instant::now();
        let mut c = coordinator();
        c.step(CoordinatorEvent::Prepared, t0);
        c.step(vote("s1", Vote::Yes), t0);
        c.step(CoordinatorEvent::Tick, t0 + ms(2000));
        assert_eq!(c.why(), "s2 did not vote within 2000 ms");
        assert_eq!(c.ballots().get("s2"), Some(&BallotReport::Timeout));
        let mut c = coordinator();
        c.step(CoordinatorEvent::Prepared, t0);
        c.step(vote("s2", Vote::No), t0);
        assert_eq!(c.why(), "s2 voted NO");
        assert_eq!(c.ballots().get("s1"), Some(&BallotReport::Pending));
    }

    proptest::proptest! {
        /// Whatever arrives in whatever order: the decision is taken once
        /// and never changes; it is Commit exactly when every participant
        /// voted YES before the deadline; it is recorded before anything
        /// is sent or answered; and the reply's votes agree with it.
        #[test]
        fn the_decision_is_taken_once_and_commits_only_on_every_yes_in_time(
            steps in proptest::collection::vec((0usize..4, proptest::bool::ANY, 0u64..3000), 0..20),
        ) {
            let names = ["s1", "s2", "s3"];
            let t0 = Instant::now();
            let mut c = Coordinator::new(&names.map(String::from), ms(2000));
            let mut actions = c.step(CoordinatorEvent::Prepared, t0);
            let mut yes_in_time = std::collections::BTreeSet::new();
            let mut refused = false;
            let mut clock = 0;
            for (who, yes, advance) in steps {
                clock = (clock + advance / 4).min(5000);
                let now = t0 + ms(clock);
                let event = match names.get(who) {
                    Some(from) => {
                        let decided = decision_of(&actions).is_some();
                        if !decided && now < t0 + ms(2000) {
                            if yes && !refused {
                                yes_in_time.insert(*from);
                            } else if !yes && !yes_in_time.contains(from) {
                                refused = true;
                            }
                        }
                        CoordinatorEvent::VoteArrived {
                            from: from.to_string(),
                            vote: if yes { Vote::Yes } else { Vote::No },
                        }
                    }
                    None => CoordinatorEvent::Tick,
                };
                // A late vote still arrives as a vote: the core only looks at
                // the clock on ticks and at decision time.
                let event = if matches!(event, CoordinatorEvent::VoteArrived { .. })
                    && now >= t0 + ms(2000)
                {
                    CoordinatorEvent::Tick
                } else {
                    event
                };
                actions.extend(c.step(event, now));
            }
            actions.extend(c.step(CoordinatorEvent::Tick, t0 + ms(6000)));
            let recorded: Vec<Decision> = actions
                .iter()
                .filter_map(|a| match a {
                    CoordinatorAction::RecordDecision(d) => Some(*d),
                    _ => None,
                })
                .collect();
            proptest::prop_assert_eq!(recorded.len(), 1, "decided exactly once");
            let want = if yes_in_time.len() == names.len() && !refused {
                Decision::Committed
            } else {
                Decision::Aborted
            };
            proptest::prop_assert_eq!(recorded[0], want);
            proptest::prop_assert_eq!(c.decision(), None, "nothing sent before it is recorded");
            let sent = c.step(CoordinatorEvent::DecisionRecorded, t0 + ms(6000));
            let reply = sent.iter().find_map(|a| match a {
                CoordinatorAction::Reply { decision, votes } => Some((*decision, votes.clone())),
                _ => None,
            });
            let (decision, votes) = reply.expect("a reply");
            proptest::prop_assert_eq!(decision, want);
            let all_yes = votes.values().all(|v| *v == BallotReport::Yes);
            proptest::prop_assert_eq!(all_yes, want == Decision::Committed);
            proptest::prop_assert_eq!(c.decision(), Some(want));
        }
    }
}
