//! A secondary's health as the primary sees it:
//! healthy → suspected (a missed heartbeat or failed delivery) → unhealthy
//! (after `unhealthy_after` consecutive missed heartbeats) → healthy again on
//! the first successful heartbeat.

// `Health` is part of the HTTP API (`/health`) and defined there, once.
pub use crate::api::Health;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: Health,
    pub to: Health,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct HealthTracker {
    state: Health,
    misses: u32,
    unhealthy_after: u32,
}

impl HealthTracker {
    /// Starts unhealthy: nothing is known of a secondary before it answers.
    pub fn new(unhealthy_after: u32) -> Self {
        let unhealthy_after = unhealthy_after.max(1);
        Self {
            state: Health::Unhealthy,
            misses: unhealthy_after,
            unhealthy_after,
        }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    /// A new threshold (live timing): it counts from the next missed heartbeat.
    pub fn set_unhealthy_after(&mut self, unhealthy_after: u32) {
        self.unhealthy_after = unhealthy_after.max(1);
    }

    pub fn heartbeat_ok(&mut self) -> Option<Transition> {
        self.misses = 0;
        self.move_to(Health::Healthy, "heartbeat answered".into())
    }

    pub fn heartbeat_missed(&mut self, why: &str) -> Option<Transition> {
        self.misses = self.misses.saturating_add(1);
        let to = if self.misses >= self.unhealthy_after {
            Health::Unhealthy
        } else {
            Health::Suspected
        };
        let reason = format!(
            "heartbeat missed ({}/{} in a row): {why}",
            self.misses.min(self.unhealthy_after),
            self.unhealthy_after
        );
        self.move_to(to, reason)
    }

    pub fn delivery_failed(&mut self, why: &str) -> Option<Transition> {
        if self.state != Health::Healthy {
            return None;
        }
        self.move_to(Health::Suspected, format!("delivery failed: {why}"))
    }

    fn move_to(&mut self, to: Health, reason: String) -> Option<Transition> {
        if self.state == to {
            return None;
        }
        let from = std::mem::replace(&mut self.state, to);
        Some(Transition { from, to, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_healthy_suspected_unhealthy_and_back() {
        let mut h = HealthTracker::new(3);
        assert_eq!(h.state(), Health::Unhealthy);
        assert_eq!(h.heartbeat_ok().map(|t| t.to), Some(Health::Healthy));
        assert_eq!(
            h.heartbeat_missed("x").map(|t| t.to),
            Some(Health::Suspected)
        );
        assert_eq!(h.heartbeat_missed("x"), None);
        assert_eq!(
            h.heartbeat_missed("x").map(|t| t.to),
            Some(Health::Unhealthy)
        );
        assert_eq!(h.delivery_failed("x"), None);
        assert_eq!(h.heartbeat_ok().map(|t| t.from), Some(Health::Unhealthy));
        assert_eq!(
            h.delivery_failed("x").map(|t| t.to),
            Some(Health::Suspected)
        );
        assert_eq!(h.heartbeat_ok().map(|t| t.to), Some(Health::Healthy));
    }
}
