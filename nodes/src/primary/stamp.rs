//! What this primary tells every member with each replication request: its
//! term, who it is, the shape of its log (so a member can find where its own
//! log diverges) and its commit seq (Raft's rule, see
//! [`election::commit_seq`]).

use super::log::PrimaryLog;
use super::peers::PeerBoard;
use crate::api::election::{
    COMMIT_HEADER, LEADER_HEADER, LEADER_URL_HEADER, LOG_HEADER, TERM_HEADER,
};
use crate::api::LogShape;
use crate::election;
use crate::leadership::Leadership;
use reqwest::header::{HeaderMap, HeaderValue};
use std::sync::Arc;

pub struct Stamper {
    term: u64,
    leader: HeaderValue,
    leader_url: Option<HeaderValue>,
    /// The log's term runs before this primary wrote anything.
    earlier: Vec<(u64, u64)>,
    /// The first seq this primary writes (in `term`).
    first_own: u64,
    log: Arc<PrimaryLog>,
    board: Arc<PeerBoard>,
    leadership: Arc<Leadership>,
    /// `disk` or `memory`: whether this coordinator could recover a
    /// decision after a crash (participants in doubt say so).
    storage: HeaderValue,
}

impl Stamper {
    pub fn new(
        term: u64,
        id: &str,
        url: Option<&str>,
        log: Arc<PrimaryLog>,
        board: Arc<PeerBoard>,
        leadership: Arc<Leadership>,
    ) -> Result<Self, String> {
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| format!("{v:?} cannot be sent in a header"))
        };
        let (earlier, last, disk) =
            log.with_store(|s| (s.term_runs(), s.last_seq(), s.disk_report().is_some()));
        Ok(Self {
            term,
            leader: header(id)?,
            leader_url: url.map(header).transpose()?,
            earlier,
            first_own: last + 1,
            log,
            board,
            leadership,
            storage: HeaderValue::from_static(if disk { "disk" } else { "memory" }),
        })
    }

    /// The first seq this primary writes: everything before it, it took
    /// over from earlier terms.
    pub fn first_own(&self) -> u64 {
        self.first_own
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    /// The primary's log as it stands: earlier terms, then its own.
    pub fn shape(&self) -> LogShape {
        let last_seq = self.log.last_seq();
        let mut runs = self.earlier.clone();
        if last_seq >= self.first_own && runs.last().is_none_or(|(t, _)| *t != self.term) {
            runs.push((self.term, self.first_own));
        }
        LogShape { runs, last_seq }
    }

    /// The highest seq a majority holds that no failover can roll back;
    /// recorded with the node's election state.
    pub fn commit_seq(&self) -> u64 {
        self.commit_seq_of(&self.shape())
    }

    /// [`commit_seq`](Self::commit_seq) for the log as `shape` describes it.
    fn commit_seq_of(&self, shape: &LogShape) -> u64 {
        let positions = self.board.acks.positions();
        let mut leadership = self.leadership.lock();
        let seq = election::commit_seq(
            self.term,
            &positions,
            |s| shape.term_at(s),
            leadership.commit_seq(),
        );
        leadership.raise_commit(seq);
        seq
    }

    /// The headers of one replication request.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(6);
        headers.insert(crate::participant::STORAGE_HEADER, self.storage.clone());
        headers.insert(TERM_HEADER, HeaderValue::from(self.term));
        headers.insert(LEADER_HEADER, self.leader.clone());
        if let Some(url) = &self.leader_url {
            headers.insert(LEADER_URL_HEADER, url.clone());
        }
        let shape = self.shape();
        if let Ok(value) = HeaderValue::from_str(&shape.to_string()) {
            headers.insert(LOG_HEADER, value);
        }
        headers.insert(COMMIT_HEADER, HeaderValue::from(self.commit_seq_of(&shape)));
        headers
    }
}
