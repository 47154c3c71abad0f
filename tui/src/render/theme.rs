//! Styles and state symbols. Every state has a word and a symbol so the
//! screen reads the same without colour: under `NO_COLOR` crossterm resets
//! attributes, which also wipes bold/reverse, so no style may carry meaning alone.

use crate::model::{EventKind, Health, ProcState};
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn plain(self) -> Style {
        Style::default()
    }
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn bad(self) -> Style {
        self.fg(Color::Red)
    }
    pub fn info(self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn accent(self) -> Style {
        self.fg(Color::Magenta)
    }

    /// Emphasis for titles; only with colour on (see module docs).
    pub fn strong(self) -> Style {
        if self.color {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    /// The READ-ONLY banner: white on red when colour is allowed.
    pub fn alarm(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    /// An entry in doubt (two-phase commit's blocking): black on yellow
    /// with colour; its ⧖ mark and words carry the meaning without.
    pub fn doubt(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    /// Border of the selected node's panel (its double border and ▶ mark
    /// carry the meaning; colour only helps).
    pub fn selected_border(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }

    pub fn health(self, h: Health) -> (Style, &'static str) {
        match h {
            Health::Healthy => (self.ok(), "● healthy"),
            Health::Suspected => (self.warn(), "◐ suspected"),
            Health::Unhealthy => (self.bad(), "✖ unhealthy"),
        }
    }

    pub fn process(self, p: ProcState) -> (Style, String) {
        match p {
            ProcState::Starting => (self.info(), "◌ starting".into()),
            ProcState::Running => (self.ok(), "▲ running".into()),
            ProcState::Paused => (self.warn(), "⏸ paused".into()),
            ProcState::Killed => (self.bad(), "☠ killed".into()),
            ProcState::Exited(Some(code)) => (self.bad(), format!("✖ exited (code {code})")),
            ProcState::Exited(None) => (self.bad(), "✖ exited".into()),
            ProcState::Partitioned => (self.accent(), "⚡ partitioned".into()),
        }
    }

    /// Fixed-width tag so timeline texts line up.
    pub fn event_kind(self, k: EventKind) -> (Style, &'static str) {
        match k {
            EventKind::Send => (self.info(), "SEND  "),
            EventKind::Ack => (self.ok(), "ACK   "),
            EventKind::Retry => (self.warn(), "RETRY "),
            EventKind::Health => (self.warn(), "HEALTH"),
            EventKind::Process => (self.accent(), "PROC  "),
            EventKind::Fault => (self.accent(), "FAULT "),
            EventKind::Quorum => (self.bad(), "QUORUM"),
            EventKind::Error => (self.bad(), "ERROR "),
            EventKind::Election => (self.accent(), "ELECT "),
            EventKind::TwoPc => (self.info(), "2PC   "),
            EventKind::Info => (self.dim(), "INFO  "),
        }
    }
}
