//! Exponential backoff with full jitter, capped (the AWS "full jitter" scheme):
//! retries of many writers spread out instead of arriving in waves.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The ceiling for retry `attempt` (1-based): `min(cap, base * 2^(attempt-1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// A random delay in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        Duration::from_millis(rng.gen_range(0..=ceiling))
    }

    /// The same scheme with a longer base, for a secondary we already suspect.
    pub fn scaled(&self, factor: u32) -> Backoff {
        Backoff {
            base: self.base.saturating_mul(factor),
            cap: self.cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(2000),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(50));
        assert_eq!(b.ceiling(2), Duration::from_millis(100));
        assert_eq!(b.ceiling(6), Duration::from_millis(1600));
        assert_eq!(b.ceiling(7), Duration::from_millis(2000));
        assert_eq!(b.ceiling(1000), Duration::from_millis(2000));
        let mut rng = rand::thread_rng();
        for attempt in 1..20 {
            assert!(b.delay(attempt, &mut rng) <= b.ceiling(attempt));
        }
    }
}
