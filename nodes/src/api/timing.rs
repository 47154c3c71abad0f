//! `GET/POST /timing`: the primary's timers, changed live (the controller's
//! slow motion multiplies them). Only the primary has timers: a secondary
//! answers heartbeats and batches when they come, so it answers 404 here.

use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::time::Duration;
use utoipa::ToSchema;

pub const TIMING_PATH: &str = "/timing";

/// Every duration knob, in milliseconds: 1 ms to one hour. An hour is far
/// beyond any lesson; the bound keeps a typo from freezing a node for days.
pub const MS_RANGE: RangeInclusive<u64> = 1..=3_600_000;
/// Missed heartbeats in a row that make a secondary unhealthy.
pub const UNHEALTHY_AFTER_RANGE: RangeInclusive<u32> = 1..=1000;
/// Slow-motion factors the controller accepts (1 is real time).
pub const SLOW_FACTOR_RANGE: RangeInclusive<u32> = 1..=100;

/// The primary's timers, as `GET /timing` shows them and as `replog node
/// primary` takes them (`--heartbeat-ms` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Timing {
    /// Heartbeat period; an unanswered heartbeat times out after it too.
    pub heartbeat_ms: u64,
    /// A delivery attempt with no answer in this time has failed (the
    /// adaptive timeout starts here and never goes below it).
    pub replication_timeout_ms: u64,
    /// Base of the exponential retry backoff.
    pub retry_base_ms: u64,
    /// Cap of the exponential retry backoff.
    pub retry_cap_ms: u64,
    /// Consecutive missed heartbeats that make a secondary unhealthy.
    pub unhealthy_after: u32,
    /// Members only (absent elsewhere): the shortest election timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timeout_min_ms: Option<u64>,
    /// Members only: the longest election timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_timeout_max_ms: Option<u64>,
    /// Two-phase commit: a participant that has not voted in this time
    /// counts as a NO vote.
    #[serde(default = "default_prepare_timeout_ms")]
    pub prepare_timeout_ms: u64,
}

fn default_prepare_timeout_ms() -> u64 {
    DEFAULT_PREPARE_TIMEOUT_MS
}

/// `--prepare-timeout-ms`'s default.
pub const DEFAULT_PREPARE_TIMEOUT_MS: u64 = 2000;

/// The body of `POST /timing`: every field optional, merged into the timers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimingPatch {
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub heartbeat_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub replication_timeout_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_base_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_cap_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_after: Option<u32>,
    /// Members only; ignored by the fixed roles.
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub election_timeout_min_ms: Option<u64>,
    /// Members only; ignored by the fixed roles.
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub election_timeout_max_ms: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::int::opt_int64",
        skip_serializing_if = "Option::is_none"
    )]
    pub prepare_timeout_ms: Option<u64>,
}

/// Why a timing was refused; the message names the field and its range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("{field} must be between {min} and {max}, got {got}")]
    OutOfRange {
        field: &'static str,
        min: u64,
        max: u64,
        got: u64,
    },
    #[error("retry_base_ms ({base}) must be at most retry_cap_ms ({cap})")]
    BaseAboveCap { base: u64, cap: u64 },
    #[error("slow-motion factor must be between 1 and 100, got {0}")]
    Factor(u32),
    #[error("election_timeout_min_ms ({min}) must be at most election_timeout_max_ms ({max}) and above heartbeat_ms ({heartbeat})")]
    Election { min: u64, max: u64, heartbeat: u64 },
}

impl Default for Timing {
    /// The defaults of `replog node primary` and `replog up`.
    fn default() -> Self {
        Self {
            heartbeat_ms: 500,
            replication_timeout_ms: 1000,
            retry_base_ms: 50,
            retry_cap_ms: 2000,
            unhealthy_after: 3,
            election_timeout_min_ms: None,
            election_timeout_max_ms: None,
            prepare_timeout_ms: DEFAULT_PREPARE_TIMEOUT_MS,
        }
    }
}

impl Timing {
    /// Checks every field against its range, and the backoff's base against its cap.
    pub fn validate(&self) -> Result<(), TimingError> {
        for (field, got) in [
            ("heartbeat_ms", self.heartbeat_ms),
            ("replication_timeout_ms", self.replication_timeout_ms),
            ("retry_base_ms", self.retry_base_ms),
            ("retry_cap_ms", self.retry_cap_ms),
            ("prepare_timeout_ms", self.prepare_timeout_ms),
        ] {
            if !MS_RANGE.contains(&got) {
                return Err(TimingError::OutOfRange {
                    field,
                    min: *MS_RANGE.start(),
                    max: *MS_RANGE.end(),
                    got,
                });
            }
        }
        if !UNHEALTHY_AFTER_RANGE.contains(&self.unhealthy_after) {
            return Err(TimingError::OutOfRange {
                field: "unhealthy_after",
                min: (*UNHEALTHY_AFTER_RANGE.start()).into(),
                max: (*UNHEALTHY_AFTER_RANGE.end()).into(),
                got: self.unhealthy_after.into(),
            });
        }
        if self.retry_base_ms > self.retry_cap_ms {
            return Err(TimingError::BaseAboveCap {
                base: self.retry_base_ms,
                cap: self.retry_cap_ms,
            });
        }
        if let (Some(min), Some(max)) = (self.election_timeout_min_ms, self.election_timeout_max_ms)
        {
            for (field, got) in [
                ("election_timeout_min_ms", min),
                ("election_timeout_max_ms", max),
            ] {
                if !MS_RANGE.contains(&got) {
                    return Err(TimingError::OutOfRange {
                        field,
                        min: *MS_RANGE.start(),
                        max: *MS_RANGE.end(),
                        got,
                    });
                }
            }
            if min > max || min <= self.heartbeat_ms {
                return Err(TimingError::Election {
                    min,
                    max,
                    heartbeat: self.heartbeat_ms,
                });
            }
        }
        Ok(())
    }

    /// These timers with `patch` applied (not yet validated).
    pub fn merged(self, patch: TimingPatch) -> Timing {
        Timing {
            heartbeat_ms: patch.heartbeat_ms.unwrap_or(self.heartbeat_ms),
            replication_timeout_ms: patch
                .replication_timeout_ms
                .unwrap_or(self.replication_timeout_ms),
            retry_base_ms: patch.retry_base_ms.unwrap_or(self.retry_base_ms),
            retry_cap_ms: patch.retry_cap_ms.unwrap_or(self.retry_cap_ms),
            unhealthy_after: patch.unhealthy_after.unwrap_or(self.unhealthy_after),
            // Only a member has election timeouts to change.
            election_timeout_min_ms: self
                .election_timeout_min_ms
                .map(|v| patch.election_timeout_min_ms.unwrap_or(v)),
            election_timeout_max_ms: self
                .election_timeout_max_ms
                .map(|v| patch.election_timeout_max_ms.unwrap_or(v)),
            prepare_timeout_ms: patch.prepare_timeout_ms.unwrap_or(self.prepare_timeout_ms),
        }
    }

    /// Slow motion: every duration `factor` times longer. `unhealthy_after`
    /// is a count of heartbeats, not a time: it stays, and the time a
    /// secondary takes to turn unhealthy grows by `factor` with the period.
    pub fn slowed(&self, factor: u32) -> Result<Timing, TimingError> {
        if !SLOW_FACTOR_RANGE.contains(&factor) {
            return Err(TimingError::Factor(factor));
        }
        let f = u64::from(factor);
        let slowed = Timing {
            heartbeat_ms: self.heartbeat_ms.saturating_mul(f),
            replication_timeout_ms: self.replication_timeout_ms.saturating_mul(f),
            retry_base_ms: self.retry_base_ms.saturating_mul(f),
            retry_cap_ms: self.retry_cap_ms.saturating_mul(f),
            unhealthy_after: self.unhealthy_after,
            election_timeout_min_ms: self.election_timeout_min_ms.map(|v| v.saturating_mul(f)),
            election_timeout_max_ms: self.election_timeout_max_ms.map(|v| v.saturating_mul(f)),
            prepare_timeout_ms: self.prepare_timeout_ms.saturating_mul(f),
        };
        slowed.validate()?;
        Ok(slowed)
    }

    /// The whole timing as a patch (what the controller posts).
    pub fn as_patch(&self) -> TimingPatch {
        TimingPatch {
            heartbeat_ms: Some(self.heartbeat_ms),
            replication_timeout_ms: Some(self.replication_timeout_ms),
            retry_base_ms: Some(self.retry_base_ms),
            retry_cap_ms: Some(self.retry_cap_ms),
            unhealthy_after: Some(self.unhealthy_after),
            election_timeout_min_ms: self.election_timeout_min_ms,
            election_timeout_max_ms: self.election_timeout_max_ms,
            prepare_timeout_ms: Some(self.prepare_timeout_ms),
        }
    }

    /// A member's election timeouts, if these are a member's timers.
    pub fn election(&self) -> Option<(Duration, Duration)> {
        Some((
            Duration::from_millis(self.election_timeout_min_ms?),
            Duration::from_millis(self.election_timeout_max_ms?),
        ))
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    pub fn replication_timeout(&self) -> Duration {
        Duration::from_millis(self.replication_timeout_ms)
    }

    pub fn prepare_timeout(&self) -> Duration {
        Duration::from_millis(self.prepare_timeout_ms)
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "heartbeat {} ms, replication timeout {} ms, retry {}–{} ms, unhealthy after {} missed",
            self.heartbeat_ms,
            self.replication_timeout_ms,
            self.retry_base_ms,
            self.retry_cap_ms,
            self.unhealthy_after
        )?;
        if let (Some(min), Some(max)) = (self.election_timeout_min_ms, self.election_timeout_max_ms)
        {
            write!(f, ", election timeout {min}–{max} ms")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field_and_its_range() {
        assert_eq!(Timing::default().validate(), Ok(()));
        let zero = Timing::default().merged(TimingPatch {
            heartbeat_ms: Some(0),
            ..TimingPatch::default()
        });
        let msg = zero.validate().map_err(|e| e.to_string());
        assert_eq!(
            msg,
            Err("heartbeat_ms must be between 1 and 3600000, got 0".into())
        );
        let never = Timing {
            unhealthy_after: 0,
            ..Timing::default()
        };
        assert!(never.validate().is_err_and(|e| e
            .to_string()
            .starts_with("unhealthy_after must be between 1")));
        let inverted = Timing {
            retry_base_ms: 300,
            retry_cap_ms: 200,
            ..Timing::default()
        };
        assert_eq!(
            inverted.validate(),
            Err(TimingError::BaseAboveCap {
                base: 300,
                cap: 200
            })
        );
    }

    #[test]
    fn slow_motion_multiplies_every_duration_and_keeps_the_count() {
        let base = Timing::default();
        assert_eq!(base.slowed(1), Ok(base));
        let slow = base.slowed(20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            slow,
            Timing {
                heartbeat_ms: 10_000,
                replication_timeout_ms: 20_000,
                retry_base_ms: 1000,
                retry_cap_ms: 40_000,
                unhealthy_after: 3,
                election_timeout_min_ms: None,
                election_timeout_max_ms: None,
                prepare_timeout_ms: 40_000,
            }
        );
        // A member's election timeouts stretch with the rest.
        let member = Timing {
            election_timeout_min_ms: Some(1000),
            election_timeout_max_ms: Some(2000),
            ..base
        };
        let slow = member.slowed(10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            slow.election(),
            Some((
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs(20)
            ))
        );
        let crossed = member.merged(TimingPatch {
            election_timeout_min_ms: Some(3000),
            ..TimingPatch::default()
        });
        assert!(matches!(
            crossed.validate(),
            Err(TimingError::Election { .. })
        ));
        assert_eq!(base.slowed(0), Err(TimingError::Factor(0)));
        assert_eq!(base.slowed(101), Err(TimingError::Factor(101)));
        // Slowed past the range: refused, naming the field.
        let long = Timing {
            retry_cap_ms: 3_600_000,
            ..base
        };
        assert!(long
            .slowed(2)
            .is_err_and(|e| e.to_string().starts_with("retry_cap_ms")));
    }

    #[test]
    fn a_patch_merges_and_refuses_unknown_fields() {
        let patch: TimingPatch =
            serde_json::from_str(r#"{"heartbeat_ms": 2000}"#).unwrap_or_else(|e| panic!("{e}"));
        let t = Timing::default().merged(patch);
        assert_eq!(t.heartbeat_ms, 2000);
        assert_eq!(t.retry_cap_ms, 2000);
        assert!(serde_json::from_str::<TimingPatch>(r#"{"heartbeat": 1}"#).is_err());
        assert!(serde_json::from_str::<TimingPatch>(r#"{"heartbeat_ms": -1}"#).is_err());
    }
}
