use super::*;
use proptest::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

fn member(me: &str, n: usize, standing: Standing, t0: Instant) -> Election {
    Election::new(
        me,
        &names(n),
        standing,
        Timeouts::default(),
        (0, None),
        t0,
        7,
    )
}

fn pos(term: u64, seq: u64) -> LogPos {
    LogPos { term, seq }
}

fn ask(from: &str, term: u64, last: LogPos, ours: LogPos) -> Event {
    Event::VoteRequested {
        from: from.into(),
        term,
        last,
        ours,
    }
}

fn granted(actions: &[Action]) -> Option<bool> {
    actions.iter().find_map(|a| match a {
        Action::Vote { granted, .. } => Some(*granted),
        _ => None,
    })
}

#[test]
fn a_follower_stands_after_its_randomized_timeout_and_persists_first() {
    let t0 = Instant::now();
    let mut m = member("m1", 3, Standing::Elects, t0);
    assert!(
        m.step(Event::Tick, t0 + ms(999)).is_empty(),
        "not before min"
    );
    let actions = m.step(Event::Tick, t0 + ms(2001));
    assert_eq!(
        actions.first(),
        Some(&Action::Persist {
            term: 1,
            voted_for: Some("m1".into())
        }),
        "term and vote are durable before the vote requests go out"
    );
    assert!(actions.contains(&Action::RequestVotes { term: 1 }));
    assert_eq!(m.role(), Role::Candidate);
}

#[test]
fn a_lone_member_leads_at_once() {
    let t0 = Instant::now();
    let mut m = member("m1", 1, Standing::Elects, t0);
    let actions = m.step(Event::Tick, t0 + ms(2001));
    assert!(actions.contains(&Action::Became {
        role: Role::Leader,
        term: 1
    }));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::RequestVotes { .. })));
}

#[test]
fn one_vote_per_term_only_for_a_log_at_least_as_up_to_date() {
    let t0 = Instant::now();
    let mut m = member("m1", 3, Standing::Elects, t0);
    let ours = pos(2, 10);
    // Table: (candidate, term, its last entry) → granted?
    let cases = [
        ("m2", 3, pos(2, 9), false, "shorter log of the same term"),
        ("m2", 3, pos(1, 50), false, "older last term, however long"),
        ("m2", 3, pos(2, 10), true, "as up to date"),
        ("m2", 3, pos(2, 10), true, "asked again: the same vote"),
        ("m3", 3, pos(3, 1), false, "already voted in term 3"),
        ("m3", 2, pos(3, 1), false, "stale term"),
        ("m3", 4, pos(3, 1), true, "a later term: a new vote"),
    ];
    for (from, term, last, want, why) in cases {
        let actions = m.step(ask(from, term, last, ours), t0);
        assert_eq!(granted(&actions), Some(want), "{why}: {actions:?}");
    }
    assert_eq!((m.term(), m.voted_for()), (4, Some("m3")));
}

#[test]
fn a_refusal_says_why() {
    let t0 = Instant::now();
    let mut m = member("m1", 3, Standing::Elects, t0);
    m.step(ask("m2", 1, pos(0, 0), pos(0, 0)), t0);
    let actions = m.step(ask("m3", 1, pos(0, 0), pos(0, 0)), t0);
    let refusal = actions.iter().find_map(|a| match a {
        Action::Vote { refusal, .. } => refusal.clone(),
        _ => None,
    });
    assert_eq!(
        refusal.map(|r| r.to_string()),
        Some("already voted for m2 in this term".into())
    );
}

#[test]
fn a_majority_elects_and_the_loser_follows() {
    let t0 = Instant::now();
    let mut a = member("m1", 3, Standing::Elects, t0);
    let mut b = member("m2", 3, Standing::Elects, t0);
    a.step(Event::Tick, t0 + ms(2001));
    let vote = b.step(ask("m1", 1, pos(0, 0), pos(0, 0)), t0 + ms(2001));
    assert_eq!(granted(&vote), Some(true));
    let actions = a.step(
        Event::VoteAnswered {
            from: "m2".into(),
            term: 1,
            granted: true,
        },
        t0 + ms(2002),
    );
    assert!(actions.contains(&Action::Became {
        role: Role::Leader,
        term: 1
    }));
    // m3 stood in term 1 too and hears the primary of term 1.
    let mut c = member("m3", 3, Standing::Elects, t0);
    c.step(Event::Tick, t0 + ms(2001));
    assert_eq!(c.role(), Role::Candidate);
    c.step(
        Event::FromLeader {
            from: "m1".into(),
            term: 1,
        },
        t0 + ms(2003),
    );
    assert_eq!((c.role(), c.leader()), (Role::Follower, Some("m1")));
}

#[test]
fn a_later_term_anywhere_makes_a_primary_step_down() {
    let t0 = Instant::now();
    let mut m = member("m1", 1, Standing::Elects, t0);
    m.step(Event::Tick, t0 + ms(2001));
    assert_eq!(m.role(), Role::Leader);
    let actions = m.step(
        Event::Answered {
            from: "m2".into(),
            term: 5,
        },
        t0 + ms(2002),
    );
    assert!(actions.contains(&Action::SteppedDown { term: 5 }));
    assert_eq!(
        actions.first(),
        Some(&Action::Persist {
            term: 5,
            voted_for: None
        })
    );
    assert_eq!(m.role(), Role::Follower);
}

#[test]
fn a_primary_that_hears_no_majority_for_a_timeout_steps_down() {
    let t0 = Instant::now();
    let mut m = member("m1", 3, Standing::Elects, t0);
    m.step(Event::Tick, t0 + ms(2001));
    m.step(
        Event::VoteAnswered {
            from: "m2".into(),
            term: 1,
            granted: true,
        },
        t0 + ms(2001),
    );
    assert_eq!(m.role(), Role::Leader);
    let led = t0 + ms(2001);
    m.step(
        Event::Answered {
            from: "m2".into(),
            term: 1,
        },
        led + ms(1500),
    );
    assert!(
        m.step(Event::Tick, led + ms(3000)).is_empty(),
        "m2 answered 1.5 s ago: a majority"
    );
    let actions = m.step(Event::Tick, led + ms(3600));
    assert!(
        actions.contains(&Action::SteppedDown { term: 1 }),
        "{actions:?}"
    );
    assert_eq!(m.leader(), None);
}

#[test]
fn fixed_roles_run_the_same_machine_without_elections() {
    let t0 = Instant::now();
    let mut p = member("p", 3, Standing::FixedPrimary, t0);
    assert_eq!(
        (p.role(), p.term(), p.leader()),
        (Role::Leader, 1, Some("p"))
    );
    assert!(
        p.step(Event::Tick, t0 + ms(60_000)).is_empty(),
        "never steps down"
    );
    let vote = p.step(ask("s1", 9, pos(9, 9), pos(1, 1)), t0);
    assert_eq!(granted(&vote), Some(false));
    assert_eq!(p.term(), 1, "the fixed term does not move");
    let mut s = member("s1", 3, Standing::FixedSecondary, t0);
    assert!(
        s.step(Event::Tick, t0 + ms(60_000)).is_empty(),
        "never stands"
    );
    s.step(
        Event::FromLeader {
            from: "p".into(),
            term: 1,
        },
        t0,
    );
    assert_eq!(s.leader(), Some("p"));
    // A restarted fixed primary leads the term after its persisted one, so
    // its secondaries match their logs against it again.
    let restarted = Election::new(
        "p",
        &names(3),
        Standing::FixedPrimary,
        Timeouts::default(),
        (4, Some("p".into())),
        t0,
        7,
    );
    assert_eq!((restarted.role(), restarted.term()), (Role::Leader, 5));
    assert_eq!(restarted.voted_for(), Some("p"));
    // A new primary log starts the terms over on a fixed secondary only.
    s.start_over();
    assert_eq!((s.term(), s.leader()), (0, None));
    p.start_over();
    assert_eq!(p.term(), 1, "a fixed primary never starts over");
}

/// Figure 8 of the Raft paper: an entry of term 2 held by a majority is not
/// committed by a primary of term 4 until an entry of term 4 is.
#[test]
fn an_old_term_entry_commits_only_with_one_of_the_current_term() {
    // Log terms by seq: 1:1, 2:2, 3:4 (written by the primary of term 4).
    let term_at = |seq: u64| match seq {
        1 => Some(1),
        2 => Some(2),
        3 => Some(4),
        _ => None,
    };
    // Positions of five members: seq 2 on three of them.
    assert_eq!(commit_seq(4, &[3, 2, 2, 1, 1], term_at, 1), 1, "not yet");
    assert_eq!(commit_seq(4, &[3, 3, 3, 1, 1], term_at, 1), 3, "now both");
    assert_eq!(commit_seq(4, &[3, 1, 1, 1, 1], term_at, 3), 3, "never back");
    assert_eq!(commit_seq(1, &[1, 1, 0], |_| Some(1), 0), 1);
}

/// A message in flight in the simulation.
#[derive(Clone, Debug)]
struct Msg {
    to: usize,
    event: Event,
}

fn index(name: &str) -> usize {
    name.trim_start_matches('m').parse::<usize>().unwrap_or(1) - 1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Members with random logs, random clock advances, and a network that
    /// drops, duplicates and reorders: never two primaries in one term, and
    /// never two votes by one member in one term.
    #[test]
    fn at_most_one_primary_per_term(
        n in 1usize..6,
        logs in proptest::collection::vec((0u64..3, 0u64..4), 6),
        schedule in proptest::collection::vec((0usize..6, 0u64..900, 0usize..16), 1..300),
        seed in any::<u64>(),
    ) {
        let t0 = Instant::now();
        let all = names(n);
        let mut members: Vec<Election> = all
            .iter()
            .enumerate()
            .map(|(i, me)| Election::new(me, &all, Standing::Elects, Timeouts::default(), (0, None), t0, seed ^ i as u64))
            .collect();
        let log_of = |i: usize| pos(logs[i].0, logs[i].1);
        let mut now = t0;
        let mut net: Vec<Msg> = Vec::new();
        let mut leaders: BTreeMap<u64, usize> = BTreeMap::new();
        let mut votes: BTreeMap<(usize, u64), String> = BTreeMap::new();
        for (who, advance, pick) in schedule {
            now += ms(advance);
            let i = who % n;
            // Either deliver (or drop, or duplicate) a message, or tick.
            let (target, event) = if !net.is_empty() && pick < 12 {
                let k = pick % net.len();
                let msg = if pick % 4 == 0 { net[k].clone() } else { net.remove(k) };
                if pick % 5 == 0 {
                    continue; // dropped
                }
                (msg.to, msg.event)
            } else {
                (i, Event::Tick)
            };
            let me = all[target].clone();
            let actions = members[target].step(event, now);
            for action in actions {
                match action {
                    Action::Persist { term, voted_for: Some(v) } => {
                        if let Some(before) = votes.insert((target, term), v.clone()) {
                            prop_assert_eq!(before, v, "two votes by {} in term {}", me, term);
                        }
                    }
                    Action::RequestVotes { term } => {
                        for j in (0..n).filter(|j| *j != target) {
                            net.push(Msg { to: j, event: Event::VoteRequested {
                                from: me.clone(), term, last: log_of(target), ours: log_of(j),
                            }});
                        }
                    }
                    Action::Vote { to, term, granted, .. } => {
                        net.push(Msg { to: index(&to), event: Event::VoteAnswered {
                            from: me.clone(), term, granted,
                        }});
                    }
                    Action::Became { role: Role::Leader, term } => {
                        if let Some(other) = leaders.insert(term, target) {
                            prop_assert_eq!(other, target, "two primaries in term {}", term);
                        }
                        for j in (0..n).filter(|j| *j != target) {
                            net.push(Msg { to: j, event: Event::FromLeader { from: me.clone(), term }});
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// With a reliable network five members elect exactly one primary, and
/// every other member follows it.
#[test]
fn five_members_elect_one_primary() {
    let t0 = Instant::now();
    let all = names(5);
    let mut members: Vec<Election> = all
        .iter()
        .enumerate()
        .map(|(i, me)| {
            Election::new(
                me,
                &all,
                Standing::Elects,
                Timeouts::default(),
                (0, None),
                t0,
                i as u64 * 7919,
            )
        })
        .collect();
    let mut now = t0;
    let mut net: std::collections::VecDeque<Msg> = Default::default();
    for _ in 0..400 {
        now += ms(10);
        for i in 0..5 {
            net.push_back(Msg {
                to: i,
                event: Event::Tick,
            });
        }
        while let Some(msg) = net.pop_front() {
            let me = all[msg.to].clone();
            for action in members[msg.to].step(msg.event, now) {
                match action {
                    Action::RequestVotes { term } => {
                        for j in (0..5).filter(|j| *j != msg.to) {
                            net.push_back(Msg {
                                to: j,
                                event: Event::VoteRequested {
                                    from: me.clone(),
                                    term,
                                    last: pos(0, 0),
                                    ours: pos(0, 0),
                                },
                            });
                        }
                    }
                    Action::Vote {
                        to, term, granted, ..
                    } => net.push_back(Msg {
                        to: index(&to),
                        event: Event::VoteAnswered {
                            from: me.clone(),
                            term,
                            granted,
                        },
                    }),
                    Action::Became {
                        role: Role::Leader,
                        term,
                    } => {
                        for j in (0..5).filter(|j| *j != msg.to) {
                            net.push_back(Msg {
                                to: j,
                                event: Event::FromLeader {
                                    from: me.clone(),
                                    term,
                                },
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        // The primary's heartbeats keep the others from standing.
        if let Some(l) = members.iter().position(|m| m.role() == Role::Leader) {
            let term = members[l].term();
            for j in (0..5).filter(|j| *j != l) {
                let from = all[l].clone();
                members[j].step(Event::FromLeader { from, term }, now);
                members[l].step(
                    Event::Answered {
                        from: all[j].clone(),
                        term,
                    },
                    now,
                );
            }
        }
    }
    let leaders: Vec<&str> = members
        .iter()
        .filter(|m| m.role() == Role::Leader)
        .map(|m| m.me.as_str())
        .collect();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    for m in &members {
        assert_eq!(m.leader(), Some(leaders[0]));
    }
}

#[test]
fn a_candidate_and_a_primary_refuse_others_in_their_own_term() {
    let t0 = Instant::now();
    let mut m = member("m1", 3, Standing::Elects, t0);
    m.step(Event::Tick, t0 + ms(2001));
    assert_eq!((m.role(), m.term()), (Role::Candidate, 1));
    let vote = m.step(ask("m2", 1, pos(5, 5), pos(0, 0)), t0 + ms(2002));
    assert_eq!(granted(&vote), Some(false), "voted for itself: {vote:?}");
    assert_eq!(
        m.role(),
        Role::Candidate,
        "a same-term request changes nothing"
    );
    m.step(
        Event::VoteAnswered {
            from: "m3".into(),
            term: 1,
            granted: true,
        },
        t0 + ms(2003),
    );
    assert_eq!(m.role(), Role::Leader);
    let vote = m.step(ask("m2", 1, pos(5, 5), pos(0, 0)), t0 + ms(2004));
    assert_eq!(granted(&vote), Some(false), "{vote:?}");
    assert_eq!(m.role(), Role::Leader);
}

/// A later term with a log that is behind: the voter moves to the term (a
/// primary steps down) but refuses, and its vote in that term stays free
/// for a candidate whose log is up to date.
#[test]
fn a_later_term_with_a_log_behind_moves_the_term_but_keeps_the_vote() {
    let t0 = Instant::now();
    let mut m = member("m1", 1, Standing::Elects, t0);
    m.step(Event::Tick, t0 + ms(2001));
    assert_eq!((m.role(), m.term()), (Role::Leader, 1));
    let ours = pos(1, 7);
    let actions = m.step(ask("m2", 5, pos(1, 6), ours), t0 + ms(2002));
    assert_eq!(granted(&actions), Some(false), "{actions:?}");
    assert!(
        actions.contains(&Action::SteppedDown { term: 5 }),
        "{actions:?}"
    );
    assert_eq!(
        actions.first(),
        Some(&Action::Persist {
            term: 5,
            voted_for: None
        }),
        "the new term is durable before the answer"
    );
    assert_eq!(
        (m.role(), m.term(), m.voted_for()),
        (Role::Follower, 5, None)
    );
    let actions = m.step(ask("m3", 5, pos(1, 7), ours), t0 + ms(2003));
    assert_eq!(granted(&actions), Some(true), "{actions:?}");
    assert_eq!(m.voted_for(), Some("m3"));
}

/// §5.4.1: the later last term wins whatever the lengths; with equal last
/// terms the longer log; equal logs are "at least as up to date".
#[test]
fn log_comparison_puts_the_last_term_before_the_length() {
    assert!(pos(3, 1) > pos(2, 100));
    assert!(pos(2, 5) > pos(2, 4));
    assert!(pos(0, 0) < pos(1, 1));
    assert_eq!(pos(2, 5).cmp(&pos(2, 5)), std::cmp::Ordering::Equal);
    let t0 = Instant::now();
    let cases = [
        (pos(3, 1), pos(2, 100), true, "a later last term, shorter"),
        (
            pos(2, 100),
            pos(3, 1),
            false,
            "longer, but an older last term",
        ),
        (pos(2, 5), pos(2, 5), true, "equal"),
        (pos(0, 0), pos(0, 0), true, "both empty"),
        (pos(0, 0), pos(1, 1), false, "empty against one entry"),
    ];
    for (theirs, ours, want, why) in cases {
        // A fresh voter each time: only the logs decide.
        let mut m = member("m1", 3, Standing::Elects, t0);
        let actions = m.step(ask("m2", 9, theirs, ours), t0);
        assert_eq!(granted(&actions), Some(want), "{why}: {actions:?}");
    }
}

#[test]
fn stale_and_repeated_grants_do_not_make_a_primary() {
    let t0 = Instant::now();
    let mut m = member("m1", 5, Standing::Elects, t0);
    m.step(Event::Tick, t0 + ms(2001));
    m.step(Event::Tick, t0 + ms(4002));
    assert_eq!((m.role(), m.term()), (Role::Candidate, 2));
    let answer = |from: &str, term: u64| Event::VoteAnswered {
        from: from.into(),
        term,
        granted: true,
    };
    // Grants of term 1 arrive late; m2 grants term 2 twice.
    m.step(answer("m2", 1), t0 + ms(4003));
    m.step(answer("m3", 1), t0 + ms(4003));
    m.step(answer("m2", 2), t0 + ms(4004));
    m.step(answer("m2", 2), t0 + ms(4004));
    assert_eq!(m.role(), Role::Candidate, "two of five votes only");
    assert_eq!(m.votes(), 2);
    // A refusal is no vote either.
    m.step(
        Event::VoteAnswered {
            from: "m4".into(),
            term: 2,
            granted: false,
        },
        t0 + ms(4005),
    );
    assert_eq!(m.role(), Role::Candidate);
    m.step(answer("m5", 2), t0 + ms(4006));
    assert_eq!((m.role(), m.term()), (Role::Leader, 2));
}

/// A restarted member starts from its persisted term and vote: it cannot
/// vote twice in one term, however it restarts.
#[test]
fn a_persisted_vote_holds_across_a_restart() {
    let t0 = Instant::now();
    let mut m = Election::new(
        "m1",
        &names(3),
        Standing::Elects,
        Timeouts::default(),
        (3, Some("m2".into())),
        t0,
        1,
    );
    assert_eq!((m.term(), m.voted_for()), (3, Some("m2")));
    let vote = m.step(ask("m3", 3, pos(3, 9), pos(0, 0)), t0);
    assert_eq!(granted(&vote), Some(false), "{vote:?}");
    let vote = m.step(ask("m2", 3, pos(3, 9), pos(0, 0)), t0);
    assert_eq!(granted(&vote), Some(true), "the same vote again: {vote:?}");
    assert!(
        !vote.iter().any(|a| matches!(a, Action::Persist { .. })),
        "nothing new to persist: {vote:?}"
    );
}

/// Figure 8 of the Raft paper, step by step, five members S1..S5 (seq:term).
/// (a) S1 leads term 2 and writes 2:2 to S2 only. (b) S5 leads term 3
/// (votes of S3, S4, S5) and writes 2:3 to itself. (c) S1 leads term 4 and
/// copies 2:2 to S3: a majority holds it, but it is of term 2, so it must
/// not commit, because (d) S5 can still win term 5 and overwrite it
/// everywhere. (e) Once S1 commits an entry of term 4 on a majority,
/// S5 can win no vote of the majority.
#[test]
fn figure_8_an_old_term_entry_on_a_majority_is_not_committed() {
    let t0 = Instant::now();
    // S1's log in (c): 1:1, 2:2, 3:4 (not yet copied anywhere).
    let s1_term_at = |seq: u64| match seq {
        1 => Some(1),
        2 => Some(2),
        3 => Some(4),
        _ => None,
    };
    // (c) Last seqs: S1 3, S2 2, S3 2, S4 1, S5 2 (its own 2:3, a
    // different entry: S1 counts what matches its log, so S5 counts 1).
    assert_eq!(
        commit_seq(4, &[3, 2, 2, 1, 1], s1_term_at, 1),
        1,
        "2:2 on S1, S2, S3 is not committed in term 4"
    );
    // (d) S5 (last 2:3) stands in term 5: S2, S3 (last 2:2) and S4 (1:1)
    // grant it, so it can overwrite 2:2.
    for (voter, ours) in [("m2", pos(2, 2)), ("m3", pos(2, 2)), ("m4", pos(1, 1))] {
        let mut v = member(voter, 5, Standing::Elects, t0);
        let vote = v.step(ask("m5", 5, pos(3, 2), ours), t0);
        assert_eq!(granted(&vote), Some(true), "{voter}: {vote:?}");
    }
    // (e) S1 copied 3:4 to S2 and S3: now 3 (and 2 with it) commit…
    assert_eq!(commit_seq(4, &[3, 3, 3, 1, 1], s1_term_at, 1), 3);
    // …and S5 cannot win: S1, S2, S3 (last 3:4) refuse it.
    for voter in ["m1", "m2", "m3"] {
        let mut v = member(voter, 5, Standing::Elects, t0);
        let vote = v.step(ask("m5", 5, pos(3, 2), pos(4, 3)), t0);
        assert_eq!(granted(&vote), Some(false), "{voter}: {vote:?}");
    }
}

#[test]
fn commit_needs_a_strict_majority_in_an_even_cluster() {
    let term = |_| Some(1);
    assert_eq!(commit_seq(1, &[5, 5, 1, 1], term, 0), 1, "two of four");
    assert_eq!(commit_seq(1, &[5, 5, 5, 1], term, 0), 5, "three of four");
    assert_eq!(commit_seq(1, &[5], term, 0), 5, "a lone member");
    assert_eq!(commit_seq(1, &[], term, 2), 2, "no positions: unchanged");
}

fn pre_voting(me: &str, n: usize, t0: Instant) -> Election {
    member(me, n, Standing::Elects, t0).with_pre_vote()
}

/// With pre-vote, a member whose timeout passes first asks whether it could
/// win, without raising its term or voting; it stands only once a majority
/// says yes.
#[test]
fn pre_vote_asks_before_standing_and_changes_no_term() {
    let t0 = Instant::now();
    let mut m = pre_voting("m1", 3, t0);
    let actions = m.step(Event::Tick, t0 + ms(2001));
    assert_eq!(actions, vec![Action::RequestPreVotes { term: 1 }]);
    assert_eq!(
        (m.term(), m.role(), m.voted_for()),
        (0, Role::Follower, None)
    );
    let actions = m.step(
        Event::PreVoteAnswered {
            from: "m2".into(),
            term: 0,
            proposed: 1,
            granted: true,
        },
        t0 + ms(2002),
    );
    assert_eq!(m.role(), Role::Candidate, "{actions:?}");
    assert!(actions.contains(&Action::RequestVotes { term: 1 }));
}

/// A member that hears its primary refuses pre-votes, and a pre-vote request
/// changes nothing on the voter: a member back from a partition cannot
/// depose a primary the others still hear.
#[test]
fn pre_votes_are_refused_while_a_primary_is_heard() {
    let t0 = Instant::now();
    let mut voter = pre_voting("m2", 3, t0);
    voter.step(
        Event::FromLeader {
            from: "m3".into(),
            term: 4,
        },
        t0,
    );
    let ask = |term| Event::PreVoteRequested {
        from: "m1".into(),
        term,
        last: pos(9, 9),
        ours: pos(4, 5),
    };
    let actions = voter.step(ask(9), t0 + ms(100));
    assert!(
        matches!(
            actions.as_slice(),
            [Action::PreVote {
                granted: false,
                refusal: Some(Refusal::PrimaryAlive { .. }),
                ..
            }]
        ),
        "{actions:?}"
    );
    assert_eq!((voter.term(), voter.voted_for()), (4, None), "unchanged");
    // Once the primary has been silent for the shortest timeout, the voter
    // would vote for an up-to-date log, and still changes nothing.
    let actions = voter.step(ask(5), t0 + ms(1100));
    assert!(
        matches!(actions.as_slice(), [Action::PreVote { granted: true, .. }]),
        "{actions:?}"
    );
    assert_eq!((voter.term(), voter.voted_for()), (4, None));
    // A log behind is refused as for a real vote.
    let actions = voter.step(
        Event::PreVoteRequested {
            from: "m1".into(),
            term: 5,
            last: pos(3, 9),
            ours: pos(4, 5),
        },
        t0 + ms(1100),
    );
    assert!(
        matches!(
            actions.as_slice(),
            [Action::PreVote {
                granted: false,
                refusal: Some(Refusal::LogBehind { .. }),
                ..
            }]
        ),
        "{actions:?}"
    );
}

/// A refused pre-vote that carries a later term brings the asker up to it.
#[test]
fn a_refused_pre_vote_teaches_the_later_term() {
    let t0 = Instant::now();
    let mut m = pre_voting("m1", 3, t0);
    m.step(Event::Tick, t0 + ms(2001));
    m.step(
        Event::PreVoteAnswered {
            from: "m2".into(),
            term: 7,
            proposed: 1,
            granted: false,
        },
        t0 + ms(2002),
    );
    assert_eq!((m.term(), m.role()), (7, Role::Follower));
}

/// A follower whose primary went silent for an election timeout no longer
/// names it, even when its pre-votes fail (no majority to win): writers are
/// told an election is on (503) rather than sent to a primary that may be
/// gone (found by tests/failover.rs, without_a_majority_…).
#[test]
fn a_silent_primary_is_no_longer_named_once_pre_votes_are_asked() {
    let t0 = Instant::now();
    let mut m = pre_voting("m1", 3, t0);
    m.step(
        Event::FromLeader {
            from: "m2".into(),
            term: 3,
        },
        t0,
    );
    assert_eq!(m.leader(), Some("m2"));
    let actions = m.step(Event::Tick, t0 + ms(2001));
    assert!(
        actions.contains(&Action::RequestPreVotes { term: 4 }),
        "{actions:?}"
    );
    assert!(
        actions.contains(&Action::LeaderIs {
            leader: None,
            term: 3
        }),
        "{actions:?}"
    );
    assert_eq!((m.leader(), m.term()), (None, 3));
}

/// A later term alone does not restart a follower's election timer: a
/// candidate whose log is behind, asking again and again in ever later
/// terms, must not keep the others from standing (only a primary's message
/// or a granted vote restarts it).
#[test]
fn a_refused_candidate_with_a_later_term_does_not_hold_the_timer_back() {
    let t0 = Instant::now();
    let mut m = member("m2", 3, Standing::Elects, t0);
    for (i, at) in [900u64, 1800, 2700].into_iter().enumerate() {
        let actions = m.step(ask("m1", 5 + i as u64, pos(1, 1), pos(1, 9)), t0 + ms(at));
        assert_eq!(granted(&actions), Some(false), "{actions:?}");
    }
    let actions = m.step(Event::Tick, t0 + ms(2700));
    assert_eq!(
        m.role(),
        Role::Candidate,
        "stood on its own timer: {actions:?}"
    );
}
