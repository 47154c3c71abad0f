//! The term of every entry, kept as runs: terms change only at elections, so
//! a log of millions of entries has a handful of runs. Automatic failover
//! compares and cuts logs by (term, seq); see `election`.

/// Runs of `(first seq, term)`, in seq order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    runs: Vec<(u64, u64)>,
}

impl Terms {
    /// Records that `seq` (the next seq) has `term`.
    pub fn push(&mut self, seq: u64, term: u64) {
        if self.runs.last().is_none_or(|(_, t)| *t != term) {
            self.runs.push((seq, term));
        }
    }

    /// The term of `seq`, if `seq` is at most `last` and not 0.
    pub fn at(&self, seq: u64, last: u64) -> Option<u64> {
        if seq == 0 || seq > last {
            return None;
        }
        let i = self.runs.partition_point(|(first, _)| *first <= seq);
        i.checked_sub(1).map(|i| self.runs[i].1)
    }

    /// The runs as (term, first seq), in seq order.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        self.runs
            .iter()
            .map(|(first, term)| (*term, *first))
            .collect()
    }

    /// Forgets the terms of every seq after `last`.
    pub fn truncate(&mut self, last: u64) {
        self.runs.retain(|(first, _)| *first <= last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_answer_every_seq_and_cut_cleanly() {
        let mut t = Terms::default();
        for (seq, term) in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 4)] {
            t.push(seq, term);
        }
        assert_eq!(t.runs.len(), 3);
        let got: Vec<Option<u64>> = (0..=6).map(|s| t.at(s, 5)).collect();
        assert_eq!(
            got,
            [None, Some(1), Some(1), Some(2), Some(2), Some(4), None]
        );
        t.truncate(3);
        assert_eq!(t.at(3, 3), Some(2));
        t.push(4, 5);
        assert_eq!(t.at(4, 4), Some(5));
        t.truncate(0);
        assert_eq!(t.at(1, 1), None);
    }
}
