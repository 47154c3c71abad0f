//! The scenario parser and validator: what is accepted, and how mistakes
//! are reported (file, line, step, field, on one line).

use super::parse::{parse, DEFAULT_HEARTBEAT_MS};
use crate::controller::command::{Command, Concern, Write};
use crate::controller::condition::{Condition, Expectation};
use replog_node::api::{FailAt, Health};
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
fn a_full_step_parses_into_commands_and_conditions() {
    let text = one_step(
        "\"stop s2\",\n\
         \"send 3 nowait Msg3\",\n\
         \"fail s1 2 after\",\n\
         \"wait s2 is unhealthy within=5000\",\n\
         \"sleep 250\"",
        "\"Msg3 pending for=1000\",\n\
         \"s1 shows [Msg3]\",\n\
         \"writable\"",
    );
    let s = parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.timing.heartbeat_ms, DEFAULT_HEARTBEAT_MS);
    assert_eq!(s.timing.retry_cap_ms, 2000);
    assert_eq!(s.secondaries, 2);
    let step = &s.steps[0];
    assert_eq!(
        step.actions,
        vec![
            Command::Kill("s2".into()),
            Command::Send(Write {
                concern: Concern::W(3),
                text: "Msg3".into(),
                label: None,
                awaited: Some(false),
                within: None,
            }),
            Command::Fail {
                node: "s1".into(),
                n: 2,
                at: FailAt::AfterStore,
            },
            Command::Wait(Expectation {
                condition: Condition::Health {
                    node: "s2".into(),
                    is: Health::Unhealthy,
                },
                within: Some(Duration::from_millis(5000)),
            }),
            Command::Sleep(Duration::from_millis(250)),
        ]
    );
    assert_eq!(
        step.expect,
        vec![
            Expectation {
                condition: Condition::Pending {
                    label: "Msg3".into(),
                    for_: Duration::from_millis(1000),
                },
                within: None,
            },
            Expectation {
                condition: Condition::Messages {
                    node: "s1".into(),
                    equal: vec!["Msg3".into()],
                },
                within: None,
            },
            Expectation {
                condition: Condition::ReadOnly(false),
                within: None,
            },
        ]
    );
}

#[test]
fn an_unknown_command_is_named_with_its_line() {
    let e = error_of(&one_step("\"stop s2\",\n\"explode s1\"", ""));
    assert!(
        e.starts_with("t.toml:8: step 1: field `actions`: unknown command \"explode\""),
        "{e}"
    );
    let e = error_of(&one_step("", "\"s1 explodes\""));
    assert!(
        e.starts_with("t.toml:10: step 1: field `expect`: unknown condition"),
        "{e}"
    );
}

#[test]
fn missing_fields_and_wrong_types_are_named() {
    let e = error_of("name = \"t\"\ndescription = \"d\"\n[[step]]\nnarration = \"n\"\n");
    assert!(
        e.starts_with("t.toml:3: step 1: field `title`: missing"),
        "{e}"
    );
    let e = error_of(&one_step("{ send = \"m\" }", ""));
    assert!(
        e.starts_with("t.toml:7: step 1: field `actions`: invalid type"),
        "{e}"
    );
}

#[test]
fn bad_values_are_named_with_their_line() {
    let e = error_of(&one_step("\"fail s1 1 sometimes\"", ""));
    assert!(
        e.starts_with(
            "t.toml:7: step 1: field `actions`: fail takes before or after, got \"sometimes\""
        ),
        "{e}"
    );
    let e = error_of(&one_step("\"send two m\"", ""));
    assert!(e.contains("w must be a whole number, got \"two\""), "{e}");
    let e = error_of(&one_step("\"send 4 m\"", ""));
    assert!(e.contains("w=4 but this cluster has 3 nodes"), "{e}");
    let e = error_of(&one_step("", "\"s1 is sleepy\""));
    assert!(
        e.starts_with(
            "t.toml:10: step 1: field `expect`: is takes healthy, suspected, unhealthy, primary, secondary or candidate"
        ),
        "{e}"
    );
}

#[test]
fn unknown_nodes_are_refused_and_the_cluster_size_counts() {
    let e = error_of(&one_step("\"kill s9\"", ""));
    assert!(
        e.contains("field `actions`: unknown node \"s9\" (this cluster has: p, s1, s2)"),
        "{e}"
    );
    let e = error_of(&one_step("", "\"p is healthy\""));
    assert!(e.contains("unknown secondary \"p\""), "{e}");
    let three =
        one_step("\"kill s3\"", "").replace("[[step]]", "[cluster]\nsecondaries = 3\n[[step]]");
    assert!(parse("t.toml", &three).is_ok());
}

#[test]
fn every_timer_is_a_cluster_key_checked_with_its_line() {
    let with = |cluster: &str| {
        one_step("", "").replace("[[step]]", &format!("[cluster]\n{cluster}\n[[step]]"))
    };
    let s = parse(
        "t.toml",
        &with(
            "heartbeat_ms = 200\nunhealthy_after = 4\nreplication_timeout_ms = 800\n\
             retry_base_ms = 100\nretry_cap_ms = 3000\nprepare_timeout_ms = 5000",
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.timing,
        replog_node::api::Timing {
            heartbeat_ms: 200,
            unhealthy_after: 4,
            replication_timeout_ms: 800,
            retry_base_ms: 100,
            retry_cap_ms: 3000,
            election_timeout_min_ms: None,
            election_timeout_max_ms: None,
            prepare_timeout_ms: 5000,
        }
    );
    let e = error_of(&with("prepare_timeout_ms = 10"));
    assert_eq!(
        e,
        "t.toml:4: field `prepare_timeout_ms`: bad value 10 (expected 50 to 600000)"
    );
    let e = error_of(&with("replication_timeout_ms = 0"));
    assert_eq!(
        e,
        "t.toml:4: field `replication_timeout_ms`: bad value 0 (expected 50 to 60000)"
    );
    let e = error_of(&with("retry_cap_ms = 100\nretry_base_ms = 500"));
    assert_eq!(
        e,
        "t.toml:5: field `retry_base_ms`: 500 is above retry_cap_ms 100 (the base must be at most the cap)"
    );
    let e = error_of(&with("retry_cap_ms = 10"));
    assert!(
        e.starts_with("t.toml:4: field `retry_base_ms`: 50 is above retry_cap_ms 10"),
        "{e}"
    );
    let e = error_of(&with("retry_jitter = 1"));
    assert!(e.contains("field `retry_jitter`: unknown key"), "{e}");
}

#[test]
fn a_scenario_can_slow_the_cluster_down() {
    let s =
        parse("t.toml", &one_step("\"slow 20\", \"slow 1\"", "")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.steps[0].actions,
        [Command::Slow(Some(20)), Command::Slow(Some(1))]
    );
    let e = error_of(&one_step("\"slow 0\"", ""));
    assert!(e.contains("field `actions`: the factor must be"), "{e}");
    assert!(e.contains("1") && e.contains("100"), "{e}");
}

#[test]
fn keyboard_commands_do_not_belong_in_a_scenario() {
    let e = error_of(&one_step("\"quit\"", ""));
    assert!(e.contains("`quit` is for people at a keyboard"), "{e}");
}

#[test]
fn labels_must_be_sent_before_they_are_checked() {
    let e = error_of(&one_step("", "\"Msg1 completed 201\""));
    assert!(
        e.contains("field `expect`: no earlier send is labelled \"Msg1\""),
        "{e}"
    );
    let labelled = one_step("\"send 1 label=m long text\"", "\"m completed 201\"");
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

#[test]
fn every_shipped_action_and_expectation_is_a_line_of_the_language() {
    let scenarios = super::builtin::all().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenarios.len(), super::builtin::FILES.len());
    for s in &scenarios {
        for step in &s.steps {
            for action in &step.actions {
                assert_eq!(action.to_string().parse::<Command>().as_ref(), Ok(action));
            }
            for e in &step.expect {
                assert_eq!(e.to_string().parse::<Expectation>().as_ref(), Ok(e));
            }
        }
    }
}
