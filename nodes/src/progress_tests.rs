use super::*;
use crate::entry::Entry;
use crate::secondary_log::SecondaryLog;
use crate::store::MemoryLog;
use proptest::prelude::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn config() -> ProgressConfig {
    ProgressConfig {
        max_in_flight: 4,
        // Below the simulation's batch size, so the proptest meets the rule.
        min_batch_in_flight: 3,
        linger: MS(1),
        backoff: Backoff {
            base: MS(50),
            cap: MS(2000),
        },
        min_timeout: MS(1000),
        unhealthy_after: 3,
    }
}

fn pos(instance: u64, last_seq: u64) -> Position {
    Position {
        instance,
        last_seq,
        votes: Vec::new(),
    }
}

fn ack(first: u64, last: u64, at: u64) -> Event {
    Event::BatchAcked {
        first,
        last,
        position: pos(1, at),
        rtt: MS(2),
    }
}

fn fail(first: u64, last: u64, timed_out: bool) -> Event {
    Event::BatchFailed {
        first,
        last,
        failure: Failure {
            timed_out,
            why: "x".into(),
        },
    }
}

fn heartbeat(at: u64) -> Event {
    Event::HeartbeatAnswered {
        position: pos(1, at),
    }
}

fn missed() -> Event {
    Event::HeartbeatMissed { why: "x".into() }
}

/// A progress that has heard one heartbeat at position `at`.
fn started(at: u64) -> (Progress, Instant) {
    let now = Instant::now();
    let mut p = Progress::new(config(), 7);
    p.step(heartbeat(at), now);
    (p, now)
}

#[test]
fn starts_paused_and_resumes_from_the_secondarys_position() {
    let now = Instant::now();
    let mut p = Progress::new(config(), 1);
    assert_eq!(p.state(), ProgressState::Paused);
    assert_eq!(p.next_send(10), None);
    let actions = p.step(heartbeat(4), now);
    assert!(
        actions.contains(&Action::Resumed { from: 5 }),
        "{actions:?}"
    );
    assert_eq!(
        (p.state(), p.matched(), p.next()),
        (ProgressState::Probing, 4, 5)
    );
    assert_eq!(p.health(), Health::Healthy);
}

#[test]
fn probing_ships_one_batch_then_replicating_fills_the_window() {
    let (mut p, now) = started(0);
    assert_eq!(p.next_send(10), Some(1));
    p.sent(1, 3);
    assert_eq!(p.next_send(10), None, "probing: one at a time");
    p.step(ack(1, 3, 3), now);
    assert_eq!(p.state(), ProgressState::Replicating);
    // Seven entries wait (4..=10), at least a batch's worth behind each
    // one in flight: the window fills.
    for first in [4, 5, 6, 7] {
        assert_eq!(p.next_send(10), Some(first));
        p.sent(first, first);
    }
    assert_eq!(p.next_send(10), None, "window of 4 is full");
    assert_eq!(p.next_send(3), None);
}

#[test]
fn with_a_batch_in_flight_a_small_remainder_waits_for_its_answer() {
    let (mut p, now) = started(0);
    p.sent(1, 2);
    p.step(ack(1, 2, 2), now);
    assert_eq!(p.state(), ProgressState::Replicating);
    assert_eq!(p.next_send(4), Some(3), "nothing in flight: ship at once");
    p.sent(3, 4);
    // Two entries wait behind the batch in flight: fewer than 3.
    assert_eq!(
        p.next_send(6),
        None,
        "too small to ship beside one in flight"
    );
    assert_eq!(p.next_send(7), Some(5), "a batch's worth ships at once");
    // The answer is the trigger: then whatever waits goes.
    p.step(ack(3, 4, 4), now);
    assert_eq!(p.next_send(6), Some(5));
}

#[test]
fn after_an_answer_a_smaller_batch_lingers_for_the_released_writers() {
    let (mut p, now) = started(0);
    p.sent(1, 3);
    p.step(ack(1, 3, 3), now);
    // Three writers were released; one is back so far.
    assert_eq!(p.next_send(4), None, "one entry waits for the other two");
    assert_eq!(p.wake_at(), Some(6));
    assert_eq!(p.tick_due(), Some(now + MS(1)));
    assert_eq!(p.next_send(6), Some(4), "all three back: ship at once");
    p.step(Event::Tick, now + MS(1) / 2);
    assert_eq!(p.next_send(4), None, "not due yet");
    p.step(Event::Tick, now + MS(1));
    assert_eq!(p.next_send(4), Some(4), "lingered long enough");
    assert_eq!(p.tick_due(), None);
    // A lone writer: a batch of one answered, the next one goes at once.
    p.sent(4, 4);
    p.step(ack(4, 4, 4), now);
    assert_eq!(p.next_send(5), Some(5));
}

#[test]
fn transitions_table() {
    // (name, events before, event, expected (state, matched, next, retry pending))
    type Case = (&'static str, Vec<Event>, (ProgressState, u64, u64, bool));
    let cases: Vec<Case> = vec![
        (
            "failure schedules a retry and suspects",
            vec![fail(1, 2, false)],
            (ProgressState::Probing, 0, 3, true),
        ),
        (
            "late success drops the retry",
            vec![fail(1, 2, true), heartbeat(2)],
            (ProgressState::Probing, 2, 3, false),
        ),
        (
            "partial late success keeps the rest",
            vec![fail(1, 2, true), heartbeat(1)],
            (ProgressState::Probing, 1, 3, true),
        ),
        (
            "failure of an acknowledged range is dropped",
            vec![heartbeat(2), fail(1, 2, false)],
            (ProgressState::Probing, 2, 3, false),
        ),
        (
            "three missed heartbeats pause",
            vec![missed(), missed(), missed()],
            (ProgressState::Paused, 0, 3, false),
        ),
        (
            "a heartbeat after the pause resumes at the position",
            vec![missed(), missed(), missed(), heartbeat(1)],
            (ProgressState::Probing, 1, 2, false),
        ),
        (
            "a short answer with nothing in flight repairs the gap",
            vec![ack(1, 2, 1)],
            (ProgressState::Replicating, 1, 2, false),
        ),
        (
            "a restarted secondary starts over at its own position",
            vec![Event::HeartbeatAnswered {
                position: pos(9, 0),
            }],
            (ProgressState::Probing, 0, 1, false),
        ),
    ];
    for (name, events, (state, matched, next, retry)) in cases {
        let (mut p, now) = started(0);
        assert_eq!(p.next_send(5), Some(1));
        p.sent(1, 2);
        for e in events {
            p.step(e, now);
        }
        assert_eq!(
            (p.state(), p.matched(), p.next(), p.retry_pending()),
            (state, matched, next, retry),
            "{name}"
        );
    }
}

#[test]
fn a_due_retry_rewinds_the_cursor_but_never_below_matched() {
    let (mut p, now) = started(0);
    p.sent(1, 2);
    p.step(ack(1, 2, 2), now);
    p.sent(3, 4);
    p.sent(5, 6);
    let actions = p.step(fail(3, 4, false), now);
    assert!(matches!(
        actions.as_slice(),
        [
            Action::Health(_),
            Action::RetryScheduled {
                from: 3,
                attempt: 1,
                ..
            }
        ]
    ));
    assert!(p.step(Event::Tick, now).is_empty(), "not due yet");
    let later = now + MS(60);
    let actions = p.step(Event::Tick, later);
    assert_eq!(
        actions,
        vec![Action::Retrying {
            from: 3,
            attempt: 1
        }]
    );
    assert_eq!((p.next(), p.state()), (3, ProgressState::Probing));
    // The batch 5..6 still lands, and the secondary reports 6: the retry of
    // 3..4 that is now in flight is then a duplicate, never a rewind.
    p.sent(3, 6);
    p.step(ack(5, 6, 6), later);
    assert_eq!((p.matched(), p.next()), (6, 7));
}

#[test]
fn timeouts_grow_the_replication_timeout() {
    let (mut p, now) = started(0);
    assert_eq!(p.timeout(), MS(1000));
    p.sent(1, 1);
    p.step(fail(1, 1, true), now);
    assert_eq!(p.timeout(), MS(2000));
    p.step(
        Event::BatchAcked {
            first: 1,
            last: 1,
            position: pos(1, 1),
            rtt: MS(1500),
        },
        now,
    );
    assert!(p.timeout() > MS(1500));
}

#[test]
fn retimed_changes_timeout_backoff_and_threshold_from_then_on() {
    let (mut p, now) = started(0);
    let actions = p.step(
        Event::Retimed {
            backoff: Backoff {
                base: MS(1000),
                cap: MS(40_000),
            },
            min_timeout: MS(20_000),
            unhealthy_after: 5,
        },
        now,
    );
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(p.timeout(), MS(20_000));
    // A failed batch backs off within the new base (full jitter: 0..=base).
    p.sent(1, 1);
    let actions = p.step(fail(1, 1, false), now);
    match actions.as_slice() {
        [Action::Health(_), Action::RetryScheduled { delay, .. }] => {
            // Suspected now: the base is scaled by the suspected factor.
            assert!(*delay <= MS(4000), "{delay:?}");
        }
        other => panic!("{other:?}"),
    }
    // Four misses: still suspected with a threshold of five.
    for _ in 0..4 {
        p.step(missed(), now);
    }
    assert_eq!(p.health(), Health::Suspected);
    p.step(missed(), now);
    assert_eq!(p.health(), Health::Unhealthy);
}

#[test]
fn back_from_slow_motion_a_scheduled_retry_waits_at_most_the_new_cap() {
    let retimed = |base, cap| Event::Retimed {
        backoff: Backoff { base, cap },
        min_timeout: MS(20_000),
        unhealthy_after: 3,
    };
    let now = Instant::now();
    // Deep in slow motion: a retry anywhere up to 40 s away. The jitter is
    // seeded: take the first seed that puts it beyond the new cap.
    let mut p = (0..100)
        .map(|seed| {
            let mut p = Progress::new(config(), seed);
            p.step(heartbeat(0), now);
            p.step(retimed(MS(40_000), MS(40_000)), now);
            p.sent(1, 1);
            p.step(fail(1, 1, false), now);
            p
        })
        .find(|p| p.retry_due().is_some_and(|due| due > now + MS(2000)))
        .unwrap_or_else(|| panic!("no seed scheduled a retry beyond 2 s"));
    p.step(retimed(MS(50), MS(2000)), now);
    assert_eq!(p.retry_due(), Some(now + MS(2000)));
}

#[test]
fn unhealthy_means_no_blind_retry() {
    let (mut p, now) = started(0);
    p.sent(1, 1);
    for _ in 0..3 {
        p.step(missed(), now);
    }
    let actions = p.step(fail(1, 1, true), now);
    assert!(matches!(
        actions.as_slice(),
        [Action::WaitingForHeartbeat { .. }]
    ));
    assert_eq!((p.retry_due(), p.next_send(5)), (None, None));
}

/// A slow link (answers after 1.5 s against a 1 s timeout) converges with a
/// bounded number of resends: the review's endless-resend defect.
#[test]
fn a_link_slower_than_the_timeout_converges() {
    let (mut p, mut now) = started(0);
    let latency = MS(1500);
    let mut secondary_has = 0;
    let mut sends = 0;
    let last_seq = 2;
    for _ in 0..100 {
        if p.matched() == last_seq {
            break;
        }
        if let Some(first) = p.next_send(last_seq) {
            p.sent(first, last_seq);
            sends += 1;
            // The secondary stores it after `latency`, whatever the primary does.
            if p.timeout() > latency {
                now += latency;
                secondary_has = last_seq;
                p.step(
                    Event::BatchAcked {
                        first,
                        last: last_seq,
                        position: pos(1, secondary_has),
                        rtt: latency,
                    },
                    now,
                );
            } else {
                now += p.timeout();
                p.step(fail(first, last_seq, true), now);
                secondary_has = last_seq; // it landed late
            }
        }
        // Heartbeats are not delayed: they report what landed.
        now += MS(500);
        p.step(heartbeat(secondary_has), now);
        p.step(Event::Tick, now);
    }
    assert_eq!(p.matched(), last_seq);
    assert!(sends <= 3, "sent {sends} times");
    assert!(!p.retry_pending());
}

#[derive(Clone, Debug)]
enum Op {
    Append(u8),
    Ship,
    /// Answer in-flight batch `i % n`: delivered or not, ack seen or lost.
    Answer {
        i: usize,
        stored: bool,
        acked: bool,
    },
    Heartbeat(bool),
    Tick(u16),
    RestartSecondary,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..5).prop_map(Op::Append),
        Just(Op::Ship),
        (any::<usize>(), any::<bool>(), any::<bool>()).prop_map(|(i, stored, acked)| Op::Answer {
            i,
            stored,
            acked
        }),
        any::<bool>().prop_map(Op::Heartbeat),
        (0u16..3000).prop_map(Op::Tick),
        Just(Op::RestartSecondary),
    ]
}

struct Sim {
    p: Progress,
    now: Instant,
    last_seq: u64,
    secondary: SecondaryLog,
    instance: u64,
    flying: Vec<(u64, u64)>,
}

impl Sim {
    fn position(&self) -> Position {
        pos(self.instance, self.secondary.last_seq())
    }

    fn ship(&mut self) {
        while let Some(first) = self.p.next_send(self.last_seq) {
            let last = self.last_seq.min(first + 2);
            self.p.sent(first, last);
            self.flying.push((first, last));
        }
    }

    fn answer(&mut self, i: usize, stored: bool, acked: bool) {
        if self.flying.is_empty() {
            return;
        }
        let (first, last) = self.flying.remove(i % self.flying.len());
        if stored {
            for seq in first..=last {
                self.secondary
                    .receive(Entry::new(seq, seq.to_string()))
                    .expect("a memory log never fails");
            }
        }
        let event = if stored && acked {
            Event::BatchAcked {
                first,
                last,
                position: self.position(),
                rtt: MS(3),
            }
        } else {
            fail(first, last, !acked)
        };
        self.step(event);
    }

    fn step(&mut self, event: Event) {
        let (identity, matched) = (self.p.identity, self.p.matched());
        self.p.step(event, self.now);
        assert!(
            self.p.next() > self.p.matched(),
            "next must stay above matched"
        );
        if self.p.identity == identity {
            assert!(self.p.matched() >= matched, "matched went back");
        }
        if self.p.identity == Some(self.instance) {
            assert!(
                self.p.matched() <= self.secondary.last_seq(),
                "acked more than stored"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the network did, once it behaves every entry reaches the
    /// secondary exactly once, in order, and `matched` reaches the end.
    #[test]
    fn any_history_converges_without_skipping(ops in proptest::collection::vec(op(), 0..80)) {
        let mut sim = Sim {
            p: Progress::new(config(), 3),
            now: Instant::now(),
            last_seq: 0,
            secondary: SecondaryLog::new(Box::new(MemoryLog::new())),
            instance: 1,
            flying: Vec::new(),
        };
        for op in ops {
            match op {
                Op::Append(n) => sim.last_seq += u64::from(n),
                Op::Ship => sim.ship(),
                Op::Answer { i, stored, acked } => sim.answer(i, stored, acked),
                Op::Heartbeat(true) => {
                    let position = sim.position();
                    sim.step(Event::HeartbeatAnswered { position });
                }
                Op::Heartbeat(false) => sim.step(missed()),
                Op::Tick(ms) => {
                    sim.now += MS(u64::from(ms));
                    sim.step(Event::Tick);
                }
                Op::RestartSecondary => {
                    sim.instance += 1;
                    sim.secondary = SecondaryLog::new(Box::new(MemoryLog::new()));
                }
            }
        }
        // The network heals: heartbeats answered, every batch delivered.
        // (A heartbeat first: only an answer tells the primary that the
        // secondary restarted since it last acknowledged.)
        for _ in 0..500 {
            let position = sim.position();
            sim.step(Event::HeartbeatAnswered { position });
            if sim.p.matched() == sim.last_seq && sim.flying.is_empty() {
                break;
            }
            sim.ship();
            while !sim.flying.is_empty() {
                sim.answer(0, true, true);
            }
            sim.now += MS(3000);
            sim.step(Event::Tick);
        }
        prop_assert_eq!(sim.p.matched(), sim.last_seq);
        let seqs: Vec<u64> = sim.secondary.visible().iter().map(|e| e.seq).collect();
        prop_assert_eq!(seqs, (1..=sim.last_seq).collect::<Vec<_>>());
    }
}
