//! The HTTP API of a node, typed: every request and response body, the
//! paths, and the OpenAPI document derived from them. The node handlers
//! serialize these types and every client in the workspace deserializes
//! them, so the two sides cannot drift apart.
//!
//! - [`messages`]: `GET/POST /messages`
//! - [`health`]: `GET /health` of both roles, and [`Health`]
//! - [`faults`]: `GET/POST/DELETE /faults`
//! - [`timing`]: `GET/POST /timing`, the primary's live timers
//! - [`role`]: primary or secondary
//! - [`storage`]: the storage part of `/health`
//! - [`atomic`]: two-phase commit (atomic writes, votes, decisions, in doubt)
//! - [`replication`]: the internal primary → secondary protocol
//! - [`election`]: votes, the primary's replication headers, `/health`'s
//!   election fields
//! - [`errors`]: the `{"error": …}` body of every failure
//! - [`journal`]: `GET /events`, a node's journal
//! - [`openapi`]: the OpenAPI document served at `GET /openapi.json`

pub mod atomic;
pub mod election;
pub mod errors;
pub mod faults;
pub mod health;
pub mod int;
pub mod journal;
pub mod messages;
pub mod openapi;
pub mod replication;
pub mod role;
pub mod storage;
pub mod timing;

pub use crate::entry::Entry;
pub use atomic::{
    AtomicHealth, AtomicReply, AtomicState, BallotReport, DecisionRequest, HeldState,
    InDoubtReport, Outcome, OutcomeQuery, OutcomeReport, TransactionReport, Vote, VoteReport,
    DECISION_PATH, OUTCOME_PATH,
};
pub use election::{ElectionReport, LogShape, VoteReply, VoteRequest, VOTE_PATH};
pub use errors::ErrorBody;
pub use faults::{FailAt, FaultPatch, Faults, ParkedReport, ReleaseRequest, Released};
pub use health::{
    AnsweredWriteReport, Health, NodeHealth, PrimaryHealth, QuorumReport, SecondaryHealth,
    SecondaryReport, WaitingWriteReport,
};
pub use messages::{Created, MessageList, WriteBody, WriteReply};
pub use replication::{AppendRequest, Position, APPEND_PATH, HEARTBEAT_PATH, PRIMARY_HEADER};
pub use role::Role;
pub use storage::{DiskReport, FsyncPolicy, StorageKind};
pub use timing::{Timing, TimingError, TimingPatch, TIMING_PATH};

pub const MESSAGES_PATH: &str = "/messages";
pub const HEALTH_PATH: &str = "/health";
pub const FAULTS_PATH: &str = "/faults";
/// Step mode: lets parked node-to-node requests go.
pub const RELEASE_PATH: &str = "/faults/release";
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Header a client may set on `POST /messages`; the primary shows it with
/// the write in `/health`'s `waiting_writes`, so the client can tell its
/// own writes apart (the controller does, to show their acks).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
