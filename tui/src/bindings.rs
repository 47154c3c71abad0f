//! The one table of dashboard keys. The key handler dispatches through it and
//! the footer and help popup are generated from it, so a key cannot work
//! without being documented, or be documented without working.

use crate::model::{DashboardState, NodeView, ProcState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does in normal mode: a command line for the controller (its
/// one command language; `{node}` stands for the selected node, `{primary}`
/// for the node that leads now), or a change of the view itself.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// A command line, e.g. `kill {node}`.
    Line(&'static str),
    /// `on` when the selected node is in the state `is_on` tests, else `off`
    /// (pause/resume, block/unblock, partition/heal).
    Toggle {
        off: &'static str,
        on: &'static str,
        is_on: fn(&NodeView) -> bool,
    },
    View(ViewAction),
}

/// Keys that change only the view: selection and popups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewAction {
    /// Step the selection: ← and ⇧Tab go back, → and Tab go forward.
    SelectStep,
    /// Digits 1–9 select that node.
    SelectDigit,
    /// The compose popup; Enter sends `send <w> -- <text>`.
    Compose,
    /// The delay popup; Enter sends `delay {node} <ms>`.
    Delay,
    /// The fail popup; Enter sends `fail {node} <n> before|after`.
    Fail,
    Help,
    /// Scroll the events pane: PgUp/PgDn a page, Home the oldest, End the newest.
    ScrollEvents,
    /// Scroll the demo's narration text: ↑/↓ a line.
    ScrollNarration,
    /// The events filter popup; Enter applies it (empty: show all).
    Filter,
    /// The journey popup; Enter sends `journey <seq>`.
    Journey,
}

/// When a binding is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only when the cluster can cut a node off a network (Docker).
    CanPartition,
    /// Only while the guided demo's narration is shown.
    Demo,
    /// Only without narration: the demo takes ←/→ for its steps.
    NoDemo,
}

impl When {
    pub fn holds(self, state: &DashboardState) -> bool {
        match self {
            When::Always => true,
            When::CanPartition => state.can_partition,
            When::Demo => state.narration.is_some(),
            When::NoDemo => state.narration.is_none(),
        }
    }

    /// How the help popup qualifies a binding; empty when always available.
    pub fn note(self) -> &'static str {
        match self {
            When::Always => "",
            When::CanPartition => "Docker only",
            When::Demo => "demo only",
            When::NoDemo => "not in demo",
        }
    }
}

/// A physical key that triggers a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A plain character (Shift allowed, Ctrl/Alt not).
    Char(char),
    /// Ctrl + character.
    Ctrl(char),
    /// A non-character key such as an arrow.
    Code(KeyCode),
    /// Any of the digits 1–9.
    Digit,
}

impl Trigger {
    pub fn matches(self, key: &KeyEvent) -> bool {
        let ctrl_or_alt = key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self {
            Trigger::Char(c) => !ctrl_or_alt && key.code == KeyCode::Char(c),
            Trigger::Ctrl(c) => {
                key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
            }
            Trigger::Code(code) => key.code == code,
            Trigger::Digit => {
                !ctrl_or_alt && matches!(key.code, KeyCode::Char(c) if ('1'..='9').contains(&c))
            }
        }
    }
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// How the keys are written in footer and help, e.g. "←/→".
    pub keys: &'static str,
    pub triggers: &'static [Trigger],
    pub run: Run,
    /// Short label for the footer.
    pub short: &'static str,
    /// Sentence for the help popup.
    pub long: &'static str,
    pub when: When,
}

use Trigger::{Char, Code, Ctrl, Digit};

/// Every normal-mode key, in the order footer and help list them.
/// Demo bindings come before node selection so that, with narration shown,
/// → means "next step" (the NoDemo ←/→ row is then not live anyway).
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "space/→",
        triggers: &[Char(' '), Code(KeyCode::Right)],
        run: Run::Line("next"),
        short: "next step",
        long: "run the next demo step",
        when: When::Demo,
    },
    Binding {
        keys: "←",
        triggers: &[Code(KeyCode::Left)],
        run: Run::Line("prev"),
        short: "prev step",
        long: "show the previous step's narration",
        when: When::Demo,
    },
    Binding {
        keys: "↑/↓",
        triggers: &[Code(KeyCode::Up), Code(KeyCode::Down)],
        run: Run::View(ViewAction::ScrollNarration),
        short: "scroll narration",
        long: "scroll a long narration inside its panel",
        when: When::Demo,
    },
    Binding {
        keys: "a",
        triggers: &[Char('a')],
        run: Run::Line("autoplay"),
        short: "autoplay",
        long: "toggle demo autoplay",
        when: When::Demo,
    },
    Binding {
        keys: "←/→",
        triggers: &[Code(KeyCode::Left), Code(KeyCode::Right)],
        run: Run::View(ViewAction::SelectStep),
        short: "node",
        long: "select the previous / next node",
        when: When::NoDemo,
    },
    Binding {
        keys: "Tab/⇧Tab",
        triggers: &[Code(KeyCode::Tab), Code(KeyCode::BackTab)],
        run: Run::View(ViewAction::SelectStep),
        short: "node",
        long: "select the next / previous node",
        when: When::Always,
    },
    Binding {
        keys: "1-9",
        triggers: &[Digit],
        run: Run::View(ViewAction::SelectDigit),
        short: "pick node",
        long: "select node 1–9 (1 = primary)",
        when: When::Always,
    },
    Binding {
        keys: "s",
        triggers: &[Char('s')],
        run: Run::View(ViewAction::Compose),
        short: "send",
        long: "send a client write (choose its text, and w or atomic: all nodes or none)",
        when: When::Always,
    },
    Binding {
        keys: "p",
        triggers: &[Char('p')],
        run: Run::Toggle {
            off: "pause {node}",
            on: "resume {node}",
            is_on: paused,
        },
        short: "pause/resume",
        long: "pause the selected node, or resume it if paused",
        when: When::Always,
    },
    Binding {
        keys: "k",
        triggers: &[Char('k')],
        run: Run::Line("kill {node}"),
        short: "kill",
        long: "kill the selected node",
        when: When::Always,
    },
    Binding {
        keys: "r",
        triggers: &[Char('r')],
        run: Run::Line("restart {node}"),
        short: "restart",
        long: "restart the selected node",
        when: When::Always,
    },
    Binding {
        keys: "w",
        triggers: &[Char('w')],
        run: Run::Line("wipe {node}"),
        short: "wipe",
        long: "wipe: restart the selected node with an empty disk (a brand-new replica)",
        when: When::Always,
    },
    Binding {
        keys: "d",
        triggers: &[Char('d')],
        run: Run::View(ViewAction::Delay),
        short: "delay",
        long: "set an artificial delay on the selected node (0 clears)",
        when: When::Always,
    },
    Binding {
        keys: "f",
        triggers: &[Char('f')],
        run: Run::View(ViewAction::Fail),
        short: "fail next",
        long: "make the selected node fail its next N requests (before/after store)",
        when: When::Always,
    },
    Binding {
        keys: "b",
        triggers: &[Char('b')],
        run: Run::Toggle {
            off: "block {node}",
            on: "unblock {node}",
            is_on: blocked,
        },
        short: "block",
        long: "block / unblock replication to the selected node",
        when: When::Always,
    },
    Binding {
        keys: "c",
        triggers: &[Char('c')],
        run: Run::Line("clear {node}"),
        short: "clear faults",
        long: "clear all faults of the selected node",
        when: When::Always,
    },
    Binding {
        keys: "n",
        triggers: &[Char('n')],
        run: Run::Toggle {
            off: "partition {node}",
            on: "heal {node}",
            is_on: partitioned,
        },
        short: "partition",
        long: "cut the selected node off the network / reconnect it",
        when: When::CanPartition,
    },
    Binding {
        keys: "v",
        triggers: &[Char('v')],
        run: Run::Toggle {
            off: "vote {node} no",
            on: "vote {node} yes",
            is_on: votes_no,
        },
        short: "vote",
        long: "2PC: the selected secondary votes NO on every atomic write / YES again",
        when: When::Always,
    },
    Binding {
        keys: "x",
        triggers: &[Char('x')],
        run: Run::Line("crash {primary} after prepare"),
        short: "crash@prep",
        long: "2PC: the primary crashes at its next atomic write: votes in, undecided",
        when: When::Always,
    },
    Binding {
        keys: "X",
        triggers: &[Char('X')],
        run: Run::Line("crash {primary} after decision"),
        short: "crash@dec",
        long: "2PC: the primary crashes at its next atomic write: decided, not sent",
        when: When::Always,
    },
    Binding {
        keys: "PgUp/PgDn",
        triggers: &[
            Code(KeyCode::PageUp),
            Code(KeyCode::PageDown),
            Code(KeyCode::Home),
            Code(KeyCode::End),
        ],
        run: Run::View(ViewAction::ScrollEvents),
        short: "scroll events",
        long: "scroll the events a page back / forward (Home: the oldest, End: the newest)",
        when: When::Always,
    },
    Binding {
        keys: "h",
        triggers: &[Char('h')],
        run: Run::Toggle {
            off: "hold {node}",
            on: "unhold {node}",
            is_on: holding,
        },
        short: "step mode",
        long: "step mode on the node (the primary): park its node-to-node requests",
        when: When::Always,
    },
    Binding {
        keys: ">",
        triggers: &[Char('>')],
        run: Run::Line("release"),
        short: "release",
        long: "step mode: release the oldest parked request",
        when: When::Always,
    },
    Binding {
        keys: "*",
        triggers: &[Char('*')],
        run: Run::Line("release all"),
        short: "release all",
        long: "step mode: release every parked request",
        when: When::Always,
    },
    Binding {
        keys: "j",
        triggers: &[Char('j')],
        run: Run::Line("journey {last}"),
        short: "journey",
        long: "the journey of the selected node's newest message",
        when: When::Always,
    },
    Binding {
        keys: "J",
        triggers: &[Char('J')],
        run: Run::View(ViewAction::Journey),
        short: "journey of…",
        long: "the journey of a seq you type",
        when: When::Always,
    },
    Binding {
        keys: "e",
        triggers: &[Char('e')],
        run: Run::Line("export"),
        short: "export",
        long: "export the timeline and the logs into the run directory",
        when: When::Always,
    },
    Binding {
        keys: "t",
        triggers: &[Char('t')],
        run: Run::Line("slow"),
        short: "slow-mo",
        long: "slow motion: the primary's timers ×1 → ×5 → ×20, live (the header shows it)",
        when: When::Always,
    },
    Binding {
        keys: "/",
        triggers: &[Char('/')],
        run: Run::View(ViewAction::Filter),
        short: "filter events",
        long: "filter the events: words to match, a node id, kind:retry …",
        when: When::Always,
    },
    Binding {
        keys: "?",
        triggers: &[Char('?')],
        run: Run::View(ViewAction::Help),
        short: "help",
        long: "show this help",
        when: When::Always,
    },
    Binding {
        keys: "q/Ctrl-C",
        triggers: &[Char('q'), Ctrl('c')],
        run: Run::Line("quit"),
        short: "quit",
        long: "quit the dashboard",
        when: When::Always,
    },
];

fn paused(node: &NodeView) -> bool {
    node.process == ProcState::Paused
}

fn votes_no(node: &NodeView) -> bool {
    node.faults.vote == crate::model::Vote::No
}

fn holding(node: &NodeView) -> bool {
    node.faults.hold
}

fn blocked(node: &NodeView) -> bool {
    node.faults.block
}

fn partitioned(node: &NodeView) -> bool {
    node.process == ProcState::Partitioned
}

/// Bindings live in this state, in table order.
pub fn available(state: &DashboardState) -> impl Iterator<Item = &'static Binding> + '_ {
    BINDINGS.iter().filter(move |b| b.when.holds(state))
}

/// The first live binding the key triggers.
pub fn lookup(state: &DashboardState, key: &KeyEvent) -> Option<&'static Binding> {
    available(state).find(|b| b.triggers.iter().any(|t| t.matches(key)))
}
