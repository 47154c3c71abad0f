//! The scenario parser and validator: what is accepted, and how mistakes
//! are reported (file, line, step, field, on one line).

use super::parse::{parse, DEFAULT_HEARTBEAT_MS, DEFAULT_WITHIN};
use super::scenario::{Action, Check, Condition};
use replog_tui::keys::Command;
use replog_tui::model::Health;
use std::time::Duration;

/// A one-step scenario around `actions` and `expect` (from line 6 on).
fn one_step(actions: &str, expect: &str) -> String {
    format!(
        "name = \"t\"\ndescription = \"a test\"\n[[step]]\ntitle = \"s\"\nnarration = \"n\"\n\
         actions = [\n{actions}\n]\nexpect = [\n{expect}\n]\n"
    )
}

fn error_of(text: &str) -> String {
    match parse("t.toml", text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => {
            assert!(!e.contains('\n'), "errors are one line: {e}");
            e
        }
    }
}

#[test]
fn a_full_step_parses_with_defaults() {
    let text = one_step(
        "{ stop = \"s2\" },\n\
         { send = \"Msg3\", w = 3, await = false },\n\
         { fail = \"s1\", times = 2, at = \"after_store\" },\n\
         { wait_until = { health = \"s2\", is = \"unhealthy\", within_ms = 5000 } },\n\
         { sleep_ms = 250 }",
        "{ pending = \"Msg3\", for_ms = 1000 },\n\
         { messages = \"s1\", equal = [\"Msg3\"] },\n\
         { read_only = false }",
    );
    let s = parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.heartbeat_ms, DEFAULT_HEARTBEAT_MS);
    assert_eq!(s.secondaries, 2);
    let step = &s.steps[0];
    assert_eq!(
        step.actions,
        vec![
            Action::Run(Command::Kill("s2".into())),
            Action::Send {
                text: "Msg3".into(),
                w: 3,
                label: "Msg3".into(),
                awaited: false,
                within: DEFAULT_WITHIN,
            },
            Action::Run(Command::FailNext {
                node: "s1".into(),
                n: 2,
                after_store: true
            }),
            Action::WaitUntil(Condition {
                kind: Check::Health {
                    node: "s2".into(),
                    is: Health::Unhealthy
                },
                within: Duration::from_millis(5000),
            }),
            Action::Sleep(Duration::from_millis(250)),
        ]
    );
    assert_eq!(
        step.expect[0].kind,
        Check::Pending {
            label: "Msg3".into(),
            for_: Duration::from_secs(1)
        }
    );
    assert_eq!(step.expect[2].kind, Check::ReadOnly(false));
}

#[test]
fn an_unknown_action_is_named_with_its_line() {
    let e = error_of(&one_step("{ stop = \"s2\" },\n{ explode = \"s1\" }", ""));
    assert!(e.starts_with("t.toml:8: step 1: field `explode`:"), "{e}");
    assert!(e.contains("unknown action"), "{e}");
}

#[test]
fn a_missing_field_is_named() {
    let e = error_of(&one_step("{ send = \"Msg1\" }", ""));
    assert!(e.starts_with("t.toml:7: step 1: field `w`: missing"), "{e}");
    let e = error_of("name = \"t\"\ndescription = \"d\"\n[[step]]\nnarration = \"n\"\n");
    assert!(
        e.starts_with("t.toml:3: step 1: field `title`: missing"),
        "{e}"
    );
}

#[test]
fn bad_values_are_named_with_their_line() {
    let e = error_of(&one_step(
        "{ fail = \"s1\", times = 1, at = \"sometimes\" }",
        "",
    ));
    assert!(
        e.starts_with("t.toml:7: step 1: field `at`: bad value \"sometimes\""),
        "{e}"
    );
    let e = error_of(&one_step("{ send = \"m\", w = \"two\" }", ""));
    assert!(
        e.starts_with("t.toml:7: step 1: field `w`: invalid type"),
        "{e}"
    );
    let e = error_of(&one_step("{ send = \"m\", w = 4 }", ""));
    assert!(
        e.contains("field `w`: bad value 4 (expected 1 to 3)"),
        "{e}"
    );
    let e = error_of(&one_step("", "{ health = \"s1\", is = \"sleepy\" }"));
    assert!(
        e.starts_with("t.toml:10: step 1: field `is`: bad value"),
        "{e}"
    );
}

#[test]
fn unknown_nodes_are_refused_and_the_cluster_size_counts() {
    let e = error_of(&one_step("{ kill = \"s9\" }", ""));
    assert!(
        e.contains("field `kill`: unknown node \"s9\" (this cluster has: p, s1, s2)"),
        "{e}"
    );
    let e = error_of(&one_step("", "{ health = \"p\", is = \"healthy\" }"));
    assert!(e.contains("unknown secondary \"p\""), "{e}");
    let three = one_step("{ kill = \"s3\" }", "")
        .replace("[[step]]", "[cluster]\nsecondaries = 3\n[[step]]");
    assert!(parse("t.toml", &three).is_ok());
}

#[test]
fn tables_take_one_verb_and_only_its_modifiers() {
    let e = error_of(&one_step("{ kill = \"s1\", pause = \"s2\" }", ""));
    assert!(e.contains("one action per"), "{e}");
    let e = error_of(&one_step("{ kill = \"s1\", ms = 5 }", ""));
    assert!(e.contains("field `ms`: does not go with `kill`"), "{e}");
    let e = error_of(&one_step("{ w = 2 }", ""));
    assert!(e.contains("no action in this table"), "{e}");
    let e = error_of(&one_step("", "{ equal = [\"a\"] }"));
    assert!(e.contains("no check in this table"), "{e}");
}

#[test]
fn labels_must_be_sent_before_they_are_checked() {
    let e = error_of(&one_step("", "{ completed = \"Msg1\", status = 201 }"));
    assert!(
        e.contains("field `completed`: no earlier send is labelled \"Msg1\""),
        "{e}"
    );
    let labelled = one_step(
        "{ send = \"long text\", w = 1, label = \"m\" }",
        "{ completed = \"m\", status = 201 }",
    );
    assert!(parse("t.toml", &labelled).is_ok());
}

#[test]
fn top_level_mistakes_are_caught() {
    let e = error_of("name = \"t\"\ndescription = \"d\"\nsteps = []\n");
    assert!(e.starts_with("t.toml:3: field `steps`: unknown key"), "{e}");
    let e = error_of("name = \"t\"\n");
    assert!(e.contains("field `description`: missing"), "{e}");
    let e = error_of("name = \"t\"\ndescription = \"two\nlines\"\n");
    assert!(e.starts_with("t.toml:2:"), "{e}");
    let e = error_of(
        "name = \"two words\"\ndescription = \"d\"\n[[step]]\ntitle = \"t\"\nnarration = \"n\"\n",
    );
    assert!(e.contains("field `name`: must be one word"), "{e}");
}
