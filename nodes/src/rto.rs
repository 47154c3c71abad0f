//! An adaptive replication timeout, after TCP's retransmission timer
//! (RFC 6298): it follows the measured round-trip time, and doubles on every
//! timeout (Karn). A link slower than the configured timeout then converges
//! after a few doublings instead of timing out, and being resent, forever.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Rto {
    /// Never below this: the configured `--replication-timeout-ms`.
    min: Duration,
    max: Duration,
    srtt: Option<Duration>,
    rttvar: Duration,
    current: Duration,
}

impl Rto {
    pub fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            srtt: None,
            rttvar: Duration::ZERO,
            current: min,
        }
    }

    /// The timeout for the next request.
    pub fn current(&self) -> Duration {
        self.current
    }

    /// A request answered after `rtt`.
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        let estimate = srtt.saturating_add(self.rttvar.saturating_mul(4));
        self.current = estimate.clamp(self.min, self.max);
    }

    /// A request timed out: back off the timer itself.
    pub fn timed_out(&mut self) {
        self.current = self.current.saturating_mul(2).min(self.max);
    }

    /// Forget what was measured (a new secondary process, a changed setting).
    pub fn reset(&mut self, min: Duration) {
        *self = Rto::new(min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn stays_at_the_minimum_on_a_fast_link() {
        let mut rto = Rto::new(MS(1000), MS(60_000));
        for _ in 0..20 {
            rto.sample(MS(2));
        }
        assert_eq!(rto.current(), MS(1000));
    }

    #[test]
    fn doubles_on_timeout_up_to_the_cap() {
        let mut rto = Rto::new(MS(1000), MS(5000));
        rto.timed_out();
        assert_eq!(rto.current(), MS(2000));
        rto.timed_out();
        rto.timed_out();
        assert_eq!(rto.current(), MS(5000));
    }

    #[test]
    fn a_slow_link_lifts_the_timeout_above_its_latency() {
        let mut rto = Rto::new(MS(1000), MS(60_000));
        rto.timed_out();
        // The doubled timer let a 1.5 s answer through; from now on requests
        // on this link get more than 1.5 s.
        rto.sample(MS(1500));
        assert!(rto.current() > MS(1500), "{:?}", rto.current());
        for _ in 0..50 {
            rto.sample(MS(1500));
        }
        assert!(rto.current() > MS(1500), "{:?}", rto.current());
    }
}
