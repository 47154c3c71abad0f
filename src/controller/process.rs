//! A node's process (or container) as the controller manages it, and the one
//! rule for what a process command may do to it. Both backends (local child
//! processes, Docker containers) ask this rule before they act, so a command
//! means the same everywhere: pausing a node that is still starting is
//! refused on both, a restart also heals a partition on both.
//!
//! Pure: no signals, no Docker; the backends do the I/O once the rule agrees.

use super::cluster::ClusterError;
use replog_tui::model::ProcState;

/// Where a node is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Launched, not answering yet.
    #[default]
    Starting,
    Running,
    /// SIGSTOP / `docker pause`: alive but silent.
    Paused,
    /// Stopped by the controller.
    Killed,
    /// Exited on its own, with the exit code when there was one.
    Exited(Option<i32>),
}

/// A node's process: its phase and, apart from it, whether it is cut off
/// the network (a paused or killed node can be cut off too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Process {
    pub phase: Phase,
    pub partitioned: bool,
}

/// What a process command asks of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessOp {
    Pause,
    Resume,
    Kill,
    Restart,
    /// Stop it (if it runs), empty its data directory, start it again: a
    /// brand-new replica (or, for the primary, a brand-new log).
    Wipe,
    /// Cut off the network (`true`) or heal (`false`).
    Partition(bool),
}

impl ProcessOp {
    /// The verb, as in "cannot pause s1".
    pub fn verb(self) -> &'static str {
        match self {
            ProcessOp::Pause => "pause",
            ProcessOp::Resume => "resume",
            ProcessOp::Kill => "kill",
            ProcessOp::Restart => "restart",
            ProcessOp::Wipe => "wipe",
            ProcessOp::Partition(true) => "cut off",
            ProcessOp::Partition(false) => "heal",
        }
    }

    /// What happened, as in "s1 paused".
    pub fn done(self) -> &'static str {
        match self {
            ProcessOp::Pause => "paused",
            ProcessOp::Resume => "resumed",
            ProcessOp::Kill => "killed",
            ProcessOp::Restart => "restarting",
            ProcessOp::Wipe => "wiped: restarting with an empty disk",
            ProcessOp::Partition(true) => "cut off the network",
            ProcessOp::Partition(false) => "reconnected",
        }
    }
}

impl Process {
    /// The state `op` leads to, or why it may not happen now.
    pub fn apply(self, id: &str, op: ProcessOp) -> Result<Process, ClusterError> {
        let refuse = |why: &str| ClusterError::NotNow {
            id: id.to_string(),
            op: op.verb(),
            why: why.to_string(),
        };
        let phase = self.phase;
        let next = match (op, phase) {
            (ProcessOp::Pause, Phase::Running) => Process {
                phase: Phase::Paused,
                ..self
            },
            (ProcessOp::Pause, Phase::Starting) => {
                return Err(refuse("it is still starting; pause it once it is up"))
            }
            (ProcessOp::Pause, Phase::Paused) => return Err(refuse("it is already paused")),
            (ProcessOp::Resume, Phase::Paused) => Process {
                phase: Phase::Running,
                ..self
            },
            (ProcessOp::Resume, _) => return Err(refuse("it is not paused")),
            (ProcessOp::Kill, Phase::Running | Phase::Starting | Phase::Paused) => Process {
                phase: Phase::Killed,
                ..self
            },
            // A restarted node is a whole node again: back on the network too.
            // A wipe is a restart with an empty disk, from any state: a
            // paused node is killed like a running one (SIGKILL needs no
            // SIGCONT), so the wipe never waits for a resume.
            (ProcessOp::Restart | ProcessOp::Wipe, _) => Process {
                phase: Phase::Starting,
                partitioned: false,
            },
            (ProcessOp::Partition(true), _) if self.partitioned => {
                return Err(refuse(match phase {
                    Phase::Paused => "it is paused and already cut off; resume it, then heal it",
                    Phase::Killed | Phase::Exited(_) => {
                        "it is stopped and already cut off; restart it (that reconnects it too)"
                    }
                    _ => "it is already cut off the network",
                }))
            }
            (ProcessOp::Partition(true), _) => Process {
                partitioned: true,
                ..self
            },
            (ProcessOp::Partition(false), _) if !self.partitioned => {
                return Err(refuse("it is not cut off the network"))
            }
            (ProcessOp::Partition(false), _) => Process {
                partitioned: false,
                ..self
            },
            (ProcessOp::Pause | ProcessOp::Kill, Phase::Killed | Phase::Exited(_)) => {
                return Err(refuse("it is not running"))
            }
        };
        Ok(next)
    }

    /// Killed or exited: nothing to poll, nothing to pause.
    pub fn gone(self) -> bool {
        matches!(self.phase, Phase::Killed | Phase::Exited(_))
    }

    /// How the dashboard shows it: a partition shows while the node runs.
    pub fn view(self) -> ProcState {
        match self.phase {
            Phase::Running | Phase::Starting if self.partitioned => ProcState::Partitioned,
            Phase::Starting => ProcState::Starting,
            Phase::Running => ProcState::Running,
            Phase::Paused => ProcState::Paused,
            Phase::Killed => ProcState::Killed,
            Phase::Exited(code) => ProcState::Exited(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(phase: Phase, partitioned: bool) -> Process {
        Process { phase, partitioned }
    }

    /// Every (state, command) pair: the state it leads to, or "refused".
    #[test]
    fn the_transition_table() {
        use Phase::*;
        use ProcessOp::*;
        let cut = Partition(true);
        let heal = Partition(false);
        let table: &[(Process, ProcessOp, Option<Process>)] = &[
            (p(Running, false), Pause, Some(p(Paused, false))),
            (p(Starting, false), Pause, None),
            (p(Paused, false), Pause, None),
            (p(Killed, false), Pause, None),
            (p(Exited(Some(1)), false), Pause, None),
            (p(Running, true), Pause, Some(p(Paused, true))),
            (p(Paused, false), Resume, Some(p(Running, false))),
            (p(Running, false), Resume, None),
            (p(Starting, false), Resume, None),
            (p(Killed, false), Resume, None),
            (p(Running, false), Kill, Some(p(Killed, false))),
            (p(Starting, false), Kill, Some(p(Killed, false))),
            (p(Paused, true), Kill, Some(p(Killed, true))),
            (p(Killed, false), Kill, None),
            (p(Exited(None), false), Kill, None),
            (p(Running, false), Restart, Some(p(Starting, false))),
            (p(Killed, true), Restart, Some(p(Starting, false))),
            (p(Exited(Some(3)), false), Restart, Some(p(Starting, false))),
            (p(Running, false), Wipe, Some(p(Starting, false))),
            (p(Starting, false), Wipe, Some(p(Starting, false))),
            (p(Paused, true), Wipe, Some(p(Starting, false))),
            (p(Killed, false), Wipe, Some(p(Starting, false))),
            (p(Exited(None), false), Wipe, Some(p(Starting, false))),
            (p(Running, false), cut, Some(p(Running, true))),
            (p(Paused, false), cut, Some(p(Paused, true))),
            (p(Killed, false), cut, Some(p(Killed, true))),
            (p(Running, true), cut, None),
            (p(Paused, true), cut, None),
            (p(Killed, true), cut, None),
            (p(Running, true), heal, Some(p(Running, false))),
            (p(Running, false), heal, None),
        ];
        for (from, op, want) in table {
            let got = from.apply("s1", *op);
            match want {
                Some(want) => assert_eq!(got.as_ref().ok(), Some(want), "{from:?} {op:?}"),
                None => assert!(got.is_err(), "{from:?} {op:?} gave {got:?}"),
            }
        }
    }

    #[test]
    fn a_refusal_is_a_sentence_naming_node_and_command() {
        let err = p(Phase::Starting, false)
            .apply("s2", ProcessOp::Pause)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("cannot pause s2: it is still starting; pause it once it is up")
        );
    }

    #[test]
    fn a_partition_shows_only_while_the_node_runs() {
        assert_eq!(p(Phase::Running, true).view(), ProcState::Partitioned);
        assert_eq!(p(Phase::Starting, true).view(), ProcState::Partitioned);
        assert_eq!(p(Phase::Paused, true).view(), ProcState::Paused);
        assert_eq!(p(Phase::Killed, true).view(), ProcState::Killed);
    }
}
