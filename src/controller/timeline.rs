//! Turns successive views of the primary into timeline events: health
//! transitions, retries, acks and quorum changes.

use replog_tui::model::{EventKind, Health, PrimaryView};

fn word(h: &Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Suspected => "suspected",
        Health::Unhealthy => "unhealthy",
    }
}

/// Events between two views of the primary (`before` None: first view).
pub fn diff(before: Option<&PrimaryView>, now: &PrimaryView) -> Vec<(EventKind, String)> {
    let mut out = Vec::new();
    let Some(before) = before else {
        let states: Vec<String> = now
            .secondaries
            .iter()
            .map(|s| format!("{} {}", s.id, word(&s.state)))
            .collect();
        if !states.is_empty() {
            out.push((EventKind::Health, states.join(", ")));
        }
        return out;
    };
    for s in &now.secondaries {
        let Some(old) = before.secondaries.iter().find(|o| o.id == s.id) else {
            continue;
        };
        if old.state != s.state {
            out.push((
                EventKind::Health,
                format!("{}: {} → {}", s.id, word(&old.state), word(&s.state)),
            ));
        }
        if s.retry_attempt > old.retry_attempt {
            let when = s
                .next_retry_in_ms
                .map(|ms| format!(" in {:.1}s", ms as f64 / 1000.0))
                .unwrap_or_default();
            out.push((
                EventKind::Retry,
                format!(
                    "{}: delivery failed, retry #{}{when}",
                    s.id, s.retry_attempt
                ),
            ));
        }
        if s.acked_seq > old.acked_seq {
            out.push((
                EventKind::Ack,
                format!("{} acked up to seq {}", s.id, s.acked_seq),
            ));
        } else if s.acked_seq < old.acked_seq {
            out.push((
                EventKind::Info,
                format!(
                    "{} restarted empty: catching up from seq {}",
                    s.id,
                    s.acked_seq + 1
                ),
            ));
        }
    }
    if before.read_only != now.read_only {
        out.push(if now.read_only {
            (
                EventKind::Quorum,
                format!(
                    "quorum lost ({} healthy, {} required): primary READ-ONLY",
                    now.quorum_healthy, now.quorum_required
                ),
            )
        } else {
            (
                EventKind::Quorum,
                format!(
                    "quorum back ({} healthy): primary writable",
                    now.quorum_healthy
                ),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use replog_tui::model::SecondaryHealthView;

    fn view(state: Health, acked: u64, attempt: u64, read_only: bool) -> PrimaryView {
        PrimaryView {
            last_seq: 5,
            read_only,
            quorum_healthy: 2,
            quorum_required: 2,
            quorum_total: 3,
            secondaries: vec![SecondaryHealthView {
                id: "s1".into(),
                state,
                acked_seq: acked,
                retry_attempt: attempt,
                next_retry_in_ms: Some(1200),
                ..Default::default()
            }],
            parked: vec![],
            transactions: vec![],
        }
    }

    #[test]
    fn reports_transitions_retries_acks_and_quorum() {
        let a = view(Health::Healthy, 1, 0, false);
        let b = view(Health::Suspected, 3, 2, true);
        let events = diff(Some(&a), &b);
        let texts: Vec<&str> = events.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "s1: healthy → suspected",
                "s1: delivery failed, retry #2 in 1.2s",
                "s1 acked up to seq 3",
                "quorum lost (2 healthy, 2 required): primary READ-ONLY",
            ]
        );
        assert!(diff(Some(&a), &a).is_empty());
        assert_eq!(diff(None, &a).len(), 1);
    }
}
