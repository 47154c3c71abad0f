//! The command language: every command reads back from its own text, every
//! key of the dashboard produces a line of it, and mistakes read as
//! sentences.

use super::command::{Command, Concern, Write};
use super::condition::{Condition, Decided, Expectation, RoleWord, WriteRef};
use super::outcome::DemoKey;
use proptest::prelude::*;
use replog_node::api::faults::CrashAfter;
use replog_node::api::{FailAt, Health, Vote};
use replog_tui::bindings::{Run, ViewAction, BINDINGS};
use replog_tui::model::{DashboardState, NodeView, ProcState};
use std::time::Duration;

fn node() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,3}",
        // Names that need quoting read back too.
        "[a-z]{1,3} [a-z]{1,3}",
    ]
}

/// Free text: no leading or trailing whitespace, no line breaks.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9=\\-\\[\\]\",.!?' ]{1,40}"
        .prop_map(|s| s.trim().to_string())
        .prop_filter("not empty", |s| !s.is_empty())
}

fn item() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,\\]\\[\"]{0,8}"
}

fn ms() -> impl Strategy<Value = Duration> {
    (0u64..=600_000).prop_map(Duration::from_millis)
}

fn condition() -> impl Strategy<Value = Condition> {
    let health = prop_oneof![
        Just(Health::Healthy),
        Just(Health::Suspected),
        Just(Health::Unhealthy)
    ];
    prop_oneof![
        (node(), prop::collection::vec(item(), 0..4))
            .prop_map(|(node, equal)| Condition::Messages { node, equal }),
        (node(), prop::collection::vec(item(), 0..4))
            .prop_map(|(node, equal)| Condition::Held { node, equal }),
        (node(), 0u64..1000).prop_map(|(node, at_least)| Condition::Duplicates { node, at_least }),
        (node(), health).prop_map(|(node, is)| Condition::Health { node, is }),
        any::<bool>().prop_map(Condition::ReadOnly),
        (
            text(),
            prop::option::of(100u16..600),
            prop::option::of(ms())
        )
            .prop_map(|(label, status, took_at_least)| Condition::Completed {
                label,
                status,
                took_at_least
            }),
        (text(), ms()).prop_map(|(label, for_)| Condition::Pending { label, for_ }),
        Just(Condition::WritesSettled),
        (
            node(),
            prop_oneof![
                Just(RoleWord::Primary),
                Just(RoleWord::Secondary),
                Just(RoleWord::Candidate)
            ]
        )
            .prop_map(|(node, role)| Condition::Role { node, role }),
        prop::option::of(node()).prop_map(|except| Condition::Leader { except }),
        (node(), 0u64..1000).prop_map(|(node, count)| Condition::RolledBack { node, count }),
        (node(), prop::collection::vec(item(), 0..4))
            .prop_map(|(node, equal)| Condition::RolledBackMessages { node, equal }),
        (node(), prop::option::of(0u64..1_000_000))
            .prop_map(|(node, seq)| Condition::InDoubt { node, seq }),
        node().prop_map(|node| Condition::NotInDoubt { node }),
        node().prop_map(|node| Condition::Exited { node }),
        (
            prop_oneof![
                (0u64..1_000_000).prop_map(WriteRef::Seq),
                text().prop_map(WriteRef::Label),
                // A label that reads like a seq stays a label.
                (0u64..100).prop_map(|n| WriteRef::Label(format!("#{n}"))),
            ],
            prop_oneof![Just(Decided::Committed), Just(Decided::Aborted)]
        )
            .prop_map(|(write, outcome)| Condition::Everywhere { write, outcome }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let at = prop_oneof![Just(FailAt::BeforeStore), Just(FailAt::AfterStore)];
    prop_oneof![
        (
            prop_oneof![(1u64..=64).prop_map(Concern::W), Just(Concern::Atomic)],
            text(),
            prop::option::of(text()),
            prop::option::of(any::<bool>()),
            prop::option::of(ms())
        )
            .prop_map(
                |(concern, text, label, awaited, within)| Command::Send(Write {
                    concern,
                    text,
                    label,
                    awaited,
                    within
                })
            ),
        node().prop_map(Command::Pause),
        node().prop_map(Command::Resume),
        node().prop_map(Command::Kill),
        node().prop_map(Command::Restart),
        node().prop_map(Command::Wipe),
        node().prop_map(Command::Clear),
        (node(), any::<bool>()).prop_map(|(node, on)| Command::Partition { node, on }),
        (node(), any::<bool>()).prop_map(|(node, on)| Command::Block { node, on }),
        (node(), 0u64..=600_000).prop_map(|(node, ms)| Command::Delay { node, ms }),
        (node(), 1u64..=1000, at).prop_map(|(node, n, at)| Command::Fail { node, n, at }),
        (node(), 0u64..=1_000_000).prop_map(|(node, seq)| Command::Lose { node, seq }),
        (node(), any::<bool>()).prop_map(|(node, on)| Command::Hold { node, on }),
        (node(), prop_oneof![Just(Vote::Yes), Just(Vote::No)])
            .prop_map(|(node, vote)| Command::Vote { node, vote }),
        (
            node(),
            prop_oneof![Just(CrashAfter::Prepare), Just(CrashAfter::Decision)]
        )
            .prop_map(|(node, after)| Command::Crash { node, after }),
        Just(Command::Release(super::command::Parked::Oldest)),
        Just(Command::Release(super::command::Parked::All)),
        (1u64..=1_000_000).prop_map(|id| Command::Release(super::command::Parked::Id(id))),
        (condition(), prop::option::of(ms()))
            .prop_map(|(condition, within)| Command::Wait(Expectation { condition, within })),
        ms().prop_map(Command::Sleep),
        Just(Command::Status),
        prop::option::of(1u32..=100).prop_map(Command::Slow),
        (1u64..=1_000_000).prop_map(Command::Journey),
        prop::option::of("[a-z][a-z0-9_-]{0,12}").prop_map(Command::Export),
        Just(Command::Help),
        Just(Command::Quit),
        Just(Command::Demo(DemoKey::Next)),
        Just(Command::Demo(DemoKey::Prev)),
        Just(Command::Demo(DemoKey::Autoplay)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_command_reads_back_from_its_text(command in command()) {
        let text = command.to_string();
        let parsed: Result<Command, _> = text.parse();
        prop_assert_eq!(parsed, Ok(command), "text: {}", text);
    }

    #[test]
    fn every_line_parses_or_says_why_in_one_sentence(line in "[ -~]{0,40}") {
        if let Err(e) = line.parse::<Command>() {
            let message = e.to_string();
            prop_assert!(!message.contains('\n') && !message.is_empty());
            prop_assert!(!message.contains("Some(") && !message.contains("Word("), "{}", message);
        }
    }
}

fn dashboard() -> DashboardState {
    DashboardState {
        nodes: ["p", "s1", "s2"]
            .iter()
            .map(|id| NodeView {
                id: id.to_string(),
                process: ProcState::Running,
                ..NodeView::default()
            })
            .collect(),
        selected: 1,
        can_partition: true,
        ..DashboardState::default()
    }
}

#[test]
fn every_key_binding_is_a_line_of_the_language() {
    let node = NodeView {
        id: "s1".into(),
        ..NodeView::default()
    };
    for binding in BINDINGS {
        let lines = match binding.run {
            Run::Line(line) => vec![line],
            Run::Toggle { off, on, is_on } => {
                let _ = is_on(&node);
                vec![off, on]
            }
            Run::View(_) => vec![],
        };
        for line in lines {
            let line = line.replace("{node}", &node.id).replace("{last}", "3");
            let parsed = line.parse::<Command>();
            assert!(
                parsed.is_ok(),
                "key {} gives {line:?}: {parsed:?}",
                binding.keys
            );
        }
    }
}

#[test]
fn the_popups_produce_lines_of_the_language() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let views: Vec<ViewAction> = BINDINGS
        .iter()
        .filter_map(|b| match b.run {
            Run::View(v) => Some(v),
            _ => None,
        })
        .collect();
    assert!(views.contains(&ViewAction::Compose));
    // Compose: a text that looks like an option is still the text.
    let mut state = dashboard();
    replog_tui::handle_key(&mut state, key(KeyCode::Char('s')));
    for c in "nowait label=x".chars() {
        replog_tui::handle_key(&mut state, key(KeyCode::Char(c)));
    }
    let line = replog_tui::handle_key(&mut state, key(KeyCode::Enter)).unwrap_or_default();
    match line.parse::<Command>() {
        Ok(Command::Send(send)) => assert_eq!(send.text, "nowait label=x"),
        other => panic!("{line:?} gave {other:?}"),
    }
    // Delay and fail popups.
    for (open, typed, want) in [
        (
            'd',
            "250",
            Command::Delay {
                node: "s1".into(),
                ms: 250,
            },
        ),
        (
            'f',
            "3",
            Command::Fail {
                node: "s1".into(),
                n: 3,
                at: FailAt::BeforeStore,
            },
        ),
    ] {
        let mut state = dashboard();
        replog_tui::handle_key(&mut state, key(KeyCode::Char(open)));
        for c in typed.chars() {
            replog_tui::handle_key(&mut state, key(KeyCode::Char(c)));
        }
        let line = replog_tui::handle_key(&mut state, key(KeyCode::Enter)).unwrap_or_default();
        assert_eq!(line.parse::<Command>(), Ok(want), "{line:?}");
    }
}

#[test]
fn mistakes_read_as_sentences() {
    for (line, want) in [
        ("explode", "unknown command \"explode\"; try help"),
        ("send two words", "w must be a whole number, got \"two\""),
        (
            "fail s1 3 sometimes",
            "fail takes before or after, got \"sometimes\"",
        ),
        ("pause", "missing a node id (found the end of the line)"),
        ("pause s1 s2", "unexpected \"s2\" after pause"),
        ("wait s1 sleepy", "unknown condition \"s1 sleepy\""),
        ("send 2", "send needs a text: send <w> <text>"),
        ("wait s1 shows [a, b", "a [ is not closed"),
        ("vote s2 maybe", "vote takes yes or no, got \"maybe\""),
        (
            "crash p after lunch",
            "crash takes after prepare or after decision, got \"lunch\"",
        ),
        ("crash p", "missing \"after\" (found the end of the line)"),
        ("wait s1 in trouble", "in takes doubt, got \"trouble\""),
        (
            "wait #7 committed somewhere",
            "committed takes everywhere, got \"somewhere\"",
        ),
        (
            "send atomically x",
            "w must be a whole number, got \"atomically\"",
        ),
    ] {
        let got = line.parse::<Command>().map_err(|e| e.to_string());
        match got {
            Err(e) => assert!(
                e.starts_with(want),
                "{line:?}: {e:?} does not start with {want:?}"
            ),
            Ok(c) => panic!("{line:?} parsed as {c:?}"),
        }
    }
}

#[test]
fn the_headless_shorthands_still_work() {
    assert_eq!(
        "wait s2 unhealthy 500".parse::<Command>(),
        Ok(Command::Wait(Expectation {
            condition: Condition::Health {
                node: "s2".into(),
                is: Health::Unhealthy
            },
            within: Some(Duration::from_millis(500)),
        }))
    );
    assert_eq!(
        "wait writes".parse::<Command>(),
        Ok(Command::Wait(Expectation {
            condition: Condition::WritesSettled,
            within: None,
        }))
    );
    assert_eq!(
        "send 2 hello   world"
            .parse::<Command>()
            .map(|c| c.to_string()),
        Ok("send 2 hello   world".to_string())
    );
}

#[test]
fn failover_conditions_read_as_written() {
    let wait = |line: &str| match line.parse::<Command>() {
        Ok(Command::Wait(e)) => Some(e.condition),
        _ => None,
    };
    assert_eq!(
        wait("wait n2 is primary"),
        Some(Condition::Role {
            node: "n2".into(),
            role: RoleWord::Primary
        })
    );
    assert_eq!(
        wait("wait primary is not n1"),
        Some(Condition::Leader {
            except: Some("n1".into())
        })
    );
    assert_eq!(
        wait("wait primary elected"),
        Some(Condition::Leader { except: None })
    );
    assert_eq!(
        wait("wait n1 rolled back 3"),
        Some(Condition::RolledBack {
            node: "n1".into(),
            count: 3
        })
    );
    // A node named like a role word is still a node before `is`.
    assert_eq!(
        wait("wait primary is healthy"),
        Some(Condition::Health {
            node: "primary".into(),
            is: Health::Healthy
        })
    );
    let e = "wait n1 rolled over 3"
        .parse::<Command>()
        .map_err(|e| e.to_string());
    assert!(
        e.as_ref().is_err_and(|e| e.contains("rolled takes back N")),
        "{e:?}"
    );
}

#[test]
fn two_phase_commit_reads_as_written() {
    let wait = |line: &str| match line.parse::<Command>() {
        Ok(Command::Wait(e)) => Some(e),
        other => panic!("{line:?} gave {other:?}"),
    };
    assert_eq!(
        "send atomic nowait Tx1".parse::<Command>(),
        Ok(Command::Send(Write {
            concern: Concern::Atomic,
            text: "Tx1".into(),
            label: None,
            awaited: Some(false),
            within: None,
        }))
    );
    assert_eq!(
        "vote s2 no".parse::<Command>(),
        Ok(Command::Vote {
            node: "s2".into(),
            vote: Vote::No
        })
    );
    assert_eq!(
        "crash p after prepare".parse::<Command>(),
        Ok(Command::Crash {
            node: "p".into(),
            after: CrashAfter::Prepare
        })
    );
    // `#7`: the seq; a bare number after a condition stays its `within`.
    let e = wait("wait s1 in doubt #7 500");
    assert_eq!(
        e.map(|e| (e.condition, e.within)),
        Some((
            Condition::InDoubt {
                node: "s1".into(),
                seq: Some(7)
            },
            Some(Duration::from_millis(500))
        ))
    );
    assert_eq!(
        wait("wait #3 aborted everywhere").map(|e| e.condition),
        Some(Condition::Everywhere {
            write: WriteRef::Seq(3),
            outcome: Decided::Aborted
        })
    );
    assert_eq!(
        wait("wait \"#3\" committed everywhere").map(|e| e.condition),
        Some(Condition::Everywhere {
            write: WriteRef::Label("#3".into()),
            outcome: Decided::Committed
        })
    );
    assert_eq!(
        wait("wait p exited").map(|e| e.condition.describe()),
        Some("p's process exited".to_string())
    );
    assert_eq!(
        Command::Send(Write {
            concern: Concern::Atomic,
            text: "T".into(),
            label: None,
            awaited: None,
            within: None,
        })
        .describe(),
        "send \"T\" atomically (all nodes or none)"
    );
}
