//! Quorum and read-only mode, decided in one place: the handlers, the
//! replicators and `/health` all ask this type.

use crate::health::Health;

/// The rule: how many nodes (the primary included) must count as available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum {
    pub required: usize,
    pub total: usize,
}

/// The rule applied to the secondaries' current health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumView {
    /// Nodes that count: the primary plus every secondary not unhealthy.
    pub healthy: usize,
    pub suspected: usize,
    pub required: usize,
    pub total: usize,
}

impl Quorum {
    pub fn assess(&self, secondaries: impl IntoIterator<Item = Health>) -> QuorumView {
        let (mut healthy, mut suspected) = (1, 0);
        for state in secondaries {
            // Suspicion is not failure (as in SWIM or phi-accrual detectors):
            // a suspected secondary counts until it is declared unhealthy, so
            // one lost delivery never turns the primary read-only.
            if state != Health::Unhealthy {
                healthy += 1;
            }
            if state == Health::Suspected {
                suspected += 1;
            }
        }
        QuorumView {
            healthy,
            suspected,
            required: self.required,
            total: self.total,
        }
    }
}

impl QuorumView {
    pub fn met(&self) -> bool {
        self.healthy >= self.required
    }

    pub fn read_only(&self) -> bool {
        !self.met()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    #[test]
    fn counts_the_primary_and_every_secondary_not_unhealthy() {
        let q = Quorum {
            required: 2,
            total: 3,
        };
        for (states, healthy, suspected, met) in [
            (vec![Healthy, Healthy], 3, 0, true),
            (vec![Suspected, Unhealthy], 2, 1, true),
            (vec![Unhealthy, Unhealthy], 1, 0, false),
        ] {
            let v = q.assess(states.clone());
            assert_eq!(
                (v.healthy, v.suspected, v.met(), v.read_only()),
                (healthy, suspected, met, !met),
                "{states:?}"
            );
        }
    }
}
