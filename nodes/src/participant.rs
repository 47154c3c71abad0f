//! A secondary as a two-phase-commit participant: what it remembers beside
//! the log about the atomic entries it holds in doubt (since when, and
//! whether their coordinator could ever recover a decision), and the words
//! `/health` shows for them. The votes and states themselves live in the
//! log (`LogStore::undecided`), durable where the log is; the rules are the
//! pure functions of [`crate::two_phase`].

use crate::api::{AtomicState, Entry, InDoubtReport, Vote, VoteReport};
use crate::two_phase;
use axum::http::HeaderMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Header on every replication request: the primary's storage, `disk` or
/// `memory`. A participant in doubt says plainly when its coordinator has
/// no data directory: a crash then loses the decision for good.
pub const STORAGE_HEADER: &str = "x-replog-storage";

const UNKNOWN: u8 = 0;
const DISK: u8 = 1;
const MEMORY: u8 = 2;

#[derive(Debug, Default)]
pub struct Participant {
    /// When each entry in doubt was prepared here (ms since the epoch).
    since: Mutex<BTreeMap<u64, u64>>,
    coordinator_storage: AtomicU8,
}

impl Participant {
    /// A participant whose log already holds `undecided` entries (recovered
    /// from disk, or handed over from the node's previous role): in doubt
    /// since now, as far as this process knows.
    pub fn recovered(undecided: &[(u64, AtomicState)]) -> Self {
        let now = now_ms();
        let since = undecided
            .iter()
            .filter(|(_, s)| *s == AtomicState::Prepared)
            .map(|(seq, _)| (*seq, now))
            .collect();
        Self {
            since: Mutex::new(since),
            coordinator_storage: AtomicU8::new(UNKNOWN),
        }
    }

    fn since(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, u64>> {
        self.since.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A VoteRequest: atomic `entry` arrives for the first time. Sets the
    /// state it is stored in and returns the vote (none for an entry that
    /// arrives decided).
    pub fn vote_requested(&self, entry: &mut Entry, refuse: bool) -> Option<Vote> {
        let arrived = entry.atomic?;
        let (state, vote) = two_phase::on_vote_request(arrived, refuse);
        entry.atomic = Some(state);
        if state == AtomicState::Prepared {
            self.since().insert(entry.seq, now_ms());
        }
        vote
    }

    /// The decision on `seq` is applied: no longer in doubt.
    pub fn decided(&self, seq: u64) {
        self.since().remove(&seq);
    }

    /// Entries cut or cleared from the log are no longer held at all.
    pub fn forget_after(&self, last: u64) {
        self.since().split_off(&(last.saturating_add(1)));
    }

    /// Notes the coordinator's storage from a replication request.
    pub fn note_coordinator(&self, headers: &HeaderMap) {
        let kind = match headers.get(STORAGE_HEADER).map(|v| v.as_bytes()) {
            Some(b"disk") => DISK,
            Some(b"memory") => MEMORY,
            _ => return,
        };
        self.coordinator_storage.store(kind, Ordering::Relaxed);
    }

    /// The votes to report with an answer: every undecided entry up to
    /// `durable` (a vote is cast only once its prepare is on disk).
    pub fn votes(undecided: &[(u64, AtomicState)], durable: u64) -> Vec<VoteReport> {
        undecided
            .iter()
            .filter(|(seq, _)| *seq <= durable)
            .filter_map(|(seq, state)| {
                two_phase::standing_vote(*state).map(|vote| VoteReport { seq: *seq, vote })
            })
            .collect()
    }

    /// `/health`'s `in_doubt`: the entries prepared and undecided.
    pub fn report(
        &self,
        undecided: &[(u64, AtomicState)],
        coordinator: Option<&str>,
    ) -> Vec<InDoubtReport> {
        let now = now_ms();
        let since = self.since();
        let who = coordinator.unwrap_or("the primary");
        let lost_for_good = self.coordinator_storage.load(Ordering::Relaxed) == MEMORY;
        undecided
            .iter()
            .filter(|(_, s)| *s == AtomicState::Prepared)
            .map(|(seq, _)| {
                let since_ms = since.get(seq).copied().unwrap_or(now);
                let mut note = format!("#{seq} prepared, waiting for {who}'s decision");
                if lost_for_good {
                    note.push_str(&format!(
                        "; {who} keeps no data directory: if it crashed, the decision is lost and #{seq} stays in doubt for good"
                    ));
                }
                InDoubtReport {
                    seq: *seq,
                    since_ms,
                    for_ms: now.saturating_sub(since_ms),
                    coordinator: coordinator.map(str::to_string),
                    note,
                }
            })
            .collect()
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_durable_undecided_entries_are_voted_on() {
        let undecided = [
            (3, AtomicState::Refused),
            (5, AtomicState::Prepared),
            (9, AtomicState::Prepared),
        ];
        let votes = Participant::votes(&undecided, 8);
        assert_eq!(
            votes,
            vec![
                VoteReport {
                    seq: 3,
                    vote: Vote::No
                },
                VoteReport {
                    seq: 5,
                    vote: Vote::Yes
                }
            ]
        );
    }

    #[test]
    fn in_doubt_says_whose_decision_it_waits_for_and_when_it_is_lost() {
        let p = Participant::recovered(&[(7, AtomicState::Prepared), (8, AtomicState::Refused)]);
        let undecided = [(7, AtomicState::Prepared), (8, AtomicState::Refused)];
        let report = p.report(&undecided, Some("p"));
        assert_eq!(report.len(), 1, "a NO vote is not in doubt");
        assert_eq!(report[0].note, "#7 prepared, waiting for p's decision");
        let mut headers = HeaderMap::new();
        headers.insert(
            STORAGE_HEADER,
            axum::http::HeaderValue::from_static("memory"),
        );
        p.note_coordinator(&headers);
        let report = p.report(&undecided, Some("p"));
        assert!(
            report[0].note.contains("stays in doubt for good"),
            "{}",
            report[0].note
        );
    }
}
