//! What a node keeps across role changes: a member that is elected primary,
//! or steps down, swaps its role but keeps its faults, its journal, its
//! live timers and what it knows of the election.

use crate::api::Timing;
use crate::faults::FaultSet;
use crate::journal::Journal;
use crate::leadership::Leadership;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Parts {
    pub faults: Arc<FaultSet>,
    pub journal: Arc<Journal>,
    pub leadership: Arc<Leadership>,
    /// The live timers (`GET/POST /timing`); each role watches them.
    pub timing: watch::Sender<Timing>,
}
