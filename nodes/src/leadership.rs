//! Who leads, as this node knows it: the pure [`Election`] core behind one
//! lock, shared by whichever role the node plays now (see `member`).
//!
//! Every node has one, the course's fixed roles too: a fixed primary is a
//! member that leads a new term at each start and never steps down, a fixed
//! secondary one that never stands. So the same code checks every replication request's term,
//! matches a follower's log against its primary's, and reports term, vote,
//! primary and commit seq in `/health`.
//!
//! Lock order: this lock before a role's log lock, never the other way.

use crate::api::journal::Happened;
use crate::api::{ElectionReport, LogShape};
use crate::election::{Action, Election, Event, LogPos, Role, Standing, Timeouts};
use crate::journal::Journal;
use crate::store::LogStore;
use crate::wal::WalError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tracing::{info, warn};

/// What a primary stamps on every replication request (see the headers in
/// [`crate::api::election`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub term: u64,
    pub leader: String,
    pub leader_url: Option<String>,
    pub shape: LogShape,
    pub commit_seq: u64,
}

impl Stamp {
    /// The stamp of a replication request; `None` when it has no term (a
    /// sender from before terms, or a hand-made request).
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Result<Option<Self>, String> {
        use crate::api::election::{
            COMMIT_HEADER, LEADER_HEADER, LEADER_URL_HEADER, LOG_HEADER, TERM_HEADER,
        };
        let text = |name: &str| -> Result<Option<&str>, String> {
            headers
                .get(name)
                .map(|v| v.to_str().map_err(|_| format!("header {name} is not text")))
                .transpose()
        };
        let number = |name: &str| -> Result<Option<u64>, String> {
            text(name)?
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("header {name} must be a whole number, got {v:?}"))
                })
                .transpose()
        };
        let Some(term) = number(TERM_HEADER)? else {
            return Ok(None);
        };
        let leader = text(LEADER_HEADER)?
            .ok_or_else(|| format!("header {LEADER_HEADER} is required with {TERM_HEADER}"))?
            .to_string();
        let shape = match text(LOG_HEADER)? {
            Some(v) => v.parse::<LogShape>()?,
            None => LogShape::default(),
        };
        Ok(Some(Stamp {
            term,
            leader,
            leader_url: text(LEADER_URL_HEADER)?.map(str::to_string),
            shape,
            commit_seq: number(COMMIT_HEADER)?.unwrap_or(0),
        }))
    }
}

/// What matching a follower's log against a primary's did.
#[derive(Debug)]
pub enum Matched {
    /// Matched against this term's primary before.
    Already,
    /// The whole log is a prefix of the primary's.
    Kept,
    /// The tail that diverged was cut.
    Cut(crate::store::Rollback),
}

pub struct Leadership {
    inner: Mutex<Inner>,
    /// As primary: the highest term a member answered with, for the driver
    /// to step down on (0: none seen).
    higher_term: AtomicU64,
}

pub struct Inner {
    me: String,
    election: Election,
    /// Every member's base URL, by id (members only).
    urls: BTreeMap<String, String>,
    /// The primary's URL, when learned from its requests (fixed roles).
    learned_url: Option<String>,
    commit_seq: u64,
    rolled_back: u64,
    /// The term whose primary this node's log was last matched against.
    matched_term: u64,
    journal: Arc<Journal>,
}

impl Leadership {
    fn new(inner: Inner) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(inner),
            higher_term: AtomicU64::new(0),
        })
    }

    /// The course's fixed primary: leads from the start, in the term after
    /// every term `store` has seen (term 1 for a new log), made durable
    /// before it serves, so a restart never leads a term twice.
    pub fn fixed_primary(
        me: &str,
        journal: Arc<Journal>,
        store: &mut dyn LogStore,
    ) -> Result<Arc<Self>, WalError> {
        let seen = store.vote().0.max(Inner::last_pos(store).term);
        let leadership = Self::fixed(me, Standing::FixedPrimary, journal, seen);
        store.set_vote(leadership.term(), Some(me.to_string()))?;
        Ok(leadership)
    }

    /// The course's fixed secondary: follows whoever sends it entries.
    pub fn fixed_secondary(me: &str, journal: Arc<Journal>) -> Arc<Self> {
        Self::fixed(me, Standing::FixedSecondary, journal, 0)
    }

    fn fixed(me: &str, standing: Standing, journal: Arc<Journal>, term: u64) -> Arc<Self> {
        let election = Election::new(
            me,
            &[],
            standing,
            Timeouts::default(),
            (term, None),
            Instant::now(),
            0,
        );
        Self::new(Inner {
            me: me.to_string(),
            election,
            urls: BTreeMap::new(),
            learned_url: None,
            commit_seq: 0,
            rolled_back: 0,
            matched_term: 0,
            journal,
        })
    }

    /// A member that elects its primary among `urls` (every member, itself
    /// included), starting from its persisted term and vote.
    pub fn member(
        me: &str,
        urls: BTreeMap<String, String>,
        timeouts: Timeouts,
        persisted: (u64, Option<String>),
        journal: Arc<Journal>,
    ) -> Arc<Self> {
        let others: Vec<String> = urls.keys().filter(|id| *id != me).cloned().collect();
        let election = Election::new(
            me,
            &others,
            Standing::Elects,
            timeouts,
            persisted,
            Instant::now(),
            rand::random(),
        )
        .with_pre_vote();
        Self::new(Inner {
            me: me.to_string(),
            election,
            urls,
            learned_url: None,
            commit_seq: 0,
            rolled_back: 0,
            matched_term: 0,
            journal,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn term(&self) -> u64 {
        self.lock().election.term()
    }

    /// As primary: a member answered with `term`, above ours.
    pub fn saw_higher_term(&self, term: u64) {
        self.higher_term.fetch_max(term, Ordering::Relaxed);
    }

    /// The higher term seen since the last call (0: none).
    pub fn take_higher_term(&self) -> u64 {
        self.higher_term.swap(0, Ordering::Relaxed)
    }

    pub fn report(&self) -> ElectionReport {
        self.lock().report()
    }
}

impl Inner {
    pub fn term(&self) -> u64 {
        self.election.term()
    }

    pub fn role(&self) -> Role {
        self.election.role()
    }

    pub fn leader(&self) -> Option<&str> {
        self.election.leader()
    }

    /// The members that voted for this one in its term.
    pub fn voters(&self) -> Vec<String> {
        self.election.voters()
    }

    /// The leader's URL as clients should use it.
    pub fn leader_url(&self) -> Option<String> {
        let leader = self.election.leader()?;
        self.urls
            .get(leader)
            .cloned()
            .or_else(|| self.learned_url.clone())
    }

    /// The other members, by id and URL.
    pub fn others(&self) -> Vec<(String, String)> {
        self.urls
            .iter()
            .filter(|(id, _)| **id != self.me)
            .map(|(id, url)| (id.clone(), url.clone()))
            .collect()
    }

    pub fn commit_seq(&self) -> u64 {
        self.commit_seq
    }

    /// New election timeouts (slow motion).
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.election.set_timeouts(timeouts, Instant::now());
    }

    /// Commit seqs only grow: what a majority held stays committed.
    pub fn raise_commit(&mut self, seq: u64) {
        self.commit_seq = self.commit_seq.max(seq);
    }

    pub fn report(&self) -> ElectionReport {
        ElectionReport {
            term: self.election.term(),
            voted_for: self.election.voted_for().map(str::to_string),
            primary: self.election.leader().map(str::to_string),
            primary_url: self.leader_url(),
            commit_seq: self.commit_seq,
            rolled_back: self.rolled_back,
            elects: !self.urls.is_empty(),
        }
    }

    /// Steps the election and carries out its persistence at once, with
    /// `store` (term and vote are durable before anything acts on them);
    /// notes every change in the log and the journal. Returns the actions
    /// left for the caller: vote requests and answers, and role changes.
    pub fn step(
        &mut self,
        event: Event,
        store: &mut dyn LogStore,
    ) -> Result<Vec<Action>, WalError> {
        let actions = self.election.step(event, Instant::now());
        let mut left = Vec::new();
        for action in actions {
            match &action {
                Action::Persist { term, voted_for } => {
                    store.set_vote(*term, voted_for.clone())?;
                    continue;
                }
                Action::Became { role, term } => self.note_role(*role, *term),
                Action::LeaderIs {
                    leader: Some(leader),
                    term,
                } if *leader != self.me => {
                    info!(node = %self.me, primary = %leader, term, "follows primary {leader} in term {term}");
                    self.journal.record(Happened::Follows {
                        primary: leader.clone(),
                        term: *term,
                    });
                }
                Action::SteppedDown { term } => {
                    let why = "it heard a newer term or no majority for an election timeout";
                    warn!(node = %self.me, term, "stepped down as primary: {why}");
                    self.journal.record(Happened::SteppedDown {
                        term: *term,
                        why: why.into(),
                    });
                }
                Action::Vote {
                    to,
                    term,
                    granted,
                    refusal,
                } => {
                    let why = refusal.as_ref().map(|r| r.to_string());
                    match &why {
                        None => {
                            info!(node = %self.me, candidate = %to, term, "votes for {to} in term {term}")
                        }
                        Some(why) => {
                            info!(node = %self.me, candidate = %to, term, "refuses its vote to {to} in term {term}: {why}")
                        }
                    }
                    self.journal.record(Happened::Voted {
                        candidate: to.clone(),
                        term: *term,
                        granted: *granted,
                        why,
                    });
                }
                Action::PreVote {
                    to,
                    proposed,
                    refusal,
                    ..
                } => match refusal {
                    None => {
                        tracing::debug!(node = %self.me, candidate = %to, "would vote for {to} in term {proposed} (pre-vote)")
                    }
                    Some(why) => {
                        tracing::debug!(node = %self.me, candidate = %to, "would not vote for {to} in term {proposed} (pre-vote): {why}")
                    }
                },
                _ => {}
            }
            left.push(action);
        }
        Ok(left)
    }

    fn note_role(&self, role: Role, term: u64) {
        match role {
            Role::Candidate => {
                info!(node = %self.me, term, "no primary heard for an election timeout: stands for election in term {term}");
                self.journal.record(Happened::Stood { term });
            }
            Role::Leader => {
                info!(node = %self.me, term, "elected primary for term {term}");
                self.journal.record(Happened::Elected {
                    term,
                    votes: self.election.votes(),
                });
            }
            Role::Follower => {}
        }
    }

    /// The first request of a new term's primary: the follower's log is
    /// matched against `shape`, the primary's. Everything after the last
    /// entry both share is cut (it never reached a majority: the elected
    /// primary would have it) and kept in a rollback file.
    pub fn match_log(
        &mut self,
        term: u64,
        shape: &LogShape,
        store: &mut dyn LogStore,
    ) -> Result<Matched, WalError> {
        if self.matched_term >= term {
            return Ok(Matched::Already);
        }
        let ours = store.last_seq();
        let mut shared = ours.min(shape.last_seq);
        while shared > 0 && store.term_at(shared) != shape.term_at(shared) {
            shared -= 1;
        }
        let cut = if shared < ours {
            let rollback = store.roll_back_after(shared)?;
            let count = rollback.entries.len() as u64;
            self.rolled_back += count;
            let file = rollback
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            if let (Some(first), Some(last)) = (rollback.entries.first(), rollback.entries.last()) {
                warn!(node = %self.me, first = first.seq, last = last.seq, count, %file, "rolled back {count} entries #{}..#{} that the term {term} primary's log does not have", first.seq, last.seq);
                self.journal.record(Happened::RolledBack {
                    first: first.seq,
                    last: last.seq,
                    term: first.term,
                    file,
                });
            }
            Matched::Cut(rollback)
        } else {
            Matched::Kept
        };
        self.matched_term = term;
        Ok(cut)
    }

    /// This log turned out to differ from the primary's (a batch's previous
    /// entry has another term here): it is matched again on the next request.
    pub fn rematch(&mut self) {
        self.matched_term = 0;
    }

    /// A new primary log took over (the course's fixed roles): its terms
    /// start over, and nothing of the old log is committed any more.
    pub fn new_primary_log(&mut self) {
        self.election.start_over();
        self.matched_term = 0;
        self.commit_seq = 0;
    }

    /// Entries this node rolled back before (its rollback files), so the
    /// count in `/health` outlives restarts.
    pub fn counted_rollbacks(&mut self, count: u64) {
        self.rolled_back = count;
    }

    /// Notes the URL a fixed primary gave for itself.
    pub fn learn_url(&mut self, url: Option<String>) {
        if url.is_some() {
            self.learned_url = url;
        }
    }

    /// This node's last entry, for votes.
    pub fn last_pos(store: &dyn LogStore) -> LogPos {
        let seq = store.last_seq();
        LogPos {
            term: store.term_at(seq).unwrap_or(0),
            seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::store::MemoryLog;

    fn log(terms: &[u64]) -> MemoryLog {
        let mut log = MemoryLog::new();
        for (i, term) in terms.iter().enumerate() {
            log.push(Entry::in_term(i as u64 + 1, *term, format!("e{}", i + 1)));
        }
        log
    }

    fn follower() -> Arc<Leadership> {
        Leadership::fixed_secondary("s1", Arc::new(Journal::new(false, "s1")))
    }

    fn shape(s: &str) -> LogShape {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The follower keeps the longest prefix whose terms agree with the
    /// primary's, and cuts the rest, once per term.
    #[test]
    fn a_new_terms_primary_cuts_what_diverges_once() {
        let (leadership, mut store) = (follower(), log(&[1, 1, 2, 2]));
        let mut inner = leadership.lock();
        let cut = inner
            .match_log(3, &shape("1@1,3@3;5"), &mut store)
            .unwrap_or_else(|e| panic!("{e}"));
        let Matched::Cut(rollback) = cut else {
            panic!("nothing cut: {cut:?}")
        };
        let cut: Vec<(u64, u64)> = rollback.entries.iter().map(|e| (e.seq, e.term)).collect();
        assert_eq!(cut, vec![(3, 2), (4, 2)]);
        assert_eq!(store.last_seq(), 2);
        assert_eq!(inner.report().rolled_back, 2);
        store.push(Entry::in_term(3, 3, "new"));
        let again = inner.match_log(3, &shape("1@1,3@3;3"), &mut store);
        assert!(
            matches!(again, Ok(Matched::Already)),
            "matched once per term"
        );
    }

    /// A log that is a prefix of the primary's, or longer with entries the
    /// primary lacks, is cut to what both hold.
    #[test]
    fn shorter_logs_stay_longer_ones_are_cut_to_the_primarys_end() {
        let (leadership, mut store) = (follower(), log(&[1, 1]));
        let mut inner = leadership.lock();
        let cut = inner.match_log(2, &shape("1@1,2@4;6"), &mut store);
        assert!(
            matches!(cut, Ok(Matched::Kept)),
            "a prefix keeps everything"
        );
        assert_eq!(store.last_seq(), 2);
        let (leadership, mut store) = (follower(), log(&[1, 1, 1, 1]));
        let mut inner = leadership.lock();
        let cut = inner
            .match_log(2, &shape("1@1;2"), &mut store)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cut, Matched::Cut(r) if r.entries.len() == 2));
        assert_eq!(store.last_seq(), 2);
    }

    #[test]
    fn a_stamp_reads_from_headers_and_refuses_garbage() {
        use crate::api::election::{LEADER_HEADER, LOG_HEADER, TERM_HEADER};
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(Stamp::from_headers(&headers), Ok(None), "no term: no stamp");
        headers.insert(TERM_HEADER, axum::http::HeaderValue::from(3u64));
        assert!(
            Stamp::from_headers(&headers).is_err(),
            "a term needs a leader"
        );
        headers.insert(LEADER_HEADER, axum::http::HeaderValue::from_static("m2"));
        headers.insert(
            LOG_HEADER,
            axum::http::HeaderValue::from_static("1@1,3@5;9"),
        );
        let stamp = Stamp::from_headers(&headers)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a stamp"));
        assert_eq!(
            (stamp.term, stamp.leader.as_str(), stamp.shape.last_seq),
            (3, "m2", 9)
        );
        headers.insert(LOG_HEADER, axum::http::HeaderValue::from_static("nonsense"));
        assert!(Stamp::from_headers(&headers).is_err());
    }
}
