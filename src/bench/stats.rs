//! What a run measured, and how runs are summed up.

use std::collections::BTreeMap;
use std::time::Duration;

/// Failed requests by kind ("HTTP 503", "timeout", "connection", "connect"),
/// each with one example of what was seen.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    pub by_kind: BTreeMap<String, (u64, String)>,
}

impl Errors {
    pub fn add(&mut self, kind: &str, example: String) {
        let slot = self
            .by_kind
            .entry(kind.to_string())
            .or_insert_with(|| (0, example));
        slot.0 += 1;
    }

    pub fn merge(&mut self, other: Errors) {
        for (kind, (count, example)) in other.by_kind {
            let slot = self.by_kind.entry(kind).or_insert((0, example));
            slot.0 += count;
        }
    }

    pub fn total(&self) -> u64 {
        self.by_kind.values().map(|(n, _)| n).sum()
    }

    /// The first kind with its example, to explain a run where all failed.
    pub fn first_example(&self) -> String {
        self.by_kind
            .iter()
            .next()
            .map(|(kind, (_, example))| format!("{kind}: {example}"))
            .unwrap_or_else(|| "no answer counted".into())
    }

    /// `0`, or `12 (HTTP 503: 10, timeout: 2)`.
    pub fn summary(&self) -> String {
        if self.by_kind.is_empty() {
            return "0".into();
        }
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, (n, _))| format!("{kind}: {n}"))
            .collect();
        format!("{} ({})", self.total(), kinds.join(", "))
    }
}

/// One measured run against one target.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Successful writes (201 with a seq).
    pub ok: u64,
    /// From the end of the warm-up to the last measured answer.
    pub elapsed: Duration,
    /// Of successful writes, sorted.
    pub latencies_us: Vec<u32>,
    pub errors: Errors,
    /// Cores' worth of CPU used by this process (the client) while measuring.
    pub client_cpu: Option<f64>,
    /// Cores' worth of CPU used by the target's processes, if local.
    pub server_cpu: Option<f64>,
}

impl Sample {
    /// Successful writes per second.
    pub fn goodput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

/// The `p`-quantile (0..=1) of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = (sorted_us.len() as f64 * p).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    Some(f64::from(sorted_us[i]) / 1000.0)
}

/// The median; the mean of the middle two for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let us: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 0.5), Some(50.0));
        assert_eq!(percentile_ms(&us, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&us, 1.0), Some(100.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn errors_count_by_kind_and_keep_the_first_example() {
        let mut a = Errors::default();
        a.add("HTTP 503", "read-only".into());
        a.add("HTTP 503", "later".into());
        let mut b = Errors::default();
        b.add("timeout", "slow".into());
        b.add("HTTP 503", "other".into());
        a.merge(b);
        assert_eq!(a.total(), 4);
        assert_eq!(a.summary(), "4 (HTTP 503: 3, timeout: 1)");
        assert_eq!(a.by_kind["HTTP 503"].1, "read-only");
    }
}
