//! What an agent can do, and its offer to do one task.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A capability an agent declares: a name, a version, and the confidence below which the agent
/// should not bid for tasks needing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    /// The capability name, e.g. `pricing.options`.
    pub name: String,
    /// The version of the capability the agent implements.
    pub version: semver::Version,
    /// The agent bids only when its confidence is at least this (0 to 1).
    pub min_confidence: f64,
}

impl Capability {
    /// A capability with a minimum confidence of 0.
    ///
    /// # Errors
    /// When the name is empty or the version is not semver.
    pub fn new(name: impl Into<String>, version: &str) -> Result<Self, Error> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(Error::invalid_input("capability name must not be empty"));
        }
        let version = semver::Version::parse(version).map_err(|e| {
            Error::invalid_input(format!(
                "capability `{name}`: version `{version}` is not semver: {e}"
            ))
        })?;
        Ok(Self {
            name,
            version,
            min_confidence: 0.0,
        })
    }

    /// Sets the minimum confidence, clamped to 0..=1.
    #[must_use]
    pub fn with_min_confidence(mut self, threshold: f64) -> Self {
        self.min_confidence = if threshold.is_nan() {
            0.0
        } else {
            threshold.clamp(0.0, 1.0)
        };
        self
    }

    /// Whether this capability satisfies a requirement for `name` at `req`.
    pub fn satisfies(&self, name: &str, req: &semver::VersionReq) -> bool {
        self.name == name && req.matches(&self.version)
    }
}

/// An agent's answer to "can you handle this task?".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BidWire", into = "BidWire")]
pub struct Bid {
    can_handle: bool,
    confidence: f64,
    estimated: Duration,
}

#[derive(Serialize, Deserialize)]
struct BidWire {
    can_handle: bool,
    confidence: f64,
    estimated_ms: u64,
}

impl TryFrom<BidWire> for Bid {
    type Error = String;
    fn try_from(w: BidWire) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&w.confidence) {
            return Err(format!("bid confidence {} is outside 0..=1", w.confidence));
        }
        Ok(Self {
            can_handle: w.can_handle,
            confidence: w.confidence,
            estimated: Duration::from_millis(w.estimated_ms),
        })
    }
}

impl From<Bid> for BidWire {
    fn from(b: Bid) -> Self {
        Self {
            can_handle: b.can_handle,
            confidence: b.confidence,
            estimated_ms: u64::try_from(b.estimated.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Bid {
    /// An offer to handle the task with `confidence` (clamped to 0..=1; NaN counts as 0),
    /// expecting to take `estimated`.
    pub fn accept(confidence: f64, estimated: Duration) -> Self {
        let confidence = if confidence.is_nan() {
            0.0
        } else {
            confidence.clamp(0.0, 1.0)
        };
        Self {
            can_handle: true,
            confidence,
            estimated,
        }
    }

    /// A refusal.
    pub const fn decline() -> Self {
        Self {
            can_handle: false,
            confidence: 0.0,
            estimated: Duration::ZERO,
        }
    }

    /// Whether the agent offers to handle the task.
    pub const fn can_handle(&self) -> bool {
        self.can_handle
    }

    /// Confidence from 0 to 1.
    pub const fn confidence(&self) -> f64 {
        self.confidence
    }

    /// Expected execution time.
    pub const fn estimated(&self) -> Duration {
        self.estimated
    }

    /// Confidence per second of estimated time (a floor of 1 ms keeps it finite); 0 for a
    /// refusal. Contract Net awards the highest score.
    pub fn score(&self) -> f64 {
        if !self.can_handle {
            return 0.0;
        }
        self.confidence / self.estimated.as_secs_f64().max(0.001)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_versions_and_thresholds() {
        let c = Capability::new("pricing.options", "1.4.0")
            .unwrap()
            .with_min_confidence(1.7);
        assert_eq!(c.min_confidence, 1.0);
        assert!(c.satisfies(
            "pricing.options",
            &semver::VersionReq::parse("^1.2").unwrap()
        ));
        assert!(!c.satisfies("pricing.options", &semver::VersionReq::parse("^2").unwrap()));
        let err = Capability::new("x", "one").unwrap_err();
        assert!(err.to_string().contains("not semver"), "{err}");
    }

    #[test]
    fn bids_score_and_validate() {
        let fast = Bid::accept(0.8, Duration::from_millis(100));
        let slow = Bid::accept(0.9, Duration::from_secs(2));
        assert!(fast.score() > slow.score());
        assert_eq!(Bid::decline().score(), 0.0);
        assert_eq!(Bid::accept(f64::NAN, Duration::ZERO).confidence(), 0.0);
        let json = serde_json::to_string(&fast).unwrap();
        assert_eq!(
            json,
            r#"{"can_handle":true,"confidence":0.8,"estimated_ms":100}"#
        );
        assert_eq!(serde_json::from_str::<Bid>(&json).unwrap(), fast);
        let err =
            serde_json::from_str::<Bid>(r#"{"can_handle":true,"confidence":3.0,"estimated_ms":1}"#)
                .unwrap_err();
        assert!(err.to_string().contains("outside 0..=1"), "{err}");
    }
}
